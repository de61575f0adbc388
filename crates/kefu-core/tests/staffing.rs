//! Staffing models: Erlang B/C/A against published tables, pyworkforce's own
//! test cases, the ContactCenters simulator's reference reports, and
//! properties that must hold for any traffic (monotone in agents, least N,
//! finite for thousands of agents).

use std::path::PathBuf;

use proptest::prelude::*;

use kefu_core::staffing::chat::{ChatConcurrency, chat_required_agents};
use kefu_core::staffing::email::{EmailBacklog, email_required_agents};
use kefu_core::staffing::erlang::{ErlangAMetrics, ErlangCMetrics};
use kefu_core::staffing::simulate::{SimConfig, SimInterval, simulate};
use kefu_core::staffing::{
    Model, Shrinkage, StaffingError, Targets, Traffic, erlang_b, evaluate, required_agents,
};

fn close(actual: f64, expected: f64, tol: f64) {
    assert!(
        (actual - expected).abs() <= tol,
        "expected {expected} ± {tol}, found {actual}"
    );
}

fn targets_sl(min: f64, t: f64) -> Targets {
    Targets::default()
        .service_level(min, t)
        .expect("valid target")
}

// ---------------------------------------------------------------- Erlang B

#[test]
fn erlang_b_matches_published_table_values() {
    // (agents, erlangs, B). A=10,N=10 and A=2,N=5 are the usual worked
    // examples; the 1% and 2% rows are the "Erlang B table" as printed in
    // telephony texts (e.g. the ITU-T/Siemens traffic tables: 10 circuits
    // carry 4.461 E at 1% and 5.084 E at 2%, 20 → 12.031 E, 50 → 37.901 E,
    // 100 → 84.064 E at 1%). pyworkforce's (unreleased, GitHub main)
    // tests/test_erlang_b.py: B(1, 1) = 0.5 and B(2, 1) = 0.2 exactly.
    let cases = [
        (10, 10.0, 0.2146, 5e-5),
        (5, 2.0, 0.0367, 5e-5),
        (10, 4.461, 0.01, 5e-5),
        (20, 12.031, 0.01, 5e-5),
        (50, 37.901, 0.01, 5e-5),
        (100, 84.064, 0.01, 5e-5),
        (10, 5.084, 0.02, 5e-5),
        (1, 1.0, 0.5, 1e-12),
        (2, 1.0, 0.2, 1e-12),
    ];
    for (n, a, b, tol) in cases {
        close(erlang_b(n, a), b, tol);
    }
}

#[test]
fn erlang_b_required_agents_matches_pyworkforce() {
    // pyworkforce GitHub main, tests/test_erlang_b.py: A = 10 erlangs,
    // max blocking 2% → 17 positions; with 30% shrinkage ceil(17/0.7) = 25.
    let traffic = Traffic::from_calls(100.0, 1800.0, 180.0).expect("traffic");
    let targets = Targets::default().max_blocking(0.02).expect("target");
    let r = required_agents(
        &Model::ErlangB,
        &traffic,
        &targets,
        Shrinkage::new(0.3).expect("shrinkage"),
    )
    .expect("reachable");
    assert_eq!(r.required_agents, Some(17));
    assert_eq!(r.required_agents_with_shrinkage, Some(25));
    let b = r.erlang_b.expect("erlang_b");
    assert!(b <= 0.02 && b > 0.0);
    assert!(erlang_b(16, 10.0) > 0.02);
    // A = 10: 50 trunks block less than 1e-6.
    assert!(erlang_b(50, 10.0) < 1e-6);
}

// ---------------------------------------------------------------- Erlang C

/// pyworkforce 0.5.1 (PyPI), pyworkforce/queuing/tests/test_erlang.py and
/// test_multi_erlang.py: 100 transactions per 30 min, AHT 3 min, "asa" (its
/// name for the service-level threshold) 0.33 min, shrinkage 0.3.
#[test]
fn erlang_c_reproduces_pyworkforce_test_cases() {
    let traffic = Traffic::from_calls(100.0, 30.0 * 60.0, 3.0 * 60.0).expect("traffic");
    close(traffic.erlangs(), 10.0, 1e-12);
    let t = 0.33 * 60.0;
    let s = Shrinkage::new(0.3).expect("shrinkage");
    // (target SL, max occupancy) → raw, positions, SL, occupancy, P(wait) at raw.
    let cases = [
        (0.8, 0.85, 14, 20, 0.888, 0.714, 0.174),
        (0.8, 0.7, 15, 22, 0.941, 0.667, 0.102),
        (0.9, 0.85, 15, 22, 0.941, 0.667, 0.102),
    ];
    for (sl, occ, raw, positions, want_sl, want_occ, want_pw) in cases {
        let targets = targets_sl(sl, t).max_occupancy(occ).expect("occupancy");
        let r = required_agents(&Model::ErlangC, &traffic, &targets, s).expect("reachable");
        assert_eq!(r.required_agents, Some(raw), "SL {sl}, occupancy {occ}");
        assert_eq!(r.required_agents_with_shrinkage, Some(positions));
        close(r.service_level.expect("sl"), want_sl, 5e-4);
        close(r.occupancy, want_occ, 5e-4);
        close(r.p_wait.expect("p_wait"), want_pw, 5e-4);
    }
}

#[test]
fn erlang_c_textbook_example_360_calls_aht_240s_80_in_20() {
    // The classic worked example (360 calls per 30 min, AHT 240 s, 80% in
    // 20 s: A = 48 E). Figures checked against pyworkforce 0.5.1's ErlangC:
    // 54 agents SL 0.81725, P(wait) 0.30131; 55 agents SL 0.86680,
    // P(wait) 0.23870 (the 23.87% of the usual write-ups).
    let traffic = Traffic::from_calls(360.0, 1800.0, 240.0).expect("traffic");
    close(traffic.erlangs(), 48.0, 1e-12);
    let c54 = ErlangCMetrics::new(54, 48.0);
    let c55 = ErlangCMetrics::new(55, 48.0);
    close(c54.service_level(20.0, 240.0), 0.817_247_5, 1e-6);
    close(c54.p_wait, 0.301_307_9, 1e-6);
    close(c55.service_level(20.0, 240.0), 0.866_796_5, 1e-6);
    close(c55.p_wait, 0.238_700_9, 1e-6);
    let r = required_agents(
        &Model::ErlangC,
        &traffic,
        &targets_sl(0.8, 20.0),
        Shrinkage::default(),
    )
    .expect("reachable");
    assert_eq!(r.required_agents, Some(54));
    // ASA = C·AHT/(N−A) at 54: 0.3013 × 240 / 6.
    close(r.asa_seconds.expect("asa"), 0.301_307_9 * 240.0 / 6.0, 1e-4);
    close(r.occupancy, 48.0 / 54.0, 1e-12);
}

#[test]
fn occupancy_exactly_on_target_meets_it_whatever_the_last_bit() {
    // Found by the benchmark against pyworkforce: A ÷ max is a whole number
    // in exact arithmetic, and floating point lands on either side of it.
    // 1,292 × 180 ÷ 1,800 = 129.2 E at 85% → 152; 1,485 × 156 ÷ 1,800 =
    // 128.7 E at 90% → 143; 1,683 × 280 ÷ 1,800 = 261.8 E at 85% → 308.
    for (calls, aht, occ, want) in [
        (1292.0, 180.0, 0.85, 152),
        (1485.0, 156.0, 0.9, 143),
        (1683.0, 280.0, 0.85, 308),
    ] {
        let traffic = Traffic::from_calls(calls, 1800.0, aht).expect("traffic");
        let targets = Targets::default().max_occupancy(occ).expect("target");
        for model in [Model::ErlangC, Model::erlang_a(60.0).expect("model")] {
            let r = required_agents(&model, &traffic, &targets, Shrinkage::default())
                .expect("reachable");
            if model == Model::ErlangC {
                assert_eq!(r.agents, want, "{calls} calls, AHT {aht}, occupancy {occ}");
            } else {
                // Abandonment lowers the carried load: fewer agents, never more.
                assert!(r.agents <= want);
            }
        }
    }
}

#[test]
fn erlang_c_with_agents_not_above_traffic_is_unstable() {
    let traffic = Traffic::from_erlangs(12.0, Some(180.0)).expect("traffic");
    let r = evaluate(&Model::ErlangC, &traffic, 12, Some(20.0)).expect("evaluates");
    assert_eq!(r.p_wait, Some(1.0));
    assert_eq!(r.service_level, Some(0.0));
    assert_eq!(r.asa_seconds, Some(f64::INFINITY));
    assert_eq!(r.occupancy, 1.0);
}

// ---------------------------------------------------------------- Erlang A

/// pyworkforce GitHub main (not yet on PyPI), tests/test_abandonment.py,
/// `test_erlanga_regression_metrics`: 100 transactions per 30 min, AHT 3
/// min, threshold 20 s, patience 5 min, 14 positions. Its service level is
/// "answered within t ÷ all arrivals" (our `sl_answered_within_t`) and its
/// ASA is the mean wait of all callers (our `asa_seconds`).
#[test]
fn erlang_a_reproduces_pyworkforce_regression_metrics() {
    let m = ErlangAMetrics::new(14, 10.0, 180.0, 300.0, 20.0).expect("metrics");
    close(m.p_wait, 0.14526, 5e-6);
    close(m.p_abandon, 0.013_984, 5e-7);
    close(m.occupancy, 0.704_297, 5e-7);
    close(m.asa_seconds / 60.0, 0.069_919, 5e-7);
    close(m.sl_answered_within_t, 0.916_792, 5e-7);
}

#[test]
fn erlang_a_abandonment_agrees_with_littles_law() {
    // P(abandon) = θ·E[queue] ÷ λ, and E[queue] = λ·E[wait]: so
    // P(abandon) = E[wait of all callers] ÷ mean patience.
    for (n, a, aht, patience) in [
        (14, 10.0, 180.0, 300.0),
        (40, 45.0, 240.0, 60.0),
        (5, 2.0, 300.0, 20.0),
        (900, 1000.0, 200.0, 120.0),
    ] {
        let m = ErlangAMetrics::new(n, a, aht, patience, 20.0).expect("metrics");
        close(m.p_abandon, m.asa_seconds / patience, 1e-9);
    }
}

#[test]
fn erlang_a_approaches_erlang_c_as_patience_grows() {
    // pyworkforce's test_erlanga_matches_erlangc_in_patient_limit, and more.
    for (n, a, aht, t) in [
        (15, 10.0, 180.0, 20.0),
        (20, 10.0, 180.0, 20.0),
        (55, 48.0, 240.0, 20.0),
        (12, 8.4, 120.0, 20.0),
    ] {
        let c = ErlangCMetrics::new(n, a);
        let am = ErlangAMetrics::new(n, a, aht, aht * 1e7, t).expect("metrics");
        close(am.p_wait, c.p_wait, 1e-5);
        close(am.sl_answered_within_t, c.service_level(t, aht), 1e-5);
        close(am.sl_wait_le_t, c.service_level(t, aht), 1e-5);
        close(am.sl_excl_abandon, c.service_level(t, aht), 1e-5);
        close(
            am.asa_seconds,
            c.asa_seconds(aht),
            1e-4 * c.asa_seconds(aht),
        );
        close(
            am.asa_answered_seconds,
            c.asa_seconds(aht),
            1e-4 * c.asa_seconds(aht),
        );
        close(am.occupancy, c.occupancy(), 1e-6);
        assert!(am.p_abandon < 1e-5);
    }
}

#[test]
fn erlang_a_is_stable_when_overloaded() {
    // Twice as many erlangs as agents: Erlang C has no answer, Erlang A does.
    let m = ErlangAMetrics::new(1000, 2000.0, 180.0, 90.0, 20.0).expect("metrics");
    // At least half the callers must give up: the agents carry at most 1000 E.
    assert!(m.p_abandon >= 0.5 - 1e-9, "{}", m.p_abandon);
    close(m.p_wait, 1.0, 1e-6);
    assert!(m.occupancy > 0.99 && m.occupancy <= 1.0);
    assert!(m.asa_seconds.is_finite() && m.asa_seconds < 90.0);
}

#[test]
fn erlang_a_required_agents_for_connection_rate_and_asa() {
    // A telecom hotline: 1,200 calls per half hour, AHT 200 s, mean patience
    // 60 s; the contract: connection rate ≥ 95% (abandonment ≤ 5%) and mean
    // answer ≤ 5 s.
    let traffic = Traffic::from_calls(1200.0, 1800.0, 200.0).expect("traffic");
    let model = Model::erlang_a(60.0).expect("model");
    let targets = Targets::default()
        .max_abandon(0.05)
        .and_then(|t| t.max_asa_seconds(5.0))
        .expect("targets");
    let r = required_agents(&model, &traffic, &targets, Shrinkage::default()).expect("reachable");
    let n = r.agents;
    assert!(r.p_abandon.expect("p_abandon") <= 0.05);
    assert!(r.asa_answered_seconds.expect("asa") <= 5.0);
    let below = evaluate(&model, &traffic, n - 1, None).expect("evaluates");
    assert!(
        below.p_abandon.expect("p_abandon") > 0.05
            || below.asa_answered_seconds.expect("asa") > 5.0
    );
}

#[test]
fn erlang_a_with_short_patience_can_need_fewer_agents_than_erlangs() {
    // Patience 2 s against AHT 300 s: a caller who waits at all gives up at
    // once, so the mean wait of answered callers is tiny with any staffing.
    // The least N for "ASA ≤ 5 s" is far below A = 100: the search must not
    // start at ⌈A⌉.
    let traffic = Traffic::from_erlangs(100.0, Some(300.0)).expect("traffic");
    let model = Model::erlang_a(2.0).expect("model");
    let targets = Targets::default().max_asa_seconds(5.0).expect("target");
    let r = required_agents(&model, &traffic, &targets, Shrinkage::default()).expect("reachable");
    assert_eq!(r.agents, 1);
    // With an abandonment target too, it needs about A·(1 − 5%) or more.
    let targets = targets.max_abandon(0.05).expect("target");
    let r = required_agents(&model, &traffic, &targets, Shrinkage::default()).expect("reachable");
    assert!(r.agents >= 95 && r.agents < 130, "{}", r.agents);
}

// ---------------------------------------------------------------- errors

#[test]
fn invalid_input_is_a_typed_error_naming_the_field() {
    let e = Traffic::from_calls(-1.0, 1800.0, 180.0).expect_err("negative calls");
    assert_eq!(e.to_string(), "calls: expected 0 or more, found -1");
    let e = Traffic::from_calls(10.0, 1800.0, 0.0).expect_err("zero aht");
    assert_eq!(
        e.to_string(),
        "aht_seconds: expected a number greater than 0, found 0"
    );
    let e = Traffic::from_erlangs(f64::NAN, None).expect_err("nan");
    assert_eq!(e.to_string(), "traffic_erlangs: NaN is not a finite number");
    let e = Shrinkage::new(1.0).expect_err("shrinkage 1");
    assert_eq!(
        e.to_string(),
        "shrinkage: expected a fraction from 0 up to (not including) 1, found 1"
    );
    let e = Targets::default()
        .service_level(1.0, 20.0)
        .expect_err("sl 1");
    assert_eq!(
        e.to_string(),
        "target_sl: expected a fraction strictly between 0 and 1, found 1"
    );
    assert!(matches!(
        Targets::default().max_abandon(0.0),
        Err(StaffingError::NotAFraction {
            field: "max_abandon",
            ..
        })
    ));
    assert!(matches!(
        Model::erlang_a(-3.0),
        Err(StaffingError::NotPositive {
            field: "patience_seconds",
            ..
        })
    ));
    let traffic = Traffic::from_erlangs(10.0, None).expect("traffic");
    assert_eq!(
        required_agents(
            &Model::ErlangC,
            &traffic,
            &Targets::default(),
            Shrinkage::default()
        ),
        Err(StaffingError::NoTargets)
    );
    let e = required_agents(
        &Model::ErlangC,
        &traffic,
        &Targets::default().max_abandon(0.05).expect("target"),
        Shrinkage::default(),
    )
    .expect_err("not for C");
    assert!(
        e.to_string()
            .starts_with("max_abandon does not apply to Erlang C"),
        "{e}"
    );
    let e = required_agents(
        &Model::ErlangC,
        &traffic,
        &targets_sl(0.8, 20.0),
        Shrinkage::default(),
    )
    .expect_err("needs aht");
    assert!(e.to_string().starts_with("aht_seconds is needed"), "{e}");
}

#[test]
fn unreachable_targets_are_errors_not_endless_searches() {
    // A million erlangs at ≤ 1% occupancy would need 10⁸ agents.
    let traffic = Traffic::from_erlangs(1e6, Some(180.0)).expect("traffic");
    let targets = Targets::default().max_occupancy(0.01).expect("target");
    assert!(matches!(
        required_agents(&Model::ErlangC, &traffic, &targets, Shrinkage::default()),
        Err(StaffingError::Unreachable { .. })
    ));
    // Erlang A whose queue would need billions of states says so at once.
    assert!(matches!(
        ErlangAMetrics::new(100, 1000.0, 1.0, 1e9, 20.0),
        Err(StaffingError::TooManyStates { .. })
    ));
}

#[test]
fn zero_traffic_needs_no_agents() {
    let traffic = Traffic::from_calls(0.0, 1800.0, 180.0).expect("traffic");
    let r = required_agents(
        &Model::ErlangC,
        &traffic,
        &targets_sl(0.8, 20.0),
        Shrinkage::new(0.3).expect("s"),
    )
    .expect("ok");
    assert_eq!(r.required_agents, Some(0));
    assert_eq!(r.required_agents_with_shrinkage, Some(0));
}

// ---------------------------------------------------------------- JSON

#[test]
fn result_json_keys_are_the_documented_ones() {
    let traffic = Traffic::from_calls(100.0, 1800.0, 180.0).expect("traffic");
    let keys = |v: serde_json::Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().expect("object").keys().cloned().collect();
        k.sort();
        k
    };
    let c = required_agents(
        &Model::ErlangC,
        &traffic,
        &targets_sl(0.8, 20.0),
        Shrinkage::default(),
    )
    .expect("ok");
    assert_eq!(
        keys(serde_json::to_value(&c).expect("json")),
        [
            "agents",
            "asa_seconds",
            "occupancy",
            "p_wait",
            "required_agents",
            "required_agents_with_shrinkage",
            "service_level",
            "traffic_erlangs"
        ]
    );
    let a = evaluate(
        &Model::erlang_a(60.0).expect("model"),
        &traffic,
        12,
        Some(20.0),
    )
    .expect("ok");
    assert_eq!(
        keys(serde_json::to_value(&a).expect("json")),
        [
            "agents",
            "asa_answered_seconds",
            "asa_seconds",
            "occupancy",
            "p_abandon",
            "p_wait",
            "sl_answered_within_t",
            "sl_excl_abandon",
            "sl_wait_le_t",
            "traffic_erlangs"
        ]
    );
    let b = evaluate(&Model::ErlangB, &traffic, 12, None).expect("ok");
    assert_eq!(
        keys(serde_json::to_value(&b).expect("json")),
        ["agents", "erlang_b", "occupancy", "traffic_erlangs"]
    );
}

// ---------------------------------------------------------------- chat, email

#[test]
fn chat_slots_are_agents_times_concurrency() {
    // 600 chats per 30 min, 3 at a time, 540 s per chat at 3 (faster alone).
    let conc = ChatConcurrency::new(3, &[300.0, 420.0, 540.0]).expect("concurrency");
    let targets = targets_sl(0.8, 60.0);
    let r = chat_required_agents(
        &Model::ErlangC,
        &conc,
        600.0,
        1800.0,
        &targets,
        Shrinkage::new(0.2).expect("s"),
    )
    .expect("ok");
    // 600 × 540 / 1800 = 180 slot-erlangs; least slots by Erlang C, then ⌈S/3⌉.
    close(r.slots.traffic_erlangs, 180.0, 1e-9);
    let least_slots = required_agents(
        &Model::ErlangC,
        &Traffic::from_erlangs(180.0, Some(540.0)).expect("t"),
        &targets,
        Shrinkage::default(),
    )
    .expect("ok")
    .agents;
    assert_eq!(r.agents, least_slots.div_ceil(3));
    assert_eq!(r.slots.agents, r.agents * 3);
    assert!(r.slots.service_level.expect("sl") >= 0.8);
    assert_eq!(
        r.required_agents_with_shrinkage,
        Some((f64::from(r.agents) / 0.8).ceil() as u32)
    );
    assert!(ChatConcurrency::new(3, &[300.0, 400.0]).is_err());
}

#[test]
fn email_backlog_must_clear_within_the_window() {
    // 800 emails over a 9-hour service day, 6 min each, reply within 4
    // service hours: 800 × 360 s = 288,000 s of work over 13 h = 46,800 s
    // per agent → 6.15 → 7 agents.
    let backlog = EmailBacklog::new(800.0, 360.0, 9.0 * 3600.0, 4.0 * 3600.0).expect("backlog");
    let r = email_required_agents(&backlog, None, Shrinkage::default()).expect("ok");
    assert_eq!(r.required_agents, 7);
    // Exactly divisible work needs no extra agent: 10 emails × 360 s in 3600 s.
    let exact = EmailBacklog::new(10.0, 360.0, 0.0, 1800.0).expect("backlog");
    assert_eq!(
        email_required_agents(&exact, None, Shrinkage::default())
            .expect("ok")
            .required_agents,
        2
    );
    assert!(EmailBacklog::new(10.0, 360.0, 0.0, 0.0).is_err());
}

// ---------------------------------------------------------------- properties

fn arb_traffic() -> impl Strategy<Value = (f64, f64)> {
    // (erlangs, aht seconds)
    (0.1f64..300.0, 30.0f64..900.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn erlang_c_service_level_rises_and_p_wait_falls_with_agents(
        (a, aht) in arb_traffic(), t in 0.0f64..120.0,
    ) {
        let first = (a.floor() as u32).max(1);
        let mut prev = ErlangCMetrics::new(first, a);
        for n in first + 1..first + 60 {
            let m = ErlangCMetrics::new(n, a);
            prop_assert!(m.service_level(t, aht) >= prev.service_level(t, aht) - 1e-12);
            prop_assert!(m.p_wait <= prev.p_wait + 1e-12);
            prop_assert!(m.asa_seconds(aht) <= prev.asa_seconds(aht));
            prev = m;
        }
    }

    #[test]
    fn erlang_a_metrics_improve_with_agents(
        (a, aht) in arb_traffic(), patience in 5.0f64..600.0, t in 0.0f64..60.0,
    ) {
        let top = (a * 1.5) as u32 + 10;
        let step = (top / 40).max(1);
        let mut prev = ErlangAMetrics::new(1, a, aht, patience, t).expect("metrics");
        let mut n = 1 + step;
        while n <= top {
            let m = ErlangAMetrics::new(n, a, aht, patience, t).expect("metrics");
            prop_assert!(m.p_abandon <= prev.p_abandon + 1e-12, "P(abandon) at {n}");
            prop_assert!(m.p_wait <= prev.p_wait + 1e-12, "P(wait) at {n}");
            prop_assert!(m.sl_answered_within_t >= prev.sl_answered_within_t - 1e-12, "SL at {n}");
            prop_assert!(m.sl_wait_le_t >= prev.sl_wait_le_t - 1e-12, "SL(wait ≤ t) at {n}");
            prop_assert!(m.asa_seconds <= prev.asa_seconds + 1e-9, "ASA at {n}");
            prop_assert!(m.asa_answered_seconds <= prev.asa_answered_seconds + 1e-9, "ASA answered at {n}");
            prop_assert!(m.occupancy <= prev.occupancy + 1e-12, "occupancy at {n}");
            prev = m;
            n += step;
        }
    }

    #[test]
    fn required_agents_is_the_least_that_meets_every_target(
        (a, aht) in arb_traffic(),
        sl in 0.5f64..0.99, t in 1.0f64..60.0, occ in 0.6f64..0.99,
        asa in 1.0f64..60.0, ab in 0.01f64..0.2, patience in 10.0f64..600.0,
        which in 0u8..4,
    ) {
        let traffic = Traffic::from_erlangs(a, Some(aht)).expect("traffic");
        let mut targets = Targets::default();
        if which & 1 == 0 { targets = targets.service_level(sl, t).expect("sl"); }
        if which != 1 { targets = targets.max_occupancy(occ).expect("occ"); }
        targets = targets.max_asa_seconds(asa).expect("asa");
        let meets_c = |n: u32| {
            let m = ErlangCMetrics::new(n, a);
            targets.get_service_level().is_none_or(|s| m.service_level(s.threshold_seconds, aht) >= s.min)
                && m.asa_seconds(aht) <= asa
                && targets.get_max_occupancy().is_none_or(|o| m.occupancy() <= o)
                && f64::from(n) > a
        };
        let r = required_agents(&Model::ErlangC, &traffic, &targets, Shrinkage::default()).expect("C");
        prop_assert!(meets_c(r.agents));
        prop_assert!(r.agents == 1 || !meets_c(r.agents - 1));

        let targets = targets.max_abandon(ab).expect("ab");
        let model = Model::erlang_a(patience).expect("model");
        let th = targets.threshold_seconds().unwrap_or(0.0);
        let meets_a = |n: u32| {
            if n == 0 { return false; }
            let m = ErlangAMetrics::new(n, a, aht, patience, th).expect("metrics");
            targets.get_service_level().is_none_or(|s| m.sl_answered_within_t >= s.min)
                && m.asa_answered_seconds <= asa
                && targets.get_max_occupancy().is_none_or(|o| m.occupancy <= o)
                && m.p_abandon <= ab
        };
        let r = required_agents(&model, &traffic, &targets, Shrinkage::default()).expect("A");
        prop_assert!(meets_a(r.agents));
        prop_assert!(!meets_a(r.agents - 1), "N − 1 = {} meets too", r.agents - 1);
    }

    #[test]
    fn results_stay_finite_and_in_range_for_thousands_of_agents(
        a in 500.0f64..5000.0, ratio in 0.5f64..1.5, aht in 60.0f64..600.0,
        patience in 20.0f64..600.0, t in 0.0f64..60.0,
    ) {
        let n = ((a * ratio) as u32).max(1);
        let b = erlang_b(n, a);
        prop_assert!(b.is_finite() && (0.0..=1.0).contains(&b));
        let c = ErlangCMetrics::new(n, a);
        let sl = c.service_level(t, aht);
        prop_assert!((0.0..=1.0).contains(&c.p_wait) && (0.0..=1.0).contains(&sl));
        let m = ErlangAMetrics::new(n, a, aht, patience, t).expect("metrics");
        for p in [m.p_wait, m.p_abandon, m.sl_answered_within_t, m.sl_wait_le_t, m.sl_excl_abandon, m.occupancy] {
            prop_assert!(p.is_finite() && (0.0..=1.0).contains(&p), "{p}");
        }
        prop_assert!(m.asa_seconds.is_finite() && m.asa_seconds >= 0.0);
        prop_assert!(m.asa_answered_seconds.is_finite() && m.asa_answered_seconds >= 0.0);
        prop_assert!(m.sl_answered_within_t <= m.sl_excl_abandon + 1e-12);
    }
}

#[test]
fn erlang_b_and_c_hold_at_two_thousand_erlangs() {
    for n in [1500u32, 2000, 2050, 2200, 5000] {
        let b = erlang_b(n, 2000.0);
        assert!(b.is_finite() && (0.0..=1.0).contains(&b), "{n}: {b}");
        let c = ErlangCMetrics::new(n, 2000.0);
        assert!((0.0..=1.0).contains(&c.p_wait));
    }
    let traffic = Traffic::from_erlangs(2000.0, Some(180.0)).expect("traffic");
    let r = required_agents(
        &Model::ErlangC,
        &traffic,
        &targets_sl(0.8, 20.0),
        Shrinkage::default(),
    )
    .expect("ok");
    // Square-root staffing: about A + β·√A with β ≈ 1.
    assert!(r.agents > 2000 && r.agents < 2000 + 3 * 45, "{}", r.agents);
}

// ---------------------------------------------------------------- simulator

/// ContactCenters' reference reports, read from the shared data folder at
/// test time (never copied into the repository).
fn reference(name: &str) -> Option<String> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/real/simulation_benchmarks")
        .join(name);
    match std::fs::read_to_string(&p) {
        Ok(s) => Some(s),
        Err(_) => {
            println!("skipped: {} is not present", p.display());
            None
        }
    }
}

/// The "func. of averages" value and 95% CI of a report's section.
fn reported(text: &str, section: &str) -> (f64, f64, f64) {
    let header = format!("==> {section}\n");
    let start = text
        .find(&header)
        .unwrap_or_else(|| panic!("no section {section}"))
        + header.len();
    let body = &text[start..];
    let lines: Vec<&str> = body.lines().take(4).collect();
    let value: f64 = lines[1]
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("value in {section}: {}", lines[1]));
    let ci = lines
        .iter()
        .find(|l| l.contains("confidence interval"))
        .unwrap_or_else(|| panic!("CI in {section}"));
    let inside = &ci[ci.rfind('(').expect("(") + 1..ci.rfind(')').expect(")")];
    let mut parts = inside
        .split(',')
        .map(|s| s.trim().parse::<f64>().expect("number"));
    let low = parts.next().expect("low");
    let high = parts.next().expect("high");
    (value, low, high)
}

/// ContactCenters' MMC example: λ = 4.2/min, μ = 0.5/min, 12 agents, AWT
/// 20 s, 8-hour days starting empty, arrivals stop at the end of the day.
fn mmc_config(patience_seconds: Option<f64>, replications: u32) -> SimConfig {
    SimConfig::stationary(
        4.2 / 60.0,
        12,
        8.0 * 3600.0,
        120.0,
        patience_seconds,
        20.0,
        replications,
        20_260_101,
    )
}

fn check_against(
    est: &kefu_core::staffing::simulate::Estimate,
    reference: (f64, f64, f64),
    what: &str,
) {
    let (value, low, high) = reference;
    println!(
        "{what}: simulated {:.4} ({:.4}, {:.4}), ContactCenters {value} ({low}, {high})",
        est.mean, est.ci_low, est.ci_high
    );
    assert!(
        est.contains(value) || est.overlaps(low, high),
        "{what}: simulated {:.4} ({:.4}, {:.4}) vs ContactCenters {value} ({low}, {high})",
        est.mean,
        est.ci_low,
        est.ci_high
    );
}

#[test]
fn simulator_reproduces_contactcenters_mmc() {
    let Some(text) = reference("MMC.res") else {
        return;
    };
    let r = simulate(&mmc_config(None, 1000)).expect("simulates");
    check_against(
        &r.service_level,
        reported(&text, "Service level"),
        "service level",
    );
    let (soa, lo, hi) = reported(&text, "Speed of answer"); // minutes
    check_against(
        &r.asa_answered_seconds,
        (soa * 60.0, lo * 60.0, hi * 60.0),
        "speed of answer",
    );
    check_against(
        &r.occupancy,
        reported(&text, "Occupancy ratio"),
        "occupancy",
    );
    close(r.service_level.mean, 0.902, 0.004);
}

#[test]
fn simulator_and_erlang_a_reproduce_contactcenters_mmc_with_abandonment() {
    let Some(text) = reference("MMCAb.res") else {
        return;
    };
    let r = simulate(&mmc_config(Some(60.0), 1000)).expect("simulates");
    let sl = reported(&text, "Service level");
    check_against(&r.service_level, sl, "service level");
    check_against(
        &r.sl_with_abandon,
        reported(&text, "Service level with abandonment"),
        "service level with abandonment",
    );
    check_against(
        &r.occupancy,
        reported(&text, "Occupancy ratio"),
        "occupancy",
    );
    let (soa, lo, hi) = reported(&text, "Speed of answer");
    check_against(
        &r.asa_answered_seconds,
        (soa * 60.0, lo * 60.0, hi * 60.0),
        "speed of answer",
    );
    // Erlang A is the stationary model; an 8-hour day that starts empty is
    // slightly better than stationary, by far less than a point.
    let m = ErlangAMetrics::new(12, 8.4, 120.0, 60.0, 20.0).expect("metrics");
    close(m.sl_excl_abandon, sl.0, 0.005);
    close(m.occupancy, reported(&text, "Occupancy ratio").0, 0.005);
    // "Number of contacts having abandoned" ÷ offered (4.2/min × 480 min).
    let abandoned = text
        .split("Number of contacts having abandoned")
        .nth(1)
        .and_then(|s| s.lines().nth(2))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("abandoned average");
    close(m.p_abandon, abandoned / (4.2 * 480.0), 0.002);
}

#[test]
fn erlang_a_matches_the_simulator_on_long_stationary_runs() {
    // (calls/s, agents, AHT, patience, t): moderate, overloaded, near C.
    let scenarios = [
        (10.0 / 180.0, 14, 180.0, Some(300.0), 20.0),
        (60.0 / 200.0, 55, 200.0, Some(60.0), 10.0),
        (30.0 / 120.0, 25, 120.0, Some(30.0), 20.0),
        (8.4 / 120.0, 12, 120.0, None, 20.0),
    ];
    for (lambda, n, aht, patience, t) in scenarios {
        let cfg = SimConfig {
            warmup_seconds: 3600.0,
            ..SimConfig::stationary(lambda, n, 3600.0 * 41.0, aht, patience, t, 20, 42)
        };
        let r = simulate(&cfg).expect("simulates");
        let a = lambda * aht;
        let (p_ab, sl_all, sl_wait, sl_excl, asa, asa_ans, occ) = match patience {
            Some(p) => {
                let m = ErlangAMetrics::new(n, a, aht, p, t).expect("metrics");
                (
                    m.p_abandon,
                    m.sl_answered_within_t,
                    m.sl_wait_le_t,
                    m.sl_excl_abandon,
                    m.asa_seconds,
                    m.asa_answered_seconds,
                    m.occupancy,
                )
            }
            None => {
                let c = ErlangCMetrics::new(n, a);
                let sl = c.service_level(t, aht);
                let asa = c.asa_seconds(aht);
                (0.0, sl, sl, sl, asa, asa, c.occupancy())
            }
        };
        let what = format!("λ={lambda:.4}/s N={n} AHT={aht} patience={patience:?}");
        for (name, est, exact) in [
            ("P(abandon)", &r.p_abandon, p_ab),
            ("sl_answered_within_t", &r.sl_answered_within_t, sl_all),
            ("sl_wait_le_t", &r.sl_wait_le_t, sl_wait),
            ("service level (excl. abandon)", &r.service_level, sl_excl),
            ("ASA", &r.asa_seconds, asa),
            ("ASA answered", &r.asa_answered_seconds, asa_ans),
            ("occupancy", &r.occupancy, occ),
        ] {
            // The CI, widened by a hair for the truncated tail and the
            // warm-up's residual bias.
            let slack = 1e-3 * exact.abs().max(1e-3);
            assert!(
                est.ci_low - slack <= exact && exact <= est.ci_high + slack,
                "{what} {name}: model {exact:.5}, simulated {:.5} ({:.5}, {:.5})",
                est.mean,
                est.ci_low,
                est.ci_high
            );
        }
    }
}

#[test]
fn simulator_follows_time_varying_arrivals_and_breaks() {
    // Quiet, busy with enough agents, then a break that halves the agents:
    // the busy interval with half the agents must do worse.
    let interval = |calls: f64, agents: u32| SimInterval {
        duration_seconds: 1800.0,
        expected_calls: calls,
        agents,
    };
    let base = SimConfig {
        intervals: vec![interval(50.0, 10), interval(300.0, 40), interval(300.0, 40)],
        aht_seconds: 180.0,
        patience_seconds: Some(90.0),
        threshold_seconds: 20.0,
        warmup_seconds: 0.0,
        replications: 50,
        seed: 9,
    };
    let full = simulate(&base).expect("simulates");
    let breaks = simulate(&SimConfig {
        intervals: vec![interval(50.0, 10), interval(300.0, 40), interval(300.0, 20)],
        ..base.clone()
    })
    .expect("simulates");
    close(
        full.offered.mean,
        650.0,
        3.0 * (650.0f64 / 50.0).sqrt() * 2.0,
    );
    assert!(breaks.p_abandon.mean > full.p_abandon.mean + 0.05);
    assert!(breaks.occupancy.mean > full.occupancy.mean);
}
