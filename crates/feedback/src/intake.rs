//! The SES-through-SNS feedback intake: this crate's verifier and parser behind the
//! core's [`FeedbackIntake`] port, so the API's `POST /webhooks/ses` (and, in AWS
//! mode, the SQS consumer) stay free of AWS formats.

use crate::{Inbound, InboundError, SesEvent, Verifier};
use async_trait::async_trait;
use engage_core::client::EmailAddress;
use engage_core::ids::EmailId;
use engage_core::ports::{FeedbackIntake, Intake, IntakeError};
use engage_core::processor::{FeedbackKind, ProviderFeedback};

#[derive(Debug)]
pub struct SesIntake {
    verifier: Verifier,
}

impl SesIntake {
    pub fn new(verifier: Verifier) -> Self {
        Self { verifier }
    }
}

/// The core's report for an SES one; `None` when it is not about an email of ours.
pub fn to_provider_feedback(fb: crate::Feedback) -> Option<ProviderFeedback> {
    let message_id = fb.message_id.clone()?;
    let email_id = engage_mail::email_id_of(&message_id)?;
    let kind = match fb.kind {
        crate::FeedbackKind::Delivered => FeedbackKind::Delivered,
        crate::FeedbackKind::Bounced {
            permanent,
            sub_type,
            diagnostic,
            ..
        } => {
            let _ = diagnostic; // in `detail` already
            FeedbackKind::Bounced {
                permanent,
                sub_type,
            }
        }
        crate::FeedbackKind::Complained { feedback_type } => {
            FeedbackKind::Complained { feedback_type }
        }
    };
    Some(ProviderFeedback {
        email_id: EmailId::from_string(email_id),
        message_id,
        kind,
        recipients: fb
            .recipients
            .iter()
            .filter_map(|r| {
                // `Name <addr>` or a bare address.
                let addr = r
                    .rsplit_once('<')
                    .map_or(r.as_str(), |(_, a)| a.trim_end_matches('>'));
                EmailAddress::parse(addr.trim()).ok()
            })
            .collect(),
        at: fb.at,
        detail: fb.detail,
    })
}

/// What an intake result means to the core.
pub async fn intake_of(
    verifier: &Verifier,
    taken: Result<Inbound, InboundError>,
) -> Result<Intake, IntakeError> {
    match taken {
        Ok(Inbound::Ses {
            event: SesEvent::Feedback(fb),
            ..
        }) => Ok(match to_provider_feedback(fb) {
            Some(fb) => Intake::Feedback(vec![fb]),
            None => Intake::Ignored("about an email engage did not send".into()),
        }),
        Ok(Inbound::Ses {
            event: SesEvent::Other(kind),
            ..
        }) => Ok(Intake::Ignored(format!("SES event `{kind}`"))),
        Ok(Inbound::SubscriptionConfirmation(v))
            if verifier.config().allowed_topic_arns.is_empty() =>
        {
            tracing::warn!(topic = %v.message().topic_arn, "an SNS subscription asks to be confirmed; list its topic in feedback.sns_topic_arns to confirm it");
            Ok(Intake::Ignored(
                "subscriptions are confirmed only for the topics in feedback.sns_topic_arns".into(),
            ))
        }
        Ok(Inbound::SubscriptionConfirmation(v)) => {
            verifier.confirm(&v).await.map_err(|e| {
                IntakeError::Unavailable(format!("confirming the subscription: {e}"))
            })?;
            tracing::info!(topic = %v.message().topic_arn, "confirmed the SNS subscription");
            Ok(Intake::Confirmed)
        }
        Ok(Inbound::UnsubscribeConfirmation(v)) => Ok(Intake::Ignored(format!(
            "unsubscribed from {}",
            v.message().topic_arn
        ))),
        Err(InboundError::NotSes(e)) => {
            Ok(Intake::Ignored(format!("not an SES notification: {e}")))
        }
        Err(e) if e.is_transient() => Err(IntakeError::Unavailable(e.to_string())),
        Err(e) => Err(IntakeError::Refused(e.to_string())),
    }
}

#[async_trait]
impl FeedbackIntake for SesIntake {
    async fn read(&self, body: &str) -> Result<Intake, IntakeError> {
        let taken = crate::handle_sns_body(&self.verifier, body).await;
        intake_of(&self.verifier, taken).await
    }
}
