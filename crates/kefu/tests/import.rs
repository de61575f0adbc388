//! `kefu import` and `kefu report` as a user runs them: exact figures from a
//! hand-written queue_log, idempotent re-imports, and a run killed halfway
//! that resumes without losing or doubling a call — on SQLite and PostgreSQL.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use kefu_store::sqlx;
use kefu_store::{Db, on_db, sql};

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn kefu(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .current_dir(examples())
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run kefu: {e}"))
}

/// `kefu --db … --data-dir …` of a test environment, then `rest`.
fn on(env: &common::TestEnv, rest: &[&str]) -> Output {
    let data = env.data_dir.path().display().to_string();
    let mut args = vec!["--db", env.url.as_str(), "--data-dir", data.as_str()];
    args.extend_from_slice(rest);
    kefu(&args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Epoch seconds of a Shanghai wall-clock time.
fn epoch(local: &str) -> i64 {
    let dt: jiff::civil::DateTime = local.parse().unwrap_or_else(|e| panic!("{local}: {e}"));
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or_else(|e| panic!("{e}"));
    tz.to_timestamp(dt)
        .unwrap_or_else(|e| panic!("{e}"))
        .as_second()
}

/// Four calls on 2026-10-15 (Shanghai): answered after 4 s, abandoned after 3 s
/// (a short abandon), abandoned after 30 s, answered after 25 s.
fn four_calls() -> String {
    let t = epoch("2026-10-15T10:00:00");
    let mut s = String::new();
    let mut line = |at: i64, id: &str, agent: &str, event: &str, data: &str| {
        let _ = writeln!(s, "{at}|{id}|q-main|{agent}|{event}|{data}");
    };
    line(t, "c1", "NONE", "ENTERQUEUE", "|13800000001|1");
    line(t + 4, "c1", "Agent/1001", "CONNECT", "4|1700000000.1|2");
    line(t + 64, "c1", "Agent/1001", "COMPLETECALLER", "4|60|1");
    line(t + 60, "c2", "NONE", "ENTERQUEUE", "|13800000002|1");
    line(t + 63, "c2", "NONE", "ABANDON", "1|1|3");
    line(t + 120, "c3", "NONE", "ENTERQUEUE", "|13800000003|1");
    line(t + 150, "c3", "NONE", "ABANDON", "1|1|30");
    line(t + 180, "c4", "NONE", "ENTERQUEUE", "|13800000004|1");
    line(t + 205, "c4", "Agent/1002", "CONNECT", "25|1700000000.2|1");
    line(t + 305, "c4", "Agent/1002", "COMPLETEAGENT", "25|100|1");
    s.push_str("this line is not queue_log\n");
    s
}

fn write(dir: &Path, name: &str, content: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap_or_else(|e| panic!("{e}"));
    p.display().to_string()
}

#[tokio::test]
async fn a_queue_log_imports_once_and_reports_the_contract_figures_exactly() {
    for env in common::test_envs().await {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = write(dir.path(), "queue_log", &four_calls());
        let errors = dir.path().join("rejected.txt").display().to_string();
        let run = |rest: &[&str]| on(&env, rest);
        assert!(run(&["contract", "load", "contract.toml"]).status.success());
        let first = run(&["import", "--format", "queue-log", "--errors", &errors, &log]);
        assert!(
            first.status.success(),
            "[{}] {}",
            env.label,
            text(&first.stderr)
        );
        let out = text(&first.stdout);
        assert!(
            out.contains("4 calls read — 4 stored, 0 already stored; 1 rows rejected"),
            "{out}"
        );
        assert!(
            text(&first.stderr).contains(":11:"),
            "the bad line is named: {}",
            text(&first.stderr)
        );
        assert_eq!(
            std::fs::read_to_string(&errors).unwrap_or_default(),
            "this line is not queue_log\n"
        );

        // The same file again: nothing is read twice. A copy under another name: nothing stored twice.
        let again = run(&["import", "--format", "queue-log", &log]);
        assert!(
            text(&again.stdout).contains("already imported"),
            "{}",
            text(&again.stdout)
        );
        let copy = write(dir.path(), "queue_log.copy", &(four_calls() + "\n"));
        let overlap = run(&["import", "--format", "queue-log", &copy]);
        assert!(
            text(&overlap.stdout).contains("4 calls read — 0 stored, 4 already stored"),
            "{}",
            text(&overlap.stdout)
        );

        let report = run(&["report", "--period", "2026-10", "--format", "json"]);
        assert!(
            report.status.success(),
            "[{}] {}",
            env.label,
            text(&report.stderr)
        );
        let v: serde_json::Value =
            serde_json::from_slice(&report.stdout).unwrap_or_else(|e| panic!("{e}"));
        let p = &v["channels"]["phone"];
        assert_eq!(v["period"], "2026-10");
        assert_eq!(p["offered"], 4);
        assert_eq!(p["answered"], 2);
        assert_eq!(p["abandoned"], 2);
        assert_eq!(p["short_abandoned"], 1);
        // Short abandons leave the denominator: 2 ÷ (4 − 1).
        assert_eq!(p["connection_rate_exact"]["numerator"], 2);
        assert_eq!(p["connection_rate_exact"]["denominator"], 3);
        assert_eq!(p["connection_rate"], 0.666667);
        assert_eq!(p["asa_seconds"], 14.5);
        assert_eq!(p["service_level"]["threshold_seconds"], 20);
        assert_eq!(p["service_level"]["value"], 0.25);
        assert_eq!(p["talk_seconds"], 160.0);
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        let cr = targets
            .iter()
            .find(|t| t["metric"] == "connection_rate")
            .unwrap_or_else(|| panic!("{targets:?}"));
        assert_eq!(cr["clause"], "4.1.1");
        assert_eq!(cr["target"], 0.95);
        assert_eq!(cr["met"], false);
        let asa = targets
            .iter()
            .find(|t| t["metric"] == "average_speed_of_answer")
            .unwrap_or_else(|| panic!("{targets:?}"));
        assert_eq!(asa["met"], false);
        assert_eq!(v["data"]["imports"].as_array().map(Vec::len), Some(2));

        let html = run(&[
            "report", "--period", "2026-10", "--format", "html", "--lang", "zh",
        ]);
        let page = text(&html.stdout);
        assert!(
            page.contains("客服服务质量评估报告") && page.contains("<svg"),
            "HTML report"
        );
        assert!(page.contains("未达标"), "the missed target is shown");
    }
}

fn many_calls(n: u32) -> String {
    let t0 = epoch("2026-11-02T08:00:00");
    let mut s = String::with_capacity(n as usize * 160);
    for i in 0..n {
        let t = t0 + i64::from(i) * 7;
        let id = format!("1761000000.{i}");
        let _ = writeln!(s, "{t}|{id}|q-main|NONE|ENTERQUEUE||1380000{i:04}|1");
        if i % 1000 == 0 {
            // A caller turned away by a full queue: not offered, counted as skipped.
            let _ = writeln!(s, "{t}|full.{i}|q-main|NONE|FULL|");
        }
        if i % 10 == 0 {
            let _ = writeln!(s, "{}|{id}|q-main|NONE|ABANDON|1|1|12", t + 12);
        } else {
            let _ = writeln!(s, "{}|{id}|q-main|Agent/1001|CONNECT|3|x.{i}|1", t + 3);
            let _ = writeln!(s, "{}|{id}|q-main|Agent/1001|COMPLETECALLER|3|40|1", t + 43);
        }
    }
    s
}

async fn counts(url: &str) -> (i64, i64) {
    let db = match Db::connect(url).await {
        Ok(db) => db,
        Err(_) => return (0, 0),
    };
    let calls: Result<(i64,), _> = on_db!(&db, pool => {
        sqlx::query_as(sql!("SELECT CAST(COALESCE(SUM(calls), 0) AS BIGINT) FROM call_segments")).fetch_one(pool).await
    });
    let ok: Result<(Option<i64>,), _> = on_db!(&db, pool => {
        sqlx::query_as(sql!("SELECT MAX(rows_ok) FROM import_batches")).fetch_one(pool).await
    });
    db.close().await;
    (
        calls.map_or(0, |c| c.0),
        ok.ok().and_then(|o| o.0).unwrap_or(0),
    )
}

#[tokio::test]
async fn an_import_killed_halfway_resumes_without_losing_or_doubling_a_call() {
    const CALLS: u32 = 60_000;
    for env in common::test_envs().await {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let log = write(dir.path(), "queue_log", &many_calls(CALLS));
        let data = env.data_dir.path().display().to_string();
        let base = ["--db", env.url.as_str(), "--data-dir", data.as_str()];
        assert!(
            on(&env, &["contract", "load", "contract.toml"])
                .status
                .success()
        );

        let mut child = Command::new(env!("CARGO_BIN_EXE_kefu"))
            .args(base)
            .args(["import", "--format", "queue-log", &log])
            .current_dir(examples())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}"));
        // Kill it as soon as some chunks are committed, with no chance to clean up.
        let started = Instant::now();
        let mut killed_with = 0;
        while started.elapsed() < Duration::from_secs(60) {
            let (_, stored) = counts(&env.url).await;
            if stored > 0 {
                killed_with = stored;
                let _ = child.kill();
                break;
            }
            if child.try_wait().ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = child.wait();
        let (after_kill, _) = counts(&env.url).await;
        assert!(
            after_kill < i64::from(CALLS),
            "[{}] the run was killed before it finished ({after_kill})",
            env.label
        );

        let o = on(&env, &["import", "--format", "queue-log", &log]);
        assert!(o.status.success(), "[{}] {}", env.label, text(&o.stderr));
        assert!(
            text(&o.stdout).contains("(resumed at line"),
            "[{}] {}",
            env.label,
            text(&o.stdout)
        );
        let (total, stored) = counts(&env.url).await;
        assert_eq!(
            total,
            i64::from(CALLS),
            "[{}] killed after {killed_with} stored",
            env.label
        );
        assert_eq!(
            stored,
            i64::from(CALLS),
            "[{}] the run's count matches the table",
            env.label
        );
    }
}

/// The PDF is printed by Chromium; without it (outside CI) the test says so and stops.
#[tokio::test]
async fn the_pdf_report_carries_its_chinese_text() {
    let have_chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .any(|p| Path::new(p).exists())
        || std::env::var_os("KEFU_CHROMIUM").is_some();
    let have_pdftotext = Command::new("pdftotext").arg("-v").output().is_ok();
    if !(have_chromium && have_pdftotext) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must have chromium and pdftotext (poppler-utils)"
        );
        eprintln!("skipped: no chromium or pdftotext on this machine");
        return;
    }
    let env = common::sqlite_env();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = write(dir.path(), "queue_log", &four_calls());
    let pdf = dir.path().join("report.pdf").display().to_string();
    for rest in [
        vec!["contract", "load", "contract.toml"],
        vec!["import", "--format", "queue-log", log.as_str()],
        vec![
            "report",
            "--period",
            "2026-10",
            "--format",
            "pdf",
            "--out",
            pdf.as_str(),
        ],
    ] {
        let o = on(&env, &rest);
        assert!(o.status.success(), "{rest:?}: {}", text(&o.stderr));
    }
    let bytes = std::fs::read(&pdf).unwrap_or_default();
    assert!(bytes.starts_with(b"%PDF"), "a PDF was written");
    let extracted = Command::new("pdftotext")
        .args([pdf.as_str(), "-"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let words = text(&extracted.stdout);
    assert!(
        words.contains("客服服务质量评估报告"),
        "Chinese text is real text in the PDF: {words}"
    );
    assert!(words.contains("接通率"), "{words}");
    assert!(words.contains("GDT-KF-2026-0017"), "{words}");
}

/// A generated month in each format imports completely and the report counts
/// every generated call as offered.
#[test]
fn generated_traffic_in_every_format_is_imported_and_reported_in_full() {
    for format in ["queue-log", "cdr", "connect"] {
        let env = common::sqlite_env();
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let file = dir.path().join("calls").display().to_string();
        let made = kefu(&[
            "generate",
            "calls",
            "--contract",
            "contract.toml",
            "--month",
            "2026-11",
            "--calls",
            "2000",
            "--format",
            format,
            "--seed",
            "7",
            "--out",
            file.as_str(),
        ]);
        assert!(made.status.success(), "{format}: {}", text(&made.stderr));
        let said = text(&made.stderr);
        let generated: u64 = said
            .split_whitespace()
            .nth(1)
            .map(|n| n.replace(',', ""))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{said}"));
        for rest in [
            vec!["contract", "load", "contract.toml"],
            vec!["import", "--format", format, file.as_str()],
        ] {
            let o = on(&env, &rest);
            assert!(o.status.success(), "{format} {rest:?}: {}", text(&o.stderr));
            if rest.contains(&"import") {
                assert!(
                    text(&o.stdout).contains("no rows rejected"),
                    "{format}: {}",
                    text(&o.stdout)
                );
            }
        }
        let o = on(&env, &["report", "--period", "2026-11", "--format", "json"]);
        let v: serde_json::Value =
            serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(v["channels"]["phone"]["offered"], generated, "{format}");
    }
}

/// A PBX still writing its log: the unterminated last line is left for the next run,
/// and the completed file then stores the call with its real figures.
#[test]
fn a_last_line_still_being_written_is_read_only_when_complete() {
    let env = common::sqlite_env();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let whole = four_calls().replace("this line is not queue_log\n", "");
    let cut = whole
        .trim_end_matches('\n')
        .trim_end_matches("25|100|1")
        .to_owned()
        + "25|1";
    let partial = write(dir.path(), "queue_log.partial", &cut);
    let complete = write(dir.path(), "queue_log", &whole);
    let run = |rest: &[&str]| on(&env, rest);
    assert!(run(&["contract", "load", "contract.toml"]).status.success());
    let first = run(&["import", "--format", "queue-log", &partial]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let second = run(&["import", "--format", "queue-log", &complete]);
    assert!(second.status.success(), "{}", text(&second.stderr));
    let report = run(&["report", "--period", "2026-10", "--format", "json"]);
    let v: serde_json::Value =
        serde_json::from_slice(&report.stdout).unwrap_or_else(|e| panic!("{e}"));
    let p = &v["channels"]["phone"];
    assert_eq!(p["answered"], 2, "the call cut off mid-line ends answered");
    assert_eq!(p["unknown"], 0);
    assert_eq!(
        p["talk_seconds"], 160.0,
        "with its real talk time, not the cut-off one"
    );
}

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../kefu-channels/tests/fixtures")
        .join(rel)
}

/// Renaming the mapping file changes nothing: calls are who they are, not how they were read.
#[test]
fn the_same_csv_through_a_renamed_mapping_stores_nothing_twice() {
    let env = common::sqlite_env();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mapping =
        std::fs::read_to_string(fixture("mapped/pbx.toml")).unwrap_or_else(|e| panic!("{e}"));
    let first_map = write(dir.path(), "pbx.toml", &mapping);
    let second_map = write(dir.path(), "renamed.toml", &mapping);
    let csv = fixture("mapped/pbx.csv").display().to_string();
    let copy = dir.path().join("copy.csv");
    std::fs::copy(&csv, &copy).unwrap_or_else(|e| panic!("{e}"));
    let mut bytes = std::fs::read(&copy).unwrap_or_default();
    bytes.extend_from_slice(b"\r\n");
    std::fs::write(&copy, bytes).unwrap_or_else(|e| panic!("{e}"));
    let run = |rest: &[&str]| on(&env, rest);
    assert!(run(&["contract", "load", "contract.toml"]).status.success());
    let first = run(&[
        "import",
        "--format",
        "mapped",
        "--mapping",
        &first_map,
        &csv,
    ]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let copy = copy.display().to_string();
    let second = run(&[
        "import",
        "--format",
        "mapped",
        "--mapping",
        &second_map,
        &copy,
    ]);
    assert!(
        text(&second.stdout).contains(" — 0 stored, "),
        "{}",
        text(&second.stdout)
    );
}

/// A file of another format is refused as a whole (exit 2) and stays unimported.
#[test]
fn a_file_of_the_wrong_format_is_refused_and_can_be_imported_right_afterwards() {
    let env = common::sqlite_env();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = |rest: &[&str]| on(&env, rest);
    let cdr = dir.path().join("Master.csv").display().to_string();
    let made = kefu(&[
        "generate",
        "calls",
        "--contract",
        "contract.toml",
        "--month",
        "2026-10",
        "--calls",
        "200",
        "--format",
        "cdr",
        "--out",
        cdr.as_str(),
    ]);
    assert!(made.status.success());
    assert!(run(&["contract", "load", "contract.toml"]).status.success());
    let wrong = run(&["import", "--format", "queue-log", &cdr]);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        text(&wrong.stderr).contains("no row could be read as --format queue-log"),
        "{}",
        text(&wrong.stderr)
    );
    let again = run(&["import", "--format", "queue-log", &cdr]);
    assert_eq!(
        again.status.code(),
        Some(2),
        "still refused, not 'already imported'"
    );
    let right = run(&["import", "--format", "cdr", &cdr]);
    assert!(right.status.success(), "{}", text(&right.stderr));
    assert!(
        text(&right.stdout).contains("no rows rejected"),
        "{}",
        text(&right.stdout)
    );
}

/// Ctrl-C stops an import cleanly: what is committed stays, the run says where it
/// stopped, exits 130, and the same command goes on from there.
#[tokio::test]
async fn ctrl_c_stops_an_import_that_the_same_command_then_finishes() {
    const CALLS: u32 = 60_000;
    let env = common::sqlite_env();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let log = write(dir.path(), "queue_log", &many_calls(CALLS));
    let data = env.data_dir.path().display().to_string();
    let base = ["--db", env.url.as_str(), "--data-dir", data.as_str()];
    assert!(
        on(&env, &["contract", "load", "contract.toml"])
            .status
            .success()
    );
    let child = Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(base)
        .args(["import", "--format", "queue-log", &log])
        .current_dir(examples())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if counts(&env.url).await.1 > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let (stored, _) = counts(&env.url).await;
    if stored < i64::from(CALLS) {
        assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("interrupted:"),
            "{}",
            text(&out.stderr)
        );
    }
    let o = on(&env, &["import", "--format", "queue-log", &log]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(counts(&env.url).await.0, i64::from(CALLS));
}

/// Agents' logins, logoffs and pauses are stored once, however often the log is imported.
#[tokio::test]
async fn agent_events_are_stored_once() {
    let env = common::sqlite_env();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("queue_log").display().to_string();
    let made = kefu(&[
        "generate",
        "calls",
        "--contract",
        "contract.toml",
        "--month",
        "2026-11",
        "--calls",
        "1500",
        "--out",
        file.as_str(),
    ]);
    assert!(made.status.success());
    let run = |rest: &[&str]| on(&env, rest);
    assert!(run(&["contract", "load", "contract.toml"]).status.success());
    let first = run(&["import", "--format", "queue-log", &file]);
    let said = text(&first.stdout);
    let events: i64 = said
        .split("; ")
        .find(|p| p.ends_with("agent events"))
        .and_then(|p| p.split_whitespace().next())
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{said}"));
    assert!(events > 0, "{said}");
    let copy = dir.path().join("queue_log.again").display().to_string();
    std::fs::write(
        &copy,
        std::fs::read_to_string(&file).unwrap_or_default() + "\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        run(&["import", "--format", "queue-log", &copy])
            .status
            .success()
    );
    let db = Db::connect(&env.url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let stored: (i64,) = on_db!(&db, pool => {
        sqlx::query_as(sql!("SELECT COUNT(*) FROM agent_events")).fetch_one(pool).await
    })
    .unwrap_or_else(|e| panic!("{e}"));
    db.close().await;
    assert_eq!(stored.0, events);
}
