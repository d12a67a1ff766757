//! The stored score: SQLite `scores.body` and the DynamoDB score item's `body`, the
//! client's last score with everything that explains it. (The score and tier are
//! also kept in columns and attributes of their own, which lists filter on.)

use super::{Kind, decode, encode, unversioned};
use crate::StoreError;
use crate::score::{Component, Drivers, ScoreBreakdown, Tier};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const KIND: Kind = Kind {
    name: "score record",
    stored: true,
};

/// A score as stored, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRecord {
    #[serde(default = "unversioned")]
    pub v: u32,
    pub score: u8,
    pub tier: Tier,
    pub components: Vec<ComponentRecord>,
    pub drivers: DriversRecord,
    pub computed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ComponentRecord {
    pub name: String,
    pub value: f64,
    pub weight: f64,
    pub contribution: f64,
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DriversRecord {
    pub days_since_last_activity: Option<i64>,
    pub days_since_last_fix: Option<i64>,
    pub cadence_days: f64,
    pub fixes_delivered: u32,
    pub keep_rate: Option<f64>,
    pub average_rating: Option<f64>,
    pub profile_completeness: u8,
    pub weakest: String,
}

impl From<&ScoreBreakdown> for ScoreRecord {
    fn from(s: &ScoreBreakdown) -> Self {
        let d = &s.drivers;
        Self {
            v: super::VERSION,
            score: s.score,
            tier: s.tier,
            components: s
                .components
                .iter()
                .map(|c| ComponentRecord {
                    name: c.name.clone(),
                    value: c.value,
                    weight: c.weight,
                    contribution: c.contribution,
                    explanation: c.explanation.clone(),
                })
                .collect(),
            drivers: DriversRecord {
                days_since_last_activity: d.days_since_last_activity,
                days_since_last_fix: d.days_since_last_fix,
                cadence_days: d.cadence_days,
                fixes_delivered: d.fixes_delivered,
                keep_rate: d.keep_rate,
                average_rating: d.average_rating,
                profile_completeness: d.profile_completeness,
                weakest: d.weakest.clone(),
            },
            computed_at: s.computed_at,
        }
    }
}

impl From<ScoreRecord> for ScoreBreakdown {
    fn from(r: ScoreRecord) -> Self {
        let d = r.drivers;
        Self {
            score: r.score,
            tier: r.tier,
            components: r
                .components
                .into_iter()
                .map(|c| Component {
                    name: c.name,
                    value: c.value,
                    weight: c.weight,
                    contribution: c.contribution,
                    explanation: c.explanation,
                })
                .collect(),
            drivers: Drivers {
                days_since_last_activity: d.days_since_last_activity,
                days_since_last_fix: d.days_since_last_fix,
                cadence_days: d.cadence_days,
                fixes_delivered: d.fixes_delivered,
                keep_rate: d.keep_rate,
                average_rating: d.average_rating,
                profile_completeness: d.profile_completeness,
                weakest: d.weakest,
            },
            computed_at: r.computed_at,
        }
    }
}

/// The body a score is stored as.
pub fn encode_score(score: &ScoreBreakdown) -> Result<String, StoreError> {
    encode(KIND, &ScoreRecord::from(score))
}

/// The score a stored body holds.
pub fn decode_score(body: &str) -> Result<ScoreBreakdown, StoreError> {
    decode(KIND, body, |r: &ScoreRecord| r.v).map(ScoreBreakdown::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score() -> ScoreBreakdown {
        ScoreBreakdown {
            score: 72,
            tier: Tier::Engaged,
            components: vec![
                Component {
                    name: "recency".into(),
                    value: 0.8,
                    weight: 0.35,
                    contribution: 28.0,
                    explanation: "active 2 days ago".into(),
                },
                Component {
                    name: "profile".into(),
                    value: 0.5,
                    weight: 0.15,
                    contribution: 7.5,
                    explanation: "profile 50% complete".into(),
                },
            ],
            drivers: Drivers {
                days_since_last_activity: Some(2),
                days_since_last_fix: None,
                cadence_days: 30.0,
                fixes_delivered: 2,
                keep_rate: Some(0.6),
                average_rating: None,
                profile_completeness: 50,
                weakest: "profile".into(),
            },
            computed_at: DateTime::parse_from_rfc3339("2026-03-02T12:00:00Z")
                .unwrap()
                .to_utc(),
        }
    }

    /// A body exactly as the build before versioned records wrote it.
    const UNVERSIONED: &str = r#"{"score":72,"tier":"engaged","components":[{"name":"recency","value":0.8,"weight":0.35,"contribution":28.0,"explanation":"active 2 days ago"},{"name":"profile","value":0.5,"weight":0.15,"contribution":7.5,"explanation":"profile 50% complete"}],"drivers":{"days_since_last_activity":2,"days_since_last_fix":null,"cadence_days":30.0,"fixes_delivered":2,"keep_rate":0.6,"average_rating":null,"profile_completeness":50,"weakest":"profile"},"computed_at":"2026-03-02T12:00:00Z"}"#;
    /// What this build writes.
    const V1: &str = r#"{"v":1,"score":72,"tier":"engaged","components":[{"name":"recency","value":0.8,"weight":0.35,"contribution":28.0,"explanation":"active 2 days ago"},{"name":"profile","value":0.5,"weight":0.15,"contribution":7.5,"explanation":"profile 50% complete"}],"drivers":{"days_since_last_activity":2,"days_since_last_fix":null,"cadence_days":30.0,"fixes_delivered":2,"keep_rate":0.6,"average_rating":null,"profile_completeness":50,"weakest":"profile"},"computed_at":"2026-03-02T12:00:00Z"}"#;

    #[test]
    fn a_body_stored_before_versions_decodes_to_the_score() {
        assert_eq!(decode_score(UNVERSIONED).unwrap(), score());
    }

    #[test]
    fn a_score_encodes_to_the_pinned_version_1_body() {
        assert_eq!(encode_score(&score()).unwrap(), V1);
    }

    #[test]
    fn a_score_round_trips() {
        assert_eq!(
            decode_score(&encode_score(&score()).unwrap()).unwrap(),
            score()
        );
    }

    #[test]
    fn a_later_version_is_refused_by_name() {
        let body = V1.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            decode_score(&body).unwrap_err().to_string(),
            "stored score record has version 2; this build reads version 1"
        );
    }
}
