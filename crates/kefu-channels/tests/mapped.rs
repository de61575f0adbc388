//! The mapped CSV/TSV importer: mapping-file errors, hand-written fixtures,
//! arbitrary rows, and (when ../shared/data/real is present) the real 1999
//! Anonymous Bank log checked against an independent SQL computation.

use std::io::Cursor;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::tz::TimeZone;
use kefu_channels::phone::mapped::{MappedCounts, MappedReader, Mapping, OpenError};
use kefu_channels::phone::source::{Item, RecordReader, RejectedRow};
use kefu_core::phone::{CallOutcome, CallRecord};
use proptest::prelude::*;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/mapped")
        .join(name)
}

fn load_mapping(path: &Path) -> Mapping {
    let text = std::fs::read_to_string(path).expect("mapping file");
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("mapping");
    Mapping::parse(name, &text).unwrap_or_else(|d| panic!("{d}"))
}

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("zone")
}

struct Read {
    calls: Vec<(CallRecord, u64)>,
    rejected: Vec<RejectedRow>,
    warnings: Vec<RejectedRow>,
    counts: MappedCounts,
}

fn read_all<R: std::io::BufRead>(mut reader: MappedReader<R>) -> Read {
    let mut out = Read {
        calls: vec![],
        rejected: vec![],
        warnings: vec![],
        counts: MappedCounts::default(),
    };
    for item in reader.by_ref() {
        match item {
            Item::Call { call, span } => {
                assert_eq!(span.first_line, span.last_line, "one row is one call");
                out.calls.push((call, span.first_line));
            }
            Item::Rejected(r) => out.rejected.push(r),
            Item::Agent(_) => panic!("the mapped reader yields no agent events"),
        }
    }
    out.warnings = reader.take_warnings();
    out.counts = reader.counts();
    out
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn call<'a>(read: &'a Read, id: &str) -> &'a CallRecord {
    &read
        .calls
        .iter()
        .find(|(c, _)| c.source_id == id)
        .unwrap_or_else(|| panic!("no call {id}"))
        .0
}

fn rejected_at(read: &Read, line: u64) -> &RejectedRow {
    read.rejected
        .iter()
        .find(|r| r.line == line)
        .unwrap_or_else(|| panic!("line {line} not rejected: {:#?}", read.rejected))
}

fn assert_counts_add_up(c: &MappedCounts) {
    assert_eq!(
        c.rows,
        c.calls + c.skipped_blank + c.skipped_by_filter + c.not_offered + c.rejected,
        "{c:?}"
    );
}

// ---------------------------------------------------------------------------
// Mapping-file errors
// ---------------------------------------------------------------------------

/// 1-based line and character column of the first occurrence of `marker` in `text`.
fn position_of(text: &str, marker: &str) -> (usize, usize) {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("marker {marker:?} not in the mapping"));
    let before = &text[..at];
    let line = before.matches('\n').count() + 1;
    let col = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, col)
}

#[test]
fn mapping_file_errors_name_file_line_column_key_expected_and_found() {
    let base = std::fs::read_to_string(fixture("pbx.toml")).expect("pbx.toml");
    // (what to replace, with what, the marker where the error points, key, message)
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        (
            r#"delimiter = ",""#,
            r#"delimiter = ":""#,
            r#"":""#,
            "file.delimiter",
            r#"expected one of ",", "\t", "|", ";", found ":""#,
        ),
        (
            "header = true",
            "heder = true",
            "heder",
            "file.heder",
            "unknown key `heder` (did you mean `header`?)",
        ),
        (
            r#"encoding = "utf-8""#,
            r#"encoding = "gbk""#,
            r#""gbk""#,
            "file.encoding",
            r#"expected "utf-8" (the only encoding the mapped reader reads; convert the file first, e.g. `iconv -f gbk -t UTF-8`), found "gbk""#,
        ),
        (
            r#"datetime_format = "%Y-%m-%d %H:%M:%S""#,
            "datetime_format = \"%Y-%m-%d %H:%M:%S\"\nzone = \"Asia/Shangai\"",
            r#""Asia/Shangai""#,
            "time.zone",
            r#"expected an IANA time zone like "Asia/Shanghai", found "Asia/Shangai" (did you mean "Asia/Shanghai"?)"#,
        ),
        (
            r#"datetime_format = "%Y-%m-%d %H:%M:%S""#,
            r#"datetime_format = "%H:%M:%S""#,
            r#""%H:%M:%S""#,
            "time.datetime_format",
            r#"expected a format for a date and time like "%Y-%m-%d %H:%M:%S", found "%H:%M:%S""#,
        ),
        (
            r#"offered_at = "entered""#,
            "offered_at = 0",
            "0",
            "columns.offered_at",
            "expected a column name from the header or a 1-based index (1 is the first column), found 0",
        ),
        (
            "source_id = \"call id\"\n",
            "",
            "[columns]",
            "columns.source_id",
            "missing key `source_id` (the column(s) that identify a call in its source)",
        ),
        (
            r#"abandoned = ["ABANDON"]"#,
            r#"abandoned = ["ABANDON", "ANSWERED"]"#,
            r#"["ABANDON", "ANSWERED"]"#,
            "outcome.abandoned",
            r#"the code "ANSWERED" is already mapped to answered; a code maps to one outcome"#,
        ),
        (
            r#"max_clock_skew = "2s""#,
            "max_clock_skew = 2",
            "2\n",
            "rules.max_clock_skew",
            r#"expected a duration with a unit like "2s", found 2"#,
        ),
        (
            r#"values = ["test"]"#,
            r#"values = "test""#,
            r#""test""#,
            "skip[0].values",
            r#"expected an array of values, found "test""#,
        ),
        (
            "[rules]",
            "[rules]\nanswered_without_queue_entry = \"zero-wait\"",
            r#""zero-wait""#,
            "rules.answered_without_queue_entry",
            r#"expected one of "zero_wait", "reject", found "zero-wait" (did you mean "zero_wait"?)"#,
        ),
        (
            "header = true",
            "header = false",
            r#""call id""#,
            "columns.source_id",
            r#"expected a 1-based column index (file.header = false, so there are no column names), found "call id""#,
        ),
        ("[file]", "[file", "\n", "", "TOML syntax error"),
    ];
    assert!(cases.len() >= 8);
    for (from, to, marker, key, message) in cases {
        assert!(base.contains(from), "base lacks {from:?}");
        let text = base.replacen(from, to, 1);
        let diags = Mapping::parse("pbx.toml", &text).expect_err(&format!("{to:?} must fail"));
        let d = diags.iter().next().expect("one diagnostic");
        let (line, col) = if key.is_empty() {
            (2, 6) // the unclosed `[file` on line 2
        } else {
            position_of(&text, marker)
        };
        assert_eq!(d.key, *key, "{d}");
        assert!(
            d.message.starts_with(message),
            "case {to:?}:\n got: {}\nwant: {message}",
            d.message
        );
        assert_eq!(
            (
                d.position.file.as_str(),
                d.position.line as usize,
                d.position.column as usize
            ),
            ("pbx.toml", line, col),
            "{d}"
        );
    }
}

#[test]
fn several_mapping_errors_are_reported_at_once_in_file_order() {
    let base = std::fs::read_to_string(fixture("pbx.toml")).expect("pbx.toml");
    let text = base
        .replacen(r#"delimiter = ",""#, r#"delimiter = ":""#, 1)
        .replacen("header = true", "heder = true", 1)
        .replacen(r#"offered_at = "entered""#, "offered_at = 0", 1);
    let diags = Mapping::parse("pbx.toml", &text).expect_err("three errors");
    let keys: Vec<&str> = diags.iter().map(|d| d.key.as_str()).collect();
    assert_eq!(
        keys,
        ["file.delimiter", "file.heder", "columns.offered_at"],
        "{diags}"
    );
    let lines: Vec<u32> = diags.iter().map(|d| d.position.line).collect();
    assert!(lines.windows(2).all(|w| w[0] < w[1]), "{lines:?}");
}

#[test]
fn column_names_are_checked_against_the_header_with_a_did_you_mean() {
    let base = std::fs::read_to_string(fixture("pbx.toml")).expect("pbx.toml");
    let text = base
        .replacen(r#"offered_at = "entered""#, r#"offered_at = "enterd""#, 1)
        .replacen(r#"talk_seconds = "talk""#, "talk_seconds = 10", 1);
    let mapping = Mapping::parse("pbx.toml", &text).expect("the mapping itself is well formed");
    let header = "call id,queue,caller,agent,entered,answered,ended,result,talk\n";
    let err = match MappedReader::open(&mapping, Cursor::new(header), shanghai()) {
        Err(OpenError::Mapping(d)) => d,
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("must fail"),
    };
    let (l1, c1) = position_of(&text, r#""enterd""#);
    let (l2, c2) = position_of(&text, "10\n");
    assert_eq!(
        err.to_string(),
        format!(
            "pbx.toml:{l1}:{c1}: columns.offered_at: expected a column name from the header or a 1-based index, found \"enterd\" (did you mean \"entered\"?)\n\
             pbx.toml:{l2}:{c2}: columns.talk_seconds: expected a column index from 1 to 9 (the header row has 9 columns), found 10"
        )
    );
    assert!(mapping.check_header(&["call id", "entered"]).is_err());
}

#[test]
fn a_misspelt_column_in_the_bank_mapping_is_reported_as_the_readme_shows() {
    let path = workspace_root().join("examples/mappings/anonymous-bank.toml");
    let text = std::fs::read_to_string(path).expect("mapping").replacen(
        r#"offered_at = "q_start""#,
        r#"offered_at = "q_strat""#,
        1,
    );
    let mapping = Mapping::parse("anonymous-bank.toml", &text).expect("well formed");
    // The header as the bank's README lists it.
    let header = "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver\r\n";
    let Err(OpenError::Mapping(d)) =
        MappedReader::open(&mapping, Cursor::new(header), TimeZone::UTC)
    else {
        panic!("must fail")
    };
    assert_eq!(
        d.to_string(),
        "anonymous-bank.toml:56:14: columns.offered_at: expected a column name from the header or a 1-based index, found \"q_strat\" (did you mean \"q_start\"?)"
    );
}

#[test]
fn the_shipped_bank_mapping_parses() {
    let m = load_mapping(&workspace_root().join("examples/mappings/anonymous-bank.toml"));
    assert!(m.has_header());
}

// ---------------------------------------------------------------------------
// Hand-written fixtures
// ---------------------------------------------------------------------------

#[test]
fn csv_with_header_bom_crlf_quotes_absent_values_outcomes_skips_and_garbage() {
    let mapping = load_mapping(&fixture("pbx.toml"));
    let file = std::fs::File::open(fixture("pbx.csv")).expect("pbx.csv");
    let reader =
        MappedReader::open(&mapping, std::io::BufReader::new(file), shanghai()).expect("open");
    let read = read_all(reader);

    // The BOM is not part of the first column's name, CRLF not part of the last value.
    let c1 = call(&read, "c1");
    assert_eq!(c1.queue.as_deref(), Some("sales"));
    assert_eq!(c1.caller.as_deref(), Some("+86 138 0000 0001"));
    assert_eq!(c1.agent.as_deref(), Some("alice"));
    assert_eq!(c1.outcome, CallOutcome::Answered);
    // The caller's zone (the contract's) applies: the mapping names none.
    assert_eq!(c1.offered_at, ts("2026-01-05T01:00:00Z"));
    assert_eq!(c1.answered_at, Some(ts("2026-01-05T01:00:12Z")));
    assert_eq!(c1.ended_at, Some(ts("2026-01-05T01:03:00Z")));
    assert_eq!(c1.talk, Some(jiff::SignedDuration::from_secs(168)));
    assert_eq!(c1.wait(), Some(jiff::SignedDuration::from_secs(12)));

    // Quoted fields with the delimiter and doubled quotes; NULL and "" are absent.
    let c2 = call(&read, "c2");
    assert_eq!(c2.queue.as_deref(), Some("sales, north"));
    assert_eq!(c2.caller.as_deref(), Some("\"VIP\" 139"));
    assert_eq!(c2.agent, None);
    assert_eq!(c2.outcome, CallOutcome::Abandoned);
    assert_eq!(c2.answered_at, None);
    assert_eq!(c2.talk, None);
    assert_eq!(c2.wait(), Some(jiff::SignedDuration::from_secs(40)));

    // Midnight crossing with full timestamps needs nothing special.
    let c4 = call(&read, "c4");
    assert_eq!(c4.wait(), Some(jiff::SignedDuration::from_secs(15)));
    assert_eq!(call(&read, "c5").outcome, CallOutcome::TimedOut);
    // Answered 1 s "before" the queue entry: within max_clock_skew, clamped to zero wait.
    assert_eq!(call(&read, "c7").wait(), Some(jiff::SignedDuration::ZERO));
    // The last line has no line end.
    assert_eq!(call(&read, "c14").agent.as_deref(), Some("erin"));

    let ids: Vec<&str> = read
        .calls
        .iter()
        .map(|(c, _)| c.source_id.as_str())
        .collect();
    assert_eq!(ids, ["c1", "c2", "c4", "c5", "c7", "c14"]);

    // The garbage row in the middle, and the reader went on.
    let r = rejected_at(&read, 5);
    assert_eq!(r.reason, "expected 9 fields separated by commas, found 1");
    assert_eq!(r.raw, "%%% this is not a call %%%");
    let r = rejected_at(&read, 8);
    assert_eq!(r.field.as_deref(), Some("result"));
    assert_eq!(r.value.as_deref(), Some("WEIRD"));
    assert_eq!(r.column, Some(36));
    assert_eq!(
        r.reason,
        "unknown outcome code; the mapping knows ANSWERED, ABANDON, TIMEOUT"
    );
    let r = rejected_at(&read, 10);
    assert_eq!(r.field.as_deref(), Some("answered"));
    assert_eq!(
        r.reason,
        "answered 60s before it entered the queue (entered)"
    );
    let r = rejected_at(&read, 11);
    assert_eq!(r.field.as_deref(), Some("entered"));
    assert_eq!(r.value.as_deref(), Some("2026-13-05 10:05:00"));
    assert_eq!(r.column, Some(19));
    assert_eq!(
        r.reason,
        "expected a date and time written as \"%Y-%m-%d %H:%M:%S\""
    );
    let r = rejected_at(&read, 12);
    assert_eq!(
        r.reason,
        "the row has a quoted field that is not closed on its line"
    );
    assert_eq!(r.column, Some(5));
    let r = rejected_at(&read, 15);
    assert_eq!(r.reason, "expected 9 fields separated by commas, found 10");
    let r = rejected_at(&read, 16);
    assert_eq!(
        (r.field.as_deref(), r.value.as_deref()),
        (Some("talk"), Some("-3"))
    );
    assert_eq!(read.rejected.len(), 7);

    assert_eq!(
        read.counts,
        MappedCounts {
            rows: 17,
            calls: 6,
            skipped_blank: 2, // line 13 (blank) and line 17 (the header again)
            skipped_by_filter: 1,
            not_offered: 1,
            rejected: 7,
            warnings: 0,
        }
    );
    assert_counts_add_up(&read.counts);
}

#[test]
fn tsv_without_header_date_and_times_of_day_midnight_not_offered_and_checks() {
    let mapping = load_mapping(&fixture("switch.toml"));
    let file = std::fs::File::open(fixture("switch.tsv")).expect("switch.tsv");
    // The caller says UTC, the mapping fixes Asia/Shanghai: the mapping wins.
    let reader =
        MappedReader::open(&mapping, std::io::BufReader::new(file), TimeZone::UTC).expect("open");
    let read = read_all(reader);

    let a1 = call(&read, "A-1");
    assert_eq!(a1.offered_at, ts("2026-01-05T01:00:05Z"));
    assert_eq!(
        a1.outcome,
        CallOutcome::Answered,
        "derived from the answer time"
    );
    assert_eq!(a1.wait(), Some(jiff::SignedDuration::from_secs(20)));
    assert_eq!(a1.agent.as_deref(), Some("ann"));

    // Answered after midnight: the time of day is read on the next day.
    let a2 = call(&read, "A-2");
    assert_eq!(a2.answered_at, Some(ts("2026-01-05T16:00:10Z")));
    assert_eq!(a2.wait(), Some(jiff::SignedDuration::from_secs(40)));
    assert_eq!(a2.ended_at, Some(ts("2026-01-05T16:10:00Z")));

    // Entered the queue after midnight; abandoned, no end time recorded.
    let a3 = call(&read, "A-3");
    assert_eq!(a3.offered_at, ts("2026-01-05T16:00:30Z"));
    assert_eq!(a3.outcome, CallOutcome::Abandoned);
    assert_eq!(a3.ended_at, None);

    // Crossing the month boundary.
    let a11 = call(&read, "A-11");
    assert_eq!(a11.answered_at, Some(ts("2026-01-31T16:00:01Z")));

    // The check: queue entry before the row's start time is a warning, not a rejection.
    assert_eq!(
        call(&read, "A-6").wait(),
        Some(jiff::SignedDuration::from_secs(90))
    );
    assert_eq!(read.warnings.len(), 1, "{:#?}", read.warnings);
    let w = &read.warnings[0];
    assert_eq!(
        (w.line, w.field.as_deref(), w.value.as_deref()),
        (6, Some("column 5"), Some("8:09:00"))
    );
    assert_eq!(
        w.reason,
        "column 5 is 60s before column 4; the row's queue times are kept"
    );

    let r = rejected_at(&read, 5);
    assert_eq!(r.reason, "answered, but the queue-entry time is absent");
    let r = rejected_at(&read, 8);
    assert_eq!(
        r.reason,
        "expected 9 fields separated by tabs, found 1; field 1 (column 1) holds spaces where a tab was probably meant"
    );
    let r = rejected_at(&read, 9);
    assert_eq!(
        (r.field.as_deref(), r.value.as_deref()),
        (Some("column 4"), Some("25:00:00"))
    );
    assert_eq!(r.reason, "expected a time of day written as \"%H:%M:%S\"");
    let r = rejected_at(&read, 10);
    assert_eq!(r.reason, "expected a date written as \"%Y%m%d\"");

    assert_eq!(
        read.counts,
        MappedCounts {
            rows: 11,
            calls: 5,
            skipped_blank: 0,
            skipped_by_filter: 1,
            not_offered: 1,
            rejected: 4,
            warnings: 1,
        }
    );
}

#[test]
fn too_few_fields_with_spaces_for_a_tab_is_rejected_with_the_field_that_holds_them() {
    let mapping = load_mapping(&fixture("switch.toml"));
    let input = "A\t1\t20260105\t9:00:00  9:00:05\t9:00:25\t9:05:00\tok\tann\n";
    let read =
        read_all(MappedReader::open(&mapping, Cursor::new(input), TimeZone::UTC).expect("open"));
    let r = rejected_at(&read, 1);
    assert_eq!(
        r.reason,
        "expected 9 fields separated by tabs, found 8; field 4 (column 4) holds spaces where a tab was probably meant"
    );
    assert_eq!(r.column, Some(14));
    assert_eq!(r.value.as_deref(), Some("9:00:00  9:00:05"));
}

#[test]
fn a_resumed_reader_yields_exactly_the_rest() {
    let mapping = load_mapping(&fixture("pbx.toml"));
    let bytes = std::fs::read(fixture("pbx.csv")).expect("pbx.csv");
    let whole =
        read_all(MappedReader::open(&mapping, Cursor::new(&bytes), shanghai()).expect("open"));

    let mut first = MappedReader::open(&mapping, Cursor::new(&bytes), shanghai()).expect("open");
    let mut ids = vec![];
    for item in first.by_ref() {
        if let Item::Call { call, .. } = item {
            ids.push(call.source_id);
            if ids.len() == 3 {
                break;
            }
        }
    }
    let (offset, line) = (first.resume_offset(), first.resume_line());
    assert_eq!(first.bytes_read(), offset);
    let rest = read_all(
        MappedReader::resume(&mapping, Cursor::new(&bytes), shanghai(), offset, line)
            .expect("resume"),
    );
    ids.extend(rest.calls.iter().map(|(c, _)| c.source_id.clone()));
    let all: Vec<String> = whole
        .calls
        .iter()
        .map(|(c, _)| c.source_id.clone())
        .collect();
    assert_eq!(ids, all);
    let first_rejected_after = rest.rejected.first().map(|r| r.line);
    assert!(first_rejected_after.is_some_and(|l| l > 5));
}

// ---------------------------------------------------------------------------
// Arbitrary rows
// ---------------------------------------------------------------------------

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("-".to_string()),
        Just("ok".to_string()),
        Just("X".to_string()),
        Just("20260105".to_string()),
        Just("23:59:59".to_string()),
        Just("0:00:01".to_string()),
        (0u8..30, 0u8..70, 0u8..70).prop_map(|(h, m, s)| format!("{h}:{m:02}:{s:02}")),
        "[ -~\t\"é中]{0,12}",
    ]
}

fn row() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(field(), 9).prop_map(|f| f.join("\t")),
        prop::collection::vec(field(), 0..12).prop_map(|f| f.join("\t")),
        "[ -~\t\r\"]{0,40}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_rows_never_panic_and_every_row_is_counted_once(rows in prop::collection::vec(row(), 0..40)) {
        let mapping = load_mapping(&fixture("switch.toml"));
        let input = rows.join("\n");
        let lines = input.lines().count() as u64;
        let reader = MappedReader::open(&mapping, Cursor::new(input.as_bytes()), TimeZone::UTC).expect("open");
        let read = read_all(reader);
        let c = read.counts;
        prop_assert_eq!(c.rows, lines);
        prop_assert_eq!(c.calls, read.calls.len() as u64);
        prop_assert_eq!(c.rejected, read.rejected.len() as u64);
        prop_assert_eq!(c.rows, c.calls + c.skipped_blank + c.skipped_by_filter + c.not_offered + c.rejected);
        for r in &read.rejected {
            prop_assert!(r.line >= 1 && r.line <= lines);
            prop_assert!(!r.reason.is_empty());
        }
        for (call, _) in &read.calls {
            if let Some(w) = call.wait() {
                prop_assert!(w >= jiff::SignedDuration::ZERO);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The real Anonymous Bank log
// ---------------------------------------------------------------------------

fn real_bank_dir() -> Option<PathBuf> {
    let dir = workspace_root().join("../shared/data/real/anonymous_bank");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!(
            "skipped: {} is absent (the real Anonymous Bank data is not shipped with kefu)",
            dir.display()
        );
        None
    }
}

#[derive(Debug, PartialEq)]
struct Figures {
    offered: u64,
    answered: u64,
    abandoned: u64,
    answered_wait_seconds: i64,
    asa_seconds: String,
    answered_within_20s: u64,
    service_level_20s: String,
}

fn kefu_figures(read: &Read) -> Figures {
    let calls = read.calls.iter().map(|(c, _)| c);
    let answered: Vec<&CallRecord> = calls
        .clone()
        .filter(|c| c.outcome == CallOutcome::Answered)
        .collect();
    let waits: Vec<i64> = answered
        .iter()
        .map(|c| c.wait().expect("an answered call has a wait").as_secs())
        .collect();
    let offered = read.calls.len() as u64;
    let total: i64 = waits.iter().sum();
    let within = waits.iter().filter(|w| **w <= 20).count() as u64;
    Figures {
        offered,
        answered: answered.len() as u64,
        abandoned: calls
            .filter(|c| c.outcome == CallOutcome::Abandoned)
            .count() as u64,
        answered_wait_seconds: total,
        // Printed shortest-round-trip, like Python's repr: equal strings, equal floats.
        asa_seconds: format!("{:?}", total as f64 / answered.len() as f64),
        answered_within_20s: within,
        service_level_20s: format!("{:?}", within as f64 / offered as f64),
    }
}

fn reference(file: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bank_reference.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(file)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from bank_reference.py")
}

fn reference_figures(v: &serde_json::Value) -> Figures {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}"));
    Figures {
        offered: n("offered"),
        answered: n("answered"),
        abandoned: n("abandoned"),
        answered_wait_seconds: v["answered_wait_seconds"].as_i64().expect("wait"),
        asa_seconds: v["asa_seconds_repr"].as_str().expect("asa").to_string(),
        answered_within_20s: n("answered_within_20s"),
        service_level_20s: v["service_level_20s_repr"]
            .as_str()
            .expect("sl")
            .to_string(),
    }
}

fn negative_vru_warnings(read: &Read) -> u64 {
    read.warnings
        .iter()
        .filter(|w| {
            w.field.as_deref() == Some("vru_exit")
                && w.reason
                    .ends_with("before vru_entry; the row's queue times are kept")
        })
        .count() as u64
}

fn import_bank(file: &Path) -> Read {
    let mapping = load_mapping(&workspace_root().join("examples/mappings/anonymous-bank.toml"));
    let f = std::fs::File::open(file).expect("bank file");
    // The caller's zone is ignored: the mapping fixes Asia/Jerusalem.
    let reader =
        MappedReader::open(&mapping, std::io::BufReader::new(f), shanghai()).expect("open");
    assert_eq!(reader.zone().iana_name(), Some("Asia/Jerusalem"));
    read_all(reader)
}

#[test]
fn real_bank_january_matches_an_independent_sql_computation() {
    let Some(dir) = real_bank_dir() else { return };
    let file = dir.join("january.txt");
    let read = import_bank(&file);
    let reference = reference(&file);
    let ours = kefu_figures(&read);
    println!(
        "kefu:      {ours:?}\nreference: {reference}\ncounts:    {:?}",
        read.counts
    );
    assert_eq!(ours, reference_figures(&reference));
    assert_eq!(
        read.counts.not_offered,
        reference["not_offered"].as_u64().expect("n")
    );
    assert_eq!(
        read.counts.skipped_by_filter,
        reference["phantom"].as_u64().expect("p")
    );
    assert!(
        read.rejected.is_empty(),
        "{:#?}",
        &read.rejected[..read.rejected.len().min(5)]
    );
    assert_counts_add_up(&read.counts);
    assert_eq!(read.counts.rows, 31_599);
    // NO_SERVER on an answered call: kept, agent unknown, warned.
    let no_agent = read
        .warnings
        .iter()
        .filter(|w| w.reason.starts_with("answered, but no agent is recorded"))
        .count() as u64;
    assert_eq!(
        no_agent,
        reference["answered_without_agent"].as_u64().expect("n")
    );
    // The calls that cross midnight are on the next day, not 24 h in the past.
    let first = read
        .calls
        .iter()
        .find(|(c, _)| c.source_id == "AA0101-33118")
        .expect("a call");
    assert_eq!(first.0.offered_at, ts("1999-01-01T04:55:26Z"));
    assert_eq!(first.0.wait(), Some(jiff::SignedDuration::from_secs(17)));
}

#[test]
fn real_bank_october_rejects_the_two_space_separated_rows_and_keeps_the_rest() {
    let Some(dir) = real_bank_dir() else { return };
    let file = dir.join("october.txt");
    let read = import_bank(&file);
    let reference = reference(&file);
    assert_eq!(kefu_figures(&read), reference_figures(&reference));
    let lines: Vec<u64> = read.rejected.iter().map(|r| r.line).collect();
    assert_eq!(lines, [7315, 14247]);
    assert_eq!(
        serde_json::json!(lines),
        reference["rejected_lines"],
        "the reference rejects the same rows"
    );
    for r in &read.rejected {
        assert_eq!(
            r.reason,
            "expected 17 fields separated by tabs, found 16; field 4 (priority) holds spaces where a tab was probably meant"
        );
        assert_eq!(r.field.as_deref(), Some("priority"));
        assert!(
            r.value.as_deref().is_some_and(|v| v.starts_with("0 ")),
            "{r:?}"
        );
    }
    assert_eq!(
        negative_vru_warnings(&read),
        reference["negative_vru_time"].as_u64().expect("n")
    );
    assert_counts_add_up(&read.counts);
}

#[test]
fn real_bank_february_matches_too() {
    let Some(dir) = real_bank_dir() else { return };
    let file = dir.join("data_anonymous_bank_february.txt");
    let read = import_bank(&file);
    assert!(read.rejected.is_empty(), "{:#?}", read.rejected);
    assert_eq!(kefu_figures(&read), reference_figures(&reference(&file)));
}
