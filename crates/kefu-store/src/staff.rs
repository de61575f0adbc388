//! Staff records (clauses 3.1, 3.2, 5.2): a person's background and skills per channel, the
//! certificates they hold (with the scanned file and its SHA-256), the trainings they attended,
//! the assessments they took and the NDAs they signed. Adding a record that is already there
//! (same natural key: certificate number; course and day; assessment day and title; NDA day)
//! changes nothing and says so, which makes imports idempotent. What the records mean under a
//! contract is `kefu_core::staff_policy`'s business.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use kefu_core::staff_policy::{Assessment, Certificate, Nda, StaffRecords, Training};
use sha2::{Digest, Sha256};

use crate::accounts::{Account, AccountRow, account_from_row};
use crate::crypto::FieldRef;
use crate::db::now_micros;
use crate::error::StoreError;
use crate::ids::UserId;
use crate::{Channel, Store, on_db, on_tx, sql};

/// A person's background. `Debug` never shows the ID number.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StaffProfile {
    /// 工号.
    pub employee_no: Option<String>,
    pub hired_on: Option<Date>,
    /// 学历 and the like.
    pub education: Option<String>,
    pub notes: Option<String>,
    /// 身份证号: stored encrypted.
    pub id_number: Option<String>,
    /// What the person can handle on each channel, keyed by channel (`phone`, `chat`, …).
    pub skills: BTreeMap<String, String>,
}

impl fmt::Debug for StaffProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaffProfile")
            .field("employee_no", &self.employee_no)
            .field("hired_on", &self.hired_on)
            .field("education", &self.education)
            .field("notes", &self.notes)
            .field("id_number", &self.id_number.as_ref().map(|_| "<redacted>"))
            .field("skills", &self.skills)
            .finish()
    }
}

/// A scanned document to keep with a certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct ScannedFile {
    pub name: String,
    pub bytes: Vec<u8>,
}

impl fmt::Debug for ScannedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ScannedFile({}, {} bytes)", self.name, self.bytes.len())
    }
}

/// The SHA-256 of some bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCertificate {
    pub id: String,
    pub certificate: Certificate,
    pub file_name: Option<String>,
    pub file_sha256: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTraining {
    pub id: String,
    pub training: Training,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAssessment {
    pub id: String,
    pub assessment: Assessment,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredNda {
    pub id: String,
    pub nda: Nda,
}

/// The outcome of adding a record: its id, and whether it is new (false: a record with the
/// same natural key was there already and was left as it was).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    pub id: String,
    pub inserted: bool,
}

/// Everything about one person.
#[derive(Clone, Debug)]
pub struct StaffFile {
    pub account: Account,
    pub profile: Option<StaffProfile>,
    pub certificates: Vec<StoredCertificate>,
    pub trainings: Vec<StoredTraining>,
    pub assessments: Vec<StoredAssessment>,
    pub ndas: Vec<StoredNda>,
}

impl StaffFile {
    /// The records the staff policy looks at.
    pub fn records(&self) -> StaffRecords {
        StaffRecords {
            certificates: self
                .certificates
                .iter()
                .map(|c| c.certificate.clone())
                .collect(),
            trainings: self.trainings.iter().map(|t| t.training.clone()).collect(),
            assessments: self
                .assessments
                .iter()
                .map(|a| a.assessment.clone())
                .collect(),
            ndas: self.ndas.iter().map(|n| n.nda.clone()).collect(),
        }
    }
}

/// A training or assessment of a period, with whose it is (for the training report, 附件6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodRecord<T> {
    pub username: String,
    pub display_name: String,
    pub record: T,
}

fn day(what: &'static str, text: &str) -> Result<Date, StoreError> {
    text.parse().map_err(|e| StoreError::Corrupt {
        what,
        detail: format!("stored day {text:?}: {e}"),
    })
}

fn opt_day(what: &'static str, text: Option<String>) -> Result<Option<Date>, StoreError> {
    text.map(|t| day(what, &t)).transpose()
}

fn nonempty(field: &str, v: &str) -> Result<(), StoreError> {
    if v.trim().is_empty() {
        Err(StoreError::Invalid(format!("{field} must not be empty")))
    } else {
        Ok(())
    }
}

fn check_score(field: &str, v: u8) -> Result<(), StoreError> {
    if v > 100 {
        Err(StoreError::Invalid(format!(
            "{field}: expected 0 to 100, found {v}"
        )))
    } else {
        Ok(())
    }
}

fn check_sha256(v: Option<&str>) -> Result<(), StoreError> {
    match v {
        Some(h) if h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Err(StoreError::Invalid(format!(
                "document_sha256: expected 64 hex digits, found {h:?}"
            )))
        }
        _ => Ok(()),
    }
}

fn check_certificate(c: &Certificate) -> Result<(), StoreError> {
    nonempty("certificate name", &c.name)?;
    nonempty("certificate number", &c.number)?;
    if let (Some(i), Some(e)) = (c.issued_on, c.expires_on)
        && e < i
    {
        return Err(StoreError::Invalid(format!(
            "certificate {}: expires ({e}) before it was issued ({i})",
            c.number
        )));
    }
    Ok(())
}

type CertRow = (
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);
type TrainingRow = (String, String, String, i64, Option<String>, Option<String>);
type AssessmentRow = (String, String, String, i64, i64);
type NdaRow = (String, String, Option<String>);
/// A person (user name, display name) and a training row.
type PeriodTrainingRow = (
    String,
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    Option<String>,
);

fn certificate_from_row(r: CertRow) -> Result<StoredCertificate, StoreError> {
    let (id, name, number, issued, expires, file_name, file_sha256) = r;
    Ok(StoredCertificate {
        id,
        certificate: Certificate {
            name,
            number,
            issued_on: opt_day("staff_certificates.issued_on", issued)?,
            expires_on: opt_day("staff_certificates.expires_on", expires)?,
        },
        file_name,
        file_sha256,
    })
}

fn small(what: &'static str, v: i64) -> Result<u8, StoreError> {
    u8::try_from(v).map_err(|_| StoreError::Corrupt {
        what,
        detail: format!("{v} is not 0..=255"),
    })
}

fn training_from_row(r: TrainingRow) -> Result<StoredTraining, StoreError> {
    let (id, course, held, minutes, trainer, result) = r;
    Ok(StoredTraining {
        id,
        training: Training {
            course,
            held_on: day("staff_trainings.held_on", &held)?,
            minutes: u32::try_from(minutes).map_err(|_| StoreError::Corrupt {
                what: "staff_trainings.minutes",
                detail: format!("{minutes}"),
            })?,
            trainer,
            result,
        },
    })
}

fn assessment_from_row(r: AssessmentRow) -> Result<StoredAssessment, StoreError> {
    let (id, held, title, score, pass) = r;
    Ok(StoredAssessment {
        id,
        assessment: Assessment {
            held_on: day("staff_assessments.held_on", &held)?,
            title,
            score: small("staff_assessments.score", score)?,
            pass_score: small("staff_assessments.pass_score", pass)?,
        },
    })
}

fn nda_from_row(r: NdaRow) -> Result<StoredNda, StoreError> {
    let (id, signed, sha) = r;
    Ok(StoredNda {
        id,
        nda: Nda {
            signed_on: day("staff_ndas.signed_on", &signed)?,
            document_sha256: sha,
        },
    })
}

const PROFILES: &str = "staff_profiles";

impl Store {
    /// The account with this user name, if any.
    pub async fn account_named(&self, username: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, username, display_name, role, contract_id, must_change_password,
                        disabled_at
                 FROM users WHERE username = $1"
            ))
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        row.map(account_from_row).transpose()
    }

    /// Creates or replaces a person's profile and skills (all fields: absent ones are cleared).
    pub async fn save_staff_profile(
        &self,
        user: UserId,
        p: &StaffProfile,
    ) -> Result<(), StoreError> {
        for ch in p.skills.keys() {
            ch.parse::<Channel>()?;
        }
        let row = user.text();
        let id_number = p
            .id_number
            .as_deref()
            .map(|v| {
                self.cipher()
                    .encrypt_str(FieldRef::new(PROFILES, "id_number_enc", &row), v)
            })
            .transpose()?;
        let hired = p.hired_on.map(|d| d.to_string());
        let now = now_micros();
        let mut tx = self.db().begin().await?;
        on_tx!(&mut tx, conn => {
            sqlx::query(sql!(
                "INSERT INTO staff_profiles
                    (user_id, employee_no, hired_on, education, notes, id_number_enc, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (user_id) DO UPDATE SET
                    employee_no = excluded.employee_no, hired_on = excluded.hired_on,
                    education = excluded.education, notes = excluded.notes,
                    id_number_enc = excluded.id_number_enc, updated_at = excluded.updated_at"
            ))
            .bind(&row)
            .bind(&p.employee_no)
            .bind(&hired)
            .bind(&p.education)
            .bind(&p.notes)
            .bind(&id_number)
            .bind(now)
            .execute(&mut *conn)
            .await?;
            sqlx::query(sql!("DELETE FROM staff_skills WHERE user_id = $1"))
                .bind(&row)
                .execute(&mut *conn)
                .await?;
            for (channel, skills) in &p.skills {
                sqlx::query(sql!(
                    "INSERT INTO staff_skills (user_id, channel, skills) VALUES ($1, $2, $3)"
                ))
                .bind(&row)
                .bind(channel)
                .bind(skills)
                .execute(&mut *conn)
                .await?;
            }
        });
        tx.commit().await?;
        Ok(())
    }

    /// A person's profile, the ID number decrypted; `None` when none was saved.
    pub async fn staff_profile(&self, user: UserId) -> Result<Option<StaffProfile>, StoreError> {
        let row = user.text();
        type ProfileRow = (
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<Vec<u8>>,
        );
        let (found, skills): (Option<ProfileRow>, Vec<(String, String)>) = on_db!(self.db(), pool => {
            let found = sqlx::query_as(sql!(
                "SELECT employee_no, hired_on, education, notes, id_number_enc
                 FROM staff_profiles WHERE user_id = $1"
            ))
            .bind(&row)
            .fetch_optional(pool)
            .await?;
            let skills = sqlx::query_as(sql!(
                "SELECT channel, skills FROM staff_skills WHERE user_id = $1 ORDER BY channel"
            ))
            .bind(&row)
            .fetch_all(pool)
            .await?;
            (found, skills)
        });
        let Some((employee_no, hired, education, notes, id_enc)) = found else {
            return Ok(None);
        };
        let id_number = id_enc
            .map(|ct| {
                self.cipher()
                    .decrypt_str(FieldRef::new(PROFILES, "id_number_enc", &row), &ct)
            })
            .transpose()?;
        Ok(Some(StaffProfile {
            employee_no,
            hired_on: opt_day("staff_profiles.hired_on", hired)?,
            education,
            notes,
            id_number,
            skills: skills.into_iter().collect(),
        }))
    }

    /// Adds a certificate unless the person already has one with this number.
    pub async fn add_certificate(
        &self,
        user: UserId,
        c: &Certificate,
        file: Option<&ScannedFile>,
    ) -> Result<Added, StoreError> {
        check_certificate(c)?;
        let now = now_micros();
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let (file_name, bytes, sha) = file_parts(file);
        let inserted = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO staff_certificates
                    (id, user_id, name, number, issued_on, expires_on, file_name, file_bytes,
                     file_sha256, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
                 ON CONFLICT (user_id, number) DO NOTHING"
            ))
            .bind(&id)
            .bind(user.text())
            .bind(&c.name)
            .bind(&c.number)
            .bind(c.issued_on.map(|d| d.to_string()))
            .bind(c.expires_on.map(|d| d.to_string()))
            .bind(&file_name)
            .bind(&bytes)
            .bind(&sha)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1;
        if inserted {
            return Ok(Added { id, inserted });
        }
        let existing: (String,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM staff_certificates WHERE user_id = $1 AND number = $2"
            ))
            .bind(user.text())
            .bind(&c.number)
            .fetch_one(pool)
            .await?
        });
        Ok(Added {
            id: existing.0,
            inserted,
        })
    }

    /// Replaces a certificate's fields (and its file, when one is given). False: no such
    /// certificate of this person.
    pub async fn update_certificate(
        &self,
        user: UserId,
        id: &str,
        c: &Certificate,
        file: Option<&ScannedFile>,
    ) -> Result<bool, StoreError> {
        check_certificate(c)?;
        let (file_name, bytes, sha) = file_parts(file);
        let n = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE staff_certificates SET name = $3, number = $4, issued_on = $5,
                    expires_on = $6, file_name = COALESCE($7, file_name),
                    file_bytes = COALESCE($8, file_bytes), file_sha256 = COALESCE($9, file_sha256),
                    updated_at = $10
                 WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user.text())
            .bind(&c.name)
            .bind(&c.number)
            .bind(c.issued_on.map(|d| d.to_string()))
            .bind(c.expires_on.map(|d| d.to_string()))
            .bind(&file_name)
            .bind(&bytes)
            .bind(&sha)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// A person's certificates, by expiry (those without one last).
    pub async fn certificates(&self, user: UserId) -> Result<Vec<StoredCertificate>, StoreError> {
        let rows: Vec<CertRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, name, number, issued_on, expires_on, file_name, file_sha256
                 FROM staff_certificates WHERE user_id = $1
                 ORDER BY COALESCE(expires_on, '9999-12-31'), number"
            ))
            .bind(user.text())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(certificate_from_row).collect()
    }

    /// A certificate's scanned file: its name and bytes.
    pub async fn certificate_file(
        &self,
        user: UserId,
        id: &str,
    ) -> Result<Option<ScannedFile>, StoreError> {
        let row: Option<(Option<String>, Option<Vec<u8>>)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT file_name, file_bytes FROM staff_certificates WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user.text())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(|(name, bytes)| {
            bytes.map(|bytes| ScannedFile {
                name: name.unwrap_or_default(),
                bytes,
            })
        }))
    }

    /// Adds a training unless the person has one of this course on this day.
    pub async fn add_training(&self, user: UserId, t: &Training) -> Result<Added, StoreError> {
        nonempty("course", &t.course)?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let held = t.held_on.to_string();
        let inserted = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO staff_trainings
                    (id, user_id, course, held_on, minutes, trainer, result, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (user_id, course, held_on) DO NOTHING"
            ))
            .bind(&id)
            .bind(user.text())
            .bind(&t.course)
            .bind(&held)
            .bind(i64::from(t.minutes))
            .bind(&t.trainer)
            .bind(&t.result)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1;
        if inserted {
            return Ok(Added { id, inserted });
        }
        let existing: (String,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM staff_trainings WHERE user_id = $1 AND course = $2 AND held_on = $3"
            ))
            .bind(user.text())
            .bind(&t.course)
            .bind(&held)
            .fetch_one(pool)
            .await?
        });
        Ok(Added {
            id: existing.0,
            inserted,
        })
    }

    /// Replaces a training's fields. False: no such training of this person.
    pub async fn update_training(
        &self,
        user: UserId,
        id: &str,
        t: &Training,
    ) -> Result<bool, StoreError> {
        nonempty("course", &t.course)?;
        let n = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE staff_trainings SET course = $3, held_on = $4, minutes = $5, trainer = $6,
                    result = $7, updated_at = $8
                 WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user.text())
            .bind(&t.course)
            .bind(t.held_on.to_string())
            .bind(i64::from(t.minutes))
            .bind(&t.trainer)
            .bind(&t.result)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// A person's trainings, oldest first.
    pub async fn trainings(&self, user: UserId) -> Result<Vec<StoredTraining>, StoreError> {
        let rows: Vec<TrainingRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, course, held_on, minutes, trainer, result
                 FROM staff_trainings WHERE user_id = $1 ORDER BY held_on, course"
            ))
            .bind(user.text())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(training_from_row).collect()
    }

    /// Adds an assessment unless the person has one with this title on this day.
    pub async fn add_assessment(&self, user: UserId, a: &Assessment) -> Result<Added, StoreError> {
        check_score("score", a.score)?;
        check_score("pass_score", a.pass_score)?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let held = a.held_on.to_string();
        let inserted = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO staff_assessments
                    (id, user_id, held_on, title, score, pass_score, passed, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
                 ON CONFLICT (user_id, held_on, title) DO NOTHING"
            ))
            .bind(&id)
            .bind(user.text())
            .bind(&held)
            .bind(&a.title)
            .bind(i64::from(a.score))
            .bind(i64::from(a.pass_score))
            .bind(i64::from(a.passed()))
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1;
        if inserted {
            return Ok(Added { id, inserted });
        }
        let existing: (String,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM staff_assessments WHERE user_id = $1 AND held_on = $2 AND title = $3"
            ))
            .bind(user.text())
            .bind(&held)
            .bind(&a.title)
            .fetch_one(pool)
            .await?
        });
        Ok(Added {
            id: existing.0,
            inserted,
        })
    }

    /// Replaces an assessment's fields. False: no such assessment of this person.
    pub async fn update_assessment(
        &self,
        user: UserId,
        id: &str,
        a: &Assessment,
    ) -> Result<bool, StoreError> {
        check_score("score", a.score)?;
        check_score("pass_score", a.pass_score)?;
        let n = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE staff_assessments SET held_on = $3, title = $4, score = $5,
                    pass_score = $6, passed = $7, updated_at = $8
                 WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user.text())
            .bind(a.held_on.to_string())
            .bind(&a.title)
            .bind(i64::from(a.score))
            .bind(i64::from(a.pass_score))
            .bind(i64::from(a.passed()))
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// A person's assessments, oldest first.
    pub async fn assessments(&self, user: UserId) -> Result<Vec<StoredAssessment>, StoreError> {
        let rows: Vec<AssessmentRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, held_on, title, score, pass_score
                 FROM staff_assessments WHERE user_id = $1 ORDER BY held_on, title"
            ))
            .bind(user.text())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(assessment_from_row).collect()
    }

    /// Adds an NDA unless the person has one signed on this day.
    pub async fn add_nda(&self, user: UserId, n: &Nda) -> Result<Added, StoreError> {
        check_sha256(n.document_sha256.as_deref())?;
        let id = uuid::Uuid::now_v7().hyphenated().to_string();
        let signed = n.signed_on.to_string();
        let sha = n.document_sha256.as_ref().map(|s| s.to_ascii_lowercase());
        let inserted = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "INSERT INTO staff_ndas (id, user_id, signed_on, document_sha256, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $5)
                 ON CONFLICT (user_id, signed_on) DO NOTHING"
            ))
            .bind(&id)
            .bind(user.text())
            .bind(&signed)
            .bind(&sha)
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1;
        if inserted {
            return Ok(Added { id, inserted });
        }
        let existing: (String,) = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id FROM staff_ndas WHERE user_id = $1 AND signed_on = $2"
            ))
            .bind(user.text())
            .bind(&signed)
            .fetch_one(pool)
            .await?
        });
        Ok(Added {
            id: existing.0,
            inserted,
        })
    }

    /// Replaces an NDA's fields. False: no such NDA of this person.
    pub async fn update_nda(&self, user: UserId, id: &str, n: &Nda) -> Result<bool, StoreError> {
        check_sha256(n.document_sha256.as_deref())?;
        let count = on_db!(self.db(), pool => {
            sqlx::query(sql!(
                "UPDATE staff_ndas SET signed_on = $3, document_sha256 = $4, updated_at = $5
                 WHERE id = $1 AND user_id = $2"
            ))
            .bind(id)
            .bind(user.text())
            .bind(n.signed_on.to_string())
            .bind(n.document_sha256.as_ref().map(|s| s.to_ascii_lowercase()))
            .bind(now_micros())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(count == 1)
    }

    /// A person's NDAs, oldest first.
    pub async fn ndas(&self, user: UserId) -> Result<Vec<StoredNda>, StoreError> {
        let rows: Vec<NdaRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, signed_on, document_sha256 FROM staff_ndas
                 WHERE user_id = $1 ORDER BY signed_on"
            ))
            .bind(user.text())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(nda_from_row).collect()
    }

    /// Everything about one person; `None` when there is no such account.
    pub async fn staff_file(&self, user: UserId) -> Result<Option<StaffFile>, StoreError> {
        let row: Option<AccountRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT id, username, display_name, role, contract_id, must_change_password,
                        disabled_at
                 FROM users WHERE id = $1"
            ))
            .bind(user.text())
            .fetch_optional(pool)
            .await?
        });
        let Some(row) = row else {
            return Ok(None);
        };
        Ok(Some(StaffFile {
            account: account_from_row(row)?,
            profile: self.staff_profile(user).await?,
            certificates: self.certificates(user).await?,
            trainings: self.trainings(user).await?,
            assessments: self.assessments(user).await?,
            ndas: self.ndas(user).await?,
        }))
    }

    /// Trainings held in `[from, to]`, by person then day (for the training report, 附件6).
    pub async fn trainings_between(
        &self,
        from: Date,
        to: Date,
    ) -> Result<Vec<PeriodRecord<StoredTraining>>, StoreError> {
        let rows: Vec<PeriodTrainingRow> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT u.username, u.display_name, t.id, t.course, t.held_on, t.minutes,
                            t.trainer, t.result
                     FROM staff_trainings t JOIN users u ON u.id = t.user_id
                     WHERE t.held_on >= $1 AND t.held_on <= $2
                     ORDER BY u.username, t.held_on, t.course"
            ))
            .bind(from.to_string())
            .bind(to.to_string())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(
                |(username, display_name, id, course, held, min, trainer, result)| {
                    Ok(PeriodRecord {
                        username,
                        display_name,
                        record: training_from_row((id, course, held, min, trainer, result))?,
                    })
                },
            )
            .collect()
    }

    /// Assessments held in `[from, to]`, by person then day (for the training report).
    pub async fn assessments_between(
        &self,
        from: Date,
        to: Date,
    ) -> Result<Vec<PeriodRecord<StoredAssessment>>, StoreError> {
        let rows: Vec<(String, String, String, String, String, i64, i64)> = on_db!(self.db(), pool => {
            sqlx::query_as(sql!(
                "SELECT u.username, u.display_name, a.id, a.held_on, a.title, a.score,
                            a.pass_score
                     FROM staff_assessments a JOIN users u ON u.id = a.user_id
                     WHERE a.held_on >= $1 AND a.held_on <= $2
                     ORDER BY u.username, a.held_on, a.title"
            ))
            .bind(from.to_string())
            .bind(to.to_string())
            .fetch_all(pool)
            .await?
        });
        rows.into_iter()
            .map(|(username, display_name, id, held, title, score, pass)| {
                Ok(PeriodRecord {
                    username,
                    display_name,
                    record: assessment_from_row((id, held, title, score, pass))?,
                })
            })
            .collect()
    }
}

fn file_parts(file: Option<&ScannedFile>) -> (Option<String>, Option<Vec<u8>>, Option<String>) {
    match file {
        Some(f) => (
            Some(f.name.clone()),
            Some(f.bytes.clone()),
            Some(sha256_hex(&f.bytes)),
        ),
        None => (None, None, None),
    }
}
