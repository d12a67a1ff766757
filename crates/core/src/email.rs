//! The ledger's records: emails with their status history, and decisions — including
//! the ones that sent nothing ("not sent, because …").

use crate::change::EventType;
use crate::ids::{DecisionId, EmailId, EventId, UserId};
use crate::score::Tier;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// An email's life: `composing` (a model is writing it, after the decision committed)
/// → `scheduled` (quiet hours) → `pending` → `sending` → `sent`, or `failed` /
/// `cancelled`; after `sent`, the provider's feedback moves it to `delivered`,
/// `bounced` or `complained` (a complaint or a bounce may follow a delivery). Every move is a conditional update from a known status, so two workers
/// can never both send, nor both write one email.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EmailStatus {
    Composing,
    Scheduled,
    Pending,
    Sending,
    Sent,
    /// The receiving server accepted it (provider feedback).
    Delivered,
    /// The receiving server refused it (provider feedback).
    Bounced,
    /// The recipient marked it as spam (provider feedback).
    Complained,
    Failed,
    Cancelled,
}

impl EmailStatus {
    pub const ALL: [EmailStatus; 10] = [
        EmailStatus::Composing,
        EmailStatus::Scheduled,
        EmailStatus::Pending,
        EmailStatus::Sending,
        EmailStatus::Sent,
        EmailStatus::Delivered,
        EmailStatus::Bounced,
        EmailStatus::Complained,
        EmailStatus::Failed,
        EmailStatus::Cancelled,
    ];
    /// The status's name in stored data and the API (serde's name too).
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }
    /// Counts against the frequency cap and campaign cooldowns.
    pub fn counts_as_sent(&self) -> bool {
        !matches!(self, EmailStatus::Failed | EmailStatus::Cancelled)
    }

    /// Handed to the provider: `sent` or a status its feedback set.
    pub fn was_sent(&self) -> bool {
        matches!(
            self,
            EmailStatus::Sent
                | EmailStatus::Delivered
                | EmailStatus::Bounced
                | EmailStatus::Complained
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusChange {
    pub status: EmailStatus,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// An engagement email as recorded in the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Email {
    pub id: EmailId,
    pub user_id: UserId,
    pub campaign: String,
    pub status: EmailStatus,
    pub subject: String,
    pub preheader: String,
    pub body_text: String,
    /// Rendered by engage from `body_text`; the unsubscribe footer is added at send time.
    pub body_html: String,
    /// The generator that wrote it (`template`, or `llm:<model>`).
    pub generator: String,
    /// Model, prompt version, tokens, latency and attempts, when a model wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<crate::compose::Generation>,
    /// Why the model's content was not used, when the template stood in for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    pub trigger_event_id: EventId,
    pub decision_id: DecisionId,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub scheduled_for: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    /// The `Message-ID` the provider accepted.
    #[serde(default)]
    pub message_id: Option<String>,
    pub status_history: Vec<StatusChange>,
}

/// The part of an email that changes after it is recorded. Stores keep it apart from
/// the content, which is written once, so a status change rewrites only this (as
/// [`crate::records::DeliveryStateRecord`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryState {
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub status_history: Vec<StatusChange>,
}

impl DeliveryState {
    pub fn of(e: &Email) -> Self {
        Self {
            sent_at: e.sent_at,
            message_id: e.message_id.clone(),
            status_history: e.status_history.clone(),
        }
    }

    /// Puts this state back on an email read from its content.
    pub fn apply_to(self, e: &mut Email) {
        e.sent_at = self.sent_at;
        e.message_id = self.message_id;
        e.status_history = self.status_history;
    }

    /// Records one status change: its history entry, `sent_at` when it is `sent`, and
    /// the provider's Message-ID when one is given.
    pub fn record(&mut self, change: StatusChange, message_id: Option<String>) {
        if change.status == EmailStatus::Sent {
            self.sent_at = Some(change.at);
        }
        if message_id.is_some() {
            self.message_id = message_id;
        }
        self.status_history.push(change);
    }
}

impl Email {
    /// When the email's current status became due for attention: the scheduled time
    /// for `scheduled`, otherwise the moment it entered its status (so stores find
    /// stranded `pending`, stuck `sending` and leased `composing` emails by age).
    pub fn due_at(&self) -> DateTime<Utc> {
        match (self.status, self.scheduled_for) {
            (EmailStatus::Scheduled, Some(at)) => at,
            _ => self.status_history.last().map_or(self.created_at, |h| h.at),
        }
    }
}

/// What the ledger needs to know of past emails to apply cooldowns and the cap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSummary {
    pub campaign: String,
    pub status: EmailStatus,
    pub created_at: DateTime<Utc>,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DecisionOutcome {
    /// An email was created and handed to the sender.
    Send,
    /// An email was created for later (quiet hours).
    Schedule,
    /// No email; `reason` says why.
    Skip,
}

/// Why no email was sent.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SkipReason {
    NoCampaignApplies,
    Cooldown,
    NotOptedIn,
    Unsubscribed,
    Suppressed,
    FrequencyCap,
    ClientDeleted,
    /// The event is older than a change already decided on.
    Superseded,
}

impl DecisionOutcome {
    /// The outcome's name in the API, stored data and metrics (serde's name too).
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

impl SkipReason {
    /// The reason's name in the API, stored data and metrics (serde's name too).
    pub fn as_str(&self) -> &'static str {
        self.into()
    }

    pub fn explain(&self) -> &'static str {
        match self {
            SkipReason::NoCampaignApplies => "no campaign applies to the client's current state",
            SkipReason::Cooldown => "the campaign that applies was sent recently (cooldown)",
            SkipReason::NotOptedIn => "the client has not opted in to email",
            SkipReason::Unsubscribed => "the client unsubscribed",
            SkipReason::Suppressed => "the address is on the suppression list",
            SkipReason::FrequencyCap => {
                "the client already got the maximum number of emails this week"
            }
            SkipReason::ClientDeleted => "the client no longer exists",
            SkipReason::Superseded => "a newer change to this client was already decided on",
        }
    }
}

/// One decision of the email processor, kept for every event it handled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    pub id: DecisionId,
    pub user_id: UserId,
    pub event_id: EventId,
    pub event_type: EventType,
    /// The client version the decision was made on (the current one at the time).
    pub user_version: u64,
    pub at: DateTime<Utc>,
    pub outcome: DecisionOutcome,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub reason: Option<SkipReason>,
    /// A sentence for people: "sent welcome", "not sent, because …".
    pub explanation: String,
    #[serde(default)]
    pub score: Option<u8>,
    #[serde(default)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub email_id: Option<EmailId>,
    #[serde(default)]
    pub scheduled_for: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_are_the_serde_names_and_all_lists_every_status() {
        assert_eq!(
            EmailStatus::ALL,
            <EmailStatus as strum::VariantArray>::VARIANTS
        );
        for s in EmailStatus::ALL {
            let json = serde_json::to_value(s).unwrap();
            assert_eq!(json.as_str(), Some(s.as_str()));
            assert_eq!(EmailStatus::parse(s.as_str()), Some(s));
        }
        for unknown in ["Sent", "sent ", "queued", ""] {
            assert_eq!(EmailStatus::parse(unknown), None, "{unknown:?}");
        }
    }

    #[test]
    fn outcome_and_reason_names_are_the_serde_names() {
        use strum::VariantArray;
        for o in DecisionOutcome::VARIANTS {
            assert_eq!(serde_json::to_value(o).unwrap().as_str(), Some(o.as_str()));
        }
        for r in SkipReason::VARIANTS {
            assert_eq!(serde_json::to_value(r).unwrap().as_str(), Some(r.as_str()));
        }
    }
}
