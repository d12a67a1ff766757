//! Provider notifications (bounces, complaints, deliveries), once verified.

use async_trait::async_trait;

/// What a provider notification came to, once verified and read.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Reports about emails, to apply.
    Feedback(Vec<crate::processor::ProviderFeedback>),
    /// A subscription was confirmed (the provider's handshake).
    Confirmed,
    /// Genuine, but nothing engage acts on (an open, a click, an unknown email).
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Not genuine or not readable: refused, and a retry will not change that.
    #[error("refused: {0}")]
    Refused(String),
    /// Could not be checked now (the signing certificate did not download, say).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Verifies and reads the notifications a mail provider posts (SES through SNS).
#[async_trait]
pub trait FeedbackIntake: Send + Sync {
    async fn read(&self, body: &str) -> Result<Intake, IntakeError>;
}
