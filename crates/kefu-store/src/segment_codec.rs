//! The byte form of a call segment: the calls of one contract, source format and UTC day
//! written by one import chunk, stored column by column and compressed (see
//! `docs/architecture.md`, "Calls are stored in segments").
//!
//! Pure functions, no I/O. The callers' numbers are not in the compressed payload: they are
//! returned apart (one list, in call order) so that the store can encrypt them as one
//! value; each call refers to its caller by position in that list.
//!
//! Every read is bounds-checked: a damaged segment is an error naming what was wrong, never a
//! panic.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use kefu_core::phone::{CallOutcome, CallRecord};

/// First byte of every payload: bump when the layout changes (old segments stay readable by
/// matching on it).
const LAYOUT_V1: u8 = 1;
/// zstd level: -3 is zstd's fast mode; it spends half the CPU of level 1 on a month of
/// calls for segments ~40 % larger (~26 bytes a call), and the import is CPU-bound.
const ZSTD_LEVEL: i32 = -3;
/// A segment never holds more than this many calls (a bound for the decoder's allocations).
pub(crate) const MAX_CALLS: usize = 1 << 22;

/// One call as a segment keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SegmentCall {
    /// The call; `caller` holds the number in plain text (only in memory).
    pub call: CallRecord,
    pub version: i64,
    /// The import run whose file holds `first_line..=last_line`.
    pub import_batch_id: Option<String>,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
}

impl SegmentCall {
    /// The call as [`encode`] takes it.
    pub(crate) fn row(&self) -> SegmentRow<'_> {
        SegmentRow {
            call: &self.call,
            version: self.version,
            import_batch_id: self.import_batch_id.as_deref(),
            first_line: self.first_line,
            last_line: self.last_line,
        }
    }
}

/// A call to encode, borrowed from wherever it is (an import chunk, a decoded segment).
#[derive(Debug, Clone, Copy)]
pub(crate) struct SegmentRow<'a> {
    pub call: &'a CallRecord,
    pub version: i64,
    pub import_batch_id: Option<&'a str>,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
}

/// What `encode` makes: the compressed columns and the serialised callers list (to be
/// encrypted by the caller of `encode`; empty list when no call has a number).
#[derive(Debug)]
pub(crate) struct Encoded {
    pub data: Vec<u8>,
    pub callers: Option<Vec<u8>>,
}

/// Why a stored segment could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DecodeError(pub String);

type R<T> = Result<T, DecodeError>;

fn err<T>(what: impl Into<String>) -> R<T> {
    Err(DecodeError(what.into()))
}

// ---------------------------------------------------------------------------------------------
// Writing

fn put_uvar(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn put_ivar(out: &mut Vec<u8>, v: i64) {
    put_uvar(out, zigzag(v));
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_uvar(out, b.len() as u64);
    out.extend_from_slice(b);
}

fn put_opt_i(out: &mut Vec<u8>, v: Option<i64>, base: i64) {
    match v {
        None => out.push(0),
        Some(v) => {
            out.push(1);
            put_ivar(out, v.wrapping_sub(base));
        }
    }
}

/// Interns strings of one column: the dictionary and, per call, 0 (none) or 1 + position.
#[derive(Default)]
struct Dict<'a> {
    list: Vec<&'a str>,
    pos: HashMap<&'a str, u64, foldhash::fast::RandomState>,
    refs: Vec<u64>,
    /// The last value pushed and its reference: runs of one value (the import run, a queue)
    /// skip the hash.
    last: Option<(&'a str, u64)>,
}

impl<'a> Dict<'a> {
    fn push(&mut self, v: Option<&'a str>) {
        if let (Some(s), Some((l, r))) = (v, self.last)
            && s == l
        {
            self.refs.push(r);
            return;
        }
        let r = match v {
            None => 0,
            Some(s) => match self.pos.get(s) {
                Some(&i) => i + 1,
                None => {
                    let i = self.list.len() as u64;
                    self.list.push(s);
                    self.pos.insert(s, i);
                    i + 1
                }
            },
        };
        if let Some(s) = v {
            self.last = Some((s, r));
        }
        self.refs.push(r);
    }

    /// Appends a value without looking for an equal one (callers' numbers: mostly distinct,
    /// so the lookup would cost more than the rare repeat saves).
    fn push_new(&mut self, v: Option<&'a str>) {
        let r = match v {
            None => 0,
            Some(s) => {
                self.list.push(s);
                self.list.len() as u64
            }
        };
        self.refs.push(r);
    }

    fn write_list(&self, out: &mut Vec<u8>) {
        put_uvar(out, self.list.len() as u64);
        for s in &self.list {
            put_bytes(out, s.as_bytes());
        }
    }

    fn write_refs(&self, out: &mut Vec<u8>) {
        for &r in &self.refs {
            put_uvar(out, r);
        }
    }
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn millis(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn outcome_code(o: CallOutcome) -> u8 {
    match o {
        CallOutcome::Answered => 0,
        CallOutcome::Abandoned => 1,
        CallOutcome::TimedOut => 2,
        CallOutcome::NoAgents => 3,
        CallOutcome::ExitedWithKey => 4,
        CallOutcome::Unknown => 5,
    }
}

fn outcome_from(code: u8) -> R<CallOutcome> {
    Ok(match code {
        0 => CallOutcome::Answered,
        1 => CallOutcome::Abandoned,
        2 => CallOutcome::TimedOut,
        3 => CallOutcome::NoAgents,
        4 => CallOutcome::ExitedWithKey,
        5 => CallOutcome::Unknown,
        other => return err(format!("unknown outcome code {other}")),
    })
}

/// Encodes calls in the order given (the store sorts them by offer time first).
pub(crate) fn encode(calls: &[SegmentRow<'_>]) -> Result<Encoded, String> {
    if calls.len() > MAX_CALLS {
        return Err(format!(
            "a segment holds at most {MAX_CALLS} calls, not {}",
            calls.len()
        ));
    }
    let mut queues = Dict::default();
    let mut agents = Dict::default();
    let mut transfers = Dict::default();
    let mut batches = Dict::default();
    let mut callers = Dict::default();
    for c in calls {
        queues.push(c.call.queue.as_deref());
        agents.push(c.call.agent.as_deref());
        transfers.push(c.call.transferred_to.as_deref());
        batches.push(c.import_batch_id);
        callers.push_new(c.call.caller.as_deref());
    }
    let mut out = Vec::with_capacity(calls.len() * 48 + 64);
    out.push(LAYOUT_V1);
    put_uvar(&mut out, calls.len() as u64);
    for d in [&queues, &agents, &transfers, &batches] {
        d.write_list(&mut out);
    }
    for c in calls {
        put_bytes(&mut out, c.call.source_id.as_bytes());
    }
    for c in calls {
        put_ivar(&mut out, c.version);
    }
    let mut prev = 0i64;
    for c in calls {
        let t = micros(c.call.offered_at);
        put_ivar(&mut out, t.wrapping_sub(prev));
        prev = t;
    }
    for c in calls {
        put_opt_i(
            &mut out,
            c.call.answered_at.map(micros),
            micros(c.call.offered_at),
        );
    }
    for c in calls {
        put_opt_i(
            &mut out,
            c.call.ended_at.map(micros),
            micros(c.call.offered_at),
        );
    }
    for c in calls {
        put_opt_i(&mut out, c.call.talk.map(millis), 0);
    }
    for c in calls {
        out.push(outcome_code(c.call.outcome));
    }
    for c in calls {
        put_uvar(&mut out, u64::from(c.call.unanswered_rings));
    }
    for d in [&queues, &agents, &transfers, &batches, &callers] {
        d.write_refs(&mut out);
    }
    for c in calls {
        put_opt_i(&mut out, c.first_line, 0);
    }
    for c in calls {
        put_opt_i(&mut out, c.last_line, c.first_line.unwrap_or(0));
    }
    put_uvar(&mut out, callers.list.len() as u64);
    let data = zstd::bulk::compress(&out, ZSTD_LEVEL).map_err(|e| format!("zstd: {e}"))?;
    let callers = (!callers.list.is_empty()).then(|| {
        let mut v = Vec::new();
        callers.write_list(&mut v);
        v
    });
    Ok(Encoded { data, callers })
}

// ---------------------------------------------------------------------------------------------
// Reading

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn byte(&mut self) -> R<u8> {
        match self.buf.get(self.at) {
            Some(&b) => {
                self.at += 1;
                Ok(b)
            }
            None => err(format!("payload ends early at byte {}", self.at)),
        }
    }

    fn uvar(&mut self) -> R<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        err(format!("varint longer than 64 bits at byte {}", self.at))
    }

    fn ivar(&mut self) -> R<i64> {
        Ok(unzigzag(self.uvar()?))
    }

    fn bytes(&mut self) -> R<&'a [u8]> {
        let len = usize::try_from(self.uvar()?).unwrap_or(usize::MAX);
        let end = self.at.checked_add(len).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.at..end];
                self.at = end;
                Ok(s)
            }
            None => err(format!(
                "a {len}-byte value at byte {} runs past the end",
                self.at
            )),
        }
    }

    fn string(&mut self) -> R<String> {
        let at = self.at;
        String::from_utf8(self.bytes()?.to_vec())
            .map_err(|_| DecodeError(format!("text at byte {at} is not UTF-8")))
    }

    fn count(&mut self, what: &str) -> R<usize> {
        let n = self.uvar()?;
        match usize::try_from(n) {
            Ok(n) if n <= MAX_CALLS && n <= self.buf.len() => Ok(n),
            _ => err(format!("{what}: count {n} is out of range")),
        }
    }

    fn list(&mut self, what: &str) -> R<Vec<String>> {
        let n = self.count(what)?;
        (0..n).map(|_| self.string()).collect()
    }

    fn opt_i(&mut self, base: i64) -> R<Option<i64>> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(self.ivar()?.wrapping_add(base))),
            b => err(format!("presence flag {b} at byte {}", self.at - 1)),
        }
    }

    fn refs(&mut self, n: usize, list: &[String], what: &str) -> R<Vec<Option<String>>> {
        (0..n)
            .map(|_| match self.uvar()? {
                0 => Ok(None),
                r => match usize::try_from(r - 1).ok().and_then(|i| list.get(i)) {
                    Some(s) => Ok(Some(s.clone())),
                    None => err(format!("{what}: reference {r} outside its list")),
                },
            })
            .collect()
    }
}

fn timestamp(micros: i64, what: &str) -> R<Timestamp> {
    Timestamp::from_microsecond(micros)
        .map_err(|e| DecodeError(format!("{what}: {micros} µs is not a time: {e}")))
}

/// Decodes a segment. `callers` is the decrypted list from [`Encoded::callers`], or `None` to
/// leave every call's number out.
pub(crate) fn decode(data: &[u8], callers: Option<&[u8]>) -> R<Vec<SegmentCall>> {
    let raw = zstd::stream::decode_all(data).map_err(|e| DecodeError(format!("zstd: {e}")))?;
    let mut c = Cursor { buf: &raw, at: 0 };
    match c.byte()? {
        LAYOUT_V1 => {}
        v => return err(format!("unknown segment layout {v}")),
    }
    let n = c.count("calls")?;
    let queues = c.list("queues")?;
    let agents = c.list("agents")?;
    let transfers = c.list("transfers")?;
    let batches = c.list("import runs")?;
    let source_ids: Vec<String> = (0..n).map(|_| c.string()).collect::<R<_>>()?;
    let versions: Vec<i64> = (0..n).map(|_| c.ivar()).collect::<R<_>>()?;
    let mut offered = Vec::with_capacity(n);
    let mut prev = 0i64;
    for _ in 0..n {
        prev = prev.wrapping_add(c.ivar()?);
        offered.push(prev);
    }
    let answered: Vec<Option<i64>> = offered.iter().map(|&o| c.opt_i(o)).collect::<R<_>>()?;
    let ended: Vec<Option<i64>> = offered.iter().map(|&o| c.opt_i(o)).collect::<R<_>>()?;
    let talk: Vec<Option<i64>> = (0..n).map(|_| c.opt_i(0)).collect::<R<_>>()?;
    let outcomes: Vec<CallOutcome> = (0..n).map(|_| outcome_from(c.byte()?)).collect::<R<_>>()?;
    let rings: Vec<u32> = (0..n)
        .map(|_| Ok(u32::try_from(c.uvar()?).unwrap_or(u32::MAX)))
        .collect::<R<_>>()?;
    let queue = c.refs(n, &queues, "queue")?;
    let agent = c.refs(n, &agents, "agent")?;
    let transfer = c.refs(n, &transfers, "transfer")?;
    let batch = c.refs(n, &batches, "import run")?;
    let caller_refs: Vec<u64> = (0..n).map(|_| c.uvar()).collect::<R<_>>()?;
    let first_line: Vec<Option<i64>> = (0..n).map(|_| c.opt_i(0)).collect::<R<_>>()?;
    let last_line: Vec<Option<i64>> = first_line
        .iter()
        .map(|f| c.opt_i(f.unwrap_or(0)))
        .collect::<R<_>>()?;
    let nb = c.count("callers")?;
    if c.at != raw.len() {
        return err(format!(
            "{} bytes left over after the last column",
            raw.len() - c.at
        ));
    }
    let numbers = match callers {
        Some(b) => {
            let mut cc = Cursor { buf: b, at: 0 };
            let list = cc.list("callers")?;
            if list.len() != nb {
                return err(format!(
                    "{} callers in the list but {nb} in the segment",
                    list.len()
                ));
            }
            Some(list)
        }
        None => None,
    };

    let mut out = Vec::with_capacity(n);
    let mut queue = queue.into_iter();
    let mut agent = agent.into_iter();
    let mut transfer = transfer.into_iter();
    let mut batch = batch.into_iter();
    for (i, source_id) in source_ids.into_iter().enumerate() {
        let caller_pos = match caller_refs[i] {
            0 => None,
            r => match usize::try_from(r - 1).ok().filter(|&p| p < nb) {
                Some(p) => Some(p),
                None => return err(format!("caller reference {r} outside its list")),
            },
        };
        let offered_at = timestamp(offered[i], "offered_at")?;
        out.push(SegmentCall {
            call: CallRecord {
                source_id,
                queue: queue.next().flatten(),
                caller: match (&numbers, caller_pos) {
                    (Some(list), Some(p)) => list.get(p).cloned(),
                    _ => None,
                },
                offered_at,
                answered_at: answered[i]
                    .map(|m| timestamp(m, "answered_at"))
                    .transpose()?,
                ended_at: ended[i].map(|m| timestamp(m, "ended_at")).transpose()?,
                outcome: outcomes[i],
                agent: agent.next().flatten(),
                talk: talk[i].map(SignedDuration::from_millis),
                unanswered_rings: rings[i],
                transferred_to: transfer.next().flatten(),
            },
            version: versions[i],
            import_batch_id: batch.next().flatten(),
            first_line: first_line[i],
            last_line: last_line[i],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(i: i64) -> SegmentCall {
        let t = Timestamp::from_second(1_790_000_000 + i * 7).expect("time");
        SegmentCall {
            call: CallRecord {
                source_id: format!("{}.{i}", 1_790_000_000 + i),
                queue: Some(if i % 3 == 0 { "vip" } else { "support" }.to_owned()),
                caller: (i % 4 != 0).then(|| format!("1380013{:04}", i % 50)),
                offered_at: t,
                answered_at: (i % 5 != 0).then(|| t + SignedDuration::from_millis(3_500)),
                ended_at: Some(t + SignedDuration::from_secs(200)),
                outcome: if i % 5 == 0 {
                    CallOutcome::Abandoned
                } else {
                    CallOutcome::Answered
                },
                agent: (i % 5 != 0).then(|| format!("Agent/{}", i % 9)),
                talk: (i % 5 != 0).then(|| SignedDuration::from_millis(180_250)),
                unanswered_rings: (i % 7) as u32,
                transferred_to: (i % 11 == 0).then(|| "Local/200".to_owned()),
            },
            version: i % 2,
            import_batch_id: Some("batch-1".to_owned()),
            first_line: Some(i * 3 + 1),
            last_line: Some(i * 3 + 3),
        }
    }

    fn encode_calls(calls: &[SegmentCall]) -> Encoded {
        let rows: Vec<SegmentRow<'_>> = calls.iter().map(SegmentCall::row).collect();
        encode(&rows).expect("encode")
    }

    #[test]
    fn a_segment_reads_back_exactly_what_was_written() {
        let calls: Vec<SegmentCall> = (0..500).map(call).collect();
        let enc = encode_calls(&calls);
        let back = decode(&enc.data, enc.callers.as_deref()).expect("decode");
        assert_eq!(back, calls);
    }

    #[test]
    fn without_the_callers_list_the_numbers_are_left_out_and_the_rest_is_intact() {
        let calls: Vec<SegmentCall> = (0..50).map(call).collect();
        let enc = encode_calls(&calls);
        let back = decode(&enc.data, None).expect("decode");
        for (a, b) in back.iter().zip(&calls) {
            assert_eq!(a.call.caller, None);
            let mut b = b.clone();
            b.call.caller = None;
            assert_eq!(*a, b);
        }
    }

    #[test]
    fn an_empty_segment_and_extreme_values_round_trip() {
        let enc = encode(&[]).expect("encode");
        assert_eq!(decode(&enc.data, None).expect("decode"), vec![]);
        let mut c = call(1);
        // The extremes a microsecond can name (the store keeps times to the microsecond).
        c.call.offered_at = Timestamp::from_second(Timestamp::MIN.as_second()).expect("min");
        c.call.answered_at = Some(Timestamp::from_second(Timestamp::MAX.as_second()).expect("max"));
        c.call.talk = Some(SignedDuration::from_millis(i64::MIN));
        c.version = i64::MIN;
        c.first_line = Some(i64::MAX);
        c.last_line = Some(i64::MIN);
        c.call.unanswered_rings = u32::MAX;
        let calls = vec![c];
        let enc = encode_calls(&calls);
        assert_eq!(
            decode(&enc.data, enc.callers.as_deref()).expect("decode"),
            calls
        );
    }

    #[test]
    fn damaged_segments_are_errors_not_panics() {
        let calls: Vec<SegmentCall> = (0..40).map(call).collect();
        let enc = encode_calls(&calls);
        let raw = zstd::stream::decode_all(&enc.data[..]).expect("raw");
        // Every truncation and every single-byte change of the payload either decodes to
        // something or says what is wrong.
        for cut in 0..raw.len() {
            let data = zstd::bulk::compress(&raw[..cut], 1).expect("compress");
            assert!(
                decode(&data, enc.callers.as_deref()).is_err(),
                "cut at {cut}"
            );
        }
        for at in 0..raw.len() {
            let mut bad = raw.clone();
            bad[at] ^= 0xff;
            let data = zstd::bulk::compress(&bad, 1).expect("compress");
            let _ = decode(&data, enc.callers.as_deref());
        }
        assert!(decode(b"not zstd", None).is_err());
    }
}
