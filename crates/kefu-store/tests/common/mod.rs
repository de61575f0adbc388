//! Test harness: every storage story runs on a fresh SQLite file AND a fresh PostgreSQL
//! database.
//!
//! PostgreSQL: a throw-away database `kefu_test_<uuid>` is created through the admin URL
//! (`KEFU_TEST_PG_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`) and dropped
//! `WITH (FORCE)` by a guard's `Drop`, which also runs when the story panics. When PostgreSQL
//! is not reachable, a `skipped: no PostgreSQL at <url>` line is printed and only SQLite runs;
//! under `CI=true` that is a test failure instead.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::io::Write;
use std::sync::Once;
use std::time::Duration;

use kefu_store::sqlx::{self, AssertSqlSafe, Connection, PgConnection};
use kefu_store::{Store, StoreError};
use tempfile::TempDir;

pub const DEFAULT_PG_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// One backend prepared for one test: a database URL and its own data folder (for the key).
pub struct TestEnv {
    pub label: &'static str,
    pub url: String,
    pub data_dir: TempDir,
    /// Holds the SQLite file; dropped (deleted) with the env.
    _sqlite_dir: Option<TempDir>,
    /// Drops the PostgreSQL database with the env.
    _pg: Option<PgTestDb>,
}

impl TestEnv {
    pub async fn open(&self) -> Result<Store, StoreError> {
        Store::open(&self.url, self.data_dir.path()).await
    }

    pub async fn open_ok(&self) -> Store {
        match self.open().await {
            Ok(store) => store,
            Err(e) => panic!("[{}] Store::open failed: {e}", self.label),
        }
    }
}

/// Runs `story` on a freshly opened store, once per available backend.
pub async fn on_each_backend(story: impl AsyncFn(&Store)) {
    for env in test_envs().await {
        eprintln!("--- story on {}", env.label);
        let store = env.open_ok().await;
        story(&store).await;
        store.close().await;
    }
}

/// Runs `story` once per available backend with the unopened environment (for stories about
/// opening: key files, URLs).
pub async fn on_each_env(story: impl AsyncFn(&TestEnv)) {
    for env in test_envs().await {
        eprintln!("--- story on {}", env.label);
        story(&env).await;
    }
}

/// A fresh SQLite env, plus a fresh PostgreSQL env when PostgreSQL is reachable.
pub async fn test_envs() -> Vec<TestEnv> {
    let mut envs = vec![sqlite_env()];
    if let Some(pg) = postgres_env().await {
        envs.push(pg);
    }
    envs
}

fn temp_dir() -> TempDir {
    match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => panic!("cannot create a temp dir: {e}"),
    }
}

pub fn sqlite_env() -> TestEnv {
    let db_dir = temp_dir();
    let url = format!("sqlite://{}", db_dir.path().join("kefu.db").display());
    TestEnv {
        label: "sqlite",
        url,
        data_dir: temp_dir(),
        _sqlite_dir: Some(db_dir),
        _pg: None,
    }
}

pub fn pg_admin_url() -> String {
    std::env::var("KEFU_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_ADMIN_URL.to_owned())
}

async fn postgres_env() -> Option<TestEnv> {
    let admin_url = pg_admin_url();
    let connected =
        tokio::time::timeout(Duration::from_secs(5), PgConnection::connect(&admin_url)).await;
    let mut conn = match connected {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return postgres_unavailable(&admin_url, &e.to_string()),
        Err(_) => return postgres_unavailable(&admin_url, "connection timed out"),
    };
    let name = format!("kefu_test_{}", uuid::Uuid::now_v7().simple());
    if let Err(e) = sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
    {
        panic!("cannot create test database {name} at {admin_url}: {e}");
    }
    let _ = conn.close().await;
    let url = with_database(&admin_url, &name);
    Some(TestEnv {
        label: "postgres",
        url,
        data_dir: temp_dir(),
        _sqlite_dir: None,
        _pg: Some(PgTestDb { admin_url, name }),
    })
}

fn postgres_unavailable(url: &str, reason: &str) -> Option<TestEnv> {
    let shown = redact_password(url);
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true: PostgreSQL is required but not reachable at {shown}: {reason}");
    }
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        // Written to the real stderr (not through eprintln!, which the test harness captures)
        // so the skip is visible in a normal `cargo test` run.
        let _ = writeln!(
            std::io::stderr(),
            "skipped: no PostgreSQL at {shown} ({reason}); running the storage tests on SQLite only"
        );
    });
    None
}

/// The admin URL with its database name replaced.
fn with_database(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (admin_url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let url = match base[authority_start..].find('/') {
        Some(slash) => format!("{}/{name}", &base[..authority_start + slash]),
        None => format!("{base}/{name}"),
    };
    match query {
        Some(query) => format!("{url}?{query}"),
        None => url,
    }
}

fn redact_password(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let Some(at) = url[start..].find('@').map(|i| start + i) else {
        return url.to_owned();
    };
    match url[start..at].split_once(':') {
        Some((user, _)) => format!("{}{user}:***{}", &url[..start], &url[at..]),
        None => url.to_owned(),
    }
}

/// Drops its database when dropped, also while unwinding from a failed assertion.
struct PgTestDb {
    admin_url: String,
    name: String,
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // A fresh thread and runtime: Drop can't await, and the test's own runtime may be
        // the current-thread one we are running on (block_on inside it would panic).
        let outcome = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await
                .map_err(|e| e.to_string())?;
                let _ = conn.close().await;
                Ok(())
            })
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

#[test]
fn with_database_replaces_only_the_database_name() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h/db?sslmode=disable", "x"),
        "postgres://u:p@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    assert_eq!(
        redact_password("postgres://u:p@h/db"),
        "postgres://u:***@h/db"
    );
}

/// Stores a contract whose document is a placeholder, for stories that only need a contract
/// to hang things on (chat conversations, accounts); reports need a real document.
pub async fn placeholder_contract(store: &Store, number: &str) -> kefu_store::ContractId {
    let saved = store
        .save_contract(
            number,
            "test",
            &[kefu_store::NewContractVersion {
                kind: kefu_store::VersionKind::Base,
                label: "base".to_owned(),
                effective_from: jiff::civil::date(2026, 1, 1),
                document: "kefu = 1".to_owned(),
                source_path: None,
                amendment_number: None,
            }],
            "tester",
        )
        .await;
    match saved {
        Ok(o) => o.contract_id,
        Err(e) => panic!("save_contract {number}: {e}"),
    }
}
