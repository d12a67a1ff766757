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

/// What a store can answer besides success. Callers branch on the variant, never on
/// the text: [`StoreError::Transient`] may succeed if tried again later (the API
/// answers 503, a queue consumer leaves the message for redelivery);
/// [`StoreError::Unsupported`] never will on this backend (501);
/// [`StoreError::Unexpected`] is a fault to look into (500).
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
    /// The backend is throttling, busy or unreachable just now; the same request may
    /// succeed later. The text says what failed, for the logs.
    #[error("temporarily unavailable: {0}")]
    Transient(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl StoreError {
    /// True when trying the same request again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient(_))
    }

    /// The same error again, for each of several requests that one failure answers
    /// (a batch's events): the variant is kept, an unexpected cause as its text.
    pub fn for_each(&self) -> StoreError {
        match self {
            StoreError::NotFound => StoreError::NotFound,
            StoreError::VersionConflict { current } => {
                StoreError::VersionConflict { current: *current }
            }
            StoreError::Duplicate(what) => StoreError::Duplicate(what.clone()),
            StoreError::InvalidCursor => StoreError::InvalidCursor,
            StoreError::Unsupported(why) => StoreError::Unsupported(why.clone()),
            StoreError::Transient(why) => StoreError::Transient(why.clone()),
            StoreError::Unexpected(e) => StoreError::Unexpected(anyhow::anyhow!("{e:#}")),
        }
    }
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
    /// The backend cannot do this at all ([`StoreError::Unsupported`]).
    #[error("not available: {0}")]
    Unsupported(String),
    /// The store may answer if asked again later ([`StoreError::Transient`]).
    #[error("temporarily unavailable: {0}")]
    Transient(String),
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
            StoreError::Unsupported(why) => DomainError::Unsupported(why),
            StoreError::Transient(why) => DomainError::Transient(why),
            StoreError::Unexpected(e) => DomainError::Unexpected(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_repeated_for_each_request_keeps_its_variant() {
        assert!(
            StoreError::Transient("busy".into())
                .for_each()
                .is_transient()
        );
        assert!(matches!(
            StoreError::VersionConflict { current: 3 }.for_each(),
            StoreError::VersionConflict { current: 3 }
        ));
        let e = StoreError::Unexpected(anyhow::anyhow!("disk").context("writing"));
        assert_eq!(e.for_each().to_string(), "writing: disk");
    }

    #[test]
    fn a_client_operation_keeps_unsupported_and_transient_apart_from_faults() {
        assert!(matches!(
            DomainError::from(StoreError::Unsupported("no index".into())),
            DomainError::Unsupported(_)
        ));
        assert!(matches!(
            DomainError::from(StoreError::Transient("throttled".into())),
            DomainError::Transient(_)
        ));
    }
}
