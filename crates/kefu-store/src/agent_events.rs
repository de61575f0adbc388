//! Agents' logged state changes (login, logoff, pause, unpause), stored as read so that
//! presence — who was on duty when — can be derived and re-derived from them.

use jiff::Timestamp;

use crate::error::StoreError;
use crate::ids::{ContractId, ImportBatchId};
use crate::{Store, Tx, on_db, on_tx, sql};

const ROWS_PER_STATEMENT: usize = 256;

/// One state change to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAgentEvent {
    pub at: Timestamp,
    pub agent: String,
    /// `None`: all queues.
    pub queue: Option<String>,
    /// "login", "logoff", "pause" or "unpause".
    pub kind: &'static str,
    pub reason: Option<String>,
    pub line: Option<i64>,
}

/// Writes events inside the caller's transaction; an event already stored is skipped.
/// Returns how many were new.
pub(crate) async fn insert_agent_events(
    tx: &mut Tx,
    contract_id: ContractId,
    format: &str,
    batch: ImportBatchId,
    events: &[NewAgentEvent],
) -> Result<u64, StoreError> {
    let cid = contract_id.text();
    let batch = batch.text();
    let mut stored = 0;
    for chunk in crate::db::statement_batches(events, ROWS_PER_STATEMENT) {
        stored += on_tx!(tx, conn => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO agent_events (contract_id, source_format, at, agent, queue, kind, \
                 reason, import_batch_id, line) ",
            );
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(cid.clone())
                    .push_bind(format.to_owned())
                    .push_bind(e.at.as_microsecond())
                    .push_bind(e.agent.clone())
                    .push_bind(e.queue.clone().unwrap_or_default())
                    .push_bind(e.kind)
                    .push_bind(e.reason.clone())
                    .push_bind(batch.clone())
                    .push_bind(e.line);
            });
            qb.push(" ON CONFLICT (contract_id, at, agent, kind, queue, source_format) DO NOTHING");
            qb.build().execute(&mut *conn).await?.rows_affected()
        });
    }
    Ok(stored)
}

impl Store {
    /// A contract's agent events in `[from, to)` that apply to all queues (logins, logoffs,
    /// pauses of every queue), by agent and time: (agent, instant, kind).
    pub async fn agent_events_between(
        &self,
        contract_id: ContractId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        let rows: Vec<(String, i64, String)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT agent, at, kind FROM agent_events
                 WHERE contract_id = $1 AND at >= $2 AND at < $3 AND queue = ''
                 ORDER BY agent, at"
            ))
            .bind(contract_id.text())
            .bind(from.as_microsecond())
            .bind(to.as_microsecond())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(agent, at, kind)| {
                Ok((
                    agent,
                    crate::db::micros_to_timestamp("agent_events.at", at)?,
                    kind,
                ))
            })
            .collect()
    }

    /// How many agent events a contract has.
    pub async fn agent_event_count(&self, contract_id: ContractId) -> Result<i64, StoreError> {
        let (n,): (i64,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!("SELECT COUNT(*) FROM agent_events WHERE contract_id = $1"))
                .bind(contract_id.text())
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }
}
