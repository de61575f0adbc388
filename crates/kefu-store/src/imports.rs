//! Import runs: one `import_batches` row per (contract, format, source file
//! content). Calls are written in chunks, each in one transaction together
//! with the run's checkpoint (where to resume, what was counted), so a run
//! killed at any moment resumes without losing or doubling a call.

use kefu_core::phone::CallRecord;

use crate::agent_events::{NewAgentEvent, insert_agent_events};
use crate::calls::{ChunkOutcome, NewCall, PreparedCalls, insert_calls};
use crate::db::{micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::ids::{ContractId, ImportBatchId};
use crate::phone_buckets::{BucketPlan, flush_day, fold_chunk, lock_buckets};
use crate::{NewAuditEntry, Store, audit::append_in_tx, on_db, on_tx, sql};

/// The file being imported, identified by its content.
#[derive(Debug, Clone)]
pub struct ImportSource<'a> {
    pub contract_id: ContractId,
    /// `queue_log`, `cdr`, `connect`, `mapped:<mapping name>` …
    pub format: &'a str,
    /// The path as the user gave it (for messages and the audit log).
    pub source_name: &'a str,
    /// Digest of the whole file, naming its algorithm: `blake3:<hex>`.
    pub digest: &'a str,
    pub size: u64,
}

/// How far a run got; saved with every chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportProgress {
    /// Byte offset and line number to read again from after an interruption.
    pub resume_offset: u64,
    pub resume_line: u64,
    /// The last line fully read when the checkpoint was taken: rejected rows at or before it
    /// were already counted.
    pub lines_done: u64,
    /// Bytes read when the checkpoint was taken (readers use it to tell replays on resume).
    pub read_offset: u64,
    /// Calls stored (inserted or replaced by a newer version) by this run.
    pub calls_stored: u64,
    pub rows_rejected: u64,
    /// Rows left out on purpose (not offered to a queue, filtered, non-voice …).
    pub rows_skipped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    Running,
    Done,
    Failed,
}

impl BatchState {
    fn as_str(self) -> &'static str {
        match self {
            BatchState::Running => "running",
            BatchState::Done => "done",
            BatchState::Failed => "failed",
        }
    }
    fn from_stored(s: &str) -> Result<Self, StoreError> {
        match s {
            "running" => Ok(BatchState::Running),
            "done" => Ok(BatchState::Done),
            "failed" => Ok(BatchState::Failed),
            other => Err(StoreError::Corrupt {
                what: "import_batches.state",
                detail: format!("unknown state {other:?}"),
            }),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ImportBatch {
    pub id: ImportBatchId,
    pub contract_id: ContractId,
    pub format: String,
    pub source_name: String,
    pub state: BatchState,
    pub progress: ImportProgress,
    pub started_at: jiff::Timestamp,
}

/// What `begin_import` found.
#[derive(Debug, Clone)]
pub enum ImportStart {
    /// A new file: read it from the start.
    Fresh(ImportBatch),
    /// The same file was being imported when the run stopped: go on from its checkpoint.
    Resume(ImportBatch),
    /// The same file was imported completely before: nothing to do.
    AlreadyDone(ImportBatch),
}

type BatchRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
    i64,
);

fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl Store {
    /// Opens (or reopens) the import run for a source file. A new run and a resumed one each
    /// get an audit row.
    pub async fn begin_import(
        &self,
        src: &ImportSource<'_>,
        actor: &str,
    ) -> Result<ImportStart, StoreError> {
        let cid = src.contract_id.text();
        let mut tx = self.db().begin().await?;
        let found: Option<BatchRow> = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!(
                "SELECT id, state, source_name, format, started_at, resume_offset, resume_line,
                        rows_read, rows_ok, rows_rejected, rows_skipped, read_offset
                 FROM import_batches
                 WHERE contract_id = $1 AND format = $2 AND source_digest = $3"
            ))
            .bind(&cid)
            .bind(src.format)
            .bind(src.digest)
            .fetch_optional(&mut *conn)
            .await?
        });
        let detail = serde_json::json!({
            "format": src.format,
            "source": src.source_name,
            "digest": src.digest,
            "size": src.size,
        });
        let start = match found {
            Some(row) => {
                let batch = batch_from_row(src.contract_id, row)?;
                if batch.state == BatchState::Done {
                    tx.rollback().await?;
                    return Ok(ImportStart::AlreadyDone(batch));
                }
                on_tx!(&mut tx, conn => {
                    sqlx::query(sql!("UPDATE import_batches SET state = 'running' WHERE id = $1"))
                        .bind(batch.id.text())
                        .execute(&mut *conn)
                        .await?
                        .rows_affected()
                });
                append_in_tx(
                    &mut tx,
                    NewAuditEntry {
                        actor: actor.to_owned(),
                        action: "import.resumed".to_owned(),
                        subject: format!("import:{}", batch.id),
                        detail,
                    },
                )
                .await?;
                ImportStart::Resume(BatchState::Running.apply(batch))
            }
            None => {
                let id = ImportBatchId::generate();
                let now = now_micros();
                on_tx!(&mut tx, conn => {
                    sqlx::query(sql!(
                        "INSERT INTO import_batches
                            (id, contract_id, format, source_name, source_digest, source_size,
                             started_at, state)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'running')"
                    ))
                    .bind(id.text())
                    .bind(&cid)
                    .bind(src.format)
                    .bind(src.source_name)
                    .bind(src.digest)
                    .bind(to_i64(src.size))
                    .bind(now)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
                });
                append_in_tx(
                    &mut tx,
                    NewAuditEntry {
                        actor: actor.to_owned(),
                        action: "import.started".to_owned(),
                        subject: format!("import:{id}"),
                        detail,
                    },
                )
                .await?;
                ImportStart::Fresh(ImportBatch {
                    id,
                    contract_id: src.contract_id,
                    format: src.format.to_owned(),
                    source_name: src.source_name.to_owned(),
                    state: BatchState::Running,
                    progress: ImportProgress {
                        resume_line: 1,
                        ..ImportProgress::default()
                    },
                    started_at: micros_to_timestamp("import_batches.started_at", now)?,
                })
            }
        };
        tx.commit().await?;
        Ok(start)
    }

    /// Stores a chunk of calls and the run's checkpoint in one transaction. With a bucket
    /// plan, the calls inserted are also folded into the phone buckets in the same
    /// transaction (see [`crate::phone_buckets`]; a day's buckets are written once the run has
    /// moved past the day, or by [`Store::finish_import`]). `prepared` is what
    /// [`Store::prepare_calls`] made of the same `calls` with the same `plan`, if anything.
    pub async fn commit_import_chunk(
        &self,
        batch: &ImportBatch,
        calls: &[NewCall],
        progress: &ImportProgress,
        plan: Option<&BucketPlan>,
        agent_events: &[NewAgentEvent],
        prepared: Option<PreparedCalls>,
    ) -> Result<ChunkOutcome, StoreError> {
        let mut tx = self.db().begin().await?;
        // Write first: on SQLite this takes the write lock now, so that what the chunk reads
        // (stored keys, buckets) cannot change before it writes.
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!("UPDATE import_batches SET state = 'running' WHERE id = $1"))
                .bind(batch.id.text())
                .execute(&mut *conn)
                .await?
                .rows_affected()
        });
        insert_agent_events(
            &mut tx,
            batch.contract_id,
            &batch.format,
            batch.id,
            agent_events,
        )
        .await?;
        let write = insert_calls(
            self,
            &mut tx,
            batch.contract_id,
            &batch.format,
            batch.id,
            calls,
            prepared,
        )
        .await?;
        let mut pending = None;
        if let Some(plan) = plan {
            let inserted: Vec<&CallRecord> =
                write.inserted.iter().map(|&i| &calls[i].call).collect();
            let replaced: Vec<&CallRecord> =
                write.replaced.iter().map(|&i| &calls[i].call).collect();
            // Taken out for the transaction; kept again only if it commits.
            let before = self
                .pending_buckets()
                .lock()
                .map(|mut p| p.take(batch.id))
                .unwrap_or_default();
            pending = Some(
                fold_chunk(
                    &mut tx,
                    batch.contract_id,
                    batch.id,
                    before,
                    plan,
                    &inserted,
                    &replaced,
                    &write.replaced_from,
                    write.prefolded,
                )
                .await?,
            );
        }
        let outcome = write.outcome;
        let stored = progress.calls_stored + outcome.stored;
        save_progress(
            &mut tx,
            batch.id,
            &ImportProgress {
                calls_stored: stored,
                ..*progress
            },
        )
        .await?;
        tx.commit().await?;
        if let (Some(days), Ok(mut p)) = (pending, self.pending_buckets().lock()) {
            p.put_back(batch.id, days);
        }
        Ok(outcome)
    }

    /// Ends a run: `Done` when the whole file was read, `Failed` when it stopped (e.g.
    /// `--strict` met a bad row); a failed run resumes from its checkpoint next time.
    pub async fn finish_import(
        &self,
        batch: &ImportBatch,
        progress: &ImportProgress,
        state: BatchState,
        actor: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.db().begin().await?;
        save_progress(&mut tx, batch.id, progress).await?;
        // The buckets of the days this run folded and has not written yet.
        let pending = self
            .pending_buckets()
            .lock()
            .map(|mut p| p.take(batch.id))
            .unwrap_or_default();
        if !pending.is_empty() {
            let cid = batch.contract_id.text();
            lock_buckets(&mut tx, &cid).await?;
            for (day, fold) in pending {
                flush_day(&mut tx, &cid, &batch.id.text(), day, fold).await?;
            }
        }
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "UPDATE import_batches SET state = $1, finished_at = $2 WHERE id = $3"
            ))
            .bind(state.as_str())
            .bind(now_micros())
            .bind(batch.id.text())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        append_in_tx(
            &mut tx,
            NewAuditEntry {
                actor: actor.to_owned(),
                action: format!("import.{}", state.as_str()),
                subject: format!("import:{}", batch.id),
                detail: serde_json::json!({
                    "format": batch.format,
                    "source": batch.source_name,
                    "lines": progress.lines_done,
                    "calls_stored": progress.calls_stored,
                    "rows_rejected": progress.rows_rejected,
                    "rows_skipped": progress.rows_skipped,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every import run of a contract, newest first.
    pub async fn import_batches(
        &self,
        contract_id: ContractId,
    ) -> Result<Vec<ImportBatch>, StoreError> {
        let rows: Vec<BatchRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, state, source_name, format, started_at, resume_offset, resume_line,
                        rows_read, rows_ok, rows_rejected, rows_skipped, read_offset
                 FROM import_batches WHERE contract_id = $1 ORDER BY started_at DESC, id DESC"
            ))
            .bind(contract_id.text())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|r| batch_from_row(contract_id, r))
            .collect()
    }
}

impl BatchState {
    fn apply(self, mut batch: ImportBatch) -> ImportBatch {
        batch.state = self;
        batch
    }
}

fn batch_from_row(contract_id: ContractId, row: BatchRow) -> Result<ImportBatch, StoreError> {
    let (
        id,
        state,
        source_name,
        format,
        started_at,
        off,
        line,
        read,
        ok,
        rejected,
        skipped,
        read_offset,
    ) = row;
    Ok(ImportBatch {
        id: ImportBatchId::from_stored(&id)?,
        contract_id,
        format,
        source_name,
        state: BatchState::from_stored(&state)?,
        progress: ImportProgress {
            resume_offset: to_u64(off),
            resume_line: to_u64(line).max(1),
            lines_done: to_u64(read),
            calls_stored: to_u64(ok),
            rows_rejected: to_u64(rejected),
            rows_skipped: to_u64(skipped),
            read_offset: to_u64(read_offset),
        },
        started_at: micros_to_timestamp("import_batches.started_at", started_at)?,
    })
}

async fn save_progress(
    tx: &mut crate::Tx,
    id: ImportBatchId,
    p: &ImportProgress,
) -> Result<(), StoreError> {
    on_tx!(tx, conn => {
        sqlx::query(sql!(
            "UPDATE import_batches SET resume_offset = $1, resume_line = $2, rows_read = $3,
                    rows_ok = $4, rows_rejected = $5, rows_skipped = $6, read_offset = $7
             WHERE id = $8"
        ))
        .bind(to_i64(p.resume_offset))
        .bind(to_i64(p.resume_line))
        .bind(to_i64(p.lines_done))
        .bind(to_i64(p.calls_stored))
        .bind(to_i64(p.rows_rejected))
        .bind(to_i64(p.rows_skipped))
        .bind(to_i64(p.read_offset))
        .bind(id.text())
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(())
}
