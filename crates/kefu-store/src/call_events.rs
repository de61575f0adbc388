//! Calls pushed live by a PBX: each event stored as received (idempotent by its id), and the
//! call's record rebuilt from all its events and stored with the imported calls whenever an
//! event changes it (see `kefu_core::phone::live`).

use jiff::Timestamp;
use kefu_core::phone::live::{Assembly, LiveEvent, LiveEventKind, assemble};

use crate::calls::{NewCall, insert_calls};
use crate::crypto::FieldRef;
use crate::db::{micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::ids::{ContractId, ImportBatchId};
use crate::phone_buckets::{BucketPlan, flush_day, fold_chunk};
use crate::{Store, Tx, on_tx, sql};

/// The source format of calls assembled from live events.
pub const LIVE_FORMAT: &str = "live";

/// One event as the API received it.
#[derive(Debug, Clone)]
pub struct NewCallEvent {
    /// The sender's id of the event: the same id twice is the same event.
    pub event_id: String,
    /// The sender's id of the call.
    pub call_id: String,
    pub event: LiveEvent,
}

/// What recording an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This event id was recorded before: nothing changed.
    Duplicate,
    /// Stored; the call is still going (or its `enqueued` has not arrived yet).
    CallOpen,
    /// Stored; the call's record was stored or brought up to date.
    CallStored,
    /// Refused (nothing stored): the call's events contradict each other.
    Refused(String),
}

type EventRow = (
    i64,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<Vec<u8>>,
    String,
);

fn kind_parts(kind: &LiveEventKind) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
    match kind {
        LiveEventKind::Enqueued { queue, .. } => ("enqueued", queue.as_deref(), None, None),
        LiveEventKind::Answered { agent } => ("answered", None, Some(agent.as_str()), None),
        LiveEventKind::Transferred { to } => ("transferred", None, None, Some(to.as_str())),
        LiveEventKind::Abandoned => ("abandoned", None, None, None),
        LiveEventKind::Ended => ("ended", None, None, None),
    }
}

impl Store {
    /// Records one event of a live call and, when the call has ended, stores its record (and
    /// folds it into the buckets cut by `plan`), all in one transaction.
    pub async fn record_call_event(
        &self,
        contract_id: ContractId,
        plan: &BucketPlan,
        ev: &NewCallEvent,
    ) -> Result<Recorded, StoreError> {
        let cid = contract_id.text();
        let (kind, queue, agent, to) = kind_parts(&ev.event.kind);
        let caller = match &ev.event.kind {
            LiveEventKind::Enqueued {
                caller: Some(c), ..
            } if !c.trim().is_empty() => Some(c.as_str()),
            _ => None,
        };
        let row_key = format!("{cid}/{}", ev.event_id);
        let caller_enc = caller
            .map(|c| {
                self.cipher()
                    .encrypt_str(FieldRef::new("call_events", "caller", &row_key), c)
            })
            .transpose()?;
        let mut tx = self.db().begin().await?;
        // One writer per contract (as imports): the call's events and its record stay in step.
        crate::phone_buckets::lock_buckets(&mut tx, &cid).await?;
        let inserted = on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO call_events (contract_id, event_id, call_id, at, kind, queue, agent,
                    transferred_to, caller_enc, received_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (contract_id, event_id) DO NOTHING"
            ))
            .bind(&cid)
            .bind(&ev.event_id)
            .bind(&ev.call_id)
            .bind(ev.event.at.as_microsecond())
            .bind(kind)
            .bind(queue)
            .bind(agent)
            .bind(to)
            .bind(&caller_enc)
            .bind(now_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(Recorded::Duplicate);
        }
        let events = self.call_events_in_tx(&mut tx, &cid, &ev.call_id).await?;
        if !events
            .iter()
            .any(|e| matches!(e.kind, LiveEventKind::Enqueued { .. }))
        {
            tx.commit().await?;
            return Ok(Recorded::CallOpen);
        }
        let call = match assemble(&ev.call_id, &events) {
            Assembly::Open(_) => {
                tx.commit().await?;
                return Ok(Recorded::CallOpen);
            }
            Assembly::Invalid(why) => {
                tx.rollback().await?;
                return Ok(Recorded::Refused(why));
            }
            Assembly::Finished(call) => call,
        };
        let batch = live_batch(&mut tx, &cid, call.offered_at).await?;
        let new = [NewCall {
            call,
            // More events, newer record: a late event replaces the call stored before.
            version: i64::try_from(events.len()).unwrap_or(i64::MAX),
            first_line: None,
            last_line: None,
        }];
        let write =
            insert_calls(self, &mut tx, contract_id, LIVE_FORMAT, batch, &new, None).await?;
        let inserted: Vec<_> = write.inserted.iter().map(|&i| &new[i].call).collect();
        let replaced: Vec<_> = write.replaced.iter().map(|&i| &new[i].call).collect();
        let pending = fold_chunk(
            &mut tx,
            contract_id,
            batch,
            Default::default(),
            plan,
            &inserted,
            &replaced,
            &write.replaced_from,
            None,
        )
        .await?;
        for (day, fold) in pending {
            flush_day(&mut tx, &cid, &batch.text(), day, fold).await?;
        }
        tx.commit().await?;
        Ok(Recorded::CallStored)
    }

    async fn call_events_in_tx(
        &self,
        tx: &mut Tx,
        cid: &str,
        call_id: &str,
    ) -> Result<Vec<LiveEvent>, StoreError> {
        let rows: Vec<EventRow> = on_tx!(tx, conn => {
            sqlx::query_as(sql!(
                "SELECT at, kind, queue, agent, transferred_to, caller_enc, event_id
                 FROM call_events WHERE contract_id = $1 AND call_id = $2"
            ))
            .bind(cid)
            .bind(call_id)
            .fetch_all(&mut *conn)
            .await?
        });
        rows.into_iter()
            .map(|(at, kind, queue, agent, to, caller_enc, event_id)| {
                let at: Timestamp = micros_to_timestamp("call_events.at", at)?;
                let missing = |what: &'static str| StoreError::Corrupt {
                    what,
                    detail: format!("event {event_id} has no value"),
                };
                let kind = match kind.as_str() {
                    "enqueued" => {
                        let key = format!("{cid}/{event_id}");
                        let caller = caller_enc
                            .map(|ct| {
                                self.cipher()
                                    .decrypt_str(FieldRef::new("call_events", "caller", &key), &ct)
                            })
                            .transpose()?;
                        LiveEventKind::Enqueued { queue, caller }
                    }
                    "answered" => LiveEventKind::Answered {
                        agent: agent.ok_or_else(|| missing("call_events.agent"))?,
                    },
                    "transferred" => LiveEventKind::Transferred {
                        to: to.ok_or_else(|| missing("call_events.transferred_to"))?,
                    },
                    "abandoned" => LiveEventKind::Abandoned,
                    "ended" => LiveEventKind::Ended,
                    other => {
                        return Err(StoreError::Corrupt {
                            what: "call_events.kind",
                            detail: format!("unknown kind {other:?}"),
                        });
                    }
                };
                Ok(LiveEvent { at, kind })
            })
            .collect()
    }
}

/// The import run that stands for a contract's live calls of one UTC day (calls name the run
/// they came from; for live calls that is the event stream of the day).
async fn live_batch(
    tx: &mut Tx,
    cid: &str,
    offered: Timestamp,
) -> Result<ImportBatchId, StoreError> {
    let day = offered.strftime("%Y-%m-%d").to_string();
    let digest = format!("live:{day}");
    let found: Option<(String,)> = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT id FROM import_batches
             WHERE contract_id = $1 AND format = $2 AND source_digest = $3"
        ))
        .bind(cid)
        .bind(LIVE_FORMAT)
        .bind(&digest)
        .fetch_optional(&mut *conn)
        .await?
    });
    if let Some((id,)) = found {
        return id.parse();
    }
    let id = ImportBatchId::generate();
    on_tx!(tx, conn => {
        sqlx::query(sql!(
            "INSERT INTO import_batches
                (id, contract_id, format, source_name, source_digest, source_size, started_at, state)
             VALUES ($1, $2, $3, $4, $5, 0, $6, 'running')"
        ))
        .bind(id.text())
        .bind(cid)
        .bind(LIVE_FORMAT)
        .bind(format!("call events of {day} (UTC)"))
        .bind(&digest)
        .bind(now_micros())
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    Ok(id)
}
