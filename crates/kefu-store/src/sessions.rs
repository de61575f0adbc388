//! Sessions of signed-in browsers and API tokens of integrations. The secrets are random
//! 256-bit tokens handed out once; the database keeps their SHA-256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::accounts::{Account, AccountRow, account_from_row};
use crate::audit::append_in_tx;
use crate::db::now_micros;
use crate::error::StoreError;
use crate::ids::UserId;
use crate::{NewAuditEntry, Store, on_db, on_tx, sql};

/// A session ends after this long without use…
pub const SESSION_IDLE_MICROS: i64 = 12 * 3_600 * 1_000_000;
/// …and at the latest this long after sign-in.
pub const SESSION_MAX_MICROS: i64 = 7 * 24 * 3_600 * 1_000_000;
/// `last_seen_at` is written at most this often (reads stay reads).
const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// A fresh random token (URL-safe base64 of 32 random bytes).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A session just opened: the cookie value and the CSRF token to embed in pages.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

/// The account behind a valid session, and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct SessionUser {
    pub account: Account,
    pub csrf_token: String,
}

type SessionRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    String,
    i64,
    i64,
    i64,
);

impl Store {
    /// Opens a session for an account (after its password was checked).
    pub async fn open_session(&self, user: UserId) -> Result<NewSession, StoreError> {
        let token = new_token();
        let csrf_token = new_token();
        let now = now_micros();
        let mut tx = self.db().begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at)
                 VALUES ($1, $2, $3, $4, $4, $5)"
            ))
            .bind(token_hash(&token))
            .bind(user.text())
            .bind(&csrf_token)
            .bind(now)
            .bind(now + SESSION_IDLE_MICROS)
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        append_in_tx(
            &mut tx,
            NewAuditEntry {
                actor: format!("user:{user}"),
                action: "session.opened".to_owned(),
                subject: format!("user:{user}"),
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(NewSession { token, csrf_token })
    }

    /// The signed-in account of a session token, if the session is open and the account
    /// enabled; extends an idle session (up to its maximum age).
    pub async fn session_user(&self, token: &str) -> Result<Option<SessionUser>, StoreError> {
        let hash = token_hash(token);
        let row: Option<SessionRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT u.id, u.username, u.display_name, u.role, u.contract_id,
                        u.must_change_password, u.disabled_at, s.csrf_token, s.created_at,
                        s.last_seen_at, s.expires_at
                 FROM sessions s JOIN users u ON u.id = s.user_id
                 WHERE s.token_hash = $1"
            ))
            .bind(&hash)
            .fetch_optional(pool)
            .await?
        });
        let Some((id, name, display, role, contract, must, disabled, csrf, created, seen, expires)) =
            row
        else {
            return Ok(None);
        };
        let now = now_micros();
        if now >= expires || now >= created + SESSION_MAX_MICROS || disabled.is_some() {
            return Ok(None);
        }
        if now - seen >= TOUCH_EVERY_MICROS {
            let until = (now + SESSION_IDLE_MICROS).min(created + SESSION_MAX_MICROS);
            on_db!(self.db(), pool => {
                sqlx::query(sql!(
                    "UPDATE sessions SET last_seen_at = $1, expires_at = $2 WHERE token_hash = $3"
                ))
                .bind(now)
                .bind(until)
                .bind(&hash)
                .execute(pool)
                .await?
                .rows_affected()
            });
        }
        let row: AccountRow = (id, name, display, role, contract, must, disabled);
        Ok(Some(SessionUser {
            account: account_from_row(row)?,
            csrf_token: csrf,
        }))
    }

    /// Ends a session (sign-out). Unknown tokens are ignored.
    pub async fn close_session(&self, token: &str) -> Result<(), StoreError> {
        on_db!(self.db(), pool => {
            sqlx::query(sql!("DELETE FROM sessions WHERE token_hash = $1"))
                .bind(token_hash(token))
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Creates an API token for an account; the token is returned once.
    pub async fn create_api_token(&self, user: UserId, name: &str) -> Result<String, StoreError> {
        let token = format!("kefu_{}", new_token());
        let mut tx = self.db().begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at)
                 VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(uuid::Uuid::now_v7().hyphenated().to_string())
            .bind(user.text())
            .bind(name)
            .bind(token_hash(&token))
            .bind(now_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        append_in_tx(
            &mut tx,
            NewAuditEntry {
                actor: format!("user:{user}"),
                action: "api_token.created".to_owned(),
                subject: format!("user:{user}"),
                detail: serde_json::json!({ "name": name }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The account an API token acts as (not revoked, account enabled).
    pub async fn token_user(&self, token: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT u.id, u.username, u.display_name, u.role, u.contract_id,
                        u.must_change_password, u.disabled_at
                 FROM api_tokens t JOIN users u ON u.id = t.user_id
                 WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.disabled_at IS NULL"
            ))
            .bind(token_hash(token))
            .fetch_optional(pool)
            .await?
        });
        row.map(account_from_row).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_url_safe_and_only_their_hash_is_kept() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(token_hash(&a).len(), 64);
        assert_ne!(token_hash(&a), a);
    }
}
