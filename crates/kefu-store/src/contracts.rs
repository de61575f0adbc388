//! Contracts and their versions: the TOML text of the base contract and of each amendment
//! (补充协议), kept verbatim with its SHA-256 so a figure can always be recomputed under the
//! exact document that was in force. Parsing and validation belong to `kefu-core`; this module
//! only stores and lists the documents.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::audit::{NewAuditEntry, append_in_tx};
use crate::db::{Tx, micros_to_timestamp, now_micros};
use crate::error::StoreError;
use crate::ids::{ContractId, ContractRef};
use crate::{Store, on_db, on_tx, sql};

/// Whether a version is the base contract or an amendment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VersionKind {
    Base,
    Amendment,
}

impl VersionKind {
    fn as_str(self) -> &'static str {
        match self {
            VersionKind::Base => "base",
            VersionKind::Amendment => "amendment",
        }
    }

    fn from_stored(s: &str) -> Result<Self, StoreError> {
        match s {
            "base" => Ok(VersionKind::Base),
            "amendment" => Ok(VersionKind::Amendment),
            other => Err(StoreError::Corrupt {
                what: "contract_versions.kind",
                detail: format!("unknown kind {other:?}"),
            }),
        }
    }
}

impl fmt::Display for VersionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A document to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewContractVersion {
    pub kind: VersionKind,
    /// Human label, e.g. "base contract" or "补充协议一".
    pub label: String,
    pub effective_from: jiff::civil::Date,
    /// The TOML document, verbatim.
    pub document: String,
    /// The file's path as the base contract names it (amendments) or as given (base), so the
    /// contract can be rebuilt from the database.
    pub source_path: Option<String>,
    /// An amendment's own number (补充协议编号); one stored text per number.
    pub amendment_number: Option<String>,
}

/// A stored document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractVersionRecord {
    /// The contract's number.
    pub number: String,
    /// 0 for the base contract; amendments 1, 2, … in the order they were loaded.
    pub version_no: i64,
    pub kind: VersionKind,
    pub label: String,
    pub effective_from: jiff::civil::Date,
    pub document: String,
    /// Hex SHA-256 of the document's UTF-8 bytes.
    pub sha256: String,
    pub loaded_at: jiff::Timestamp,
    pub source_path: Option<String>,
}

/// What [`Store::save_contract`] did with one input version (same order as the input).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedVersion {
    pub label: String,
    pub sha256: String,
    pub version_no: i64,
    /// False when a version with the same SHA-256 was already stored.
    pub new: bool,
}

/// The outcome of [`Store::save_contract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveContractOutcome {
    pub contract_id: ContractId,
    pub contract_created: bool,
    pub versions: Vec<SavedVersion>,
}

impl SaveContractOutcome {
    /// How many versions were stored by this call.
    pub fn new_versions(&self) -> usize {
        self.versions.iter().filter(|v| v.new).count()
    }
}

/// Hex SHA-256 of a document, as stored.
pub fn document_sha256(document: &str) -> String {
    hex::encode(Sha256::digest(document.as_bytes()))
}

impl Store {
    /// Stores a contract (by number) and its versions. Idempotent: a version whose SHA-256 is
    /// already stored for this contract is skipped. Every new version gets one audit row, in
    /// the same transaction. A contract has at most one base; it must be stored before (or
    /// together with) its first amendment.
    pub async fn save_contract(
        &self,
        number: &str,
        title: &str,
        versions: &[NewContractVersion],
        actor: &str,
    ) -> Result<SaveContractOutcome, StoreError> {
        if number.trim().is_empty() {
            return Err(StoreError::Invalid(
                "a contract number must not be empty".to_owned(),
            ));
        }
        let mut tx = self.db().begin().await?;
        if let Tx::Postgres(pg) = &mut tx {
            // Two loads of the same contract at once would both see "not stored yet";
            // SQLite's single writer serialises them already.
            sqlx::query(sql!(
                "SELECT pg_advisory_xact_lock(hashtext('kefu.contracts'))"
            ))
            .execute(&mut **pg)
            .await?;
        }
        let existing: Option<(String,)> = on_tx!(&mut tx, conn => {
            sqlx::query_as(sql!("SELECT id FROM contracts WHERE number = $1"))
                .bind(number)
                .fetch_optional(&mut *conn)
                .await?
        });
        let (contract_id, contract_created) = match existing {
            Some((id,)) => (ContractId::from_stored(&id)?, false),
            None => {
                let id = ContractId::generate();
                on_tx!(&mut tx, conn => {
                                    sqlx::query(sql!(
                                        "INSERT INTO contracts (id, number, title, created_at) VALUES ($1, $2, $3, $4)"
                                    ))
                                    .bind(id.text())
                                    .bind(number)
                                    .bind(title)
                                    .bind(now_micros())
                                    .execute(&mut *conn)
                                    .await?
                .rows_affected()
                                });
                (id, true)
            }
        };

        // Bases first so "amendment before base" in one call is accepted.
        let mut order: Vec<usize> = (0..versions.len()).collect();
        order.sort_by_key(|&i| versions[i].kind != VersionKind::Base);
        let mut saved: Vec<Option<SavedVersion>> = vec![None; versions.len()];
        for i in order {
            let v = &versions[i];
            let outcome = save_version(&mut tx, contract_id, number, v, actor).await?;
            saved[i] = Some(outcome);
        }
        tx.commit().await?;
        Ok(SaveContractOutcome {
            contract_id,
            contract_created,
            versions: saved.into_iter().flatten().collect(),
        })
    }

    /// The contract's versions in effective order (effective date, then load order).
    pub async fn contract_versions(
        &self,
        number: &str,
    ) -> Result<Vec<ContractVersionRecord>, StoreError> {
        type Row = (
            String,
            i64,
            String,
            String,
            String,
            String,
            String,
            i64,
            Option<String>,
        );
        let rows: Vec<Row> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT c.number, v.version_no, v.kind, v.label, v.effective_from, v.document,
                        v.sha256, v.loaded_at, v.source_path
                 FROM contract_versions v JOIN contracts c ON c.id = v.contract_id
                 WHERE c.number = $1
                 ORDER BY v.effective_from, v.version_no"
            ))
            .bind(number)
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(
                    number,
                    version_no,
                    kind,
                    label,
                    effective_from,
                    document,
                    sha256,
                    loaded_at,
                    source_path,
                )| {
                    Ok(ContractVersionRecord {
                        number,
                        version_no,
                        kind: VersionKind::from_stored(&kind)?,
                        label,
                        effective_from: effective_from.parse().map_err(|e| {
                            StoreError::Corrupt {
                                what: "contract_versions.effective_from",
                                detail: format!("{effective_from:?}: {e}"),
                            }
                        })?,
                        document,
                        sha256,
                        loaded_at: micros_to_timestamp("contract_versions.loaded_at", loaded_at)?,
                        source_path,
                    })
                },
            )
            .collect()
    }

    /// The numbers of all stored contracts, in number order.
    pub async fn contract_numbers(&self) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!("SELECT number FROM contracts ORDER BY number"))
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }

    /// The id of the contract with this number, if stored.
    pub async fn contract_id(&self, number: &str) -> Result<Option<ContractId>, StoreError> {
        let row: Option<(String,)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!("SELECT id FROM contracts WHERE number = $1"))
                .bind(number)
                .fetch_optional(pool)
                .await?
        });
        row.map(|(id,)| ContractId::from_stored(&id)).transpose()
    }

    /// Resolves a contract reference to an id that exists; an unknown one is the caller's
    /// mistake.
    pub async fn resolve_contract(
        &self,
        contract: ContractRef<'_>,
    ) -> Result<ContractId, StoreError> {
        match contract {
            ContractRef::Number(number) => self.contract_id(number).await?.ok_or_else(|| {
                StoreError::Invalid(format!("no contract with number `{number}` is stored"))
            }),
            ContractRef::Id(id) => {
                let found: Option<(String,)> = on_db!(self.db(), pool => {
                    sqlx::query_as(sql!("SELECT id FROM contracts WHERE id = $1"))
                        .bind(id.text())
                        .fetch_optional(pool)
                        .await?
                });
                match found {
                    Some(_) => Ok(id),
                    None => Err(StoreError::Invalid(format!(
                        "no contract with id `{id}` is stored"
                    ))),
                }
            }
        }
    }
}

async fn save_version(
    tx: &mut Tx,
    contract_id: ContractId,
    number: &str,
    v: &NewContractVersion,
    actor: &str,
) -> Result<SavedVersion, StoreError> {
    let sha256 = document_sha256(&v.document);
    let cid = contract_id.text();
    let already: Option<(i64,)> = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT version_no FROM contract_versions WHERE contract_id = $1 AND sha256 = $2"
        ))
        .bind(&cid)
        .bind(&sha256)
        .fetch_optional(&mut *conn)
        .await?
    });
    if let Some((version_no,)) = already {
        return Ok(SavedVersion {
            label: v.label.clone(),
            sha256,
            version_no,
            new: false,
        });
    }
    if let Some(no) = &v.amendment_number {
        let other: Option<(String,)> = on_tx!(tx, conn => {
            sqlx::query_as(sql!(
                "SELECT sha256 FROM contract_versions WHERE contract_id = $1 AND amendment_number = $2"
            ))
            .bind(&cid)
            .bind(no)
            .fetch_optional(&mut *conn)
            .await?
        });
        if let Some((stored_sha,)) = other {
            return Err(StoreError::Invalid(format!(
                "amendment `{no}` of contract `{number}` is already stored with a different text (sha256 {stored_sha}); a signed amendment does not change — sign a new one with its own number"
            )));
        }
    }
    let base: Option<(String,)> = on_tx!(tx, conn => {
        sqlx::query_as(sql!(
            "SELECT sha256 FROM contract_versions WHERE contract_id = $1 AND kind = 'base'"
        ))
        .bind(&cid)
        .fetch_optional(&mut *conn)
        .await?
    });
    let version_no = match (v.kind, base) {
        (VersionKind::Base, Some((base_sha,))) => {
            return Err(StoreError::Invalid(format!(
                "contract `{number}` already has a different base document (sha256 {base_sha}); load changes as an amendment"
            )));
        }
        (VersionKind::Base, None) => 0,
        (VersionKind::Amendment, None) => {
            return Err(StoreError::Invalid(format!(
                "contract `{number}` has no base document yet; load the base contract before its amendments"
            )));
        }
        (VersionKind::Amendment, Some(_)) => {
            let (max,): (i64,) = on_tx!(tx, conn => {
                sqlx::query_as(sql!(
                    "SELECT COALESCE(MAX(version_no), 0) FROM contract_versions WHERE contract_id = $1"
                ))
                .bind(&cid)
                .fetch_one(&mut *conn)
                .await?
            });
            max + 1
        }
    };
    let effective_from = v.effective_from.to_string();
    on_tx!(tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO contract_versions
                (id, contract_id, version_no, kind, label, effective_from, document, sha256, loaded_at,
                 source_path, amendment_number)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
            ))
            .bind(uuid::Uuid::now_v7().hyphenated().to_string())
            .bind(&cid)
            .bind(version_no)
            .bind(v.kind.as_str())
            .bind(&v.label)
            .bind(&effective_from)
            .bind(&v.document)
            .bind(&sha256)
            .bind(now_micros())
            .bind(&v.source_path)
            .bind(&v.amendment_number)
            .execute(&mut *conn)
            .await?
    .rows_affected()
        });
    append_in_tx(
        tx,
        NewAuditEntry {
            actor: actor.to_owned(),
            action: "contract.version_loaded".to_owned(),
            subject: format!("contract:{number}"),
            detail: serde_json::json!({
                "contract_number": number,
                "kind": v.kind.as_str(),
                "label": v.label,
                "version_no": version_no,
                "effective_from": effective_from,
                "sha256": sha256,
            }),
        },
    )
    .await?;
    Ok(SavedVersion {
        label: v.label.clone(),
        sha256,
        version_no,
        new: true,
    })
}
