//! Asterisk CDR `Master.csv` (cdr_csv): one row per call leg, read as one
//! offered call. This module owns the column layouts (16 base columns; with
//! `loguniqueid`/`loguserfield` 17–18; with `newcdrcolumns` 19–21), the CSV
//! quoting cdr_csv writes, and the disposition → outcome mapping.
//!
//! # Outcome
//! - `ANSWERED` → Answered, billed by `billsec`; except a row whose `lastapp`
//!   is `Queue` with an empty `dstchannel` (see [`CdrOptions::queue_answer_needs_agent`]):
//!   `Queue()` answers the channel itself, so such a row is a caller who waited
//!   and left without reaching an agent → Abandoned.
//! - `NO ANSWER` → Abandoned: on a queue line, the caller hung up before anyone answered.
//! - `BUSY`, `FAILED`, `CONGESTION` → Unknown: the call never waited for an agent
//!   (a line or dial-plan failure), which says nothing about the service.
//!
//! # Ids
//! `source_id` is `uniqueid` (with `#sequence` appended when the 21-column layout
//! gives one, since Asterisk 12+ can write several CDRs per channel), else
//! `cdr-` and a stable 64-bit FNV-1a hash of (start, src, dst, channel).

use std::io::BufRead;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, civil};
use kefu_core::phone::{CallOutcome, CallRecord};
use serde::Serialize;

use super::source::{Item, LineReader, RawLine, RecordReader, RejectedRow, Span, char_column};

/// Which column names the call's queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CdrQueueColumn {
    /// `dst`: the extension dialled (the queue's number).
    #[default]
    Dst,
    /// `dcontext`: the dial-plan context.
    Dcontext,
    /// The first argument of `lastdata` when `lastapp` is `Queue` (the queue's name), else `dst`.
    LastData,
}

#[derive(Clone, Debug)]
pub struct CdrOptions {
    /// The zone of `start`, `answer` and `end` (UTC when cdr_csv ran with `usegmtime`).
    pub time_zone: TimeZone,
    pub start_line: u64,
    pub start_offset: u64,
    pub queue_column: CdrQueueColumn,
    /// Skip (and count) rows whose `lastapp` is not `Queue`.
    pub only_queue_app: bool,
    /// A `Queue` row answered with no `dstchannel` never reached an agent: Abandoned.
    pub queue_answer_needs_agent: bool,
}

impl Default for CdrOptions {
    fn default() -> Self {
        CdrOptions {
            time_zone: TimeZone::UTC,
            start_line: 1,
            start_offset: 0,
            queue_column: CdrQueueColumn::Dst,
            only_queue_app: false,
            queue_answer_needs_agent: true,
        }
    }
}

/// What became of the lines read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CdrStats {
    pub lines: u64,
    /// CSV records (a quoted field may span lines).
    pub records: u64,
    pub calls: u64,
    pub rejected: u64,
    pub header_rows: u64,
    pub blank_lines: u64,
    /// Rows skipped by [`CdrOptions::only_queue_app`].
    pub filtered: u64,
}

impl CdrStats {
    /// Records accounted for: every record is a call, rejected, a header or filtered.
    pub fn accounted_records(&self) -> u64 {
        self.calls + self.rejected + self.header_rows + self.filtered
    }
}

/// A record may continue over at most this many lines (a quoted newline).
const MAX_RECORD_LINES: u64 = 16;
const MAX_RECORD_BYTES: usize = 64 * 1024;

const COLUMNS: [&str; 16] = [
    "accountcode",
    "src",
    "dst",
    "dcontext",
    "clid",
    "channel",
    "dstchannel",
    "lastapp",
    "lastdata",
    "start",
    "answer",
    "end",
    "duration",
    "billsec",
    "disposition",
    "amaflags",
];

pub struct CdrReader<R> {
    lines: LineReader<R>,
    opts: CdrOptions,
    stats: CdrStats,
    record: String,
    eof: bool,
}

struct Field {
    start: usize,
    value: String,
}

enum Csv {
    Complete(Vec<Field>),
    /// The record ends inside a quoted field: it continues on the next line.
    Open,
    Bad {
        at: usize,
        reason: String,
    },
}

fn split_csv(text: &str) -> Csv {
    let mut fields = Vec::with_capacity(21);
    let bytes = text.as_bytes();
    let mut i = 0;
    loop {
        let start = i;
        let mut value = String::new();
        if bytes.get(i) == Some(&b'"') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => return Csv::Open,
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        value.push('"');
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => {
                        let end = next_special(bytes, i, b'"');
                        value.push_str(text.get(i..end).unwrap_or_default());
                        i = end;
                    }
                }
            }
            match bytes.get(i) {
                None | Some(b',') => {}
                Some(_) => {
                    return Csv::Bad {
                        at: i,
                        reason: "expected a comma after the closing quote of a field".to_owned(),
                    };
                }
            }
        } else {
            let end = next_special(bytes, i, b',');
            value.push_str(text.get(i..end).unwrap_or_default());
            i = end;
        }
        fields.push(Field { start, value });
        if bytes.get(i) == Some(&b',') {
            i += 1;
        } else {
            return Csv::Complete(fields);
        }
    }
}

fn next_special(bytes: &[u8], from: usize, special: u8) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    let hit = if special == b',' {
        memchr::memchr(b',', rest)
    } else {
        memchr::memchr(b'"', rest)
    };
    from + hit.unwrap_or(rest.len())
}

/// A stable 64-bit FNV-1a hash (the std hasher may change between releases).
fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (n, part) in parts.iter().enumerate() {
        if n > 0 {
            h ^= 0x1f;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `SIP/3001-0000001a` → `SIP/3001`; `Local/1001@agents-00000012;1` → `Local/1001@agents`.
fn channel_device(channel: &str) -> &str {
    match channel.rsplit_once('-') {
        Some((base, suffix)) => {
            let id = suffix.split(';').next().unwrap_or("");
            if !base.is_empty() && !id.is_empty() && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                base
            } else {
                channel
            }
        }
        None => channel,
    }
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

struct Bad {
    field: &'static str,
    value: String,
    reason: String,
    column_of: Option<usize>,
}

impl<R: BufRead> CdrReader<R> {
    pub fn new(input: R, opts: CdrOptions) -> Self {
        CdrReader {
            lines: LineReader::new(input, opts.start_line, opts.start_offset).require_newline(),
            opts,
            stats: CdrStats::default(),
            record: String::new(),
            eof: false,
        }
    }

    pub fn stats(&self) -> &CdrStats {
        &self.stats
    }

    fn rejected(
        &mut self,
        line: u64,
        column: Option<u32>,
        field: Option<&str>,
        value: Option<String>,
        reason: String,
        raw: String,
    ) -> Item {
        self.stats.rejected += 1;
        Item::Rejected(RejectedRow {
            line,
            column,
            field: field.map(str::to_owned),
            value,
            reason,
            raw,
        })
    }

    /// Reads the next record: `None` at the end of input.
    fn next_record(&mut self) -> Option<Item> {
        loop {
            let (first_line, text) = match self.lines.next_line() {
                None => return None,
                Some(Err(e)) => {
                    self.eof = true;
                    let line = self.lines.next_line_number();
                    return Some(self.rejected(
                        line,
                        None,
                        None,
                        None,
                        format!("could not read the input: {e}"),
                        String::new(),
                    ));
                }
                Some(Ok(line)) => {
                    self.stats.lines += 1;
                    match Self::line_text(&line) {
                        Ok(t) => (line.number, t.to_owned()),
                        Err((column, reason)) => {
                            let (n, raw) = (line.number, line.lossy());
                            self.stats.records += 1;
                            return Some(self.rejected(n, column, None, None, reason, raw));
                        }
                    }
                }
            };
            if text.trim().is_empty() {
                self.stats.blank_lines += 1;
                continue;
            }
            self.stats.records += 1;
            self.record.clear();
            self.record.push_str(&text);
            let mut last_line = first_line;
            loop {
                match split_csv(&self.record) {
                    Csv::Complete(fields) => {
                        let raw = std::mem::take(&mut self.record);
                        let item = self.record_item(&raw, fields, first_line, last_line);
                        self.record = raw;
                        match item {
                            Some(item) => return Some(item),
                            None => break,
                        }
                    }
                    Csv::Bad { at, reason } => {
                        let column = Some(char_column(&self.record, at));
                        let raw = self.record.clone();
                        return Some(self.rejected(first_line, column, None, None, reason, raw));
                    }
                    Csv::Open => {
                        let too_big = last_line - first_line + 1 >= MAX_RECORD_LINES
                            || self.record.len() > MAX_RECORD_BYTES;
                        let next = if too_big {
                            None
                        } else {
                            self.lines.next_line()
                        };
                        match next {
                            Some(Ok(line)) => {
                                self.stats.lines += 1;
                                last_line = line.number;
                                match Self::line_text(&line) {
                                    Ok(t) => {
                                        self.record.push('\n');
                                        self.record.push_str(t);
                                    }
                                    Err((_, reason)) => {
                                        let raw = format!("{}\n{}", self.record, line.lossy());
                                        let reason = format!(
                                            "{reason} (inside a quoted field that began on line {first_line})"
                                        );
                                        return Some(
                                            self.rejected(last_line, None, None, None, reason, raw),
                                        );
                                    }
                                }
                            }
                            _ => {
                                let raw = self.record.clone();
                                let reason = format!(
                                    "a quoted field is not closed (expected a closing `\"` within {MAX_RECORD_LINES} lines)"
                                );
                                return Some(
                                    self.rejected(first_line, None, None, None, reason, raw),
                                );
                            }
                        }
                    }
                }
            }
        }
    }

    fn line_text<'a>(line: &RawLine<'a>) -> Result<&'a str, (Option<u32>, String)> {
        if line.truncated {
            return Err((
                None,
                format!(
                    "line longer than {} bytes",
                    LineReader::<R>::DEFAULT_MAX_LINE
                ),
            ));
        }
        match std::str::from_utf8(line.bytes) {
            Ok(t) => Ok(t),
            Err(e) => {
                let at = e.valid_up_to();
                let column = line
                    .bytes
                    .get(..at)
                    .and_then(|b| std::str::from_utf8(b).ok())
                    .map(|t| char_column(t, at));
                Err((column, "line is not valid UTF-8".to_owned()))
            }
        }
    }

    /// Turns a complete CSV record into an item; `None` for a header or a filtered row.
    fn record_item(
        &mut self,
        raw: &str,
        fields: Vec<Field>,
        first_line: u64,
        last_line: u64,
    ) -> Option<Item> {
        let get = |i: usize| fields.get(i).map(|f| f.value.as_str()).unwrap_or("");
        if get(0).trim().eq_ignore_ascii_case("accountcode")
            && get(1).trim().eq_ignore_ascii_case("src")
        {
            self.stats.header_rows += 1;
            return None;
        }
        let n = fields.len();
        // Positions of the optional columns by layout.
        let (uniqueid, sequence) = match n {
            16 => (None, None),
            17 | 18 => (Some(16), None),
            19 => (None, Some(18)),
            20 => (Some(16), Some(19)),
            21 => (Some(16), Some(20)),
            _ => {
                let reason = format!(
                    "expected 16 columns (accountcode … amaflags), 17–18 (with uniqueid, userfield) or 19–21 (with peeraccount, linkedid, sequence); found {n}"
                );
                return Some(self.rejected(first_line, None, None, None, reason, raw.to_owned()));
            }
        };
        if self.opts.only_queue_app && !get(7).trim().eq_ignore_ascii_case("Queue") {
            self.stats.filtered += 1;
            return None;
        }
        match self.build(&fields, uniqueid, sequence) {
            Ok(call) => {
                self.stats.calls += 1;
                Some(Item::Call {
                    call,
                    span: Span {
                        first_line,
                        last_line,
                    },
                })
            }
            Err(bad) => {
                let column = bad
                    .column_of
                    .and_then(|i| fields.get(i))
                    .map(|f| char_column(raw, f.start));
                Some(self.rejected(
                    first_line,
                    column,
                    Some(bad.field),
                    Some(bad.value),
                    bad.reason,
                    raw.to_owned(),
                ))
            }
        }
    }

    fn build(
        &self,
        fields: &[Field],
        uniqueid: Option<usize>,
        sequence: Option<usize>,
    ) -> Result<CallRecord, Bad> {
        let get = |i: usize| fields.get(i).map(|f| f.value.trim()).unwrap_or("");
        let tz = &self.opts.time_zone;
        let time = |i: usize, required: bool| -> Result<Option<Timestamp>, Bad> {
            let v = get(i);
            if v.is_empty() && !required {
                return Ok(None);
            }
            parse_local(v, tz).map(Some).ok_or_else(|| Bad {
                field: COLUMNS.get(i).copied().unwrap_or("time"),
                value: v.to_owned(),
                reason: if required {
                    "expected a local date-time YYYY-MM-DD HH:MM:SS".to_owned()
                } else {
                    "expected a local date-time YYYY-MM-DD HH:MM:SS, or empty when unanswered"
                        .to_owned()
                },
                column_of: Some(i),
            })
        };
        let secs = |i: usize| -> Result<SignedDuration, Bad> {
            let v = get(i);
            v.parse::<u32>()
                .map(|n| SignedDuration::from_secs(i64::from(n)))
                .map_err(|_| Bad {
                    field: COLUMNS.get(i).copied().unwrap_or("seconds"),
                    value: v.to_owned(),
                    reason: "expected whole seconds (a non-negative integer)".to_owned(),
                    column_of: Some(i),
                })
        };
        let start = time(9, true)?.ok_or_else(|| Bad {
            field: "start",
            value: String::new(),
            reason: "expected the call's start time".to_owned(),
            column_of: Some(9),
        })?;
        let answer = time(10, false)?;
        let end = time(11, true)?;
        secs(12)?;
        let billsec = secs(13)?;
        let (dstchannel, lastapp) = (get(6), get(7));
        let is_queue = lastapp.eq_ignore_ascii_case("Queue");
        let disposition = get(14);
        let answered = match disposition.to_ascii_uppercase().as_str() {
            "ANSWERED" => {
                !(is_queue && self.opts.queue_answer_needs_agent && dstchannel.is_empty())
            }
            "NO ANSWER" => false,
            "BUSY" | "FAILED" | "CONGESTION" => {
                return Ok(self.call(
                    fields,
                    uniqueid,
                    sequence,
                    start,
                    None,
                    end,
                    CallOutcome::Unknown,
                    None,
                    None,
                ));
            }
            _ => {
                return Err(Bad {
                    field: "disposition",
                    value: disposition.to_owned(),
                    reason: "expected ANSWERED, NO ANSWER, BUSY, FAILED or CONGESTION".to_owned(),
                    column_of: Some(14),
                });
            }
        };
        if answered {
            let agent = non_empty(channel_device(dstchannel));
            Ok(self.call(
                fields,
                uniqueid,
                sequence,
                start,
                answer,
                end,
                CallOutcome::Answered,
                agent,
                Some(billsec),
            ))
        } else {
            Ok(self.call(
                fields,
                uniqueid,
                sequence,
                start,
                None,
                end,
                CallOutcome::Abandoned,
                None,
                None,
            ))
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn call(
        &self,
        fields: &[Field],
        uniqueid: Option<usize>,
        sequence: Option<usize>,
        start: Timestamp,
        answered_at: Option<Timestamp>,
        ended_at: Option<Timestamp>,
        outcome: CallOutcome,
        agent: Option<String>,
        talk: Option<SignedDuration>,
    ) -> CallRecord {
        let get = |i: usize| fields.get(i).map(|f| f.value.trim()).unwrap_or("");
        let unique = uniqueid.map(get).filter(|u| !u.is_empty());
        let source_id = match (unique, sequence.map(get).filter(|s| !s.is_empty())) {
            (Some(u), Some(seq)) => format!("{u}#{seq}"),
            (Some(u), None) => u.to_owned(),
            (None, _) => format!("cdr-{:016x}", fnv1a(&[get(9), get(1), get(2), get(5)])),
        };
        let queue = match self.opts.queue_column {
            CdrQueueColumn::Dst => get(2),
            CdrQueueColumn::Dcontext => get(3),
            CdrQueueColumn::LastData if get(7).eq_ignore_ascii_case("Queue") => {
                get(8).split([',', '|']).next().unwrap_or("").trim()
            }
            CdrQueueColumn::LastData => get(2),
        };
        CallRecord {
            source_id,
            queue: non_empty(queue),
            caller: non_empty(get(1)),
            offered_at: start,
            answered_at,
            ended_at,
            outcome,
            agent,
            talk,
            unanswered_rings: 0,
            transferred_to: None,
        }
    }
}

fn parse_local(s: &str, tz: &TimeZone) -> Option<Timestamp> {
    let b = s.as_bytes();
    if b.len() < 19
        || b.get(4) != Some(&b'-')
        || (b.get(10) != Some(&b' ') && b.get(10) != Some(&b'T'))
    {
        return None;
    }
    let dt: civil::DateTime = s.parse().ok()?;
    tz.to_timestamp(dt).ok()
}

impl<R: BufRead> Iterator for CdrReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        if self.eof {
            return None;
        }
        let item = self.next_record();
        if item.is_none() {
            self.eof = true;
        }
        item
    }
}

impl<R: BufRead> RecordReader for CdrReader<R> {
    // Rows are independent: the next unread line is always a safe restart.
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
        self.stats.filtered
    }
}
