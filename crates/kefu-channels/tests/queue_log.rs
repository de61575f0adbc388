//! Asterisk queue_log reader: hand-written fixtures in the style of real
//! Asterisk and Wazo logs, and a property test over arbitrary lines.

use std::collections::{BTreeMap, BTreeSet};

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_channels::phone::queue_log::{QueueLogLayout, QueueLogOptions, QueueLogReader};
use kefu_channels::phone::source::{
    AgentEvent, AgentEventKind, Item, RecordReader, RejectedRow, Span,
};
use kefu_core::phone::{CallOutcome, CallRecord};
use proptest::prelude::*;

const PIPE: &str = include_str!("fixtures/queue_log/pipe_all_events.log");
const SQL_TABLE: &str = include_str!("fixtures/queue_log/sql_table_newest_first.txt");
const SQL_PLAIN: &str = include_str!("fixtures/queue_log/sql_plain_export.psv");

fn ts(s: &str) -> Timestamp {
    s.parse().expect("test timestamp")
}

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("tzdb")
}

#[derive(Default)]
struct Read {
    calls: Vec<(CallRecord, Span)>,
    agents: Vec<AgentEvent>,
    rejected: Vec<RejectedRow>,
}

impl Read {
    fn call(&self, id: &str) -> &CallRecord {
        &self
            .calls
            .iter()
            .find(|(c, _)| c.source_id == id)
            .unwrap_or_else(|| panic!("no call {id}"))
            .0
    }
}

fn collect<R: std::io::BufRead>(reader: &mut QueueLogReader<R>) -> Read {
    let mut out = Read::default();
    for item in reader.by_ref() {
        match item {
            Item::Call { call, span } => out.calls.push((call, span)),
            Item::Agent(a) => out.agents.push(a),
            Item::Rejected(r) => out.rejected.push(r),
        }
    }
    out
}

fn read(input: &[u8], opts: QueueLogOptions) -> (Read, QueueLogReader<&[u8]>) {
    let mut reader = QueueLogReader::new(input, opts);
    let out = collect(&mut reader);
    (out, reader)
}

fn read_pipe() -> (Read, QueueLogReader<&'static [u8]>) {
    read(PIPE.as_bytes(), QueueLogOptions::default())
}

#[test]
fn answered_call_has_exact_record() {
    let (out, _) = read_pipe();
    let (call, span) = out
        .calls
        .iter()
        .find(|(c, _)| c.source_id == "1761872400.1")
        .expect("call");
    assert_eq!(
        *call,
        CallRecord {
            source_id: "1761872400.1".into(),
            queue: Some("support".into()),
            caller: Some("13800000001".into()),
            offered_at: ts("2026-10-31T09:00:00+08:00"),
            answered_at: Some(ts("2026-10-31T09:00:20+08:00")),
            ended_at: Some(ts("2026-10-31T09:01:55+08:00")),
            outcome: CallOutcome::Answered,
            agent: Some("Agent/1002".into()),
            talk: Some(SignedDuration::from_secs(95)),
            unanswered_rings: 1,
            transferred_to: None,
        }
    );
    // ENTERQUEUE on line 5 … COMPLETECALLER on line 10 (DID and the duplicate are not part of it).
    assert_eq!(
        *span,
        Span {
            first_line: 5,
            last_line: 10
        }
    );
    assert_eq!(call.wait(), Some(SignedDuration::from_secs(20)));
}

#[test]
fn every_terminal_event_maps_to_its_outcome() {
    let (out, _) = read_pipe();
    let outcome = |id: &str| out.call(id).outcome;
    assert_eq!(outcome("1761872400.1"), CallOutcome::Answered); // COMPLETECALLER
    assert_eq!(outcome("1761872700.2"), CallOutcome::Abandoned); // ABANDON
    assert_eq!(outcome("1761873000.3"), CallOutcome::TimedOut); // EXITWITHTIMEOUT
    assert_eq!(outcome("1761873605.4"), CallOutcome::NoAgents); // EXITEMPTY
    assert_eq!(outcome("1761873720.8"), CallOutcome::ExitedWithKey); // EXITWITHKEY
    assert_eq!(outcome("1761874200.10"), CallOutcome::Answered); // TRANSFER
    assert_eq!(outcome("1761874200.10#2"), CallOutcome::Answered); // COMPLETEAGENT
    assert_eq!(outcome("1761874800.13"), CallOutcome::Answered); // BLINDTRANSFER
    assert_eq!(outcome("1761875400.15"), CallOutcome::Answered); // ATTENDEDTRANSFER
    assert_eq!(outcome("1761927000.22"), CallOutcome::Unknown); // open at end of input
    assert_eq!(out.calls.len(), 11);

    let timed_out = out.call("1761873000.3");
    assert_eq!(timed_out.answered_at, None);
    assert_eq!(timed_out.ended_at, Some(ts("2026-10-31T09:15:00+08:00")));
    assert_eq!(timed_out.wait(), Some(SignedDuration::from_mins(5)));
}

#[test]
fn abandoned_while_ringing_counts_the_unanswered_ring() {
    let (out, _) = read_pipe();
    let call = out.call("1761872700.2");
    assert_eq!(call.outcome, CallOutcome::Abandoned);
    assert_eq!(call.unanswered_rings, 1);
    assert_eq!(call.answered_at, None);
    assert_eq!(call.agent, None);
    assert_eq!(call.wait(), Some(SignedDuration::from_secs(18)));
}

#[test]
fn ringnoanswer_is_milliseconds_connect_is_seconds() {
    let (out, reader) = read_pipe();
    // RINGNOANSWER 15000 and 12000 are milliseconds: 27 s in all.
    assert_eq!(reader.unanswered_ring_time(), SignedDuration::from_secs(27));
    // CONNECT's hold time (20, seconds) matches the ENTERQUEUE → CONNECT interval.
    let call = out.call("1761872400.1");
    assert_eq!(call.wait(), Some(SignedDuration::from_secs(20)));
}

#[test]
fn transfer_then_requeue_is_a_second_offered_call() {
    let (out, _) = read_pipe();
    let first = out.call("1761874200.10");
    assert_eq!(first.queue.as_deref(), Some("support"));
    assert_eq!(first.transferred_to.as_deref(), Some("8001@billing"));
    assert_eq!(first.talk, Some(SignedDuration::from_secs(60)));
    assert_eq!(first.agent.as_deref(), Some("Agent/1001"));
    assert_eq!(
        *out.call("1761874200.10#2"),
        CallRecord {
            source_id: "1761874200.10#2".into(),
            queue: Some("billing".into()),
            caller: Some("13800000007".into()),
            offered_at: ts("2026-10-31T09:31:05+08:00"),
            answered_at: Some(ts("2026-10-31T09:31:12+08:00")),
            ended_at: Some(ts("2026-10-31T09:31:42+08:00")),
            outcome: CallOutcome::Answered,
            agent: Some("SIP/2001".into()),
            talk: Some(SignedDuration::from_secs(30)),
            unanswered_rings: 0,
            transferred_to: None,
        }
    );
    let blind = out.call("1761874800.13");
    assert_eq!(blind.transferred_to.as_deref(), Some("9000@from-internal"));
    assert_eq!(blind.talk, Some(SignedDuration::from_secs(42)));
    let attended = out.call("1761875400.15");
    assert_eq!(
        attended.transferred_to.as_deref(),
        Some("BRIDGE:1761875480.17")
    );
    assert_eq!(attended.talk, Some(SignedDuration::from_secs(80)));
}

#[test]
fn call_crossing_midnight_and_month_boundary() {
    let (out, _) = read_pipe();
    let call = out.call("1761926390.20");
    assert_eq!(
        call.offered_at,
        ts("2026-10-31T23:59:50.5+08:00"),
        "fractional epoch kept"
    );
    assert_eq!(call.answered_at, Some(ts("2026-11-01T00:00:02+08:00")));
    assert_eq!(call.ended_at, Some(ts("2026-11-01T00:02:12+08:00")));
    assert_eq!(call.talk, Some(SignedDuration::from_secs(130)));
}

#[test]
fn open_call_at_end_of_input_is_unknown_without_end() {
    let (out, reader) = read_pipe();
    let call = out.call("1761927000.22");
    assert_eq!(call.outcome, CallOutcome::Unknown);
    assert_eq!(call.ended_at, None);
    assert_eq!(call.answered_at, Some(ts("2026-11-01T00:10:06+08:00")));
    assert_eq!(reader.stats().unfinished, 1);
}

#[test]
fn agent_events_map_to_login_logoff_pause_unpause() {
    let (out, _) = read_pipe();
    let got: Vec<(&str, Option<&str>, AgentEventKind, Option<&str>)> = out
        .agents
        .iter()
        .map(|a| {
            (
                a.agent.as_str(),
                a.queue.as_deref(),
                a.kind,
                a.reason.as_deref(),
            )
        })
        .collect();
    use AgentEventKind::*;
    assert_eq!(
        got,
        vec![
            ("Agent/1001", None, Login, None),
            ("Agent/1002", None, Login, None),
            ("SIP/2001", Some("support"), Login, None),
            ("Agent/1001", Some("support"), Pause, Some("lunch")),
            ("Agent/1002", None, Pause, None),
            ("Agent/1001", Some("support"), Unpause, None),
            ("Agent/1002", None, Unpause, None),
            ("SIP/2001", Some("support"), Logoff, None),
            ("Agent/1001", None, Logoff, None),
            ("Agent/1002", None, Logoff, Some("CommandLogoff")),
        ]
    );
    assert_eq!(out.agents[0].at, ts("2026-10-31T08:59:30+08:00"));
    assert_eq!(out.agents[0].line, 2);
}

#[test]
fn not_offered_ignored_and_unknown_events_are_counted_not_rejected() {
    let (_, reader) = read_pipe();
    let s = reader.stats();
    assert_eq!(reader.not_offered(), 3); // FULL, JOINEMPTY, CLOSED
    // QUEUESTART, DID, RINGCANCELED, CONFIGRELOAD, INFO
    assert_eq!(s.ignored_events, 5);
    assert_eq!(s.unknown_events, 1); // FOOBAR
    assert_eq!(s.duplicates, 1);
}

#[test]
fn garbage_lines_are_rejected_with_reason_and_reading_continues() {
    let (out, reader) = read_pipe();
    let lines: Vec<u64> = out.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, vec![11, 29, 30, 43]);
    let bad_time = &out.rejected[1];
    assert_eq!(bad_time.field.as_deref(), Some("time"));
    assert_eq!(bad_time.value.as_deref(), Some("abc"));
    assert_eq!(bad_time.column, Some(1));
    assert!(bad_time.reason.contains("expected"), "{}", bad_time.reason);
    assert!(out.rejected[2].reason.contains("at least 5"));
    // Calls after the garbage were still read.
    assert!(out.calls.iter().any(|(c, _)| c.source_id == "1761873000.3"));
    assert_eq!(reader.stats().rejected, 4);
}

#[test]
fn terminal_event_without_enterqueue_is_rejected() {
    let (out, _) = read_pipe();
    let orphan = out.rejected.iter().find(|r| r.line == 43).expect("line 43");
    assert!(
        orphan.reason.contains("without its ENTERQUEUE"),
        "{}",
        orphan.reason
    );
    assert_eq!(orphan.value.as_deref(), Some("1761876000.99"));
    assert!(orphan.raw.contains("COMPLETECALLER"));
}

#[test]
fn duplicate_lines_are_applied_once() {
    let doubled: String = PIPE.lines().flat_map(|l| [l, "\n", l, "\n"]).collect();
    let (once, _) = read_pipe();
    let (twice, reader) = read(doubled.as_bytes(), QueueLogOptions::default());
    let strip = |r: &Read| r.calls.iter().map(|(c, _)| c.clone()).collect::<Vec<_>>();
    assert_eq!(strip(&once), strip(&twice));
    assert!(reader.stats().duplicates >= 30);
}

#[test]
fn every_line_is_accounted_for() {
    let (_, reader) = read_pipe();
    let s = reader.stats();
    assert_eq!(s.lines, 54);
    assert_eq!(s.accounted_lines(), s.lines, "{s:?}");
}

#[test]
fn sql_table_newest_first_is_put_in_time_order() {
    let opts = QueueLogOptions {
        time_zone: shanghai(),
        ..QueueLogOptions::default()
    };
    let (out, reader) = read(SQL_TABLE.as_bytes(), opts);
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    assert_eq!(out.calls.len(), 2);
    assert_eq!(
        out.calls[1].0,
        CallRecord {
            source_id: "1793462398.31".into(),
            queue: Some("support".into()),
            caller: Some("13900000031".into()),
            offered_at: ts("2026-10-31T23:59:58.001+08:00"),
            answered_at: Some(ts("2026-11-01T00:00:05.118201+08:00")),
            ended_at: Some(ts("2026-11-01T00:01:10.25+08:00")),
            outcome: CallOutcome::Answered,
            agent: Some("Agent/3001".into()),
            talk: Some(SignedDuration::from_secs(65)),
            unanswered_rings: 1,
            transferred_to: None,
        }
    );
    assert_eq!(
        out.calls[1].1,
        Span {
            first_line: 3,
            last_line: 6
        }
    );
    assert_eq!(out.call("1793462300.30").outcome, CallOutcome::Abandoned);
    assert_eq!(out.agents.len(), 2);
    assert_eq!(out.agents[0].kind, AgentEventKind::Login);
    assert_eq!(reader.not_offered(), 1);
    let s = reader.stats();
    assert_eq!(s.skipped_lines, 4); // header, separator, footer, blank
    assert_eq!(s.accounted_lines(), s.lines);
}

#[test]
fn reversed_file_larger_than_the_window_is_rejected_with_a_hint_to_sort() {
    let opts = QueueLogOptions {
        time_zone: shanghai(),
        reorder_window: 2,
        ..QueueLogOptions::default()
    };
    let (out, reader) = read(SQL_TABLE.as_bytes(), opts);
    assert!(reader.stats().out_of_order > 0);
    let hint = out
        .rejected
        .iter()
        .find(|r| r.raw.contains("ABANDON"))
        .expect("ABANDON before its ENTERQUEUE");
    assert!(
        hint.reason.contains("sort the file by time"),
        "{}",
        hint.reason
    );
}

#[test]
fn sql_plain_export_with_explicit_layout() {
    let opts = QueueLogOptions {
        layout: QueueLogLayout::SqlTable,
        time_zone: shanghai(),
        ..QueueLogOptions::default()
    };
    let (out, _) = read(SQL_PLAIN.as_bytes(), opts.clone());
    assert!(out.rejected.is_empty(), "{:?}", out.rejected);
    let call = out.call("1793404800.1");
    assert_eq!(call.offered_at, ts("2026-10-31T08:00:00+08:00"));
    assert_eq!(call.wait(), Some(SignedDuration::from_millis(9500)));
    assert_eq!(call.talk, Some(SignedDuration::from_secs(180)));
    assert_eq!(out.call("1793405400.3").outcome, CallOutcome::TimedOut);

    // The pipe file under the SQL layout: every row's time is rejected.
    let (out, _) = read(PIPE.as_bytes(), opts);
    assert!(out.calls.is_empty());
    assert!(out.rejected.iter().any(|r| r.line == 1
        && r.field.as_deref() == Some("time")
        && r.reason.contains("YYYY-MM-DD")));
}

#[test]
fn crlf_and_bom_are_accepted() {
    let crlf = format!("\u{feff}{}", PIPE.replace('\n', "\r\n"));
    let (plain, _) = read_pipe();
    let (out, reader) = read(crlf.as_bytes(), QueueLogOptions::default());
    assert_eq!(plain.calls, out.calls);
    assert_eq!(plain.agents, out.agents);
    assert_eq!(
        plain.rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
        out.rejected.iter().map(|r| r.line).collect::<Vec<_>>()
    );
    assert_eq!(reader.bytes_read(), crlf.len() as u64);
}

#[test]
fn invalid_utf8_rejects_only_that_line() {
    let mut input = b"1793408400|c1|support|NONE|ENTERQUEUE||138\xff0001|1\n".to_vec();
    input.extend_from_slice(b"1793408401|c2|support|NONE|ENTERQUEUE||13800000002|1\n");
    input.extend_from_slice(b"1793408409|c2|support|NONE|ABANDON|1|1|8\n");
    let (out, _) = read(&input, QueueLogOptions::default());
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].line, 1);
    assert_eq!(out.rejected[0].column, Some(43));
    assert!(out.rejected[0].reason.contains("UTF-8"));
    assert_eq!(out.calls.len(), 1);
    assert_eq!(out.calls[0].0.outcome, CallOutcome::Abandoned);
}

#[test]
fn bad_talk_time_rejects_the_row_and_the_call_stays_open() {
    let input = "1793408400|c1|support|NONE|ENTERQUEUE||13800000001|1\n\
                 1793408410|c1|support|Agent/1|CONNECT|10|x|1\n\
                 1793408500|c1|support|Agent/1|COMPLETECALLER|10|ninety|1\n";
    let (out, _) = read(input.as_bytes(), QueueLogOptions::default());
    assert_eq!(out.rejected.len(), 1);
    let r = &out.rejected[0];
    assert_eq!(
        (r.line, r.field.as_deref(), r.value.as_deref()),
        (3, Some("data2"), Some("ninety"))
    );
    assert!(r.reason.contains("talk time"), "{}", r.reason);
    assert_eq!(out.calls[0].0.outcome, CallOutcome::Unknown);
}

#[test]
fn calls_open_longer_than_the_limit_are_evicted_as_unknown() {
    let mut input = String::from("1793408400|stuck|support|NONE|ENTERQUEUE||13800000001|1\n");
    // Two days of other calls, one every 10 minutes.
    for i in 0..288u64 {
        let t = 1793408400 + 600 * (i + 1);
        input.push_str(&format!("{t}|c{i}|support|NONE|ENTERQUEUE||1|1\n"));
        input.push_str(&format!("{}|c{i}|support|NONE|ABANDON|1|1|5\n", t + 5));
    }
    let mut reader = QueueLogReader::new(input.as_bytes(), QueueLogOptions::default());
    let mut first = None;
    let mut seen = 0;
    for item in reader.by_ref() {
        if let Item::Call { call, .. } = item {
            seen += 1;
            if call.source_id == "stuck" {
                first = Some((call, seen));
            }
        }
    }
    let (call, position) = first.expect("stuck call yielded");
    assert_eq!(call.outcome, CallOutcome::Unknown);
    assert_eq!(call.ended_at, None);
    // Evicted after 24 h of log time, not at the end of input.
    assert!((140..=150).contains(&position), "{position}");
    assert_eq!(reader.stats().evicted, 1);
    assert_eq!(reader.stats().calls, 289);
}

/// Reads `input` from `offset` as a resumed run would.
fn resumed(
    input: &[u8],
    base: &QueueLogOptions,
    offset: u64,
    line: u64,
    replayed_until: u64,
) -> Read {
    let start = usize::try_from(offset).expect("offset");
    let opts = QueueLogOptions {
        start_offset: offset,
        start_line: line,
        replayed_until: Some(replayed_until),
        ..base.clone()
    };
    read(&input[start..], opts).0
}

fn check_resume_everywhere(input: &[u8], opts: QueueLogOptions) {
    let (full, _) = read(input, opts.clone());
    let all: BTreeMap<&str, &CallRecord> = full
        .calls
        .iter()
        .map(|(c, _)| (c.source_id.as_str(), c))
        .collect();
    assert_eq!(all.len(), full.calls.len(), "source ids are unique");
    let rejected_lines: BTreeSet<u64> = full.rejected.iter().map(|r| r.line).collect();
    let mut k = 0;
    loop {
        let mut reader = QueueLogReader::new(input, opts.clone());
        let mut before = BTreeSet::new();
        let mut exhausted = false;
        for _ in 0..k {
            match reader.next() {
                Some(Item::Call { call, .. }) => {
                    before.insert(call.source_id);
                }
                Some(_) => {}
                None => {
                    exhausted = true;
                    break;
                }
            }
        }
        if exhausted {
            break;
        }
        let after = resumed(
            input,
            &opts,
            reader.resume_offset(),
            reader.resume_line(),
            reader.bytes_read(),
        );
        let mut union = before.clone();
        for (call, _) in &after.calls {
            assert_eq!(
                Some(&call),
                all.get(call.source_id.as_str()),
                "after {k} items"
            );
            union.insert(call.source_id.clone());
        }
        assert_eq!(
            union,
            all.keys().map(|s| s.to_string()).collect(),
            "after {k} items"
        );
        for r in &after.rejected {
            assert!(
                rejected_lines.contains(&r.line),
                "after {k} items: new rejection {r:?}"
            );
        }
        k += 1;
    }
    assert!(k > 3, "{k} items");
}

#[test]
fn resume_from_resume_offset_yields_remaining_calls_exactly_once() {
    check_resume_everywhere(PIPE.as_bytes(), QueueLogOptions::default());
}

#[test]
fn resume_in_sql_table_with_reordering() {
    let opts = QueueLogOptions {
        time_zone: shanghai(),
        reorder_window: 16,
        ..QueueLogOptions::default()
    };
    let crlf = SQL_TABLE.replace('\n', "\r\n");
    check_resume_everywhere(crlf.as_bytes(), opts);
}

fn event_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ENTERQUEUE".to_string()),
        Just("CONNECT".to_string()),
        Just("COMPLETECALLER".to_string()),
        Just("COMPLETEAGENT".to_string()),
        Just("ABANDON".to_string()),
        Just("EXITWITHTIMEOUT".to_string()),
        Just("EXITEMPTY".to_string()),
        Just("EXITWITHKEY".to_string()),
        Just("RINGNOANSWER".to_string()),
        Just("TRANSFER".to_string()),
        Just("ATTENDEDTRANSFER".to_string()),
        Just("BLINDTRANSFER".to_string()),
        Just("PAUSE".to_string()),
        Just("AGENTLOGIN".to_string()),
        Just("FULL".to_string()),
        Just("INFO".to_string()),
        "[A-Z]{1,8}",
        ".{0,6}",
    ]
}

fn line() -> impl Strategy<Value = Vec<u8>> {
    let structured = (
        prop_oneof![
            (1_793_408_000u64..1_793_500_000).prop_map(|t| t.to_string()),
            Just("2026-10-31 23:59:59.5".to_string()),
            Just("2026-02-30 10:00:00".to_string()),
            "[0-9.]{0,12}",
        ],
        prop_oneof![Just("c1"), Just("c2"), Just("NONE"), Just("")],
        prop_oneof![Just("q1"), Just("NONE")],
        prop_oneof![Just("Agent/1"), Just("NONE")],
        event_name(),
        proptest::collection::vec("[0-9a-z@.]{0,5}|[^|\n]{0,4}", 0..7),
    )
        .prop_map(|(t, c, q, a, e, data)| {
            let mut s = format!("{t}|{c}|{q}|{a}|{e}");
            for d in data {
                s.push('|');
                s.push_str(&d);
            }
            s.into_bytes()
        });
    prop_oneof![
        4 => structured,
        1 => proptest::collection::vec(any::<u8>(), 0..40)
            .prop_map(|v| v.into_iter().filter(|&b| b != b'\n').collect()),
    ]
}

proptest! {
    #[test]
    fn arbitrary_lines_never_panic_and_every_line_is_accounted(
        lines in proptest::collection::vec(line(), 0..40),
        window in 0usize..5,
        crlf in any::<bool>(),
        long_memory in any::<bool>(),
    ) {
        let end: &[u8] = if crlf { b"\r\n" } else { b"\n" };
        let mut input = Vec::new();
        for l in &lines {
            input.extend_from_slice(l);
            input.extend_from_slice(end);
        }
        let mut opts = QueueLogOptions { reorder_window: window, ..QueueLogOptions::default() };
        if long_memory {
            // Ids are unique while callids stay inside the re-queue window (see the module docs).
            opts.requeue_window = SignedDuration::from_hours(24 * 3650);
            opts.max_call_duration = SignedDuration::from_hours(24 * 3650);
        }
        let (out, reader) = read(&input, opts);
        let s = reader.stats();
        prop_assert_eq!(s.lines, lines.len() as u64);
        prop_assert_eq!(s.accounted_lines(), s.lines, "{:?}", s);
        prop_assert_eq!(s.calls, out.calls.len() as u64);
        prop_assert_eq!(s.rejected, out.rejected.len() as u64);
        let ids: BTreeSet<&str> = out.calls.iter().map(|(c, _)| c.source_id.as_str()).collect();
        if long_memory {
            prop_assert_eq!(ids.len(), out.calls.len());
        }
        prop_assert_eq!(reader.bytes_read(), input.len() as u64);
    }

    #[test]
    fn arbitrary_bytes_never_panic(input in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (_, reader) = read(&input, QueueLogOptions::default());
        prop_assert_eq!(reader.stats().accounted_lines(), reader.stats().lines);
    }
}
