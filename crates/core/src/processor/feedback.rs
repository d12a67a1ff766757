//! What the mail provider reports after a send: delivered, bounced, complained.
//! [`Engine::apply_feedback`] moves the email's status and keeps the addresses that
//! must not be mailed again off the list: a hard bounce or a complaint suppresses the
//! recipient; a transient bounce is recorded on the email and suppresses nothing.
//!
//! A report acts only on what engage sent: the email must have been sent with the
//! very `Message-ID` the report names (the one the sender's receipt recorded), and
//! only the address it went to (the client's) is suppressed. Anything else — an
//! unknown or unsent email, another message id, another address — is ignored, with
//! the reason logged and counted (`engage_feedback_ignored_total{reason}`), so a
//! report forged on any topic cannot suppress or mark emails it is not about.

use super::Engine;
use crate::StoreError;
use crate::client::EmailAddress;
use crate::email::{EmailStatus, StatusChange};
use crate::ids::EmailId;
use crate::ports::EmailTransition;
use chrono::{DateTime, Utc};

/// One report about one email, whichever provider sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct ProviderFeedback {
    pub email_id: EmailId,
    /// The `Message-ID` the report is about, without angle brackets (the email id
    /// comes from it); it must be the one engage recorded when it sent the email.
    pub message_id: String,
    pub kind: FeedbackKind,
    /// The recipients the report is about.
    pub recipients: Vec<EmailAddress>,
    pub at: DateTime<Utc>,
    /// The provider's words (diagnostic code, SMTP response), for the status history.
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackKind {
    Delivered,
    /// `permanent`: a hard bounce (the address does not exist or refuses for good).
    Bounced {
        permanent: bool,
        sub_type: String,
    },
    Complained {
        feedback_type: Option<String>,
    },
}

impl FeedbackKind {
    /// The `kind` label of `engage_feedback_total`.
    pub fn label(&self) -> &'static str {
        match self {
            FeedbackKind::Delivered => "delivered",
            FeedbackKind::Bounced {
                permanent: true, ..
            } => "hard_bounce",
            FeedbackKind::Bounced { .. } => "soft_bounce",
            FeedbackKind::Complained { .. } => "complaint",
        }
    }
}

/// What a report came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackOutcome {
    /// The email moved to this status (or, for a transient bounce, kept its status
    /// with the bounce in its history).
    Recorded(EmailStatus),
    /// Addresses suppressed, with or without a status change.
    Suppressed {
        status: Option<EmailStatus>,
        addresses: usize,
    },
    /// The report changes nothing, and why (no such email, not sent, another
    /// message id or address, or a repeat).
    Ignored(&'static str),
}

/// Counts and logs an ignored report.
fn ignored(reason: &'static str) -> FeedbackOutcome {
    tracing::info!(reason, "provider feedback ignored");
    metrics::counter!("engage_feedback_ignored_total", "reason" => reason).increment(1);
    FeedbackOutcome::Ignored(reason)
}

impl Engine {
    /// Applies one provider report. Idempotent: a repeated report finds the email
    /// already moved and changes nothing but (again) the suppression list.
    #[tracing::instrument(skip_all, fields(email_id = %fb.email_id, kind = fb.kind.label()))]
    pub async fn apply_feedback(
        &self,
        fb: &ProviderFeedback,
    ) -> Result<FeedbackOutcome, StoreError> {
        metrics::counter!("engage_feedback_total", "kind" => fb.kind.label()).increment(1);
        let Some(email) = self.ledger.get_email(&fb.email_id).await? else {
            return Ok(ignored("no such email"));
        };
        match &email.message_id {
            None => return Ok(ignored("the email was not sent")),
            Some(sent)
                if sent.trim_matches(['<', '>']) != fb.message_id.trim_matches(['<', '>']) =>
            {
                return Ok(ignored("another message id than the one sent"));
            }
            Some(_) => {}
        }
        // The address the email went to: its client's. Reports naming others (or
        // about a client since deleted) suppress nothing.
        let sent_to = self
            .clients
            .get(&email.user_id)
            .await?
            .map(|c| c.email.normalized());
        let recipients: Vec<&EmailAddress> = fb
            .recipients
            .iter()
            .filter(|a| sent_to.as_deref() == Some(a.normalized().as_str()))
            .collect();
        if recipients.is_empty() && !fb.recipients.is_empty() {
            return Ok(ignored(
                "about an address engage did not send this email to",
            ));
        }
        if recipients.len() < fb.recipients.len() {
            ignored("also about an address engage did not send this email to");
        }
        let (to, note, suppress) = match &fb.kind {
            FeedbackKind::Delivered => (
                EmailStatus::Delivered,
                format!("delivered: {}", fb.detail),
                None,
            ),
            FeedbackKind::Bounced {
                permanent: true,
                sub_type,
            } => (
                EmailStatus::Bounced,
                format!("hard bounce ({sub_type}): {}", fb.detail),
                Some("hard_bounce"),
            ),
            // Recorded on the email; the address stays mailable.
            FeedbackKind::Bounced {
                permanent: false,
                sub_type,
            } => (
                email.status,
                format!("transient bounce ({sub_type}): {}", fb.detail),
                None,
            ),
            FeedbackKind::Complained { feedback_type } => (
                EmailStatus::Complained,
                format!(
                    "complaint ({}): {}",
                    feedback_type.as_deref().unwrap_or("unspecified"),
                    fb.detail
                ),
                Some("complaint"),
            ),
        };
        let mut suppressed = 0;
        if let Some(reason) = suppress {
            for address in recipients {
                self.suppressions.add(address, reason, fb.at).await?;
                suppressed += 1;
            }
        }
        // Only a sent email takes feedback; a delivery never overrides a bounce or a
        // complaint, and a complaint may follow a delivery.
        let from_ok = match to {
            EmailStatus::Delivered => email.status == EmailStatus::Sent,
            EmailStatus::Bounced | EmailStatus::Complained => {
                matches!(email.status, EmailStatus::Sent | EmailStatus::Delivered)
            }
            _ => email.status.was_sent(),
        };
        let moved = from_ok
            && self
                .transitions(vec![EmailTransition {
                    id: email.id.clone(),
                    from: email.status,
                    change: StatusChange {
                        status: to,
                        at: fb.at,
                        note: Some(note.chars().take(500).collect()),
                    },
                    message_id: None,
                }])
                .await?
                .pop()
                .unwrap_or(false);
        Ok(match (suppressed, moved) {
            (0, true) => FeedbackOutcome::Recorded(to),
            (0, false) => ignored("nothing to change (a repeat, or out of order)"),
            (n, moved) => FeedbackOutcome::Suppressed {
                status: moved.then_some(to),
                addresses: n,
            },
        })
    }
}
