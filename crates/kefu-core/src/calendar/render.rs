//! Text calendars for the `kefu calendar` command: a Mon..Sun grid per month
//! with each day's type marked, and a yearly summary.

use std::fmt::Write as _;

use jiff::civil::{Date, Weekday};

use super::CalendarError;
use super::holidays::{DayType, HolidayCalendar};

const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

const LEGEND: &str = "班 调休上班 make-up working day · 假 法定节假日 statutory holiday · 休 假期内休息 other day off in a holiday block";

/// One month: grid, legend and the month's holiday days with their names; a
/// note line when the year's data is provisional.
pub fn render_month(cal: &HolidayCalendar, year: i16, month: i8) -> Result<String, CalendarError> {
    let mut out = String::new();
    month_into(&mut out, cal, year, month)?;
    out.push_str(LEGEND);
    out.push('\n');
    if let Some(line) = provisional_line(cal, year) {
        out.push_str(&line);
    }
    Ok(out)
}

/// Twelve months and a summary of the year's day counts.
pub fn render_year(cal: &HolidayCalendar, year: i16) -> Result<String, CalendarError> {
    if !cal.has_year(year) {
        return Err(cal.missing(year));
    }
    let mut out = String::new();
    let _ = writeln!(out, "{year}年 PRC working-day calendar {year}");
    if let Some(note) = cal.year_note(year) {
        let _ = writeln!(out, "source: {note}");
    }
    if let Some(line) = provisional_line(cal, year) {
        out.push_str(&line);
    }
    out.push_str(LEGEND);
    out.push('\n');
    for month in 1..=12 {
        out.push('\n');
        month_into(&mut out, cal, year, month)?;
    }

    let first = date_or_range(year, 1, 1)?;
    let (mut working, mut statutory, mut swapped, mut makeup) = (0u32, 0u32, 0u32, 0u32);
    for day in first
        .series(jiff::Span::new().days(1))
        .take_while(|d| d.year() == year)
    {
        let kind = cal.day(day)?.kind;
        working += u32::from(kind.is_working());
        statutory += u32::from(kind == DayType::StatutoryHoliday);
        swapped += u32::from(kind == DayType::SwappedRestDay);
        makeup += u32::from(kind == DayType::MakeupWorkday);
    }
    let _ = writeln!(out, "\n合计 Summary {year}");
    let _ = writeln!(out, "  working days (工作日，含调休上班): {working}");
    let _ = writeln!(out, "  statutory holiday days (法定节假日): {statutory}");
    let _ = writeln!(out, "  swapped rest days (调休休息日): {swapped}");
    let _ = writeln!(out, "  make-up working days (调休上班日): {makeup}");
    Ok(out)
}

fn provisional_line(cal: &HolidayCalendar, year: i16) -> Option<String> {
    cal.is_provisional(year).then(|| {
        format!(
            "注意 NOTE: the {year} holiday data is provisional: {}\n",
            cal.note(year).unwrap_or("no official notice yet")
        )
    })
}

fn date_or_range(year: i16, month: i8, day: i8) -> Result<Date, CalendarError> {
    Date::new(year, month, day).map_err(|e| CalendarError::OutOfRange {
        message: format!("{year}-{month:02}: {e}"),
    })
}

fn month_into(
    out: &mut String,
    cal: &HolidayCalendar,
    year: i16,
    month: i8,
) -> Result<(), CalendarError> {
    let first = date_or_range(year, month, 1)?;
    if !cal.has_year(year) {
        return Err(cal.missing(year));
    }
    let name_en = MONTHS_EN
        .get(usize::try_from(month - 1).unwrap_or(0))
        .copied()
        .unwrap_or("");
    let _ = writeln!(out, "{year}年{month}月 {name_en} {year}");
    out.push_str(" 一   二   三   四   五   六   日\n");

    // Each cell is 5 columns: the day right-aligned in 2, a mark (one CJK
    // character or two spaces), a space.
    let mut line = String::new();
    for _ in 0..first.weekday().to_monday_zero_offset() {
        line.push_str("     ");
    }
    let mut holidays = Vec::new();
    for day in first
        .series(jiff::Span::new().days(1))
        .take_while(|d| d.month() == month)
    {
        let info = cal.day(day)?;
        let mark = match (info.kind, info.festival.is_some()) {
            (DayType::MakeupWorkday, _) => "班",
            (DayType::StatutoryHoliday, _) => "假",
            (DayType::SwappedRestDay, _) | (DayType::Weekend, true) => "休",
            _ => "  ",
        };
        let _ = write!(line, "{:>2}{mark} ", day.day());
        if day.weekday() == Weekday::Sunday {
            out.push_str(line.trim_end());
            out.push('\n');
            line.clear();
        }
        if info.festival.is_some() {
            holidays.push((info, mark));
        }
    }
    if !line.trim().is_empty() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    for (info, mark) in holidays {
        let _ = writeln!(
            out,
            "  {:02}-{:02} {} {} {} · {} {}",
            info.date.month(),
            info.date.day(),
            weekday_zh(info.date.weekday()),
            mark.trim(),
            info.festival.as_deref().unwrap_or(""),
            info.kind.label_zh(),
            info.kind.label_en()
        );
    }
    Ok(())
}

fn weekday_zh(w: Weekday) -> &'static str {
    match w {
        Weekday::Monday => "周一",
        Weekday::Tuesday => "周二",
        Weekday::Wednesday => "周三",
        Weekday::Thursday => "周四",
        Weekday::Friday => "周五",
        Weekday::Saturday => "周六",
        Weekday::Sunday => "周日",
    }
}
