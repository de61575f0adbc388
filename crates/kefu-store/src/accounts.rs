//! The people who sign in to kefu: accounts with a role, argon2id password hashes, and the
//! first administrator created on a store's first start.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use kefu_core::access::Role;

use crate::audit::append_in_tx;
use crate::db::now_micros;
use crate::error::StoreError;
use crate::ids::{ContractId, UserId};
use crate::{NewAuditEntry, Store, on_db, on_tx, sql};

/// The administrator created on first start, with the password to show once.
#[derive(Debug)]
pub struct FirstAdmin {
    pub username: String,
    /// Shown once to whoever started kefu; only its hash is stored, and it must be changed
    /// at first sign-in.
    pub one_time_password: String,
}

/// An account as read back (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub contract_id: Option<ContractId>,
    pub must_change_password: bool,
    pub disabled: bool,
}

/// An account to create.
#[derive(Debug, Clone)]
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub display_name: &'a str,
    pub role: Role,
    /// The one contract of a client viewer; `None` for provider staff.
    pub contract_id: Option<ContractId>,
    pub password: &'a str,
    /// A password set by an administrator is changed by its owner at first sign-in.
    pub must_change_password: bool,
}

/// At least 12 characters: length is what makes a password hard to guess.
pub fn check_password_strength(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < 12 {
        return Err(StoreError::Invalid(
            "a password needs at least 12 characters".to_owned(),
        ));
    }
    Ok(())
}

/// A random password of `len` letters and digits, without look-alikes (0/O, 1/l/I).
fn generate_password(len: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let i = rand::RngExt::random_range(&mut rng, 0..ALPHABET.len());
            char::from(ALPHABET[i])
        })
        .collect()
}

/// The argon2id PHC string of a password (default parameters: 19 MiB, 2 passes).
pub fn hash_password(password: &str) -> Result<String, StoreError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h: PasswordHash| h.to_string())
        .map_err(|e| StoreError::Invalid(format!("cannot hash the password: {e}")))
}

/// Whether `password` matches a stored PHC string (false for a malformed one).
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

pub(crate) type AccountRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
);
/// An account row and its password hash (read only to check a password).
type AccountRowWithHash = (
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Option<i64>,
    String,
);

pub(crate) fn account_from_row(row: AccountRow) -> Result<Account, StoreError> {
    let (id, username, display_name, role, contract_id, must_change, disabled_at) = row;
    Ok(Account {
        id: UserId::from_stored(&id)?,
        username,
        display_name,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt {
            what: "users.role",
            detail: format!("unknown role {role:?}"),
        })?,
        contract_id: contract_id
            .map(|c| ContractId::from_stored(&c))
            .transpose()?,
        must_change_password: must_change != 0,
        disabled: disabled_at.is_some(),
    })
}

impl Store {
    /// On a store without any account, creates the administrator `admin` with a generated
    /// password that must be changed at first sign-in, and returns it (to be shown once).
    /// `None` when accounts exist. Safe against two starts racing: one creates, the other
    /// finds it.
    pub async fn ensure_first_admin(&self) -> Result<Option<FirstAdmin>, StoreError> {
        let mut tx = self.db().begin().await?;
        let (n,): (i64,) = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!("SELECT COUNT(*) FROM users"))
                .fetch_one(&mut *conn)
                .await?
        });
        if n > 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let username = "admin".to_owned();
        let password = generate_password(20);
        let hash = hash_password(&password)?;
        let id = UserId::generate();
        let inserted = on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO users (id, username, display_name, role, password_hash,
                    must_change_password, created_at)
                 VALUES ($1, $2, $3, 'admin', $4, 1, $5)
                 ON CONFLICT (username) DO NOTHING"
            ))
            .bind(id.text())
            .bind(&username)
            .bind("Administrator")
            .bind(&hash)
            .bind(now_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        append_in_tx(
            &mut tx,
            NewAuditEntry {
                actor: "kefu".to_owned(),
                action: "user.first_admin_created".to_owned(),
                subject: format!("user:{username}"),
                detail: serde_json::json!({ "role": "admin", "must_change_password": true }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Some(FirstAdmin {
            username,
            one_time_password: password,
        }))
    }

    /// Creates an account (by an administrator: `actor`). The user name must be new; a client
    /// viewer needs its contract and nobody else has one.
    pub async fn create_account(
        &self,
        actor: &str,
        new: &NewAccount<'_>,
    ) -> Result<Account, StoreError> {
        let name = new.username.trim();
        if name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(StoreError::Invalid(format!(
                "username {:?}: expected 1 to 64 letters, digits, '.', '_' or '-'",
                new.username
            )));
        }
        if new.role.is_scoped_to_one_contract() != new.contract_id.is_some() {
            return Err(StoreError::Invalid(format!(
                "role {}: {}",
                new.role,
                if new.role.is_scoped_to_one_contract() {
                    "a client viewer reads one contract: name it"
                } else {
                    "only a client viewer is tied to one contract"
                }
            )));
        }
        check_password_strength(new.password)?;
        let hash = hash_password(new.password)?;
        let id = UserId::generate();
        let mut tx = self.db().begin().await?;
        let inserted = on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO users (id, username, display_name, role, contract_id, password_hash,
                    must_change_password, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (username) DO NOTHING"
            ))
            .bind(id.text())
            .bind(name)
            .bind(new.display_name)
            .bind(new.role.as_str())
            .bind(new.contract_id.map(|c| c.text()))
            .bind(&hash)
            .bind(i64::from(new.must_change_password))
            .bind(now_micros())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        if inserted == 0 {
            return Err(StoreError::Invalid(format!("username {name:?} is taken")));
        }
        append_in_tx(
            &mut tx,
            NewAuditEntry {
                actor: actor.to_owned(),
                action: "user.created".to_owned(),
                subject: format!("user:{name}"),
                detail: serde_json::json!({
                    "role": new.role.as_str(),
                    "contract_id": new.contract_id.map(|c| c.to_string()),
                }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Account {
            id,
            username: name.to_owned(),
            display_name: new.display_name.to_owned(),
            role: new.role,
            contract_id: new.contract_id,
            must_change_password: new.must_change_password,
            disabled: false,
        })
    }

    /// Changes an account's own password (the current one must match); clears the
    /// must-change flag. Returns false when the current password is wrong.
    pub async fn change_password(
        &self,
        username: &str,
        current: &str,
        new_password: &str,
    ) -> Result<bool, StoreError> {
        let Some(account) = self.authenticate(username, current).await? else {
            return Ok(false);
        };
        if current == new_password {
            return Err(StoreError::Invalid(
                "the new password must differ from the current one".to_owned(),
            ));
        }
        check_password_strength(new_password)?;
        let hash = hash_password(new_password)?;
        let mut tx = self.db().begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "UPDATE users SET password_hash = $1, must_change_password = 0 WHERE id = $2"
            ))
            .bind(&hash)
            .bind(account.id.text())
            .execute(&mut *conn)
            .await?
            .rows_affected()
        });
        append_in_tx(
            &mut tx,
            NewAuditEntry {
                actor: format!("user:{username}"),
                action: "user.password_changed".to_owned(),
                subject: format!("user:{username}"),
                detail: serde_json::json!({}),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Every account, by user name.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows: Vec<AccountRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, username, display_name, role, contract_id, must_change_password,
                        disabled_at
                 FROM users ORDER BY username"
            ))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(account_from_row).collect()
    }

    /// The account whose user name and password match (a disabled account never does).
    pub async fn authenticate(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRowWithHash> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, username, display_name, role, contract_id, must_change_password,
                            disabled_at, password_hash
                     FROM users WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        // Hash even when there is no such user, so that timing does not tell names apart.
        let Some((id, name, display, role, contract, must, disabled, hash)) = row else {
            let _ = verify_password(password, &DUMMY_HASH);
            return Ok(None);
        };
        if !verify_password(password, &hash) || disabled.is_some() {
            return Ok(None);
        }
        account_from_row((id, name, display, role, contract, must, disabled)).map(Some)
    }
}

/// An argon2id hash of a random password, verified against when the user name is unknown.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash_password(&generate_password(20)).unwrap_or_default());

impl Store {
    /// For benchmarks only: an agent account whose password cannot be used (no argon2 cost);
    /// it acts through API tokens.
    #[doc(hidden)]
    pub async fn create_bench_agent(&self, username: &str) -> Result<UserId, StoreError> {
        let id = UserId::generate();
        on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO users (id, username, display_name, role, password_hash, created_at)
                 VALUES ($1, $2, $2, 'agent', '!', $3)"
            ))
            .bind(id.text())
            .bind(username)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct horsE", &h));
        assert!(!verify_password("correct horse", "not a phc string"));
        assert!(
            DUMMY_HASH.starts_with("$argon2id$"),
            "the unknown-user path hashes too"
        );
    }

    #[test]
    fn generated_passwords_have_the_length_asked_and_no_look_alikes() {
        let p = generate_password(20);
        assert_eq!(p.chars().count(), 20);
        assert!(!p.contains(['0', 'O', '1', 'l', 'I']));
        assert_ne!(p, generate_password(20));
    }
}
