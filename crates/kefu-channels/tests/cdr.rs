//! Asterisk CDR Master.csv reader: hand-written fixtures in cdr_csv's style.

use std::collections::BTreeSet;

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_channels::phone::cdr::{CdrOptions, CdrQueueColumn, CdrReader};
use kefu_channels::phone::source::{Item, RecordReader, RejectedRow, Span};
use kefu_core::phone::{CallOutcome, CallRecord};
use proptest::prelude::*;

const BASE: &str = include_str!("fixtures/cdr/master_16.csv");
const QUEUE: &str = include_str!("fixtures/cdr/master_21_queue.csv");

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn opts() -> CdrOptions {
    CdrOptions {
        time_zone: TimeZone::get("Asia/Shanghai").expect("tzdb"),
        ..CdrOptions::default()
    }
}

type Calls = Vec<(CallRecord, Span)>;

fn read(input: &[u8], opts: CdrOptions) -> (Calls, Vec<RejectedRow>, CdrReader<&[u8]>) {
    let mut reader = CdrReader::new(input, opts);
    let (mut calls, mut rejected) = (Vec::new(), Vec::new());
    for item in reader.by_ref() {
        match item {
            Item::Call { call, span } => calls.push((call, span)),
            Item::Rejected(r) => rejected.push(r),
            Item::Agent(a) => panic!("CDR yields no agent events: {a:?}"),
        }
    }
    (calls, rejected, reader)
}

fn by_caller<'a>(calls: &'a [(CallRecord, Span)], caller: &str) -> &'a CallRecord {
    &calls
        .iter()
        .find(|(c, _)| c.caller.as_deref() == Some(caller))
        .unwrap_or_else(|| panic!("no call from {caller}"))
        .0
}

#[test]
fn base_16_columns_answered_row_exact_record() {
    let (calls, _, _) = read(BASE.as_bytes(), opts());
    let (call, span) = &calls[0];
    assert!(
        call.source_id.starts_with("cdr-") && call.source_id.len() == 20,
        "{}",
        call.source_id
    );
    assert_eq!(
        *call,
        CallRecord {
            source_id: call.source_id.clone(),
            queue: Some("4008001234".into()),
            caller: Some("13800000001".into()),
            offered_at: ts("2026-10-31T09:00:00+08:00"),
            answered_at: Some(ts("2026-10-31T09:00:12+08:00")),
            ended_at: Some(ts("2026-10-31T09:03:12+08:00")),
            outcome: CallOutcome::Answered,
            agent: Some("SIP/3001".into()),
            talk: Some(SignedDuration::from_secs(180)),
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
}

#[test]
fn hash_ids_are_stable_and_distinct_without_uniqueid() {
    let (a, _, _) = read(BASE.as_bytes(), opts());
    let (b, _, _) = read(BASE.as_bytes(), opts());
    let ids = |v: &[(CallRecord, Span)]| {
        v.iter()
            .map(|(c, _)| c.source_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    assert_eq!(ids(&a).into_iter().collect::<BTreeSet<_>>().len(), a.len());
}

#[test]
fn disposition_maps_to_outcome() {
    let (calls, _, _) = read(BASE.as_bytes(), opts());
    let no_answer = by_caller(&calls, "13800000002");
    assert_eq!(no_answer.outcome, CallOutcome::Abandoned);
    assert_eq!(
        (
            no_answer.answered_at,
            no_answer.talk,
            no_answer.agent.as_deref()
        ),
        (None, None, None)
    );
    assert_eq!(no_answer.wait(), Some(SignedDuration::from_secs(25)));
    assert_eq!(
        by_caller(&calls, "13800000003").outcome,
        CallOutcome::Unknown
    ); // BUSY
    assert_eq!(
        by_caller(&calls, "13800000006").outcome,
        CallOutcome::Unknown
    ); // CONGESTION
    assert_eq!(calls.len(), 5);
}

#[test]
fn call_crossing_midnight_and_month_boundary() {
    let (calls, _, _) = read(BASE.as_bytes(), opts());
    let call = by_caller(&calls, "13800000005");
    assert_eq!(call.offered_at, ts("2026-10-31T23:59:30+08:00"));
    assert_eq!(call.answered_at, Some(ts("2026-10-31T23:59:41+08:00")));
    assert_eq!(call.ended_at, Some(ts("2026-11-01T00:04:41+08:00")));
    assert_eq!(call.talk, Some(SignedDuration::from_mins(5)));
}

#[test]
fn bad_rows_are_rejected_with_field_column_and_reason_and_reading_continues() {
    let (calls, rejected, reader) = read(BASE.as_bytes(), opts());
    let got: Vec<(u64, Option<&str>, Option<&str>)> = rejected
        .iter()
        .map(|r| (r.line, r.field.as_deref(), r.value.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (4, None, None),
            (5, Some("start"), Some("yesterday noon")),
            (8, Some("billsec"), Some("nine")),
            (9, Some("disposition"), Some("HUNG UP")),
        ]
    );
    assert!(
        rejected[0].reason.contains("expected 16 columns"),
        "{}",
        rejected[0].reason
    );
    let col = rejected[1].raw.find("\"yesterday").expect("raw") + 1;
    assert_eq!(rejected[1].column, Some(col as u32));
    assert!(rejected[1].reason.contains("YYYY-MM-DD HH:MM:SS"));
    assert!(rejected[2].reason.contains("whole seconds"));
    assert!(rejected[3].reason.contains("ANSWERED, NO ANSWER"));
    // Rows after the bad ones were kept.
    assert!(
        calls
            .iter()
            .any(|(c, _)| c.caller.as_deref() == Some("13800000006"))
    );
    let s = reader.stats();
    assert_eq!((s.lines, s.records, s.calls, s.rejected), (9, 9, 5, 4));
    assert_eq!(s.accounted_records(), s.records);
}

#[test]
fn long_layout_with_header_uses_uniqueid_and_sequence() {
    let (calls, rejected, reader) = read(QUEUE.as_bytes(), opts());
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(reader.stats().header_rows, 1);
    let ids: Vec<&str> = calls.iter().map(|(c, _)| c.source_id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "1793416800.16#16",
            "1793417100.18#18",
            "1793417400.19#19",
            "1793418000.21#21"
        ]
    );
    assert_eq!(
        calls[0].1,
        Span {
            first_line: 2,
            last_line: 2
        }
    );
    let answered = &calls[0].0;
    assert_eq!(answered.outcome, CallOutcome::Answered);
    assert_eq!(answered.agent.as_deref(), Some("PJSIP/4001"));
    assert_eq!(answered.talk, Some(SignedDuration::from_secs(240)));
    // Local channel: the `-<hex>;1` suffix is dropped too.
    assert_eq!(calls[2].0.agent.as_deref(), Some("Local/4002@agents"));
}

#[test]
fn queue_row_answered_by_the_queue_but_no_agent_is_abandoned() {
    let (calls, _, _) = read(QUEUE.as_bytes(), opts());
    let call = &calls[1].0;
    assert_eq!(call.outcome, CallOutcome::Abandoned);
    assert_eq!((call.answered_at, call.talk), (None, None));
    assert_eq!(call.ended_at, Some(ts("2026-10-31T10:06:31+08:00")));

    let lenient = CdrOptions {
        queue_answer_needs_agent: false,
        ..opts()
    };
    let (calls, _, _) = read(QUEUE.as_bytes(), lenient);
    assert_eq!(calls[1].0.outcome, CallOutcome::Answered);
}

#[test]
fn queue_column_option_and_queue_app_filter() {
    let o = CdrOptions {
        queue_column: CdrQueueColumn::LastData,
        only_queue_app: true,
        ..opts()
    };
    let (calls, _, reader) = read(QUEUE.as_bytes(), o);
    let queues: Vec<Option<&str>> = calls.iter().map(|(c, _)| c.queue.as_deref()).collect();
    assert_eq!(
        queues,
        vec![Some("support"), Some("support"), Some("billing")]
    );
    assert_eq!(reader.stats().filtered, 1);
    let o = CdrOptions {
        queue_column: CdrQueueColumn::Dcontext,
        ..opts()
    };
    let (calls, _, _) = read(QUEUE.as_bytes(), o);
    assert_eq!(calls[0].0.queue.as_deref(), Some("queues"));
}

#[test]
fn quoted_field_may_span_lines_and_an_unclosed_quote_is_rejected() {
    let input = "\"\",\"1\",\"8001\",\"q\",\"line one\nline two\",\"SIP/a-1\",\"SIP/b-2\",\"Queue\",\"q\",\"2026-10-31 10:00:00\",\"2026-10-31 10:00:01\",\"2026-10-31 10:00:11\",11,10,\"ANSWERED\",\"DOCUMENTATION\"\n\
                 \"\",\"2\",\"8001\",\"q\",\"<2>\",\"SIP/a-3\",\"\",\"Queue\",\"q\",\"2026-10-31 10:01:00\",\"\",\"2026-10-31 10:01:11\",11,0,\"NO ANSWER\",\"DOCUMENTATION\"\n";
    let (calls, rejected, _) = read(input.as_bytes(), opts());
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(
        calls[0].1,
        Span {
            first_line: 1,
            last_line: 2
        }
    );
    assert_eq!(
        calls[1].1,
        Span {
            first_line: 3,
            last_line: 3
        }
    );

    let unclosed = "\"\",\"1\",\"never closed\n";
    let (calls, rejected, _) = read(unclosed.as_bytes(), opts());
    assert!(calls.is_empty());
    assert_eq!(rejected.len(), 1);
    assert!(
        rejected[0].reason.contains("not closed"),
        "{}",
        rejected[0].reason
    );
    // A runaway quote gives up after 16 lines; the lines after it are read again as rows.
    let runaway = format!("{unclosed}{}", "more text\n".repeat(20));
    let (_, rejected, reader) = read(runaway.as_bytes(), opts());
    assert!(
        rejected[0].reason.contains("within 16 lines"),
        "{}",
        rejected[0].reason
    );
    assert_eq!(rejected.len(), 1 + 5);
    assert_eq!(reader.stats().lines, 21);

    let junk_after_quote = "\"a\"x,\"b\"\n";
    let (_, rejected, _) = read(junk_after_quote.as_bytes(), opts());
    assert_eq!(rejected[0].column, Some(4));
}

#[test]
fn crlf_and_bom_are_accepted() {
    let crlf = format!("\u{feff}{}", QUEUE.replace('\n', "\r\n"));
    let (plain, _, _) = read(QUEUE.as_bytes(), opts());
    let (calls, rejected, _) = read(crlf.as_bytes(), opts());
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(plain, calls);
}

#[test]
fn invalid_utf8_rejects_only_that_line() {
    let mut input = BASE.lines().next().expect("row").as_bytes().to_vec();
    input.extend_from_slice(b"\n\"\",\"\xfe\xff\"\n");
    input.extend_from_slice(BASE.as_bytes());
    let (calls, rejected, _) = read(&input, opts());
    assert_eq!(calls.len(), 6);
    assert_eq!(rejected[0].line, 2);
    assert_eq!(rejected[0].column, Some(5));
    assert!(rejected[0].reason.contains("UTF-8"));
}

#[test]
fn resume_from_resume_offset_yields_remaining_calls_exactly_once() {
    let input = format!("{QUEUE}{BASE}");
    let (all, _, _) = read(input.as_bytes(), opts());
    let all_ids: BTreeSet<String> = all.iter().map(|(c, _)| c.source_id.clone()).collect();
    for k in 0..=all.len() + 5 {
        let mut reader = CdrReader::new(input.as_bytes(), opts());
        let mut seen = BTreeSet::new();
        for item in reader.by_ref().take(k) {
            if let Item::Call { call, .. } = item {
                seen.insert(call.source_id);
            }
        }
        let (offset, line) = (reader.resume_offset(), reader.resume_line());
        let rest = &input.as_bytes()[usize::try_from(offset).expect("offset")..];
        let (after, _, _) = read(
            rest,
            CdrOptions {
                start_offset: offset,
                start_line: line,
                ..opts()
            },
        );
        for (call, span) in &after {
            assert!(
                seen.insert(call.source_id.clone()),
                "after {k}: {} twice",
                call.source_id
            );
            assert!(span.first_line >= line);
            assert!(all.iter().any(|(c, s)| c == call && s == span));
        }
        assert_eq!(seen, all_ids, "after {k} items");
    }
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic_and_every_record_is_accounted(
        lines in proptest::collection::vec(
            prop_oneof![
                3 => proptest::sample::select(BASE.lines().chain(QUEUE.lines()).collect::<Vec<_>>())
                    .prop_flat_map(|l| (Just(l.to_owned()), 0..l.len() + 1, "[\",a-z0-9 \\-:]{0,3}"))
                    .prop_map(|(l, at, ins)| {
                        let mut at = at.min(l.len());
                        while !l.is_char_boundary(at) { at -= 1; }
                        format!("{}{}{}", &l[..at], ins, &l[at..]).into_bytes()
                    }),
                1 => proptest::collection::vec(any::<u8>(), 0..60)
                    .prop_map(|v| v.into_iter().filter(|&b| b != b'\n').collect::<Vec<u8>>()),
            ],
            0..30,
        ),
    ) {
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.push(b'\n');
        }
        let (calls, rejected, reader) = read(&input, opts());
        let s = reader.stats();
        prop_assert_eq!(s.lines, lines.len() as u64);
        prop_assert_eq!(s.accounted_records(), s.records);
        prop_assert_eq!(s.calls, calls.len() as u64);
        prop_assert_eq!(s.rejected, rejected.len() as u64);
        prop_assert_eq!(reader.bytes_read(), input.len() as u64);
    }
}
