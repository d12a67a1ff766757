//! The stored email content: the body of SQLite `email_contents.body` and of the
//! DynamoDB email item's `body`, written when the email is recorded and again once
//! its content is written. Its status and delivery state are kept apart (the
//! `status` column or attribute and [`super::DeliveryStateRecord`]); those are
//! what a read puts on the email, over what the content held when it was written.

use super::{Kind, decode, encode, unversioned};
use crate::StoreError;
use crate::compose::Generation;
use crate::email::{Email, EmailStatus, StatusChange};
use crate::ids::{DecisionId, EmailId, EventId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const KIND: Kind = Kind {
    name: "email record",
    stored: true,
};

/// An email's content as stored, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailRecord {
    #[serde(default = "unversioned")]
    pub v: u32,
    pub id: String,
    pub user_id: String,
    pub campaign: String,
    pub status: EmailStatus,
    pub subject: String,
    pub preheader: String,
    pub body_text: String,
    pub body_html: String,
    pub generator: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
    pub trigger_event_id: String,
    pub decision_id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub scheduled_for: Option<DateTime<Utc>>,
    #[serde(default)]
    pub sent_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub message_id: Option<String>,
    pub status_history: Vec<StatusChangeRecord>,
}

/// The accounting of a model-written email. The SQLite dashboard sums
/// `$.generation.tokens_in`, `$.generation.tokens_out` and `$.generation.cost_usd`
/// of the stored content, and a schema step read `$.generator`: these names are
/// read by SQL too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRecord {
    pub model: String,
    pub prompt_version: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub latency_ms: u64,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_output: Option<String>,
}

/// One entry of an email's status history (in its content and its delivery state).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChangeRecord {
    pub status: EmailStatus,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl From<&StatusChange> for StatusChangeRecord {
    fn from(c: &StatusChange) -> Self {
        Self {
            status: c.status,
            at: c.at,
            note: c.note.clone(),
        }
    }
}

impl From<StatusChangeRecord> for StatusChange {
    fn from(c: StatusChangeRecord) -> Self {
        Self {
            status: c.status,
            at: c.at,
            note: c.note,
        }
    }
}

impl From<&Generation> for GenerationRecord {
    fn from(g: &Generation) -> Self {
        Self {
            model: g.model.clone(),
            prompt_version: g.prompt_version.clone(),
            tokens_in: g.tokens_in,
            tokens_out: g.tokens_out,
            latency_ms: g.latency_ms,
            attempts: g.attempts,
            cost_usd: g.cost_usd,
            prompt: g.prompt.clone(),
            raw_output: g.raw_output.clone(),
        }
    }
}

impl From<GenerationRecord> for Generation {
    fn from(g: GenerationRecord) -> Self {
        Self {
            model: g.model,
            prompt_version: g.prompt_version,
            tokens_in: g.tokens_in,
            tokens_out: g.tokens_out,
            latency_ms: g.latency_ms,
            attempts: g.attempts,
            cost_usd: g.cost_usd,
            prompt: g.prompt,
            raw_output: g.raw_output,
        }
    }
}

impl From<&Email> for EmailRecord {
    fn from(e: &Email) -> Self {
        Self {
            v: super::VERSION,
            id: e.id.as_str().to_string(),
            user_id: e.user_id.as_str().to_string(),
            campaign: e.campaign.clone(),
            status: e.status,
            subject: e.subject.clone(),
            preheader: e.preheader.clone(),
            body_text: e.body_text.clone(),
            body_html: e.body_html.clone(),
            generator: e.generator.clone(),
            generation: e.generation.as_ref().map(GenerationRecord::from),
            fallback_reason: e.fallback_reason.clone(),
            trigger_event_id: e.trigger_event_id.as_str().to_string(),
            decision_id: e.decision_id.as_str().to_string(),
            created_at: e.created_at,
            scheduled_for: e.scheduled_for,
            sent_at: e.sent_at,
            message_id: e.message_id.clone(),
            status_history: e.status_history.iter().map(Into::into).collect(),
        }
    }
}

/// Ids are opaque and text is taken as written: nothing in an email is parsed again.
impl From<EmailRecord> for Email {
    fn from(r: EmailRecord) -> Self {
        Self {
            id: EmailId::from_string(r.id),
            user_id: UserId::from_string(r.user_id),
            campaign: r.campaign,
            status: r.status,
            subject: r.subject,
            preheader: r.preheader,
            body_text: r.body_text,
            body_html: r.body_html,
            generator: r.generator,
            generation: r.generation.map(Into::into),
            fallback_reason: r.fallback_reason,
            trigger_event_id: EventId::from_string(r.trigger_event_id),
            decision_id: DecisionId::from_string(r.decision_id),
            created_at: r.created_at,
            scheduled_for: r.scheduled_for,
            sent_at: r.sent_at,
            message_id: r.message_id,
            status_history: r.status_history.into_iter().map(Into::into).collect(),
        }
    }
}

/// The body an email's content is stored as.
pub fn encode_email(email: &Email) -> Result<String, StoreError> {
    encode(KIND, &EmailRecord::from(email))
}

/// The email a stored content body holds, with the status and delivery state it was
/// written with (a store puts the current ones on it).
pub fn decode_email(body: &str) -> Result<Email, StoreError> {
    decode(KIND, body, |r: &EmailRecord| r.v).map(Email::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn full() -> Email {
        Email {
            id: EmailId::from_string("eml_7_welcome"),
            user_id: UserId::from_string("usr_01"),
            campaign: "welcome".into(),
            status: EmailStatus::Sent,
            subject: "Welcome, Ada".into(),
            preheader: "Your first Fix".into(),
            body_text: "Hi Ada,\n\nWelcome.".into(),
            body_html: "<p>Hi Ada,</p><p>Welcome.</p>".into(),
            generator: "llm:gpt-test".into(),
            generation: Some(Generation {
                model: "gpt-test".into(),
                prompt_version: "v3".into(),
                tokens_in: 812,
                tokens_out: 164,
                latency_ms: 1530,
                attempts: 2,
                cost_usd: Some(0.00125),
                prompt: Some("[{\"role\":\"system\"}]".into()),
                raw_output: Some("{\"subject\":\"Welcome\"}".into()),
            }),
            fallback_reason: Some("guard `links` failed: x".into()),
            trigger_event_id: EventId::from_string("evt_7"),
            decision_id: DecisionId::from_string("dec_7"),
            created_at: t("2026-03-02T12:00:00Z"),
            scheduled_for: Some(t("2026-03-02T13:00:00Z")),
            sent_at: Some(t("2026-03-02T13:00:01.25Z")),
            message_id: Some("<abc@ses>".into()),
            status_history: vec![
                StatusChange {
                    status: EmailStatus::Composing,
                    at: t("2026-03-02T12:00:00Z"),
                    note: None,
                },
                StatusChange {
                    status: EmailStatus::Scheduled,
                    at: t("2026-03-02T12:00:02Z"),
                    note: Some("quiet hours".into()),
                },
                StatusChange {
                    status: EmailStatus::Sent,
                    at: t("2026-03-02T13:00:01.25Z"),
                    note: None,
                },
            ],
        }
    }

    fn plain() -> Email {
        Email {
            id: EmailId::from_string("eml_8_win_back"),
            user_id: UserId::from_string("usr_02"),
            campaign: "win_back".into(),
            status: EmailStatus::Pending,
            subject: "S".into(),
            preheader: "P".into(),
            body_text: "T".into(),
            body_html: "<p>T</p>".into(),
            generator: "template".into(),
            generation: None,
            fallback_reason: None,
            trigger_event_id: EventId::from_string("evt_8"),
            decision_id: DecisionId::from_string("dec_8"),
            created_at: t("2026-03-02T12:00:00Z"),
            scheduled_for: None,
            sent_at: None,
            message_id: None,
            status_history: vec![StatusChange {
                status: EmailStatus::Pending,
                at: t("2026-03-02T12:00:00Z"),
                note: None,
            }],
        }
    }

    // Bodies exactly as the build before versioned records wrote them.
    const FULL_UNVERSIONED: &str = r#"{"id":"eml_7_welcome","user_id":"usr_01","campaign":"welcome","status":"sent","subject":"Welcome, Ada","preheader":"Your first Fix","body_text":"Hi Ada,\n\nWelcome.","body_html":"<p>Hi Ada,</p><p>Welcome.</p>","generator":"llm:gpt-test","generation":{"model":"gpt-test","prompt_version":"v3","tokens_in":812,"tokens_out":164,"latency_ms":1530,"attempts":2,"cost_usd":0.00125,"prompt":"[{\"role\":\"system\"}]","raw_output":"{\"subject\":\"Welcome\"}"},"fallback_reason":"guard `links` failed: x","trigger_event_id":"evt_7","decision_id":"dec_7","created_at":"2026-03-02T12:00:00Z","scheduled_for":"2026-03-02T13:00:00Z","sent_at":"2026-03-02T13:00:01.250Z","message_id":"<abc@ses>","status_history":[{"status":"composing","at":"2026-03-02T12:00:00Z"},{"status":"scheduled","at":"2026-03-02T12:00:02Z","note":"quiet hours"},{"status":"sent","at":"2026-03-02T13:00:01.250Z"}]}"#;
    const PLAIN_UNVERSIONED: &str = r#"{"id":"eml_8_win_back","user_id":"usr_02","campaign":"win_back","status":"pending","subject":"S","preheader":"P","body_text":"T","body_html":"<p>T</p>","generator":"template","trigger_event_id":"evt_8","decision_id":"dec_8","created_at":"2026-03-02T12:00:00Z","scheduled_for":null,"sent_at":null,"message_id":null,"status_history":[{"status":"pending","at":"2026-03-02T12:00:00Z"}]}"#;
    /// What this build writes.
    const FULL_V1: &str = r#"{"v":1,"id":"eml_7_welcome","user_id":"usr_01","campaign":"welcome","status":"sent","subject":"Welcome, Ada","preheader":"Your first Fix","body_text":"Hi Ada,\n\nWelcome.","body_html":"<p>Hi Ada,</p><p>Welcome.</p>","generator":"llm:gpt-test","generation":{"model":"gpt-test","prompt_version":"v3","tokens_in":812,"tokens_out":164,"latency_ms":1530,"attempts":2,"cost_usd":0.00125,"prompt":"[{\"role\":\"system\"}]","raw_output":"{\"subject\":\"Welcome\"}"},"fallback_reason":"guard `links` failed: x","trigger_event_id":"evt_7","decision_id":"dec_7","created_at":"2026-03-02T12:00:00Z","scheduled_for":"2026-03-02T13:00:00Z","sent_at":"2026-03-02T13:00:01.250Z","message_id":"<abc@ses>","status_history":[{"status":"composing","at":"2026-03-02T12:00:00Z"},{"status":"scheduled","at":"2026-03-02T12:00:02Z","note":"quiet hours"},{"status":"sent","at":"2026-03-02T13:00:01.250Z"}]}"#;
    const PLAIN_V1: &str = r#"{"v":1,"id":"eml_8_win_back","user_id":"usr_02","campaign":"win_back","status":"pending","subject":"S","preheader":"P","body_text":"T","body_html":"<p>T</p>","generator":"template","trigger_event_id":"evt_8","decision_id":"dec_8","created_at":"2026-03-02T12:00:00Z","scheduled_for":null,"sent_at":null,"message_id":null,"status_history":[{"status":"pending","at":"2026-03-02T12:00:00Z"}]}"#;

    #[test]
    fn bodies_stored_before_versions_decode_to_the_email() {
        assert_eq!(decode_email(FULL_UNVERSIONED).unwrap(), full());
        assert_eq!(decode_email(PLAIN_UNVERSIONED).unwrap(), plain());
    }

    #[test]
    fn an_email_encodes_to_the_pinned_version_1_body() {
        assert_eq!(encode_email(&full()).unwrap(), FULL_V1);
        assert_eq!(encode_email(&plain()).unwrap(), PLAIN_V1);
    }

    #[test]
    fn an_email_round_trips() {
        for e in [full(), plain()] {
            assert_eq!(decode_email(&encode_email(&e).unwrap()).unwrap(), e);
        }
    }

    #[test]
    fn a_later_version_is_refused_by_name() {
        let body = PLAIN_V1.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            decode_email(&body).unwrap_err().to_string(),
            "stored email record has version 2; this build reads version 1"
        );
    }

    #[test]
    fn every_status_is_stored_by_its_pinned_name() {
        let names = [
            "composing",
            "scheduled",
            "pending",
            "sending",
            "sent",
            "delivered",
            "bounced",
            "complained",
            "failed",
            "cancelled",
        ];
        for (status, name) in EmailStatus::ALL.into_iter().zip(names) {
            let mut e = plain();
            e.status = status;
            e.status_history[0].status = status;
            let body = encode_email(&e).unwrap();
            let needle = format!(r#""status":"{name}","#);
            assert_eq!(body.matches(&needle).count(), 2, "{body}");
            assert_eq!(decode_email(&body).unwrap(), e);
        }
        assert_eq!(EmailStatus::ALL.len(), names.len());
    }
}
