//! Domain errors. Adapters map their backend's codes (SQLite constraint violations,
//! DynamoDB `ConditionalCheckFailed`) onto these variants so that callers — the API
//! above all — handle one vocabulary.

use thiserror::Error;

/// Input that the domain refuses, with the field it concerns.
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What a store can answer besides success.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("version conflict: the stored version is {current}")]
    VersionConflict { current: u64 },
    #[error("duplicate: {0}")]
    Duplicate(String),
    /// A list cursor that this store did not issue.
    #[error("invalid cursor")]
    InvalidCursor,
    /// This backend cannot do it at all (say why and what to do instead).
    #[error("not available: {0}")]
    Unsupported(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Errors of the client operations (create, patch, record activity, delete).
#[derive(Debug, Error)]
pub enum DomainError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("client not found")]
    NotFound,
    #[error("version conflict: the client is at version {current}")]
    VersionConflict { current: u64 },
    #[error("a client with this email address already exists")]
    DuplicateEmail,
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("a version is required: send `version` in the body or an If-Match header")]
    VersionRequired,
    #[error(transparent)]
    Unexpected(anyhow::Error),
}

impl From<StoreError> for DomainError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DomainError::NotFound,
            StoreError::VersionConflict { current } => DomainError::VersionConflict { current },
            StoreError::Duplicate(_) => DomainError::DuplicateEmail,
            StoreError::InvalidCursor => DomainError::InvalidCursor,
            e @ StoreError::Unsupported(_) => DomainError::Unexpected(anyhow::anyhow!(e)),
            StoreError::Unexpected(e) => DomainError::Unexpected(e),
        }
    }
}
