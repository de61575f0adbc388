//! Business calendars against the PRC holiday data and hand-worked examples,
//! plus properties over random hours and instants in 2024–2027.

use std::sync::Arc;

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_core::calendar::{
    CalendarError, DayType, HolidayCalendar, HolidayDataError, MinuteOfDay, Segment,
    ServiceCalendar, ServiceHours, Window, render_month, render_year,
};
use proptest::prelude::*;

fn tz(name: &str) -> TimeZone {
    TimeZone::get(name).expect("time zone in the system tzdb")
}

fn shanghai() -> TimeZone {
    tz("Asia/Shanghai")
}

fn at(tz: &TimeZone, d: Date, hour: i8, minute: i8) -> Timestamp {
    tz.to_timestamp(d.at(hour, minute, 0, 0))
        .expect("test instant")
}

fn w(s: &str) -> Window {
    s.parse().expect("test window")
}

fn builtin() -> Arc<HolidayCalendar> {
    Arc::new(HolidayCalendar::builtin())
}

fn service(hours: ServiceHours, zone: &TimeZone) -> ServiceCalendar {
    ServiceCalendar::new(hours, zone.clone(), builtin())
}

fn hours(h: i64) -> SignedDuration {
    SignedDuration::from_hours(h)
}

fn kind(d: Date) -> DayType {
    HolidayCalendar::builtin()
        .day(d)
        .expect("year has data")
        .kind
}

// ---------------------------------------------------------------- holiday data

#[test]
fn spring_festival_2026_day_types() {
    assert_eq!(kind(date(2026, 2, 13)), DayType::Workday);
    assert_eq!(kind(date(2026, 2, 14)), DayType::MakeupWorkday);
    assert!(
        HolidayCalendar::builtin()
            .is_working_day(date(2026, 2, 14))
            .expect("data")
    );
    assert_eq!(kind(date(2026, 2, 15)), DayType::Weekend);
    for day in 16..=19 {
        assert_eq!(
            kind(date(2026, 2, day)),
            DayType::StatutoryHoliday,
            "Feb {day}"
        );
    }
    assert_eq!(kind(date(2026, 2, 20)), DayType::SwappedRestDay);
    assert_eq!(kind(date(2026, 2, 21)), DayType::Weekend);
    assert_eq!(kind(date(2026, 2, 22)), DayType::Weekend);
    assert_eq!(kind(date(2026, 2, 23)), DayType::SwappedRestDay);
    assert_eq!(kind(date(2026, 2, 24)), DayType::Workday);
    assert_eq!(kind(date(2026, 2, 28)), DayType::MakeupWorkday);
    assert_eq!(kind(date(2026, 10, 1)), DayType::StatutoryHoliday);
    assert_eq!(kind(date(2025, 10, 6)), DayType::StatutoryHoliday);
    assert_eq!(kind(date(2026, 3, 7)), DayType::Weekend);
}

#[test]
fn festival_names_follow_blocks_and_statutory_days() {
    let cal = HolidayCalendar::builtin();
    let name = |d| cal.day(d).expect("data").festival;
    assert_eq!(name(date(2025, 10, 6)).as_deref(), Some("中秋节"));
    assert_eq!(name(date(2025, 10, 2)).as_deref(), Some("国庆节"));
    assert_eq!(name(date(2025, 10, 7)).as_deref(), Some("国庆节、中秋节"));
    assert_eq!(name(date(2026, 2, 14)).as_deref(), Some("春节"));
    assert_eq!(name(date(2026, 2, 21)).as_deref(), Some("春节"));
    assert_eq!(name(date(2026, 3, 2)), None);
    let info = cal.day(date(2026, 2, 17)).expect("data");
    assert_eq!(
        serde_json::to_value(&info).expect("serializes"),
        serde_json::json!({"date": "2026-02-17", "kind": "StatutoryHoliday", "festival": "春节"})
    );
}

#[test]
fn builtin_years_have_valid_makeup_and_statutory_days() {
    let cal = HolidayCalendar::builtin();
    assert_eq!(cal.years(), vec![2024, 2025, 2026, 2027]);
    // Statutory days per year: before 2025 eleven, from 2025 on thirteen.
    for (year, want_statutory) in [(2024, 11), (2025, 13), (2026, 13), (2027, 13)] {
        let mut statutory = 0;
        let mut d = date(year, 1, 1);
        while d.year() == year {
            let info = cal.day(d).expect("data");
            let weekend = matches!(
                d.weekday(),
                jiff::civil::Weekday::Saturday | jiff::civil::Weekday::Sunday
            );
            match info.kind {
                DayType::MakeupWorkday => assert!(weekend, "make-up day {d} is not a weekend"),
                DayType::SwappedRestDay => assert!(!weekend, "swapped rest day {d} is a weekend"),
                DayType::Workday => assert!(!weekend && info.festival.is_none(), "{d}"),
                DayType::Weekend => assert!(weekend, "{d}"),
                DayType::StatutoryHoliday => statutory += 1,
            }
            assert_eq!(
                info.kind.is_working(),
                !matches!(
                    info.kind,
                    DayType::Weekend | DayType::StatutoryHoliday | DayType::SwappedRestDay
                )
            );
            d = d.tomorrow().expect("in range");
        }
        assert_eq!(statutory, want_statutory, "{year}");
    }
    assert!(cal.is_provisional(2027));
    assert!(!cal.is_provisional(2026));
    assert!(
        cal.year_note(2027).expect("note").contains("provisional")
            || cal.year_note(2027).expect("note").contains("PROVISIONAL")
    );
    assert!(
        cal.year_note(2024)
            .expect("note")
            .contains("国办发明电〔2023〕7号")
    );
    assert_eq!(cal.year_note(2030), None);
}

#[test]
fn labels_are_bilingual() {
    assert_eq!(DayType::MakeupWorkday.label_zh(), "调休上班日");
    assert_eq!(DayType::StatutoryHoliday.label_en(), "statutory holiday");
    assert!(DayType::MakeupWorkday.is_working());
    assert!(!DayType::SwappedRestDay.is_working());
}

#[test]
fn asia_shanghai_resolves_from_the_tzdb() {
    let t = at(&shanghai(), date(2026, 1, 1), 8, 0);
    assert_eq!(t.to_string(), "2026-01-01T00:00:00Z");
}

// ------------------------------------------------------------ service hours

#[test]
fn daily_business_duration_over_a_weekend_is_30h() {
    let sh = shanghai();
    let cal = service(ServiceHours::Daily(vec![w("08:00-22:00")]), &sh);
    let from = at(&sh, date(2026, 11, 20), 21, 0); // Friday
    let to = at(&sh, date(2026, 11, 23), 9, 0); // Monday
    // Fri 21–22 (1 h) + Sat 14 h + Sun 14 h + Mon 08–09 (1 h).
    assert_eq!(
        cal.business_duration(from, to).expect("no data needed"),
        hours(30)
    );
    assert_eq!(
        cal.business_duration(to, from).expect("ok"),
        SignedDuration::ZERO
    );
    assert_eq!(
        cal.business_duration(from, from).expect("ok"),
        SignedDuration::ZERO
    );
}

#[test]
fn working_days_across_spring_festival_2026() {
    let sh = shanghai();
    let cal = service(ServiceHours::WorkingDays(vec![w("09:00-18:00")]), &sh);
    let from = at(&sh, date(2026, 2, 13), 9, 0);
    let to = at(&sh, date(2026, 2, 25), 9, 0);
    // Fri 02-13 workday 9 h + Sat 02-14 make-up 9 h; 02-15..02-23 off
    // (weekend, statutory 16–19, swapped 20 and 23, weekend 21–22);
    // Tue 02-24 9 h; Wed 02-25 ends at 09:00 when it opens: 27 h.
    assert_eq!(cal.business_duration(from, to).expect("data"), hours(27));
    // Split days, lunch break: 08:30-12:00 + 13:00-17:30 = 8 h a working day.
    let lunch = service(
        ServiceHours::WorkingDays(vec![w("13:00-17:30"), w("08:30-12:00")]),
        &sh,
    );
    assert_eq!(lunch.business_duration(from, to).expect("data"), hours(24));
}

#[test]
fn missing_holiday_year_only_matters_for_working_days() {
    let sh = shanghai();
    let working = service(ServiceHours::WorkingDays(vec![w("09:00-18:00")]), &sh);
    for year in [2023, 2028] {
        let t = at(&sh, date(year, 6, 1), 10, 0);
        let err = working.is_open(t).expect_err("no data");
        assert_eq!(
            err,
            CalendarError::MissingYear {
                year,
                have: "2024–2027".to_string()
            }
        );
        assert!(
            err.to_string()
                .contains(&format!("no holiday data for {year} (kefu has 2024–2027)"))
        );
        assert!(working.business_duration(t, t + hours(1)).is_err());
        assert!(render_month(&HolidayCalendar::builtin(), year, 1).is_err());

        let empty = Arc::new(HolidayCalendar::empty());
        for h in [
            ServiceHours::Always,
            ServiceHours::Daily(vec![w("08:00-22:00")]),
            ServiceHours::Weekly(Default::default()),
        ] {
            assert!(!h.needs_holiday_data());
            let cal = ServiceCalendar::new(h, sh.clone(), empty.clone());
            cal.is_open(t).expect("no data needed");
            cal.business_duration(t, t + hours(48))
                .expect("no data needed");
            cal.next_opening(t).expect("no data needed");
            cal.split(t, t + hours(48)).expect("no data needed");
        }
    }
    assert!(ServiceHours::WorkingDays(vec![]).needs_holiday_data());
    // Running out of data ahead is reported, not guessed.
    let late = at(&sh, date(2027, 12, 31), 19, 0);
    assert!(matches!(
        working.next_opening(late),
        Err(CalendarError::MissingYear { year: 2028, .. })
    ));
}

#[test]
fn next_opening_and_closing_at_the_edges() {
    let sh = shanghai();
    let d = date(2026, 11, 20);
    let cal = service(ServiceHours::Daily(vec![w("08:00-22:00")]), &sh);
    let (open, close) = (at(&sh, d, 8, 0), at(&sh, d, 22, 0));
    // Exactly at open: open now, closes at 22:00.
    assert!(cal.is_open(open).expect("ok"));
    assert_eq!(cal.next_opening(open).expect("ok"), Some(open));
    assert_eq!(cal.next_closing(open).expect("ok"), Some(close));
    // Exactly at close: closed now, opens tomorrow at 08:00.
    assert!(!cal.is_open(close).expect("ok"));
    assert_eq!(cal.next_closing(close).expect("ok"), Some(close));
    assert_eq!(
        cal.next_opening(close).expect("ok"),
        Some(at(&sh, d.tomorrow().expect("date"), 8, 0))
    );
    // Before the first window of the day; one minute before close.
    assert_eq!(cal.next_opening(at(&sh, d, 0, 0)).expect("ok"), Some(open));
    assert_eq!(
        cal.next_closing(at(&sh, d, 21, 59)).expect("ok"),
        Some(close)
    );

    // Across holiday blocks.
    let wd = service(ServiceHours::WorkingDays(vec![w("09:00-18:00")]), &sh);
    let cases = [
        // Friday evening before the Spring Festival: the make-up Saturday opens.
        ((date(2026, 2, 13), 18, 0), (date(2026, 2, 14), 9, 0)),
        // Make-up Saturday evening: next opening after the whole block.
        ((date(2026, 2, 14), 18, 0), (date(2026, 2, 24), 9, 0)),
        // Inside the block.
        ((date(2026, 2, 18), 12, 0), (date(2026, 2, 24), 9, 0)),
        // National Day: Wed 09-30 evening to Thu 10-08.
        ((date(2026, 9, 30), 18, 0), (date(2026, 10, 8), 9, 0)),
        // Across the year boundary (元旦 2026-01-01..03; 01-04 make-up Sunday).
        ((date(2025, 12, 31), 18, 30), (date(2026, 1, 4), 9, 0)),
    ];
    for ((fd, fh, fm), (td, th, tm)) in cases {
        let t = at(&sh, fd, fh, fm);
        assert_eq!(
            wd.next_opening(t).expect("data"),
            Some(at(&sh, td, th, tm)),
            "from {fd} {fh}:{fm}"
        );
        assert_eq!(wd.next_closing(t).expect("data"), Some(t));
    }
    assert_eq!(
        wd.next_closing(at(&sh, date(2026, 2, 14), 9, 0))
            .expect("data"),
        Some(at(&sh, date(2026, 2, 14), 18, 0))
    );

    // Always: open now, never closes.
    let always = service(ServiceHours::Always, &sh);
    assert_eq!(always.next_opening(open).expect("ok"), Some(open));
    assert_eq!(always.next_closing(open).expect("ok"), None);
    // Never open.
    let never = service(ServiceHours::Weekly(Default::default()), &sh);
    assert_eq!(never.next_opening(open).expect("ok"), None);
    assert_eq!(never.next_closing(open).expect("ok"), Some(open));
    assert!(
        never
            .split(open, close)
            .expect("ok")
            .iter()
            .all(|s| !s.open)
    );
}

#[test]
fn overnight_hours_stay_open_across_midnight() {
    let sh = shanghai();
    let d = date(2026, 3, 10);
    let next = d.tomorrow().expect("date");
    let cal = service(
        ServiceHours::Daily(vec![w("20:00-24:00"), w("00:00-06:00")]),
        &sh,
    );
    assert_eq!(
        cal.next_closing(at(&sh, d, 21, 0)).expect("ok"),
        Some(at(&sh, next, 6, 0))
    );
    let segs = cal
        .split(at(&sh, d, 19, 0), at(&sh, next, 7, 0))
        .expect("ok");
    assert_eq!(
        segs,
        vec![
            Segment {
                start: at(&sh, d, 19, 0),
                end: at(&sh, d, 20, 0),
                open: false
            },
            Segment {
                start: at(&sh, d, 20, 0),
                end: at(&sh, next, 6, 0),
                open: true
            },
            Segment {
                start: at(&sh, next, 6, 0),
                end: at(&sh, next, 7, 0),
                open: false
            },
        ]
    );
    // Weekly: Saturday and Sunday only, all day.
    let mut week: [Vec<Window>; 7] = Default::default();
    week[5] = vec![Window::ALL_DAY];
    week[6] = vec![Window::ALL_DAY];
    let weekend = service(ServiceHours::Weekly(week), &sh);
    let sat = date(2026, 3, 14);
    assert_eq!(
        weekend.next_opening(at(&sh, d, 12, 0)).expect("ok"),
        Some(at(&sh, sat, 0, 0))
    );
    assert_eq!(
        weekend.next_closing(at(&sh, sat, 12, 0)).expect("ok"),
        Some(at(&sh, date(2026, 3, 16), 0, 0))
    );
}

#[test]
fn dst_days_in_new_york_have_their_true_length() {
    let ny = tz("America/New_York");
    let all_day = service(ServiceHours::Daily(vec![Window::ALL_DAY]), &ny);
    let spring = date(2026, 3, 8); // clocks 02:00 -> 03:00
    let fall = date(2026, 11, 1); // clocks 02:00 -> 01:00
    let day_len = |c: &ServiceCalendar, d: Date| -> SignedDuration {
        c.open_intervals_on(d)
            .expect("ok")
            .iter()
            .map(|&(a, b)| b.duration_since(a))
            .sum()
    };
    assert_eq!(day_len(&all_day, spring), hours(23));
    assert_eq!(day_len(&all_day, fall), hours(25));
    let night = service(ServiceHours::Daily(vec![w("01:00-04:00")]), &ny);
    assert_eq!(day_len(&night, spring), hours(2));
    assert_eq!(day_len(&night, fall), hours(4));
    let from = at(&ny, spring, 0, 0);
    let to = at(&ny, spring.tomorrow().expect("date"), 0, 0);
    assert_eq!(night.business_duration(from, to).expect("ok"), hours(2));
    // Wall times skipped by the jump: a window wholly inside the gap does not
    // happen that day; one reaching past it opens when the clock jumps.
    let gap = service(ServiceHours::Daily(vec![w("02:15-02:45")]), &ny);
    assert_eq!(
        gap.business_duration(from, to).expect("ok"),
        SignedDuration::ZERO
    );
    assert!(gap.open_intervals_on(spring).expect("ok").is_empty());
    assert_eq!(
        day_len(&gap, date(2026, 3, 9)),
        SignedDuration::from_mins(30)
    );
    let across = service(ServiceHours::Daily(vec![w("02:30-03:15")]), &ny);
    assert_eq!(day_len(&across, spring), SignedDuration::from_mins(15));
    let morning = service(ServiceHours::Daily(vec![w("02:30-10:00")]), &ny);
    let ivs = morning.open_intervals_on(spring).expect("ok");
    assert_eq!(ivs, vec![(at(&ny, spring, 3, 0), at(&ny, spring, 10, 0))]);
    assert_eq!(ivs[0].0.to_string(), "2026-03-08T07:00:00Z");
    // In the repeated hour the first 01:30 counts.
    let fold = service(ServiceHours::Daily(vec![w("01:30-02:00")]), &ny);
    assert_eq!(
        fold.open_intervals_on(fall).expect("ok"),
        vec![(
            "2026-11-01T05:30:00Z".parse().expect("ts"),
            "2026-11-01T07:00:00Z".parse().expect("ts")
        )]
    );
}

#[test]
fn split_covers_the_range_and_matches_business_duration() {
    let sh = shanghai();
    let cal = service(
        ServiceHours::WorkingDays(vec![w("09:00-12:00"), w("13:00-18:00")]),
        &sh,
    );
    let from = at(&sh, date(2026, 2, 12), 10, 30);
    let to = at(&sh, date(2026, 2, 25), 12, 30);
    let segs = cal.split(from, to).expect("data");
    check_split(&segs, from, to);
    let open: SignedDuration = segs
        .iter()
        .filter(|s| s.open)
        .map(|s| s.end.duration_since(s.start))
        .sum();
    // 02-12: 1.5 h + 5 h; 02-13 and 02-14: 8 h each; 02-24: 8 h; 02-25: 3 h.
    assert_eq!(
        open,
        SignedDuration::from_mins(6 * 60 + 30 + 8 * 60 * 3 + 3 * 60)
    );
    assert_eq!(cal.business_duration(from, to).expect("data"), open);
    assert!(cal.split(to, from).expect("ok").is_empty());
    let ivs = cal.open_intervals_on(date(2026, 2, 14)).expect("data");
    assert_eq!(ivs.len(), 2);
    assert!(
        cal.open_intervals_on(date(2026, 2, 15))
            .expect("data")
            .is_empty()
    );
}

fn check_split(segs: &[Segment], from: Timestamp, to: Timestamp) {
    if to <= from {
        assert!(segs.is_empty());
        return;
    }
    assert_eq!(segs.first().map(|s| s.start), Some(from));
    assert_eq!(segs.last().map(|s| s.end), Some(to));
    for s in segs {
        assert!(s.start < s.end, "{s:?}");
    }
    for pair in segs.windows(2) {
        assert_eq!(pair[0].end, pair[1].start);
        assert_ne!(pair[0].open, pair[1].open);
    }
}

// ---------------------------------------------------------- holiday data files

const GOOD_BLOCK: &str = "\n[[holiday]]\nname = \"春节\"\noff = { from = 2026-02-15, to = 2026-02-23 }\nstatutory = [2026-02-16]\n";

#[test]
fn broken_holiday_files_are_reported_with_location() {
    let head = "year = 2026\nsource = \"test notice\"\n";
    let cases: Vec<(String, &str)> = vec![
        (
            format!("{head}[[holiday]\n"),
            "bad.toml:3:11: not valid TOML: unclosed array table",
        ),
        (
            format!("year = 2026\n{GOOD_BLOCK}"),
            "bad.toml:1:1: missing key `source` in the file",
        ),
        (
            format!("year = \"2026\"\nsource = \"x\"\n{GOOD_BLOCK}"),
            "bad.toml:1:8: `year` should be an integer year like 2026, found the string \"2026\"",
        ),
        (
            format!(
                "{head}[[holiday]]\nname = \"元旦\"\noff = 2025-12-31\nstatutory = [2025-12-31]\n"
            ),
            "bad.toml:5:7: `off`: 2025-12-31 is not in 2026; this file holds the holidays of 2026 only",
        ),
        (
            format!("{head}{GOOD_BLOCK}makeup = [2026-02-21]\n"),
            "bad.toml:8:11: 2026-02-21 is both a day off and a make-up working day (“春节”)",
        ),
        (
            format!("{head}{GOOD_BLOCK}makeup = [2026-02-13]\n"),
            "bad.toml:8:11: make-up working day 2026-02-13 of “春节” is a Friday; make-up days are Saturdays or Sundays that become working days",
        ),
        (
            format!(
                "{head}[[holiday]]\nname = \"春节\"\noff = {{ from = 2026-02-15, to = 2026-02-23 }}\nstatutory = [2026-02-16, 2026-02-24]\n"
            ),
            "bad.toml:6:26: statutory day 2026-02-24 of “春节” is not among its days off",
        ),
        (
            format!(
                "{head}[[holiday]]\nname = \"端午节\"\noff = \"2026-06-19\"\nstatutory = [2026-06-19]\n"
            ),
            "bad.toml:5:7: `off` should be a date or a range like { from = 2026-02-15, to = 2026-02-23 }, found the string \"2026-06-19\"",
        ),
        (
            format!(
                "{head}[[holiday]]\nnmae = \"端午节\"\noff = 2026-06-19\nstatutory = [2026-06-19]\n"
            ),
            "bad.toml:4:1: unknown key `nmae` in a [[holiday]] section; expected one of: name, off, statutory, makeup",
        ),
        (
            format!("{head}provisional = true\n{GOOD_BLOCK}"),
            "bad.toml:3:1: `provisional = true` needs a `note`",
        ),
        (
            format!(
                "{head}[[holiday]]\nname = \"国庆节\"\noff = {{ from = 2026-10-07, to = 2026-10-01 }}\nstatutory = [2026-10-01]\n"
            ),
            "bad.toml:5:7: `off` of “国庆节” runs from 2026-10-07 back to 2026-10-01",
        ),
        (
            format!(
                "{head}{GOOD_BLOCK}\n[[holiday]]\nname = \"元宵\"\noff = 2026-02-23\nstatutory = [2026-02-23]\n"
            ),
            "bad.toml:11:7: 2026-02-23 is listed twice (in “春节” and again in “元宵”)",
        ),
        (
            format!("{head}[[holiday]]\nname = \"春节\"\noff = 2026-02-30\nstatutory = []\n"),
            "bad.toml:5:7: not valid TOML: invalid date",
        ),
        (
            format!("{head}[[holiday]]\nname = \"春节\"\noff = 2026-02-16\n"),
            "bad.toml:3:1: missing key `statutory` in [[holiday]] “春节”",
        ),
    ];
    for (text, want) in cases {
        let mut cal = HolidayCalendar::empty();
        let err = cal
            .add_year_toml("bad.toml", &text)
            .expect_err(&format!("should be rejected:\n{text}"));
        let msg = err.to_string();
        assert!(
            msg.contains(want),
            "message {msg:?}\ndoes not contain {want:?}\nfor:\n{text}"
        );
        assert!(cal.years().is_empty());
    }
}

#[test]
fn added_year_replaces_builtin_but_not_twice() {
    let text = format!("year = 2026\nsource = \"test notice\"\n{GOOD_BLOCK}");
    let mut cal = HolidayCalendar::builtin();
    assert_eq!(cal.add_year_toml("mine.toml", &text), Ok(2026));
    assert_eq!(cal.year_note(2026), Some("test notice"));
    // Feb 14 is no longer a make-up day in this data.
    assert_eq!(
        cal.day(date(2026, 2, 14)).expect("data").kind,
        DayType::Weekend
    );
    assert_eq!(
        cal.add_year_toml("again.toml", &text),
        Err(HolidayDataError::DuplicateYear {
            year: 2026,
            first: "mine.toml".to_string(),
            second: "again.toml".to_string()
        })
    );
    let mut empty = HolidayCalendar::empty();
    let y2030 = "year = 2030\nsource = \"future\"\n[[holiday]]\nname = \"元旦\"\noff = 2030-01-01\nstatutory = [2030-01-01]\n";
    assert_eq!(empty.add_year_toml("2030.toml", y2030), Ok(2030));
    assert_eq!(empty.years(), vec![2030]);
    assert!(empty.has_year(2030) && !empty.has_year(2026));
}

// ------------------------------------------------------------------ rendering

#[test]
fn render_month_marks_2026_february() {
    let cal = HolidayCalendar::builtin();
    let text = render_month(&cal, 2026, 2).expect("data");
    for want in [
        "2026年2月",
        "14班",
        "16假",
        "19假",
        "20休",
        "21休",
        "23休",
        "28班",
        "02-17 周二 假 春节",
        "02-14 周六 班 春节",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    // 2026-02-01 is a Sunday: the first row has six empty cells.
    assert!(text.contains(&format!("{} 1\n", " ".repeat(30))), "{text}");
    assert!(!text.contains("provisional"));
    let provisional = render_month(&cal, 2027, 2).expect("data");
    assert!(provisional.contains("provisional"), "{provisional}");
    assert!(matches!(
        render_month(&cal, 2026, 13),
        Err(CalendarError::OutOfRange { .. })
    ));
}

#[test]
fn render_year_counts_2026_working_days() {
    // Independently from the notice: weekdays − days off that fall on weekdays + make-up days.
    let off: [(Date, Date); 7] = [
        (date(2026, 1, 1), date(2026, 1, 3)),
        (date(2026, 2, 15), date(2026, 2, 23)),
        (date(2026, 4, 4), date(2026, 4, 6)),
        (date(2026, 5, 1), date(2026, 5, 5)),
        (date(2026, 6, 19), date(2026, 6, 21)),
        (date(2026, 9, 25), date(2026, 9, 27)),
        (date(2026, 10, 1), date(2026, 10, 7)),
    ];
    let makeup = 6; // 01-04, 02-14, 02-28, 05-09, 09-20, 10-10
    let is_weekday = |d: Date| d.weekday().to_monday_zero_offset() < 5;
    let mut weekdays = 0;
    let mut off_weekdays = 0;
    let mut d = date(2026, 1, 1);
    while d.year() == 2026 {
        if is_weekday(d) {
            weekdays += 1;
            if off.iter().any(|&(a, b)| a <= d && d <= b) {
                off_weekdays += 1;
            }
        }
        d = d.tomorrow().expect("date");
    }
    let working = weekdays - off_weekdays + makeup;
    assert_eq!(working, 248);
    let text = render_year(&HolidayCalendar::builtin(), 2026).expect("data");
    assert!(
        text.contains(&format!("working days (工作日，含调休上班): {working}\n")),
        "{text}"
    );
    assert!(
        text.contains("statutory holiday days (法定节假日): 13\n"),
        "{text}"
    );
    assert!(
        text.contains("make-up working days (调休上班日): 6\n"),
        "{text}"
    );
    assert!(text.contains("2026年12月"));
    assert!(
        render_year(&HolidayCalendar::builtin(), 2027)
            .expect("data")
            .contains("provisional")
    );
}

// ------------------------------------------------------------------ properties

fn windows() -> impl Strategy<Value = Vec<Window>> {
    // Up to three windows from sorted half-hour cut points.
    proptest::collection::btree_set(0u16..=48, 0..=6).prop_map(|cuts| {
        let cuts: Vec<u16> = cuts.into_iter().collect();
        cuts.chunks_exact(2)
            .filter_map(|p| {
                let open = MinuteOfDay::new(p[0] * 30)?;
                let close = MinuteOfDay::new(p[1] * 30)?;
                Window::new(open, close).ok()
            })
            .collect()
    })
}

fn service_hours() -> impl Strategy<Value = ServiceHours> {
    prop_oneof![
        Just(ServiceHours::Always),
        windows().prop_map(ServiceHours::Daily),
        proptest::array::uniform7(windows()).prop_map(ServiceHours::Weekly),
        windows().prop_map(ServiceHours::WorkingDays),
    ]
}

fn calendar() -> impl Strategy<Value = ServiceCalendar> {
    (
        service_hours(),
        prop_oneof![Just("Asia/Shanghai"), Just("America/New_York")],
    )
        .prop_map(|(h, zone)| service(h, &tz(zone)))
}

/// An instant in 2024-01-02 .. 2027-11-30, on a minute boundary half the time.
fn instant() -> impl Strategy<Value = Timestamp> {
    let lo = 1_704_153_600i64; // 2024-01-02T00:00:00Z
    let hi = 1_827_532_800i64; // 2027-11-30T00:00:00Z
    prop_oneof![(lo / 60..hi / 60).prop_map(|m| m * 60), lo..hi,]
        .prop_map(|s| Timestamp::from_second(s).expect("in range"))
}

/// Up to about three weeks, so that a..c stays inside the data.
fn gap() -> impl Strategy<Value = SignedDuration> {
    prop_oneof![0i64..=3 * 86_400, 0i64..=21 * 86_400].prop_map(SignedDuration::from_secs)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn business_duration_is_bounded_and_additive(cal in calendar(), a in instant(), g1 in gap(), g2 in gap()) {
        let (b, c) = (a + g1, a + g1 + g2);
        let ab = cal.business_duration(a, b).expect("data");
        let bc = cal.business_duration(b, c).expect("data");
        let ac = cal.business_duration(a, c).expect("data");
        prop_assert!(ab >= SignedDuration::ZERO && ab <= g1);
        prop_assert!(ac <= c.duration_since(a));
        prop_assert_eq!(ac, ab + bc);
        prop_assert_eq!(cal.business_duration(c, a).expect("ok"), SignedDuration::ZERO);
        if matches!(cal.hours(), ServiceHours::Always) {
            prop_assert_eq!(ac, c.duration_since(a));
        }
    }

    #[test]
    fn split_agrees_with_duration_and_is_open(cal in calendar(), a in instant(), g in gap(), frac in 0.0f64..1.0) {
        let c = a + g;
        let segs = cal.split(a, c).expect("data");
        check_split(&segs, a, c);
        let open: SignedDuration = segs.iter().filter(|s| s.open).map(|s| s.end.duration_since(s.start)).sum();
        prop_assert_eq!(open, cal.business_duration(a, c).expect("data"));
        for s in &segs {
            prop_assert_eq!(cal.is_open(s.start).expect("data"), s.open, "at segment start {:?}", s);
        }
        if g > SignedDuration::ZERO {
            let secs = (g.as_secs() as f64 * frac) as i64;
            let t = a + SignedDuration::from_secs(secs);
            let seg = segs.iter().find(|s| s.start <= t && t < s.end).expect("split covers t");
            prop_assert_eq!(cal.is_open(t).expect("data"), seg.open);
        }
    }

    #[test]
    fn next_opening_and_closing_are_the_first_such_instants(cal in calendar(), t in instant()) {
        match cal.next_opening(t).expect("data") {
            Some(o) => {
                prop_assert!(o >= t);
                prop_assert!(cal.is_open(o).expect("data"));
                prop_assert_eq!(cal.business_duration(t, o).expect("data"), SignedDuration::ZERO);
                prop_assert!(cal.split(t, o).expect("data").iter().all(|s| !s.open));
                prop_assert_eq!(o == t, cal.is_open(t).expect("data"));
            }
            None => prop_assert!(!cal.is_open(t).expect("data")),
        }
        match cal.next_closing(t).expect("data") {
            Some(c) => {
                prop_assert!(c >= t);
                prop_assert!(!cal.is_open(c).expect("data"));
                prop_assert_eq!(cal.business_duration(t, c).expect("data"), c.duration_since(t));
                prop_assert_eq!(c == t, !cal.is_open(t).expect("data"));
            }
            None => prop_assert!(cal.is_open(t).expect("data")),
        }
    }
}
