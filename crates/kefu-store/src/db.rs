//! The database handle: which backend a URL names, how we connect to it, the embedded
//! migrations, transactions, and the macros that run one piece of portable SQL on either
//! backend.
//!
//! Why not sqlx's `Any` driver: it has no uuid/time/decimal support and hides which backend
//! runs a statement. Instead [`Db`] is an enum of the two typed pools; [`on_db!`] and
//! [`on_tx!`] expand the same code once per backend, so each arm is type-checked against its
//! own driver, and dialect-specific SQL is written as an explicit `match` on [`Backend`].
//!
//! Placeholders: always `$1, $2, …`. PostgreSQL requires them and sqlx's SQLite driver binds
//! `$N` to the N-th argument (numbered, so reuse and reordering work the same way). The
//! [`sql!`](crate::sql) macro rejects `?` at compile time, so a SQLite-only placeholder can't
//! slip into "portable" SQL.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Postgres, Sqlite, Transaction};

use crate::error::StoreError;

/// Where `kefu` keeps its data when no URL is given: a SQLite file next to the key.
pub fn default_database_url() -> &'static str {
    "sqlite://./data/kefu.db"
}

static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// How long a SQLite statement waits for a lock held by another process before failing.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Which database engine a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A connection pool to one of the two supported databases. Cheap to clone (pools are shared).
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on either backend; commit it or it rolls back on drop.
#[derive(Debug)]
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// Runs `$body` once per backend with `$pool` bound to the concrete pool
/// (`&SqlitePool` or `&PgPool`). Both arms must produce the same type.
///
/// ```ignore
/// let n: i64 = on_db!(store.db(), pool => {
///     sqlx::query_scalar(sql!("SELECT COUNT(*) FROM agents")).fetch_one(pool).await?
/// });
/// ```
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::Db::Sqlite($pool) => $body,
            $crate::Db::Postgres($pool) => $body,
        }
    };
}

/// Like [`on_db!`] for a [`Tx`]: `$conn` is `&mut SqliteConnection` or `&mut PgConnection`.
/// Pass it on as `&mut *$conn` so it can be used for several statements.
#[macro_export]
macro_rules! on_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::Tx::Sqlite(tx) => {
                let $conn = &mut **tx;
                $body
            }
            $crate::Tx::Postgres(tx) => {
                let $conn = &mut **tx;
                $body
            }
        }
    };
}

/// A SQL string literal checked at compile time to use only `$N` placeholders (which both
/// backends accept). Use it for every query; dynamic SQL is deliberately not supported.
#[macro_export]
macro_rules! sql {
    ($sql:literal) => {{
        const SQL: &str = $sql;
        const _: () = $crate::db::assert_portable_placeholders(SQL);
        SQL
    }};
}

/// Compile-time check behind [`sql!`]: panics (a compile error in const context) when the SQL
/// contains a `?` outside a string literal. `?` is SQLite-only, and PostgreSQL's JSON `?`
/// operators are not portable either.
#[doc(hidden)]
pub const fn assert_portable_placeholders(sql: &str) {
    let bytes = sql.as_bytes();
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'\'' {
            in_string = !in_string;
        } else if b == b'?' && !in_string {
            panic!("kefu-store SQL must use $1, $2, … placeholders (portable); `?` is SQLite-only");
        }
        i += 1;
    }
}

impl Db {
    /// Connects to the database the URL names. Accepts `sqlite://PATH`, `sqlite:PATH`,
    /// `sqlite::memory:`, `postgres://…` and `postgresql://…`. A SQLite file and its parent
    /// folder are created when missing.
    pub async fn connect(url: &str) -> Result<Db, StoreError> {
        let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => connect_sqlite(url).await,
            "postgres" | "postgresql" => connect_postgres(url).await,
            _ => Err(StoreError::UnsupportedUrl {
                url: redact(url),
                scheme: if scheme.is_empty() {
                    "(none)".to_owned()
                } else {
                    scheme.to_owned()
                },
            }),
        }
    }

    /// Which engine this is.
    pub fn backend(&self) -> Backend {
        match self {
            Db::Sqlite(_) => Backend::Sqlite,
            Db::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies the embedded migrations for this backend; already-applied ones are skipped
    /// (sqlx records them with a checksum in `_sqlx_migrations` and refuses edited files).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let result = match self {
            Db::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await,
            Db::Postgres(pool) => POSTGRES_MIGRATOR.run(pool).await,
        };
        match result {
            Ok(()) => Ok(()),
            // A read-only file or folder shows up here, at the first write.
            Err(sqlx::migrate::MigrateError::Execute(e))
            | Err(sqlx::migrate::MigrateError::ExecuteMigration(e, _)) => {
                Err(classify("the database", e))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Starts a write transaction.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the write lock up front, so a transaction that reads
    /// and then writes (like an audit append) can't be overtaken by another writer process.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self {
            Db::Sqlite(pool) => Tx::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await?),
            Db::Postgres(pool) => Tx::Postgres(pool.begin().await?),
        })
    }

    /// Closes every connection (waits for checked-out ones to come back).
    pub async fn close(&self) {
        match self {
            Db::Sqlite(pool) => pool.close().await,
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

impl Tx {
    /// Which engine this transaction runs on.
    pub fn backend(&self) -> Backend {
        match self {
            Tx::Sqlite(_) => Backend::Sqlite,
            Tx::Postgres(_) => Backend::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(tx) => tx.rollback().await?,
            Tx::Postgres(tx) => tx.rollback().await?,
        }
        Ok(())
    }
}

async fn connect_sqlite(url: &str) -> Result<Db, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: redact(url),
        reason,
    };
    let path_part = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path_part = path_part.split('?').next().unwrap_or_default();
    let in_memory = path_part == ":memory:" || url.contains("mode=memory");
    if path_part.is_empty() && !in_memory {
        return Err(invalid("no file name after `sqlite:`".to_owned()));
    }

    let mut options = SqliteConnectOptions::from_str(url)
        .map_err(|e| invalid(e.to_string()))?
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    if !in_memory {
        let file = options.get_filename().to_path_buf();
        if let Some(parent) = file.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_dir(parent)?;
        }
        // WAL: readers don't block the writer; NORMAL sync is durable across crashes of the
        // process (only an OS crash can lose the last transactions), the usual WAL pairing.
        options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal);
    }

    // One connection, used for reads and writes. SQLite admits one writer at a time anyway;
    // with a single connection our own tasks queue in the pool instead of failing with
    // SQLITE_BUSY, and audit appends are serialized without extra locking. An in-memory
    // database also lives only as long as its connection, so it must never be recycled.
    // Cost: reads wait behind a long write; a separate read-only pool can be added later
    // without changing callers.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| classify(url, e))?;
    Ok(Db::Sqlite(pool))
}

async fn connect_postgres(url: &str) -> Result<Db, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidUrl {
        url: redact(url),
        reason: redact(&e.to_string()),
    })?;
    // One direct attempt first: a refused or wrong login fails at once with its reason,
    // instead of after the pool's retries.
    match tokio::time::timeout(
        Duration::from_secs(10),
        <sqlx::postgres::PgConnection as sqlx::Connection>::connect_with(&options),
    )
    .await
    {
        Ok(Ok(conn)) => {
            let _ = sqlx::Connection::close(conn).await;
        }
        Ok(Err(e)) => return Err(classify(url, e)),
        Err(_) => {
            return Err(StoreError::Unreachable {
                url: redact(url),
                reason: "no answer within 10 s".to_owned(),
            });
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| classify(url, e))?;
    Ok(Db::Postgres(pool))
}

/// Turns the errors of opening a database that the user can fix (wrong path or
/// permissions, missing database, refused login, server down) into messages that
/// name the database; anything else stays a database error.
pub(crate) fn classify(url: &str, e: sqlx::Error) -> StoreError {
    let shown = redact(url);
    match &e {
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let message = db.message().to_owned();
            match code.as_str() {
                // invalid_catalog_name: the server is there, the database is not.
                "3D000" => {
                    let name = url
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .split('?')
                        .next()
                        .unwrap_or("");
                    StoreError::Invalid(format!(
                        "PostgreSQL database \"{name}\" does not exist at {shown}; create it first (e.g. `createdb {name}`)"
                    ))
                }
                // invalid_authorization_specification, invalid_password
                c if c.starts_with("28") => StoreError::CannotOpen {
                    url: shown,
                    reason: format!("the server refused the login: {message}"),
                },
                // SQLite: READONLY (8), CANTOPEN (14), AUTH (23), and their extended codes.
                c if matches!(c.parse::<i64>().map(|n| n & 0xff), Ok(8 | 14 | 23)) => {
                    StoreError::CannotOpen {
                        url: shown,
                        reason: format!("{message} (check that the path exists and is writable)"),
                    }
                }
                _ => StoreError::Db(e),
            }
        }
        sqlx::Error::Io(io) => StoreError::Unreachable {
            url: shown,
            reason: io.to_string(),
        },
        sqlx::Error::PoolTimedOut => StoreError::Unreachable {
            url: shown,
            reason: "no connection could be opened within 10 s; is the server running?".to_owned(),
        },
        _ => StoreError::Db(e),
    }
}

/// A database URL without its password, for messages: the password of
/// `scheme://user:password@host` and any `password=` / `pass=` / `pwd=` query value.
pub fn redact(url: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let mut out = match (head.find("://"), head.rfind('@')) {
        (Some(s), Some(at)) if at > s => match head[s + 3..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:***{}", &head[..s + 3], &head[at..]),
            None => head.to_owned(),
        },
        _ => head.to_owned(),
    };
    if let Some(q) = query {
        let params: Vec<String> = q
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _))
                    if ["password", "pass", "pwd"].contains(&k.to_ascii_lowercase().as_str()) =>
                {
                    format!("{k}=***")
                }
                _ => kv.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// The file of a SQLite URL; `None` for other databases and in-memory SQLite.
pub fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let scheme = url.split_once(':')?.0.to_ascii_lowercase();
    if scheme != "sqlite" || url.contains(":memory:") || url.contains("mode=memory") {
        return None;
    }
    SqliteConnectOptions::from_str(url)
        .ok()
        .map(|o| o.get_filename().to_path_buf())
}

fn create_dir(dir: &Path) -> Result<(), StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
        action: "cannot create the folder",
        path: dir.to_path_buf(),
        source,
    })
}

/// Current time as stored: epoch microseconds, UTC.
pub(crate) fn now_micros() -> i64 {
    jiff::Timestamp::now().as_microsecond()
}

/// Reads back a stored instant.
pub(crate) fn micros_to_timestamp(
    what: &'static str,
    micros: i64,
) -> Result<jiff::Timestamp, StoreError> {
    jiff::Timestamp::from_microsecond(micros).map_err(|e| StoreError::Corrupt {
        what,
        detail: format!("instant {micros} out of range: {e}"),
    })
}

/// Cuts rows into batches for multi-row statements of a few fixed sizes (`full`, then a
/// quarter of it, a sixteenth … down to one row), so that both engines reuse a handful of
/// cached prepared statements instead of parsing a new text of another length for every call,
/// and a remainder takes at most three statements of each smaller size.
pub(crate) fn statement_batches<T>(rows: &[T], full: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = rows;
    let mut size = full.max(1);
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        while size > 1 && rest.len() < size {
            size /= 4;
        }
        let size = size.max(1);
        let (batch, tail) = rest.split_at(size.min(rest.len()));
        rest = tail;
        Some(batch)
    })
}

#[cfg(test)]
mod tests {

    #[test]
    fn statement_batches_keep_every_row_once_in_order_in_a_few_sizes() {
        for n in 0usize..600 {
            let rows: Vec<usize> = (0..n).collect();
            let batches: Vec<&[usize]> = super::statement_batches(&rows, 256).collect();
            assert!(
                batches
                    .iter()
                    .all(|b| [256, 64, 16, 4, 1].contains(&b.len())),
                "n = {n}"
            );
            for size in [64, 16, 4, 1] {
                assert!(
                    batches.iter().filter(|b| b.len() == size).count() <= 3,
                    "n = {n}"
                );
            }
            assert_eq!(batches.concat(), rows, "n = {n}");
        }
    }

    #[test]
    fn passwords_in_database_urls_are_never_printed() {
        assert_eq!(
            redact("postgres://kefu:s3cret@db:5432/kefu"),
            "postgres://kefu:***@db:5432/kefu"
        );
        assert_eq!(redact("postgres://kefu@db/kefu"), "postgres://kefu@db/kefu");
        assert_eq!(redact("sqlite://./data/kefu.db"), "sqlite://./data/kefu.db");
        assert_eq!(
            redact("postgres://127.0.0.1:5999/x?user=postgres&password=S3cret&sslmode=off"),
            "postgres://127.0.0.1:5999/x?user=postgres&password=***&sslmode=off"
        );
        assert_eq!(redact("mysql://root:S3cret@db/x"), "mysql://root:***@db/x");
    }
    use super::*;

    #[test]
    fn placeholder_check_allows_question_marks_inside_string_literals() {
        assert_portable_placeholders("SELECT 'why?' WHERE a = $1");
    }

    #[test]
    #[should_panic(expected = "placeholders")]
    fn placeholder_check_rejects_sqlite_only_placeholders() {
        assert_portable_placeholders("SELECT 1 WHERE a = ?");
    }

    #[tokio::test]
    async fn unknown_scheme_names_the_scheme_and_the_accepted_forms() {
        let err = Db::connect("mysql://localhost/kefu").await.err();
        let Some(err) = err else {
            panic!("mysql URL accepted")
        };
        let msg = err.to_string();
        assert!(msg.contains("`mysql`"), "{msg}");
        assert!(
            msg.contains("sqlite://PATH") && msg.contains("postgres://"),
            "{msg}"
        );
        assert!(err.is_user_error());

        let err = Db::connect("./data/kefu.db").await.err();
        assert!(matches!(err, Some(StoreError::UnsupportedUrl { .. })));
    }

    #[tokio::test]
    async fn sqlite_memory_url_connects() -> Result<(), StoreError> {
        for url in ["sqlite::memory:", "sqlite://:memory:"] {
            let db = Db::connect(url).await?;
            assert_eq!(db.backend(), Backend::Sqlite);
            db.migrate().await?;
            db.close().await;
        }
        Ok(())
    }
}
