//! Service hours as a contract states them: times of day, daily windows and
//! the four kinds of weekly pattern. Parsing here rejects anything that is not
//! a well-formed, non-empty, same-day window.

use std::fmt;
use std::str::FromStr;

/// Minutes since local midnight, 0..=1440 (1440 = "24:00", only valid as a window's close).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MinuteOfDay(u16);

impl MinuteOfDay {
    /// The end of the day, "24:00".
    pub const END_OF_DAY: MinuteOfDay = MinuteOfDay(1440);
    /// Midnight at the start of the day, "00:00".
    pub const MIDNIGHT: MinuteOfDay = MinuteOfDay(0);

    pub fn new(m: u16) -> Option<Self> {
        (m <= 1440).then_some(MinuteOfDay(m))
    }

    pub fn get(self) -> u16 {
        self.0
    }

    pub(crate) fn hour(self) -> i8 {
        // Always < 25, so the narrowing is exact.
        (self.0 / 60) as i8
    }

    pub(crate) fn minute(self) -> i8 {
        (self.0 % 60) as i8
    }
}

impl FromStr for MinuteOfDay {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Self, WindowError> {
        let text = s.trim();
        let malformed = || WindowError::MalformedTime {
            text: text.to_string(),
        };
        let (h, m) = text.split_once(':').ok_or_else(malformed)?;
        let all_digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !(1..=2).contains(&h.len()) || m.len() != 2 || !all_digits(h) || !all_digits(m) {
            return Err(malformed());
        }
        let hour: u16 = h.parse().map_err(|_| malformed())?;
        let minute: u16 = m.parse().map_err(|_| malformed())?;
        if minute > 59 {
            return Err(WindowError::MinuteOutOfRange {
                text: text.to_string(),
                minute,
            });
        }
        if hour > 24 || (hour == 24 && minute != 0) {
            return Err(WindowError::HourOutOfRange {
                text: text.to_string(),
                hour,
            });
        }
        Ok(MinuteOfDay(hour * 60 + minute))
    }
}

impl fmt::Display for MinuteOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

/// One daily opening window [open, close) in local time. open < close (overnight windows must be split at midnight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    pub open: MinuteOfDay,
    pub close: MinuteOfDay,
}

impl Window {
    /// The whole day, 00:00-24:00.
    pub const ALL_DAY: Window = Window {
        open: MinuteOfDay::MIDNIGHT,
        close: MinuteOfDay::END_OF_DAY,
    };

    pub fn new(open: MinuteOfDay, close: MinuteOfDay) -> Result<Window, WindowError> {
        if open == MinuteOfDay::END_OF_DAY {
            return Err(WindowError::OpensAtEndOfDay);
        }
        if close == open {
            return Err(WindowError::Empty { at: open });
        }
        if close < open {
            return Err(WindowError::CloseBeforeOpen { open, close });
        }
        Ok(Window { open, close })
    }

    /// Length in minutes.
    pub fn minutes(self) -> u16 {
        self.close.0.saturating_sub(self.open.0)
    }
}

impl FromStr for Window {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Self, WindowError> {
        let text = s.trim();
        let mut parts = text.split(['-', '–']);
        let (Some(open), Some(close), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(WindowError::MalformedWindow {
                text: text.to_string(),
            });
        };
        Window::new(open.parse()?, close.parse()?)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.open, self.close)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("“{text}” is not a time of day; write it as HH:MM, e.g. 08:00 or 24:00")]
    MalformedTime { text: String },
    #[error(
        "hour {hour} in “{text}” is out of range; hours run 00–23, and 24:00 is allowed only as a closing time"
    )]
    HourOutOfRange { text: String, hour: u16 },
    #[error("minute {minute} in “{text}” is out of range; minutes run 00–59")]
    MinuteOutOfRange { text: String, minute: u16 },
    #[error("“{text}” is not an opening window; write it as HH:MM-HH:MM, e.g. 08:00-22:00")]
    MalformedWindow { text: String },
    #[error("a window cannot open at 24:00; start it at 00:00 of the next day")]
    OpensAtEndOfDay,
    #[error("the window opens and closes at {at}; a window must be at least one minute long")]
    Empty { at: MinuteOfDay },
    #[error(
        "closes at {close}, before it opens at {open}; split an overnight window at midnight ({open}-24:00 and 00:00-{close})"
    )]
    CloseBeforeOpen {
        open: MinuteOfDay,
        close: MinuteOfDay,
    },
    #[error("windows {first} and {second} overlap; the windows of one day must not overlap")]
    Overlap { first: Window, second: Window },
    #[error("window {later} is listed before {earlier}; list the windows of one day in time order")]
    OutOfOrder { earlier: Window, later: Window },
}

/// Checks the windows of one day: in time order and not overlapping
/// (touching, as in 08:00-12:00 and 12:00-18:00, is fine).
pub fn validate_windows(ws: &[Window]) -> Result<(), WindowError> {
    for pair in ws.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if b.open < a.open {
            // A later window that starts earlier and overlaps is an overlap first.
            if b.close > a.open {
                return Err(WindowError::Overlap {
                    first: a,
                    second: b,
                });
            }
            return Err(WindowError::OutOfOrder {
                earlier: b,
                later: a,
            });
        }
        if b.open < a.close {
            return Err(WindowError::Overlap {
                first: a,
                second: b,
            });
        }
    }
    Ok(())
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServiceHours {
    /// 24x7, holidays included.
    Always,
    /// The same windows every day, holidays included.
    Daily(Vec<Window>),
    /// Index 0 = Monday … 6 = Sunday; holidays ignored.
    Weekly([Vec<Window>; 7]),
    /// Only on PRC working days (weekdays and make-up working days, minus
    /// holidays and swapped rest days).
    WorkingDays(Vec<Window>),
}

impl ServiceHours {
    /// True only for [`ServiceHours::WorkingDays`]: the other kinds never look
    /// at the holiday calendar.
    pub fn needs_holiday_data(&self) -> bool {
        matches!(self, ServiceHours::WorkingDays(_))
    }

    /// The hours in words for customers and staff, e.g. `每日 08:00–22:00` or
    /// `Working days 09:00–18:00`; weekly hours list the days that have windows.
    pub fn describe(&self, zh: bool) -> String {
        let windows = |ws: &[Window]| {
            normalized(ws)
                .iter()
                .map(|w| format!("{}–{}", w.open, w.close))
                .collect::<Vec<_>>()
                .join(if zh { "、" } else { ", " })
        };
        match (self, zh) {
            (ServiceHours::Always, true) => "7×24 小时".to_owned(),
            (ServiceHours::Always, false) => "24 hours a day, 7 days a week".to_owned(),
            (ServiceHours::Daily(ws), true) => format!("每日 {}", windows(ws)),
            (ServiceHours::Daily(ws), false) => format!("Daily {}", windows(ws)),
            (ServiceHours::WorkingDays(ws), true) => format!("工作日 {}", windows(ws)),
            (ServiceHours::WorkingDays(ws), false) => format!("Working days {}", windows(ws)),
            (ServiceHours::Weekly(days), _) => {
                const ZH: [&str; 7] = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"];
                const EN: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
                let names = if zh { ZH } else { EN };
                let parts: Vec<String> = days
                    .iter()
                    .zip(names)
                    .filter(|(ws, _)| !ws.is_empty())
                    .map(|(ws, name)| format!("{name} {}", windows(ws)))
                    .collect();
                if parts.is_empty() {
                    (if zh { "暂停服务" } else { "Closed" }).to_owned()
                } else {
                    parts.join(if zh { ";" } else { "; " })
                }
            }
        }
    }
}

/// Sorted, merged copy of a day's windows; the calendar works from this so
/// that hand-built `ServiceHours` with unsorted or touching windows still
/// behave.
pub(crate) fn normalized(ws: &[Window]) -> Vec<Window> {
    let mut v: Vec<Window> = ws.to_vec();
    v.sort_by_key(|w| (w.open, w.close));
    let mut out: Vec<Window> = Vec::with_capacity(v.len());
    for w in v {
        match out.last_mut() {
            Some(last) if w.open <= last.close => last.close = last.close.max(w.close),
            _ => out.push(w),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(s: &str) -> MinuteOfDay {
        s.parse().expect("test literal")
    }

    #[test]
    fn minute_of_day_parses_and_prints() {
        assert_eq!(m("08:00").get(), 480);
        assert_eq!(m("8:00").get(), 480);
        assert_eq!(m("24:00").get(), 1440);
        assert_eq!(m(" 23:59 ").to_string(), "23:59");
        assert_eq!(m("8:05").to_string(), "08:05");
        assert_eq!(MinuteOfDay::new(1441), None);
        assert!(matches!(
            "24:01".parse::<MinuteOfDay>(),
            Err(WindowError::HourOutOfRange { hour: 24, .. })
        ));
        assert!(matches!(
            "25:00".parse::<MinuteOfDay>(),
            Err(WindowError::HourOutOfRange { hour: 25, .. })
        ));
        assert!(matches!(
            "08:60".parse::<MinuteOfDay>(),
            Err(WindowError::MinuteOutOfRange { minute: 60, .. })
        ));
        for bad in [
            "", "8", "08:0", "008:00", "ab:cd", "08:00:00", "-1:00", "+8:00",
        ] {
            assert!(
                matches!(
                    bad.parse::<MinuteOfDay>(),
                    Err(WindowError::MalformedTime { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn window_parses_with_hyphen_or_en_dash() {
        let w: Window = "08:00-22:00".parse().expect("valid");
        assert_eq!(w.to_string(), "08:00-22:00");
        let w2: Window = "8:00 – 22:00".parse().expect("valid");
        assert_eq!(w, w2);
        let all: Window = "00:00-24:00".parse().expect("valid");
        assert_eq!(all, Window::ALL_DAY);
        assert_eq!(all.minutes(), 1440);
    }

    #[test]
    fn window_errors_have_human_messages() {
        let e = "22:00-08:00".parse::<Window>().expect_err("overnight");
        assert_eq!(
            e.to_string(),
            "closes at 08:00, before it opens at 22:00; split an overnight window at midnight (22:00-24:00 and 00:00-08:00)"
        );
        assert!(matches!(
            "08:00-08:00".parse::<Window>(),
            Err(WindowError::Empty { .. })
        ));
        assert!(matches!(
            "24:00-24:00".parse::<Window>(),
            Err(WindowError::OpensAtEndOfDay)
        ));
        assert!(matches!(
            "08:00".parse::<Window>(),
            Err(WindowError::MalformedWindow { .. })
        ));
        assert!(matches!(
            "08:00-12:00-14:00".parse::<Window>(),
            Err(WindowError::MalformedWindow { .. })
        ));
    }

    #[test]
    fn validate_windows_rejects_overlap_and_disorder() {
        let w = |s: &str| s.parse::<Window>().expect("test literal");
        assert!(validate_windows(&[]).is_ok());
        assert!(validate_windows(&[w("08:00-12:00"), w("12:00-18:00")]).is_ok());
        let e = validate_windows(&[w("08:00-12:00"), w("11:00-14:00")]).expect_err("overlap");
        assert_eq!(
            e.to_string(),
            "windows 08:00-12:00 and 11:00-14:00 overlap; the windows of one day must not overlap"
        );
        assert!(matches!(
            validate_windows(&[w("14:00-18:00"), w("08:00-12:00")]),
            Err(WindowError::OutOfOrder { .. })
        ));
        assert!(matches!(
            validate_windows(&[w("14:00-18:00"), w("08:00-15:00")]),
            Err(WindowError::Overlap { .. })
        ));
    }

    #[test]
    fn normalized_sorts_and_merges() {
        let w = |s: &str| s.parse::<Window>().expect("test literal");
        assert_eq!(
            normalized(&[w("12:00-18:00"), w("08:00-12:00"), w("20:00-21:00")]),
            vec![w("08:00-18:00"), w("20:00-21:00")]
        );
    }

    #[test]
    fn only_working_days_need_holiday_data() {
        assert!(!ServiceHours::Always.needs_holiday_data());
        assert!(!ServiceHours::Daily(vec![]).needs_holiday_data());
        assert!(!ServiceHours::Weekly(Default::default()).needs_holiday_data());
        assert!(ServiceHours::WorkingDays(vec![]).needs_holiday_data());
    }
}

#[cfg(test)]
mod describe_tests {
    use super::*;

    fn w(s: &str) -> Window {
        s.parse().expect("test window")
    }

    #[test]
    fn hours_are_described_in_both_languages() {
        let cases: Vec<(ServiceHours, &str, &str)> = vec![
            (
                ServiceHours::Always,
                "7×24 小时",
                "24 hours a day, 7 days a week",
            ),
            (
                ServiceHours::Daily(vec![w("08:00-22:00")]),
                "每日 08:00–22:00",
                "Daily 08:00–22:00",
            ),
            (
                ServiceHours::WorkingDays(vec![w("13:00-18:00"), w("09:00-12:00")]),
                "工作日 09:00–12:00、13:00–18:00",
                "Working days 09:00–12:00, 13:00–18:00",
            ),
            (
                ServiceHours::Weekly([
                    vec![w("09:00-18:00")],
                    vec![],
                    vec![],
                    vec![],
                    vec![],
                    vec![w("10:00-16:00")],
                    vec![],
                ]),
                "周一 09:00–18:00;周六 10:00–16:00",
                "Mon 09:00–18:00; Sat 10:00–16:00",
            ),
        ];
        for (hours, zh, en) in cases {
            assert_eq!(hours.describe(true), zh);
            assert_eq!(hours.describe(false), en);
        }
    }
}
