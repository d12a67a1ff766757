//! The stored decision: SQLite `decisions.body` and the DynamoDB decision item's
//! `body`, written once.

use super::{Kind, decode, encode, unversioned};
use crate::StoreError;
use crate::change::EventType;
use crate::email::{Decision, DecisionOutcome, SkipReason};
use crate::ids::{DecisionId, EmailId, EventId, UserId};
use crate::score::Tier;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const KIND: Kind = Kind {
    name: "decision record",
    stored: true,
};

/// A decision as stored, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionRecord {
    #[serde(default = "unversioned")]
    pub v: u32,
    pub id: String,
    pub user_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub user_version: u64,
    pub at: DateTime<Utc>,
    pub outcome: DecisionOutcome,
    #[serde(default)]
    pub campaign: Option<String>,
    #[serde(default)]
    pub reason: Option<SkipReason>,
    pub explanation: String,
    #[serde(default)]
    pub score: Option<u8>,
    #[serde(default)]
    pub tier: Option<Tier>,
    #[serde(default)]
    pub email_id: Option<String>,
    #[serde(default)]
    pub scheduled_for: Option<DateTime<Utc>>,
}

impl From<&Decision> for DecisionRecord {
    fn from(d: &Decision) -> Self {
        Self {
            v: super::VERSION,
            id: d.id.as_str().to_string(),
            user_id: d.user_id.as_str().to_string(),
            event_id: d.event_id.as_str().to_string(),
            event_type: d.event_type,
            user_version: d.user_version,
            at: d.at,
            outcome: d.outcome,
            campaign: d.campaign.clone(),
            reason: d.reason,
            explanation: d.explanation.clone(),
            score: d.score,
            tier: d.tier,
            email_id: d.email_id.as_ref().map(|e| e.as_str().to_string()),
            scheduled_for: d.scheduled_for,
        }
    }
}

impl From<DecisionRecord> for Decision {
    fn from(r: DecisionRecord) -> Self {
        Self {
            id: DecisionId::from_string(r.id),
            user_id: UserId::from_string(r.user_id),
            event_id: EventId::from_string(r.event_id),
            event_type: r.event_type,
            user_version: r.user_version,
            at: r.at,
            outcome: r.outcome,
            campaign: r.campaign,
            reason: r.reason,
            explanation: r.explanation,
            score: r.score,
            tier: r.tier,
            email_id: r.email_id.map(EmailId::from_string),
            scheduled_for: r.scheduled_for,
        }
    }
}

/// The body a decision is stored as.
pub fn encode_decision(decision: &Decision) -> Result<String, StoreError> {
    encode(KIND, &DecisionRecord::from(decision))
}

/// The decision a stored body holds.
pub fn decode_decision(body: &str) -> Result<Decision, StoreError> {
    decode(KIND, body, |r: &DecisionRecord| r.v).map(Decision::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn scheduled() -> Decision {
        Decision {
            id: DecisionId::from_string("dec_7"),
            user_id: UserId::from_string("usr_01"),
            event_id: EventId::from_string("evt_7"),
            event_type: EventType::FixFeedbackGiven,
            user_version: 7,
            at: t("2026-03-02T12:00:00Z"),
            outcome: DecisionOutcome::Schedule,
            campaign: Some("welcome".into()),
            reason: None,
            explanation: "scheduled welcome for 13:00 (quiet hours)".into(),
            score: Some(72),
            tier: Some(Tier::AtRisk),
            email_id: Some(EmailId::from_string("eml_7_welcome")),
            scheduled_for: Some(t("2026-03-02T13:00:00Z")),
        }
    }

    fn skipped() -> Decision {
        Decision {
            id: DecisionId::from_string("dec_9"),
            user_id: UserId::from_string("usr_02"),
            event_id: EventId::from_string("evt_9"),
            event_type: EventType::ClientDeleted,
            user_version: 3,
            at: t("2026-03-02T12:00:00.000001Z"),
            outcome: DecisionOutcome::Skip,
            campaign: None,
            reason: Some(SkipReason::ClientDeleted),
            explanation: "not sent, because the client no longer exists".into(),
            score: None,
            tier: None,
            email_id: None,
            scheduled_for: None,
        }
    }

    // Bodies exactly as the build before versioned records wrote them.
    const SCHEDULED_UNVERSIONED: &str = r#"{"id":"dec_7","user_id":"usr_01","event_id":"evt_7","event_type":"fix_feedback_given","user_version":7,"at":"2026-03-02T12:00:00Z","outcome":"schedule","campaign":"welcome","reason":null,"explanation":"scheduled welcome for 13:00 (quiet hours)","score":72,"tier":"at_risk","email_id":"eml_7_welcome","scheduled_for":"2026-03-02T13:00:00Z"}"#;
    const SKIPPED_UNVERSIONED: &str = r#"{"id":"dec_9","user_id":"usr_02","event_id":"evt_9","event_type":"client_deleted","user_version":3,"at":"2026-03-02T12:00:00.000001Z","outcome":"skip","campaign":null,"reason":"client_deleted","explanation":"not sent, because the client no longer exists","score":null,"tier":null,"email_id":null,"scheduled_for":null}"#;
    /// What this build writes.
    const SCHEDULED_V1: &str = r#"{"v":1,"id":"dec_7","user_id":"usr_01","event_id":"evt_7","event_type":"fix_feedback_given","user_version":7,"at":"2026-03-02T12:00:00Z","outcome":"schedule","campaign":"welcome","reason":null,"explanation":"scheduled welcome for 13:00 (quiet hours)","score":72,"tier":"at_risk","email_id":"eml_7_welcome","scheduled_for":"2026-03-02T13:00:00Z"}"#;
    const SKIPPED_V1: &str = r#"{"v":1,"id":"dec_9","user_id":"usr_02","event_id":"evt_9","event_type":"client_deleted","user_version":3,"at":"2026-03-02T12:00:00.000001Z","outcome":"skip","campaign":null,"reason":"client_deleted","explanation":"not sent, because the client no longer exists","score":null,"tier":null,"email_id":null,"scheduled_for":null}"#;

    #[test]
    fn bodies_stored_before_versions_decode_to_the_decision() {
        assert_eq!(decode_decision(SCHEDULED_UNVERSIONED).unwrap(), scheduled());
        assert_eq!(decode_decision(SKIPPED_UNVERSIONED).unwrap(), skipped());
    }

    #[test]
    fn a_decision_encodes_to_the_pinned_version_1_body() {
        assert_eq!(encode_decision(&scheduled()).unwrap(), SCHEDULED_V1);
        assert_eq!(encode_decision(&skipped()).unwrap(), SKIPPED_V1);
    }

    #[test]
    fn a_decision_round_trips() {
        for d in [scheduled(), skipped()] {
            assert_eq!(decode_decision(&encode_decision(&d).unwrap()).unwrap(), d);
        }
    }

    #[test]
    fn a_later_version_is_refused_by_name() {
        let body = SKIPPED_V1.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            decode_decision(&body).unwrap_err().to_string(),
            "stored decision record has version 2; this build reads version 1"
        );
    }

    #[test]
    fn outcomes_skip_reasons_and_tiers_are_stored_by_their_pinned_names() {
        let outcomes = [
            (DecisionOutcome::Send, "send"),
            (DecisionOutcome::Schedule, "schedule"),
            (DecisionOutcome::Skip, "skip"),
        ];
        for (outcome, name) in outcomes {
            let d = Decision {
                outcome,
                ..skipped()
            };
            let body = encode_decision(&d).unwrap();
            assert!(body.contains(&format!(r#""outcome":"{name}","#)), "{body}");
            assert_eq!(decode_decision(&body).unwrap(), d);
        }
        let reasons = [
            (SkipReason::NoCampaignApplies, "no_campaign_applies"),
            (SkipReason::Cooldown, "cooldown"),
            (SkipReason::NotOptedIn, "not_opted_in"),
            (SkipReason::Unsubscribed, "unsubscribed"),
            (SkipReason::Suppressed, "suppressed"),
            (SkipReason::FrequencyCap, "frequency_cap"),
            (SkipReason::ClientDeleted, "client_deleted"),
            (SkipReason::Superseded, "superseded"),
        ];
        for (reason, name) in reasons {
            let d = Decision {
                reason: Some(reason),
                ..skipped()
            };
            let body = encode_decision(&d).unwrap();
            assert!(body.contains(&format!(r#""reason":"{name}","#)), "{body}");
            assert_eq!(decode_decision(&body).unwrap(), d);
        }
        let tiers = [
            "new", "champion", "engaged", "at_risk", "lapsing", "dormant",
        ];
        assert_eq!(Tier::ALL.len(), tiers.len());
        for (tier, name) in Tier::ALL.into_iter().zip(tiers) {
            let d = Decision {
                tier: Some(tier),
                ..scheduled()
            };
            let body = encode_decision(&d).unwrap();
            assert!(body.contains(&format!(r#""tier":"{name}","#)), "{body}");
            assert_eq!(decode_decision(&body).unwrap(), d);
        }
    }
}
