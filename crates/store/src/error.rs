//! Storage errors, shared by every backend.

/// What a storage operation can report.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (e-mail, name, code) is already taken by another record.
    #[error("{kind} with {key} '{value}' already exists")]
    Conflict {
        /// Record kind.
        kind: &'static str,
        /// Which unique value (`email`, `name`, …).
        key: &'static str,
        /// The value.
        value: String,
    },
    /// The record does not exist.
    #[error("{kind} {id} not found")]
    NotFound {
        /// Record kind.
        kind: &'static str,
        /// Its id.
        id: i64,
    },
    /// A stored document could not be read back (a bug or a hand-edited database).
    #[error("stored {kind} {id} is unreadable: {message}")]
    Corrupt {
        /// Record kind.
        kind: &'static str,
        /// Its id.
        id: i64,
        /// Why.
        message: String,
    },
    /// The backend itself failed (IO, connection, SQL).
    #[error("storage backend failed: {0}")]
    Backend(String),
}
