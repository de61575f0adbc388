//! Amazon Connect reader: hand-written CTRs and EventBridge contact events in
//! the shape AWS documents, as JSON lines, pretty-printed objects and an array.

use std::collections::BTreeSet;
use std::path::Path;

use jiff::{SignedDuration, Timestamp};
use kefu_channels::phone::connect::{ConnectOptions, ConnectReader};
use kefu_channels::phone::source::{Item, RecordReader, RejectedRow, Span};
use kefu_core::phone::{CallOutcome, CallRecord};
use proptest::prelude::*;

const LINES: &str = include_str!("fixtures/connect/ctr_lines.jsonl");
const EVENTS: &str = include_str!("fixtures/connect/events_pretty.json");
const ARRAY: &str = include_str!("fixtures/connect/ctr_array.json");

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

struct Read {
    calls: Vec<(CallRecord, Span, Option<Timestamp>)>,
    rejected: Vec<RejectedRow>,
}

impl Read {
    fn call(&self, id: &str) -> &CallRecord {
        &self
            .calls
            .iter()
            .rev()
            .find(|(c, _, _)| c.source_id == id)
            .unwrap_or_else(|| panic!("no call {id}"))
            .0
    }
}

fn read(input: &[u8], opts: ConnectOptions) -> (Read, ConnectReader<&[u8]>) {
    let mut reader = ConnectReader::new(input, opts);
    let mut out = Read {
        calls: Vec::new(),
        rejected: Vec::new(),
    };
    while let Some(item) = reader.next() {
        match item {
            Item::Call { call, span } => out.calls.push((call, span, reader.last_version())),
            Item::Rejected(r) => out.rejected.push(r),
            Item::Agent(a) => panic!("no agent events from Connect: {a:?}"),
        }
    }
    (out, reader)
}

#[test]
fn json_lines_answered_contact_exact_record() {
    let (out, _) = read(LINES.as_bytes(), ConnectOptions::default());
    let (call, span, version) = &out.calls[0];
    assert_eq!(
        *call,
        CallRecord {
            source_id: "aaaaaaaa-0000-0000-0000-000000000001".into(),
            queue: Some("support".into()),
            caller: Some("+8613800000001".into()),
            offered_at: ts("2026-10-31T01:00:20Z"),
            answered_at: Some(ts("2026-10-31T01:00:32Z")),
            ended_at: Some(ts("2026-10-31T01:04:30Z")),
            outcome: CallOutcome::Answered,
            agent: Some("wang.fang".into()),
            talk: Some(SignedDuration::from_secs(230)),
            unanswered_rings: 0,
            transferred_to: None,
        }
    );
    assert_eq!(
        *span,
        Span {
            first_line: 1,
            last_line: 1
        }
    );
    assert_eq!(*version, Some(ts("2026-10-31T01:05:10Z")));
}

#[test]
fn abandoned_and_transferred_out_contacts() {
    let (out, _) = read(LINES.as_bytes(), ConnectOptions::default());
    let abandoned = out.call("aaaaaaaa-0000-0000-0000-000000000002");
    assert_eq!(abandoned.outcome, CallOutcome::Abandoned);
    assert_eq!(abandoned.ended_at, Some(ts("2026-10-31T01:11:05Z")));
    assert_eq!(abandoned.wait(), Some(SignedDuration::from_secs(50)));
    let moved = out.call("aaaaaaaa-0000-0000-0000-000000000007");
    assert_eq!(moved.outcome, CallOutcome::TimedOut);
    assert_eq!(moved.transferred_to.as_deref(), Some("+862100000000"));
    assert_eq!(moved.ended_at, Some(ts("2026-10-31T17:01:10Z")));
}

#[test]
fn duplicate_contact_keeps_the_latest_version() {
    let (out, reader) = read(LINES.as_bytes(), ConnectOptions::default());
    let versions: Vec<(CallOutcome, Option<Timestamp>)> = out
        .calls
        .iter()
        .filter(|(c, _, _)| c.source_id.ends_with("0006"))
        .map(|(c, _, v)| (c.outcome, *v))
        .collect();
    // The in-progress version, then the newer complete one; the stale copy on line 9 is dropped.
    assert_eq!(
        versions,
        vec![
            (CallOutcome::Unknown, Some(ts("2026-10-31T16:00:00Z"))),
            (CallOutcome::Answered, Some(ts("2026-10-31T16:07:00Z"))),
        ]
    );
    assert_eq!(reader.stats().superseded, 1);
    // The newest version crosses midnight and the month boundary in China Standard Time.
    let call = out.call("aaaaaaaa-0000-0000-0000-000000000006");
    assert_eq!(call.offered_at, ts("2026-10-31T23:59:40+08:00"));
    assert_eq!(call.answered_at, Some(ts("2026-11-01T00:00:05+08:00")));
    assert_eq!(call.talk, Some(SignedDuration::from_secs(355)));
}

#[test]
fn non_voice_and_unqueued_contacts_are_counted_not_rejected() {
    let (_, reader) = read(LINES.as_bytes(), ConnectOptions::default());
    let s = reader.stats();
    assert_eq!((s.non_voice, s.not_queued), (1, 1));
    assert_eq!((s.lines, s.objects, s.calls, s.rejected), (12, 10, 5, 4));
}

#[test]
fn bad_lines_are_rejected_with_line_and_column_and_reading_continues() {
    let (out, _) = read(LINES.as_bytes(), ConnectOptions::default());
    let got: Vec<(u64, Option<&str>)> = out
        .rejected
        .iter()
        .map(|r| (r.line, r.field.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (5, None),
            (6, None),
            (11, Some("InitiationTimestamp")),
            (12, None)
        ]
    );
    assert_eq!(out.rejected[0].column, Some(1));
    assert!(out.rejected[0].reason.contains("expected a JSON object"));
    let trailing = &out.rejected[1];
    assert!(
        trailing.reason.contains("invalid JSON"),
        "{}",
        trailing.reason
    );
    let line6 = LINES.lines().nth(5).expect("line 6");
    assert_eq!(trailing.column, Some(line6.len() as u32), "{trailing:?}");
    assert_eq!(out.rejected[2].value.as_deref(), Some("yesterday"));
    assert!(
        out.rejected[3]
            .reason
            .contains("not closed at the end of its line")
    );
    assert!(
        out.calls
            .iter()
            .any(|(c, _, _)| c.source_id.ends_with("0007"))
    );
}

#[test]
fn pretty_printed_eventbridge_events_one_after_another() {
    let (out, reader) = read(EVENTS.as_bytes(), ConnectOptions::default());
    assert_eq!(out.calls.len(), 2);
    let queued = &out.calls[0];
    assert_eq!(queued.0.outcome, CallOutcome::Unknown);
    assert_eq!(
        queued.1,
        Span {
            first_line: 1,
            last_line: 18
        }
    );
    assert_eq!(queued.2, Some(ts("2026-10-31T02:00:21Z")));
    assert_eq!(
        queued.0.queue.as_deref(),
        Some("arn:aws:connect:ap-northeast-1:123456789012:instance/i/queue/q1")
    );
    // The DISCONNECTED event has a trailing comma, as AWS's published sample does.
    assert_eq!(out.rejected.len(), 1);
    let bad = &out.rejected[0];
    assert!(bad.reason.contains("trailing comma"), "{}", bad.reason);
    // serde_json reports the `}` after the comma: line 42 of the file.
    assert_eq!((bad.line, bad.column), (42, Some(9)), "{bad:?}");
    assert!(bad.raw.contains("DISCONNECTED"));
    let abandoned = out.call("bbbbbbbb-0000-0000-0000-000000000002");
    assert_eq!(abandoned.outcome, CallOutcome::Abandoned);
    assert_eq!(abandoned.ended_at, Some(ts("2026-10-31T02:10:08Z")));
    assert_eq!(reader.stats().objects, 3);
}

#[test]
fn top_level_array_is_streamed() {
    let (out, reader) = read(ARRAY.as_bytes(), ConnectOptions::default());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.calls.len(), 2);
    assert_eq!(
        out.calls[0].1,
        Span {
            first_line: 2,
            last_line: 11
        }
    );
    assert_eq!(out.calls[0].0.agent.as_deref(), Some("zhao.min"));
    let telecom = &out.calls[1].0;
    assert_eq!(
        (telecom.outcome, telecom.ended_at),
        (CallOutcome::Unknown, Some(ts("2026-10-31T03:07:00Z")))
    );
    assert_eq!(reader.stats().non_voice, 1);
    // One line holding the whole array works too.
    let one_line = ARRAY.replace('\n', " ");
    let (same, _) = read(one_line.as_bytes(), ConnectOptions::default());
    assert_eq!(
        same.calls.iter().map(|c| &c.0).collect::<Vec<_>>(),
        out.calls.iter().map(|c| &c.0).collect::<Vec<_>>()
    );
}

#[test]
fn crlf_and_bom_are_accepted() {
    for input in [LINES, EVENTS, ARRAY] {
        let crlf = format!("\u{feff}{}", input.replace('\n', "\r\n"));
        let (plain, _) = read(input.as_bytes(), ConnectOptions::default());
        let (out, _) = read(crlf.as_bytes(), ConnectOptions::default());
        assert_eq!(plain.calls, out.calls);
        assert_eq!(
            plain.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            out.rejected.iter().map(|r| r.line).collect::<Vec<_>>()
        );
    }
}

#[test]
fn invalid_utf8_rejects_only_that_line() {
    let mut input = LINES.lines().next().expect("line").as_bytes().to_vec();
    input.extend_from_slice(b"\n{\"ContactId\":\"\xff\"}\n");
    input.extend_from_slice(LINES.lines().nth(1).expect("line").as_bytes());
    let (out, _) = read(&input, ConnectOptions::default());
    assert_eq!(out.calls.len(), 2);
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].line, 2);
    assert!(out.rejected[0].reason.contains("UTF-8"));
}

fn check_resume(input: &str) {
    let (full, _) = read(input.as_bytes(), ConnectOptions::default());
    let all: BTreeSet<(String, Option<Timestamp>)> = full
        .calls
        .iter()
        .map(|(c, _, v)| (c.source_id.clone(), *v))
        .collect();
    for k in 0..full.calls.len() + full.rejected.len() + 1 {
        let mut reader = ConnectReader::new(input.as_bytes(), ConnectOptions::default());
        let mut seen = BTreeSet::new();
        for _ in 0..k {
            if let Some(Item::Call { call, .. }) = reader.next() {
                seen.insert((call.source_id, reader.last_version()));
            }
        }
        let (offset, line) = (reader.resume_offset(), reader.resume_line());
        let rest = &input.as_bytes()[usize::try_from(offset).expect("offset")..];
        let (after, _) = read(
            rest,
            ConnectOptions {
                start_offset: offset,
                start_line: line,
            },
        );
        for (call, _, v) in &after.calls {
            assert!(
                all.contains(&(call.source_id.clone(), *v)),
                "after {k}: {call:?}"
            );
            seen.insert((call.source_id.clone(), *v));
        }
        assert_eq!(seen, all, "after {k} items");
    }
}

#[test]
fn resume_from_resume_offset_yields_remaining_calls_exactly_once() {
    check_resume(LINES);
    check_resume(EVENTS);
    check_resume(ARRAY);
}

/// AWS's published samples, read in place when the shared data is present.
#[test]
fn real_aws_samples_when_present() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/real/amazon_connect");
    let Ok(connected) = std::fs::read(dir.join("aws_doc_contact_event_connected_to_agent.json"))
    else {
        eprintln!("skipped: {} not present", dir.display());
        return;
    };
    let (out, _) = read(&connected, ConnectOptions::default());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let call = &out.calls[0].0;
    assert_eq!(call.source_id, "11111111-1111-1111-1111-111111111111");
    assert_eq!(call.outcome, CallOutcome::Answered);
    assert_eq!(call.wait(), Some(SignedDuration::from_secs(5)));

    let disconnected =
        std::fs::read(dir.join("aws_doc_contact_event_disconnected.json")).expect("sample");
    let (out, _) = read(&disconnected, ConnectOptions::default());
    assert!(out.calls.is_empty());
    assert_eq!(out.rejected.len(), 1);
    assert!(
        out.rejected[0].reason.contains("trailing comma"),
        "{:?}",
        out.rejected[0]
    );
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic(
        lines in proptest::collection::vec(
            prop_oneof![
                3 => proptest::sample::select(LINES.lines().chain(EVENTS.lines()).chain(ARRAY.lines()).collect::<Vec<_>>())
                    .prop_flat_map(|l| (Just(l.to_owned()), 0..l.len() + 1, "[\\[\\]{}\",:a-z0-9 ]{0,3}"))
                    .prop_map(|(l, at, ins)| {
                        let mut at = at.min(l.len());
                        while !l.is_char_boundary(at) { at -= 1; }
                        format!("{}{}{}", &l[..at], ins, &l[at..]).into_bytes()
                    }),
                1 => proptest::collection::vec(any::<u8>(), 0..60)
                    .prop_map(|v| v.into_iter().filter(|&b| b != b'\n').collect::<Vec<u8>>()),
            ],
            0..40,
        ),
    ) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.push(b'\n');
        }
        let (out, reader) = read(&input, ConnectOptions::default());
        let s = reader.stats();
        prop_assert_eq!(s.lines, lines.len() as u64);
        prop_assert_eq!(s.calls, out.calls.len() as u64);
        prop_assert_eq!(s.rejected, out.rejected.len() as u64);
        prop_assert!(s.calls + s.non_voice + s.not_queued + s.superseded <= s.objects);
        prop_assert_eq!(reader.bytes_read(), input.len() as u64);
    }
}
