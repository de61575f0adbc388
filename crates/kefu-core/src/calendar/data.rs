//! Reading one year's holiday data file (TOML) into a per-day table, with
//! errors that point at the offending line and key.
//!
//! ```toml
//! year = 2026
//! source = "国务院办公厅关于2026年部分节假日安排的通知"
//! # provisional = true            # optional; then `note` is required
//! # note = "why, and what replaces it"
//!
//! [[holiday]]
//! name = "春节"
//! off = { from = 2026-02-15, to = 2026-02-23 }   # or one date: off = 2026-06-19
//! statutory = [2026-02-16, 2026-02-17, 2026-02-18, 2026-02-19]
//! makeup = [2026-02-14, 2026-02-28]              # optional
//! ```
//!
//! A block covering two festivals names each one's statutory days:
//! `statutory = { "国庆节" = [2025-10-01, 2025-10-02, 2025-10-03], "中秋节" = [2025-10-06] }`.

use std::fmt;
use std::ops::Range;

use jiff::civil::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::holidays::{DayEntry, DayType, YearData, is_weekend, plain_day_type};

/// A place in a data file: `source:line:column` (1-based; column in characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub source: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.line, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HolidayDataError {
    #[error("{at}: not valid TOML: {message}")]
    Syntax { at: Location, message: String },
    #[error("{at}: missing key `{key}` in {table}")]
    MissingKey {
        at: Location,
        key: String,
        table: String,
    },
    #[error("{at}: unknown key `{key}` in {table}; expected one of: {expected}")]
    UnknownKey {
        at: Location,
        key: String,
        table: String,
        expected: String,
    },
    #[error("{at}: `{key}` should be {expected}, found {found}")]
    WrongType {
        at: Location,
        key: String,
        expected: String,
        found: String,
    },
    #[error("{at}: `{key}`: {message}")]
    BadValue {
        at: Location,
        key: String,
        message: String,
    },
    #[error("{at}: `{key}`: {date} is not in {year}; this file holds the holidays of {year} only")]
    DateOutsideYear {
        at: Location,
        key: String,
        date: Date,
        year: i16,
    },
    #[error(
        "{at}: `off` of “{holiday}” runs from {from} back to {to}; `from` must not be after `to`"
    )]
    ReversedRange {
        at: Location,
        holiday: String,
        from: Date,
        to: Date,
    },
    #[error("{at}: {date} is both a day off and a make-up working day (“{holiday}”)")]
    OffAndMakeup {
        at: Location,
        date: Date,
        holiday: String,
    },
    #[error(
        "{at}: make-up working day {date} of “{holiday}” is a {weekday}; make-up days are Saturdays or Sundays that become working days"
    )]
    MakeupNotWeekend {
        at: Location,
        date: Date,
        holiday: String,
        weekday: String,
    },
    #[error("{at}: statutory day {date} of “{holiday}” is not among its days off")]
    StatutoryNotOff {
        at: Location,
        date: Date,
        holiday: String,
    },
    #[error("{at}: {date} is listed twice (in “{first}” and again in “{second}”)")]
    ListedTwice {
        at: Location,
        date: Date,
        first: String,
        second: String,
    },
    #[error(
        "{at}: `provisional = true` needs a `note` saying where the dates come from and what will replace them"
    )]
    ProvisionalWithoutNote { at: Location },
    #[error("holiday data for {year} is given twice: in {first} and in {second}")]
    DuplicateYear {
        year: i16,
        first: String,
        second: String,
    },
}

/// A date with where it stands in the file.
type SpannedDate = (Date, Range<usize>);

type Result<T, E = HolidayDataError> = std::result::Result<T, E>;

struct Ctx<'a> {
    source: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn at(&self, span: &Range<usize>) -> Location {
        let offset = span.start.min(self.text.len());
        // Step back to a char boundary so slicing never panics.
        let offset = (0..=offset)
            .rev()
            .find(|&i| self.text.is_char_boundary(i))
            .unwrap_or(0);
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        Location {
            source: self.source.to_string(),
            line,
            column,
        }
    }

    fn wrong_type(&self, key: &str, v: &Spanned<DeValue<'_>>, expected: &str) -> HolidayDataError {
        let found = match v.get_ref() {
            DeValue::String(s) => format!("the string \"{s}\""),
            DeValue::Datetime(d) => format!("{d}"),
            DeValue::Integer(i) => format!("the integer {}", i.as_str()),
            other => format!("a {}", other.type_str()),
        };
        HolidayDataError::WrongType {
            at: self.at(&v.span()),
            key: key.to_string(),
            expected: expected.to_string(),
            found,
        }
    }

    fn check_keys(&self, table: &DeTable<'_>, table_name: &str, allowed: &[&str]) -> Result<()> {
        for (k, _) in table.iter() {
            if !allowed.contains(&k.get_ref().as_ref()) {
                return Err(HolidayDataError::UnknownKey {
                    at: self.at(&k.span()),
                    key: k.get_ref().to_string(),
                    table: table_name.to_string(),
                    expected: allowed.join(", "),
                });
            }
        }
        Ok(())
    }

    fn required<'t, 'i>(
        &self,
        (table, span): (&'t DeTable<'i>, Range<usize>),
        table_name: &str,
        key: &str,
    ) -> Result<&'t Spanned<DeValue<'i>>> {
        table.get(key).ok_or_else(|| HolidayDataError::MissingKey {
            at: self.at(&span),
            key: key.to_string(),
            table: table_name.to_string(),
        })
    }

    fn string(&self, key: &str, v: &Spanned<DeValue<'_>>) -> Result<String> {
        match v.get_ref() {
            DeValue::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            DeValue::String(_) => Err(HolidayDataError::BadValue {
                at: self.at(&v.span()),
                key: key.to_string(),
                message: "must not be empty".to_string(),
            }),
            _ => Err(self.wrong_type(key, v, "a string")),
        }
    }

    fn date(&self, key: &str, v: &Spanned<DeValue<'_>>, year: i16) -> Result<Date> {
        let expected = "a date like 2026-01-01 (unquoted)";
        let DeValue::Datetime(dt) = v.get_ref() else {
            return Err(self.wrong_type(key, v, expected));
        };
        let (Some(d), None, None) = (dt.date, dt.time, dt.offset) else {
            return Err(self.wrong_type(key, v, expected));
        };
        let bad = |message: String| HolidayDataError::BadValue {
            at: self.at(&v.span()),
            key: key.to_string(),
            message,
        };
        let y =
            i16::try_from(d.year).map_err(|_| bad(format!("year {} is out of range", d.year)))?;
        let (Ok(m), Ok(day)) = (i8::try_from(d.month), i8::try_from(d.day)) else {
            return Err(bad(format!("{dt} is not a date")));
        };
        let date = Date::new(y, m, day).map_err(|e| bad(format!("{dt} is not a date: {e}")))?;
        if date.year() != year {
            return Err(HolidayDataError::DateOutsideYear {
                at: self.at(&v.span()),
                key: key.to_string(),
                date,
                year,
            });
        }
        Ok(date)
    }

    fn date_list(
        &self,
        key: &str,
        v: &Spanned<DeValue<'_>>,
        year: i16,
    ) -> Result<Vec<SpannedDate>> {
        let DeValue::Array(items) = v.get_ref() else {
            return Err(self.wrong_type(key, v, "an array of dates like [2026-01-01]"));
        };
        items
            .iter()
            .map(|item| Ok((self.date(key, item, year)?, item.span())))
            .collect()
    }
}

/// What a date has been given so far while reading the blocks.
#[derive(Clone, Copy)]
enum Slot {
    Free,
    Off { block: u16, statutory: Option<u16> },
    Makeup { block: u16 },
}

const TOP_KEYS: &[&str] = &["year", "source", "provisional", "note", "holiday"];
const BLOCK_KEYS: &[&str] = &["name", "off", "statutory", "makeup"];

/// Parses one year's file. `added_from` is recorded for duplicate detection
/// (None for the embedded data).
pub(crate) fn parse_year(
    source: &str,
    text: &str,
    added_from: Option<&str>,
) -> Result<(i16, YearData)> {
    let cx = Ctx { source, text };
    let doc = DeTable::parse(text).map_err(|e| HolidayDataError::Syntax {
        at: cx.at(&e.span().unwrap_or(0..0)),
        message: e.message().to_string(),
    })?;
    let top = doc.get_ref();
    cx.check_keys(top, "the file", TOP_KEYS)?;

    let year_v = cx.required((top, doc.span()), "the file", "year")?;
    let year = match year_v.get_ref() {
        DeValue::Integer(i) => i
            .as_str()
            .replace('_', "")
            .parse::<i16>()
            .ok()
            .filter(|y| (1900..=2999).contains(y))
            .ok_or_else(|| HolidayDataError::BadValue {
                at: cx.at(&year_v.span()),
                key: "year".to_string(),
                message: format!("{} is not a year between 1900 and 2999", i.as_str()),
            })?,
        _ => return Err(cx.wrong_type("year", year_v, "an integer year like 2026")),
    };

    let mut provenance = cx.string(
        "source",
        cx.required((top, doc.span()), "the file", "source")?,
    )?;
    let provisional = match top.get("provisional") {
        None => false,
        Some(v) => match v.get_ref() {
            DeValue::Boolean(b) => *b,
            _ => return Err(cx.wrong_type("provisional", v, "true or false")),
        },
    };
    let note = match top.get("note") {
        Some(v) => Some(cx.string("note", v)?),
        None if provisional => {
            let at = top
                .get_key_value("provisional")
                .map_or(0..0, |(k, _)| k.span());
            return Err(HolidayDataError::ProvisionalWithoutNote { at: cx.at(&at) });
        }
        None => None,
    };
    if let Some(note) = &note {
        provenance = if provisional {
            format!("PROVISIONAL: {note} (source: {provenance})")
        } else {
            format!("{provenance}; {note}")
        };
    }

    let blocks_v = cx.required((top, doc.span()), "the file", "holiday")?;
    let blocks = match blocks_v.get_ref() {
        DeValue::Array(a) => a,
        _ => {
            return Err(cx.wrong_type(
                "holiday",
                blocks_v,
                "an array of tables ([[holiday]] sections)",
            ));
        }
    };

    let first = Date::new(year, 1, 1).map_err(|e| HolidayDataError::BadValue {
        at: cx.at(&year_v.span()),
        key: "year".to_string(),
        message: e.to_string(),
    })?;
    let n_days = usize::try_from(first.days_in_year()).unwrap_or(366);
    let mut slots = vec![Slot::Free; n_days];
    let mut names: Vec<String> = Vec::new();
    let index = |d: Date| usize::try_from(d.day_of_year() - 1).unwrap_or(0);

    for block_v in blocks.iter() {
        let DeValue::Table(block) = block_v.get_ref() else {
            return Err(cx.wrong_type("holiday", block_v, "a table ([[holiday]] section)"));
        };
        let block_t = (block, block_v.span());
        cx.check_keys(block, "a [[holiday]] section", BLOCK_KEYS)?;
        let name = cx.string(
            "name",
            cx.required(block_t.clone(), "a [[holiday]] section", "name")?,
        )?;
        let block_id = name_id(&mut names, &name);
        let where_ = format!("[[holiday]] “{name}”");

        // Days off: one date or an inclusive range.
        let off_v = cx.required(block_t.clone(), &where_, "off")?;
        let (from, to) = match off_v.get_ref() {
            DeValue::Datetime(_) => {
                let d = cx.date("off", off_v, year)?;
                (d, d)
            }
            DeValue::Table(range) => {
                cx.check_keys(range, "`off`", &["from", "to"])?;
                let range_t = (range, off_v.span());
                let from = cx.date(
                    "off.from",
                    cx.required(range_t.clone(), "`off`", "from")?,
                    year,
                )?;
                let to = cx.date("off.to", cx.required(range_t.clone(), "`off`", "to")?, year)?;
                if from > to {
                    return Err(HolidayDataError::ReversedRange {
                        at: cx.at(&off_v.span()),
                        holiday: name,
                        from,
                        to,
                    });
                }
                (from, to)
            }
            _ => {
                return Err(cx.wrong_type(
                    "off",
                    off_v,
                    "a date or a range like { from = 2026-02-15, to = 2026-02-23 }",
                ));
            }
        };
        for i in index(from)..=index(to) {
            match slots.get(i).copied() {
                Some(Slot::Free) => {
                    slots[i] = Slot::Off {
                        block: block_id,
                        statutory: None,
                    }
                }
                Some(Slot::Off { block, .. }) => {
                    return Err(HolidayDataError::ListedTwice {
                        at: cx.at(&off_v.span()),
                        date: nth_day(first, i),
                        first: names[usize::from(block)].clone(),
                        second: name,
                    });
                }
                Some(Slot::Makeup { block }) => {
                    return Err(HolidayDataError::OffAndMakeup {
                        at: cx.at(&off_v.span()),
                        date: nth_day(first, i),
                        holiday: names[usize::from(block)].clone(),
                    });
                }
                None => {}
            }
        }

        // Statutory days: a list under the block's name, or per festival.
        let stat_v = cx.required(block_t.clone(), &where_, "statutory")?;
        let mut statutory: Vec<(String, Vec<SpannedDate>)> = Vec::new();
        match stat_v.get_ref() {
            DeValue::Array(_) => {
                statutory.push((name.clone(), cx.date_list("statutory", stat_v, year)?))
            }
            DeValue::Table(per_festival) => {
                for (k, v) in per_festival.iter() {
                    let festival = k.get_ref().trim().to_string();
                    let key = format!("statutory.{festival}");
                    statutory.push((festival, cx.date_list(&key, v, year)?));
                }
            }
            _ => {
                return Err(cx.wrong_type(
                    "statutory",
                    stat_v,
                    "an array of dates, or a table of festival name = [dates]",
                ));
            }
        }
        for (festival, dates) in statutory {
            let fest_id = name_id(&mut names, &festival);
            for (d, span) in dates {
                let i = index(d);
                match slots.get(i).copied() {
                    Some(Slot::Off {
                        block,
                        statutory: None,
                    }) if block == block_id => {
                        slots[i] = Slot::Off {
                            block,
                            statutory: Some(fest_id),
                        };
                    }
                    Some(Slot::Off {
                        block,
                        statutory: Some(_),
                    }) if block == block_id => {
                        return Err(HolidayDataError::ListedTwice {
                            at: cx.at(&span),
                            date: d,
                            first: format!("{name} statutory days"),
                            second: format!("{festival} statutory days"),
                        });
                    }
                    _ => {
                        return Err(HolidayDataError::StatutoryNotOff {
                            at: cx.at(&span),
                            date: d,
                            holiday: name,
                        });
                    }
                }
            }
        }

        // Make-up working days.
        if let Some(makeup_v) = block.get("makeup") {
            for (d, span) in cx.date_list("makeup", makeup_v, year)? {
                if !is_weekend(d) {
                    return Err(HolidayDataError::MakeupNotWeekend {
                        at: cx.at(&span),
                        date: d,
                        holiday: name,
                        weekday: format!("{:?}", d.weekday()),
                    });
                }
                let i = index(d);
                match slots.get(i).copied() {
                    Some(Slot::Free) => slots[i] = Slot::Makeup { block: block_id },
                    Some(Slot::Off { .. }) => {
                        return Err(HolidayDataError::OffAndMakeup {
                            at: cx.at(&span),
                            date: d,
                            holiday: name,
                        });
                    }
                    Some(Slot::Makeup { block }) => {
                        return Err(HolidayDataError::ListedTwice {
                            at: cx.at(&span),
                            date: d,
                            first: names[usize::from(block)].clone(),
                            second: name,
                        });
                    }
                    None => {}
                }
            }
        }
    }

    let days = slots
        .iter()
        .enumerate()
        .map(|(i, slot)| {
            let d = nth_day(first, i);
            match *slot {
                Slot::Free => DayEntry {
                    kind: plain_day_type(d),
                    festival: None,
                },
                Slot::Makeup { block } => DayEntry {
                    kind: DayType::MakeupWorkday,
                    festival: Some(block),
                },
                Slot::Off {
                    statutory: Some(f), ..
                } => DayEntry {
                    kind: DayType::StatutoryHoliday,
                    festival: Some(f),
                },
                Slot::Off {
                    block,
                    statutory: None,
                } => DayEntry {
                    kind: if is_weekend(d) {
                        DayType::Weekend
                    } else {
                        DayType::SwappedRestDay
                    },
                    festival: Some(block),
                },
            }
        })
        .collect();

    Ok((
        year,
        YearData {
            provenance,
            note,
            provisional,
            added_from: added_from.map(str::to_string),
            days,
            festivals: names,
        },
    ))
}

/// The index of a festival or block name, added on first use.
fn name_id(names: &mut Vec<String>, name: &str) -> u16 {
    let i = names.iter().position(|n| n == name).unwrap_or_else(|| {
        names.push(name.to_string());
        names.len() - 1
    });
    u16::try_from(i).unwrap_or(u16::MAX)
}

/// The i-th day (0-based) of the year starting at `first`; `i` is always
/// inside the year here.
fn nth_day(first: Date, i: usize) -> Date {
    let i = i16::try_from(i).unwrap_or(0);
    first.with().day_of_year(i + 1).build().unwrap_or(first)
}
