//! The append-only, hash-chained audit log.
//!
//! Each row's `hash` is SHA-256 over an unambiguous encoding of the row (see [`row_hash`])
//! including the previous row's hash, so changing, removing or reordering any row breaks every
//! later link. The database itself refuses UPDATE and DELETE (triggers in the migrations).
//!
//! Appends are serialized so two writers never both take `seq = n + 1` from the same head:
//! on SQLite by the single write connection plus `BEGIN IMMEDIATE`; on PostgreSQL by a
//! transaction-scoped advisory lock taken before the head is read. `detail` is stored as TEXT
//! (not JSONB) on both backends because the hash covers its exact bytes.
//!
//! Known limit: a chain alone can't show that its *newest* rows were cut off; anchor the head
//! hash elsewhere (a report, an external timestamp) to cover that.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::db::{Db, Tx, micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::{on_db, on_tx, sql};

/// Advisory lock key for audit appends on PostgreSQL ("kefuaudt" in ASCII).
const AUDIT_LOCK_KEY: i64 = 0x6b65_6675_6175_6474;

/// Rows fetched per page while verifying, so verification runs in constant memory.
const VERIFY_PAGE: i64 = 1000;

const GENESIS_PREV_HASH: [u8; 32] = [0u8; 32];

/// What to record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// Who did it: a user name, `system`, `kefu-store`, an API client id.
    pub actor: String,
    /// Dotted verb, e.g. `key.generated`, `contract.version_loaded`, `customer.unmasked`.
    pub action: String,
    /// What it was done to, e.g. `contract:HT-2025-001`.
    pub subject: String,
    /// Structured detail; never secrets or unmasked PII.
    pub detail: serde_json::Value,
}

/// A stored audit row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub seq: i64,
    pub at: jiff::Timestamp,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: serde_json::Value,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The outcome of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditVerification {
    /// Every row checks out. `head` is the newest row's hash (32 zero bytes when empty).
    Intact { rows: u64, head: [u8; 32] },
    /// The first row that does not check out.
    Broken { seq: i64, reason: BreakReason },
}

/// Why a row failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreakReason {
    /// The row's content does not hash to its stored hash (the row was altered).
    HashMismatch,
    /// The row's prev_hash is not the previous row's hash (a row before it was altered,
    /// removed or replaced).
    PrevHashMismatch,
    /// The row's seq is not the previous seq + 1 (rows were removed).
    SeqGap { expected: i64 },
    /// A stored hash is not 32 bytes.
    Malformed(String),
}

impl fmt::Display for BreakReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BreakReason::HashMismatch => {
                f.write_str("hash mismatch: the row's content was changed after it was written")
            }
            BreakReason::PrevHashMismatch => {
                f.write_str("prev_hash mismatch: the row does not link to the row before it")
            }
            BreakReason::SeqGap { expected } => {
                write!(f, "seq gap: expected seq {expected}; rows are missing")
            }
            BreakReason::Malformed(what) => write!(f, "malformed row: {what}"),
        }
    }
}

impl fmt::Display for AuditVerification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuditVerification::Intact { rows, head } => {
                write!(
                    f,
                    "audit log intact: {rows} rows, head {}",
                    hex::encode(head)
                )
            }
            AuditVerification::Broken { seq, reason } => {
                write!(f, "audit log broken at seq {seq}: {reason}")
            }
        }
    }
}

/// SHA-256 over the row: a domain tag, then fixed-width integers (big-endian) and
/// length-prefixed (u64 big-endian) text fields, then the 32-byte previous hash. Every field
/// has a defined length, so no two different rows share an encoding.
pub fn row_hash(
    seq: i64,
    at_micros: i64,
    actor: &str,
    action: &str,
    subject: &str,
    detail_json: &str,
    prev_hash: &[u8; 32],
) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"kefu-audit-v1\0");
    h.update(seq.to_be_bytes());
    h.update(at_micros.to_be_bytes());
    for field in [actor, action, subject, detail_json] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.update(prev_hash);
    h.finalize().into()
}

/// The audit log of one store.
#[derive(Debug, Clone, Copy)]
pub struct AuditLog<'a> {
    db: &'a Db,
}

type Row = (i64, i64, String, String, String, String, Vec<u8>, Vec<u8>);

impl<'a> AuditLog<'a> {
    pub(crate) fn new(db: &'a Db) -> Self {
        AuditLog { db }
    }

    /// Appends one row in its own transaction.
    pub async fn append(&self, entry: NewAuditEntry) -> Result<AuditRecord, StoreError> {
        let mut tx = self.db.begin().await?;
        let record = append_in_tx(&mut tx, entry).await?;
        tx.commit().await?;
        Ok(record)
    }

    /// Walks the whole chain in pages of rows ordered by seq and reports the first broken row.
    pub async fn verify(&self) -> Result<AuditVerification, StoreError> {
        self.verify_in_pages(VERIFY_PAGE).await
    }

    /// [`AuditLog::verify`] with a chosen page size (rows held in memory at once).
    pub async fn verify_in_pages(&self, page_size: i64) -> Result<AuditVerification, StoreError> {
        let page_size = page_size.max(1);
        let mut expected_seq = 1i64;
        let mut prev = GENESIS_PREV_HASH;
        let mut rows = 0u64;
        loop {
            let after = expected_seq - 1;
            // Every column is cast to its type: on SQLite a tampered value of another type
            // (text in `at`, a blob in `detail`) must show up as a broken row, not as a
            // decoding error that hides which row was touched.
            let page: Vec<Row> = match self.db {
                Db::Sqlite(pool) => {
                    sqlx::query_as(sql!(
                        "SELECT CAST(seq AS INTEGER), CAST(at AS INTEGER), CAST(actor AS TEXT),
                                CAST(action AS TEXT), CAST(subject AS TEXT), CAST(detail AS TEXT),
                                CAST(prev_hash AS BLOB), CAST(hash AS BLOB)
                         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                    ))
                    .bind(after)
                    .bind(page_size)
                    .fetch_all(pool)
                    .await?
                }
                Db::Postgres(pool) => {
                    sqlx::query_as(sql!(
                        "SELECT seq, at, actor, action, subject, detail, prev_hash, hash
                         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
                    ))
                    .bind(after)
                    .bind(page_size)
                    .fetch_all(pool)
                    .await?
                }
            };
            if page.is_empty() {
                return Ok(AuditVerification::Intact { rows, head: prev });
            }
            for (seq, at, actor, action, subject, detail, prev_hash, hash) in page {
                let broken = |reason| Ok(AuditVerification::Broken { seq, reason });
                if seq != expected_seq {
                    return broken(BreakReason::SeqGap {
                        expected: expected_seq,
                    });
                }
                let (Ok(stored_prev), Ok(stored_hash)) = (
                    <[u8; 32]>::try_from(prev_hash.as_slice()),
                    <[u8; 32]>::try_from(hash.as_slice()),
                ) else {
                    return broken(BreakReason::Malformed(
                        "hash or prev_hash is not 32 bytes".to_owned(),
                    ));
                };
                if stored_prev != prev {
                    return broken(BreakReason::PrevHashMismatch);
                }
                let computed = row_hash(seq, at, &actor, &action, &subject, &detail, &stored_prev);
                if computed != stored_hash {
                    return broken(BreakReason::HashMismatch);
                }
                prev = stored_hash;
                expected_seq += 1;
                rows += 1;
            }
        }
    }

    /// Rows with `seq` in `from..from+limit`, oldest first (for display and tests).
    pub async fn list(&self, from_seq: i64, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let rows: Vec<Row> = on_db!(self.db, pool => {
            sqlx::query_as(sql!(
                "SELECT seq, at, actor, action, subject, detail, prev_hash, hash
                 FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"
            ))
            .bind(from_seq)
            .bind(limit)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(record_from_row).collect()
    }
}

fn record_from_row(row: Row) -> Result<AuditRecord, StoreError> {
    let (seq, at, actor, action, subject, detail, prev_hash, hash) = row;
    let corrupt = |detail: String| StoreError::Corrupt {
        what: "audit_log",
        detail,
    };
    Ok(AuditRecord {
        seq,
        at: micros_to_timestamp("audit_log.at", at)?,
        actor,
        action,
        subject,
        detail: serde_json::from_str(&detail)
            .map_err(|e| corrupt(format!("seq {seq}: detail is not JSON: {e}")))?,
        prev_hash: prev_hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(format!("seq {seq}: prev_hash is not 32 bytes")))?,
        hash: hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(format!("seq {seq}: hash is not 32 bytes")))?,
    })
}

/// Appends inside the caller's transaction, so an audit row commits or rolls back together
/// with the change it records.
pub(crate) async fn append_in_tx(
    tx: &mut Tx,
    entry: NewAuditEntry,
) -> Result<AuditRecord, StoreError> {
    if let Tx::Postgres(pg) = tx {
        // Held until this transaction ends; taken before reading the head so concurrent
        // appenders queue here instead of forking the chain.
        sqlx::query(sql!("SELECT pg_advisory_xact_lock($1)"))
            .bind(AUDIT_LOCK_KEY)
            .execute(&mut **pg)
            .await?;
    }
    let head: Option<(i64, Vec<u8>)> = on_tx!(tx, conn => {
        sqlx::query_as(sql!("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"))
            .fetch_optional(&mut *conn)
            .await?
    });
    let (seq, prev_hash) = match head {
        None => (1, GENESIS_PREV_HASH),
        Some((seq, hash)) => (
            seq + 1,
            <[u8; 32]>::try_from(hash.as_slice()).map_err(|_| StoreError::Corrupt {
                what: "audit_log",
                detail: format!("seq {seq}: hash is not 32 bytes"),
            })?,
        ),
    };
    let at = now_micros();
    // The hash covers this exact text as stored, so verification never re-serializes JSON.
    let detail_json = entry.detail.to_string();
    let hash = row_hash(
        seq,
        at,
        &entry.actor,
        &entry.action,
        &entry.subject,
        &detail_json,
        &prev_hash,
    );
    on_tx!(tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO audit_log (seq, at, actor, action, subject, detail, prev_hash, hash)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
            ))
            .bind(seq)
            .bind(at)
            .bind(&entry.actor)
            .bind(&entry.action)
            .bind(&entry.subject)
            .bind(&detail_json)
            .bind(prev_hash.as_slice())
            .bind(hash.as_slice())
            .execute(&mut *conn)
            .await?
    .rows_affected()
        });
    Ok(AuditRecord {
        seq,
        at: micros_to_timestamp("audit_log.at", at)?,
        actor: entry.actor,
        action: entry.action,
        subject: entry.subject,
        detail: entry.detail,
        prev_hash,
        hash,
    })
}
