//! Contracts as stored: rebuild the validated contract document (base and
//! amendments) from the database alone, and pick the contract a command means.

use std::collections::HashMap;

use kefu_core::calendar::HolidayCalendar;
use kefu_core::contract::{self, ContractDocument, SourceFile};
use kefu_store::{ContractId, NewContractVersion, Store, VersionKind};

use crate::AppError;

/// The contract a command works on: the one named, or the only one stored.
pub async fn resolve_number(store: &Store, named: Option<&str>) -> Result<String, AppError> {
    if let Some(n) = named {
        return Ok(n.to_owned());
    }
    let numbers = store.contract_numbers().await?;
    match numbers.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(AppError::User(
            "no contract is stored yet; load one first: kefu contract load FILE".to_owned(),
        )),
        many => Err(AppError::User(format!(
            "several contracts are stored ({}); say which with --contract NUMBER",
            many.join(", ")
        ))),
    }
}

/// A stored contract, validated again from its stored documents.
pub struct StoredContract {
    pub id: ContractId,
    pub document: ContractDocument,
}

/// Rebuilds a contract from its stored versions: the base document, and for
/// each amendment path it lists, the latest stored version loaded from that path.
pub async fn load_stored(
    store: &Store,
    number: &str,
    holidays: &HolidayCalendar,
) -> Result<StoredContract, AppError> {
    let id = store
        .contract_id(number)
        .await?
        .ok_or_else(|| AppError::User(format!("no contract numbered \"{number}\" is stored")))?;
    let versions = store.contract_versions(number).await?;
    let base = versions
        .iter()
        .find(|v| v.kind == VersionKind::Base)
        .ok_or_else(|| AppError::User(format!("contract \"{number}\" has no base document")))?;
    let mut amendments: HashMap<String, (i64, String)> = HashMap::new();
    for v in versions.iter().filter(|v| v.kind == VersionKind::Amendment) {
        if let Some(path) = &v.source_path {
            let newer = amendments
                .get(path)
                .is_none_or(|(no, _)| *no < v.version_no);
            if newer {
                amendments.insert(path.clone(), (v.version_no, v.document.clone()));
            }
        }
    }
    let mut read = |path: &str| -> Result<(String, String), String> {
        amendments
            .get(path)
            .map(|(_, text)| (format!("{number} (stored) {path}"), text.clone()))
            .ok_or_else(|| "not stored in the database; load the contract again with it".to_owned())
    };
    let name = format!(
        "{number} (stored) {}",
        base.source_path.as_deref().unwrap_or("base")
    );
    let document = contract::load(
        SourceFile::new(name, base.document.clone()),
        holidays,
        &mut read,
    )
    .map_err(|d| AppError::User(format!("the stored contract no longer validates:\n{d}")))?;
    Ok(StoredContract { id, document })
}

/// How the phone buckets of a stored contract are cut: its staffing interval (base
/// terms) in its time zone.
pub fn bucket_plan(stored: &StoredContract) -> Result<kefu_store::BucketPlan, AppError> {
    let base = stored.document.base();
    let interval = kefu_core::phone::aggregate::Interval::of_contract(base)
        .map_err(|e| AppError::User(format!("the contract's staffing interval: {e}")))?;
    Ok(kefu_store::BucketPlan {
        interval,
        tz: base.time_zone.clone(),
    })
}

/// The versions to store for a validated contract document: its base text (as read from
/// `base_file`) and each amendment it lists, under the path the base names it by.
pub fn versions_of(doc: &ContractDocument, base_file: Option<String>) -> Vec<NewContractVersion> {
    let base = doc.base();
    let mut versions = vec![NewContractVersion {
        kind: VersionKind::Base,
        label: base.title.clone(),
        effective_from: base.effective_from,
        document: doc.base_text().to_string(),
        source_path: base_file,
        amendment_number: None,
    }];
    for a in doc.amendments() {
        versions.push(NewContractVersion {
            kind: VersionKind::Amendment,
            label: format!("{} {}", a.number, a.title),
            effective_from: a.effective_from,
            document: doc.amendment_text(a).to_string(),
            source_path: Some(a.file.clone()),
            amendment_number: Some(a.number.clone()),
        });
    }
    versions
}
