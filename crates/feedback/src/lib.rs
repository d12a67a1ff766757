//! engage's mail feedback intake: what Amazon SES reports after a send (deliveries,
//! bounces, complaints), as it arrives through Amazon SNS.
//!
//! - [`sns`]: the SNS message and its [`Verifier`] (certificate URL, topic, age, RSA
//!   signature), and subscription confirmation.
//! - [`ses`]: the SES notification inside a verified message, as a [`Feedback`].
//! - [`handle_sns_body`] for an HTTPS endpoint SNS POSTs to, and [`handle_sqs_body`]
//!   for an SQS queue subscribed to the same topic, tie the two together.
//!
//! An SQS body with *raw message delivery* is the SES JSON itself: it carries no
//! SNS signature, so nothing here can vouch for it ([`Origin::RawDelivery`]); the
//! queue's access policy (only the topic may send) is what protects it.

mod intake;
pub mod ses;
pub mod sns;
#[cfg(feature = "testing")]
pub mod testing;

pub use intake::{SesIntake, intake_of, to_provider_feedback};
pub use ses::{BounceType, Feedback, FeedbackKind, SesError, SesEvent};
pub use sns::{
    ConfirmError, MessageType, SnsMessage, UrlRefusal, Verified, Verifier, VerifierConfig,
    VerifyError,
};

/// What vouches for an SES notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An SNS message whose signature verified.
    Sns {
        message_id: String,
        topic_arn: String,
    },
    /// An SQS body holding the SES JSON directly (raw message delivery): unsigned.
    RawDelivery,
}

/// A message taken in.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// An SES notification: feedback to apply, or another event to log or ignore.
    Ses { event: SesEvent, origin: Origin },
    /// SNS asks engage to confirm a subscription: [`Verifier::confirm`] it when the
    /// topic is one engage expects.
    SubscriptionConfirmation(Verified),
    /// SNS reports that a subscription was removed.
    UnsubscribeConfirmation(Verified),
}

/// Why a message was not taken in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InboundError {
    /// Not a verified SNS message (forged, altered, stale, from an unexpected topic,
    /// malformed), or its certificate could not be fetched (see
    /// [`InboundError::is_transient`]).
    #[error("SNS message refused: {0}")]
    Refused(#[from] VerifyError),
    /// A verified (or raw-delivered) message that is not an SES notification, such
    /// as the text SES publishes when a topic is set up. Retrying will not help.
    #[error("not an SES notification: {0}")]
    NotSes(#[from] SesError),
    /// An SQS body that is neither an SNS envelope nor SES JSON.
    #[error("SQS body is neither an SNS message nor an SES notification")]
    Unrecognised,
}

impl InboundError {
    /// Whether the same message may be taken in later (its signing certificate could
    /// not be fetched): answer SNS with a 5xx, leave the SQS message for redelivery.
    pub fn is_transient(&self) -> bool {
        matches!(self, InboundError::Refused(e) if e.is_transient())
    }
}

/// Takes in the body of a POST from SNS: verifies it and, for a notification, parses
/// the SES notification in its `Message`.
pub async fn handle_sns_body(verifier: &Verifier, body: &str) -> Result<Inbound, InboundError> {
    let verified = verifier.verify_json(body).await?;
    inbound(verified)
}

/// Takes in the body of an SQS message from a queue subscribed to the SNS topic:
/// an SNS envelope (verified exactly like [`handle_sns_body`]) or, with raw message
/// delivery, the SES JSON itself ([`Origin::RawDelivery`], unsigned).
///
/// Messages can wait in a queue for days: give the verifier used here a `max_age`
/// as long as the queue's retention period.
pub async fn handle_sqs_body(verifier: &Verifier, body: &str) -> Result<Inbound, InboundError> {
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|_| InboundError::Unrecognised)?;
    if value.get("Type").is_some() {
        return handle_sns_body(verifier, body).await;
    }
    if value.get("notificationType").is_some() || value.get("eventType").is_some() {
        let event = ses::parse_value(value)?;
        return Ok(Inbound::Ses {
            event,
            origin: Origin::RawDelivery,
        });
    }
    Err(InboundError::Unrecognised)
}

fn inbound(verified: Verified) -> Result<Inbound, InboundError> {
    match verified.message().kind {
        MessageType::SubscriptionConfirmation => Ok(Inbound::SubscriptionConfirmation(verified)),
        MessageType::UnsubscribeConfirmation => Ok(Inbound::UnsubscribeConfirmation(verified)),
        MessageType::Notification => {
            let msg = verified.into_message();
            let event = ses::parse(&msg.message)?;
            Ok(Inbound::Ses {
                event,
                origin: Origin::Sns {
                    message_id: msg.message_id,
                    topic_arn: msg.topic_arn,
                },
            })
        }
    }
}
