//! The one error type of the application layer. The HTTP layer maps it to problem details once;
//! the CLI prints it.

use latchkey_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Not signed in, or the session/token is unknown, expired or revoked.
    #[error("sign in first: {0}")]
    Unauthenticated(String),
    /// Signed in, but this person may not do this.
    #[error("not allowed: {0}")]
    Forbidden(String),
    /// The thing does not exist, or the caller may not know that it does.
    #[error("{0} not found")]
    NotFound(String),
    /// A field of the request is wrong; says which and how to fix it.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The request conflicts with what exists (a taken name, a PIN in use on a door).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; try again after the given number of seconds.
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Something latchkey depends on is not there right now (the lock bridge, the broker).
    #[error("{0}")]
    Unavailable(String),
    /// Storage failed; the detail is for the log, never for the caller.
    #[error("internal error")]
    Store(#[from] StoreError),
    /// Anything else that is our fault.
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> AppError {
        AppError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn not_found(what: impl Into<String>) -> AppError {
        AppError::NotFound(what.into())
    }

    pub fn forbidden(why: impl Into<String>) -> AppError {
        AppError::Forbidden(why.into())
    }

    /// Maps a store conflict to a sentence for the caller.
    pub(crate) fn conflict_or(err: StoreError, message: &str) -> AppError {
        match err {
            StoreError::Conflict(_) => AppError::Conflict(message.to_owned()),
            StoreError::MissingReference(_) => AppError::invalid("reference", message),
            other => AppError::Store(other),
        }
    }
}

pub type Result<T> = std::result::Result<T, AppError>;
