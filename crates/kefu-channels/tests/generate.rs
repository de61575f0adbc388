//! The traffic generator: deterministic, read back by the importers to exactly
//! the calls it simulated, with a plausible month's shape.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use kefu_channels::phone::cdr::{CdrOptions, CdrReader};
use kefu_channels::phone::connect::{ConnectOptions, ConnectReader};
use kefu_channels::phone::generate::{Format, GenerateOptions, GenerateSummary, Generator};
use kefu_channels::phone::queue_log::{QueueLogOptions, QueueLogReader};
use kefu_channels::phone::source::Item;
use kefu_core::calendar::{DayType, HolidayCalendar, ServiceCalendar, ServiceHours, Window};
use kefu_core::contract::{self, SourceFile};
use kefu_core::phone::{CallOutcome, CallRecord};

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("tzdb")
}

/// October 2026: the National Day holiday, weekends, and a make-up working day.
fn options(calls: u64, seed: u64) -> GenerateOptions {
    let mut o = GenerateOptions::new(2026, 10, calls);
    o.seed = seed;
    o.queues = vec!["hotline".to_owned(), "broadband".to_owned()];
    o
}

fn generate(opts: GenerateOptions, format: Format) -> (Vec<u8>, Vec<CallRecord>, GenerateSummary) {
    let g = Generator::new(opts).expect("valid options");
    let mut out = Vec::new();
    let mut truth = Vec::new();
    let summary = g
        .run_with_calls(format, &mut out, |c| truth.push(c.clone()))
        .expect("writing to memory");
    (out, truth, summary)
}

fn calls_of(items: impl Iterator<Item = Item>) -> Vec<CallRecord> {
    let mut calls = Vec::new();
    for item in items {
        match item {
            Item::Call { call, .. } => calls.push(call),
            Item::Agent(_) => {}
            Item::Rejected(r) => panic!(
                "generated line {} rejected: {}: {}",
                r.line, r.reason, r.raw
            ),
        }
    }
    calls
}

/// Same ids, and every call equal to its ground truth.
fn assert_same_calls(read: &[CallRecord], truth: &[CallRecord]) {
    let by_id: HashMap<&str, &CallRecord> =
        truth.iter().map(|c| (c.source_id.as_str(), c)).collect();
    assert_eq!(by_id.len(), truth.len(), "ground-truth ids are unique");
    assert_eq!(read.len(), truth.len(), "as many calls read as generated");
    for call in read {
        let want = by_id
            .get(call.source_id.as_str())
            .unwrap_or_else(|| panic!("read a call the generator did not make: {call:?}"));
        assert_eq!(call, *want);
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_differs() {
    for format in Format::ALL {
        let g1 = Generator::new(options(3_000, 7)).expect("valid");
        let g2 = Generator::new(options(3_000, 7)).expect("valid");
        let g3 = Generator::new(options(3_000, 8)).expect("valid");
        let (mut a, mut b, mut c, mut again) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let sa = g1.run(format, &mut a).expect("write");
        g2.run(format, &mut b).expect("write");
        g3.run(format, &mut c).expect("write");
        g1.run(format, &mut again).expect("write");
        assert!(!a.is_empty());
        assert_eq!(sa.bytes, a.len() as u64);
        assert!(a == b, "{format:?}: same seed, same bytes");
        assert!(a == again, "{format:?}: a second run writes the same bytes");
        assert!(a != c, "{format:?}: another seed, other bytes");
    }
}

#[test]
fn every_format_describes_the_same_simulated_calls() {
    let (_, ql, s1) = generate(options(3_000, 3), Format::QueueLog);
    let (_, cdr, s2) = generate(options(3_000, 3), Format::Cdr);
    let (_, ctr, s3) = generate(options(3_000, 3), Format::Connect);
    assert_eq!(ql.len(), cdr.len());
    assert_eq!(ql.len(), ctr.len());
    for ((a, b), c) in ql.iter().zip(&cdr).zip(&ctr) {
        assert_eq!(a.offered_at, b.offered_at);
        assert_eq!(a.offered_at, c.offered_at);
        assert_eq!(a.ended_at, c.ended_at);
        assert_eq!(a.talk, c.talk);
    }
    for s in [&s2, &s3] {
        assert_eq!(
            (s1.offered, s1.answered, s1.abandoned, s1.timed_out),
            (s.offered, s.answered, s.abandoned, s.timed_out)
        );
    }
}

#[test]
fn queue_log_read_back_yields_exactly_the_generated_calls() {
    let (bytes, truth, summary) = generate(options(20_000, 11), Format::QueueLog);
    let mut reader = QueueLogReader::new(bytes.as_slice(), QueueLogOptions::default());
    let read = calls_of(reader.by_ref());
    assert_same_calls(&read, &truth);
    let stats = reader.stats();
    assert_eq!(stats.lines, summary.lines);
    assert_eq!(stats.accounted_lines(), stats.lines);
    assert_eq!(stats.unknown_events, 0);
    assert_eq!(stats.out_of_order, 0);
    assert_eq!(
        (stats.evicted, stats.unfinished, stats.duplicates),
        (0, 0, 0)
    );
    // Every case the model has shows up in a month.
    assert!(truth.iter().any(|c| c.unanswered_rings > 0), "RINGNOANSWER");
    assert!(truth.iter().any(|c| c.transferred_to.is_some()), "TRANSFER");
    assert!(
        truth.iter().any(|c| c.outcome == CallOutcome::TimedOut),
        "EXITWITHTIMEOUT"
    );
    assert!(
        truth.iter().any(|c| c.outcome == CallOutcome::Abandoned),
        "ABANDON"
    );
    let text = String::from_utf8(bytes).expect("ASCII");
    for event in [
        "|ENTERQUEUE||1",
        "|CONNECT|",
        "|COMPLETECALLER|",
        "|COMPLETEAGENT|",
        "|RINGNOANSWER|15000",
        "|AGENTLOGIN|SIP/",
        "|AGENTLOGOFF|SIP/",
        "|PAUSE|lunch",
        "|UNPAUSE|break",
    ] {
        assert!(text.contains(event), "the log has {event}");
    }
}

#[test]
fn cdr_read_back_yields_exactly_the_generated_calls() {
    let (bytes, truth, summary) = generate(options(20_000, 12), Format::Cdr);
    assert_eq!(summary.lines, truth.len() as u64, "one CDR row per call");
    let opts = CdrOptions {
        time_zone: shanghai(),
        ..CdrOptions::default()
    };
    let mut reader = CdrReader::new(bytes.as_slice(), opts);
    let read = calls_of(reader.by_ref());
    assert_same_calls(&read, &truth);
    assert_eq!(reader.stats().records, truth.len() as u64);
    let first = String::from_utf8_lossy(bytes.split(|&b| b == b'\n').next().unwrap_or_default())
        .into_owned();
    assert!(first.contains(",\"Queue\",\""), "lastapp is Queue: {first}");
}

#[test]
fn connect_read_back_yields_exactly_the_generated_calls_keeping_the_latest_version() {
    let mut opts = options(20_000, 13);
    opts.duplicate_share = 0.01;
    let (bytes, truth, summary) = generate(opts, Format::Connect);
    assert!(summary.duplicates > 0, "some contacts are written twice");
    assert_eq!(summary.lines, truth.len() as u64 + summary.duplicates);
    let mut reader = ConnectReader::new(bytes.as_slice(), ConnectOptions::default());
    let mut latest: BTreeMap<String, (Timestamp, CallRecord)> = BTreeMap::new();
    let mut yielded = 0u64;
    while let Some(item) = reader.next() {
        match item {
            Item::Call { call, .. } => {
                yielded += 1;
                let version = reader.last_version().expect("a version per call");
                let keep = latest
                    .get(&call.source_id)
                    .is_none_or(|(seen, _)| *seen < version);
                if keep {
                    latest.insert(call.source_id.clone(), (version, call));
                }
            }
            Item::Agent(_) => {}
            Item::Rejected(r) => panic!("line {} rejected: {}", r.line, r.reason),
        }
    }
    // Each duplicate is a later version, so the reader yields it again.
    assert_eq!(yielded, truth.len() as u64 + summary.duplicates);
    assert_eq!(reader.stats().superseded, 0);
    let read: Vec<CallRecord> = latest.into_values().map(|(_, c)| c).collect();
    assert_same_calls(&read, &truth);
}

#[test]
fn totals_are_near_the_requested_count_with_a_plausible_shape() {
    let requested = 60_000;
    let (_, truth, summary) = generate(options(requested, 21), Format::QueueLog);
    let offered = summary.offered as f64;
    assert_eq!(summary.offered, truth.len() as u64);
    assert!(
        (offered / requested as f64 - 1.0).abs() < 0.05,
        "offered {offered} vs requested {requested}"
    );
    let abandon = (summary.abandoned + summary.timed_out) as f64 / offered;
    assert!((0.005..0.15).contains(&abandon), "abandon share {abandon}");
    let timed_out = summary.timed_out as f64 / offered;
    assert!(timed_out < 0.02, "timeouts are rare: {timed_out}");
    let transferred = summary.transferred as f64 / summary.answered as f64;
    assert!(
        (0.01..0.06).contains(&transferred),
        "transfers {transferred}"
    );

    // Weekday / weekend / holiday shape, per local day.
    let tz = shanghai();
    let cal = HolidayCalendar::builtin();
    let mut per_day: BTreeMap<Date, u64> = BTreeMap::new();
    let mut per_hour = [0u64; 24];
    for c in &truth {
        let local = tz.to_datetime(c.offered_at);
        *per_day.entry(local.date()).or_default() += 1;
        if let Some(h) = per_hour.get_mut(local.hour() as usize) {
            *h += 1;
        }
    }
    assert_eq!(per_day.len(), 31, "calls on every day of the month");
    let mean = |kinds: &[DayType], weekend: Option<bool>| {
        let days: Vec<u64> = per_day
            .iter()
            .filter(|(d, _)| {
                let kind = cal.day(**d).expect("2026 data").kind;
                let is_weekend = matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday);
                kinds.contains(&kind) && weekend.is_none_or(|w| w == is_weekend)
            })
            .map(|(_, n)| *n)
            .collect();
        assert!(!days.is_empty());
        days.iter().sum::<u64>() as f64 / days.len() as f64
    };
    let workday = mean(&[DayType::Workday], Some(false));
    let weekend = mean(&[DayType::Weekend], Some(true));
    let holiday = mean(&[DayType::StatutoryHoliday], None);
    assert!(
        (0.5..0.9).contains(&(weekend / workday)),
        "weekend/workday {weekend}/{workday}"
    );
    assert!(
        holiday < weekend * 1.05,
        "holidays are light: {holiday} vs {weekend}"
    );
    // Day shape: nights are quiet, 10:00 and 15:00 are peaks, lunch dips.
    let (night, ten, lunch, three) = (per_hour[3], per_hour[10], per_hour[12], per_hour[15]);
    assert!(night * 8 < ten, "night {night} vs 10:00 {ten}");
    assert!(
        lunch < ten && lunch < three,
        "lunch dip {lunch} < {ten}, {three}"
    );

    // Mostly good service, but not everywhere: some days miss 95% answered.
    let mut daily: BTreeMap<Date, (u64, u64)> = BTreeMap::new();
    for c in &truth {
        let e = daily
            .entry(tz.to_datetime(c.offered_at).date())
            .or_default();
        e.0 += 1;
        e.1 += u64::from(c.outcome == CallOutcome::Answered);
    }
    let rates: Vec<f64> = daily.values().map(|(o, a)| *a as f64 / *o as f64).collect();
    let good = rates.iter().filter(|r| **r >= 0.95).count();
    assert!(good >= 10, "most days meet 95%: {rates:?}");
    let waits: Vec<SignedDuration> = truth
        .iter()
        .filter(|c| c.outcome == CallOutcome::Answered)
        .filter_map(CallRecord::wait)
        .collect();
    let long = waits.iter().filter(|w| w.as_secs() > 20).count();
    assert!(long > 0, "some callers wait longer than 20 s");
    assert!(summary.agents > 10 && summary.unfilled_shifts > 0);
}

#[test]
fn queue_log_is_in_non_decreasing_time_order() {
    let (bytes, _, _) = generate(options(20_000, 31), Format::QueueLog);
    let text = String::from_utf8(bytes).expect("ASCII");
    let mut last = 0i64;
    let mut n = 0;
    for line in text.lines() {
        let epoch: i64 = line
            .split('|')
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("epoch first: {line}"));
        assert!(epoch >= last, "line {n} goes back in time: {line}");
        last = epoch;
        n += 1;
    }
    assert!(n > 40_000);
}

fn example_contract() -> contract::Contract {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/");
    let base = std::fs::read_to_string(format!("{dir}contract.toml")).expect("example contract");
    let mut read = |p: &str| -> Result<(String, String), String> {
        std::fs::read_to_string(format!("{dir}{p}"))
            .map(|t| (p.to_owned(), t))
            .map_err(|e| e.to_string())
    };
    let doc = contract::load(
        SourceFile::new("contract.toml", base),
        &HolidayCalendar::builtin(),
        &mut read,
    )
    .unwrap_or_else(|d| panic!("the example contract loads:\n{d}"));
    doc.base().clone()
}

#[test]
fn a_month_starts_and_ends_at_local_midnight_in_the_contract_time_zone() {
    let contract = example_contract();
    for (year, month) in [(2026, 10), (2026, 12), (2027, 2)] {
        let opts = GenerateOptions::for_contract(&contract, year, month, 8_000);
        let tz = opts.time_zone.clone();
        let g = Generator::new(opts).expect("valid");
        let (from, to) = g.period();
        let first = Date::new(year, month, 1).expect("date");
        let next = first.last_of_month().tomorrow().expect("date");
        assert_eq!(from, tz.to_timestamp(first.at(0, 0, 0, 0)).expect("local"));
        assert_eq!(to, tz.to_timestamp(next.at(0, 0, 0, 0)).expect("local"));
        let mut truth = Vec::new();
        let summary = g
            .run_with_calls(Format::Cdr, &mut std::io::sink(), |c| truth.push(c.clone()))
            .expect("write");
        let first_offered = truth.iter().map(|c| c.offered_at).min().expect("calls");
        let last_offered = truth.iter().map(|c| c.offered_at).max().expect("calls");
        assert_eq!(summary.first_offered, Some(first_offered));
        assert_eq!(summary.last_offered, Some(last_offered));
        assert!(first_offered >= from, "{first_offered} before {from}");
        assert!(last_offered < to, "{last_offered} not before {to}");
        // Close to both ends: 24×7 hours, calls in the first and last local hour.
        assert!(first_offered.duration_since(from) < SignedDuration::from_hours(1));
        assert!(to.duration_since(last_offered) < SignedDuration::from_hours(1));
        // Calls waiting at midnight of the last day still end, after the month.
        assert!(truth.iter().all(|c| c.ended_at.is_some()));
    }
}

#[test]
fn calls_arrive_only_inside_service_hours() {
    let mut opts = options(10_000, 41);
    let window: Window = Window::new(
        kefu_core::calendar::MinuteOfDay::new(8 * 60).expect("08:00"),
        kefu_core::calendar::MinuteOfDay::new(22 * 60).expect("22:00"),
    )
    .expect("window");
    let service = ServiceCalendar::new(
        ServiceHours::Daily(vec![window]),
        shanghai(),
        std::sync::Arc::new(HolidayCalendar::builtin()),
    );
    opts.service = Some(service.clone());
    let (_, truth, summary) = generate(opts, Format::QueueLog);
    assert!(
        (9_500..10_500).contains(&summary.offered),
        "{}",
        summary.offered
    );
    for c in &truth {
        assert!(
            service.is_open(c.offered_at).expect("calendar"),
            "offered while closed: {c:?}"
        );
    }
}

#[test]
fn bad_options_are_refused_with_the_option_named() {
    let mut o = options(100, 1);
    o.month = 13;
    assert!(
        Generator::new(o)
            .err()
            .is_some_and(|e| e.to_string().contains("month"))
    );
    let mut o = options(100, 1);
    o.queues.clear();
    assert!(
        Generator::new(o)
            .err()
            .is_some_and(|e| e.to_string().contains("queues"))
    );
    let mut o = options(100, 1);
    o.no_answer_share = 1.5;
    assert!(
        Generator::new(o)
            .err()
            .is_some_and(|e| e.to_string().contains("no_answer_share"))
    );
    // No holiday data for the year: refused, not guessed.
    let o = GenerateOptions::new(2031, 1, 100);
    assert!(Generator::new(o).is_err());
    assert_eq!("cdr".parse::<Format>().ok(), Some(Format::Cdr));
    assert!("csv".parse::<Format>().is_err());
}
