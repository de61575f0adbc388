//! The `kefu` binary as a user runs it: exit codes, messages with positions,
//! amended terms, calendars, and the store commands on SQLite and PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kefu_store::sqlx::{self, AssertSqlSafe};
use kefu_store::{Backend, Store, on_db};

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn kefu(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .args(args)
        .current_dir(cwd)
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

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"))
}

/// A copy of the example contract and its amendment in a scratch folder, with `edit` applied to the contract.
fn scratch_contract(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = temp();
    for name in ["contract.toml", "amendment-2027-01.toml"] {
        let text = std::fs::read_to_string(examples().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = if name == "contract.toml" {
            edit(text)
        } else {
            text
        };
        std::fs::write(dir.path().join(name), text).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    dir
}

#[test]
fn contract_check_accepts_the_example_and_its_amendment() {
    let dir = examples();
    let o = kefu(&["contract", "check", "contract.toml"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        stdout(&o).trim(),
        "ok: contract.toml — contract GDT-KF-2026-0017 (通信行业客服工作准则合同), in force 2026-01-01 to 2027-12-31, 1 amendment"
    );
}

#[test]
fn contract_check_reports_every_error_with_file_line_column_and_exits_2() {
    let dir = scratch_contract(|t| {
        t.replacen("term_years = 2", "term_yeras = 2", 1)
            .replacen("max = \"5s\"", "max = 5", 1)
    });
    let o = kefu(&["contract", "check", "contract.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("error: contract.toml:19:1: contract.term_yeras: unknown key `term_yeras` (did you mean `term_years`?)"),
        "{err}"
    );
    assert!(
        err.contains("error: contract.toml:56:7: channels.phone.targets.average_speed_of_answer.max: expected a duration with a unit like \"5s\" or \"5min\", found the bare number 5"),
        "{err}"
    );
    // Renaming the key also leaves `term_years` missing: both are reported, at once.
    assert!(
        err.contains("error: contract.toml:13:1: contract.term_years: missing key `term_years`"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("3 errors"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn contract_check_of_a_missing_file_says_which_and_exits_2() {
    let dir = temp();
    let o = kefu(&["contract", "check", "nope.toml"], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("error: nope.toml: cannot read:"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn contract_show_json_after_the_amendment_shows_the_amended_values() {
    let dir = examples();
    let after = kefu(
        &[
            "contract",
            "show",
            "contract.toml",
            "--on",
            "2027-02-01",
            "--json",
        ],
        &dir,
    );
    assert!(after.status.success(), "{}", stderr(&after));
    let v: serde_json::Value =
        serde_json::from_slice(&after.stdout).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(v["on"], "2027-02-01");
    assert_eq!(v["contract"]["channels"]["phone"]["fee"]["rate"], "0.55");
    assert_eq!(
        v["contract"]["channels"]["chat"]["targets"][0]["metric"]["max"],
        "2s"
    );
    assert_eq!(
        v["amendments_in_force"][0]["number"],
        "GDT-KF-2026-0017-补1"
    );
    assert_eq!(v["amended_settings"][0]["key"], "channels.phone.fee.rate");
    assert_eq!(v["amended_settings"][0]["article"], "第一条");

    let before = kefu(
        &[
            "contract",
            "show",
            "contract.toml",
            "--on",
            "2026-12-31",
            "--json",
        ],
        &dir,
    );
    let v: serde_json::Value =
        serde_json::from_slice(&before.stdout).unwrap_or_else(|e| panic!("json: {e}"));
    assert_eq!(v["contract"]["channels"]["phone"]["fee"]["rate"], "0.60");
    assert_eq!(
        v["contract"]["channels"]["chat"]["targets"][0]["metric"]["max"],
        "3s"
    );
    assert_eq!(v["amended_settings"], serde_json::json!([]));
}

#[test]
fn contract_show_text_marks_amended_settings() {
    let o = kefu(
        &["contract", "show", "contract.toml", "--on", "2027-02-01"],
        &examples(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("fee [6.1.1] 0.55 CNY per call_minute"),
        "{out}"
    );
    assert!(out.contains("channels.phone.fee.rate = \"0.55\" — GDT-KF-2026-0017-补1 第一条 (amends clause 6.1.1), from 2027-01-01"), "{out}");
}

#[test]
fn contract_show_outside_the_term_exits_2() {
    let o = kefu(
        &["contract", "show", "contract.toml", "--on", "2028-01-01"],
        &examples(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not in force on 2028-01-01: it runs from 2026-01-01 to 2027-12-31"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn calendar_prints_a_month_with_holidays_and_make_up_days() {
    let o = kefu(&["calendar", "--year", "2026", "--month", "2"], &examples());
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("14班"), "{out}");
    assert!(out.contains("16假"), "{out}");
    assert!(out.contains("02-20 周五 休 春节"), "{out}");
}

#[test]
fn calendar_for_a_year_without_holiday_data_is_an_error() {
    let o = kefu(&["calendar", "--year", "2031"], &examples());
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no holiday data for 2031"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn extra_holiday_files_add_a_year() {
    let dir = temp();
    let data = "year = 2031\nsource = \"test notice\"\n\n[[holiday]]\nname = \"元旦\"\noff = 2031-01-01\nstatutory = [2031-01-01]\n";
    std::fs::write(dir.path().join("2031.toml"), data).unwrap_or_else(|e| panic!("{e}"));
    let o = kefu(
        &[
            "--holidays",
            ".",
            "calendar",
            "--year",
            "2031",
            "--month",
            "1",
        ],
        dir.path(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("1假"), "{}", stdout(&o));
}

async fn raw(store: &Store, sql: &str) {
    let sql = sql.to_string();
    let r = on_db!(store.db(), pool => {
        sqlx::query(AssertSqlSafe(sql.clone())).execute(pool).await.map(|r| r.rows_affected())
    });
    assert!(r.is_ok(), "{sql}: {r:?}");
}

/// The foundation story a user walks through, on SQLite and on PostgreSQL:
/// load the contract (twice: nothing doubles), list versions, verify the
/// audit log, then find a tampered row.
#[tokio::test]
async fn contract_load_is_idempotent_and_audit_verify_finds_a_tampered_row() {
    for env in common::test_envs().await {
        let cwd = examples();
        let data_dir = env.data_dir.path().display().to_string();
        let args = |rest: &[&str]| -> Vec<String> {
            let mut v = vec![
                "--db".to_string(),
                env.url.clone(),
                "--data-dir".to_string(),
                data_dir.clone(),
            ];
            v.extend(rest.iter().map(|s| s.to_string()));
            v
        };
        let run = |rest: &[&str]| {
            let a = args(rest);
            let refs: Vec<&str> = a.iter().map(String::as_str).collect();
            kefu(&refs, &cwd)
        };
        let first = run(&["contract", "load", "contract.toml"]);
        assert!(first.status.success(), "[{}] {}", env.label, stderr(&first));
        assert!(
            stdout(&first).contains("contract GDT-KF-2026-0017 stored"),
            "{}",
            stdout(&first)
        );
        let again = run(&["contract", "load", "contract.toml"]);
        assert!(again.status.success(), "[{}] {}", env.label, stderr(&again));
        assert_eq!(
            stdout(&again).matches("unchanged, already stored").count(),
            2,
            "{}",
            stdout(&again)
        );

        let versions = run(&["contract", "versions", "GDT-KF-2026-0017"]);
        let out = stdout(&versions);
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(
            out.lines()
                .next()
                .is_some_and(|l| l.contains("base") && l.contains("from 2026-01-01")),
            "{out}"
        );

        let verify = run(&["audit", "verify"]);
        assert!(
            verify.status.success(),
            "[{}] {}",
            env.label,
            stderr(&verify)
        );
        assert!(
            stdout(&verify).starts_with("audit log intact: 3 rows"),
            "{}",
            stdout(&verify)
        );

        // Someone with database access bypasses the append-only guard and edits row 2.
        let store = env.open_ok().await;
        match store.backend() {
            Backend::Sqlite => raw(&store, "DROP TRIGGER audit_log_no_update").await,
            Backend::Postgres => {
                raw(
                    &store,
                    "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update",
                )
                .await
            }
        }
        raw(
            &store,
            "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2",
        )
        .await;
        store.close().await;

        let verify = run(&["audit", "verify"]);
        assert_eq!(
            verify.status.code(),
            Some(3),
            "[{}] {}",
            env.label,
            stdout(&verify)
        );
        assert!(
            stderr(&verify).contains("audit log broken at seq 2"),
            "{}",
            stderr(&verify)
        );
    }
}

#[tokio::test]
async fn a_key_file_from_another_installation_is_refused() {
    for env in common::test_envs().await {
        let cwd = examples();
        let data_dir = env.data_dir.path().display().to_string();
        let o = kefu(
            &[
                "--db",
                &env.url,
                "--data-dir",
                &data_dir,
                "contract",
                "load",
                "contract.toml",
            ],
            &cwd,
        );
        assert!(o.status.success(), "[{}] {}", env.label, stderr(&o));
        let other = temp();
        let other_dir = other.path().display().to_string();
        let db = format!("sqlite://{}/k.db", other_dir);
        let first = kefu(
            &[
                "--db",
                &db,
                "--data-dir",
                &other_dir,
                "contract",
                "load",
                "contract.toml",
            ],
            &cwd,
        );
        assert!(first.status.success(), "{}", stderr(&first));
        let o = kefu(
            &[
                "--db",
                &env.url,
                "--data-dir",
                &other_dir,
                "audit",
                "verify",
            ],
            &cwd,
        );
        assert_eq!(o.status.code(), Some(2), "[{}]", env.label);
        let err = stderr(&o);
        assert!(err.contains("does not match this database"), "{err}");
        let key_text = std::fs::read_to_string(other.path().join("kefu.key")).unwrap_or_default();
        let secret_line = key_text
            .lines()
            .find(|l| l.starts_with("key ="))
            .unwrap_or("key = ?");
        let secret = secret_line
            .split('=')
            .nth(1)
            .unwrap_or("?")
            .trim()
            .trim_matches('"');
        assert!(
            secret.len() > 20 && !err.contains(secret),
            "the key itself is never printed"
        );
    }
}

#[test]
fn read_commands_never_create_a_database() {
    let dir = temp();
    let o = kefu(
        &["--db", "sqlite://./typo.db", "audit", "verify"],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no database at ./typo.db"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("typo.db").exists());
    assert!(
        !dir.path().join("data").exists(),
        "no key is generated either"
    );
}

#[test]
fn checking_an_amendment_file_points_to_its_contract() {
    let o = kefu(
        &[
            "contract",
            "check",
            "amendment-2027-01.toml",
            "contract.toml",
        ],
        &examples(),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("amendment-2027-01.toml: this is an amendment (补充协议); check or show the contract that lists it"),
        "{}",
        stderr(&o)
    );
    assert!(
        stdout(&o).contains("ok: contract.toml"),
        "the other file is still checked"
    );
}

#[test]
fn database_passwords_are_never_printed() {
    let dir = temp();
    for url in [
        "postgres://kefu:S3cretPW@127.0.0.1:99999/x",
        "mysql://root:S3cretPW@127.0.0.1/x",
        "postgres://127.0.0.1:1/x?user=kefu&password=S3cretPW",
    ] {
        let o = kefu(
            &["--db", url, "contract", "load", "contract.toml"],
            &examples(),
        );
        assert_eq!(o.status.code(), Some(2), "{url}: {}", stderr(&o));
        assert!(!stderr(&o).contains("S3cretPW"), "{url}: {}", stderr(&o));
    }
    drop(dir);
}

#[test]
fn the_demo_loads_the_contract_imports_a_month_and_writes_its_report_and_runs_again() {
    let dir = temp();
    for round in 0..2 {
        let o = kefu(&["demo", "--calls", "3000"], dir.path());
        assert!(o.status.success(), "round {round}: {}", stderr(&o));
        let out = stdout(&o);
        if round == 1 {
            assert!(
                out.contains("already imported"),
                "a second demo stores nothing twice: {out}"
            );
        }
    }
    let json = std::fs::read_dir(dir.path().join("kefu-demo"))
        .unwrap_or_else(|e| panic!("{e}"))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap_or_else(|| panic!("no JSON report"));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(json).unwrap_or_default())
            .unwrap_or_else(|e| panic!("{e}"));
    assert!(v["channels"]["phone"]["offered"].as_u64().unwrap_or(0) > 2500);
    assert!(dir.path().join("data/kefu.key").exists());
}
