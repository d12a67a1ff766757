//! Writing and sending: the events topic, the content generator, the mail sender
//! and the spend tally behind the generator's budget.

use crate::StoreError;
use crate::change::Event;
use crate::client::EmailAddress;
use crate::compose::{ComposeRequest, Composed};
use crate::email::Email;
use crate::ids::EmailId;
use async_trait::async_trait;

/// The events topic.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("generator unavailable: {0}")]
    Unavailable(String),
    #[error("generator output refused: {0}")]
    Refused(String),
    /// Recent requests kept failing; the generator is not asked until it cools down.
    #[error("generator paused: {0}")]
    CircuitOpen(String),
    /// The day's token or cost budget is spent.
    #[error("generator budget spent: {0}")]
    OverBudget(String),
}

impl ComposeError {
    /// The `reason` label of `engage_llm_fallbacks_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            ComposeError::Unavailable(_) => "unavailable",
            ComposeError::Refused(_) => "refused",
            ComposeError::CircuitOpen(_) => "circuit_open",
            ComposeError::OverBudget(_) => "over_budget",
        }
    }
}

#[async_trait]
pub trait ContentGenerator: Send + Sync {
    /// `template`, or `llm:<model>`.
    fn name(&self) -> String;
    /// True when generating calls out over the network and may take seconds: the
    /// engine then commits the decision first and writes the email afterwards
    /// (`composing`), so a slow generator delays no other decision.
    fn remote(&self) -> bool {
        false
    }
    async fn generate(&self, request: &ComposeRequest) -> Result<Composed, ComposeError>;
}

/// A recorded email made ready for a sender.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub email: Email,
    pub to: EmailAddress,
    pub to_name: String,
    pub from: String,
    pub unsubscribe_url: String,
    /// Only when an operator configured a mailbox that is read.
    pub unsubscribe_mailto: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later (throttling, connection trouble); never counted as sent.
    #[error("transient send failure: {0}")]
    Transient(String),
    /// The provider refused for good.
    #[error("permanent send failure: {0}")]
    Permanent(String),
}

/// The model's spending of one UTC day, shared by every process that writes emails
/// (on AWS, each mailer execution environment), so the daily budget holds across
/// them. Without one, a process counts its own spending only.
#[async_trait]
pub trait SpendTally: Send + Sync + std::fmt::Debug {
    /// Adds `tokens` and `usd` to `day`'s spending; answers the day's totals after
    /// it, everyone's. Adding nothing reads them.
    async fn add(
        &self,
        day: chrono::NaiveDate,
        tokens: u64,
        usd: f64,
    ) -> Result<(u64, f64), StoreError>;
}

#[async_trait]
pub trait MailSender: Send + Sync {
    /// `outbox`, `smtp` or `ses`.
    fn name(&self) -> &'static str;
    /// Whether it could send now, for `/health`: `Ok` with what it checked, or `Err`
    /// with what is wrong. Each sender checks what it sends through (a directory, a
    /// relay, an account); callers cache the answer, since it may cost a round trip.
    async fn check(&self) -> Result<serde_json::Value, String> {
        Ok(serde_json::Value::Null)
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError>;
    /// Sends several emails, answering for each in order. A sender that can share work
    /// between messages (one connection, one disk sync) overrides this.
    async fn send_many(&self, emails: &[OutgoingEmail]) -> Vec<Result<SendReceipt, SendError>> {
        let mut out = Vec::with_capacity(emails.len());
        for e in emails {
            out.push(self.send(e).await);
        }
        out
    }
}

/// The copies of sent messages (RFC 5322 bytes), kept by a sender that keeps them
/// (the outbox: `engage_mail::OutboxCopies`). The API's `GET /emails/{id}/message`.
#[async_trait]
pub trait SentMessages: Send + Sync {
    /// The email's message as it was sent. `None` when there is no copy (not sent
    /// yet, sent by a sender that kept none, or no such email).
    async fn sent_message(&self, id: &EmailId) -> Result<Option<Vec<u8>>, StoreError>;
}

/// A host whose senders keep no copy of any message (the AWS backend: SES keeps
/// none): every email's copy is `Unsupported` (the API answers 501, not 404).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoSentCopies;

#[async_trait]
impl SentMessages for NoSentCopies {
    async fn sent_message(&self, _id: &EmailId) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unsupported(
            "the message as sent is not kept on the AWS backend: SES keeps no copy".into(),
        ))
    }
}
