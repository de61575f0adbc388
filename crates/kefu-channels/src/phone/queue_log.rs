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

use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
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
    /// [`QueueLogStats::replayed_orphans`] instead of rejected again. So are
    /// not-offered rows (FULL, JOINEMPTY, CLOSED) before it, which the previous
    /// run counted already.
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
    /// The reorder buffer, sorted by (time, seq): rows in time order are
    /// appended at the back, the earliest row leaves at the front.
    buffer: VecDeque<Row>,
    /// Rows released from the buffer, kept for their allocations.
    spare: Vec<Row>,
    chains: Chains,
    pending: VecDeque<(Item, u64, u64)>,
    clock: Option<Timestamp>,
    next_sweep: Option<Timestamp>,
    ring_ms: u64,
    stats: QueueLogStats,
    eof: bool,
}

/// One parsed row: the line's text and the byte ranges of its (trimmed) fields.
#[derive(Default)]
struct Row {
    time: Timestamp,
    seq: u64,
    line: u64,
    offset: u64,
    event: Ev,
    /// Data fields left after dropping trailing empty ones.
    ndata: usize,
    /// No field has white space around it and the event is in upper case, so
    /// the text from the callid to the last data field is the row's canonical form.
    canonical: bool,
    /// For call events: [`Row::signature`] and [`callid_key`] of the callid,
    /// computed while the line is fresh in the cache.
    sig: u64,
    key: u64,
    /// Byte range of every `|`-separated field in `raw`, trimmed.
    fields: Vec<(u32, u32)>,
    raw: String,
}

impl Row {
    fn field(&self, i: usize) -> &str {
        self.fields
            .get(i)
            .and_then(|&(a, b)| self.raw.get(a as usize..b as usize))
            .unwrap_or("")
    }

    fn callid(&self) -> &str {
        self.field(1)
    }

    fn queue(&self) -> &str {
        self.field(2)
    }

    fn agent(&self) -> &str {
        self.field(3)
    }

    fn data(&self, i: usize) -> &str {
        if i < self.ndata {
            self.field(5 + i)
        } else {
            ""
        }
    }

    /// Identifies a row for duplicate detection: equal for rows with the same
    /// time, callid, queue, agent, event and data.
    ///
    /// It hashes the time and `callid|queue|agent|EVENT|data1|…` (trimmed
    /// fields, event in upper case, no trailing empty data): fields hold no `|`,
    /// so that text is the same for equal rows only.
    fn signature(&self) -> u64 {
        let mut h = FxHasher::default();
        h.write_i64(self.time.as_second());
        h.write_i32(self.time.subsec_nanosecond());
        let start = self.fields.get(1).map_or(0, |f| f.0 as usize);
        let end = self.fields.get(4 + self.ndata).map_or(0, |f| f.1 as usize);
        match self.raw.get(start..end) {
            Some(body) if self.canonical => {
                h.write_usize(body.len());
                h.write(body.as_bytes());
            }
            _ => {
                let mut body = String::with_capacity(self.raw.len());
                for i in 1..5 + self.ndata {
                    if i > 1 {
                        body.push('|');
                    }
                    let f = self.field(i);
                    if i == 4 {
                        body.extend(f.chars().map(|c| c.to_ascii_uppercase()));
                    } else {
                        body.push_str(f);
                    }
                }
                h.write_usize(body.len());
                h.write(body.as_bytes());
            }
        }
        h.finish()
    }
}

/// FxHash (as in rustc) with a final mix so that the low bits hashbrown uses
/// for bucket indices depend on every input byte.
#[derive(Default, Clone, Copy)]
struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..rest.len()) {
                dst.copy_from_slice(rest);
            }
            self.add(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        // murmur3's fmix64.
        let mut h = self.hash;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// The hash of a callid, for [`Chains`].
fn callid_key(callid: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(callid.as_bytes());
    h.write_usize(callid.len());
    h.finish()
}

/// For keys that are hashes already.
#[derive(Default, Clone, Copy)]
struct KeyHasher {
    hash: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash = (self.hash.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.hash = n;
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The signatures of the rows applied to a chain: the first few inline, then a
/// list, then a set once long.
#[derive(Default)]
struct Signatures {
    few: [u64; 4],
    len: usize,
    more: Vec<u64>,
    many: Option<HashSet<u64, FxBuild>>,
}

impl Signatures {
    const MANY: usize = 32;

    fn contains(&self, sig: u64) -> bool {
        if let Some(set) = &self.many {
            return set.contains(&sig);
        }
        self.few
            .get(..self.len.min(self.few.len()))
            .is_some_and(|f| f.contains(&sig))
            || self.more.contains(&sig)
    }

    /// False when it was already there.
    fn insert(&mut self, sig: u64) -> bool {
        if let Some(set) = &mut self.many {
            return set.insert(sig);
        }
        if self.contains(sig) {
            return false;
        }
        match self.few.get_mut(self.len) {
            Some(slot) => *slot = sig,
            None => self.more.push(sig),
        }
        self.len += 1;
        if self.len > Self::MANY {
            let mut set: HashSet<u64, FxBuild> = self.few.iter().copied().collect();
            set.extend(self.more.drain(..));
            self.many = Some(set);
        }
        true
    }

    fn clear(&mut self) {
        self.len = 0;
        self.more.clear();
        self.many = None;
    }
}

/// A callid, inline when short (as Asterisk's are).
#[derive(Default)]
struct CallId {
    short: [u8; 24],
    /// Length of `short`, or `u8::MAX` when the id is in `long`.
    len: u8,
    long: String,
}

impl CallId {
    fn set(&mut self, id: &str) {
        match self.short.get_mut(..id.len()) {
            Some(dst) => {
                dst.copy_from_slice(id.as_bytes());
                self.len = id.len() as u8;
                self.long.clear();
            }
            None => {
                self.len = u8::MAX;
                self.long.clear();
                self.long.push_str(id);
            }
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self.short.get(..usize::from(self.len)) {
            Some(b) if self.len != u8::MAX => b,
            _ => self.long.as_bytes(),
        }
    }

    fn as_str(&self) -> &str {
        // Always copied from a `&str` whole.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }
}

/// Everything known about one callid inside the re-queue window.
#[derive(Default)]
struct Chain {
    callid: CallId,
    legs: u32,
    /// (offset, line) of the earliest line of the chain still needed on resume;
    /// offset `u64::MAX` when none.
    anchor: (u64, u64),
    last_time: Timestamp,
    signatures: Signatures,
    open: Option<Leg>,
    last_terminal_line: Option<u64>,
}

/// What the sweep needs of a chain slot, kept apart from the chains so that
/// looking at it does not pull whole chains into the cache.
#[derive(Clone, Copy, Default)]
struct SlotMeta {
    /// Changes whenever the chain opens or closes a leg, or the slot is reused:
    /// a deadline recorded with an older version is stale.
    version: u32,
    live: bool,
    /// [`callid_key`] of the callid.
    key: u64,
}

/// The chains, in slots reused once a callid is forgotten, with an index by
/// callid and, for the sweep, the times at which each may expire.
#[derive(Default)]
struct Chains {
    slots: Vec<Chain>,
    meta: Vec<SlotMeta>,
    free: Vec<u32>,
    /// Slot by [`callid_key`] of the callid.
    index: HashMap<u64, u32, BuildHasherDefault<KeyHasher>>,
    /// Slot by callid for the (very rare) callids whose key another live
    /// callid had already.
    collided: HashMap<Box<str>, u32, FxBuild>,
    /// The offered time of each open leg, when it opened.
    opened: Deadlines,
    /// The last time of each chain without an open leg, when it closed.
    closed: Deadlines,
}

impl Chains {
    fn get(&self, callid: &str, key: u64) -> Option<u32> {
        if let Some(&idx) = self.index.get(&key)
            && self
                .slots
                .get(idx as usize)
                .is_some_and(|c| c.callid.as_bytes() == callid.as_bytes())
        {
            return Some(idx);
        }
        if self.collided.is_empty() {
            None
        } else {
            self.collided.get(callid).copied()
        }
    }

    fn slot(&mut self, idx: u32) -> Option<&mut Chain> {
        self.slots.get_mut(idx as usize)
    }

    fn callid(&self, idx: u32) -> &str {
        self.slots
            .get(idx as usize)
            .map(|c| c.callid.as_str())
            .unwrap_or("")
    }

    fn live(&self, idx: u32) -> bool {
        self.meta.get(idx as usize).is_some_and(|m| m.live)
    }

    fn version(&self, idx: u32) -> u32 {
        self.meta.get(idx as usize).map_or(0, |m| m.version)
    }

    /// Records that the chain in `idx` opened a leg offered at `at`.
    fn mark_opened(&mut self, idx: u32, at: Timestamp) {
        if let Some(m) = self.meta.get_mut(idx as usize) {
            m.version = m.version.wrapping_add(1);
            self.opened.push(at, idx, m.version);
        }
    }

    /// Records that the chain in `idx` has no open leg now, its last time `at`.
    fn mark_closed(&mut self, idx: u32, at: Timestamp) {
        if let Some(m) = self.meta.get_mut(idx as usize) {
            m.version = m.version.wrapping_add(1);
            self.closed.push(at, idx, m.version);
        }
    }

    fn create(&mut self, callid: &str, key: u64, time: Timestamp) -> u32 {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Chain::default());
                self.meta.push(SlotMeta::default());
                u32::try_from(self.slots.len() - 1).unwrap_or(u32::MAX)
            }
        };
        if let Some(c) = self.slots.get_mut(idx as usize) {
            c.callid.set(callid);
            c.legs = 0;
            c.anchor = (u64::MAX, 0);
            c.last_time = time;
            c.open = None;
            c.signatures.clear();
            c.last_terminal_line = None;
        }
        if let Some(m) = self.meta.get_mut(idx as usize) {
            m.version = m.version.wrapping_add(1);
            m.live = true;
            m.key = key;
        }
        match self.index.entry(key) {
            Entry::Vacant(v) => {
                v.insert(idx);
            }
            Entry::Occupied(_) => {
                self.collided.insert(callid.into(), idx);
            }
        }
        idx
    }

    /// Frees the slot; its chain is reset when the slot is reused.
    fn forget(&mut self, idx: u32) {
        let Some(m) = self.meta.get_mut(idx as usize) else {
            return;
        };
        if !m.live {
            return;
        }
        m.live = false;
        m.version = m.version.wrapping_add(1);
        let key = m.key;
        if self.index.get(&key) == Some(&idx) {
            self.index.remove(&key);
        } else if let Some(c) = self.slots.get(idx as usize) {
            self.collided.remove(c.callid.as_str());
        }
        self.free.push(idx);
    }

    /// Drops stale deadlines once they far outnumber the chains: one entry per
    /// chain for its current state is all the sweep needs.
    fn compact(&mut self) {
        let chains = self.index.len() + self.collided.len();
        if self.opened.len() + self.closed.len() <= 4 * chains + 4096 {
            return;
        }
        let mut opened = Vec::new();
        let mut closed = Vec::new();
        for (i, (c, m)) in self.slots.iter().zip(&self.meta).enumerate() {
            if !m.live {
                continue;
            }
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            match &c.open {
                Some(leg) => opened.push((leg.offered_at, i, m.version)),
                None => closed.push((c.last_time, i, m.version)),
            }
        }
        self.opened.rebuild(opened);
        self.closed.rebuild(closed);
    }

    fn clear(&mut self) {
        self.slots.clear();
        self.meta.clear();
        self.free.clear();
        self.index.clear();
        self.collided.clear();
        self.opened = Deadlines::default();
        self.closed = Deadlines::default();
    }
}

/// Times with a chain slot and its version then, earliest first. Times arrive
/// nearly in order, so most go to the back of a queue; the others to a heap.
#[derive(Default)]
struct Deadlines {
    in_order: VecDeque<(Timestamp, u32, u32)>,
    others: BinaryHeap<Reverse<(Timestamp, u32, u32)>>,
}

impl Deadlines {
    fn len(&self) -> usize {
        self.in_order.len() + self.others.len()
    }

    fn push(&mut self, at: Timestamp, idx: u32, version: u32) {
        if self.in_order.back().is_none_or(|b| b.0 <= at) {
            self.in_order.push_back((at, idx, version));
        } else {
            self.others.push(Reverse((at, idx, version)));
        }
    }

    fn peek(&self) -> Option<Timestamp> {
        match (self.in_order.front(), self.others.peek()) {
            (Some(a), Some(b)) => Some(a.0.min(b.0.0)),
            (Some(a), None) => Some(a.0),
            (None, Some(b)) => Some(b.0.0),
            (None, None) => None,
        }
    }

    fn pop(&mut self) -> Option<(Timestamp, u32, u32)> {
        let from_queue = match (self.in_order.front(), self.others.peek()) {
            (Some(a), Some(b)) => *a <= b.0,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if from_queue {
            self.in_order.pop_front()
        } else {
            self.others.pop().map(|r| r.0)
        }
    }

    fn rebuild(&mut self, mut entries: Vec<(Timestamp, u32, u32)>) {
        entries.sort_unstable();
        self.in_order = entries.into();
        self.others = BinaryHeap::new();
    }
}

struct Leg {
    /// 1 for the callid's first leg, 2 for its second …
    number: u32,
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

    fn finish(self, callid: &str, end: Option<Ending>) -> (CallRecord, Span, u64) {
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
        let source_id = if self.number == 1 {
            callid.to_owned()
        } else {
            format!("{callid}#{}", self.number)
        };
        let call = CallRecord {
            source_id,
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
    /// Whether the ending names the agent (the row's agent field).
    names_agent: bool,
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

/// The event names this reader knows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Ev {
    #[default]
    Unknown,
    EnterQueue,
    Connect,
    RingNoAnswer,
    CompleteCaller,
    CompleteAgent,
    Abandon,
    ExitWithTimeout,
    ExitEmpty,
    ExitWithKey,
    Transfer,
    AttendedTransfer,
    BlindTransfer,
    AgentLogin,
    AgentCallbackLogin,
    AddMember,
    AgentLogoff,
    AgentCallbackLogoff,
    RemoveMember,
    Pause,
    PauseAll,
    Unpause,
    UnpauseAll,
    NotOffered,
    Ignored,
}

impl Ev {
    /// From the event field (letters, digits and `_`; `lower` when it has
    /// lower-case letters).
    fn parse(event: &str, lower: bool) -> Ev {
        const fn key(name: &[u8]) -> u128 {
            let mut k = [0u8; 16];
            let mut i = 0;
            while i < name.len() {
                k[i] = name[i];
                i += 1;
            }
            u128::from_le_bytes(k)
        }
        const ENTERQUEUE: u128 = key(b"ENTERQUEUE");
        const CONNECT: u128 = key(b"CONNECT");
        const RINGNOANSWER: u128 = key(b"RINGNOANSWER");
        const COMPLETECALLER: u128 = key(b"COMPLETECALLER");
        const COMPLETEAGENT: u128 = key(b"COMPLETEAGENT");
        const ABANDON: u128 = key(b"ABANDON");
        const AGENTLOGIN: u128 = key(b"AGENTLOGIN");
        const AGENTLOGOFF: u128 = key(b"AGENTLOGOFF");
        const PAUSE: u128 = key(b"PAUSE");
        const UNPAUSE: u128 = key(b"UNPAUSE");
        const ADDMEMBER: u128 = key(b"ADDMEMBER");
        const REMOVEMEMBER: u128 = key(b"REMOVEMEMBER");
        let bytes = event.as_bytes();
        if !lower && bytes.len() <= 16 {
            // Events this short, in upper case (as Asterisk writes them):
            // compare the common ones as numbers (event names hold no NUL).
            let mut k = [0u8; 16];
            if let Some(dst) = k.get_mut(..bytes.len()) {
                dst.copy_from_slice(bytes);
            }
            match u128::from_le_bytes(k) {
                ENTERQUEUE => return Ev::EnterQueue,
                CONNECT => return Ev::Connect,
                RINGNOANSWER => return Ev::RingNoAnswer,
                COMPLETECALLER => return Ev::CompleteCaller,
                COMPLETEAGENT => return Ev::CompleteAgent,
                ABANDON => return Ev::Abandon,
                AGENTLOGIN => return Ev::AgentLogin,
                AGENTLOGOFF => return Ev::AgentLogoff,
                PAUSE => return Ev::Pause,
                UNPAUSE => return Ev::Unpause,
                ADDMEMBER => return Ev::AddMember,
                REMOVEMEMBER => return Ev::RemoveMember,
                _ => {}
            }
        }
        let mut up = [0u8; 24];
        let Some(up) = up.get_mut(..bytes.len()) else {
            return Ev::Unknown;
        };
        up.copy_from_slice(bytes);
        up.make_ascii_uppercase();
        match &*up {
            b"ENTERQUEUE" => Ev::EnterQueue,
            b"CONNECT" => Ev::Connect,
            b"RINGNOANSWER" => Ev::RingNoAnswer,
            b"COMPLETECALLER" => Ev::CompleteCaller,
            b"COMPLETEAGENT" => Ev::CompleteAgent,
            b"ABANDON" => Ev::Abandon,
            b"EXITWITHTIMEOUT" => Ev::ExitWithTimeout,
            b"EXITEMPTY" => Ev::ExitEmpty,
            b"EXITWITHKEY" => Ev::ExitWithKey,
            b"TRANSFER" => Ev::Transfer,
            b"ATTENDEDTRANSFER" => Ev::AttendedTransfer,
            b"BLINDTRANSFER" => Ev::BlindTransfer,
            b"AGENTLOGIN" => Ev::AgentLogin,
            b"AGENTCALLBACKLOGIN" => Ev::AgentCallbackLogin,
            b"ADDMEMBER" => Ev::AddMember,
            b"AGENTLOGOFF" => Ev::AgentLogoff,
            b"AGENTCALLBACKLOGOFF" => Ev::AgentCallbackLogoff,
            b"REMOVEMEMBER" => Ev::RemoveMember,
            b"PAUSE" => Ev::Pause,
            b"PAUSEALL" => Ev::PauseAll,
            b"UNPAUSE" => Ev::Unpause,
            b"UNPAUSEALL" => Ev::UnpauseAll,
            b"FULL" | b"JOINEMPTY" | b"CLOSED" => Ev::NotOffered,
            b"CONFIGRELOAD" | b"QUEUESTART" | b"DID" | b"INFO" | b"RINGCANCELED" | b"SYSCOMPAT"
            | b"AGENTDUMP" | b"AGENTHANGUP" | b"AGENTSESSION" | b"MIXMONITOR" | b"QUEUE" => {
                Ev::Ignored
            }
            _ => Ev::Unknown,
        }
    }

    /// The event's name (for the events that appear in messages).
    fn name(self) -> &'static str {
        match self {
            Ev::EnterQueue => "ENTERQUEUE",
            Ev::Connect => "CONNECT",
            Ev::RingNoAnswer => "RINGNOANSWER",
            Ev::CompleteCaller => "COMPLETECALLER",
            Ev::CompleteAgent => "COMPLETEAGENT",
            Ev::Abandon => "ABANDON",
            Ev::ExitWithTimeout => "EXITWITHTIMEOUT",
            Ev::ExitEmpty => "EXITEMPTY",
            Ev::ExitWithKey => "EXITWITHKEY",
            Ev::Transfer => "TRANSFER",
            Ev::AttendedTransfer => "ATTENDEDTRANSFER",
            Ev::BlindTransfer => "BLINDTRANSFER",
            Ev::AgentLogin => "AGENTLOGIN",
            Ev::AgentCallbackLogin => "AGENTCALLBACKLOGIN",
            Ev::AddMember => "ADDMEMBER",
            Ev::AgentLogoff => "AGENTLOGOFF",
            Ev::AgentCallbackLogoff => "AGENTCALLBACKLOGOFF",
            Ev::RemoveMember => "REMOVEMEMBER",
            Ev::Pause => "PAUSE",
            Ev::PauseAll => "PAUSEALL",
            Ev::Unpause => "UNPAUSE",
            Ev::UnpauseAll => "UNPAUSEALL",
            Ev::NotOffered | Ev::Ignored | Ev::Unknown => "",
        }
    }

    fn kind(self) -> Event {
        match self {
            Ev::EnterQueue => Event::EnterQueue,
            Ev::Connect => Event::Connect,
            Ev::RingNoAnswer => Event::RingNoAnswer,
            Ev::CompleteCaller
            | Ev::CompleteAgent
            | Ev::Abandon
            | Ev::ExitWithTimeout
            | Ev::ExitEmpty
            | Ev::ExitWithKey
            | Ev::Transfer
            | Ev::AttendedTransfer
            | Ev::BlindTransfer => Event::Terminal,
            Ev::AgentLogin | Ev::AgentCallbackLogin | Ev::AddMember => {
                Event::Agent(AgentEventKind::Login)
            }
            Ev::AgentLogoff | Ev::AgentCallbackLogoff | Ev::RemoveMember => {
                Event::Agent(AgentEventKind::Logoff)
            }
            Ev::Pause | Ev::PauseAll => Event::Agent(AgentEventKind::Pause),
            Ev::Unpause | Ev::UnpauseAll => Event::Agent(AgentEventKind::Unpause),
            Ev::NotOffered => Event::NotOffered,
            Ev::Ignored => Event::Ignored,
            Ev::Unknown => Event::Unknown,
        }
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

/// What became of one line.
enum Parsed {
    /// The row was written to the `Row` given.
    Row,
    Skip,
    Reject {
        column: Option<u32>,
        field: Option<&'static str>,
        value: Option<String>,
        reason: String,
        raw: String,
    },
}

/// `text` with ASCII or Unicode white space trimmed, as a byte range from `start`.
#[inline]
fn trimmed_range(text: &str, start: usize, end: usize) -> (u32, u32) {
    // Printable ASCII at both ends: nothing to trim (the common case).
    let plain = |i: usize| {
        text.as_bytes()
            .get(i)
            .is_some_and(|c| (0x21..0x7f).contains(c))
    };
    let (a, z) = if start < end && plain(start) && plain(end - 1) {
        (start, end)
    } else {
        let f = text.get(start..end).unwrap_or_default();
        let t = f.trim_start();
        let a = start + (f.len() - t.len());
        (a, a + t.trim_end().len())
    };
    // Lines are at most `LineReader::DEFAULT_MAX_LINE` bytes long.
    (a as u32, z as u32)
}

/// Calls `f` with the index of every `|` in `bytes`, in order; eight bytes at a time.
#[inline]
fn for_each_pipe(bytes: &[u8], mut f: impl FnMut(usize)) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut chunks = bytes.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w) ^ (ONES * u64::from(b'|'));
        // High bit of each byte set where x's byte is zero, i.e. the byte is '|'.
        let mut hits = !(((x & LOW7) + LOW7) | x | LOW7);
        while hits != 0 {
            f(base + (hits.trailing_zeros() / 8) as usize);
            hits &= hits - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == b'|' {
            f(base + i);
        }
    }
}

/// The byte index where field `i` (untrimmed) starts in `text`.
fn field_start(text: &str, i: usize) -> Option<usize> {
    if i == 0 {
        return Some(0);
    }
    memchr::memchr_iter(b'|', text.as_bytes())
        .nth(i - 1)
        .map(|p| p + 1)
}

/// Splits and checks one line; a good row is written to `row` (all but `seq`).
fn parse_line(line: &RawLine<'_>, opts: &QueueLogOptions, row: &mut Row) -> Parsed {
    let reject = |column, field, value, reason| Parsed::Reject {
        column,
        field,
        value,
        reason,
        raw: line.lossy(),
    };
    if line.truncated {
        let n = LineReader::<&[u8]>::DEFAULT_MAX_LINE;
        return reject(
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
        return reject(column, None, None, "line is not valid UTF-8".to_owned());
    };
    let trimmed = text.trim();
    if trimmed.is_empty() || is_table_decoration(trimmed) {
        return Parsed::Skip;
    }
    row.fields.clear();
    let mut canonical = true;
    let mut start = 0;
    for_each_pipe(text.as_bytes(), |i| {
        let (a, z) = trimmed_range(text, start, i);
        canonical &= a as usize == start && z as usize == i;
        row.fields.push((a, z));
        start = i + 1;
    });
    let (a, z) = trimmed_range(text, start, text.len());
    canonical &= a as usize == start && z as usize == text.len();
    row.fields.push((a, z));
    let field = |i: usize| {
        row.fields
            .get(i)
            .and_then(|&(a, b)| text.get(a as usize..b as usize))
            .unwrap_or("")
    };
    let column = |i: usize| field_start(text, i).map(|at| char_column(text, at));
    if field(0).eq_ignore_ascii_case("time") && field(1).eq_ignore_ascii_case("callid") {
        return Parsed::Skip;
    }
    let n = row.fields.len();
    if n < 5 {
        return reject(
            None,
            None,
            None,
            format!(
                "expected at least 5 `|`-separated fields (time|callid|queuename|agent|event|data…), found {n}"
            ),
        );
    }
    let time = match parse_time(field(0), opts.layout, &opts.time_zone) {
        Ok(t) => t,
        Err(reason) => {
            return reject(column(0), Some("time"), Some(field(0).to_owned()), reason);
        }
    };
    let event = field(4);
    let (mut valid, mut lower) = (!event.is_empty(), false);
    for b in event.bytes() {
        valid &= b.is_ascii_alphanumeric() || b == b'_';
        lower |= b.is_ascii_lowercase();
    }
    if !valid {
        return reject(
            column(4),
            Some("event"),
            Some(event.to_owned()),
            "expected an event name such as ENTERQUEUE or CONNECT".to_owned(),
        );
    }
    let mut ndata = n - 5;
    while ndata > 0 && field(5 + ndata - 1).is_empty() {
        ndata -= 1;
    }
    row.event = Ev::parse(event, lower);
    row.canonical = canonical && !lower;
    row.ndata = ndata;
    row.time = time;
    row.line = line.number;
    row.offset = line.offset;
    row.raw.clear();
    row.raw.push_str(text);
    if matches!(
        row.event.kind(),
        Event::EnterQueue | Event::Connect | Event::RingNoAnswer | Event::Terminal
    ) {
        row.sig = row.signature();
        row.key = callid_key(row.callid());
    }
    Parsed::Row
}

impl<R: BufRead> QueueLogReader<R> {
    pub fn new(input: R, opts: QueueLogOptions) -> Self {
        QueueLogReader {
            lines: LineReader::new(input, opts.start_line, opts.start_offset).require_newline(),
            opts,
            seq: 0,
            buffer: VecDeque::new(),
            spare: Vec::new(),
            chains: Chains::default(),
            pending: VecDeque::new(),
            clock: None,
            next_sweep: None,
            ring_ms: 0,
            stats: QueueLogStats::default(),
            eof: false,
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
        let mut row = self.spare.pop().unwrap_or_default();
        let (parsed, number, offset) = match self.lines.next_line() {
            None => {
                self.spare.push(row);
                return false;
            }
            Some(Err(e)) => {
                self.spare.push(row);
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
            Some(Ok(line)) => (
                parse_line(&line, &self.opts, &mut row),
                line.number,
                line.offset,
            ),
        };
        self.stats.lines += 1;
        match parsed {
            Parsed::Row => {
                self.seq += 1;
                row.seq = self.seq;
                // Sorted by (time, seq); seq grows, so a row goes after every
                // row of the same time.
                if self.buffer.back().is_none_or(|b| b.time <= row.time) {
                    self.buffer.push_back(row);
                } else {
                    let at = self.buffer.partition_point(|b| b.time <= row.time);
                    self.buffer.insert(at, row);
                }
                if self.buffer.len() > self.opts.reorder_window {
                    self.release_one();
                }
            }
            Parsed::Skip => {
                self.stats.skipped_lines += 1;
                self.spare.push(row);
            }
            Parsed::Reject {
                column,
                field,
                value,
                reason,
                raw,
            } => {
                self.spare.push(row);
                let item = Item::Rejected(RejectedRow {
                    line: number,
                    column,
                    field: field.map(str::to_owned),
                    value,
                    reason,
                    raw,
                });
                self.push(item, offset, number);
            }
        }
        true
    }

    fn release_one(&mut self) {
        if let Some(row) = self.buffer.pop_front() {
            self.apply(&row);
            self.spare.push(row);
        }
    }

    fn apply(&mut self, row: &Row) {
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
        match row.event.kind() {
            Event::Agent(kind) => self.agent_event(row, kind),
            // Read again after a resume: the interrupted run counted it already.
            Event::NotOffered if self.opts.replayed_until.is_some_and(|u| row.offset < u) => {
                self.stats.replayed_orphans += 1
            }
            Event::NotOffered => self.stats.not_offered += 1,
            Event::Ignored => self.stats.ignored_events += 1,
            Event::Unknown => self.stats.unknown_events += 1,
            Event::EnterQueue => self.enter_queue(row),
            Event::Connect | Event::RingNoAnswer | Event::Terminal => self.call_event(row),
        }
    }

    fn agent_event(&mut self, row: &Row, kind: AgentEventKind) {
        let agent = row.agent();
        if absent(agent) {
            return self.reject_row(
                row,
                Some("agent"),
                Some(agent.to_owned()),
                format!("expected the agent's name for {}", row.event.name()),
            );
        }
        let reason = match row.event {
            Ev::AgentCallbackLogoff => opt(row.data(2)),
            Ev::Pause | Ev::PauseAll | Ev::Unpause | Ev::UnpauseAll => opt(row.data(0)),
            _ => None,
        };
        let queue = match row.event {
            Ev::PauseAll | Ev::UnpauseAll => None,
            _ => opt(row.queue()),
        };
        let ev = AgentEvent {
            at: row.time,
            agent: agent.to_owned(),
            queue,
            kind,
            reason,
            line: row.line,
        };
        self.push(Item::Agent(ev), row.offset, row.line);
    }

    fn enter_queue(&mut self, row: &Row) {
        let callid = row.callid();
        if absent(callid) {
            return self.reject_row(
                row,
                Some("callid"),
                Some(callid.to_owned()),
                "expected the call's id (callid) for ENTERQUEUE".to_owned(),
            );
        }
        let (sig, key) = (row.sig, row.key);
        let idx = match self.chains.get(callid, key) {
            Some(i) => i,
            None => self.chains.create(callid, key, row.time),
        };
        let Some(chain) = self.chains.slot(idx) else {
            return;
        };
        if !chain.signatures.insert(sig) {
            self.stats.duplicates += 1;
            return;
        }
        // A new ENTERQUEUE while the previous leg never ended in the log.
        let unknown_leg = if chain.open.is_some() {
            chain.open.take()
        } else {
            None
        };
        chain.legs += 1;
        chain.last_time = chain.last_time.max(row.time);
        chain.open = Some(Leg {
            number: chain.legs,
            queue: opt(row.queue()),
            caller: opt(row.data(1)),
            offered_at: row.time,
            answered_at: None,
            agent: None,
            unanswered_rings: 0,
            first_line: row.line,
            last_line: row.line,
            lines: 1,
        });
        if row.offset < chain.anchor.0 {
            chain.anchor = (row.offset, row.line);
        }
        let anchor = chain.anchor;
        self.chains.mark_opened(idx, row.time);
        if let Some(leg) = unknown_leg {
            self.emit(leg, idx, None, anchor);
        }
    }

    fn emit(&mut self, leg: Leg, idx: u32, end: Option<Ending>, anchor: (u64, u64)) {
        let (call, span, lines) = leg.finish(self.chains.callid(idx), end);
        self.stats.call_lines += lines;
        self.push(Item::Call { call, span }, anchor.0, anchor.1);
    }

    fn call_event(&mut self, row: &Row) {
        let sig = row.sig;
        let replayed = self.opts.replayed_until.is_some_and(|u| row.offset < u);
        let callid = row.callid();
        let Some(idx) = self.chains.get(callid, row.key) else {
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
                row.event.name(),
                callid
            );
            return self.reject_row(row, Some("callid"), Some(callid.to_owned()), reason);
        };
        let Some(chain) = self.chains.slots.get_mut(idx as usize) else {
            return;
        };
        if chain.signatures.contains(sig) {
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
                row.event.name(),
                callid
            );
            return self.reject_row(
                row,
                Some("event"),
                Some(row.event.name().to_owned()),
                reason,
            );
        };
        let ending = match row.event {
            Ev::Connect => {
                if leg.answered_at.is_none() {
                    leg.answered_at = Some(row.time);
                }
                let agent = row.agent();
                if !absent(agent) && leg.agent.as_deref() != Some(agent) {
                    leg.agent = Some(agent.to_owned());
                }
                None
            }
            Ev::RingNoAnswer => {
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
                            return self.reject_row(row, Some("data1"), Some(v.to_owned()), reason);
                        }
                    }
                };
                self.ring_ms = self.ring_ms.saturating_add(ms);
                leg.unanswered_rings = leg.unanswered_rings.saturating_add(1);
                None
            }
            _ => match ending(row, leg.offered_at) {
                Ok(mut e) => {
                    let agent = row.agent();
                    if e.names_agent && !absent(agent) {
                        // The leg's own copy when it is the same agent.
                        e.agent = match leg.agent.take() {
                            Some(a) if a == agent => Some(a),
                            other => {
                                leg.agent = other;
                                Some(agent.to_owned())
                            }
                        };
                    }
                    Some(e)
                }
                Err(e) => return self.reject_row(row, Some(e.field), Some(e.value), e.reason),
            },
        };
        chain.signatures.insert(sig);
        chain.last_time = chain.last_time.max(row.time);
        leg.add_line(row.line);
        if row.offset < chain.anchor.0 {
            // Reordered rows: the call now starts earlier in the file.
            chain.anchor = (row.offset, row.line);
        }
        if let Some(end) = ending {
            chain.last_terminal_line = Some(row.line);
            let anchor = chain.anchor;
            if let Some(leg) = chain.open.take() {
                let last_time = chain.last_time;
                self.chains.mark_closed(idx, last_time);
                self.emit(leg, idx, Some(end), anchor);
            }
        }
    }

    /// Evicts calls open too long and forgets callids past the re-queue window.
    /// Only chains whose recorded deadline has passed are looked at: a chain
    /// still in the state it was in when the deadline was recorded (same
    /// version) is due; one that changed since has a newer deadline.
    fn sweep(&mut self, now: Timestamp) {
        let max_open = self.opts.max_call_duration;
        let window = self.opts.requeue_window;
        let mut evicted = Vec::new();
        while let Some(at) = self.chains.opened.peek()
            && now.duration_since(at) > max_open
        {
            let Some((_, idx, version)) = self.chains.opened.pop() else {
                break;
            };
            if !self.chains.live(idx) || self.chains.version(idx) != version {
                continue;
            }
            let Some(chain) = self.chains.slots.get_mut(idx as usize) else {
                continue;
            };
            if let Some(leg) = chain.open.take() {
                // Remember the callid for a full window after eviction too.
                chain.last_time = chain.last_time.max(now);
                let last_time = chain.last_time;
                evicted.push((leg, idx, chain.anchor));
                self.chains.mark_closed(idx, last_time);
            }
        }
        let mut forgotten = Vec::new();
        while let Some(at) = self.chains.closed.peek()
            && now.duration_since(at) > window
        {
            let Some((_, idx, version)) = self.chains.closed.pop() else {
                break;
            };
            if self.chains.live(idx)
                && self.chains.version(idx) == version
                && !evicted.iter().any(|(_, i, _)| *i == idx)
            {
                forgotten.push(idx);
            }
        }
        evicted.sort_by_key(|(leg, _, _)| (leg.offered_at, leg.first_line));
        for (leg, idx, anchor) in evicted {
            self.stats.evicted += 1;
            self.emit(leg, idx, None, anchor);
        }
        for idx in forgotten {
            self.chains.forget(idx);
        }
        self.chains.compact();
    }

    fn finish(&mut self) {
        while !self.buffer.is_empty() {
            self.release_one();
        }
        let mut open: Vec<(Leg, u32, (u64, u64))> = Vec::new();
        for (idx, (chain, meta)) in self
            .chains
            .slots
            .iter_mut()
            .zip(&self.chains.meta)
            .enumerate()
        {
            if meta.live
                && let Some(leg) = chain.open.take()
            {
                open.push((leg, u32::try_from(idx).unwrap_or(u32::MAX), chain.anchor));
            }
        }
        open.sort_by_key(|(leg, _, _)| (leg.offered_at, leg.first_line));
        for (leg, idx, anchor) in open {
            self.stats.unfinished += 1;
            self.emit(leg, idx, None, anchor);
        }
        self.chains.clear();
    }
}

/// psql's `---+---` separator and `(N rows)` footer.
fn is_table_decoration(t: &str) -> bool {
    (t.bytes().all(|b| matches!(b, b'-' | b'+' | b' ' | b'\t')) && t.contains('-'))
        || (t.starts_with('(') && (t.ends_with(" rows)") || t.ends_with(" row)")))
}

fn parse_time(s: &str, layout: QueueLogLayout, tz: &TimeZone) -> Result<Timestamp, String> {
    let epoch = match layout {
        QueueLogLayout::PipeFile => true,
        QueueLogLayout::SqlTable => false,
        QueueLogLayout::Auto => {
            // The usual pipe-file time: digits only, and few enough not to overflow.
            if s.len() <= 18 && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                let secs = s.bytes().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
                if let Ok(t) = Timestamp::new(secs, 0) {
                    return Ok(t);
                }
            }
            !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        }
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

/// Digits, an optional `.` and more digits (at most nanoseconds are kept).
fn parse_epoch(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let (whole, frac) = match memchr::memchr(b'.', b) {
        Some(i) => (b.get(..i)?, b.get(i + 1..)?),
        None => (b, &b""[..]),
    };
    if whole.is_empty() {
        return None;
    }
    let mut secs: i64 = 0;
    for &d in whole {
        if !d.is_ascii_digit() {
            return None;
        }
        secs = secs.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    let mut nanos: i32 = 0;
    let mut scale: i32 = 100_000_000;
    for &d in frac {
        if !d.is_ascii_digit() {
            return None;
        }
        nanos += i32::from(d - b'0') * scale;
        scale /= 10;
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

/// How a terminal event ends its leg. The agent is filled in by the caller
/// when `names_agent` says the event names one.
fn ending(row: &Row, offered_at: Timestamp) -> Result<Ending, FieldError> {
    let answered = |hold: SignedDuration| offered_at.checked_add(hold).ok();
    let mut e = Ending {
        outcome: CallOutcome::Answered,
        at: row.time,
        talk: None,
        transferred_to: None,
        names_agent: false,
        agent: None,
        answered_at: None,
    };
    match row.event {
        Ev::CompleteCaller | Ev::CompleteAgent => {
            let hold = seconds(row, 0, "data1", "the hold time")?;
            e.talk = Some(seconds(row, 1, "data2", "the talk time")?);
            e.answered_at = answered(hold);
            e.names_agent = true;
        }
        Ev::Transfer | Ev::BlindTransfer => {
            let (ext, ctx) = (row.data(0), row.data(1));
            if ext.is_empty() {
                return Err(FieldError {
                    field: "data1",
                    value: String::new(),
                    reason: format!(
                        "expected the extension {} transferred the call to",
                        row.event.name()
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
            e.names_agent = true;
        }
        Ev::AttendedTransfer => {
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
            e.names_agent = true;
        }
        Ev::Abandon => {
            seconds(row, 2, "data3", "the wait time")?;
            e.outcome = CallOutcome::Abandoned;
        }
        Ev::ExitWithTimeout | Ev::ExitEmpty => {
            seconds(row, 2, "data3", "the wait time")?;
            e.outcome = if row.event == Ev::ExitEmpty {
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
    /// The earliest line still needed: of the rows in the reorder buffer, the
    /// callids remembered and the items not yet yielded; else the position.
    fn resume_point(&self) -> (u64, u64) {
        let mut best = (self.lines.offset(), self.lines.next_line_number());
        let mut consider = |offset: u64, line: u64| {
            if offset < best.0 {
                best = (offset, line);
            }
        };
        for row in &self.buffer {
            consider(row.offset, row.line);
        }
        for (chain, meta) in self.chains.slots.iter().zip(&self.chains.meta) {
            if meta.live && chain.anchor.0 != u64::MAX {
                consider(chain.anchor.0, chain.anchor.1);
            }
        }
        for &(_, offset, line) in &self.pending {
            consider(offset, line);
        }
        best
    }
}
