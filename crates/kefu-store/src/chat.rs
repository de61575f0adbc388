//! Live chat conversations and messages. A message is durable (committed) before anyone is
//! told it was received; the same client message id from the same side is stored once; each
//! conversation numbers its messages 1, 2, 3 … so a client that reconnects asks for those
//! after the last one it has.

use jiff::Timestamp;

use crate::crypto::FieldRef;
use crate::db::{micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::ids::{ContractId, UserId};
use crate::sessions::new_token;
use crate::{Store, on_db, on_tx, sql};

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Customer,
    Agent,
    System,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Sender::Customer => "customer",
            Sender::Agent => "agent",
            Sender::System => "system",
        }
    }

    fn parse(s: &str) -> Result<Sender, StoreError> {
        match s {
            "customer" => Ok(Sender::Customer),
            "agent" => Ok(Sender::Agent),
            "system" => Ok(Sender::System),
            other => Err(StoreError::Corrupt {
                what: "chat_messages.sender",
                detail: format!("unknown sender {other:?}"),
            }),
        }
    }
}

/// A new conversation: its id, and the secret the customer's browser keeps to resume it.
#[derive(Debug, Clone)]
pub struct OpenedConversation {
    pub id: String,
    pub visitor_token: String,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub seq: i64,
    pub sender: Sender,
    pub client_msg_id: String,
    pub text: String,
    pub sent_at: Timestamp,
}

/// What appending did: the message's number, and whether it was stored before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: i64,
    pub duplicate: bool,
}

/// A message to store.
#[derive(Debug, Clone, Copy)]
pub struct NewMessage<'a> {
    pub conversation: &'a str,
    pub sender: Sender,
    pub agent: Option<UserId>,
    pub client_msg_id: &'a str,
    pub text: &'a str,
}

/// The longest message kept, in characters.
pub const MAX_MESSAGE_CHARS: usize = 4_000;

fn body_key(conversation: &str, sender: Sender, client_msg_id: &str) -> String {
    format!("{conversation}/{}/{client_msg_id}", sender.as_str())
}

fn hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Store {
    /// Opens a conversation for a customer of a contract (waiting for an agent).
    pub async fn open_conversation(
        &self,
        contract_id: ContractId,
    ) -> Result<OpenedConversation, StoreError> {
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let visitor_token = new_token();
        on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO chat_conversations (id, contract_id, visitor_token_hash, state, created_at)
                 VALUES ($1, $2, $3, 'waiting', $4)"
            ))
            .bind(&id)
            .bind(contract_id.text())
            .bind(hash(&visitor_token))
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(OpenedConversation { id, visitor_token })
    }

    /// Whether `token` is the customer's secret of the conversation.
    pub async fn visitor_owns(&self, conversation: &str, token: &str) -> Result<bool, StoreError> {
        let found: Option<(String,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT visitor_token_hash FROM chat_conversations WHERE id = $1"
            ))
            .bind(conversation)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.is_some_and(|(h,)| h == hash(token)))
    }

    /// Stores a message (committed before this returns) and gives its number; the same
    /// client message id from the same side returns the number it got the first time.
    pub async fn append_message(
        &self,
        conversation: &str,
        sender: Sender,
        agent: Option<UserId>,
        client_msg_id: &str,
        text: &str,
    ) -> Result<Appended, StoreError> {
        let one = [NewMessage {
            conversation,
            sender,
            agent,
            client_msg_id,
            text,
        }];
        let mut out = self.append_messages(&one).await?;
        out.pop()
            .unwrap_or_else(|| Err(StoreError::Invalid("nothing appended".to_owned())))
    }

    /// Stores several messages (of any conversations) in one transaction — a group commit:
    /// all are durable before this returns. Each gets its own outcome; a message that cannot
    /// be taken (empty, too long, an ended conversation) does not stop the others. An error of
    /// the database itself fails them all (nothing is stored, nobody is told "stored").
    pub async fn append_messages(
        &self,
        messages: &[NewMessage<'_>],
    ) -> Result<Vec<Result<Appended, StoreError>>, StoreError> {
        let mut out: Vec<Result<Appended, StoreError>> = Vec::with_capacity(messages.len());
        let mut tx = self.db().begin().await?;
        for m in messages {
            if m.client_msg_id.is_empty() || m.client_msg_id.len() > 100 {
                out.push(Err(StoreError::Invalid(
                    "a message id needs 1 to 100 characters".to_owned(),
                )));
                continue;
            }
            if m.text.trim().is_empty() || m.text.chars().count() > MAX_MESSAGE_CHARS {
                out.push(Err(StoreError::Invalid(format!(
                    "a message needs 1 to {MAX_MESSAGE_CHARS} characters"
                ))));
                continue;
            }
            let before: Option<(i64,)> = on_tx!(&mut tx, conn => {
                sqlx::query_as(sql!(
                    "SELECT seq FROM chat_messages
                     WHERE conversation_id = $1 AND sender = $2 AND client_msg_id = $3"
                ))
                .bind(m.conversation)
                .bind(m.sender.as_str())
                .bind(m.client_msg_id)
                .fetch_optional(&mut *conn)
                .await?
            });
            if let Some((seq,)) = before {
                out.push(Ok(Appended {
                    seq,
                    duplicate: true,
                }));
                continue;
            }
            // Taking the next number is a write: concurrent senders queue here, never share one.
            let next: Option<(i64,)> = on_tx!(&mut tx, conn => {
                sqlx::query_as(sql!(
                    "UPDATE chat_conversations SET last_seq = last_seq + 1
                     WHERE id = $1 AND state <> 'ended' RETURNING last_seq"
                ))
                .bind(m.conversation)
                .fetch_optional(&mut *conn)
                .await?
            });
            let Some((seq,)) = next else {
                out.push(Err(StoreError::Invalid(
                    "no such conversation, or it has ended".to_owned(),
                )));
                continue;
            };
            let key = body_key(m.conversation, m.sender, m.client_msg_id);
            let body = self
                .cipher()
                .encrypt_str(FieldRef::new("chat_messages", "body", &key), m.text)?;
            on_tx!(&mut tx, conn => {
                sqlx::query(sql!(
                    "INSERT INTO chat_messages (conversation_id, seq, sender, agent_id, client_msg_id,
                        body_enc, sent_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)"
                ))
                .bind(m.conversation)
                .bind(seq)
                .bind(m.sender.as_str())
                .bind(m.agent.map(|a| a.text()))
                .bind(m.client_msg_id)
                .bind(&body)
                .bind(now_micros())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
            out.push(Ok(Appended {
                seq,
                duplicate: false,
            }));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The messages of a conversation after number `after`, in order.
    pub async fn messages_after(
        &self,
        conversation: &str,
        after: i64,
    ) -> Result<Vec<ChatMessage>, StoreError> {
        let rows: Vec<(i64, String, String, Vec<u8>, i64)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT seq, sender, client_msg_id, body_enc, sent_at FROM chat_messages
                 WHERE conversation_id = $1 AND seq > $2 ORDER BY seq"
            ))
            .bind(conversation)
            .bind(after)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(seq, sender, client_msg_id, body, sent_at)| {
                let sender = Sender::parse(&sender)?;
                let key = body_key(conversation, sender, &client_msg_id);
                let text = self
                    .cipher()
                    .decrypt_str(FieldRef::new("chat_messages", "body", &key), &body)?;
                Ok(ChatMessage {
                    seq,
                    sender,
                    client_msg_id,
                    text,
                    sent_at: micros_to_timestamp("chat_messages.sent_at", sent_at)?,
                })
            })
            .collect()
    }

    /// Ends a conversation (idempotent).
    pub async fn end_conversation(&self, conversation: &str) -> Result<(), StoreError> {
        on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE chat_conversations SET state = 'ended', ended_at = $1
                 WHERE id = $2 AND state <> 'ended'"
            ))
            .bind(now_micros())
            .bind(conversation)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// The customer's satisfaction rating, 1 to 5 (clause 1.2); the last one given counts.
    pub async fn rate_conversation(&self, conversation: &str, score: u8) -> Result<(), StoreError> {
        if !(1..=5).contains(&score) {
            return Err(StoreError::Invalid(format!(
                "a rating is 1 to 5, not {score}"
            )));
        }
        on_db!(self.db(), pool => {
            sqlx::query(sql!("UPDATE chat_conversations SET rating = $1 WHERE id = $2"))
                .bind(i64::from(score))
                .bind(conversation)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }
}

impl Store {
    /// Gives a waiting conversation to an agent. False when it was no longer waiting.
    pub async fn assign_conversation(
        &self,
        conversation: &str,
        agent: UserId,
    ) -> Result<bool, StoreError> {
        let n = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE chat_conversations SET state = 'active', agent_id = $1, assigned_at = $2
                 WHERE id = $3 AND state = 'waiting'"
            ))
            .bind(agent.text())
            .bind(now_micros())
            .bind(conversation)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// The contract of a conversation, its state and agent.
    pub async fn conversation(
        &self,
        conversation: &str,
    ) -> Result<Option<(ContractId, String, Option<UserId>)>, StoreError> {
        let row: Option<(String, String, Option<String>)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT contract_id, state, agent_id FROM chat_conversations WHERE id = $1"
            ))
            .bind(conversation)
            .fetch_optional(pool)
            .await?
        });
        row.map(|(c, s, a)| Ok((c.parse()?, s, a.map(|a| a.parse()).transpose()?)))
            .transpose()
    }
}

impl Store {
    /// Puts an active conversation back in the queue (its agent left). False when it was not
    /// active.
    pub async fn release_conversation(&self, conversation: &str) -> Result<bool, StoreError> {
        let n = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE chat_conversations SET state = 'waiting', agent_id = NULL, assigned_at = NULL
                 WHERE id = $1 AND state = 'active'"
            ))
            .bind(conversation)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }
}

impl Store {
    /// The conversations of a contract that began in `[from, to)`, with each message's time
    /// and side (not its text), for the chat figures.
    pub async fn chat_conversations_between(
        &self,
        contract_id: ContractId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<kefu_core::chat::Conversation>, StoreError> {
        use kefu_core::chat::{Conversation, Line, Side};
        type Row = (String, i64, Option<i64>, Option<String>, Option<i64>);
        let rows: Vec<Row> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT c.id, c.created_at, c.rating, m.sender, m.sent_at
                 FROM chat_conversations c
                 LEFT JOIN chat_messages m ON m.conversation_id = c.id
                 WHERE c.contract_id = $1 AND c.created_at >= $2 AND c.created_at < $3
                 ORDER BY c.created_at, c.id, m.seq"
            ))
            .bind(contract_id.text())
            .bind(from.as_microsecond())
            .bind(to.as_microsecond())
            .fetch_all(pool)
            .await?
        });
        let mut out: Vec<Conversation> = Vec::new();
        let mut current: Option<String> = None;
        for (id, created, rating, sender, sent_at) in rows {
            if current.as_deref() != Some(id.as_str()) {
                out.push(Conversation {
                    started_at: micros_to_timestamp("chat_conversations.created_at", created)?,
                    lines: Vec::new(),
                    rating: rating.and_then(|r| u8::try_from(r).ok()),
                });
                current = Some(id);
            }
            if let (Some(sender), Some(at), Some(conv)) = (sender, sent_at, out.last_mut()) {
                let side = match Sender::parse(&sender)? {
                    Sender::Customer => Side::Customer,
                    Sender::Agent => Side::Agent,
                    Sender::System => Side::Automatic,
                };
                conv.lines.push(Line {
                    at: micros_to_timestamp("chat_messages.sent_at", at)?,
                    side,
                });
            }
        }
        Ok(out)
    }
}

/// One conversation as a history list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub id: String,
    pub started_at: Timestamp,
    pub state: String,
    pub agent: Option<(UserId, String)>,
    pub rating: Option<u8>,
    pub messages: i64,
    pub ended_at: Option<Timestamp>,
}

impl Store {
    /// A contract's conversations begun in `[from, to)`, newest first; with `agent`, only
    /// those that agent handled.
    pub async fn chat_history(
        &self,
        contract_id: ContractId,
        from: Timestamp,
        to: Timestamp,
        agent: Option<UserId>,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        type Row = (
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            i64,
            Option<i64>,
        );
        let rows: Vec<Row> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT c.id, c.created_at, c.state, c.agent_id, u.display_name, c.rating,
                        c.last_seq, c.ended_at
                 FROM chat_conversations c LEFT JOIN users u ON u.id = c.agent_id
                 WHERE c.contract_id = $1 AND c.created_at >= $2 AND c.created_at < $3
                   AND ($4 = '' OR c.agent_id = $4)
                 ORDER BY c.created_at DESC LIMIT $5"
            ))
            .bind(contract_id.text())
            .bind(from.as_microsecond())
            .bind(to.as_microsecond())
            .bind(agent.map(|a| a.text()).unwrap_or_default())
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(id, created, state, agent_id, name, rating, n, ended)| {
                Ok(ConversationSummary {
                    id,
                    started_at: micros_to_timestamp("chat_conversations.created_at", created)?,
                    state,
                    agent: match agent_id {
                        Some(a) => Some((UserId::from_stored(&a)?, name.unwrap_or_default())),
                        None => None,
                    },
                    rating: rating.and_then(|r| u8::try_from(r).ok()),
                    messages: n,
                    ended_at: ended
                        .map(|e| micros_to_timestamp("chat_conversations.ended_at", e))
                        .transpose()?,
                })
            })
            .collect()
    }
}
