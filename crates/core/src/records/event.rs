//! The body of an events-topic message: what the SQLite queue stores as a message's
//! body, what SNS publishes as the notification's `Message`, and so what an SQS
//! queue (and the Lambda mailer) receives inside SNS's envelope.

use super::{Kind, decode, encode, unversioned};
use crate::StoreError;
use crate::change::{Event, EventType};
use crate::ids::{EventId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const KIND: Kind = Kind {
    name: "event message",
    stored: false,
};

/// An event as published, version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMessage {
    #[serde(default = "unversioned")]
    pub v: u32,
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub user_id: String,
    pub user_version: u64,
    pub at: DateTime<Utc>,
    pub changed_fields: Vec<String>,
}

impl From<&Event> for EventMessage {
    fn from(e: &Event) -> Self {
        Self {
            v: super::VERSION,
            id: e.id.as_str().to_string(),
            event_type: e.event_type,
            user_id: e.user_id.as_str().to_string(),
            user_version: e.user_version,
            at: e.at,
            changed_fields: e.changed_fields.clone(),
        }
    }
}

impl From<EventMessage> for Event {
    fn from(m: EventMessage) -> Self {
        Self {
            id: EventId::from_string(m.id),
            event_type: m.event_type,
            user_id: UserId::from_string(m.user_id),
            user_version: m.user_version,
            at: m.at,
            changed_fields: m.changed_fields,
        }
    }
}

/// The body an event is published as.
pub fn encode_event(event: &Event) -> Result<String, StoreError> {
    encode(KIND, &EventMessage::from(event))
}

/// The event a message's body holds.
pub fn decode_event(body: &str) -> Result<Event, StoreError> {
    decode(KIND, body, |m: &EventMessage| m.v).map(Event::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn consent_changed() -> Event {
        Event {
            id: EventId::from_string("evt_42"),
            event_type: EventType::ConsentChanged,
            user_id: UserId::from_string("usr_01"),
            user_version: 8,
            at: t("2026-03-02T12:00:00.5Z"),
            changed_fields: vec!["consent".into(), "activity.logins".into()],
        }
    }

    fn rescore() -> Event {
        Event::rescore(&UserId::from_string("usr_02"), 3, t("2026-03-02T00:00:00Z"))
    }

    // Bodies exactly as the build before versioned records published them.
    const CONSENT_UNVERSIONED: &str = r#"{"id":"evt_42","type":"consent_changed","user_id":"usr_01","user_version":8,"at":"2026-03-02T12:00:00.500Z","changed_fields":["consent","activity.logins"]}"#;
    const RESCORE_UNVERSIONED: &str = r#"{"id":"evt_sweep_usr_02_20260302","type":"rescore_due","user_id":"usr_02","user_version":3,"at":"2026-03-02T00:00:00Z","changed_fields":[]}"#;
    /// What this build publishes.
    const CONSENT_V1: &str = r#"{"v":1,"id":"evt_42","type":"consent_changed","user_id":"usr_01","user_version":8,"at":"2026-03-02T12:00:00.500Z","changed_fields":["consent","activity.logins"]}"#;
    const RESCORE_V1: &str = r#"{"v":1,"id":"evt_sweep_usr_02_20260302","type":"rescore_due","user_id":"usr_02","user_version":3,"at":"2026-03-02T00:00:00Z","changed_fields":[]}"#;

    #[test]
    fn messages_published_before_versions_decode_to_the_event() {
        assert_eq!(
            decode_event(CONSENT_UNVERSIONED).unwrap(),
            consent_changed()
        );
        assert_eq!(decode_event(RESCORE_UNVERSIONED).unwrap(), rescore());
    }

    #[test]
    fn an_event_encodes_to_the_pinned_version_1_body() {
        assert_eq!(encode_event(&consent_changed()).unwrap(), CONSENT_V1);
        assert_eq!(encode_event(&rescore()).unwrap(), RESCORE_V1);
    }

    #[test]
    fn an_event_round_trips() {
        for e in [consent_changed(), rescore()] {
            assert_eq!(decode_event(&encode_event(&e).unwrap()).unwrap(), e);
        }
    }

    #[test]
    fn a_later_version_is_refused_by_name() {
        let body = CONSENT_V1.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            decode_event(&body).unwrap_err().to_string(),
            "event message has version 2; this build reads version 1"
        );
    }

    #[test]
    fn a_body_that_is_no_event_does_not_decode() {
        let err = decode_event(r#"{"Type":"Notification"}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("event message does not decode: missing field `id`"),
            "{err}"
        );
    }

    #[test]
    fn every_event_type_is_published_by_its_pinned_name() {
        let names = [
            "client_created",
            "client_deleted",
            "consent_changed",
            "fix_feedback_given",
            "fix_delivered",
            "order_placed",
            "login_recorded",
            "email_engaged",
            "profile_updated",
            "contact_updated",
            "rescore_due",
        ];
        let types = <EventType as strum::VariantArray>::VARIANTS;
        assert_eq!(types.len(), names.len());
        for (event_type, name) in types.iter().copied().zip(names) {
            let e = Event {
                event_type,
                ..consent_changed()
            };
            let body = encode_event(&e).unwrap();
            assert!(body.contains(&format!(r#""type":"{name}","#)), "{body}");
            assert_eq!(decode_event(&body).unwrap(), e);
        }
    }
}
