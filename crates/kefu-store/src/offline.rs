//! Messages left in the chat widget outside service hours (clause 2.1.2: "an offline message
//! becomes a ticket"). Each is a contact of the chat channel in state `offline_message` until
//! someone follows it up; the customer's name, phone or email and the text are encrypted.
//! The widget's message id makes a resend (a flaky connection, a double click) count once.

use jiff::Timestamp;

use crate::chat::MAX_MESSAGE_CHARS;
use crate::contacts::Channel;
use crate::crypto::FieldRef;
use crate::customers::CustomerPii;
use crate::db::{micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::ids::{ContactId, ContractId, CustomerId, UserId};
use crate::{Store, on_db, on_tx, sql};

/// The contact state of a message nobody has followed up yet, and of one that was.
pub const STATE_OPEN: &str = "offline_message";
pub const STATE_FOLLOWED_UP: &str = "followed_up";

/// A message to leave.
#[derive(Debug, Clone, Copy)]
pub struct NewOfflineMessage<'a> {
    pub contract_id: ContractId,
    /// The widget's id for this message: the same id is stored once.
    pub client_msg_id: &'a str,
    pub name: Option<&'a str>,
    /// How to reach the customer: a phone number or an email address.
    pub reach: &'a str,
    pub text: &'a str,
}

/// What leaving a message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeftMessage {
    pub contact_id: ContactId,
    /// True when this id was stored before (nothing new was written).
    pub duplicate: bool,
}

/// A stored offline message, decrypted (mask it before showing it to anyone who may not
/// see customer data).
#[derive(Clone, PartialEq, Eq)]
pub struct OfflineMessage {
    pub contact_id: ContactId,
    pub received_at: Timestamp,
    pub customer: CustomerPii,
    pub text: String,
    pub followed_up_at: Option<Timestamp>,
    pub followed_up_by: Option<UserId>,
}

impl std::fmt::Debug for OfflineMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OfflineMessage")
            .field("contact_id", &self.contact_id)
            .field("received_at", &self.received_at)
            .field("customer", &self.customer)
            .field("text", &"<redacted>")
            .field("followed_up_at", &self.followed_up_at)
            .finish()
    }
}

/// The longest name and contact detail kept, in characters.
const MAX_FIELD_CHARS: usize = 200;

fn check(m: &NewOfflineMessage<'_>) -> Result<(), StoreError> {
    let bad = |what: &str, limit: usize| {
        Err(StoreError::Invalid(format!(
            "{what} needs 1 to {limit} characters"
        )))
    };
    if m.client_msg_id.is_empty() || m.client_msg_id.len() > 100 {
        return bad("a message id", 100);
    }
    if m.text.trim().is_empty() || m.text.chars().count() > MAX_MESSAGE_CHARS {
        return bad("the message", MAX_MESSAGE_CHARS);
    }
    if m.reach.trim().is_empty() || m.reach.chars().count() > MAX_FIELD_CHARS {
        return bad("a phone number or email address", MAX_FIELD_CHARS);
    }
    if !m.reach.contains('@') && m.reach.chars().filter(char::is_ascii_digit).count() < 5 {
        return Err(StoreError::Invalid(format!(
            "{:?} is neither an email address nor a phone number",
            m.reach
        )));
    }
    if m.name.is_some_and(|n| n.chars().count() > MAX_FIELD_CHARS) {
        return bad("a name", MAX_FIELD_CHARS);
    }
    Ok(())
}

fn external_id(client_msg_id: &str) -> String {
    format!("offline:{client_msg_id}")
}

impl Store {
    /// Stores an offline message as a new chat contact (committed before this returns).
    pub async fn leave_offline_message(
        &self,
        m: &NewOfflineMessage<'_>,
    ) -> Result<LeftMessage, StoreError> {
        check(m)?;
        let external = external_id(m.client_msg_id);
        let cid = m.contract_id.text();
        let mut tx = self.db().begin().await?;
        let before: Option<(String,)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!(
                "SELECT id FROM contacts WHERE contract_id = $1 AND channel = $2 AND external_id = $3"
            ))
            .bind(&cid)
            .bind(Channel::Chat.as_str())
            .bind(&external)
            .fetch_optional(&mut *conn)
            .await?
        });
        if let Some((id,)) = before {
            return Ok(LeftMessage {
                contact_id: ContactId::from_stored(&id)?,
                duplicate: true,
            });
        }
        let reach = m.reach.trim();
        let pii = CustomerPii {
            name: m
                .name
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_owned),
            phone: (!reach.contains('@')).then(|| reach.to_owned()),
            email: reach.contains('@').then(|| reach.to_owned()),
            ..CustomerPii::default()
        };
        let customer = self
            .insert_customer_in(&mut tx, m.contract_id, &pii)
            .await?;
        let contact = ContactId::generate();
        let now = now_micros();
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO contacts
                    (id, contract_id, channel, external_id, customer_id, started_at, state)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)"
            ))
            .bind(contact.text())
            .bind(&cid)
            .bind(Channel::Chat.as_str())
            .bind(&external)
            .bind(customer.text())
            .bind(now)
            .bind(STATE_OPEN)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        let body = self.cipher().encrypt_str(
            FieldRef::new("offline_messages", "body", &contact.text()),
            m.text.trim(),
        )?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO offline_messages (contact_id, contract_id, body_enc, received_at)
                 VALUES ($1, $2, $3, $4)"
            ))
            .bind(contact.text())
            .bind(&cid)
            .bind(&body)
            .bind(now)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        tx.commit().await?;
        Ok(LeftMessage {
            contact_id: contact,
            duplicate: false,
        })
    }

    /// A contract's offline messages, newest first; `open_only` leaves out those followed up.
    pub async fn offline_messages(
        &self,
        contract_id: ContractId,
        open_only: bool,
        limit: u32,
    ) -> Result<Vec<OfflineMessage>, StoreError> {
        self.offline_messages_where(contract_id, open_only, None, limit)
            .await
    }

    /// One offline message of a contract.
    pub async fn offline_message(
        &self,
        contract_id: ContractId,
        contact: ContactId,
    ) -> Result<Option<OfflineMessage>, StoreError> {
        Ok(self
            .offline_messages_where(contract_id, false, Some(contact), 1)
            .await?
            .pop())
    }

    async fn offline_messages_where(
        &self,
        contract_id: ContractId,
        open_only: bool,
        contact: Option<ContactId>,
        limit: u32,
    ) -> Result<Vec<OfflineMessage>, StoreError> {
        type Row = (String, String, Vec<u8>, i64, Option<i64>, Option<String>);
        let rows: Vec<Row> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT o.contact_id, c.customer_id, o.body_enc, o.received_at, o.followed_up_at,
                        o.followed_up_by
                 FROM offline_messages o JOIN contacts c ON c.id = o.contact_id
                 WHERE o.contract_id = $1 AND ($2 = 0 OR o.followed_up_at IS NULL)
                   AND ($4 = '' OR o.contact_id = $4)
                 ORDER BY o.received_at DESC LIMIT $3"
            ))
            .bind(contract_id.text())
            .bind(i64::from(open_only))
            .bind(i64::from(limit))
            .bind(contact.map(|c| c.text()).unwrap_or_default())
            .fetch_all(pool)
            .await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for (contact, customer, body, received, followed_at, followed_by) in rows {
            let text = self
                .cipher()
                .decrypt_str(FieldRef::new("offline_messages", "body", &contact), &body)?;
            let customer = self
                .customer(CustomerId::from_stored(&customer)?)
                .await?
                .unwrap_or_default();
            out.push(OfflineMessage {
                contact_id: ContactId::from_stored(&contact)?,
                received_at: micros_to_timestamp("offline_messages.received_at", received)?,
                customer,
                text,
                followed_up_at: followed_at
                    .map(|t| micros_to_timestamp("offline_messages.followed_up_at", t))
                    .transpose()?,
                followed_up_by: followed_by.map(|u| UserId::from_stored(&u)).transpose()?,
            });
        }
        Ok(out)
    }

    /// Marks an offline message of a contract followed up by `by`; false when there is no
    /// such message or it was followed up already.
    pub async fn follow_up_offline_message(
        &self,
        contract_id: ContractId,
        contact: ContactId,
        by: UserId,
    ) -> Result<bool, StoreError> {
        let mut tx = self.db().begin().await?;
        let now = now_micros();
        let changed = on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "UPDATE offline_messages SET followed_up_at = $1, followed_up_by = $2
                 WHERE contact_id = $3 AND contract_id = $4 AND followed_up_at IS NULL"
            ))
            .bind(now)
            .bind(by.text())
            .bind(contact.text())
            .bind(contract_id.text())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if changed == 1 {
            on_tx!(&mut tx, conn => {
                sqlx::query(sql!(
                    "UPDATE contacts SET state = $1, ended_at = $2, agent_id = NULL WHERE id = $3"
                ))
                .bind(STATE_FOLLOWED_UP)
                .bind(now)
                .bind(contact.text())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
        }
        tx.commit().await?;
        Ok(changed == 1)
    }

    /// A person's chosen language (`zh` or `en`), if they chose one.
    pub async fn preferred_lang(&self, user: UserId) -> Result<Option<String>, StoreError> {
        let row: Option<(Option<String>,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!("SELECT lang FROM user_preferences WHERE user_id = $1"))
                .bind(user.text())
                .fetch_optional(pool)
                .await?
        });
        Ok(row.and_then(|(l,)| l))
    }

    /// Remembers a person's language (`zh` or `en`).
    pub async fn set_preferred_lang(&self, user: UserId, lang: &str) -> Result<(), StoreError> {
        if lang != "zh" && lang != "en" {
            return Err(StoreError::Invalid(format!(
                "language {lang:?}: expected zh or en"
            )));
        }
        on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO user_preferences (user_id, lang, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET lang = excluded.lang, updated_at = excluded.updated_at"
            ))
            .bind(user.text())
            .bind(lang)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}
