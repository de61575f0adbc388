//! Commands that open the store (database + data key): loading contracts,
//! listing their versions, verifying the audit log.

use std::path::Path;
use std::process::ExitCode;

use kefu_store::{AuditVerification, Store, StoreError};

use super::{CmdError, CmdResult, Global, UserError};
use crate::files;

/// Exit code when the audit log's hash chain is broken: distinct from a usage error (2).
pub const EXIT_AUDIT_BROKEN: u8 = 3;

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CmdError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CmdError::Unexpected(e.into()))
}

/// A use case's error: the user's to fix (exit 2) or unexpected (exit 1).
pub(crate) fn app_error(e: kefu_app::AppError) -> CmdError {
    match e {
        kefu_app::AppError::Store(s) => store_error(s),
        e if e.is_user_error() => UserError::Message(e.to_string()).into(),
        e => CmdError::Unexpected(anyhow::anyhow!("{e}")),
    }
}

fn store_error(e: StoreError) -> CmdError {
    if e.is_user_error() {
        UserError::Message(e.to_string()).into()
    } else {
        // The store's messages already include their cause; print them once.
        CmdError::Unexpected(anyhow::anyhow!("storage: {e}"))
    }
}

pub(crate) async fn open(g: &Global) -> Result<Store, CmdError> {
    Store::open(&g.database_url, &g.data_dir)
        .await
        .map_err(store_error)
}

/// For commands that only read: never creates a database.
pub(crate) async fn open_existing(g: &Global) -> Result<Store, CmdError> {
    Store::open_existing(&g.database_url, &g.data_dir)
        .await
        .map_err(store_error)
}

pub(crate) fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "unknown".to_string())
    )
}

pub(crate) fn contract_load(g: &Global, file: &Path) -> CmdResult {
    let holidays = files::holidays(g.holidays.as_deref())?;
    let doc = files::load_contract(file, &holidays)?;
    let base = doc.base();
    let versions = kefu_app::contracts::versions_of(
        &doc,
        file.file_name().map(|n| n.to_string_lossy().into_owned()),
    );
    runtime()?.block_on(async {
        let store = open(g).await?;
        let outcome = store
            .save_contract(&base.number, &base.title, &versions, &actor())
            .await
            .map_err(store_error);
        store.close().await;
        let outcome = outcome?;
        println!(
            "contract {} {} in {} (data folder {})",
            base.number,
            if outcome.contract_created {
                "stored"
            } else {
                "already known"
            },
            kefu_store::db::redact(&g.database_url),
            g.data_dir.display()
        );
        for v in &outcome.versions {
            println!(
                "  version {} {} — {} (sha256 {})",
                v.version_no,
                if v.new {
                    "stored"
                } else {
                    "unchanged, already stored"
                },
                v.label,
                &v.sha256[..v.sha256.len().min(16)]
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn contract_versions(g: &Global, number: &str) -> CmdResult {
    runtime()?.block_on(async {
        let store = open_existing(g).await?;
        let list = store.contract_versions(number).await.map_err(store_error);
        store.close().await;
        let list = list?;
        if list.is_empty() {
            return Err(
                UserError::Message(format!("no contract numbered \"{number}\" is stored")).into(),
            );
        }
        for v in list {
            println!(
                "{:>3}  {:<9}  from {}  loaded {}  sha256 {}  {}",
                v.version_no,
                format!("{:?}", v.kind).to_lowercase(),
                v.effective_from,
                v.loaded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                &v.sha256[..v.sha256.len().min(16)],
                v.label
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

pub(crate) fn audit_verify(g: &Global) -> CmdResult {
    runtime()?.block_on(async {
        let store = open_existing(g).await?;
        let result = store.audit().verify().await.map_err(store_error);
        store.close().await;
        match result? {
            v @ AuditVerification::Intact { .. } => {
                println!("{v}");
                Ok(ExitCode::SUCCESS)
            }
            v @ AuditVerification::Broken { .. } => {
                eprintln!("{v}");
                Ok(ExitCode::from(EXIT_AUDIT_BROKEN))
            }
        }
    })
}
