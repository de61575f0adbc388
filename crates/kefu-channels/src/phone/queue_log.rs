//! Asterisk `queue_log`: the pipe file `/var/log/asterisk/queue_log`
//! (`epoch|callid|queuename|agent|event|data…`) and the SQL-table layout of the
//! realtime/Wazo `queue_log` table (`time|callid|queuename|agent|event|data1..data5`
//! with a local `YYYY-MM-DD HH:MM:SS[.ffffff]` time), plain or as a psql table.
//! This module owns turning those event rows into one [`CallRecord`] per queue leg.
//!
//! # Ordering
//! Rows pass through a small reorder buffer ([`QueueLogOptions::reorder_window`]
//! rows, default 256) and are applied in time order (file order for equal
//! times). That absorbs the local disorder of a table dump (the Wazo sample is
//! newest-first within each call). A file reversed as a whole, or disordered
//! beyond the window, must be sorted first, e.g. `sort -t'|' -k1,1 queue_log`;
//! rows the window could not put in order are counted in
//! [`QueueLogStats::out_of_order`].
//!
//! # Calls and their ids
//! A call is ENTERQUEUE … terminal event (COMPLETECALLER, COMPLETEAGENT,
//! ABANDON, EXITWITHTIMEOUT, EXITEMPTY, EXITWITHKEY, TRANSFER, ATTENDEDTRANSFER,
//! BLINDTRANSFER). A second ENTERQUEUE for the same callid is a new offered call:
//! the first leg's `source_id` is the callid, the second `callid#2`, and so on.
//! The leg count of a callid is remembered for [`QueueLogOptions::requeue_window`]
//! of log time after its last event (default 1 h), and [`RecordReader::resume_offset`]
//! stays before the first leg of every callid still remembered, so a resumed read
//! numbers the legs the same way. Ids are therefore unique as long as a callid
//! does not come back after a silence longer than that window (Asterisk callids
//! name one channel, so in a well-formed log they do not); one that does starts
//! again at `callid` and the importer's idempotency would take it for the old leg.
//!
//! # Memory
//! Only the reorder buffer, the calls still open and the callids inside the
//! re-queue window are held. A call open longer than
//! [`QueueLogOptions::max_call_duration`] of log time (default 24 h) is emitted
//! with outcome Unknown and counted in [`QueueLogStats::evicted`].

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::io::BufRead;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp, civil};
use kefu_core::phone::{CallOutcome, CallRecord};
use serde::Serialize;

use super::source::{
    AgentEvent, AgentEventKind, Item, LineReader, RawLine, RecordReader, RejectedRow, Span,
    char_column,
};

/// Which layout the rows are in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QueueLogLayout {
    /// Decide per row from the first field: epoch seconds or a local date-time.
    #[default]
    Auto,
    /// `/var/log/asterisk/queue_log`: the first field is epoch seconds.
    PipeFile,
    /// The `queue_log` table: the first field is a local `YYYY-MM-DD HH:MM:SS[.ffffff]`.
    SqlTable,
}

#[derive(Clone, Debug)]
pub struct QueueLogOptions {
    pub layout: QueueLogLayout,
    /// The zone of the SQL layout's local times (the pipe file's epoch needs none).
    pub time_zone: TimeZone,
    /// The number of the line at `start_offset` (1 for a whole file).
    pub start_line: u64,
    /// Where in the file the input starts (0 for a whole file; a previous
    /// [`RecordReader::resume_offset`] when resuming).
    pub start_offset: u64,
    /// When resuming: how far (byte offset) the interrupted run had read. Call
    /// events before it whose ENTERQUEUE lies before the resume point belong to
    /// calls the previous run already yielded; they are counted in
    /// [`QueueLogStats::replayed_orphans`] instead of rejected again.
    pub replayed_until: Option<u64>,
    /// Rows held to put slightly disordered rows in time order.
    pub reorder_window: usize,
    /// A call still open after this much log time is emitted as Unknown.
    pub max_call_duration: SignedDuration,
    /// How long after its last event a callid is remembered (re-queue numbering, duplicates).
    pub requeue_window: SignedDuration,
}

impl Default for QueueLogOptions {
    fn default() -> Self {
        QueueLogOptions {
            layout: QueueLogLayout::Auto,
            time_zone: TimeZone::UTC,
            start_line: 1,
            start_offset: 0,
            replayed_until: None,
            reorder_window: 256,
            max_call_duration: SignedDuration::from_hours(24),
            requeue_window: SignedDuration::from_hours(1),
        }
    }
}

/// What became of the lines read. Every line lands in exactly one of the
/// counters summed by [`QueueLogStats::accounted_lines`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct QueueLogStats {
    /// Lines read.
    pub lines: u64,
    /// Calls yielded (including evicted and unfinished ones).
    pub calls: u64,
    /// Lines that are part of a yielded call.
    pub call_lines: u64,
    /// Agent events yielded (one line each).
    pub agent_events: u64,
    /// Rejected lines.
    pub rejected: u64,
    /// FULL, JOINEMPTY, CLOSED: the caller could not enter the queue, so the
    /// call was never offered to an agent.
    pub not_offered: u64,
    /// Known events that carry nothing for calls or presence (CONFIGRELOAD,
    /// QUEUESTART, DID, INFO, RINGCANCELED, …).
    pub ignored_events: u64,
    /// Event names this reader does not know (also ignored).
    pub unknown_events: u64,
    /// Lines identical (time, callid, event, agent, data) to one already applied.
    pub duplicates: u64,
    /// Blank lines, psql headers, `---+---` separators and `(N rows)` footers.
    pub skipped_lines: u64,
    /// See [`QueueLogOptions::replayed_until`].
    pub replayed_orphans: u64,
    /// Of `calls`: emitted as Unknown because open longer than the limit.
    pub evicted: u64,
    /// Of `calls`: still open at the end of input, emitted as Unknown.
    pub unfinished: u64,
    /// Rows older than a row already applied (disorder beyond the reorder
    /// window); applied anyway. Informational, not a line fate.
    pub out_of_order: u64,
}

impl QueueLogStats {
    pub fn accounted_lines(&self) -> u64 {
        self.call_lines
            + self.agent_events
            + self.rejected
            + self.not_offered
            + self.ignored_events
            + self.unknown_events
            + self.duplicates
            + self.skipped_lines
            + self.replayed_orphans
    }
}

/// Streaming reader over an Asterisk queue_log; see the module docs.
pub struct QueueLogReader<R> {
    lines: LineReader<R>,
    opts: QueueLogOptions,
    seq: u64,
    buffer: BinaryHeap<Row>,
    chains: HashMap<String, Chain>,
    /// Byte offset → (line, how many holders) of every line still needed on resume.
    anchors: BTreeMap<u64, (u64, u32)>,
    pending: VecDeque<(Item, u64, u64)>,
    clock: Option<Timestamp>,
    next_sweep: Option<Timestamp>,
    ring_ms: u64,
    stats: QueueLogStats,
    eof: bool,
    scratch: Vec<u8>,
}

struct Row {
    time: Timestamp,
    seq: u64,
    line: u64,
    offset: u64,
    callid: String,
    queue: String,
    agent: String,
    event: String,
    data: Vec<String>,
    raw: String,
}

impl Row {
    fn data(&self, i: usize) -> &str {
        self.data.get(i).map(String::as_str).unwrap_or("")
    }

    fn signature(&self) -> u64 {
        let mut h = std::hash::DefaultHasher::new();
        (
            self.time,
            &self.callid,
            &self.queue,
            &self.agent,
            &self.event,
            &self.data,
        )
            .hash(&mut h);
        h.finish()
    }
}

impl PartialEq for Row {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Row {}
impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Row {
    // Reversed: BinaryHeap is a max-heap and we want the earliest row first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// Everything known about one callid inside the re-queue window.
struct Chain {
    legs: u32,
    anchor: (u64, u64),
    last_time: Timestamp,
    open: Option<Leg>,
    signatures: HashSet<u64>,
    last_terminal_line: Option<u64>,
}

struct Leg {
    source_id: String,
    queue: Option<String>,
    caller: Option<String>,
    offered_at: Timestamp,
    answered_at: Option<Timestamp>,
    agent: Option<String>,
    unanswered_rings: u32,
    first_line: u64,
    last_line: u64,
    lines: u64,
}

impl Leg {
    fn add_line(&mut self, line: u64) {
        self.first_line = self.first_line.min(line);
        self.last_line = self.last_line.max(line);
        self.lines += 1;
    }

    fn finish(self, end: Option<Ending>) -> (CallRecord, Span, u64) {
        let (outcome, ended_at, talk, transferred_to, agent, answered_at) = match end {
            Some(e) => (
                e.outcome,
                Some(e.at),
                e.talk,
                e.transferred_to,
                e.agent.or(self.agent),
                self.answered_at.or(e.answered_at),
            ),
            None => (
                CallOutcome::Unknown,
                None,
                None,
                None,
                self.agent,
                self.answered_at,
            ),
        };
        let call = CallRecord {
            source_id: self.source_id,
            queue: self.queue,
            caller: self.caller,
            offered_at: self.offered_at,
            answered_at,
            ended_at,
            outcome,
            agent,
            talk,
            unanswered_rings: self.unanswered_rings,
            transferred_to,
        };
        let span = Span {
            first_line: self.first_line,
            last_line: self.last_line,
        };
        (call, span, self.lines)
    }
}

struct Ending {
    outcome: CallOutcome,
    at: Timestamp,
    talk: Option<SignedDuration>,
    transferred_to: Option<String>,
    agent: Option<String>,
    /// Derived from the hold time when no CONNECT was seen.
    answered_at: Option<Timestamp>,
}

enum Event {
    EnterQueue,
    Connect,
    RingNoAnswer,
    Terminal,
    Agent(AgentEventKind),
    NotOffered,
    Ignored,
    Unknown,
}

fn classify(event: &str) -> Event {
    match event {
        "ENTERQUEUE" => Event::EnterQueue,
        "CONNECT" => Event::Connect,
        "RINGNOANSWER" => Event::RingNoAnswer,
        "COMPLETECALLER" | "COMPLETEAGENT" | "ABANDON" | "EXITWITHTIMEOUT" | "EXITEMPTY"
        | "EXITWITHKEY" | "TRANSFER" | "ATTENDEDTRANSFER" | "BLINDTRANSFER" => Event::Terminal,
        "AGENTLOGIN" | "AGENTCALLBACKLOGIN" | "ADDMEMBER" => Event::Agent(AgentEventKind::Login),
        "AGENTLOGOFF" | "AGENTCALLBACKLOGOFF" | "REMOVEMEMBER" => {
            Event::Agent(AgentEventKind::Logoff)
        }
        "PAUSE" | "PAUSEALL" => Event::Agent(AgentEventKind::Pause),
        "UNPAUSE" | "UNPAUSEALL" => Event::Agent(AgentEventKind::Unpause),
        "FULL" | "JOINEMPTY" | "CLOSED" => Event::NotOffered,
        "CONFIGRELOAD" | "QUEUESTART" | "DID" | "INFO" | "RINGCANCELED" | "SYSCOMPAT"
        | "AGENTDUMP" | "AGENTHANGUP" | "AGENTSESSION" | "MIXMONITOR" | "QUEUE" => Event::Ignored,
        _ => Event::Unknown,
    }
}

fn absent(s: &str) -> bool {
    s.is_empty() || s.eq_ignore_ascii_case("NONE")
}

fn opt(s: &str) -> Option<String> {
    (!absent(s)).then(|| s.to_owned())
}

/// A problem with one field of a row, turned into a [`RejectedRow`] by the caller.
struct FieldError {
    field: &'static str,
    value: String,
    reason: String,
}

fn seconds(
    row: &Row,
    i: usize,
    field: &'static str,
    what: &str,
) -> Result<SignedDuration, FieldError> {
    let v = row.data(i);
    match v.parse::<u32>() {
        Ok(n) => Ok(SignedDuration::from_secs(i64::from(n))),
        Err(_) => Err(FieldError {
            field,
            value: v.to_owned(),
            reason: format!("expected {what} as whole seconds (a non-negative integer)"),
        }),
    }
}

impl<R: BufRead> QueueLogReader<R> {
    pub fn new(input: R, opts: QueueLogOptions) -> Self {
        QueueLogReader {
            lines: LineReader::new(input, opts.start_line, opts.start_offset),
            opts,
            seq: 0,
            buffer: BinaryHeap::new(),
            chains: HashMap::new(),
            anchors: BTreeMap::new(),
            pending: VecDeque::new(),
            clock: None,
            next_sweep: None,
            ring_ms: 0,
            stats: QueueLogStats::default(),
            eof: false,
            scratch: Vec::new(),
        }
    }

    /// Counters so far; complete once the iterator has returned `None`.
    pub fn stats(&self) -> &QueueLogStats {
        &self.stats
    }

    /// Callers turned away before entering the queue (FULL, JOINEMPTY, CLOSED).
    pub fn not_offered(&self) -> u64 {
        self.stats.not_offered
    }

    /// Total ringing of agents who did not answer (RINGNOANSWER, logged in milliseconds).
    pub fn unanswered_ring_time(&self) -> SignedDuration {
        SignedDuration::from_millis(i64::try_from(self.ring_ms).unwrap_or(i64::MAX))
    }

    fn push(&mut self, item: Item, offset: u64, line: u64) {
        match &item {
            Item::Call { .. } => self.stats.calls += 1,
            Item::Agent(_) => self.stats.agent_events += 1,
            Item::Rejected(_) => self.stats.rejected += 1,
        }
        self.pending.push_back((item, offset, line));
    }

    fn reject(
        &mut self,
        line: &RawLine<'_>,
        column: Option<u32>,
        field: Option<&str>,
        value: Option<String>,
        reason: String,
    ) {
        let item = Item::Rejected(RejectedRow {
            line: line.number,
            column,
            field: field.map(str::to_owned),
            value,
            reason,
            raw: line.lossy(),
        });
        self.push(item, line.offset, line.number);
    }

    fn reject_row(
        &mut self,
        row: &Row,
        field: Option<&str>,
        value: Option<String>,
        reason: String,
    ) {
        let item = Item::Rejected(RejectedRow {
            line: row.line,
            column: None,
            field: field.map(str::to_owned),
            value,
            reason,
            raw: row.raw.clone(),
        });
        self.push(item, row.offset, row.line);
    }

    /// Reads one line: rejects it, skips it, or puts its row in the reorder buffer.
    fn read_line(&mut self) -> bool {
        let mut scratch = std::mem::take(&mut self.scratch);
        let (number, offset, truncated) = match self.lines.next_line() {
            None => return false,
            Some(Err(e)) => {
                let (offset, number) = (self.lines.offset(), self.lines.next_line_number());
                let item = Item::Rejected(RejectedRow {
                    line: number,
                    column: None,
                    field: None,
                    value: None,
                    reason: format!("could not read the input: {e}"),
                    raw: String::new(),
                });
                self.push(item, offset, number);
                return false;
            }
            Some(Ok(line)) => {
                // Detach the bytes from the line reader so `self` can be borrowed again.
                scratch.clear();
                scratch.extend_from_slice(line.bytes);
                (line.number, line.offset, line.truncated)
            }
        };
        self.stats.lines += 1;
        let line = RawLine {
            number,
            offset,
            bytes: &scratch,
            truncated,
        };
        self.parse_line(&line);
        self.scratch = scratch;
        true
    }

    fn parse_line(&mut self, line: &RawLine<'_>) {
        if line.truncated {
            let n = LineReader::<R>::DEFAULT_MAX_LINE;
            return self.reject(
                line,
                None,
                None,
                None,
                format!("line longer than {n} bytes; expected one queue_log row per line"),
            );
        }
        let Some(text) = line.text() else {
            let at = std::str::from_utf8(line.bytes)
                .err()
                .map(|e| e.valid_up_to())
                .unwrap_or(0);
            let column = line
                .bytes
                .get(..at)
                .and_then(|b| std::str::from_utf8(b).ok())
                .map(|t| char_column(t, at));
            return self.reject(
                line,
                column,
                None,
                None,
                "line is not valid UTF-8".to_owned(),
            );
        };
        let trimmed = text.trim();
        if trimmed.is_empty() || is_table_decoration(trimmed) {
            self.stats.skipped_lines += 1;
            return;
        }
        // Split on '|' keeping each field's byte position for columns.
        let mut fields: Vec<(usize, &str)> = Vec::with_capacity(10);
        let mut start = 0;
        for (i, b) in text.bytes().enumerate() {
            if b == b'|' {
                fields.push((start, text.get(start..i).unwrap_or_default()));
                start = i + 1;
            }
        }
        fields.push((start, text.get(start..).unwrap_or_default()));
        let field = |i: usize| fields.get(i).map(|f| f.1.trim()).unwrap_or("");
        let column = |i: usize| fields.get(i).map(|f| char_column(text, f.0));
        if field(0).eq_ignore_ascii_case("time") && field(1).eq_ignore_ascii_case("callid") {
            self.stats.skipped_lines += 1;
            return;
        }
        if fields.len() < 5 {
            return self.reject(
                line,
                None,
                None,
                None,
                format!("expected at least 5 `|`-separated fields (time|callid|queuename|agent|event|data…), found {}", fields.len()),
            );
        }
        let time = match parse_time(field(0), self.opts.layout, &self.opts.time_zone) {
            Ok(t) => t,
            Err(reason) => {
                return self.reject(
                    line,
                    column(0),
                    Some("time"),
                    Some(field(0).to_owned()),
                    reason,
                );
            }
        };
        let event = field(4);
        if event.is_empty()
            || !event
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return self.reject(
                line,
                column(4),
                Some("event"),
                Some(event.to_owned()),
                "expected an event name such as ENTERQUEUE or CONNECT".to_owned(),
            );
        }
        let mut data: Vec<String> = fields
            .iter()
            .skip(5)
            .map(|f| f.1.trim().to_owned())
            .collect();
        while data.last().is_some_and(|d| d.is_empty()) {
            data.pop();
        }
        self.seq += 1;
        let row = Row {
            time,
            seq: self.seq,
            line: line.number,
            offset: line.offset,
            callid: field(1).to_owned(),
            queue: field(2).to_owned(),
            agent: field(3).to_owned(),
            event: event.to_ascii_uppercase(),
            data,
            raw: text.to_owned(),
        };
        anchor_add(&mut self.anchors, row.offset, row.line);
        self.buffer.push(row);
        if self.buffer.len() > self.opts.reorder_window {
            self.release_one();
        }
    }

    fn release_one(&mut self) {
        if let Some(row) = self.buffer.pop() {
            anchor_remove(&mut self.anchors, row.offset);
            self.apply(row);
        }
    }

    fn apply(&mut self, row: Row) {
        match self.clock {
            Some(c) if row.time < c => self.stats.out_of_order += 1,
            _ => self.clock = Some(row.time),
        }
        if let Some(now) = self.clock
            && self.next_sweep.is_none_or(|s| now >= s)
        {
            self.sweep(now);
            self.next_sweep = now.checked_add(SignedDuration::from_mins(1)).ok();
        }
        match classify(&row.event) {
            Event::Agent(kind) => self.agent_event(row, kind),
            Event::NotOffered => self.stats.not_offered += 1,
            Event::Ignored => self.stats.ignored_events += 1,
            Event::Unknown => self.stats.unknown_events += 1,
            Event::EnterQueue => self.enter_queue(row),
            Event::Connect | Event::RingNoAnswer | Event::Terminal => self.call_event(row),
        }
    }

    fn agent_event(&mut self, row: Row, kind: AgentEventKind) {
        if absent(&row.agent) {
            return self.reject_row(
                &row,
                Some("agent"),
                Some(row.agent.clone()),
                format!("expected the agent's name for {}", row.event),
            );
        }
        let reason = match row.event.as_str() {
            "AGENTCALLBACKLOGOFF" => opt(row.data(2)),
            "PAUSE" | "PAUSEALL" | "UNPAUSE" | "UNPAUSEALL" => opt(row.data(0)),
            _ => None,
        };
        let queue = match row.event.as_str() {
            "PAUSEALL" | "UNPAUSEALL" => None,
            _ => opt(&row.queue),
        };
        let ev = AgentEvent {
            at: row.time,
            agent: row.agent.clone(),
            queue,
            kind,
            reason,
            line: row.line,
        };
        self.push(Item::Agent(ev), row.offset, row.line);
    }

    fn enter_queue(&mut self, row: Row) {
        if absent(&row.callid) {
            return self.reject_row(
                &row,
                Some("callid"),
                Some(row.callid.clone()),
                "expected the call's id (callid) for ENTERQUEUE".to_owned(),
            );
        }
        let sig = row.signature();
        let mut unknown_leg = None;
        let chain = self
            .chains
            .entry(row.callid.clone())
            .or_insert_with(|| Chain {
                legs: 0,
                anchor: (u64::MAX, 0),
                last_time: row.time,
                open: None,
                signatures: HashSet::new(),
                last_terminal_line: None,
            });
        if !chain.signatures.insert(sig) {
            self.stats.duplicates += 1;
            return;
        }
        if let Some(leg) = chain.open.take() {
            // A new ENTERQUEUE while the previous leg never ended in the log.
            unknown_leg = Some(leg);
        }
        chain.legs += 1;
        chain.last_time = chain.last_time.max(row.time);
        let source_id = if chain.legs == 1 {
            row.callid.clone()
        } else {
            format!("{}#{}", row.callid, chain.legs)
        };
        let mut leg = Leg {
            source_id,
            queue: opt(&row.queue),
            caller: opt(row.data(1)),
            offered_at: row.time,
            answered_at: None,
            agent: None,
            unanswered_rings: 0,
            first_line: row.line,
            last_line: row.line,
            lines: 0,
        };
        leg.add_line(row.line);
        chain.open = Some(leg);
        let old_anchor = chain.anchor;
        if row.offset < old_anchor.0 {
            chain.anchor = (row.offset, row.line);
        }
        let new_anchor = chain.anchor;
        if new_anchor != old_anchor {
            if old_anchor.0 != u64::MAX {
                anchor_remove(&mut self.anchors, old_anchor.0);
            }
            anchor_add(&mut self.anchors, new_anchor.0, new_anchor.1);
        }
        if let Some(leg) = unknown_leg {
            self.emit(leg, None, new_anchor);
        }
    }

    fn emit(&mut self, leg: Leg, end: Option<Ending>, anchor: (u64, u64)) {
        let (call, span, lines) = leg.finish(end);
        self.stats.call_lines += lines;
        self.push(Item::Call { call, span }, anchor.0, anchor.1);
    }

    fn call_event(&mut self, row: Row) {
        let sig = row.signature();
        let replayed = self.opts.replayed_until.is_some_and(|u| row.offset < u);
        let Some(chain) = self.chains.get_mut(&row.callid) else {
            if replayed {
                self.stats.replayed_orphans += 1;
                return;
            }
            let hint = if self.stats.out_of_order > 0 {
                format!(
                    "; {} rows so far were out of time order beyond the reorder window: sort the file by time",
                    self.stats.out_of_order
                )
            } else {
                " (did the log start mid-call?)".to_owned()
            };
            let reason = format!(
                "{} for callid {:?} without its ENTERQUEUE before it{hint}",
                row.event, row.callid
            );
            return self.reject_row(&row, Some("callid"), Some(row.callid.clone()), reason);
        };
        if chain.signatures.contains(&sig) {
            self.stats.duplicates += 1;
            return;
        }
        let Some(leg) = chain.open.as_mut() else {
            if replayed {
                self.stats.replayed_orphans += 1;
                return;
            }
            let ended = chain
                .last_terminal_line
                .map(|l| format!(" at line {l}"))
                .unwrap_or_default();
            let reason = format!(
                "{} for callid {:?} after its queue leg already ended{ended}; expected ENTERQUEUE to start a new leg",
                row.event, row.callid
            );
            return self.reject_row(&row, Some("event"), Some(row.event.clone()), reason);
        };
        let ending = match row.event.as_str() {
            "CONNECT" => {
                if leg.answered_at.is_none() {
                    leg.answered_at = Some(row.time);
                }
                if let Some(a) = opt(&row.agent) {
                    leg.agent = Some(a);
                }
                None
            }
            "RINGNOANSWER" => {
                let v = row.data(0);
                let ms = if v.is_empty() {
                    0
                } else {
                    match v.parse::<u64>() {
                        Ok(ms) => ms,
                        Err(_) => {
                            let reason =
                                "expected the ring time in milliseconds (a non-negative integer)"
                                    .to_owned();
                            return self.reject_row(
                                &row,
                                Some("data1"),
                                Some(v.to_owned()),
                                reason,
                            );
                        }
                    }
                };
                self.ring_ms = self.ring_ms.saturating_add(ms);
                leg.unanswered_rings = leg.unanswered_rings.saturating_add(1);
                None
            }
            _ => match ending(&row, leg.offered_at) {
                Ok(e) => Some(e),
                Err(e) => return self.reject_row(&row, Some(e.field), Some(e.value), e.reason),
            },
        };
        chain.signatures.insert(sig);
        chain.last_time = chain.last_time.max(row.time);
        leg.add_line(row.line);
        if row.offset < chain.anchor.0 {
            // Reordered rows: the call now starts earlier in the file.
            anchor_remove(&mut self.anchors, chain.anchor.0);
            chain.anchor = (row.offset, row.line);
            anchor_add(&mut self.anchors, row.offset, row.line);
        }
        if let Some(end) = ending {
            chain.last_terminal_line = Some(row.line);
            let anchor = chain.anchor;
            if let Some(leg) = chain.open.take() {
                self.emit(leg, Some(end), anchor);
            }
        }
    }

    /// Evicts calls open too long and forgets callids past the re-queue window.
    fn sweep(&mut self, now: Timestamp) {
        let max_open = self.opts.max_call_duration;
        let window = self.opts.requeue_window;
        let mut evicted = Vec::new();
        let mut forgotten = Vec::new();
        for (callid, chain) in &mut self.chains {
            if let Some(leg) = &chain.open {
                if now.duration_since(leg.offered_at) > max_open
                    && let Some(leg) = chain.open.take()
                {
                    // Remember the callid for a full window after eviction too.
                    chain.last_time = chain.last_time.max(now);
                    evicted.push((leg, chain.anchor));
                }
            } else if now.duration_since(chain.last_time) > window {
                forgotten.push(callid.clone());
            }
        }
        evicted.sort_by_key(|(leg, _)| (leg.offered_at, leg.first_line));
        for (leg, anchor) in evicted {
            self.stats.evicted += 1;
            self.emit(leg, None, anchor);
        }
        for callid in forgotten {
            if let Some(chain) = self.chains.remove(&callid) {
                anchor_remove(&mut self.anchors, chain.anchor.0);
            }
        }
    }

    fn finish(&mut self) {
        while !self.buffer.is_empty() {
            self.release_one();
        }
        let mut open: Vec<(Leg, (u64, u64))> = Vec::new();
        for chain in self.chains.values_mut() {
            if let Some(leg) = chain.open.take() {
                open.push((leg, chain.anchor));
            }
        }
        open.sort_by_key(|(leg, _)| (leg.offered_at, leg.first_line));
        for (leg, anchor) in open {
            self.stats.unfinished += 1;
            self.emit(leg, None, anchor);
        }
        self.chains.clear();
        self.anchors.clear();
    }
}

fn anchor_add(anchors: &mut BTreeMap<u64, (u64, u32)>, offset: u64, line: u64) {
    anchors.entry(offset).or_insert((line, 0)).1 += 1;
}

fn anchor_remove(anchors: &mut BTreeMap<u64, (u64, u32)>, offset: u64) {
    if let Some(e) = anchors.get_mut(&offset) {
        e.1 = e.1.saturating_sub(1);
        if e.1 == 0 {
            anchors.remove(&offset);
        }
    }
}

/// psql's `---+---` separator and `(N rows)` footer.
fn is_table_decoration(t: &str) -> bool {
    (t.contains('-') && t.bytes().all(|b| matches!(b, b'-' | b'+' | b' ' | b'\t')))
        || (t.starts_with('(') && (t.ends_with(" rows)") || t.ends_with(" row)")))
}

fn parse_time(s: &str, layout: QueueLogLayout, tz: &TimeZone) -> Result<Timestamp, String> {
    let looks_epoch = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let epoch = match layout {
        QueueLogLayout::PipeFile => true,
        QueueLogLayout::SqlTable => false,
        QueueLogLayout::Auto => looks_epoch,
    };
    if epoch {
        parse_epoch(s).ok_or_else(|| {
            "expected the time as epoch seconds, e.g. 1341401601 or 1341401601.25".to_owned()
        })
    } else {
        parse_local(s, tz).ok_or_else(|| {
            "expected a local date-time YYYY-MM-DD HH:MM:SS[.ffffff] (or, in the pipe file, epoch seconds)".to_owned()
        })
    }
}

fn parse_epoch(s: &str) -> Option<Timestamp> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    let mut nanos: i32 = 0;
    for (i, b) in frac.bytes().take(9).enumerate() {
        let digit = i32::from(b - b'0');
        nanos += digit * 10_i32.pow(8 - u32::try_from(i).ok()?);
    }
    Timestamp::new(secs, nanos).ok()
}

fn parse_local(s: &str, tz: &TimeZone) -> Option<Timestamp> {
    // Require the date shape so things like "12:00" or "2012" are not guessed at.
    let b = s.as_bytes();
    if b.len() < 19 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    if let Ok(dt) = s.parse::<civil::DateTime>()
        && !has_offset(s)
    {
        return tz.to_timestamp(dt).ok();
    }
    // psql's timestamptz output carries its offset, e.g. `+02`.
    s.parse::<Timestamp>().ok()
}

fn has_offset(s: &str) -> bool {
    let time = s.get(11..).unwrap_or("");
    time.contains(['+', 'Z', 'z']) || time.get(8..).is_some_and(|t| t.contains('-'))
}

/// How a terminal event ends its leg.
fn ending(row: &Row, offered_at: Timestamp) -> Result<Ending, FieldError> {
    let agent = opt(&row.agent);
    let answered = |hold: SignedDuration| offered_at.checked_add(hold).ok();
    let mut e = Ending {
        outcome: CallOutcome::Answered,
        at: row.time,
        talk: None,
        transferred_to: None,
        agent: None,
        answered_at: None,
    };
    match row.event.as_str() {
        "COMPLETECALLER" | "COMPLETEAGENT" => {
            let hold = seconds(row, 0, "data1", "the hold time")?;
            e.talk = Some(seconds(row, 1, "data2", "the talk time")?);
            e.answered_at = answered(hold);
            e.agent = agent;
        }
        "TRANSFER" | "BLINDTRANSFER" => {
            let (ext, ctx) = (row.data(0), row.data(1));
            if ext.is_empty() {
                return Err(FieldError {
                    field: "data1",
                    value: String::new(),
                    reason: format!(
                        "expected the extension {} transferred the call to",
                        row.event
                    ),
                });
            }
            e.transferred_to = Some(if ctx.is_empty() {
                ext.to_owned()
            } else {
                format!("{ext}@{ctx}")
            });
            e.answered_at = answered(seconds(row, 2, "data3", "the hold time")?);
            e.talk = Some(seconds(row, 3, "data4", "the call time")?);
            e.agent = agent;
        }
        "ATTENDEDTRANSFER" => {
            // data1 is the method (BRIDGE, APP, LINK), data2 (and for LINK data3)
            // what the call went to; hold and call time follow.
            let method = row.data(0);
            let (target, rest) = match method {
                "LINK" => (format!("{}:{}", row.data(1), row.data(2)), 3),
                _ => (row.data(1).to_owned(), 2),
            };
            if method.is_empty() {
                return Err(FieldError {
                    field: "data1",
                    value: String::new(),
                    reason: "expected the transfer method (BRIDGE, APP or LINK)".to_owned(),
                });
            }
            e.transferred_to = Some(format!("{method}:{target}"));
            // The hold and call times are informative only here: layouts vary by version.
            if let Ok(hold) = seconds(row, rest, "data", "the hold time") {
                e.answered_at = answered(hold);
            }
            e.talk = seconds(row, rest + 1, "data", "the call time").ok();
            e.agent = agent;
        }
        "ABANDON" => {
            seconds(row, 2, "data3", "the wait time")?;
            e.outcome = CallOutcome::Abandoned;
        }
        "EXITWITHTIMEOUT" | "EXITEMPTY" => {
            seconds(row, 2, "data3", "the wait time")?;
            e.outcome = if row.event == "EXITEMPTY" {
                CallOutcome::NoAgents
            } else {
                CallOutcome::TimedOut
            };
        }
        _ => {
            // EXITWITHKEY: data1 = key, data2 = position.
            e.outcome = CallOutcome::ExitedWithKey;
        }
    }
    Ok(e)
}

impl<R: BufRead> Iterator for QueueLogReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some((item, _, _)) = self.pending.pop_front() {
                return Some(item);
            }
            if self.eof {
                return None;
            }
            if !self.read_line() {
                self.eof = true;
                self.finish();
            }
        }
    }
}

impl<R: BufRead> RecordReader for QueueLogReader<R> {
    fn resume_offset(&self) -> u64 {
        self.resume_point().0
    }

    fn resume_line(&self) -> u64 {
        self.resume_point().1
    }

    fn bytes_read(&self) -> u64 {
        self.lines.offset()
    }

    fn skipped(&self) -> u64 {
        self.stats.not_offered
    }
}

impl<R: BufRead> QueueLogReader<R> {
    fn resume_point(&self) -> (u64, u64) {
        let mut best = (self.lines.offset(), self.lines.next_line_number());
        if let Some((&offset, &(line, _))) = self.anchors.first_key_value()
            && offset < best.0
        {
            best = (offset, line);
        }
        for &(_, offset, line) in &self.pending {
            if offset < best.0 {
                best = (offset, line);
            }
        }
        best
    }
}
