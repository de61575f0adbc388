//! Phone calls: one row per call offered to an agent queue, written in chunks
//! by an import run (see [`crate::imports`]) and read back for the service-level
//! engine. The caller's number is customer data: stored encrypted (AAD bound to
//! the call's natural key, so an upsert keeps it readable) with a blind index.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};
use kefu_core::phone::{CallOutcome, CallRecord};

use crate::crypto::{FieldRef, normalize_phone};
use crate::db::micros_to_timestamp;
use crate::error::StoreError;
use crate::ids::{ContractId, ImportBatchId};
use crate::{Store, Tx, on_db, on_tx};

const TABLE: &str = "calls";

/// The calls of a contract offered in `[$2, $3)`, in offer order, with their source format.
const CALLS_OFFERED_BETWEEN: &str = crate::sql!(
    "SELECT source_id, version, queue, caller_enc, offered_at, answered_at, ended_at, \
     outcome, agent, talk_ms, unanswered_rings, transferred_to, import_batch_id, \
     first_line, last_line, source_format \
     FROM calls WHERE contract_id = $1 AND offered_at >= $2 AND offered_at < $3 \
     ORDER BY offered_at, source_id"
);
/// Rows per INSERT statement: 19 binds each stays far below both engines' limits.
const ROWS_PER_STATEMENT: usize = 500;

/// A call to store, with where it came from.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub call: CallRecord,
    /// A newer record of the same call (higher version) replaces an older one; 0 when the
    /// source has no versions. At equal versions a finished call replaces one stored as
    /// `unknown` (a call still open when an earlier file ended).
    pub version: i64,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
    /// The caller's number already encrypted and blind-indexed by [`Store::seal_caller`]
    /// (so that an importer can do it on its reading thread); `None` to do it on write.
    pub sealed_caller: Option<SealedCaller>,
}

/// A caller's ciphertext and blind index, or neither when there is no number.
pub type SealedCaller = (Option<Vec<u8>>, Option<Vec<u8>>);

/// What a chunk write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkOutcome {
    /// Calls inserted or replaced by a newer version.
    pub stored: u64,
    /// Calls already stored with the same or a newer version (re-import, overlap).
    pub unchanged: u64,
}

fn row_key(contract_id: &str, format: &str, source_id: &str) -> String {
    format!("{contract_id}/{format}/{source_id}")
}

fn micros(t: Timestamp) -> i64 {
    t.as_microsecond()
}

fn millis(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Writes calls inside the caller's transaction; idempotent on (contract, format, source id).
/// What a chunk write did to each call: indexes into the input of the calls newly inserted
/// and of those that replaced an older version of themselves.
pub(crate) struct ChunkWrite {
    pub(crate) outcome: ChunkOutcome,
    pub(crate) inserted: Vec<usize>,
    pub(crate) replaced: Vec<usize>,
    /// Offer times the replaced calls had before (a newer version may move a call to
    /// another day, whose buckets then need a rebuild too).
    pub(crate) replaced_from: Vec<Timestamp>,
}

pub(crate) async fn insert_calls(
    store: &Store,
    tx: &mut Tx,
    contract_id: ContractId,
    format: &str,
    batch: ImportBatchId,
    calls: &[NewCall],
) -> Result<ChunkWrite, StoreError> {
    let cid = contract_id.text();
    let batch = batch.text();
    // Within one statement PostgreSQL refuses to touch a row twice: keep the newest version
    // of each source id (first one wins on a tie, as a re-import would).
    let mut newest: HashMap<&str, usize> = HashMap::with_capacity(calls.len());
    for (i, c) in calls.iter().enumerate() {
        match newest.get(c.call.source_id.as_str()) {
            Some(&j) if calls[j].version >= c.version => {}
            _ => {
                newest.insert(c.call.source_id.as_str(), i);
            }
        }
    }
    let mut keep: Vec<usize> = newest.into_values().collect();
    keep.sort_unstable();

    struct Row {
        id: String,
        caller_enc: Option<Vec<u8>>,
        caller_bidx: Option<Vec<u8>>,
    }
    let mut rows = Vec::with_capacity(keep.len());
    for &i in &keep {
        let c = &calls[i].call;
        let (caller_enc, caller_bidx) = match calls[i].sealed_caller.clone() {
            Some(sealed) => sealed,
            None => store.seal_caller(contract_id, format, c)?,
        };
        rows.push(Row {
            id: uuid::Uuid::now_v7().hyphenated().to_string(),
            caller_enc,
            caller_bidx,
        });
    }

    // Versioned sources (Amazon Connect) can replace a stored call with one offered at
    // another time: remember where the stored ones were.
    let mut before: HashMap<String, i64> = HashMap::new();
    let versioned: Vec<&str> = keep
        .iter()
        .filter(|&&i| calls[i].version > 0)
        .map(|&i| calls[i].call.source_id.as_str())
        .collect();
    for ids in versioned.chunks(ROWS_PER_STATEMENT) {
        let found: Vec<(String, i64)> = on_tx!(tx, conn => {
            let mut qb = sqlx::QueryBuilder::new(
                "SELECT source_id, offered_at FROM calls WHERE contract_id = ",
            );
            qb.push_bind(cid.clone());
            qb.push(" AND source_format = ");
            qb.push_bind(format.to_owned());
            qb.push(" AND source_id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(id.to_string());
            }
            qb.push(")");
            qb.build_query_as().fetch_all(&mut *conn).await?
        });
        before.extend(found);
    }
    let mut replaced_from = Vec::new();
    let mut stored = 0u64;
    let mut inserted = Vec::new();
    let mut replaced = Vec::new();
    for (chunk_rows, chunk_idx) in rows
        .chunks(ROWS_PER_STATEMENT)
        .zip(keep.chunks(ROWS_PER_STATEMENT))
    {
        let affected = on_tx!(tx, conn => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO calls (id, contract_id, source_format, source_id, version, queue, \
                 caller_enc, caller_bidx, offered_at, answered_at, ended_at, outcome, agent, \
                 talk_ms, unanswered_rings, transferred_to, import_batch_id, first_line, last_line) ",
            );
            qb.push_values(chunk_rows.iter().zip(chunk_idx), |mut b, (row, &i)| {
                let n = &calls[i];
                let c = &n.call;
                b.push_bind(row.id.clone())
                    .push_bind(cid.clone())
                    .push_bind(format.to_owned())
                    .push_bind(c.source_id.clone())
                    .push_bind(n.version)
                    .push_bind(c.queue.clone())
                    .push_bind(row.caller_enc.clone())
                    .push_bind(row.caller_bidx.clone())
                    .push_bind(micros(c.offered_at))
                    .push_bind(c.answered_at.map(micros))
                    .push_bind(c.ended_at.map(micros))
                    .push_bind(c.outcome.as_str())
                    .push_bind(c.agent.clone())
                    .push_bind(c.talk.map(millis))
                    .push_bind(i64::from(c.unanswered_rings))
                    .push_bind(c.transferred_to.clone())
                    .push_bind(batch.clone())
                    .push_bind(n.first_line)
                    .push_bind(n.last_line);
            });
            qb.push(
                " ON CONFLICT (contract_id, source_format, source_id) DO UPDATE SET \
                 version = excluded.version, queue = excluded.queue, caller_enc = excluded.caller_enc, \
                 caller_bidx = excluded.caller_bidx, offered_at = excluded.offered_at, \
                 answered_at = excluded.answered_at, ended_at = excluded.ended_at, \
                 outcome = excluded.outcome, agent = excluded.agent, talk_ms = excluded.talk_ms, \
                 unanswered_rings = excluded.unanswered_rings, transferred_to = excluded.transferred_to, \
                 import_batch_id = excluded.import_batch_id, first_line = excluded.first_line, \
                 last_line = excluded.last_line \
                 WHERE calls.version < excluded.version \
                    OR (calls.version = excluded.version AND calls.outcome = 'unknown' \
                        AND excluded.outcome <> 'unknown')",
            );
            // The row keeps its first id on update: the returned id tells an insert
            // (our new id) from a replacement (the stored one).
            qb.push(" RETURNING id, source_id");
            let back: Vec<(String, String)> = qb.build_query_as().fetch_all(&mut *conn).await?;
            back
        });
        stored += affected.len() as u64;
        let by_id: HashMap<&str, usize> = chunk_rows
            .iter()
            .zip(chunk_idx)
            .map(|(r, &i)| (r.id.as_str(), i))
            .collect();
        let by_source: HashMap<&str, usize> = chunk_idx
            .iter()
            .map(|&i| (calls[i].call.source_id.as_str(), i))
            .collect();
        for (id, source_id) in &affected {
            match by_id.get(id.as_str()) {
                Some(&i) => inserted.push(i),
                None => {
                    if let Some(&i) = by_source.get(source_id.as_str()) {
                        replaced.push(i);
                        if let Some(&old) = before.get(source_id) {
                            replaced_from.push(micros_to_timestamp("calls.offered_at", old)?);
                        }
                    }
                }
            }
        }
    }
    Ok(ChunkWrite {
        outcome: ChunkOutcome {
            stored,
            // Duplicates inside the chunk were never sent; like re-imported rows they change nothing.
            unchanged: (calls.len() as u64).saturating_sub(stored),
        },
        inserted,
        replaced,
        replaced_from,
    })
}

/// Streams the calls offered in `[from, to)` inside a transaction (callers not decrypted).
pub(crate) async fn for_each_call_in_tx(
    tx: &mut Tx,
    contract_id: ContractId,
    from: Timestamp,
    to: Timestamp,
    mut f: impl FnMut(&CallRecord),
) -> Result<(), StoreError> {
    use futures_util::TryStreamExt;
    let cid = contract_id.text();
    let sql = CALLS_OFFERED_BETWEEN;
    on_tx!(tx, conn => {
        let mut rows = sqlx::query_as::<_, CallRowWithFormat>(sql)
            .bind(&cid)
            .bind(micros(from))
            .bind(micros(to))
            .fetch(&mut *conn);
        while let Some(row) = rows.try_next().await? {
            let (row, _) = split_format(row);
            f(&call_from_row(row, None)?.call);
        }
    });
    Ok(())
}

/// A stored call, as the engine reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCall {
    pub call: CallRecord,
    pub version: i64,
    pub import_batch_id: Option<String>,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
}

type CallRow = (
    String,
    i64,
    Option<String>,
    Option<Vec<u8>>,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
);

impl Store {
    /// Encrypts a call's caller number (AAD bound to the call's natural key) and computes its
    /// blind index. Pure computation: safe to run on any thread, ahead of the write.
    pub fn seal_caller(
        &self,
        contract_id: ContractId,
        format: &str,
        call: &CallRecord,
    ) -> Result<SealedCaller, StoreError> {
        match &call.caller {
            Some(number) if !number.trim().is_empty() => {
                let cid = contract_id.text();
                let key = row_key(&cid, format, &call.source_id);
                Ok((
                    Some(
                        self.cipher()
                            .encrypt_str(FieldRef::new(TABLE, "caller", &key), number)?,
                    ),
                    Some(
                        self.cipher()
                            .blind_index(&cid, "phone", &normalize_phone(number)),
                    ),
                ))
            }
            _ => Ok((None, None)),
        }
    }

    /// Calls of a contract offered in `[from, to)`, in offer order. With `with_caller` the
    /// caller's number is decrypted (customer data: callers of this must mask it for display).
    pub async fn calls_offered_between(
        &self,
        contract_id: ContractId,
        format: Option<&str>,
        from: Timestamp,
        to: Timestamp,
        with_caller: bool,
    ) -> Result<Vec<StoredCall>, StoreError> {
        let cid = contract_id.text();
        let sql = CALLS_OFFERED_BETWEEN;
        let fetched: Vec<CallRowWithFormat> = on_db!(self.db(), pool => {
            sqlx::query_as(sql)
                .bind(&cid)
                .bind(micros(from))
                .bind(micros(to))
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(fetched.len());
        for (row, source_format) in fetched.into_iter().map(split_format) {
            if format.is_some_and(|f| f != source_format) {
                continue;
            }
            out.push(self.stored_call(&cid, &source_format, row, with_caller)?);
        }
        Ok(out)
    }

    fn stored_call(
        &self,
        cid: &str,
        format: &str,
        row: CallRow,
        with_caller: bool,
    ) -> Result<StoredCall, StoreError> {
        let caller = match (with_caller, &row.3) {
            (true, Some(ct)) => {
                let key = row_key(cid, format, &row.0);
                Some(
                    self.cipher()
                        .decrypt_str(FieldRef::new(TABLE, "caller", &key), ct)?,
                )
            }
            _ => None,
        };
        call_from_row(row, caller)
    }
}

fn call_from_row(row: CallRow, caller: Option<String>) -> Result<StoredCall, StoreError> {
    let (
        source_id,
        version,
        queue,
        _caller_enc, // decrypted by `Store::stored_call` when asked for
        offered_at,
        answered_at,
        ended_at,
        outcome,
        agent,
        talk_ms,
        unanswered_rings,
        transferred_to,
        import_batch_id,
        first_line,
        last_line,
    ) = row;
    let ts =
        |what: &'static str, v: Option<i64>| v.map(|m| micros_to_timestamp(what, m)).transpose();
    Ok(StoredCall {
        call: CallRecord {
            outcome: CallOutcome::parse(&outcome).ok_or_else(|| StoreError::Corrupt {
                what: "calls.outcome",
                detail: format!("unknown outcome {outcome:?}"),
            })?,
            source_id,
            queue,
            caller,
            offered_at: micros_to_timestamp("calls.offered_at", offered_at)?,
            answered_at: ts("calls.answered_at", answered_at)?,
            ended_at: ts("calls.ended_at", ended_at)?,
            agent,
            talk: talk_ms.map(SignedDuration::from_millis),
            unanswered_rings: u32::try_from(unanswered_rings).unwrap_or(u32::MAX),
            transferred_to,
        },
        version,
        import_batch_id,
        first_line,
        last_line,
    })
}

impl Store {
    /// Streams the calls of a contract offered in `[from, to)` to `f`, in offer order,
    /// without holding them all in memory (a month can be millions of calls). Callers'
    /// numbers are not decrypted.
    pub async fn for_each_call_offered_between(
        &self,
        contract_id: ContractId,
        from: Timestamp,
        to: Timestamp,
        mut f: impl FnMut(StoredCall),
    ) -> Result<u64, StoreError> {
        use futures_util::TryStreamExt;
        let cid = contract_id.text();
        let sql = CALLS_OFFERED_BETWEEN;
        let mut n = 0u64;
        on_db!(self.db(), pool => {
            let mut rows = sqlx::query_as::<_, CallRowWithFormat>(sql)
                .bind(&cid)
                .bind(micros(from))
                .bind(micros(to))
                .fetch(pool);
            while let Some(row) = rows.try_next().await? {
                let (row, format) = split_format(row);
                f(self.stored_call(&cid, &format, row, false)?);
                n += 1;
            }
        });
        Ok(n)
    }

    /// How many calls a contract has (all formats).
    pub async fn call_count(&self, contract_id: ContractId) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_db!(self.db(), pool => {
            sqlx::query_as(crate::sql!("SELECT COUNT(*) FROM calls WHERE contract_id = $1"))
                .bind(contract_id.text())
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }
}

type CallRowWithFormat = (
    String,
    i64,
    Option<String>,
    Option<Vec<u8>>,
    i64,
    Option<i64>,
    Option<i64>,
    String,
    Option<String>,
    Option<i64>,
    i64,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    String,
);

fn split_format(r: CallRowWithFormat) -> (CallRow, String) {
    (
        (
            r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11, r.12, r.13, r.14,
        ),
        r.15,
    )
}
