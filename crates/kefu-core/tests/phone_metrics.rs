//! The phone service-level engine: interval aggregates, figures, verdicts
//! under the terms in force, and the budget of clause 4.2. Hand-built calls
//! with exact expected figures, and property tests against a naive
//! implementation that works from the calls themselves.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;

use jiff::civil::{Date, date};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use proptest::prelude::*;
use rust_decimal::Decimal;

use kefu_core::calendar::{HolidayCalendar, ServiceCalendar, ServiceHours};
use kefu_core::contract::{
    self, ConnectionRateFormula, ContractDocument, Duration, Percent, ServiceLevelFormula,
    SourceFile,
};
use kefu_core::phone::aggregate::{
    BucketKey, HoursInForce, Interval, PhoneAggregates, PhoneBucket, Placement, Threshold,
    WaitHistogram, bucket_key,
};
use kefu_core::phone::budget::{
    Budget, ForecastMethod, RatioBudget, WaitBudget, forecast_offered, period_budgets,
    ratio_budget, wait_budget,
};
use kefu_core::phone::metrics::{
    BillingPeriod, DateRange, MeanDuration, Measured, MetricSettings, PhoneFigures, Ratio, Scope,
    Shortfall, TargetBound, daily_verdicts, per_agent, per_day, per_hour_of_day, per_queue,
    period_verdicts,
};
use kefu_core::phone::{CallOutcome, CallRecord};

const CONTRACT: &str = include_str!("../../../examples/contract.toml");
const AMENDMENT_2027: &str = include_str!("../../../examples/amendment-2027-01.toml");

fn shanghai() -> TimeZone {
    TimeZone::get("Asia/Shanghai").expect("tz")
}

fn at(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn load(extra: &[(&str, &str)]) -> ContractDocument {
    let mut files: HashMap<String, String> = HashMap::new();
    files.insert("amendment-2027-01.toml".into(), AMENDMENT_2027.into());
    let mut base = CONTRACT.to_string();
    for (name, text) in extra {
        files.insert(name.to_string(), text.to_string());
        base = base.replace(
            "amendments = [\"amendment-2027-01.toml\"",
            &format!("amendments = [\"amendment-2027-01.toml\", \"{name}\""),
        );
    }
    let mut read = |p: &str| -> Result<(String, String), String> {
        files
            .get(p)
            .map(|t| (p.to_string(), t.clone()))
            .ok_or_else(|| "No such file".to_string())
    };
    contract::load(
        SourceFile::new("contract.toml", base),
        &HolidayCalendar::builtin(),
        &mut read,
    )
    .unwrap_or_else(|d| panic!("contract must load:\n{d}"))
}

/// A call offered at `offered`, waiting `wait_ms`, with the given outcome.
fn call(id: usize, offered: Timestamp, outcome: CallOutcome, wait_ms: i64) -> CallRecord {
    let left = offered + SignedDuration::from_millis(wait_ms);
    let answered = outcome == CallOutcome::Answered;
    CallRecord {
        source_id: format!("c{id}"),
        queue: Some("hotline".into()),
        caller: None,
        offered_at: offered,
        answered_at: answered.then_some(left),
        ended_at: Some(if answered {
            left + SignedDuration::from_secs(120)
        } else {
            left
        }),
        outcome,
        agent: answered.then(|| "agent-1".to_string()),
        talk: None,
        unanswered_rings: 0,
        transferred_to: None,
    }
}

fn aggregate(calls: &[CallRecord]) -> PhoneAggregates {
    let mut a = PhoneAggregates::new(Interval::DEFAULT, shanghai());
    for c in calls {
        a.add_call(c).expect("always open");
    }
    a
}

fn pct(s: &str) -> Percent {
    s.parse().expect("percent")
}

fn settings(formula: ConnectionRateFormula, short: u32, within: u32) -> MetricSettings {
    MetricSettings {
        connection_rate_formula: formula,
        short_abandon: Threshold::from_secs(short),
        service_level_within: Threshold::from_secs(within),
        service_level_formula: ServiceLevelFormula::WithinOverOffered,
    }
}

// ------------------------------------------------------------------ exact figures

#[test]
fn twenty_calls_give_exact_figures_and_short_abandons_leave_the_denominator() {
    let t0 = at("2026-10-12T10:00:00+08:00");
    let mut calls = Vec::new();
    // 18 answered, waiting 1 s … 18 s.
    for i in 0..18 {
        calls.push(call(
            i,
            t0 + SignedDuration::from_secs(60 * i as i64),
            CallOutcome::Answered,
            1000 * (i as i64 + 1),
        ));
    }
    calls.push(call(18, t0, CallOutcome::Abandoned, 3_000));
    calls.push(call(19, t0, CallOutcome::Abandoned, 30_000));
    let aggs = aggregate(&calls);
    let day = DateRange::day(date(2026, 10, 12));
    let s = settings(
        ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons,
        5,
        20,
    );
    let f = PhoneFigures::of(aggs.buckets().map(|(_, b)| b), &s);
    assert_eq!((f.offered, f.answered, f.abandoned), (20, 18, 2));
    assert_eq!(f.short_abandoned, 1);
    assert_eq!(f.connection_rate, Ratio::new(18, 19));
    // Mean of 1..=18 s = 9.5 s, exact.
    let asa = f.average_speed_of_answer.expect("answered calls");
    assert_eq!(
        asa,
        MeanDuration {
            total_ms: 171_000,
            count: 18
        }
    );
    assert_eq!(asa.seconds(), Decimal::new(95, 1));
    assert_eq!(f.service_level, Ratio::new(18, 20));
    assert_eq!(f.abandonment_rate, Ratio::new(2, 20));
    assert_eq!(f.longest_wait_ms, Some(30_000));
    assert_eq!(f.average_talk, MeanDuration::new(18 * 120_000, 18));
    assert_eq!(f.average_handle, f.average_talk);
    // The plain formula keeps short abandons in the denominator.
    let plain = settings(ConnectionRateFormula::AnsweredOverOffered, 5, 20);
    let g = PhoneFigures::of(aggs.buckets().map(|(_, b)| b), &plain);
    assert_eq!(g.connection_rate, Ratio::new(18, 20));
    // Same answer from the day breakdown, and from an amended threshold of 2 s
    // without re-reading any call: the histogram answers any whole second.
    let d = per_day(&aggs, day, &s);
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].figures, f);
    let tighter = settings(
        ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons,
        2,
        20,
    );
    assert_eq!(
        PhoneFigures::of(aggs.buckets().map(|(_, b)| b), &tighter).connection_rate,
        Ratio::new(18, 20)
    );
}

#[test]
fn a_period_without_calls_has_no_figures_and_no_verdict() {
    let aggs = aggregate(&[]);
    let s = MetricSettings::default();
    let f = PhoneFigures::of(aggs.buckets().map(|(_, b)| b), &s);
    assert_eq!(f.offered, 0);
    assert_eq!(f.connection_rate, None);
    assert_eq!(f.average_speed_of_answer, None);
    assert_eq!(f.service_level, None);
    assert_eq!(f.abandonment_rate, None);
    assert_eq!(f.average_talk, None);
    assert_eq!(f.longest_wait_ms, None);
    let days = per_day(
        &aggs,
        BillingPeriod::new(2026, 2).expect("period").range(),
        &s,
    );
    assert_eq!(days.len(), 28);
    let doc = load(&[]);
    let pv = period_verdicts(&aggs, "2026-10".parse().expect("period"), &doc)
        .expect("settings")
        .expect("in force");
    assert_eq!(pv.verdicts.len(), 3);
    for v in &pv.verdicts {
        assert_eq!((v.value, v.met, v.shortfall), (None, None, None), "{v:?}");
    }
    // Only abandoned calls: a connection rate of 0, but no ASA to judge.
    let aggs = aggregate(&[call(
        0,
        at("2026-10-05T09:00:00+08:00"),
        CallOutcome::Abandoned,
        40_000,
    )]);
    let dv = daily_verdicts(&aggs, DateRange::day(date(2026, 10, 5)), &doc).expect("settings");
    let by = |m: &str| {
        dv[0]
            .verdicts
            .iter()
            .find(|v| v.metric == m)
            .expect("verdict")
            .clone()
    };
    assert_eq!(by("connection_rate").met, Some(false));
    assert_eq!(
        by("connection_rate").shortfall,
        Some(Shortfall::Points(Decimal::from(95)))
    );
    assert_eq!(by("average_speed_of_answer").met, None);
}

#[test]
fn within_means_at_most_and_short_means_strictly_below() {
    let t0 = at("2026-10-12T10:00:00+08:00");
    let calls = [
        call(0, t0, CallOutcome::Answered, 20_000),
        call(1, t0, CallOutcome::Answered, 20_001),
        call(2, t0, CallOutcome::Answered, 19_999),
        call(3, t0, CallOutcome::Abandoned, 5_000),
        call(4, t0, CallOutcome::Abandoned, 4_999),
    ];
    let b = PhoneBucket::total(aggregate(&calls).buckets().map(|(_, b)| b));
    assert_eq!(b.answered_within(Threshold::from_secs(20)), 2);
    assert_eq!(b.answered_within(Threshold::from_secs(19)), 0);
    assert_eq!(b.answered_within(Threshold::from_secs(21)), 3);
    assert_eq!(b.short_abandoned(Threshold::from_secs(5)), 1);
    assert_eq!(b.short_abandoned(Threshold::from_secs(6)), 2);
    assert_eq!(b.short_abandoned(Threshold::from_secs(0)), 0);
    // ASA exactly at the target meets it; one millisecond more misses it.
    assert!(
        MeanDuration::new(10_000, 2)
            .expect("n")
            .at_most(Duration::from_secs(5))
    );
    assert!(
        !MeanDuration::new(10_001, 2)
            .expect("n")
            .at_most(Duration::from_secs(5))
    );
    assert!(Ratio::new(19, 20).expect("d").at_least(pct("95%")));
    assert!(!Ratio::new(189, 200).expect("d").at_least(pct("95%")));
    assert!(Ratio::new(199, 200).expect("d").at_least(pct("99.5%")));
}

#[test]
fn thresholds_finer_than_a_second_are_refused_not_approximated() {
    assert_eq!(
        Threshold::new(Duration::from_secs(20)),
        Ok(Threshold::from_secs(20))
    );
    assert!(Threshold::new(Duration::from_millis(1500)).is_err());
    let amended = CONTRACT.replace("short_abandon = \"5s\"", "short_abandon = \"1500ms\"");
    let mut read = |p: &str| -> Result<(String, String), String> {
        Ok((p.to_string(), AMENDMENT_2027.to_string()))
    };
    let doc = contract::load(
        SourceFile::new("contract.toml", amended),
        &HolidayCalendar::builtin(),
        &mut read,
    )
    .unwrap_or_else(|d| panic!("loads:\n{d}"));
    let err = MetricSettings::from_contract(doc.base()).expect_err("refused");
    assert!(err.to_string().contains("short_abandon"), "{err}");
}

#[test]
fn the_month_boundary_is_the_contract_zones() {
    let tz = shanghai();
    // 2026-10-31T15:59:59Z: still 31 October in Shanghai.
    let late = call(
        0,
        at("2026-10-31T23:59:59+08:00"),
        CallOutcome::Answered,
        4_000,
    );
    assert_eq!(late.offered_at, at("2026-10-31T15:59:59Z"));
    let key = bucket_key(&late, Interval::DEFAULT, &tz);
    assert_eq!(key.start, date(2026, 10, 31).at(23, 30, 0, 0));
    assert_eq!(key.hour(), 23);
    let early = call(
        1,
        at("2026-11-01T00:00:00+08:00"),
        CallOutcome::Answered,
        4_000,
    );
    let aggs = aggregate(&[late, early]);
    let doc = load(&[]);
    let oct = period_verdicts(&aggs, "2026-10".parse().expect("p"), &doc)
        .expect("settings")
        .expect("in force");
    let nov = period_verdicts(&aggs, "2026-11".parse().expect("p"), &doc)
        .expect("settings")
        .expect("in force");
    assert_eq!((oct.figures.offered, nov.figures.offered), (1, 1));
    assert_eq!(oct.terms_of, date(2026, 10, 31));
    assert_eq!(oct.days.len(), 31);
    assert_eq!(BillingPeriod::of(date(2026, 10, 31)).to_string(), "2026-10");
}

#[test]
fn intervals_follow_the_contracts_staffing_interval() {
    let tz = shanghai();
    let c = call(
        0,
        at("2026-10-12T10:44:59.999+08:00"),
        CallOutcome::Answered,
        0,
    );
    let k = |min: u64| {
        bucket_key(
            &c,
            Interval::new(Duration::from_secs(min * 60)).expect("divides a day"),
            &tz,
        )
        .start
    };
    assert_eq!(k(30), date(2026, 10, 12).at(10, 30, 0, 0));
    assert_eq!(k(15), date(2026, 10, 12).at(10, 30, 0, 0));
    assert_eq!(k(60), date(2026, 10, 12).at(10, 0, 0, 0));
    assert!(Interval::new(Duration::from_secs(7 * 60)).is_err());
    assert_eq!(
        Interval::of_contract(load(&[]).base()),
        Ok(Interval::DEFAULT)
    );
}

#[test]
fn calls_outside_service_hours_are_not_counted() {
    let hours = ServiceHours::Daily(vec!["08:00-22:00".parse().expect("window")]);
    let cal = ServiceCalendar::new(hours, shanghai(), Arc::new(HolidayCalendar::builtin()));
    let mut aggs =
        PhoneAggregates::new(Interval::DEFAULT, shanghai()).with_hours(HoursInForce::fixed(cal));
    let inside = call(
        0,
        at("2026-10-12T21:59:59+08:00"),
        CallOutcome::Answered,
        1_000,
    );
    let outside = call(
        1,
        at("2026-10-12T22:00:00+08:00"),
        CallOutcome::Answered,
        1_000,
    );
    assert_eq!(aggs.add_call(&inside), Ok(Placement::Counted));
    assert_eq!(aggs.add_call(&outside), Ok(Placement::OutsideHours));
    assert_eq!(aggs.outside_hours(), 1);
    assert_eq!(
        aggs.total(date(2026, 10, 12), date(2026, 10, 12)).offered,
        1
    );
    // The example's phone line is 24×7: everything counts.
    let doc = load(&[]);
    let mut aggs = PhoneAggregates::for_document(&doc, &Arc::new(HolidayCalendar::builtin()))
        .expect("interval");
    assert_eq!(aggs.add_call(&outside), Ok(Placement::Counted));
}

const ASA_AMENDMENT: &str = r#"
kefu = 1

[amendment]
number = "GDT-KF-2026-0017-补0"
title = "平均响应时间调整"
amends = "GDT-KF-2026-0017"
signed_on = 2026-10-10
effective_from = 2026-10-16

[[articles]]
no = "第一条"
amends_clause = "4.1.1"
text = "自2026年10月16日起,电话客服平均响应时间不超过10秒。"
[articles.set.channels.phone.targets.average_speed_of_answer]
max = "10s"
assessed = "day"
"#;

#[test]
fn an_amendment_changes_the_asa_target_from_its_effective_date() {
    let doc = load(&[("asa.toml", ASA_AMENDMENT)]);
    // Every day of October: one call answered after 7 s.
    let calls: Vec<CallRecord> = BillingPeriod::new(2026, 10)
        .expect("p")
        .range()
        .days()
        .enumerate()
        .map(|(i, d)| {
            let t = d
                .at(12, 0, 0, 0)
                .to_zoned_datetime(shanghai())
                .expect("time")
                .timestamp();
            call(i, t, CallOutcome::Answered, 7_000)
        })
        .collect();
    let aggs = aggregate(&calls);
    let oct = BillingPeriod::new(2026, 10).expect("p");
    let days = daily_verdicts(&aggs, oct.range(), &doc).expect("settings");
    assert_eq!(days.len(), 31);
    let asa = |d: &kefu_core::phone::metrics::DayVerdicts| {
        d.verdicts
            .iter()
            .find(|v| v.metric == "average_speed_of_answer")
            .expect("asa")
            .clone()
    };
    let before = asa(&days[14]); // 15 October: 5 s, judged per period
    assert_eq!(before.scope, Scope::Day(date(2026, 10, 15)));
    assert_eq!(before.target, TargetBound::AtMost(Duration::from_secs(5)));
    assert_eq!(before.met, Some(false));
    assert!(!before.binding);
    assert_eq!(before.shortfall, Some(Shortfall::Seconds(Decimal::from(2))));
    let after = asa(&days[15]); // 16 October: 10 s, judged per day
    assert_eq!(after.target, TargetBound::AtMost(Duration::from_secs(10)));
    assert_eq!(after.met, Some(true));
    assert!(after.binding);
    assert_eq!(after.shortfall, None);
    // The period is judged under the terms of its last day.
    let pv = period_verdicts(&aggs, oct, &doc)
        .expect("settings")
        .expect("in force");
    let p = pv
        .verdicts
        .iter()
        .find(|v| v.metric == "average_speed_of_answer")
        .expect("asa");
    assert_eq!(p.terms_of, date(2026, 10, 31));
    assert_eq!(p.target, TargetBound::AtMost(Duration::from_secs(10)));
    assert_eq!(p.met, Some(true));
    assert!(!p.binding, "the amendment made it a daily target");
    assert_eq!(
        p.value,
        Some(Measured::Mean(MeanDuration {
            total_ms: 31 * 7_000,
            count: 31
        }))
    );
    // Connection rate is untouched and binding per period.
    let cr = pv
        .verdicts
        .iter()
        .find(|v| v.metric == "connection_rate")
        .expect("cr");
    assert!(cr.binding);
    assert_eq!(cr.met, Some(true));
    assert_eq!(cr.clause, "4.1.1");
}

#[test]
fn a_period_before_the_contract_has_no_verdict() {
    let doc = load(&[]);
    let aggs = aggregate(&[]);
    assert_eq!(
        period_verdicts(&aggs, "2025-12".parse().expect("p"), &doc).expect("settings"),
        None
    );
    assert!("2026-13".parse::<BillingPeriod>().is_err());
    assert!("2026-1".parse::<BillingPeriod>().is_err());
}

#[test]
fn breakdowns_per_queue_agent_and_hour_add_up() {
    let t0 = at("2026-10-12T09:10:00+08:00");
    let mut calls = Vec::new();
    for i in 0..12usize {
        let mut c = call(
            i,
            t0 + SignedDuration::from_mins(25 * i as i64),
            if i % 4 == 0 {
                CallOutcome::Abandoned
            } else {
                CallOutcome::Answered
            },
            1000 * i as i64,
        );
        c.queue = Some(["billing", "hotline"][i % 2].into());
        if c.agent.is_some() {
            c.agent = Some(["ann", "bo", "cy"][i % 3].into());
        }
        calls.push(c);
    }
    let aggs = aggregate(&calls);
    let day = DateRange::day(date(2026, 10, 12));
    let s = MetricSettings::default();
    let queues = per_queue(&aggs, day, &s);
    assert_eq!(
        queues
            .iter()
            .map(|q| (q.queue.clone().unwrap_or_default(), q.figures.offered))
            .collect::<Vec<_>>(),
        vec![("billing".to_string(), 6), ("hotline".to_string(), 6)]
    );
    let agents = per_agent(&aggs, day, &s);
    assert_eq!(agents[0].agent, None);
    assert_eq!(agents[0].figures.offered, 3);
    assert_eq!(agents.iter().map(|a| a.figures.answered).sum::<u64>(), 9);
    let hours = per_hour_of_day(&aggs, day, &s);
    assert_eq!(hours.len(), 24);
    assert_eq!(hours.iter().map(|h| h.figures.offered).sum::<u64>(), 12);
    assert_eq!(hours[9].figures.offered, 2); // 09:10, 09:35
    assert_eq!(hours[3].figures.connection_rate, None);
}

// ------------------------------------------------------------------ budget

#[test]
fn the_budget_says_which_share_of_the_remaining_calls_must_be_answered() {
    // 929 of 1000 answered so far, 1000 more expected, target 95%:
    // 0.95 × 2000 − 929 = 971 → answer 97.1% of them.
    let b = ratio_budget(929, 1000, 1000, pct("95%"));
    assert_eq!(
        b,
        RatioBudget::Required {
            calls: 971,
            remaining: 1000,
            share: Decimal::new(971, 1)
        }
    );
    assert!(b.to_string().starts_with("97.1% of the remaining"), "{b}");
    // Fractions round up: 0.95 × 1003 − 951 = 1.85 → 2 calls; 1.85 / 3 = 61.66…% → 61.7%.
    assert_eq!(
        ratio_budget(951, 1000, 3, pct("95%")),
        RatioBudget::Required {
            calls: 2,
            remaining: 3,
            share: Decimal::new(617, 1)
        }
    );
    assert_eq!(
        ratio_budget(1000, 1000, 10, pct("95%")),
        RatioBudget::AlreadySecured
    );
    assert_eq!(
        ratio_budget(800, 1000, 100, pct("95%")),
        RatioBudget::Unreachable {
            best: Ratio {
                numerator: 900,
                denominator: 1100
            }
        }
    );
    assert_eq!(
        ratio_budget(0, 0, 0, pct("95%")),
        RatioBudget::NoRemainingCalls { met: None }
    );
    // ASA ≤ 5 s: 100 answered waiting 600 s in all, 100 more: 400 s left, 4 s each.
    let w = wait_budget(600_000, 100, 100, Duration::from_secs(5));
    assert_eq!(
        w,
        WaitBudget::MaxMeanWait {
            calls: 100,
            total_ms: 400_000,
            mean_ms: 4_000
        }
    );
    assert_eq!(w.mean_seconds(), Some(Decimal::from(4)));
    assert_eq!(
        wait_budget(2_000_000, 100, 100, Duration::from_secs(5)),
        WaitBudget::Unreachable
    );
}

#[test]
fn period_budgets_cover_the_phone_targets_of_the_contract() {
    let doc = load(&[]);
    let t0 = at("2026-10-12T10:00:00+08:00");
    let mut calls: Vec<CallRecord> = (0..93)
        .map(|i| call(i, t0, CallOutcome::Answered, 3_000))
        .collect();
    calls.extend((93..100).map(|i| call(i, t0, CallOutcome::Abandoned, 60_000)));
    let aggs = aggregate(&calls);
    let so_far = aggs.total(date(2026, 10, 1), date(2026, 10, 12));
    let budgets = period_budgets(&so_far, doc.base(), 100).expect("settings");
    let by = |m: &str| budgets.iter().find(|b| b.metric == m).expect(m).budget;
    // Connection rate 95%: 0.95 × 200 − 93 = 97 of 100.
    assert_eq!(
        by("connection_rate"),
        Budget::Share(RatioBudget::Required {
            calls: 97,
            remaining: 100,
            share: Decimal::new(970, 1)
        })
    );
    // ASA 5 s: 93 answered remaining expected (93%), (5 × 186 − 3 × 93) s left.
    assert_eq!(
        by("average_speed_of_answer"),
        Budget::Wait(WaitBudget::MaxMeanWait {
            calls: 93,
            total_ms: 651_000,
            mean_ms: 7_000
        })
    );
    assert!(matches!(by("service_level"), Budget::Share(_)));
}

#[test]
fn the_forecast_repeats_the_days_so_far() {
    // Mondays 100, other days 10, over two weeks from Monday 2026-10-05.
    let history: Vec<(Date, u64)> = DateRange::new(date(2026, 10, 5), date(2026, 10, 18))
        .days()
        .map(|d| {
            let n = if d.weekday() == jiff::civil::Weekday::Monday {
                100
            } else {
                10
            };
            (d, n)
        })
        .collect();
    let rest = || DateRange::new(date(2026, 10, 19), date(2026, 10, 21)).days(); // Mon, Tue, Wed
    assert_eq!(
        forecast_offered(&history, rest(), ForecastMethod::MeanPerSameWeekday),
        120
    );
    // Mean per day = 320 / 14 = 22.857… × 3 = 68.57 → 69.
    assert_eq!(
        forecast_offered(&history, rest(), ForecastMethod::MeanPerDay),
        69
    );
    assert_eq!(forecast_offered(&[], rest(), ForecastMethod::MeanPerDay), 0);
}

#[test]
fn buckets_survive_a_json_round_trip_and_bad_histograms_are_refused() {
    let t0 = at("2026-10-12T10:00:00+08:00");
    let aggs = aggregate(&[
        call(0, t0, CallOutcome::Answered, 2_000),
        call(1, t0, CallOutcome::Answered, 2_500),
        call(2, t0, CallOutcome::Abandoned, 700),
    ]);
    for (k, b) in aggs.buckets() {
        let text = serde_json::to_string(&(k, b)).expect("json");
        let back: (BucketKey, PhoneBucket) = serde_json::from_str(&text).expect("parses");
        assert_eq!((&back.0, &back.1), (k, b));
    }
    let bad = r#"{"bins":[{"second":3,"count":1,"on_the_second":0},{"second":1,"count":1,"on_the_second":0}],"count":2,"sum_ms":4000,"max_ms":3000}"#;
    assert!(serde_json::from_str::<WaitHistogram>(bad).is_err());
}

// ------------------------------------------------------------------ properties

/// The figures straight from the calls, written without the aggregates.
fn naive(calls: &[&CallRecord], s: &MetricSettings) -> PhoneFigures {
    let ms = |a: Timestamp, b: Timestamp| b.duration_since(a).as_millis().max(0) as u64;
    let count = |o: CallOutcome| calls.iter().filter(|c| c.outcome == o).count() as u64;
    let offered = calls.len() as u64;
    let answered = count(CallOutcome::Answered);
    let abandoned = count(CallOutcome::Abandoned);
    let answered_waits: Vec<u64> = calls
        .iter()
        .filter(|c| c.outcome == CallOutcome::Answered)
        .filter_map(|c| c.answered_at.map(|a| ms(c.offered_at, a)))
        .collect();
    let short = calls
        .iter()
        .filter(|c| c.outcome == CallOutcome::Abandoned)
        .filter_map(|c| c.ended_at.map(|e| ms(c.offered_at, e)))
        .filter(|w| *w < u64::from(s.short_abandon.secs()) * 1000)
        .count() as u64;
    let within = answered_waits
        .iter()
        .filter(|w| **w <= u64::from(s.service_level_within.secs()) * 1000)
        .count() as u64;
    let longest = calls
        .iter()
        .filter_map(|c| {
            let until = if c.outcome == CallOutcome::Answered {
                c.answered_at
            } else {
                c.answered_at.or(c.ended_at)
            };
            until.map(|u| ms(c.offered_at, u))
        })
        .max();
    let talks: Vec<u64> = calls
        .iter()
        .filter(|c| c.outcome == CallOutcome::Answered)
        .filter_map(|c| c.talk_time().map(|t| t.as_millis().max(0) as u64))
        .collect();
    let talk = MeanDuration::new(talks.iter().sum(), talks.len() as u64);
    let less_short = offered - short;
    PhoneFigures {
        settings: *s,
        offered,
        answered,
        abandoned,
        short_abandoned: short,
        unanswered: offered - answered,
        timed_out: count(CallOutcome::TimedOut),
        no_agents: count(CallOutcome::NoAgents),
        exited_with_key: count(CallOutcome::ExitedWithKey),
        unknown: count(CallOutcome::Unknown),
        answered_within: within,
        connection_rate: match s.connection_rate_formula {
            ConnectionRateFormula::AnsweredOverOffered => Ratio::new(answered, offered),
            ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons => {
                Ratio::new(answered, less_short)
            }
        },
        average_speed_of_answer: MeanDuration::new(
            answered_waits.iter().sum(),
            answered_waits.len() as u64,
        ),
        service_level: match s.service_level_formula {
            ServiceLevelFormula::WithinOverOffered => Ratio::new(within, offered),
            ServiceLevelFormula::WithinOverAnswered => Ratio::new(within, answered),
            ServiceLevelFormula::WithinOverOfferedLessShortAbandons => {
                Ratio::new(within, less_short)
            }
        },
        abandonment_rate: Ratio::new(abandoned, offered),
        average_talk: talk,
        average_handle: talk,
        longest_wait_ms: longest,
        unanswered_rings: calls.iter().map(|c| u64::from(c.unanswered_rings)).sum(),
        transfers: calls.iter().filter(|c| c.transferred_to.is_some()).count() as u64,
    }
}

fn arb_wait() -> impl Strategy<Value = i64> {
    prop_oneof![
        (0i64..40).prop_map(|s| s * 1000),
        0i64..40_000,
        (19_995i64..20_005),
        (4_995i64..5_005),
        (0i64..3_000).prop_map(|s| s * 1000),
        Just(-500i64),
    ]
}

fn arb_call() -> impl Strategy<Value = CallRecord> {
    (
        0i64..3 * 86_400_000, // over 30 Oct – 1 Nov in Shanghai: crosses the month
        0usize..6,
        arb_wait(),
        prop::option::of(0i64..600_000),
        0usize..3,
        0usize..4,
        0u32..3,
        any::<bool>(),
        0u8..10,
    )
        .prop_map(
            |(offset, outcome, wait, talk, queue, agent, rings, transfer, missing)| {
                let offered = at("2026-10-30T00:00:00+08:00") + SignedDuration::from_millis(offset);
                let outcome = CallOutcome::ALL[outcome];
                let mut c = call(0, offered, outcome, wait);
                c.queue = [None, Some("a".to_string()), Some("b".to_string())][queue].clone();
                c.agent = [None, Some("x"), Some("y"), Some("z")][agent].map(String::from);
                c.talk = talk.map(SignedDuration::from_millis);
                c.unanswered_rings = rings;
                c.transferred_to = transfer.then(|| "2001".to_string());
                // Now and then a record lacks an instant.
                if missing == 0 {
                    c.answered_at = None;
                }
                if missing == 1 {
                    c.ended_at = None;
                }
                c
            },
        )
}

fn arb_settings() -> impl Strategy<Value = MetricSettings> {
    (any::<bool>(), 0u32..30, 0u32..45, 0usize..3).prop_map(|(f, short, within, sl)| {
        MetricSettings {
            connection_rate_formula: if f {
                ConnectionRateFormula::AnsweredOverOffered
            } else {
                ConnectionRateFormula::AnsweredOverOfferedLessShortAbandons
            },
            short_abandon: Threshold::from_secs(short),
            service_level_within: Threshold::from_secs(within),
            service_level_formula: [
                ServiceLevelFormula::WithinOverOffered,
                ServiceLevelFormula::WithinOverAnswered,
                ServiceLevelFormula::WithinOverOfferedLessShortAbandons,
            ][sl],
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn figures_from_aggregates_equal_figures_from_the_calls(
        calls in prop::collection::vec(arb_call(), 0..120),
        s in arb_settings(),
    ) {
        let tz = shanghai();
        let aggs = aggregate(&calls);
        let range = DateRange::new(date(2026, 10, 29), date(2026, 11, 2));
        let local = |c: &CallRecord| tz.to_datetime(c.offered_at);
        // Whole range.
        let all: Vec<&CallRecord> = calls.iter().collect();
        let total = aggs.total(range.first, range.last);
        prop_assert_eq!(PhoneFigures::from_bucket(&total, &s), naive(&all, &s));
        // Per day.
        for d in per_day(&aggs, range, &s) {
            let on: Vec<&CallRecord> = calls.iter().filter(|c| local(c).date() == d.date).collect();
            prop_assert_eq!(&d.figures, &naive(&on, &s), "{}", d.date);
        }
        // Per billing period.
        for p in ["2026-10", "2026-11"] {
            let p = BillingPeriod::from_str(p).expect("period");
            let inp: Vec<&CallRecord> = calls.iter().filter(|c| p.range().contains(local(c).date())).collect();
            let t = aggs.total(p.first_day(), p.last_day());
            prop_assert_eq!(PhoneFigures::from_bucket(&t, &s), naive(&inp, &s));
        }
        // Per queue, agent, hour.
        for q in per_queue(&aggs, range, &s) {
            let of: Vec<&CallRecord> = calls.iter().filter(|c| c.queue == q.queue).collect();
            prop_assert_eq!(&q.figures, &naive(&of, &s));
        }
        for a in per_agent(&aggs, range, &s) {
            let of: Vec<&CallRecord> = calls.iter().filter(|c| c.agent == a.agent).collect();
            prop_assert_eq!(&a.figures, &naive(&of, &s));
        }
        for h in per_hour_of_day(&aggs, range, &s) {
            let of: Vec<&CallRecord> = calls.iter().filter(|c| local(c).hour() == h.hour).collect();
            prop_assert_eq!(&h.figures, &naive(&of, &s));
        }
    }

    #[test]
    fn merging_buckets_is_associative_and_commutative(
        a in prop::collection::vec(arb_call(), 0..30),
        b in prop::collection::vec(arb_call(), 0..30),
        c in prop::collection::vec(arb_call(), 0..30),
    ) {
        let bucket = |calls: &[CallRecord]| {
            let mut x = PhoneBucket::default();
            for k in calls { x.add_call(k); }
            x
        };
        let (x, y, z) = (bucket(&a), bucket(&b), bucket(&c));
        let merged = |l: &PhoneBucket, r: &PhoneBucket| { let mut m = l.clone(); m.merge(r); m };
        prop_assert_eq!(merged(&x, &y), merged(&y, &x));
        prop_assert_eq!(merged(&merged(&x, &y), &z), merged(&x, &merged(&y, &z)));
        prop_assert_eq!(merged(&x, &PhoneBucket::default()), x.clone());
        // Adding every call to one bucket = merging the three.
        let all: Vec<CallRecord> = a.iter().chain(&b).chain(&c).cloned().collect();
        prop_assert_eq!(bucket(&all), merged(&merged(&x, &y), &z));
        // Aggregates built in parts and merged in any order equal one pass.
        let (mut p, mut q) = (aggregate(&c), aggregate(&a));
        p.merge(&aggregate(&b)).expect("same shape");
        p.merge(&aggregate(&a)).expect("same shape");
        q.merge(&aggregate(&b)).expect("same shape");
        q.merge(&aggregate(&c)).expect("same shape");
        let one = aggregate(&all);
        let collect = |g: &PhoneAggregates| g.buckets().map(|(k, v)| (k.clone(), v.clone())).collect::<BTreeMap<_, _>>();
        prop_assert_eq!(collect(&p), collect(&one));
        prop_assert_eq!(collect(&q), collect(&one));
    }

    #[test]
    fn the_histogram_answers_every_whole_second_threshold_exactly(
        waits in prop::collection::vec(prop_oneof![0u64..50_000, (0u64..50).prop_map(|s| s * 1000)], 0..80),
        t in 0u32..55,
    ) {
        let mut h = WaitHistogram::new();
        for w in &waits { h.add(*w); }
        let ms = u64::from(t) * 1000;
        prop_assert_eq!(h.count_below(Threshold::from_secs(t)), waits.iter().filter(|w| **w < ms).count() as u64);
        prop_assert_eq!(h.count_at_most(Threshold::from_secs(t)), waits.iter().filter(|w| **w <= ms).count() as u64);
        prop_assert_eq!(h.sum_ms(), waits.iter().sum::<u64>());
        prop_assert_eq!(h.max_ms(), waits.iter().copied().max());
        prop_assert!(h.bins().len() <= waits.len());
    }

    #[test]
    fn the_required_calls_are_exactly_enough(
        den in 0u64..5_000,
        num_share in 0u64..=1_000,
        remaining in 0u64..5_000,
        points in 500i64..=1000,   // 50.0% … 100.0%
    ) {
        let num = den * num_share / 1_000;
        let min = Percent::from_points(Decimal::new(points, 1));
        let meets = |n: u64, d: u64| Ratio::new(n, d).expect("d > 0").at_least(min);
        match ratio_budget(num, den, remaining, min) {
            RatioBudget::Required { calls, remaining: r, share } => {
                prop_assert_eq!(r, remaining);
                prop_assert!(calls >= 1 && calls <= remaining);
                prop_assert!(meets(num + calls, den + remaining));
                prop_assert!(!meets(num + calls - 1, den + remaining));
                // Following the rounded-up share (in whole calls, rounded up) is enough,
                // and the share is rounded to 0.1%.
                let following = (share * Decimal::from(remaining) / Decimal::ONE_HUNDRED).ceil();
                prop_assert!(following >= Decimal::from(calls));
                prop_assert!((share - Decimal::new(1, 1)) * Decimal::from(remaining) < Decimal::from(calls) * Decimal::ONE_HUNDRED);
                prop_assert_eq!(share, share.round_dp(1));
            }
            RatioBudget::AlreadySecured => prop_assert!(meets(num, den + remaining)),
            RatioBudget::Unreachable { best } => {
                prop_assert!(!meets(num + remaining, den + remaining));
                prop_assert_eq!(best, Ratio { numerator: num + remaining, denominator: den + remaining });
            }
            RatioBudget::NoRemainingCalls { met } => {
                prop_assert_eq!(remaining, 0);
                prop_assert_eq!(met, Ratio::new(num, den).map(|r| r.at_least(min)));
            }
        }
    }

    #[test]
    fn the_wait_budget_is_exactly_enough(
        answered in 0u64..2_000,
        mean_ms in 0u64..15_000,
        remaining in 0u64..2_000,
        max_s in 1u64..20,
    ) {
        let total = answered * mean_ms;
        let max = Duration::from_secs(max_s);
        let ok = |t: u64, n: u64| MeanDuration::new(t, n).expect("n > 0").at_most(max);
        match wait_budget(total, answered, remaining, max) {
            WaitBudget::MaxMeanWait { calls, total_ms, mean_ms: m } => {
                prop_assert!(ok(total + total_ms, answered + calls));
                prop_assert!(!ok(total + total_ms + 1, answered + calls));
                prop_assert!(ok(total + m * calls, answered + calls));
            }
            WaitBudget::Unreachable => prop_assert!(!ok(total, answered + remaining)),
            WaitBudget::NoRemainingCalls { met } => {
                prop_assert_eq!(remaining, 0);
                prop_assert_eq!(met, MeanDuration::new(total, answered).map(|m| m.at_most(max)));
            }
        }
    }
}
