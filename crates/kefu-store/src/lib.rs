//! kefu's storage layer: SQLite or PostgreSQL through sqlx (backend picked from the URL at
//! run time), the embedded migrations for both, field encryption of customer PII, and the
//! append-only, hash-chained audit log.
//!
//! Entry point: [`Store::open`]. Modules:
//! * [`db`] — [`Db`]/[`Tx`], connecting, migrations, the `on_db!`/`on_tx!`/`sql!` macros;
//! * [`crypto`] — the data key file, XChaCha20-Poly1305 field encryption, blind indexes;
//! * `keycheck` — refusing to start when the key file does not match the database;
//! * [`audit`] — the hash-chained audit log;
//! * [`contracts`], [`customers`], [`contacts`] — rows ↔ domain values;
//! * [`ids`] — typed UUIDv7 ids (stored as TEXT on both backends).

pub mod accounts;
pub mod agent_events;
pub mod audit;
pub mod call_events;
pub mod calls;
pub mod chat;
pub mod contacts;
pub mod contracts;
pub mod crypto;
pub mod customers;
pub mod db;
pub mod duty;
pub mod error;
pub mod ids;
pub mod imports;
mod keycheck;
pub mod offline;
pub mod phone_buckets;
mod segment_codec;
pub mod sessions;
pub mod staff;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use agent_events::NewAgentEvent;
pub use audit::{AuditLog, AuditRecord, AuditVerification, BreakReason, NewAuditEntry};
pub use calls::{ChunkOutcome, NewCall, PreparedCalls, StoredCall};
pub use contacts::{Channel, ContactInsert, NewContact, NewContactEvent};
pub use contracts::{
    ContractVersionRecord, NewContractVersion, SaveContractOutcome, SavedVersion, VersionKind,
};
pub use crypto::{FieldCipher, KeyId};
pub use customers::CustomerPii;
pub use db::{Backend, Db, Tx, default_database_url};
pub use error::StoreError;
pub use ids::{AgentId, ContactId, ContractId, ContractRef, CustomerId, ImportBatchId, UserId};
pub use imports::{BatchState, ImportBatch, ImportProgress, ImportSource, ImportStart};
pub use phone_buckets::{BucketPlan, PhoneBuckets};
/// Re-exported so callers of `on_db!`/`on_tx!` use the same sqlx as this crate.
pub use sqlx;

/// An open store: the database, checked against the data key. Cheap to clone (shared pool
/// and cipher), so it can be handed to spawned tasks.
#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    cipher: Arc<FieldCipher>,
    key_path: PathBuf,
    /// The keys of recently written call segments (see [`calls`]).
    segment_keys: Arc<std::sync::Mutex<calls::SegmentKeys>>,
    /// Buckets folded by import runs, not written yet (see [`phone_buckets`]).
    pending_buckets: Arc<std::sync::Mutex<phone_buckets::PendingBuckets>>,
}

impl Store {
    /// Connects (creating the SQLite file and folder if needed), applies migrations, loads or
    /// creates the data key in `data_dir` and checks it against the database.
    pub async fn open(database_url: &str, data_dir: &Path) -> Result<Store, StoreError> {
        let db = Db::connect(database_url).await?;
        let bound = async {
            db.migrate().await?;
            keycheck::bind_key(&db, data_dir).await
        }
        .await;
        match bound {
            Ok(cipher) => Ok(Store {
                db,
                cipher: Arc::new(cipher),
                key_path: crypto::key_path(data_dir),
                segment_keys: Arc::default(),
                pending_buckets: Arc::default(),
            }),
            Err(e) => {
                db.close().await;
                Err(e)
            }
        }
    }

    /// Like [`Store::open`], for commands that only read: a SQLite file that does not exist
    /// is an error (a typo in `--db` must not create an empty database with a new key).
    pub async fn open_existing(database_url: &str, data_dir: &Path) -> Result<Store, StoreError> {
        if let Some(path) = db::sqlite_file(database_url)
            && !path.exists()
        {
            return Err(StoreError::Invalid(format!(
                "no database at {} (this command does not create one; check --db or KEFU_DATABASE_URL)",
                path.display()
            )));
        }
        Store::open(database_url, data_dir).await
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// For a long-running server on SQLite: WAL checkpoints leave the commit path. SQLite
    /// otherwise checkpoints inside whichever commit crosses 1,000 WAL pages, and that commit
    /// (a chat message waiting for its acknowledgement) waits for the copy and its fsync. Here
    /// automatic checkpoints are turned off and a task on its own connection runs a PASSIVE
    /// checkpoint (never blocks writers) every second. Nothing to do on PostgreSQL or for an
    /// in-memory database. Short-lived commands (imports) keep SQLite's own checkpoints.
    pub async fn checkpoint_in_background(&self) -> Result<bool, StoreError> {
        let Db::Sqlite(pool) = &self.db else {
            return Ok(false);
        };
        let options = pool.connect_options();
        let file = options.get_filename().to_string_lossy().into_owned();
        if file.is_empty() || file == ":memory:" || file.contains("mode=memory") {
            return Ok(false);
        }
        let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options).await?;
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(pool)
            .await?;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
                    .execute(&mut conn)
                    .await
                {
                    tracing::warn!(error = %e, "background WAL checkpoint failed");
                }
            }
        });
        Ok(true)
    }

    pub fn backend(&self) -> Backend {
        self.db.backend()
    }

    /// The audit log.
    pub fn audit(&self) -> AuditLog<'_> {
        AuditLog::new(&self.db)
    }

    /// The id of the data key in use (safe to show).
    pub fn key_id(&self) -> KeyId {
        self.cipher.key_id()
    }

    /// Where the data key file is.
    pub fn key_path(&self) -> &Path {
        &self.key_path
    }

    pub(crate) fn pending_buckets(&self) -> &std::sync::Mutex<phone_buckets::PendingBuckets> {
        &self.pending_buckets
    }

    pub(crate) fn cipher(&self) -> &FieldCipher {
        &self.cipher
    }

    /// Closes the connection pool.
    pub async fn close(self) {
        self.db.close().await;
    }
}
