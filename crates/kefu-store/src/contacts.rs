//! Contacts (calls, chats, email threads, visits), their event histories, and agents.
//! Importers write through [`Store::insert_contact`], which is idempotent on
//! (contract, channel, external id): importing the same file twice keeps one row per contact.

use std::fmt;
use std::str::FromStr;

use crate::db::now_micros;
use crate::error::StoreError;
use crate::ids::{AgentId, ContactId, ContractId, CustomerId, ImportBatchId};
use crate::{Store, on_db, on_tx, sql};

/// The four service channels of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Phone,
    Chat,
    Email,
    Onsite,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Chat => "chat",
            Channel::Email => "email",
            Channel::Onsite => "onsite",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, StoreError> {
        match s {
            "phone" => Ok(Channel::Phone),
            "chat" => Ok(Channel::Chat),
            "email" => Ok(Channel::Email),
            "onsite" => Ok(Channel::Onsite),
            other => Err(StoreError::Invalid(format!(
                "unknown channel `{other}` (expected phone, chat, email or onsite)"
            ))),
        }
    }
}

/// A contact to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContact {
    pub contract_id: ContractId,
    pub channel: Channel,
    /// The source system's id (PBX unique id, Message-ID of the first mail, …).
    pub external_id: String,
    pub queue: Option<String>,
    pub agent_id: Option<AgentId>,
    pub customer_id: Option<CustomerId>,
    pub started_at: jiff::Timestamp,
    pub ended_at: Option<jiff::Timestamp>,
    pub state: String,
    pub import_batch_id: Option<ImportBatchId>,
}

/// The outcome of [`Store::insert_contact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactInsert {
    pub id: ContactId,
    /// False when the contact was already stored (the existing row is left as it was).
    pub created: bool,
}

/// One event of a contact's history.
#[derive(Debug, Clone, PartialEq)]
pub struct NewContactEvent {
    pub at: jiff::Timestamp,
    /// e.g. `enqueued`, `answered`, `abandoned`, `message_in`, `replied`, `ended`.
    pub kind: String,
    pub agent_id: Option<AgentId>,
    pub data: serde_json::Value,
}

impl Store {
    /// Stores a contact unless one with the same (contract, channel, external id) exists.
    pub async fn insert_contact(&self, c: &NewContact) -> Result<ContactInsert, StoreError> {
        let id = ContactId::generate();
        let inserted: Option<(String,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "INSERT INTO contacts
                    (id, contract_id, channel, external_id, queue, agent_id, customer_id,
                     started_at, ended_at, state, import_batch_id)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (contract_id, channel, external_id) DO NOTHING
                 RETURNING id"
            ))
            .bind(id.text())
            .bind(c.contract_id.text())
            .bind(c.channel.as_str())
            .bind(&c.external_id)
            .bind(c.queue.as_deref())
            .bind(c.agent_id.map(|a| a.text()))
            .bind(c.customer_id.map(|a| a.text()))
            .bind(c.started_at.as_microsecond())
            .bind(c.ended_at.map(|t| t.as_microsecond()))
            .bind(&c.state)
            .bind(c.import_batch_id.map(|b| b.text()))
            .fetch_optional(pool)
            .await?
        });
        if inserted.is_some() {
            return Ok(ContactInsert { id, created: true });
        }
        let (existing,): (String,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM contacts
                 WHERE contract_id = $1 AND channel = $2 AND external_id = $3"
            ))
            .bind(c.contract_id.text())
            .bind(c.channel.as_str())
            .bind(&c.external_id)
            .fetch_one(pool)
            .await?
        });
        Ok(ContactInsert {
            id: ContactId::from_stored(&existing)?,
            created: false,
        })
    }

    /// Appends an event to a contact's history and returns its seq (1, 2, 3, … per contact).
    pub async fn append_contact_event(
        &self,
        contact: ContactId,
        event: &NewContactEvent,
    ) -> Result<i64, StoreError> {
        let mut tx = self.db().begin().await?;
        let contact_id = contact.text();
        if let crate::Tx::Postgres(pg) = &mut tx {
            // Serialise appends to one contact so two writers never pick the same seq;
            // SQLite's single writer does this already.
            sqlx::query(sql!("SELECT pg_advisory_xact_lock(hashtext($1))"))
                .bind(&contact_id)
                .execute(&mut **pg)
                .await?;
        }
        let (seq,): (i64,) = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM contact_events WHERE contact_id = $1"
            ))
            .bind(&contact_id)
            .fetch_one(&mut *conn)
            .await?
        });
        // UNIQUE (contact_id, seq) stays the last line of defence against a fork.
        on_tx!(&mut tx, conn => {
                    sqlx::query(sql!(
                        "INSERT INTO contact_events (contact_id, seq, at, kind, agent_id, data)
                         VALUES ($1, $2, $3, $4, $5, $6)"
                    ))
                    .bind(&contact_id)
                    .bind(seq)
                    .bind(event.at.as_microsecond())
                    .bind(&event.kind)
                    .bind(event.agent_id.map(|a| a.text()))
                    .bind(event.data.to_string())
                    .execute(&mut *conn)
                    .await?
        .rows_affected()
                });
        tx.commit().await?;
        Ok(seq)
    }

    /// The agent with this code in the contract, created with `display_name` if missing.
    pub async fn ensure_agent(
        &self,
        contract_id: ContractId,
        code: &str,
        display_name: &str,
    ) -> Result<AgentId, StoreError> {
        let id = AgentId::generate();
        on_db!(self.db(), pool => {
                    sqlx::query(sql!(
                        "INSERT INTO agents (id, contract_id, code, display_name, created_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (contract_id, code) DO NOTHING"
                    ))
                    .bind(id.text())
                    .bind(contract_id.text())
                    .bind(code)
                    .bind(display_name)
                    .bind(now_micros())
                    .execute(pool)
                    .await?
        .rows_affected()
                });
        let (stored,): (String,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!("SELECT id FROM agents WHERE contract_id = $1 AND code = $2"))
                .bind(contract_id.text())
                .bind(code)
                .fetch_one(pool)
                .await?
        });
        AgentId::from_stored(&stored)
    }
}
