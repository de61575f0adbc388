//! The PRC holiday calendar: which days are working days, year by year, from
//! the State Council's annual notices (embedded data files plus any year a
//! deployment adds).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

use jiff::civil::{Date, Weekday};

use super::CalendarError;
use super::data::{self, HolidayDataError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum DayType {
    /// An ordinary Monday–Friday working day.
    Workday,
    /// Saturday or Sunday, also inside a holiday block when not statutory.
    Weekend,
    /// A statutory holiday day (法定节假日).
    StatutoryHoliday,
    /// A weekday given as rest by 调休 or in lieu of a statutory day on a weekend.
    SwappedRestDay,
    /// A Saturday or Sunday that is a working day (调休上班).
    MakeupWorkday,
}

impl DayType {
    pub fn is_working(self) -> bool {
        matches!(self, DayType::Workday | DayType::MakeupWorkday)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            DayType::Workday => "工作日",
            DayType::Weekend => "周末",
            DayType::StatutoryHoliday => "法定节假日",
            DayType::SwappedRestDay => "调休休息日",
            DayType::MakeupWorkday => "调休上班日",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            DayType::Workday => "working day",
            DayType::Weekend => "weekend",
            DayType::StatutoryHoliday => "statutory holiday",
            DayType::SwappedRestDay => "swapped rest day",
            DayType::MakeupWorkday => "make-up working day",
        }
    }
}

/// One date with its type. `festival` names the holiday block the date
/// belongs to (its days off and its make-up working days), e.g. "春节"; a
/// statutory day carries its own festival's name (2025-10-06 is "中秋节"
/// inside the block "国庆节、中秋节").
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DayInfo {
    pub date: Date,
    pub kind: DayType,
    pub festival: Option<String>,
}

/// The data of one year, expanded to one entry per day.
#[derive(Clone, Debug)]
pub(crate) struct YearData {
    /// The source notice, plus the note if any.
    pub(crate) provenance: String,
    pub(crate) note: Option<String>,
    pub(crate) provisional: bool,
    /// `None` for the embedded data, else the source name it was added from.
    pub(crate) added_from: Option<String>,
    /// Indexed by day of year - 1.
    pub(crate) days: Vec<DayEntry>,
    pub(crate) festivals: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DayEntry {
    pub(crate) kind: DayType,
    /// Index into `festivals`.
    pub(crate) festival: Option<u16>,
}

#[derive(Clone, Debug, Default)]
pub struct HolidayCalendar {
    years: BTreeMap<i16, YearData>,
}

const BUILTIN: [(&str, &str); 4] = [
    (
        "kefu-core/data/holidays/2024.toml",
        include_str!("../../data/holidays/2024.toml"),
    ),
    (
        "kefu-core/data/holidays/2025.toml",
        include_str!("../../data/holidays/2025.toml"),
    ),
    (
        "kefu-core/data/holidays/2026.toml",
        include_str!("../../data/holidays/2026.toml"),
    ),
    (
        "kefu-core/data/holidays/2027.toml",
        include_str!("../../data/holidays/2027.toml"),
    ),
];

impl HolidayCalendar {
    /// PRC data 2024..=2027, embedded at build time.
    pub fn builtin() -> HolidayCalendar {
        static BUILTIN_CALENDAR: OnceLock<HolidayCalendar> = OnceLock::new();
        BUILTIN_CALENDAR
            .get_or_init(|| {
                let mut cal = HolidayCalendar::empty();
                for (name, text) in BUILTIN {
                    let (year, data) = data::parse_year(name, text, None)
                        .expect("embedded holiday data is valid (checked by a unit test)");
                    cal.years.insert(year, data);
                }
                cal
            })
            .clone()
    }

    pub fn empty() -> HolidayCalendar {
        HolidayCalendar::default()
    }

    /// Adds one year's data file and returns its year. A year added this way
    /// replaces the embedded data of that year; adding the same year twice is
    /// an error.
    pub fn add_year_toml(
        &mut self,
        source_name: &str,
        text: &str,
    ) -> Result<i16, HolidayDataError> {
        let (year, data) = data::parse_year(source_name, text, Some(source_name))?;
        if let Some(first) = self.years.get(&year).and_then(|y| y.added_from.as_deref()) {
            return Err(HolidayDataError::DuplicateYear {
                year,
                first: first.to_string(),
                second: source_name.to_string(),
            });
        }
        self.years.insert(year, data);
        Ok(year)
    }

    pub fn years(&self) -> Vec<i16> {
        self.years.keys().copied().collect()
    }

    pub fn has_year(&self, year: i16) -> bool {
        self.years.contains_key(&year)
    }

    /// Where the year's data comes from (the notice), plus the file's note,
    /// e.g. why it is provisional.
    pub fn year_note(&self, year: i16) -> Option<&str> {
        self.years.get(&year).map(|y| y.provenance.as_str())
    }

    /// The file's `note` alone (for a provisional year: why, and what replaces it).
    pub(crate) fn note(&self, year: i16) -> Option<&str> {
        self.years.get(&year).and_then(|y| y.note.as_deref())
    }

    pub fn is_provisional(&self, year: i16) -> bool {
        self.years.get(&year).is_some_and(|y| y.provisional)
    }

    pub fn day(&self, date: Date) -> Result<DayInfo, CalendarError> {
        let (entry, year) = self.entry(date)?;
        Ok(DayInfo {
            date,
            kind: entry.kind,
            festival: entry
                .festival
                .and_then(|i| year.festivals.get(usize::from(i)).cloned()),
        })
    }

    pub fn is_working_day(&self, date: Date) -> Result<bool, CalendarError> {
        Ok(self.entry(date)?.0.kind.is_working())
    }

    pub(crate) fn entry(&self, date: Date) -> Result<(DayEntry, &YearData), CalendarError> {
        let year = self
            .years
            .get(&date.year())
            .ok_or_else(|| self.missing(date.year()))?;
        let idx = usize::try_from(date.day_of_year() - 1).unwrap_or(usize::MAX);
        let entry = year.days.get(idx).copied().unwrap_or(DayEntry {
            kind: plain_day_type(date),
            festival: None,
        });
        Ok((entry, year))
    }

    pub(crate) fn missing(&self, year: i16) -> CalendarError {
        CalendarError::MissingYear {
            year,
            have: self.have(),
        }
    }

    /// The years present, as ranges: "2024–2027", "2024–2025, 2027" or "no years".
    fn have(&self) -> String {
        let mut out = String::new();
        let mut run: Option<(i16, i16)> = None;
        let flush = |out: &mut String, (a, b): (i16, i16)| {
            if !out.is_empty() {
                out.push_str(", ");
            }
            // Writing to a String cannot fail.
            let _ = if a == b {
                write!(out, "{a}")
            } else {
                write!(out, "{a}–{b}")
            };
        };
        for &y in self.years.keys() {
            run = match run {
                Some((a, b)) if b.checked_add(1) == Some(y) => Some((a, y)),
                Some(r) => {
                    flush(&mut out, r);
                    Some((y, y))
                }
                None => Some((y, y)),
            };
        }
        if let Some(r) = run {
            flush(&mut out, r);
        }
        if out.is_empty() {
            out.push_str("no years");
        }
        out
    }
}

pub(crate) fn is_weekend(date: Date) -> bool {
    matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// The type of a day no notice mentions.
pub(crate) fn plain_day_type(date: Date) -> DayType {
    if is_weekend(date) {
        DayType::Weekend
    } else {
        DayType::Workday
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn builtin_data_parses() {
        for (name, text) in BUILTIN {
            if let Err(e) = data::parse_year(name, text, None) {
                panic!("{e}");
            }
        }
        assert_eq!(
            HolidayCalendar::builtin().years(),
            vec![2024, 2025, 2026, 2027]
        );
    }

    #[test]
    fn have_lists_ranges() {
        let mut cal = HolidayCalendar::builtin();
        assert_eq!(cal.have(), "2024–2027");
        cal.years.remove(&2026);
        assert_eq!(cal.have(), "2024–2025, 2027");
        assert_eq!(HolidayCalendar::empty().have(), "no years");
    }

    #[test]
    fn missing_year_message() {
        let e = HolidayCalendar::builtin()
            .day(date(2028, 1, 3))
            .expect_err("no 2028 data");
        assert_eq!(
            e.to_string(),
            "no holiday data for 2028 (kefu has 2024–2027); add a data file for 2028 before using working-day calendars in that year"
        );
    }
}
