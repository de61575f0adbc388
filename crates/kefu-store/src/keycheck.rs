//! Binds the data key file to the database at start-up, so kefu refuses to run with a key
//! that cannot read the data (and never silently writes data under a second key).
//!
//! The `key_check` table holds one row: the key id and a known value encrypted with the key.
//! * no row, no key file  → generate a key, write the file (0600), insert the row, audit
//!   `key.generated` (unless encrypted customer rows exist: then refuse as below);
//! * no row, key file     → adopt the file's key (a new database next to an existing key),
//!   audit `key.bound`;
//! * row, no key file     → refuse ([`StoreError::KeyMissing`]): a fresh key could not read
//!   the existing data;
//! * row, key file        → the ids must match and the known value must decrypt, else
//!   [`StoreError::KeyMismatch`].

use std::path::Path;

use crate::audit::{NewAuditEntry, append_in_tx};
use crate::crypto::{DataKey, FieldCipher, FieldRef, key_path};
use crate::db::{Db, now_micros};
use crate::error::StoreError;
use crate::{on_db, on_tx, sql};

const KNOWN_VALUE: &[u8] = b"kefu key check v1";
const CHECK_FIELD: FieldRef<'static> = FieldRef {
    table: "key_check",
    column: "check_value",
    row: "1",
};

/// Loads or creates the data key and checks it against the database.
pub(crate) async fn bind_key(db: &Db, data_dir: &Path) -> Result<FieldCipher, StoreError> {
    let path = key_path(data_dir);
    let stored: Option<(String, Vec<u8>)> = on_db!(db, pool => {
        sqlx::query_as(sql!("SELECT key_id, check_value FROM key_check WHERE id = 1"))
            .fetch_optional(pool)
            .await?
    });
    let file_key = DataKey::load(&path)?;
    match (stored, file_key) {
        (Some((db_key_id, _)), None) => Err(StoreError::KeyMissing { path, db_key_id }),
        (Some((db_key_id, check_value)), Some(key)) => {
            let mismatch = || StoreError::KeyMismatch {
                path: path.clone(),
                file_key_id: key.id().to_string(),
                db_key_id: db_key_id.clone(),
            };
            if key.id().to_string() != db_key_id {
                return Err(mismatch());
            }
            let cipher = FieldCipher::new(&key);
            match cipher.decrypt(CHECK_FIELD, &check_value) {
                Ok(plain) if plain == KNOWN_VALUE => Ok(cipher),
                _ => Err(mismatch()),
            }
        }
        (None, file_key) => {
            let (key, generated) = match file_key {
                Some(key) => (key, false),
                None => {
                    // Belt and braces: encrypted rows, or an audit record of an earlier key,
                    // without a key_check row (deleted by hand?) must not get a second key.
                    let (encrypted_rows,): (i64,) = on_db!(db, pool => {
                        sqlx::query_as(sql!(
                            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM customers LIMIT 1) AS a)
                                  + (SELECT COUNT(*) FROM (SELECT 1 FROM call_segments
                                        WHERE callers_enc IS NOT NULL LIMIT 1) AS b)
                                  + (SELECT COUNT(*) FROM (SELECT 1 FROM audit_log
                                        WHERE action IN ('key.generated', 'key.bound') LIMIT 1) AS c)"
                        ))
                        .fetch_one(pool)
                        .await?
                    });
                    if encrypted_rows > 0 {
                        return Err(StoreError::KeyMissing {
                            path,
                            db_key_id: "unknown (the key_check row is gone)".to_owned(),
                        });
                    }
                    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::Io {
                        action: "cannot create the data folder",
                        path: data_dir.to_path_buf(),
                        source,
                    })?;
                    let key = DataKey::generate()?;
                    // The file is written before the database row: a crash in between leaves
                    // a key file with no row, which the next start simply adopts.
                    key.write_new(&path)?;
                    (key, true)
                }
            };
            let cipher = FieldCipher::new(&key);
            let check_value = cipher.encrypt(CHECK_FIELD, KNOWN_VALUE)?;
            let key_id = key.id().to_string();
            let mut tx = db.begin().await?;
            let inserted = on_tx!(&mut tx, conn => {
                sqlx::query(sql!(
                    "INSERT INTO key_check (id, key_id, check_value, created_at)
                     VALUES (1, $1, $2, $3) ON CONFLICT (id) DO NOTHING"
                ))
                .bind(&key_id)
                .bind(&check_value)
                .bind(now_micros())
                .execute(&mut *conn)
                .await?
                .rows_affected()
            });
            if inserted == 0 {
                // Another process initialised this database between our read and our insert.
                tx.rollback().await?;
                return Err(StoreError::Invalid(
                    "another kefu process initialised this database at the same time; start again"
                        .to_owned(),
                ));
            }
            append_in_tx(
                &mut tx,
                NewAuditEntry {
                    actor: "kefu-store".to_owned(),
                    action: if generated {
                        "key.generated"
                    } else {
                        "key.bound"
                    }
                    .to_owned(),
                    subject: format!("key:{key_id}"),
                    detail: serde_json::json!({
                        "key_id": key_id,
                        "key_file": path.display().to_string(),
                    }),
                },
            )
            .await?;
            tx.commit().await?;
            Ok(cipher)
        }
    }
}
