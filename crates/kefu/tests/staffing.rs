//! `kefu staffing erlang` as a user runs it: JSON keys, a known answer
//! (pyworkforce's own test case), the readable table, and exit code 2 with a
//! clear message for bad input.

use std::process::{Command, Output};

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .env_remove("KEFU_HOLIDAYS_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run kefu: {e}"))
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json(o: &Output) -> serde_json::Map<String, serde_json::Value> {
    assert!(o.status.success(), "{}", stderr(o));
    match serde_json::from_str(&stdout(o)) {
        Ok(serde_json::Value::Object(m)) => m,
        other => panic!("not a JSON object: {other:?}\n{}", stdout(o)),
    }
}

fn keys(m: &serde_json::Map<String, serde_json::Value>) -> Vec<&str> {
    let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
    k.sort_unstable();
    k
}

fn num(m: &serde_json::Map<String, serde_json::Value>, key: &str) -> f64 {
    m.get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or_else(|| panic!("{key} missing in {m:?}"))
}

#[test]
fn staffing_erlang_c_finds_pyworkforce_answer_with_documented_keys() {
    // pyworkforce 0.5.1 test_erlang.py: 100 calls / 30 min, AHT 3 min, 80%
    // within 0.33 min, occupancy ≤ 85%, shrinkage 30% → 14 raw, 20 positions.
    let o = kefu(&[
        "staffing",
        "erlang",
        "--model",
        "c",
        "--calls",
        "100",
        "--interval-seconds",
        "1800",
        "--aht-seconds",
        "180",
        "--threshold-seconds",
        "19.8",
        "--target-sl",
        "0.8",
        "--max-occupancy",
        "0.85",
        "--shrinkage",
        "0.3",
        "--json",
    ]);
    let m = json(&o);
    assert_eq!(
        keys(&m),
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
    assert_eq!(num(&m, "required_agents"), 14.0);
    assert_eq!(num(&m, "required_agents_with_shrinkage"), 20.0);
    assert!((num(&m, "service_level") - 0.888).abs() < 5e-4);
    assert!((num(&m, "traffic_erlangs") - 10.0).abs() < 1e-12);
}

#[test]
fn staffing_erlang_a_evaluates_agents_and_reports_abandonment() {
    // pyworkforce (GitHub main) test_abandonment.py: A = 10, AHT 3 min,
    // patience 5 min, 14 positions → P(abandon) 0.013984.
    let o = kefu(&[
        "staffing",
        "erlang",
        "--model",
        "a",
        "--traffic",
        "10",
        "--aht-seconds",
        "180",
        "--patience-seconds",
        "300",
        "--agents",
        "14",
        "--threshold-seconds",
        "20",
        "--json",
    ]);
    let m = json(&o);
    assert_eq!(
        keys(&m),
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
    assert!((num(&m, "p_abandon") - 0.013_984).abs() < 5e-7);
    assert!((num(&m, "sl_answered_within_t") - 0.916_792).abs() < 5e-7);
}

#[test]
fn staffing_erlang_prints_a_readable_table_without_json() {
    let o = kefu(&[
        "staffing",
        "erlang",
        "--model",
        "c",
        "--calls",
        "360",
        "--interval-seconds",
        "1800",
        "--aht-seconds",
        "240",
        "--threshold-seconds",
        "20",
        "--target-sl",
        "0.8",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.starts_with("Erlang C — 48.00 erlangs, 54 agents (the least that meets the targets)\n"),
        "{out}"
    );
    assert!(out.contains("service level within 20 s"), "{out}");
    assert!(out.contains("81.72%"), "{out}");
}

#[test]
fn staffing_erlang_bad_input_exits_2_naming_the_field() {
    let cases: [(&[&str], &str); 5] = [
        (
            &[
                "--model",
                "c",
                "--calls",
                "-5",
                "--interval-seconds",
                "1800",
                "--aht-seconds",
                "180",
                "--agents",
                "3",
            ],
            "error: calls: expected 0 or more, found -5",
        ),
        (
            &[
                "--model",
                "c",
                "--traffic",
                "10",
                "--aht-seconds",
                "180",
                "--threshold-seconds",
                "20",
                "--target-sl",
                "0.8",
                "--shrinkage",
                "1",
            ],
            "error: shrinkage: expected a fraction from 0 up to (not including) 1, found 1",
        ),
        (
            &[
                "--model",
                "a",
                "--traffic",
                "10",
                "--aht-seconds",
                "180",
                "--agents",
                "12",
            ],
            "error: --model a needs --patience-seconds",
        ),
        (
            &[
                "--model",
                "c",
                "--traffic",
                "10",
                "--aht-seconds",
                "0",
                "--agents",
                "12",
            ],
            "error: aht_seconds: expected a number greater than 0, found 0",
        ),
        (
            &[
                "--model",
                "c",
                "--traffic",
                "10",
                "--aht-seconds",
                "180",
                "--max-abandon",
                "0.05",
            ],
            "error: max_abandon does not apply to Erlang C",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["staffing", "erlang"];
        all.extend_from_slice(args);
        let o = kefu(&all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).starts_with(want), "{args:?}: {}", stderr(&o));
    }
}

/// A month of generated calls imported into a fresh store, and a week of it planned: the
/// forecast, the agents the contract's phone targets require (Erlang A with the patience the
/// calls show), the agents the PBX had logged in, and the channels nobody was on duty for.
#[test]
fn a_week_is_planned_from_imported_history_and_the_pbx_logins() {
    let dir = std::env::temp_dir().join(format!("kefu-plan-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let db = format!("sqlite://{}/kefu.db", dir.display());
    let data = dir.display().to_string();
    let contract = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/contract.toml");
    let log = dir.join("queue_log");
    let log = log.to_str().expect("utf-8 path");
    let run = |args: &[&str]| {
        let mut all = vec!["--db", db.as_str(), "--data-dir", data.as_str()];
        all.extend_from_slice(args);
        kefu(&all)
    };
    let ok = |o: Output| {
        assert!(o.status.success(), "{}", stderr(&o));
        o
    };
    ok(run(&["contract", "load", contract]));
    ok(kefu(&[
        "generate",
        "calls",
        "--contract",
        contract,
        "--month",
        "2026-10",
        "--calls",
        "20000",
        "--out",
        log,
    ]));
    ok(run(&["import", "--format", "queue-log", log]));

    let plan = json(&run(&["staffing", "plan", "--week", "2026-W44", "--json"]));
    assert_eq!(plan["week"], "2026-W44");
    assert_eq!(
        plan["model"], "Erlang A",
        "the calls show abandonment: patience is estimated"
    );
    assert!(plan["patience_seconds"].as_f64().is_some_and(|p| p > 0.0));
    let slots = plan["slots"].as_array().expect("slots");
    assert_eq!(slots.len(), 7 * 48, "a week of 30-minute intervals");
    let monday_10 = slots
        .iter()
        .find(|s| s["start"] == "2026-10-26T10:00")
        .expect("Monday 10:00");
    assert!(
        monday_10["forecast_contacts"]
            .as_f64()
            .is_some_and(|c| c > 1.0),
        "{monday_10}"
    );
    assert!(
        monday_10["required_agents"]
            .as_u64()
            .is_some_and(|n| n >= 2),
        "at least the contract's minimum"
    );
    assert!(
        monday_10["on_duty"].as_f64().is_some_and(|n| n > 0.0),
        "the PBX's logged-in agents count"
    );
    let nobody = plan["service_not_provided"].as_array().expect("list");
    assert!(
        nobody
            .iter()
            .any(|n| n["channel"] == "chat" && n["minutes"] == 840),
        "nobody was on duty for chat 08:00–22:00: {nobody:?}"
    );

    let table = run(&[
        "staffing",
        "plan",
        "--week",
        "2026-W44",
        "--lang",
        "en",
        "--chart",
        &format!("{data}/plan.svg"),
    ]);
    assert!(
        stdout(&table).contains("Required") && stdout(&table).contains("Service not provided chat")
    );
    let svg = std::fs::read_to_string(dir.join("plan.svg")).expect("chart written");
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));

    // The quality report carries the period's staffing (clause 2.2).
    let out = format!("{data}/report.json");
    ok(run(&[
        "report", "--period", "2026-10", "--format", "json", "--out", &out,
    ]));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("report")).expect("json");
    let st = &report["staffing"];
    assert_eq!(st["clause"], "2.2");
    assert_eq!(
        st["not_provided_minutes"]["chat"],
        31 * 840,
        "nobody on chat all October"
    );
    assert_eq!(st["met"], false);
    assert_eq!(st["phone"]["intervals_open"], 31 * 48, "phone is 24×7");
    assert!(
        st["phone"]["model"]
            .as_str()
            .is_some_and(|m| m.starts_with("Erlang"))
    );

    let bad = run(&["staffing", "plan", "--week", "2026-48"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("ISO week"), "{}", stderr(&bad));
    let _ = std::fs::remove_dir_all(&dir);
}
