//! Amazon Connect contact trace records (CTR) and EventBridge "Amazon Connect
//! Contact Event"s: one [`CallRecord`] per voice contact that entered a queue.
//! This module owns finding the objects in the input (one object, a top-level
//! array, JSON lines, or pretty-printed objects one after another), reading the
//! contact's fields whatever their case (`ContactId` in a CTR, `contactId` in an
//! event), and the outcome of a contact.
//!
//! # Streaming
//! A small scanner finds each object's extent (braces outside strings) line by
//! line, so a top-level array is streamed element by element and only one
//! object is held at a time (at most 16 MiB). An object that is not valid JSON
//! is rejected with the line and column serde_json reports, and reading goes on
//! with the next object. In JSON-lines input (the first object fits on one
//! line) an object still open at the end of its line is rejected on its own, so
//! one broken line cannot swallow the rest of the file.
//!
//! # Versions of a contact
//! A contact can arrive more than once (CTR updates, one event per state). Each
//! has a version: `LastUpdateTimestamp` when present, else the latest of the
//! envelope's `time` and the contact's own timestamps. Within one file a
//! version is yielded only when it is newer than every version of that
//! ContactId already seen (older or equal ones are counted in
//! [`ConnectStats::superseded`]); [`ConnectReader::last_version`] gives the
//! version of the call just yielded, so the store keeps the newest across
//! files. This needs one entry per ContactId seen in the file (~100 bytes each:
//! about 100 MB for a million contacts in one file).
//!
//! # Outcome
//! Connected to an agent → Answered. Otherwise, once the contact left the queue:
//! `DisconnectReason` CUSTOMER_DISCONNECT (or none given) → Abandoned;
//! CONTACT_FLOW_DISCONNECT, EXPIRED, or a transfer out of the queue → TimedOut
//! (the flow, not the caller, ended the wait); TELECOM_PROBLEM, OTHER, … →
//! Unknown. A contact with neither dequeue nor disconnect time (still in
//! progress) is Unknown. Contacts that never entered a queue are skipped and
//! counted in [`ConnectStats::not_queued`]; non-voice contacts in
//! [`ConnectStats::non_voice`].

use std::collections::{HashMap, VecDeque};
use std::io::BufRead;

use jiff::{SignedDuration, Timestamp};
use kefu_core::phone::{CallOutcome, CallRecord};
use serde::Serialize;
use serde_json::Value;

use super::source::{Item, LineReader, RecordReader, RejectedRow, Span, char_column};

#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub start_line: u64,
    pub start_offset: u64,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            start_line: 1,
            start_offset: 0,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConnectStats {
    pub lines: u64,
    /// Complete objects found (valid JSON or not).
    pub objects: u64,
    pub calls: u64,
    pub rejected: u64,
    pub non_voice: u64,
    pub not_queued: u64,
    pub superseded: u64,
}

const MAX_OBJECT_BYTES: usize = 16 << 20;

pub struct ConnectReader<R> {
    lines: LineReader<R>,
    stats: ConnectStats,
    /// Items not yet yielded, with the version of a call and the resume point.
    pending: VecDeque<(Item, Option<Timestamp>, u64, u64)>,
    object: String,
    depth: u32,
    in_string: bool,
    escape: bool,
    /// Line, column and line offset where the current object began.
    started: Option<(u64, u32, u64)>,
    json_lines: Option<bool>,
    seen: HashMap<String, Timestamp>,
    last_version: Option<Timestamp>,
    eof: bool,
}

struct Bad {
    field: &'static str,
    value: Option<String>,
    reason: String,
}

impl<R: BufRead> ConnectReader<R> {
    pub fn new(input: R, opts: ConnectOptions) -> Self {
        ConnectReader {
            lines: LineReader::new(input, opts.start_line, opts.start_offset),
            stats: ConnectStats::default(),
            pending: VecDeque::new(),
            object: String::new(),
            depth: 0,
            in_string: false,
            escape: false,
            started: None,
            json_lines: None,
            seen: HashMap::new(),
            last_version: None,
            eof: false,
        }
    }

    pub fn stats(&self) -> &ConnectStats {
        &self.stats
    }

    /// The version (see the module docs) of the call most recently yielded.
    pub fn last_version(&self) -> Option<Timestamp> {
        self.last_version
    }

    fn reject(
        &mut self,
        line: u64,
        column: Option<u32>,
        bad: Bad,
        raw: String,
        anchor: (u64, u64),
    ) {
        self.stats.rejected += 1;
        let item = Item::Rejected(RejectedRow {
            line,
            column,
            field: (!bad.field.is_empty()).then(|| bad.field.to_owned()),
            value: bad.value,
            reason: bad.reason,
            raw,
        });
        self.pending.push_back((item, None, anchor.0, anchor.1));
    }

    fn reset_object(&mut self) {
        self.object.clear();
        self.depth = 0;
        self.in_string = false;
        self.escape = false;
        self.started = None;
    }

    fn abandon_object(&mut self, reason: String) {
        if let Some((line, column, offset)) = self.started {
            let raw = std::mem::take(&mut self.object);
            let bad = Bad {
                field: "",
                value: None,
                reason,
            };
            self.reject(line, Some(column), bad, raw, (offset, line));
        }
        self.reset_object();
    }

    fn read_line(&mut self) -> bool {
        let (number, offset, text) = match self.lines.next_line() {
            None => return false,
            Some(Err(e)) => {
                let at = (self.lines.offset(), self.lines.next_line_number());
                let bad = Bad {
                    field: "",
                    value: None,
                    reason: format!("could not read the input: {e}"),
                };
                self.reject(at.1, None, bad, String::new(), at);
                return false;
            }
            Some(Ok(line)) => {
                let text = if line.truncated {
                    Err(format!(
                        "line longer than {} bytes",
                        LineReader::<R>::DEFAULT_MAX_LINE
                    ))
                } else {
                    std::str::from_utf8(line.bytes)
                        .map(str::to_owned)
                        .map_err(|_| "line is not valid UTF-8".to_owned())
                };
                (
                    line.number,
                    line.offset,
                    text.map_err(|e| (e, line.lossy())),
                )
            }
        };
        self.stats.lines += 1;
        match text {
            Ok(text) => self.scan(&text, number, offset),
            Err((reason, raw)) => {
                if self.started.is_some() {
                    self.abandon_object(format!("{reason} (line {number}, inside this object)"));
                } else {
                    let bad = Bad {
                        field: "",
                        value: None,
                        reason,
                    };
                    self.reject(number, None, bad, raw, (offset, number));
                }
            }
        }
        true
    }

    fn scan(&mut self, text: &str, number: u64, offset: u64) {
        let mut chunk_start = 0;
        for (i, c) in text.char_indices() {
            if self.depth == 0 {
                match c {
                    '{' => {
                        self.started = Some((number, char_column(text, i), offset));
                        self.depth = 1;
                        chunk_start = i;
                    }
                    '[' | ']' | ',' => {}
                    c if c.is_whitespace() || c == '\u{feff}' => {}
                    _ => {
                        let rest = text.get(i..).unwrap_or_default().to_owned();
                        let bad = Bad {
                            field: "",
                            value: None,
                            reason: "expected a JSON object (`{`): one object, an array of objects, or one object per line".to_owned(),
                        };
                        self.reject(
                            number,
                            Some(char_column(text, i)),
                            bad,
                            rest,
                            (offset, number),
                        );
                        return;
                    }
                }
                continue;
            }
            if self.in_string {
                if self.escape {
                    self.escape = false;
                } else if c == '\\' {
                    self.escape = true;
                } else if c == '"' {
                    self.in_string = false;
                }
                continue;
            }
            match c {
                '"' => self.in_string = true,
                '{' | '[' => self.depth += 1,
                '}' | ']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.object
                            .push_str(text.get(chunk_start..i + 1).unwrap_or_default());
                        self.complete(number);
                        chunk_start = i + 1;
                    }
                }
                _ => {}
            }
        }
        if self.depth > 0 {
            if self.json_lines == Some(true) {
                return self.abandon_object(
                    "JSON object not closed at the end of its line (expected one object per line)"
                        .to_owned(),
                );
            }
            self.object
                .push_str(text.get(chunk_start..).unwrap_or_default());
            self.object.push('\n');
            if self.object.len() > MAX_OBJECT_BYTES {
                self.abandon_object(format!("JSON object larger than {MAX_OBJECT_BYTES} bytes"));
            }
        }
    }

    fn complete(&mut self, last_line: u64) {
        let Some((first_line, first_column, offset)) = self.started else {
            return self.reset_object();
        };
        self.stats.objects += 1;
        self.json_lines.get_or_insert(first_line == last_line);
        let text = std::mem::take(&mut self.object);
        self.reset_object();
        let anchor = (offset, first_line);
        let value: Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                let line = first_line + (e.line() as u64).saturating_sub(1);
                let col = u32::try_from(e.column()).unwrap_or(u32::MAX);
                let column = if e.line() <= 1 {
                    first_column.saturating_add(col.saturating_sub(1))
                } else {
                    col
                };
                let msg = e.to_string();
                let msg = msg
                    .rfind(" at line ")
                    .map_or(msg.as_str(), |i| msg.get(..i).unwrap_or_default());
                let bad = Bad {
                    field: "",
                    value: None,
                    reason: format!("invalid JSON: {msg}"),
                };
                return self.reject(line, Some(column), bad, text, anchor);
            }
        };
        match contact(&value) {
            Ok(Contact::Skip(Skip::NonVoice)) => self.stats.non_voice += 1,
            Ok(Contact::Skip(Skip::NotQueued)) => self.stats.not_queued += 1,
            Ok(Contact::Call(call, version)) => {
                if let Some(&seen) = self.seen.get(&call.source_id)
                    && seen >= version
                {
                    self.stats.superseded += 1;
                    return;
                }
                self.seen.insert(call.source_id.clone(), version);
                self.stats.calls += 1;
                let span = Span {
                    first_line,
                    last_line,
                };
                self.pending.push_back((
                    Item::Call { call: *call, span },
                    Some(version),
                    offset,
                    first_line,
                ));
            }
            Err(bad) => self.reject(first_line, Some(first_column), bad, text, anchor),
        }
    }
}

enum Skip {
    NonVoice,
    NotQueued,
}

enum Contact {
    Call(Box<CallRecord>, Timestamp),
    Skip(Skip),
}

/// The value under the first of `keys` present, compared case-insensitively.
fn get<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a Value> {
    let obj = v.as_object()?;
    keys.iter().find_map(|k| {
        obj.get(*k)
            .or_else(|| {
                obj.iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    })
}

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn time(v: &Value, keys: &[&str], field: &'static str) -> Result<Option<Timestamp>, Bad> {
    match get(v, keys) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => s.trim().parse::<Timestamp>().map(Some).map_err(|_| Bad {
            field,
            value: Some(s.clone()),
            reason: "expected an RFC 3339 timestamp such as 2021-08-04T17:17:53.000Z".to_owned(),
        }),
        Some(other) => Err(Bad {
            field,
            value: Some(other.to_string()),
            reason: "expected an RFC 3339 timestamp string".to_owned(),
        }),
    }
}

fn contact(root: &Value) -> Result<Contact, Bad> {
    if !root.is_object() {
        return Err(Bad {
            field: "",
            value: None,
            reason: "expected a JSON object".to_owned(),
        });
    }
    // EventBridge envelope: the contact is in `detail`.
    let (c, envelope_time) = match get(root, &["detail"]) {
        Some(detail) if detail.is_object() => (detail, time(root, &["time"], "time")?),
        _ => (root, None),
    };
    let Some(id) = text(get(c, &["ContactId"])) else {
        return Err(Bad {
            field: "ContactId",
            value: None,
            reason: "expected the contact's id (ContactId, a string)".to_owned(),
        });
    };
    let Some(channel) = text(get(c, &["Channel"])) else {
        return Err(Bad {
            field: "Channel",
            value: None,
            reason: "expected the contact's Channel (VOICE, CHAT, TASK…)".to_owned(),
        });
    };
    if !channel.eq_ignore_ascii_case("VOICE") {
        return Ok(Contact::Skip(Skip::NonVoice));
    }
    let empty = Value::Null;
    let queue = get(c, &["Queue", "queueInfo"]).unwrap_or(&empty);
    let agent = get(c, &["Agent", "agentInfo"]).unwrap_or(&empty);
    let Some(offered_at) = time(queue, &["EnqueueTimestamp"], "Queue.EnqueueTimestamp")? else {
        return Ok(Contact::Skip(Skip::NotQueued));
    };
    let dequeued = time(queue, &["DequeueTimestamp"], "Queue.DequeueTimestamp")?;
    let answered_at = time(
        agent,
        &["ConnectedToAgentTimestamp"],
        "Agent.ConnectedToAgentTimestamp",
    )?;
    let disconnected = time(c, &["DisconnectTimestamp"], "DisconnectTimestamp")?;
    let initiated = time(c, &["InitiationTimestamp"], "InitiationTimestamp")?;
    let last_update = time(c, &["LastUpdateTimestamp"], "LastUpdateTimestamp")?;
    let talk = match get(agent, &["AgentInteractionDuration"]) {
        None => None,
        Some(v) => match v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| *f >= 0.0 && f.is_finite())
                .map(|f| f.round() as u64)
        }) {
            Some(s) => Some(SignedDuration::from_secs(
                i64::try_from(s).unwrap_or(i64::MAX),
            )),
            None => {
                return Err(Bad {
                    field: "Agent.AgentInteractionDuration",
                    value: Some(v.to_string()),
                    reason: "expected whole seconds (a non-negative number)".to_owned(),
                });
            }
        },
    };
    let transferred_to =
        text(get(c, &["TransferredToEndpoint"]).and_then(|t| get(t, &["Address"])));
    let reason = text(get(c, &["DisconnectReason"])).map(|r| r.to_ascii_uppercase());
    let (outcome, ended_at) = if answered_at.is_some() {
        (CallOutcome::Answered, disconnected)
    } else {
        let left = dequeued.or(disconnected);
        let outcome = match (left, reason.as_deref()) {
            (None, _) => CallOutcome::Unknown,
            (Some(_), _) if transferred_to.is_some() => CallOutcome::TimedOut,
            (Some(_), None | Some("CUSTOMER_DISCONNECT")) => CallOutcome::Abandoned,
            (Some(_), Some("CONTACT_FLOW_DISCONNECT" | "EXPIRED")) => CallOutcome::TimedOut,
            (Some(_), Some(_)) => CallOutcome::Unknown,
        };
        (outcome, left)
    };
    let version = last_update.unwrap_or_else(|| {
        [
            envelope_time,
            initiated,
            Some(offered_at),
            dequeued,
            answered_at,
            disconnected,
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(offered_at)
    });
    let call = CallRecord {
        source_id: id,
        queue: text(get(queue, &["Name"])).or_else(|| text(get(queue, &["ARN", "queueArn"]))),
        caller: text(get(c, &["CustomerEndpoint"]).and_then(|e| get(e, &["Address"]))),
        offered_at,
        answered_at,
        ended_at,
        outcome,
        agent: text(get(agent, &["Username"])).or_else(|| text(get(agent, &["ARN", "agentArn"]))),
        talk: if answered_at.is_some() { talk } else { None },
        unanswered_rings: 0,
        transferred_to,
    };
    Ok(Contact::Call(Box::new(call), version))
}

impl<R: BufRead> Iterator for ConnectReader<R> {
    type Item = Item;

    fn next(&mut self) -> Option<Item> {
        loop {
            if let Some((item, version, _, _)) = self.pending.pop_front() {
                if matches!(item, Item::Call { .. }) {
                    self.last_version = version;
                }
                return Some(item);
            }
            if self.eof {
                return None;
            }
            if !self.read_line() {
                self.eof = true;
                if self.depth > 0 {
                    let line = self.started.map_or(0, |s| s.0);
                    self.abandon_object(format!(
                        "JSON object starting at line {line} is not closed at the end of input"
                    ));
                }
            }
        }
    }
}

impl<R: BufRead> RecordReader for ConnectReader<R> {
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
        self.stats.non_voice + self.stats.not_queued + self.stats.superseded
    }

    fn item_version(&self) -> i64 {
        self.last_version().map_or(0, |t| t.as_microsecond())
    }
}

impl<R: BufRead> ConnectReader<R> {
    fn resume_point(&self) -> (u64, u64) {
        let mut best = (self.lines.offset(), self.lines.next_line_number());
        if let Some((line, _, offset)) = self.started
            && offset < best.0
        {
            best = (offset, line);
        }
        for &(_, _, offset, line) in &self.pending {
            if offset < best.0 {
                best = (offset, line);
            }
        }
        best
    }
}
