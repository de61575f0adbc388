//! The store's error type. Two kinds, as everywhere in kefu: the caller's mistake (bad URL,
//! wrong or missing key file, bad input) — a clear message the CLI shows as-is — and the
//! unexpected (database or I/O failure, corrupted data) — logged with its chain.
//!
//! No variant ever carries key material: key errors name the key *id* and the file path only.

use std::path::PathBuf;

/// Everything that can go wrong in `kefu-store`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL has a scheme we do not speak.
    #[error(
        "unsupported database URL scheme `{scheme}` in `{url}`; accepted: sqlite://PATH, sqlite:PATH, sqlite::memory:, postgres://… or postgresql://…"
    )]
    UnsupportedUrl { url: String, scheme: String },

    /// The database URL has a known scheme but cannot be parsed.
    #[error("invalid database URL `{url}`: {reason}")]
    InvalidUrl { url: String, reason: String },

    /// The database server cannot be reached.
    #[error("cannot reach the database at {url}: {reason}")]
    Unreachable { url: String, reason: String },

    /// The database exists (or should) but cannot be opened: permissions, a refused login.
    #[error("cannot open the database at {url}: {reason}")]
    CannotOpen { url: String, reason: String },

    /// The key file exists but is not a kefu key file.
    #[error("the key file {path} is not a valid kefu key file: {reason}")]
    InvalidKeyFile { path: PathBuf, reason: String },

    /// The key file belongs to another database.
    #[error(
        "the key in {path} (id {file_key_id}) does not match this database (id {db_key_id}); restore the right key file"
    )]
    KeyMismatch {
        path: PathBuf,
        file_key_id: String,
        db_key_id: String,
    },

    /// The database holds encrypted data but the key file is gone; generating a new key would
    /// make that data unreadable for good, so we stop instead.
    #[error(
        "the key file {path} is missing but this database was written with key id {db_key_id}; restore the key file (a new key cannot read the existing data)"
    )]
    KeyMissing { path: PathBuf, db_key_id: String },

    /// A value the caller passed is not acceptable (e.g. an unknown contract number).
    #[error("{0}")]
    Invalid(String),

    /// Reading or writing a file in the data folder failed.
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A stored ciphertext did not decrypt: wrong key, or the value was moved/altered.
    #[error("cannot decrypt {table}.{column} of row {row}: {reason}")]
    Decrypt {
        table: &'static str,
        column: &'static str,
        row: String,
        reason: &'static str,
    },

    /// Encryption failed (does not happen with sane input sizes).
    #[error("encryption failed")]
    Encrypt,

    /// The system random number generator failed.
    #[error("the system random number generator failed: {0}")]
    Random(String),

    /// A stored value has an unexpected shape (e.g. a bad date or hash length).
    #[error("corrupt data in {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },

    /// The database said no.
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),

    /// Applying migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True for the caller's mistakes (show the message, exit code 2 / HTTP 4xx); false for
    /// unexpected failures (log the chain, exit code 1 / HTTP 5xx).
    pub fn is_user_error(&self) -> bool {
        matches!(
            self,
            StoreError::UnsupportedUrl { .. }
                | StoreError::InvalidUrl { .. }
                | StoreError::Unreachable { .. }
                | StoreError::CannotOpen { .. }
                | StoreError::Io { .. }
                | StoreError::InvalidKeyFile { .. }
                | StoreError::KeyMismatch { .. }
                | StoreError::KeyMissing { .. }
                | StoreError::Invalid(_)
        )
    }
}
