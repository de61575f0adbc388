//! kefu-app: the use cases. The CLI (and later the web handlers and channel
//! adapters) call these functions; permission checks and audit records happen
//! here or in the store, in the same transaction as the change.

pub mod contracts;
pub mod import;
pub mod report;
pub mod staff;
pub mod staffing;

/// A use case failed: either the caller can fix it (bad input, unknown
/// contract, a file that cannot be read) or something unexpected happened.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    User(String),
    #[error(transparent)]
    Store(#[from] kefu_store::StoreError),
    #[error("{0}")]
    Unexpected(String),
}

impl AppError {
    pub fn is_user_error(&self) -> bool {
        match self {
            AppError::User(_) => true,
            AppError::Store(e) => e.is_user_error(),
            AppError::Unexpected(_) => false,
        }
    }
}
