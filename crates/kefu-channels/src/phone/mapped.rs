//! Any CSV/TSV call log, read through a mapping file (TOML) that names the
//! delimiter, the columns, the date and time formats, the values that mean
//! "absent", how outcome codes map to answered / abandoned / other, which rows
//! to skip and which orderings to check. One row is one call; nothing is held
//! between rows, so memory stays bounded whatever the file's size.
//!
//! The mapping is checked in two steps, both reporting every problem at once
//! with file:line:column like the contract document: [`Mapping::parse`] checks
//! the TOML itself, [`MappedReader::open`] checks its column names against the
//! file's header row. The format is documented in `examples/mappings/README.md`.
//!
//! Rules the mapping cannot switch off, because they hold for any call log:
//! - an unanswered row without a queue-entry time never reached an agent queue:
//!   it is counted as *not offered*, neither a call nor a rejection;
//! - with a date column and times of day, a time of day more than 12 hours
//!   before the row's anchor time is on the next day (calls crossing midnight);
//! - answer and end times that read up to `rules.max_clock_skew` before the
//!   instant they must follow are clamped to it (two clocks, one call); further
//!   out of order, the row is rejected.

use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{BufRead, Seek, SeekFrom};

use jiff::civil::{Date, Time};
use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_core::contract::{Diagnostic, Diagnostics, Position, SourceFile};
use kefu_core::phone::{CallOutcome, CallRecord};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::source::{Item, LineReader, RawLine, RecordReader, RejectedRow, Span, char_column};

/// A warning about a row that was still usable (kept as a call or counted as
/// not offered): same shape as a rejection, so `--errors` can write both.
pub type RowWarning = RejectedRow;

/// Warnings kept in memory between two [`MappedReader::take_warnings`] calls;
/// beyond it they are only counted.
pub const MAX_PENDING_WARNINGS: usize = 10_000;

/// Where a time of day is read as on the next day: this long before the anchor.
const NEXT_DAY_AFTER_SECONDS: i32 = 12 * 3600;

// ---------------------------------------------------------------------------
// The mapping document
// ---------------------------------------------------------------------------

/// A column as the mapping names it: by header name or 1-based index.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ColumnRef {
    Name(String),
    Index(u32),
}

/// A column reference with where it was written (for errors found against the header).
#[derive(Clone, Debug)]
struct Located {
    column: ColumnRef,
    key: String,
    at: usize,
    found: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnqueuedAnswer {
    /// The call went straight to an agent: offered when answered, zero wait.
    ZeroWait,
    /// The row is rejected.
    Reject,
}

#[derive(Clone, Debug)]
enum TimeLayout {
    /// A date column plus times of day in the time columns.
    DateAndTimeOfDay {
        date: Located,
        date_format: String,
        time_format: String,
        anchor: Option<Located>,
    },
    /// Each time column holds a full date and time (with an offset or in the zone).
    Timestamps { format: String },
    /// Each time column holds whole seconds since 1970-01-01T00:00:00Z.
    UnixSeconds,
}

#[derive(Clone, Debug)]
struct SkipRule {
    column: Located,
    values: Vec<String>,
    reason: String,
}

#[derive(Clone, Debug)]
struct CheckRule {
    earlier: Located,
    later: Located,
}

/// A parsed mapping file, not yet matched against a file's header.
#[derive(Clone, Debug)]
pub struct Mapping {
    file: SourceFile,
    delimiter: u8,
    header: bool,
    quoting: bool,
    fields: Option<usize>,
    zone: Option<(String, TimeZone)>,
    times: TimeLayout,
    absent: Vec<String>,
    absent_in: Vec<(Located, Vec<String>)>,
    source_id: Vec<Located>,
    queue: Option<Located>,
    caller: Option<Located>,
    agent: Option<Located>,
    offered_at: Vec<Located>,
    answered_at: Vec<Located>,
    left_queue_at: Vec<Located>,
    ended_at: Vec<Located>,
    talk_seconds: Option<Located>,
    outcome_column: Option<Located>,
    outcome_codes: Vec<(String, CallOutcome)>,
    unqueued_answer: UnqueuedAnswer,
    max_clock_skew: SignedDuration,
    skips: Vec<SkipRule>,
    checks: Vec<CheckRule>,
}

impl Mapping {
    /// Parse a mapping document. `file_name` is how errors name the file.
    pub fn parse(file_name: &str, text: &str) -> Result<Mapping, Diagnostics> {
        let file = SourceFile::new(file_name, text);
        let mut cx = Cx {
            file: &file,
            found: Vec::new(),
        };
        let (doc, errors) = DeTable::parse_recoverable(text);
        if !errors.is_empty() {
            for e in errors {
                let at = e.span().map_or(0, |s| s.start);
                let message = e.message().trim().replace('\n', " ");
                cx.err(at, "", format!("TOML syntax error: {message}"));
            }
            return Err(cx.into_diagnostics());
        }
        let root = Tbl::new(doc.get_ref(), "", doc.span().start);
        let mapping = read_mapping(&mut cx, root);
        match mapping {
            Some(m) if cx.found.is_empty() => Ok(m),
            _ => Err(cx.into_diagnostics()),
        }
    }

    /// Whether the mapping expects a header row.
    pub fn has_header(&self) -> bool {
        self.header
    }

    /// Check the mapping's column names and indices against a header row.
    pub fn check_header(&self, header: &[&str]) -> Result<(), Diagnostics> {
        self.plan(Some(header)).map(|_| ())
    }

    fn plan(&self, header: Option<&[&str]>) -> Result<Plan, Diagnostics> {
        let mut cx = Cx {
            file: &self.file,
            found: Vec::new(),
        };
        let width = header.map(<[&str]>::len).or(self.fields);
        let mut r = |loc: &Located| -> usize { resolve(&mut cx, loc, header, width) };
        let times = match &self.times {
            TimeLayout::DateAndTimeOfDay {
                date,
                date_format,
                time_format,
                anchor,
            } => PlanTimes::DateAndTimeOfDay {
                date: r(date),
                date_format: date_format.clone(),
                time_format: time_format.clone(),
                anchor: anchor.as_ref().map(&mut r),
            },
            TimeLayout::Timestamps { format } => PlanTimes::Timestamps {
                format: format.clone(),
            },
            TimeLayout::UnixSeconds => PlanTimes::UnixSeconds,
        };
        let mut list = |l: &[Located]| -> Vec<usize> { l.iter().map(&mut r).collect() };
        let source_id = list(&self.source_id);
        let offered_at = list(&self.offered_at);
        let answered_at = list(&self.answered_at);
        let left_queue_at = list(&self.left_queue_at);
        let ended_at = list(&self.ended_at);
        let queue = self.queue.as_ref().map(&mut r);
        let caller = self.caller.as_ref().map(&mut r);
        let agent = self.agent.as_ref().map(&mut r);
        let talk_seconds = self.talk_seconds.as_ref().map(&mut r);
        let outcome = self.outcome_column.as_ref().map(&mut r);
        let absent_in: HashMap<usize, Vec<String>> = self
            .absent_in
            .iter()
            .map(|(l, v)| (r(l), v.clone()))
            .collect();
        let skips: Vec<PlanSkip> = self
            .skips
            .iter()
            .map(|s| PlanSkip {
                column: r(&s.column),
                values: s.values.clone(),
                reason: s.reason.clone(),
            })
            .collect();
        let checks: Vec<(usize, usize)> = self
            .checks
            .iter()
            .map(|c| (r(&c.earlier), r(&c.later)))
            .collect();
        if !cx.found.is_empty() {
            return Err(cx.into_diagnostics());
        }
        let min_fields = [
            &source_id,
            &offered_at,
            &answered_at,
            &left_queue_at,
            &ended_at,
        ]
        .iter()
        .flat_map(|v| v.iter().copied())
        .chain(
            [queue, caller, agent, talk_seconds, outcome]
                .into_iter()
                .flatten(),
        )
        .chain(skips.iter().map(|s| s.column))
        .chain(checks.iter().flat_map(|(a, b)| [*a, *b]))
        .chain(
            match &times {
                PlanTimes::DateAndTimeOfDay { date, anchor, .. } => vec![Some(*date), *anchor],
                _ => vec![],
            }
            .into_iter()
            .flatten(),
        )
        .max()
        .map_or(0, |m| m + 1);
        Ok(Plan {
            names: header.map(|h| h.iter().map(|s| s.to_string()).collect()),
            width,
            min_fields,
            delimiter: self.delimiter,
            quoting: self.quoting,
            times,
            absent: self.absent.clone(),
            absent_in,
            source_id,
            queue,
            caller,
            agent,
            offered_at,
            answered_at,
            left_queue_at,
            ended_at,
            talk_seconds,
            outcome,
            outcome_codes: self.outcome_codes.clone(),
            unqueued_answer: self.unqueued_answer,
            max_clock_skew: self.max_clock_skew,
            skips,
            checks,
        })
    }
}

/// The index of a referenced column, reporting names missing from the header.
fn resolve(cx: &mut Cx<'_>, loc: &Located, header: Option<&[&str]>, width: Option<usize>) -> usize {
    match (&loc.column, header) {
        (ColumnRef::Index(i), _) => {
            let idx = *i as usize;
            if let Some(w) = width
                && idx > w
            {
                let whose = if header.is_some() {
                    "the header row has"
                } else {
                    "file.fields says"
                };
                cx.err(
                    loc.at,
                    &loc.key,
                    format!(
                        "expected a column index from 1 to {w} ({whose} {w} columns), found {}",
                        loc.found
                    ),
                );
            }
            idx.saturating_sub(1)
        }
        (ColumnRef::Name(name), Some(h)) => match h.iter().position(|c| c == name) {
            Some(i) => i,
            None => {
                let hint = match did_you_mean(name, h) {
                    Some(best) => format!(" (did you mean \"{best}\"?)"),
                    None => format!("; the header has: {}", h.join(", ")),
                };
                cx.err(
                    loc.at,
                    &loc.key,
                    format!(
                        "expected a column name from the header or a 1-based index, found {}{hint}",
                        loc.found
                    ),
                );
                0
            }
        },
        // Names without a header are refused by `Mapping::parse`.
        (ColumnRef::Name(_), None) => 0,
    }
}

// ---------------------------------------------------------------------------
// Reading the TOML with positions (a compact version of kefu-core's contract reader)
// ---------------------------------------------------------------------------

struct Cx<'f> {
    file: &'f SourceFile,
    found: Vec<(usize, Diagnostic)>,
}

impl Cx<'_> {
    fn err(&mut self, at: usize, key: &str, message: String) {
        let (line, column) = self.file.line_col(at);
        let d = Diagnostic {
            position: Position {
                file: self.file.name().to_string(),
                line,
                column,
            },
            key: key.to_string(),
            message,
        };
        if !self.found.iter().any(|(_, e)| *e == d) {
            self.found.push((at, d));
        }
    }

    /// The source text of a value, shortened, for "found …".
    fn snippet(&self, v: &Spanned<DeValue<'_>>) -> String {
        let s = self.file.text().get(v.span()).unwrap_or("").trim();
        let mut out: String = s.chars().take(60).collect();
        if s.chars().count() > 60 {
            out.push('…');
        }
        out
    }

    fn expected(&mut self, v: &Spanned<DeValue<'_>>, key: &str, what: &str) {
        let found = self.snippet(v);
        self.err(
            v.span().start,
            key,
            format!("expected {what}, found {found}"),
        );
    }

    fn into_diagnostics(mut self) -> Diagnostics {
        self.found.sort_by_key(|(at, _)| *at);
        Diagnostics(self.found.into_iter().map(|(_, d)| d).collect())
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn did_you_mean<'a, S: AsRef<str>>(word: &str, candidates: &'a [S]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c.as_ref()), c.as_ref()))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

type Val<'t, 'i> = &'t Spanned<DeValue<'i>>;

/// A table being read: records the keys asked for, and reports the others as unknown.
struct Tbl<'t, 'i> {
    table: &'t DeTable<'i>,
    path: String,
    at: usize,
    asked: Vec<&'static str>,
}

impl<'t, 'i> Tbl<'t, 'i> {
    fn new(table: &'t DeTable<'i>, path: &str, at: usize) -> Self {
        Tbl {
            table,
            path: path.to_string(),
            at,
            asked: Vec::new(),
        }
    }

    fn key(&self, key: &str) -> String {
        join(&self.path, key)
    }

    fn get(&mut self, key: &'static str) -> Option<Val<'t, 'i>> {
        self.asked.push(key);
        self.table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)
            .map(|(_, v)| v)
    }

    fn missing(&self, cx: &mut Cx<'_>, key: &str, what: &str) {
        cx.err(
            self.at,
            &self.key(key),
            format!("missing key `{key}` ({what})"),
        );
    }

    fn sub(&mut self, cx: &mut Cx<'_>, key: &'static str) -> Option<Tbl<'t, 'i>> {
        let v = self.get(key)?;
        match v.get_ref() {
            DeValue::Table(t) => Some(Tbl::new(t, &self.key(key), v.span().start)),
            _ => {
                cx.expected(v, &self.key(key), "a table");
                None
            }
        }
    }

    fn finish(self, cx: &mut Cx<'_>) {
        for (k, _) in self.table.iter() {
            let name = k.get_ref().as_ref();
            if self.asked.contains(&name) {
                continue;
            }
            let mut message = format!("unknown key `{name}`");
            if let Some(best) = did_you_mean(name, &self.asked) {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            } else {
                let mut known = self.asked.clone();
                known.sort_unstable();
                known.dedup();
                message.push_str(&format!("; known keys here: {}", known.join(", ")));
            }
            cx.err(k.span().start, &join(&self.path, name), message);
        }
    }
}

fn string(cx: &mut Cx<'_>, v: Val<'_, '_>, key: &str, what: &str) -> Option<String> {
    match v.get_ref() {
        DeValue::String(s) if s.is_empty() => {
            cx.err(
                v.span().start,
                key,
                format!("expected {what}, found an empty string"),
            );
            None
        }
        DeValue::String(s) => Some(s.to_string()),
        _ => {
            cx.expected(v, key, what);
            None
        }
    }
}

fn boolean(cx: &mut Cx<'_>, v: Val<'_, '_>, key: &str) -> Option<bool> {
    match v.get_ref() {
        DeValue::Boolean(b) => Some(*b),
        _ => {
            cx.expected(v, key, "true or false");
            None
        }
    }
}

fn strings(cx: &mut Cx<'_>, v: Val<'_, '_>, key: &str, what: &str) -> Option<Vec<String>> {
    match v.get_ref() {
        DeValue::Array(items) => {
            let mut out = Vec::new();
            let mut ok = true;
            for (i, it) in items.iter().enumerate() {
                match it.get_ref() {
                    // Empty strings are allowed here: "" is a common "absent" value.
                    DeValue::String(s) => out.push(s.to_string()),
                    _ => {
                        cx.expected(it, &format!("{key}[{i}]"), "a string");
                        ok = false;
                    }
                }
            }
            ok.then_some(out)
        }
        _ => {
            cx.expected(v, key, what);
            None
        }
    }
}

const COLUMN_WHAT: &str = "a column name from the header or a 1-based index";

fn column(cx: &mut Cx<'_>, v: Val<'_, '_>, key: &str, header: bool) -> Option<Located> {
    let at = v.span().start;
    let found = cx.snippet(v);
    let column = match v.get_ref() {
        DeValue::String(s) if s.is_empty() => {
            cx.err(
                at,
                key,
                format!("expected {COLUMN_WHAT}, found an empty string"),
            );
            return None;
        }
        DeValue::String(s) => {
            if !header {
                cx.err(
                    at,
                    key,
                    format!(
                        "expected a 1-based column index (file.header = false, so there are no column names), found {found}"
                    ),
                );
                return None;
            }
            ColumnRef::Name(s.to_string())
        }
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) if (1..=i64::from(u16::MAX)).contains(&n) => {
                ColumnRef::Index(u32::try_from(n).unwrap_or(u32::MAX))
            }
            _ => {
                cx.err(
                    at,
                    key,
                    format!("expected {COLUMN_WHAT} (1 is the first column), found {found}"),
                );
                return None;
            }
        },
        _ => {
            cx.expected(v, key, COLUMN_WHAT);
            return None;
        }
    };
    Some(Located {
        column,
        key: key.to_string(),
        at,
        found,
    })
}

/// One column, or an array of columns tried in order (the first present value wins).
fn columns(cx: &mut Cx<'_>, v: Val<'_, '_>, key: &str, header: bool) -> Option<Vec<Located>> {
    match v.get_ref() {
        DeValue::Array(items) if items.is_empty() => {
            cx.err(
                v.span().start,
                key,
                format!("expected {COLUMN_WHAT}, or an array of them, found an empty array"),
            );
            None
        }
        DeValue::Array(items) => {
            let before = cx.found.len();
            let out: Vec<Located> = items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| column(cx, it, &format!("{key}[{i}]"), header))
                .collect();
            (cx.found.len() == before).then_some(out)
        }
        _ => column(cx, v, key, header).map(|c| vec![c]),
    }
}

/// Checks a strftime-style format by printing a sample and parsing it back.
fn format_ok(format: &str, kind: FormatKind) -> Result<(), String> {
    let sample = jiff::civil::date(2026, 1, 31).at(17, 5, 9, 0);
    let zoned = sample
        .to_zoned_datetime(TimeZone::UTC)
        .map_err(|e| e.to_string())?;
    let printed = strtime::format(format, &zoned).map_err(|e| e.to_string())?;
    let tm = strtime::parse(format, &printed).map_err(|e| e.to_string())?;
    let ok = match kind {
        FormatKind::Date => tm.to_date().is_ok_and(|d| d == sample.date()),
        FormatKind::Time => tm.to_time().is_ok_and(|t| t == sample.time()),
        FormatKind::DateTime => tm.to_datetime().is_ok_and(|d| d == sample),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "it does not read back what it writes (2026-01-31 17:05:09 printed as \"{printed}\")"
        ))
    }
}

#[derive(Clone, Copy)]
enum FormatKind {
    Date,
    Time,
    DateTime,
}

fn format_setting(
    cx: &mut Cx<'_>,
    v: Val<'_, '_>,
    key: &str,
    kind: FormatKind,
    example: &str,
) -> Option<String> {
    let what = format!("a strftime-style format like \"{example}\"");
    let f = string(cx, v, key, &what)?;
    match format_ok(&f, kind) {
        Ok(()) => Some(f),
        Err(why) => {
            let noun = match kind {
                FormatKind::Date => "a date",
                FormatKind::Time => "a time of day",
                FormatKind::DateTime => "a date and time",
            };
            cx.err(
                v.span().start,
                key,
                format!("expected a format for {noun} like \"{example}\", found \"{f}\": {why}"),
            );
            None
        }
    }
}

const DELIMITERS: [(&str, u8); 4] = [(",", b','), ("\t", b'\t'), ("|", b'|'), (";", b';')];

fn read_mapping(cx: &mut Cx<'_>, mut root: Tbl<'_, '_>) -> Option<Mapping> {
    // [file]
    let mut delimiter = b',';
    let mut header = true;
    let mut quoting = true;
    let mut fields = None;
    match root.sub(cx, "file") {
        Some(mut t) => {
            if let Some(v) = t.get("delimiter") {
                let key = t.key("delimiter");
                match v.get_ref() {
                    DeValue::String(s) if DELIMITERS.iter().any(|(d, _)| d == s) => {
                        delimiter = DELIMITERS
                            .iter()
                            .find(|(d, _)| d == s)
                            .map_or(b',', |(_, b)| *b);
                    }
                    _ => cx.expected(v, &key, "one of \",\", \"\\t\", \"|\", \";\""),
                }
            }
            if let Some(v) = t.get("header") {
                header = boolean(cx, v, &t.key("header")).unwrap_or(true);
            }
            if let Some(v) = t.get("quoting") {
                quoting = boolean(cx, v, &t.key("quoting")).unwrap_or(true);
            }
            if let Some(v) = t.get("encoding") {
                let key = t.key("encoding");
                if let Some(e) = string(cx, v, &key, "\"utf-8\"")
                    && !matches!(e.to_ascii_lowercase().as_str(), "utf-8" | "utf8")
                {
                    cx.err(
                        v.span().start,
                        &key,
                        format!(
                            "expected \"utf-8\" (the only encoding the mapped reader reads; convert the file first, e.g. `iconv -f {e} -t UTF-8`), found \"{e}\""
                        ),
                    );
                }
            }
            if let Some(v) = t.get("fields") {
                match v.get_ref() {
                    DeValue::Integer(i) => match i.as_str().parse::<usize>() {
                        Ok(n) if (1..=10_000).contains(&n) && i.radix() == 10 => fields = Some(n),
                        _ => cx.expected(v, &t.key("fields"), "a number of fields from 1 to 10000"),
                    },
                    _ => cx.expected(v, &t.key("fields"), "a number of fields from 1 to 10000"),
                }
            }
            t.finish(cx);
        }
        None => root.missing(cx, "file", "the table [file] with the delimiter and header"),
    }

    // [time]
    let mut zone = None;
    let mut times = None;
    match root.sub(cx, "time") {
        Some(mut t) => {
            if let Some(v) = t.get("zone") {
                let key = t.key("zone");
                if let Some(name) = string(cx, v, &key, "an IANA time zone like \"Asia/Shanghai\"")
                {
                    match TimeZone::get(&name) {
                        Ok(tz) => zone = Some((name, tz)),
                        Err(_) => {
                            let names: Vec<String> = jiff::tz::db()
                                .available()
                                .map(|n| n.as_str().to_string())
                                .collect();
                            let hint = did_you_mean(&name, &names)
                                .map(|b| format!(" (did you mean \"{b}\"?)"))
                                .unwrap_or_default();
                            cx.err(
                                v.span().start,
                                &key,
                                format!(
                                    "expected an IANA time zone like \"Asia/Shanghai\", found \"{name}\"{hint}"
                                ),
                            );
                        }
                    }
                }
            }
            let date = t
                .get("date_column")
                .and_then(|v| column(cx, v, &t.key("date_column"), header));
            let date_format = t.get("date_format").and_then(|v| {
                format_setting(cx, v, &t.key("date_format"), FormatKind::Date, "%Y%m%d")
            });
            let time_format = t.get("time_format").and_then(|v| {
                format_setting(cx, v, &t.key("time_format"), FormatKind::Time, "%H:%M:%S")
            });
            let anchor = t
                .get("day_anchor")
                .and_then(|v| column(cx, v, &t.key("day_anchor"), header));
            let datetime_v = t.get("datetime_format");
            let has_date_column = t.table.iter().any(|(k, _)| k.get_ref() == "date_column");
            if has_date_column {
                if let Some(v) = datetime_v {
                    cx.err(
                        v.span().start,
                        &t.key("datetime_format"),
                        "expected no datetime_format with a date_column: the time columns then hold times of day (time_format)".to_string(),
                    );
                }
                if t.get("date_format").is_none() {
                    t.missing(
                        cx,
                        "date_format",
                        "how the date column is written, e.g. \"%Y%m%d\"",
                    );
                }
                if let (Some(date), Some(date_format)) = (date, date_format) {
                    times = Some(TimeLayout::DateAndTimeOfDay {
                        date,
                        date_format,
                        time_format: time_format.unwrap_or_else(|| "%H:%M:%S".to_string()),
                        anchor,
                    });
                }
            } else {
                for k in ["date_format", "time_format", "day_anchor"] {
                    if let Some((key, _)) = t.table.iter().find(|(key, _)| key.get_ref() == k) {
                        cx.err(
                            key.span().start,
                            &t.key(k),
                            format!("`{k}` needs `date_column` (the column that holds the date); without it the time columns hold full timestamps (datetime_format)"),
                        );
                    }
                }
                times = match datetime_v {
                    Some(v) if v.get_ref().as_str() == Some("unix") => {
                        Some(TimeLayout::UnixSeconds)
                    }
                    Some(v) => format_setting(
                        cx,
                        v,
                        &t.key("datetime_format"),
                        FormatKind::DateTime,
                        "%Y-%m-%d %H:%M:%S",
                    )
                    .map(|format| TimeLayout::Timestamps { format }),
                    None => Some(TimeLayout::Timestamps {
                        format: "%Y-%m-%d %H:%M:%S".to_string(),
                    }),
                };
            }
            t.finish(cx);
        }
        None => {
            times = Some(TimeLayout::Timestamps {
                format: "%Y-%m-%d %H:%M:%S".to_string(),
            })
        }
    }

    // [absent]
    let mut absent = vec![String::new()];
    let mut absent_in = Vec::new();
    if let Some(mut t) = root.sub(cx, "absent") {
        if let Some(v) = t.get("values")
            && let Some(list) = strings(cx, v, &t.key("values"), "an array of strings")
        {
            absent = list;
        }
        if let Some(c) = t.sub(cx, "columns") {
            for (k, v) in c.table.iter() {
                let name = k.get_ref().as_ref();
                let key = c.key(name);
                let at = k.span().start;
                let col = match name.parse::<u32>() {
                    Ok(n) if n >= 1 => ColumnRef::Index(n),
                    _ if header => ColumnRef::Name(name.to_string()),
                    _ => {
                        cx.err(
                            at,
                            &key,
                            format!("expected a 1-based column index as the key (file.header = false), found `{name}`"),
                        );
                        continue;
                    }
                };
                if let Some(list) = strings(cx, v, &key, "an array of strings") {
                    absent_in.push((
                        Located {
                            column: col,
                            key: key.clone(),
                            at,
                            found: format!("\"{name}\""),
                        },
                        list,
                    ));
                }
            }
            // Every key of [absent.columns] is a column: nothing is unknown.
        }
        t.finish(cx);
    }

    // [columns]
    let mut source_id = None;
    let mut offered_at = None;
    let (mut answered_at, mut left_queue_at, mut ended_at) = (vec![], vec![], vec![]);
    let (mut queue, mut caller, mut agent, mut talk_seconds) = (None, None, None, None);
    match root.sub(cx, "columns") {
        Some(mut t) => {
            match t.get("source_id") {
                Some(v) => source_id = columns(cx, v, &t.key("source_id"), header),
                None => t.missing(
                    cx,
                    "source_id",
                    "the column(s) that identify a call in its source",
                ),
            }
            match t.get("offered_at") {
                Some(v) => offered_at = columns(cx, v, &t.key("offered_at"), header),
                None => t.missing(cx, "offered_at", "when the call entered the agent queue"),
            }
            let opt_list = |cx: &mut Cx<'_>, t: &mut Tbl<'_, '_>, k: &'static str| {
                t.get(k)
                    .and_then(|v| columns(cx, v, &t.key(k), header))
                    .unwrap_or_default()
            };
            answered_at = opt_list(cx, &mut t, "answered_at");
            left_queue_at = opt_list(cx, &mut t, "left_queue_at");
            ended_at = opt_list(cx, &mut t, "ended_at");
            let opt_one = |cx: &mut Cx<'_>, t: &mut Tbl<'_, '_>, k: &'static str| {
                t.get(k).and_then(|v| column(cx, v, &t.key(k), header))
            };
            queue = opt_one(cx, &mut t, "queue");
            caller = opt_one(cx, &mut t, "caller");
            agent = opt_one(cx, &mut t, "agent");
            talk_seconds = opt_one(cx, &mut t, "talk_seconds");
            t.finish(cx);
        }
        None => root.missing(
            cx,
            "columns",
            "the table [columns] naming the source id and time columns",
        ),
    }

    // [outcome]
    let mut outcome_column = None;
    let mut outcome_codes: Vec<(String, CallOutcome)> = Vec::new();
    match root.sub(cx, "outcome") {
        Some(mut t) => {
            match t.get("column") {
                Some(v) => outcome_column = column(cx, v, &t.key("column"), header),
                None => t.missing(cx, "column", "the column that holds the outcome code"),
            }
            let names: [(&'static str, CallOutcome); 6] = [
                ("answered", CallOutcome::Answered),
                ("abandoned", CallOutcome::Abandoned),
                ("timed_out", CallOutcome::TimedOut),
                ("no_agents", CallOutcome::NoAgents),
                ("exited_with_key", CallOutcome::ExitedWithKey),
                ("other", CallOutcome::Unknown),
            ];
            for (name, outcome) in names {
                let Some(v) = t.get(name) else { continue };
                let key = t.key(name);
                let Some(codes) = strings(cx, v, &key, "an array of outcome codes") else {
                    continue;
                };
                for code in codes {
                    if let Some((_, before)) = outcome_codes.iter().find(|(c, _)| *c == code) {
                        cx.err(
                            v.span().start,
                            &key,
                            format!(
                                "the code \"{code}\" is already mapped to {}; a code maps to one outcome",
                                before.as_str()
                            ),
                        );
                    } else {
                        outcome_codes.push((code, outcome));
                    }
                }
            }
            if outcome_column.is_some() && outcome_codes.is_empty() {
                t.missing(
                    cx,
                    "answered",
                    "the outcome codes that mean answered, e.g. [\"AGENT\"]",
                );
            }
            t.finish(cx);
        }
        None => {
            if answered_at.is_empty() && !cx.found.iter().any(|(_, d)| d.key == "columns") {
                cx.err(
                    root.at,
                    "outcome",
                    "missing table [outcome] (without an outcome column, `columns.answered_at` must be given: a row with an answer time is answered, one without is abandoned)".to_string(),
                );
            }
        }
    }

    // [rules]
    let mut unqueued_answer = UnqueuedAnswer::Reject;
    let mut max_clock_skew = SignedDuration::ZERO;
    if let Some(mut t) = root.sub(cx, "rules") {
        if let Some(v) = t.get("answered_without_queue_entry") {
            let key = t.key("answered_without_queue_entry");
            match v.get_ref().as_str() {
                Some("zero_wait") => unqueued_answer = UnqueuedAnswer::ZeroWait,
                Some("reject") => unqueued_answer = UnqueuedAnswer::Reject,
                Some(other) => {
                    let hint = did_you_mean(other, &["zero_wait", "reject"])
                        .map(|b| format!(" (did you mean \"{b}\"?)"))
                        .unwrap_or_default();
                    cx.err(
                        v.span().start,
                        &key,
                        format!(
                            "expected one of \"zero_wait\", \"reject\", found \"{other}\"{hint}"
                        ),
                    );
                }
                None => cx.expected(v, &key, "one of \"zero_wait\", \"reject\""),
            }
        }
        if let Some(v) = t.get("max_clock_skew") {
            let key = t.key("max_clock_skew");
            match v.get_ref() {
                DeValue::String(s) => match s.parse::<kefu_core::contract::Duration>() {
                    Ok(d) if d.to_signed() <= SignedDuration::from_mins(10) => {
                        max_clock_skew = d.to_signed();
                    }
                    Ok(_) => cx.err(
                        v.span().start,
                        &key,
                        format!("expected a duration of at most 10 minutes, found \"{s}\""),
                    ),
                    Err(e) => cx.err(
                        v.span().start,
                        &key,
                        format!("expected a duration with a unit like \"2s\", found \"{s}\": {e}"),
                    ),
                },
                _ => cx.expected(v, &key, "a duration with a unit like \"2s\""),
            }
        }
        t.finish(cx);
    }

    // [[skip]] and [[check]]
    let mut skips = Vec::new();
    if let Some(v) = root.get("skip") {
        for (i, t) in tables(cx, v, "skip") {
            let mut t = Tbl::new(t.0, &format!("skip[{i}]"), t.1);
            let col = match t.get("column") {
                Some(v) => column(cx, v, &t.key("column"), header),
                None => {
                    t.missing(cx, "column", "the column to test");
                    None
                }
            };
            let values = match t.get("values") {
                Some(v) => strings(cx, v, &t.key("values"), "an array of values"),
                None => {
                    t.missing(cx, "values", "the values that make a row skipped");
                    None
                }
            };
            let reason = t
                .get("reason")
                .and_then(|v| string(cx, v, &t.key("reason"), "a reason in words"));
            if let (Some(column), Some(values)) = (col, values) {
                let reason = reason
                    .unwrap_or_else(|| format!("{} is one of {}", column.found, values.join(", ")));
                skips.push(SkipRule {
                    column,
                    values,
                    reason,
                });
            }
            t.finish(cx);
        }
    }
    let mut checks = Vec::new();
    if let Some(v) = root.get("check") {
        for (i, t) in tables(cx, v, "check") {
            let mut t = Tbl::new(t.0, &format!("check[{i}]"), t.1);
            let one = |cx: &mut Cx<'_>, t: &mut Tbl<'_, '_>, k: &'static str| match t.get(k) {
                Some(v) => column(cx, v, &t.key(k), header),
                None => {
                    t.missing(cx, k, "a time column");
                    None
                }
            };
            let earlier = one(cx, &mut t, "earlier");
            let later = one(cx, &mut t, "later");
            if let (Some(earlier), Some(later)) = (earlier, later) {
                checks.push(CheckRule { earlier, later });
            }
            t.finish(cx);
        }
    }
    root.finish(cx);

    Some(Mapping {
        file: cx.file.clone(),
        delimiter,
        header,
        quoting,
        fields,
        zone,
        times: times?,
        absent,
        absent_in,
        source_id: source_id?,
        queue,
        caller,
        agent,
        offered_at: offered_at?,
        answered_at,
        left_queue_at,
        ended_at,
        talk_seconds,
        outcome_column,
        outcome_codes,
        unqueued_answer,
        max_clock_skew,
        skips,
        checks,
    })
}

/// The tables of an array of tables (`[[skip]]`), with their positions.
fn tables<'t, 'i>(
    cx: &mut Cx<'_>,
    v: Val<'t, 'i>,
    key: &str,
) -> Vec<(usize, (&'t DeTable<'i>, usize))> {
    match v.get_ref() {
        DeValue::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, it)| match it.get_ref() {
                DeValue::Table(t) => Some((i, (t, it.span().start))),
                _ => {
                    cx.expected(it, &format!("{key}[{i}]"), "a table");
                    None
                }
            })
            .collect(),
        _ => {
            cx.expected(v, key, &format!("an array of tables ([[{key}]])"));
            Vec::new()
        }
    }
}

// ---------------------------------------------------------------------------
// The mapping matched against a file: column indices
// ---------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum PlanTimes {
    DateAndTimeOfDay {
        date: usize,
        date_format: String,
        time_format: String,
        anchor: Option<usize>,
    },
    Timestamps {
        format: String,
    },
    UnixSeconds,
}

#[derive(Clone, Debug)]
struct PlanSkip {
    column: usize,
    values: Vec<String>,
    reason: String,
}

#[derive(Clone, Debug)]
struct Plan {
    names: Option<Vec<String>>,
    width: Option<usize>,
    min_fields: usize,
    delimiter: u8,
    quoting: bool,
    times: PlanTimes,
    absent: Vec<String>,
    absent_in: HashMap<usize, Vec<String>>,
    source_id: Vec<usize>,
    queue: Option<usize>,
    caller: Option<usize>,
    agent: Option<usize>,
    offered_at: Vec<usize>,
    answered_at: Vec<usize>,
    left_queue_at: Vec<usize>,
    ended_at: Vec<usize>,
    talk_seconds: Option<usize>,
    outcome: Option<usize>,
    outcome_codes: Vec<(String, CallOutcome)>,
    unqueued_answer: UnqueuedAnswer,
    max_clock_skew: SignedDuration,
    skips: Vec<PlanSkip>,
    checks: Vec<(usize, usize)>,
}

impl Plan {
    fn name(&self, i: usize) -> String {
        self.names
            .as_ref()
            .and_then(|n| n.get(i).cloned())
            .unwrap_or_else(|| format!("column {}", i + 1))
    }

    fn is_absent(&self, i: usize, value: &str) -> bool {
        self.absent.iter().any(|a| a == value)
            || self
                .absent_in
                .get(&i)
                .is_some_and(|l| l.iter().any(|a| a == value))
    }
}

// ---------------------------------------------------------------------------
// The reader
// ---------------------------------------------------------------------------

/// What a mapped import counted. Every row after the header is exactly one of
/// call, skipped (blank, repeated header, or a skip filter), not offered, rejected:
/// `rows == calls + skipped_blank + skipped_by_filter + not_offered + rejected`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct MappedCounts {
    pub rows: u64,
    pub calls: u64,
    /// Blank lines and repeated header rows.
    pub skipped_blank: u64,
    pub skipped_by_filter: u64,
    /// Unanswered rows that never entered an agent queue (e.g. hung up in the IVR).
    pub not_offered: u64,
    pub rejected: u64,
    /// Rows kept despite a warning (counted again under calls or not_offered).
    pub warnings: u64,
}

/// Why [`MappedReader::open`] could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The mapping names columns the file does not have.
    #[error("{0}")]
    Mapping(Diagnostics),
    #[error("the file is empty, but the mapping expects a header row (file.header = true)")]
    NoHeader,
    #[error("line {line}: the header row {reason}")]
    BadHeader { line: u64, reason: String },
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
}

/// A streaming reader of one CSV/TSV file through a [`Mapping`].
pub struct MappedReader<R> {
    plan: Plan,
    zone: TimeZone,
    lines: LineReader<R>,
    counts: MappedCounts,
    warnings: Vec<RowWarning>,
    skipped_by_rule: Vec<u64>,
    finished: bool,
}

struct Problem {
    field: Option<usize>,
    at: Option<usize>,
    value: Option<String>,
    reason: String,
}

impl Problem {
    fn new(reason: impl Into<String>) -> Problem {
        Problem {
            field: None,
            at: None,
            value: None,
            reason: reason.into(),
        }
    }
}

enum RowResult {
    Call(Box<CallRecord>),
    Blank,
    Skipped(usize),
    NotOffered,
    Rejected(Problem),
}

type Fields<'a> = Vec<(usize, Cow<'a, str>)>;

impl<R: BufRead> MappedReader<R> {
    /// Start reading a file from its beginning. `default_zone` is the zone of
    /// wall-clock times when the mapping names none (normally the contract's).
    pub fn open(mapping: &Mapping, input: R, default_zone: TimeZone) -> Result<Self, OpenError> {
        let mut lines = LineReader::new(input, 1, 0);
        let header = if mapping.header {
            let line = match lines.next_line() {
                None => return Err(OpenError::NoHeader),
                Some(line) => line?,
            };
            Some(header_fields(mapping, &line)?)
        } else {
            None
        };
        let refs: Option<Vec<&str>> = header
            .as_ref()
            .map(|h| h.iter().map(String::as_str).collect());
        let plan = mapping.plan(refs.as_deref()).map_err(OpenError::Mapping)?;
        Ok(Self::with_plan(mapping, plan, lines, default_zone))
    }

    fn with_plan(
        mapping: &Mapping,
        plan: Plan,
        lines: LineReader<R>,
        default_zone: TimeZone,
    ) -> Self {
        let skipped_by_rule = vec![0; plan.skips.len()];
        MappedReader {
            plan,
            zone: mapping
                .zone
                .as_ref()
                .map_or(default_zone, |(_, z)| z.clone()),
            lines,
            counts: MappedCounts::default(),
            warnings: Vec::new(),
            skipped_by_rule,
            finished: false,
        }
    }

    /// What has been counted so far.
    pub fn counts(&self) -> MappedCounts {
        self.counts
    }

    /// The warnings gathered since the last call (at most [`MAX_PENDING_WARNINGS`]
    /// are kept between calls; all are counted).
    pub fn take_warnings(&mut self) -> Vec<RowWarning> {
        std::mem::take(&mut self.warnings)
    }

    /// Rows skipped by each `[[skip]]` rule, with the rule's reason, in mapping order.
    pub fn skipped_by_rule(&self) -> Vec<(String, u64)> {
        self.plan
            .skips
            .iter()
            .zip(&self.skipped_by_rule)
            .map(|(s, n)| (s.reason.clone(), *n))
            .collect()
    }

    /// The zone wall-clock times are read in.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }
}

impl<R: BufRead + Seek> MappedReader<R> {
    /// Resume reading at `offset` (the start of line `line`), as given by
    /// [`RecordReader::resume_offset`] and [`RecordReader::resume_line`]. The
    /// header row is read again from the start of the file. Counts start at zero.
    pub fn resume(
        mapping: &Mapping,
        mut input: R,
        default_zone: TimeZone,
        offset: u64,
        line: u64,
    ) -> Result<Self, OpenError> {
        let header = if mapping.header {
            input.seek(SeekFrom::Start(0))?;
            let mut first = LineReader::new(&mut input, 1, 0);
            let line = match first.next_line() {
                None => return Err(OpenError::NoHeader),
                Some(line) => line?,
            };
            Some(header_fields(mapping, &line)?)
        } else {
            None
        };
        let refs: Option<Vec<&str>> = header
            .as_ref()
            .map(|h| h.iter().map(String::as_str).collect());
        let plan = mapping.plan(refs.as_deref()).map_err(OpenError::Mapping)?;
        input.seek(SeekFrom::Start(offset))?;
        let lines = LineReader::new(input, line, offset);
        Ok(Self::with_plan(mapping, plan, lines, default_zone))
    }
}

fn header_fields(mapping: &Mapping, line: &RawLine<'_>) -> Result<Vec<String>, OpenError> {
    let bad = |reason: &str| OpenError::BadHeader {
        line: line.number,
        reason: reason.to_string(),
    };
    let text = line
        .text()
        .ok_or_else(|| bad("is not valid UTF-8 (the mapped reader reads UTF-8 only)"))?;
    let mut fields = Vec::new();
    split_fields(text, mapping.delimiter, mapping.quoting, &mut fields)
        .map_err(|(_, why)| bad(why))?;
    Ok(fields
        .into_iter()
        .map(|(_, f)| f.trim().to_string())
        .collect())
}

/// Split one line into fields with their byte offsets. Quoted fields (RFC 4180:
/// `"a, b"`, `"say ""hi"""`) may not span lines.
fn split_fields<'a>(
    line: &'a str,
    delimiter: u8,
    quoting: bool,
    out: &mut Fields<'a>,
) -> Result<(), (usize, &'static str)> {
    out.clear();
    let delim = char::from(delimiter);
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        if quoting && b.get(i) == Some(&b'"') {
            let mut value = String::new();
            let mut seg = i + 1;
            let mut j = i + 1;
            loop {
                let Some(k) = line.get(j..).and_then(|rest| rest.find('"')) else {
                    return Err((start, "has a quoted field that is not closed on its line"));
                };
                let q = j + k;
                if b.get(q + 1) == Some(&b'"') {
                    value.push_str(line.get(seg..=q).unwrap_or_default());
                    j = q + 2;
                    seg = j;
                } else {
                    value.push_str(line.get(seg..q).unwrap_or_default());
                    i = q + 1;
                    break;
                }
            }
            out.push((start, Cow::Owned(value)));
            match b.get(i) {
                None => return Ok(()),
                Some(&c) if c == delimiter => i += 1,
                Some(_) => return Err((i, "has text after the closing quote of a quoted field")),
            }
        } else {
            match line.get(i..).and_then(|rest| rest.find(delim)) {
                Some(k) => {
                    out.push((start, Cow::Borrowed(line.get(i..i + k).unwrap_or_default())));
                    i += k + 1;
                }
                None => {
                    out.push((start, Cow::Borrowed(line.get(i..).unwrap_or_default())));
                    return Ok(());
                }
            }
        }
    }
}

fn delimiter_name(d: u8) -> &'static str {
    match d {
        b'\t' => "tabs",
        b',' => "commas",
        b'|' => "pipes",
        _ => "semicolons",
    }
}

/// The per-row reading of values, with the row's date and anchor for times of day.
struct RowCx<'p, 'a> {
    plan: &'p Plan,
    zone: &'p TimeZone,
    fields: &'p Fields<'a>,
    date: Option<Date>,
    anchor: Option<Time>,
}

impl RowCx<'_, '_> {
    /// The trimmed value of a column, `None` when absent.
    fn value(&self, i: usize) -> Option<&str> {
        let v = self.fields.get(i)?.1.trim();
        (!self.plan.is_absent(i, v)).then_some(v)
    }

    fn bad(&self, i: usize, reason: String) -> Problem {
        Problem {
            field: Some(i),
            at: self.fields.get(i).map(|f| f.0),
            value: self.fields.get(i).map(|f| f.1.to_string()),
            reason,
        }
    }

    fn time_of_day(&self, i: usize, format: &str) -> Result<Option<Time>, Problem> {
        let Some(v) = self.value(i) else {
            return Ok(None);
        };
        strtime::parse(format, v)
            .and_then(|tm| tm.to_time())
            .map(Some)
            .map_err(|_| self.bad(i, format!("expected a time of day written as \"{format}\"")))
    }

    /// The instant in column `i`, `None` when absent.
    fn instant(&self, i: usize) -> Result<Option<Timestamp>, Problem> {
        match &self.plan.times {
            PlanTimes::DateAndTimeOfDay { time_format, .. } => {
                let Some(t) = self.time_of_day(i, time_format)? else {
                    return Ok(None);
                };
                let Some(mut date) = self.date else {
                    return Ok(None);
                };
                if let Some(anchor) = self.anchor
                    && seconds(t) + NEXT_DAY_AFTER_SECONDS < seconds(anchor)
                {
                    date = date
                        .tomorrow()
                        .map_err(|_| self.bad(i, "the next day is out of range".to_string()))?;
                }
                self.zone
                    .to_ambiguous_timestamp(date.to_datetime(t))
                    .compatible()
                    .map(Some)
                    .map_err(|_| {
                        self.bad(i, "this time does not exist in the time zone".to_string())
                    })
            }
            PlanTimes::Timestamps { format } => {
                let Some(v) = self.value(i) else {
                    return Ok(None);
                };
                let tm = strtime::parse(format, v).map_err(|_| {
                    self.bad(
                        i,
                        format!("expected a date and time written as \"{format}\""),
                    )
                })?;
                let ts = if tm.offset().is_some() {
                    tm.to_timestamp()
                } else {
                    tm.to_datetime()
                        .and_then(|dt| self.zone.to_ambiguous_timestamp(dt).compatible())
                };
                ts.map(Some).map_err(|_| {
                    self.bad(
                        i,
                        format!("expected a date and time written as \"{format}\""),
                    )
                })
            }
            PlanTimes::UnixSeconds => {
                let Some(v) = self.value(i) else {
                    return Ok(None);
                };
                v.parse::<i64>()
                    .ok()
                    .and_then(|s| Timestamp::from_second(s).ok())
                    .map(Some)
                    .ok_or_else(|| {
                        self.bad(i, "expected whole seconds since 1970-01-01 UTC".to_string())
                    })
            }
        }
    }

    /// The first present instant among `cols`, with the column it came from.
    fn first(&self, cols: &[usize]) -> Result<Option<(Timestamp, usize)>, Problem> {
        for &c in cols {
            if let Some(t) = self.instant(c)? {
                return Ok(Some((t, c)));
            }
        }
        Ok(None)
    }

    fn text(&self, col: Option<usize>) -> Option<String> {
        col.and_then(|c| self.value(c)).map(str::to_string)
    }
}

fn seconds(t: Time) -> i32 {
    i32::from(t.hour()) * 3600 + i32::from(t.minute()) * 60 + i32::from(t.second())
}

impl<R: BufRead> MappedReader<R> {
    /// One row: what it is, and the warnings about it.
    fn row(&self, text: &str, warnings: &mut Vec<Problem>) -> RowResult {
        let plan = &self.plan;
        if text.trim().is_empty() {
            return RowResult::Blank;
        }
        let mut local: Fields<'_> = Vec::new();
        if let Err((at, why)) = split_fields(text, plan.delimiter, plan.quoting, &mut local) {
            return RowResult::Rejected(Problem {
                field: None,
                at: Some(at),
                value: None,
                reason: format!("the row {why}"),
            });
        }
        let fields = &local;
        if let Some(names) = &plan.names
            && names.len() == fields.len()
            && names
                .iter()
                .zip(fields.iter())
                .all(|(n, f)| n == f.1.trim())
        {
            return RowResult::Blank;
        }
        let too_few = fields.len() < plan.min_fields;
        if plan.width.is_some_and(|w| fields.len() != w) || too_few {
            let expected = plan.width.unwrap_or(plan.min_fields);
            let sep = delimiter_name(plan.delimiter);
            let mut p = Problem::new(format!(
                "expected {expected} fields separated by {sep}, found {}",
                fields.len()
            ));
            // A field holding a run of spaces is the likely place of a lost delimiter.
            if fields.len() < expected
                && let Some((i, f)) = fields.iter().enumerate().find(|(_, f)| f.1.contains("  "))
            {
                p.reason.push_str(&format!(
                    "; field {} ({}) holds spaces where {} was probably meant",
                    i + 1,
                    plan.name(i),
                    if plan.delimiter == b'\t' {
                        "a tab"
                    } else {
                        "a delimiter"
                    }
                ));
                p.field = Some(i);
                p.at = Some(f.0);
                p.value = Some(f.1.to_string());
            }
            return RowResult::Rejected(p);
        }
        let mut rc = RowCx {
            plan,
            zone: &self.zone,
            fields,
            date: None,
            anchor: None,
        };
        for (k, s) in plan.skips.iter().enumerate() {
            if let Some(f) = fields.get(s.column)
                && s.values.iter().any(|v| v == f.1.trim())
            {
                return RowResult::Skipped(k);
            }
        }
        let outcome = match plan.outcome {
            Some(c) => match rc.value(c) {
                None => {
                    return RowResult::Rejected(
                        rc.bad(c, "expected an outcome code, found none".to_string()),
                    );
                }
                Some(code) => match plan.outcome_codes.iter().find(|(k, _)| k == code) {
                    Some((_, o)) => Some(*o),
                    None => {
                        let known: Vec<&str> =
                            plan.outcome_codes.iter().map(|(k, _)| k.as_str()).collect();
                        let skipped: Vec<&str> = plan
                            .skips
                            .iter()
                            .filter(|s| s.column == c)
                            .flat_map(|s| s.values.iter().map(String::as_str))
                            .collect();
                        let mut reason = format!(
                            "unknown outcome code; the mapping knows {}",
                            known.join(", ")
                        );
                        if !skipped.is_empty() {
                            reason.push_str(&format!(" and skips {}", skipped.join(", ")));
                        }
                        return RowResult::Rejected(rc.bad(c, reason));
                    }
                },
            },
            None => None,
        };
        if let PlanTimes::DateAndTimeOfDay {
            date,
            date_format,
            time_format,
            anchor,
        } = &plan.times
        {
            let Some(v) = rc.value(*date) else {
                return RowResult::Rejected(
                    rc.bad(*date, "expected a date, found none".to_string()),
                );
            };
            match strtime::parse(date_format, v).and_then(|tm| tm.to_date()) {
                Ok(d) => rc.date = Some(d),
                Err(_) => {
                    return RowResult::Rejected(rc.bad(
                        *date,
                        format!("expected a date written as \"{date_format}\""),
                    ));
                }
            }
            if let Some(a) = anchor {
                match rc.time_of_day(*a, time_format) {
                    Ok(t) => rc.anchor = t,
                    Err(p) => return RowResult::Rejected(p),
                }
            }
        }
        match build(&rc, outcome, warnings) {
            Ok(r) => r,
            Err(p) => RowResult::Rejected(p),
        }
    }
}

/// The call a parsed row describes, or why it is not one.
fn build(
    rc: &RowCx<'_, '_>,
    outcome: Option<CallOutcome>,
    warnings: &mut Vec<Problem>,
) -> Result<RowResult, Problem> {
    let plan = rc.plan;
    for &(e, l) in &plan.checks {
        if let (Some(a), Some(b)) = (rc.instant(e).ok().flatten(), rc.instant(l).ok().flatten())
            && b < a
        {
            warnings.push(rc.bad(
                l,
                format!(
                    "{} is {}s before {}; the row's queue times are kept",
                    plan.name(l),
                    a.duration_since(b).as_secs(),
                    plan.name(e)
                ),
            ));
        }
    }
    let answered_found = rc.first(&plan.answered_at)?;
    let outcome = outcome.unwrap_or(if answered_found.is_some() {
        CallOutcome::Answered
    } else {
        CallOutcome::Abandoned
    });
    let answered = outcome == CallOutcome::Answered;
    let offered = rc.first(&plan.offered_at)?;
    let skew = plan.max_clock_skew;
    let (offered_at, answered_at) = match (offered, answered) {
        (None, false) => return Ok(RowResult::NotOffered),
        (None, true) => {
            let Some((a, _)) = answered_found else {
                return Err(Problem::new("answered, but no answer or queue-entry time"));
            };
            if plan.unqueued_answer == UnqueuedAnswer::Reject {
                let c = plan.offered_at.first().copied().unwrap_or(0);
                return Err(rc.bad(
                    c,
                    "answered, but the queue-entry time is absent".to_string(),
                ));
            }
            (a, Some(a))
        }
        (Some((o, _)), false) => (o, None),
        (Some((o, oc)), true) => {
            let Some((a, ac)) = answered_found else {
                let c = plan.answered_at.first().copied().unwrap_or(oc);
                return Err(rc.bad(c, "answered, but the answer time is absent".to_string()));
            };
            let a = if a < o {
                if o.duration_since(a) <= skew {
                    o
                } else {
                    return Err(rc.bad(
                        ac,
                        format!(
                            "answered {}s before it entered the queue ({})",
                            o.duration_since(a).as_secs(),
                            plan.name(oc)
                        ),
                    ));
                }
            } else {
                a
            };
            (o, Some(a))
        }
    };
    let end_cols = if answered || plan.left_queue_at.is_empty() {
        &plan.ended_at
    } else {
        &plan.left_queue_at
    };
    // An end time out of order does not touch what the contract measures
    // (offered, answered, wait): the call is kept without it, with a warning.
    let end = rc.first(end_cols)?;
    let ended_at = match end {
        None => None,
        Some((e, ec)) => {
            let after = answered_at.unwrap_or(offered_at);
            if e >= after {
                Some(e)
            } else if after.duration_since(e) <= skew {
                Some(after)
            } else {
                warnings.push(rc.bad(
                    ec,
                    format!(
                        "ends {}s before it was {}: kept without an end time",
                        after.duration_since(e).as_secs(),
                        if answered { "answered" } else { "offered" }
                    ),
                ));
                None
            }
        }
    };
    let talk = match plan.talk_seconds {
        Some(c) if answered && end.is_some() => match rc.value(c) {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(s) if s >= 0 => Some(SignedDuration::from_secs(s)),
                _ => {
                    return Err(rc.bad(
                        c,
                        "expected talk time in whole seconds, 0 or more".to_string(),
                    ));
                }
            },
        },
        _ => None,
    };
    let mut id = String::new();
    for &c in &plan.source_id {
        if let Some(v) = rc.value(c) {
            if !id.is_empty() {
                id.push('-');
            }
            id.push_str(v);
        }
    }
    if id.is_empty() {
        let c = plan.source_id.first().copied().unwrap_or(0);
        return Err(rc.bad(c, "expected a source id, found none".to_string()));
    }
    let agent = rc.text(plan.agent);
    if answered
        && let Some(c) = plan.agent
        && agent.is_none()
    {
        warnings.push(rc.bad(
            c,
            "answered, but no agent is recorded: kept with the agent unknown".to_string(),
        ));
    }
    let call = CallRecord {
        source_id: id,
        queue: rc.text(plan.queue),
        caller: rc.text(plan.caller),
        offered_at,
        answered_at,
        ended_at,
        outcome,
        agent,
        talk,
        unanswered_rings: 0,
        transferred_to: None,
    };
    Ok(RowResult::Call(Box::new(call)))
}

impl<R: BufRead> MappedReader<R> {
    fn to_rejected(&self, p: Problem, line: u64, text: &str) -> RejectedRow {
        RejectedRow {
            line,
            column: p.at.map(|at| char_column(text, at)),
            field: p.field.map(|i| self.plan.name(i)),
            value: p.value,
            reason: p.reason,
            raw: text.to_string(),
        }
    }

    fn warn(&mut self, w: RowWarning) {
        self.counts.warnings += 1;
        if self.warnings.len() < MAX_PENDING_WARNINGS {
            self.warnings.push(w);
        }
    }
}

impl<R: BufRead> Iterator for MappedReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        while !self.finished {
            let line = match self.lines.next_line() {
                None => {
                    self.finished = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.finished = true;
                    self.counts.rejected += 1;
                    return Some(Item::Rejected(RejectedRow {
                        line: self.lines.next_line_number(),
                        column: None,
                        field: None,
                        value: None,
                        reason: format!("reading stopped here: {e}"),
                        raw: String::new(),
                    }));
                }
                Some(Ok(line)) => line,
            };
            let number = line.number;
            self.counts.rows += 1;
            let (text, lossy) = match (line.truncated, line.text()) {
                (false, Some(t)) => (Cow::Borrowed(t), None),
                (true, _) => (
                    Cow::Owned(line.lossy()),
                    Some("the line is longer than 1 MiB; only its beginning is kept here"),
                ),
                (false, None) => (
                    Cow::Owned(line.lossy()),
                    Some("the line is not valid UTF-8 (the mapped reader reads UTF-8 only)"),
                ),
            };
            // The line borrows the reader's buffer: own the text before using `self` again.
            let text = text.into_owned();
            if let Some(reason) = lossy {
                self.counts.rejected += 1;
                return Some(Item::Rejected(self.to_rejected(
                    Problem::new(reason),
                    number,
                    &text,
                )));
            }
            let mut problems = Vec::new();
            let result = self.row(&text, &mut problems);
            let warned = !problems.is_empty()
                && matches!(result, RowResult::Call(_) | RowResult::NotOffered);
            if warned {
                for p in problems {
                    let w = self.to_rejected(p, number, &text);
                    self.warn(w);
                }
            }
            match result {
                RowResult::Call(call) => {
                    self.counts.calls += 1;
                    return Some(Item::Call {
                        call: *call,
                        span: Span {
                            first_line: number,
                            last_line: number,
                        },
                    });
                }
                RowResult::Blank => self.counts.skipped_blank += 1,
                RowResult::Skipped(k) => {
                    self.counts.skipped_by_filter += 1;
                    if let Some(n) = self.skipped_by_rule.get_mut(k) {
                        *n += 1;
                    }
                }
                RowResult::NotOffered => self.counts.not_offered += 1,
                RowResult::Rejected(p) => {
                    self.counts.rejected += 1;
                    return Some(Item::Rejected(self.to_rejected(p, number, &text)));
                }
            }
        }
        None
    }
}

impl<R: BufRead> RecordReader for MappedReader<R> {
    /// One row is one call: nothing is in progress between rows.
    fn resume_offset(&self) -> u64 {
        self.lines.offset()
    }

    fn resume_line(&self) -> u64 {
        self.lines.next_line_number()
    }

    fn bytes_read(&self) -> u64 {
        self.lines.offset()
    }

    fn skipped(&self) -> u64 {
        self.counts.skipped_by_filter + self.counts.not_offered
    }
}
