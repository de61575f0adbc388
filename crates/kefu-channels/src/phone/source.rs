//! What every phone-record reader yields, whatever the format: calls (with the
//! lines they came from), agent events (for presence), and rejected rows with
//! the reason — never a silent drop, never a panic.

use jiff::Timestamp;
use kefu_core::phone::CallRecord;
use serde::Serialize;

/// The lines of the source file a record was built from (1-based, inclusive).
/// For JSON input, the lines where the object starts and ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Span {
    pub first_line: u64,
    pub last_line: u64,
}

/// A row the reader could not use, and why. `raw` is the row as read (for `--errors FILE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RejectedRow {
    pub line: u64,
    /// 1-based column (character) where the problem is, when known.
    pub column: Option<u32>,
    /// The field (column name or event data slot) that was wrong, when known.
    pub field: Option<String>,
    /// The offending value as found, when there is one.
    pub value: Option<String>,
    /// What was expected, in words.
    pub reason: String,
    pub raw: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentEventKind {
    Login,
    Logoff,
    Pause,
    Unpause,
}

/// An agent's state change, for presence (on-duty intervals) and staffing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AgentEvent {
    pub at: Timestamp,
    pub agent: String,
    /// The queue it applies to; `None` for all queues (e.g. PAUSEALL, a login).
    pub queue: Option<String>,
    pub kind: AgentEventKind,
    /// Pause reason or logoff reason, when the source gives one.
    pub reason: Option<String>,
    pub line: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item {
    Call { call: CallRecord, span: Span },
    Agent(AgentEvent),
    Rejected(RejectedRow),
}

/// A streaming reader over one source file. Memory stays bounded whatever the
/// file's size: only calls still in progress are held.
pub trait RecordReader: Iterator<Item = Item> {
    /// A byte offset from which reading again (with [`RecordReader::resume_line`]
    /// as the first line number) yields every record not yet yielded: the start
    /// of the earliest line that belongs to a call still in progress, or the
    /// current position when none is. Records yielded before it may be yielded
    /// again after a resume; the importer's idempotency key drops them.
    fn resume_offset(&self) -> u64;
    /// The 1-based line number of the line at [`RecordReader::resume_offset`].
    fn resume_line(&self) -> u64;
    /// Bytes consumed so far (for progress).
    fn bytes_read(&self) -> u64;
}
