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
    /// Rows left out on purpose so far (not offered to a queue, filtered by a mapping,
    /// non-voice contacts …): counted, never rejected.
    fn skipped(&self) -> u64 {
        0
    }
    /// The version of the call just yielded, for sources that send a contact more than
    /// once (Amazon Connect's LastUpdateTimestamp, as epoch microseconds); 0 otherwise.
    fn item_version(&self) -> i64 {
        0
    }
}

/// Splits a byte stream into lines for the line-oriented readers: tracks each
/// line's number and byte offset (for rejections and resume), strips `\n` and
/// `\r\n`, skips a UTF-8 byte-order mark at the very start of a file, and caps
/// a line's length so one endless "line" cannot exhaust memory.
pub struct LineReader<R> {
    input: R,
    offset: u64,
    next_line: u64,
    max_line: usize,
    buf: Vec<u8>,
    done: bool,
    require_newline: bool,
    unterminated: u64,
}

/// One line as read: its 1-based number, the byte offset where it starts, and
/// its bytes without the line end. `truncated` says the line was longer than the
/// reader's cap and `bytes` holds only its beginning.
pub struct RawLine<'a> {
    pub number: u64,
    pub offset: u64,
    pub bytes: &'a [u8],
    pub truncated: bool,
}

impl<'a> RawLine<'a> {
    /// The line as text, or `None` when it is not valid UTF-8.
    pub fn text(&self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes).ok()
    }

    /// The line for `RejectedRow::raw`: lossy when it is not valid UTF-8.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(self.bytes).into_owned()
    }
}

impl<R: std::io::BufRead> LineReader<R> {
    /// Lines longer than this are rejected (their beginning is kept for the report).
    pub const DEFAULT_MAX_LINE: usize = 1 << 20;

    /// `first_line` is the number of the line at `start_offset` (1 and 0 for a
    /// whole file). A byte-order mark is skipped only at offset 0.
    pub fn new(input: R, first_line: u64, start_offset: u64) -> Self {
        LineReader {
            input,
            offset: start_offset,
            next_line: first_line.max(1),
            max_line: Self::DEFAULT_MAX_LINE,
            buf: Vec::new(),
            done: false,
            require_newline: false,
            unterminated: 0,
        }
    }

    /// For logs a PBX appends to line by line (queue_log, Master.csv): a last line without
    /// its line end is still being written. It is not read — the offset stays before it, so
    /// a later run reads it whole — and its length is told by [`LineReader::unterminated_tail`].
    pub fn require_newline(mut self) -> Self {
        self.require_newline = true;
        self
    }

    /// Bytes of an unterminated last line left unread (see [`LineReader::require_newline`]).
    pub fn unterminated_tail(&self) -> u64 {
        self.unterminated
    }

    /// Bytes consumed so far, counted from the start of the file: the offset of
    /// the next line.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The number of the next line to be read.
    pub fn next_line_number(&self) -> u64 {
        self.next_line
    }

    /// The next line, `None` at the end of input. After an I/O error the reader
    /// reports the end of input.
    pub fn next_line(&mut self) -> Option<std::io::Result<RawLine<'_>>> {
        if self.done {
            return None;
        }
        self.buf.clear();
        let start = self.offset;
        let mut truncated = false;
        let mut any = false;
        loop {
            let avail = match self.input.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            };
            if avail.is_empty() {
                if !any {
                    self.done = true;
                    return None;
                }
                if self.require_newline {
                    self.unterminated = self.offset - start;
                    self.offset = start;
                    self.done = true;
                    return None;
                }
                break;
            }
            any = true;
            let (len, found) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let room = self.max_line.saturating_sub(self.buf.len());
            let content = if found { len - 1 } else { len };
            if content > room {
                truncated = true;
            }
            self.buf
                .extend_from_slice(avail.get(..content.min(room)).unwrap_or_default());
            self.input.consume(len);
            self.offset += len as u64;
            if found {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        let mut bytes = self.buf.as_slice();
        if start == 0 && self.next_line == 1 {
            bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        }
        let number = self.next_line;
        self.next_line += 1;
        Some(Ok(RawLine {
            number,
            offset: start,
            bytes,
            truncated,
        }))
    }
}

/// The 1-based character column of byte index `at` in `text` (clamped).
pub fn char_column(text: &str, at: usize) -> u32 {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    u32::try_from(text.get(..at).unwrap_or_default().chars().count() + 1).unwrap_or(u32::MAX)
}
