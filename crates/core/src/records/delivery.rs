//! The stored delivery state of an email: SQLite `emails.state` and the DynamoDB
//! email item's `state`, rewritten by every status change. (A schema step of the
//! SQLite store built the first of these bodies in SQL, from emails stored whole:
//! those have no `v` and may hold `null` for the two optional fields.)

use super::email::StatusChangeRecord;
use super::{Kind, decode, encode, unversioned};
use crate::StoreError;
use crate::email::DeliveryState;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const KIND: Kind = Kind {
    name: "delivery state record",
    stored: true,
};

/// An email's delivery state as stored, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStateRecord {
    #[serde(default = "unversioned")]
    pub v: u32,
    pub sent_at: Option<DateTime<Utc>>,
    pub message_id: Option<String>,
    pub status_history: Vec<StatusChangeRecord>,
}

impl From<&DeliveryState> for DeliveryStateRecord {
    fn from(s: &DeliveryState) -> Self {
        Self {
            v: super::VERSION,
            sent_at: s.sent_at,
            message_id: s.message_id.clone(),
            status_history: s.status_history.iter().map(Into::into).collect(),
        }
    }
}

impl From<DeliveryStateRecord> for DeliveryState {
    fn from(r: DeliveryStateRecord) -> Self {
        Self {
            sent_at: r.sent_at,
            message_id: r.message_id,
            status_history: r.status_history.into_iter().map(Into::into).collect(),
        }
    }
}

/// The body a delivery state is stored as.
pub fn encode_delivery_state(state: &DeliveryState) -> Result<String, StoreError> {
    encode(KIND, &DeliveryStateRecord::from(state))
}

/// The delivery state a stored body holds.
pub fn decode_delivery_state(body: &str) -> Result<DeliveryState, StoreError> {
    decode(KIND, body, |r: &DeliveryStateRecord| r.v).map(DeliveryState::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::email::{EmailStatus, StatusChange};

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn sent() -> DeliveryState {
        DeliveryState {
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

    fn pending() -> DeliveryState {
        DeliveryState {
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
    const SENT_UNVERSIONED: &str = r#"{"sent_at":"2026-03-02T13:00:01.250Z","message_id":"<abc@ses>","status_history":[{"status":"composing","at":"2026-03-02T12:00:00Z"},{"status":"scheduled","at":"2026-03-02T12:00:02Z","note":"quiet hours"},{"status":"sent","at":"2026-03-02T13:00:01.250Z"}]}"#;
    const PENDING_UNVERSIONED: &str = r#"{"sent_at":null,"message_id":null,"status_history":[{"status":"pending","at":"2026-03-02T12:00:00Z"}]}"#;
    /// What this build writes.
    const SENT_V1: &str = r#"{"v":1,"sent_at":"2026-03-02T13:00:01.250Z","message_id":"<abc@ses>","status_history":[{"status":"composing","at":"2026-03-02T12:00:00Z"},{"status":"scheduled","at":"2026-03-02T12:00:02Z","note":"quiet hours"},{"status":"sent","at":"2026-03-02T13:00:01.250Z"}]}"#;
    const PENDING_V1: &str = r#"{"v":1,"sent_at":null,"message_id":null,"status_history":[{"status":"pending","at":"2026-03-02T12:00:00Z"}]}"#;

    #[test]
    fn bodies_stored_before_versions_decode_to_the_state() {
        assert_eq!(decode_delivery_state(SENT_UNVERSIONED).unwrap(), sent());
        assert_eq!(
            decode_delivery_state(PENDING_UNVERSIONED).unwrap(),
            pending()
        );
    }

    #[test]
    fn a_state_encodes_to_the_pinned_version_1_body() {
        assert_eq!(encode_delivery_state(&sent()).unwrap(), SENT_V1);
        assert_eq!(encode_delivery_state(&pending()).unwrap(), PENDING_V1);
    }

    #[test]
    fn a_state_round_trips() {
        for s in [sent(), pending()] {
            let body = encode_delivery_state(&s).unwrap();
            assert_eq!(decode_delivery_state(&body).unwrap(), s);
        }
    }

    #[test]
    fn a_later_version_is_refused_by_name() {
        let body = PENDING_V1.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            decode_delivery_state(&body).unwrap_err().to_string(),
            "stored delivery state record has version 2; this build reads version 1"
        );
    }
}
