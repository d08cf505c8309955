//! Transport-neutral errors of the server's operations.
//!
//! Operations (management, tracking, reports) fail with an [`Error`] whose [`ErrorKind`] says
//! what went wrong in the product's terms. Each HTTP dialect maps kinds to its own status codes
//! and bodies; nothing outside the HTTP layer picks a status code.

use clicktrail_domain::ValidationError;
use clicktrail_store::StoreError;

/// What went wrong, independent of the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No credentials, malformed credentials, or credentials that match no live key.
    Unauthenticated,
    /// The key lacks the scope the operation needs.
    MissingScope,
    /// The caller's role or account status does not allow the operation.
    Forbidden,
    /// A parameter or body field is invalid.
    Invalid,
    /// The thing does not exist (or is not the caller's to see).
    NotFound,
    /// A unique value is taken, or the record is still in use.
    Conflict,
    /// The caller sent too many requests.
    RateLimited,
    /// The path exists, but not with this method.
    MethodNotAllowed,
    /// The request body is larger than the server reads.
    TooLarge,
    /// A storage backend does not answer (a database restarting, say): retry later. The
    /// message is logged, not shown.
    Unavailable,
    /// A fault on our side; the message is logged, not shown.
    Internal,
}

/// An operation's failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// Message for the caller (for `Internal`, for the log only).
    pub message: String,
    /// The offending field, for `Invalid`.
    pub field: Option<String>,
}

impl Error {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), field: None }
    }

    /// A bad value of `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self { kind: ErrorKind::Invalid, message: format!("{field}: {message}"), field: Some(field) }
    }

    /// A missing record, named.
    pub fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        Self::new(ErrorKind::NotFound, format!("{what} {id} not found"))
    }

    /// A role or status refusal.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Forbidden, message)
    }

    /// An internal fault.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<ValidationError> for Error {
    fn from(e: ValidationError) -> Self {
        if e.field.is_empty() { Self::new(ErrorKind::Invalid, e.message) } else { Self::invalid(e.field, e.message) }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict { kind, key, value } => Self {
                kind: ErrorKind::Conflict,
                message: format!("a {} with {key} '{value}' already exists", kind.replace('_', " ")),
                field: Some(key.to_owned()),
            },
            StoreError::NotFound { kind, id } => Self::not_found(&kind.replace('_', " "), id),
            StoreError::Backend(message) => Self::new(ErrorKind::Unavailable, message),
            other => Self::internal(other.to_string()),
        }
    }
}

/// Shorthand.
pub type Result<T, E = Error> = std::result::Result<T, E>;
