//! The stored client: the body of a client's row (SQLite `users.body`, the change
//! log's `old_body`/`new_body`) and item (DynamoDB Users `body`, hence the stream's
//! images).

use super::{Kind, decode, encode, unversioned};
use crate::StoreError;
use crate::client::{ActivityFacts, Client, Consent, EmailAddress, Fix, StyleProfile, TimeZone};
use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

const KIND: Kind = Kind {
    name: "client record",
    stored: true,
};

/// A client as stored, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientRecord {
    /// The record's version (not the client's: that is `version`).
    #[serde(default = "unversioned")]
    pub v: u32,
    pub id: String,
    pub email: String,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    /// An IANA name.
    pub time_zone: String,
    pub consent: ConsentRecord,
    #[serde(default)]
    pub profile: StyleProfileRecord,
    #[serde(default)]
    pub activity: ActivityFactsRecord,
    /// The client's version, one more on every write.
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub email_opt_in: bool,
    #[serde(default)]
    pub unsubscribed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StyleProfileRecord {
    #[serde(default)]
    pub preferences: Vec<String>,
    #[serde(default)]
    pub top_size: Option<String>,
    #[serde(default)]
    pub bottom_size: Option<String>,
    #[serde(default)]
    pub shoe_size: Option<String>,
    #[serde(default)]
    pub budget: Option<String>,
    #[serde(default)]
    pub fit_notes: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityFactsRecord {
    #[serde(default)]
    pub login_count: u32,
    #[serde(default)]
    pub last_login_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub order_count: u32,
    #[serde(default)]
    pub last_order_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub fixes: Vec<FixRecord>,
    #[serde(default)]
    pub email_opens: u32,
    #[serde(default)]
    pub email_clicks: u32,
    #[serde(default)]
    pub last_email_open_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub last_email_click_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub recent: Vec<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixRecord {
    pub id: String,
    pub delivered_at: DateTime<Utc>,
    pub items_sent: u8,
    #[serde(default)]
    pub items_kept: Option<u8>,
    #[serde(default)]
    pub rating: Option<u8>,
    #[serde(default)]
    pub feedback_at: Option<DateTime<Utc>>,
}

impl From<&Client> for ClientRecord {
    fn from(c: &Client) -> Self {
        Self {
            v: super::VERSION,
            id: c.id.as_str().to_string(),
            email: c.email.as_str().to_string(),
            first_name: c.first_name.clone(),
            last_name: c.last_name.clone(),
            time_zone: c.time_zone.name().to_string(),
            consent: ConsentRecord {
                email_opt_in: c.consent.email_opt_in,
                unsubscribed: c.consent.unsubscribed,
                unsubscribed_at: c.consent.unsubscribed_at,
            },
            profile: StyleProfileRecord::from(&c.profile),
            activity: ActivityFactsRecord::from(&c.activity),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl From<&StyleProfile> for StyleProfileRecord {
    fn from(p: &StyleProfile) -> Self {
        Self {
            preferences: p.preferences.clone(),
            top_size: p.top_size.clone(),
            bottom_size: p.bottom_size.clone(),
            shoe_size: p.shoe_size.clone(),
            budget: p.budget.clone(),
            fit_notes: p.fit_notes.clone(),
        }
    }
}

impl From<&ActivityFacts> for ActivityFactsRecord {
    fn from(a: &ActivityFacts) -> Self {
        Self {
            login_count: a.login_count,
            last_login_at: a.last_login_at,
            order_count: a.order_count,
            last_order_at: a.last_order_at,
            fixes: a
                .fixes
                .iter()
                .map(|f| FixRecord {
                    id: f.id.clone(),
                    delivered_at: f.delivered_at,
                    items_sent: f.items_sent,
                    items_kept: f.items_kept,
                    rating: f.rating,
                    feedback_at: f.feedback_at,
                })
                .collect(),
            email_opens: a.email_opens,
            email_clicks: a.email_clicks,
            last_email_open_at: a.last_email_open_at,
            last_email_click_at: a.last_email_click_at,
            recent: a.recent.clone(),
        }
    }
}

impl TryFrom<ClientRecord> for Client {
    type Error = StoreError;

    /// The address and the time zone are parsed again, as reading a client has always
    /// done: a stored value that does not parse (written by hand, or under rules since
    /// tightened) is reported here rather than carried into sends and schedules, which
    /// take an `EmailAddress` or a `TimeZone` to be valid. Parsing also trims, as it
    /// did when the value was first written, so a parsed value reads back unchanged.
    /// The other fields were checked when written and are taken as they are.
    fn try_from(r: ClientRecord) -> Result<Self, StoreError> {
        let invalid = |e: crate::ValidationError| super::failed(format!("{KIND}: {e}"));
        Ok(Client {
            id: UserId::from_string(r.id),
            email: EmailAddress::parse(&r.email).map_err(invalid)?,
            first_name: r.first_name,
            last_name: r.last_name,
            time_zone: TimeZone::parse(&r.time_zone).map_err(invalid)?,
            consent: Consent {
                email_opt_in: r.consent.email_opt_in,
                unsubscribed: r.consent.unsubscribed,
                unsubscribed_at: r.consent.unsubscribed_at,
            },
            profile: r.profile.into(),
            activity: r.activity.into(),
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

impl From<StyleProfileRecord> for StyleProfile {
    fn from(p: StyleProfileRecord) -> Self {
        Self {
            preferences: p.preferences,
            top_size: p.top_size,
            bottom_size: p.bottom_size,
            shoe_size: p.shoe_size,
            budget: p.budget,
            fit_notes: p.fit_notes,
        }
    }
}

impl From<ActivityFactsRecord> for ActivityFacts {
    fn from(a: ActivityFactsRecord) -> Self {
        Self {
            login_count: a.login_count,
            last_login_at: a.last_login_at,
            order_count: a.order_count,
            last_order_at: a.last_order_at,
            fixes: a
                .fixes
                .into_iter()
                .map(|f| Fix {
                    id: f.id,
                    delivered_at: f.delivered_at,
                    items_sent: f.items_sent,
                    items_kept: f.items_kept,
                    rating: f.rating,
                    feedback_at: f.feedback_at,
                })
                .collect(),
            email_opens: a.email_opens,
            email_clicks: a.email_clicks,
            last_email_open_at: a.last_email_open_at,
            last_email_click_at: a.last_email_click_at,
            recent: a.recent,
        }
    }
}

/// The body a client is stored as.
pub fn encode_client(client: &Client) -> Result<String, StoreError> {
    encode(KIND, &ClientRecord::from(client))
}

/// The client a stored body holds.
pub fn decode_client(body: &str) -> Result<Client, StoreError> {
    decode(KIND, body, |r: &ClientRecord| r.v)?.try_into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// A client with every field set.
    fn full() -> Client {
        Client {
            id: UserId::from_string("usr_01"),
            email: EmailAddress::parse("Ada@Example.com").unwrap(),
            first_name: "Ada".into(),
            last_name: Some("Lovelace".into()),
            time_zone: TimeZone::parse("Europe/London").unwrap(),
            consent: Consent {
                email_opt_in: true,
                unsubscribed: true,
                unsubscribed_at: Some(t("2026-03-04T09:30:00Z")),
            },
            profile: StyleProfile {
                preferences: vec!["minimal".into(), "workwear".into()],
                top_size: Some("M".into()),
                bottom_size: Some("32".into()),
                shoe_size: Some("39".into()),
                budget: Some("$$".into()),
                fit_notes: Some("Long arms.\nPrefers loose fits.".into()),
            },
            activity: ActivityFacts {
                login_count: 3,
                last_login_at: Some(t("2026-03-02T10:00:00.123456Z")),
                order_count: 1,
                last_order_at: Some(t("2026-03-01T08:00:00Z")),
                fixes: vec![
                    Fix {
                        id: "fix_1".into(),
                        delivered_at: t("2026-02-01T12:00:00Z"),
                        items_sent: 5,
                        items_kept: Some(3),
                        rating: Some(4),
                        feedback_at: Some(t("2026-02-03T12:00:00Z")),
                    },
                    Fix {
                        id: "fix_2".into(),
                        delivered_at: t("2026-03-01T12:00:00Z"),
                        items_sent: 5,
                        items_kept: None,
                        rating: None,
                        feedback_at: None,
                    },
                ],
                email_opens: 2,
                email_clicks: 1,
                last_email_open_at: Some(t("2026-03-02T11:00:00Z")),
                last_email_click_at: Some(t("2026-03-02T11:05:00Z")),
                recent: vec![t("2026-03-01T08:00:00Z"), t("2026-03-02T10:00:00.123456Z")],
            },
            version: 7,
            created_at: t("2026-01-15T09:00:00Z"),
            updated_at: t("2026-03-04T09:30:00.5Z"),
        }
    }

    /// A client with every optional field empty.
    fn plain() -> Client {
        Client {
            id: UserId::from_string("usr_02"),
            email: EmailAddress::parse("grace@example.com").unwrap(),
            first_name: "Grace".into(),
            last_name: None,
            time_zone: TimeZone::parse("UTC").unwrap(),
            consent: Consent {
                email_opt_in: false,
                unsubscribed: false,
                unsubscribed_at: None,
            },
            profile: StyleProfile::default(),
            activity: ActivityFacts::default(),
            version: 1,
            created_at: t("2026-03-02T12:00:00Z"),
            updated_at: t("2026-03-02T12:00:00Z"),
        }
    }

    // Bodies exactly as the build before versioned records wrote them.
    const FULL_UNVERSIONED: &str = r#"{"id":"usr_01","email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","time_zone":"Europe/London","consent":{"email_opt_in":true,"unsubscribed":true,"unsubscribed_at":"2026-03-04T09:30:00Z"},"profile":{"preferences":["minimal","workwear"],"top_size":"M","bottom_size":"32","shoe_size":"39","budget":"$$","fit_notes":"Long arms.\nPrefers loose fits."},"activity":{"login_count":3,"last_login_at":"2026-03-02T10:00:00.123456Z","order_count":1,"last_order_at":"2026-03-01T08:00:00Z","fixes":[{"id":"fix_1","delivered_at":"2026-02-01T12:00:00Z","items_sent":5,"items_kept":3,"rating":4,"feedback_at":"2026-02-03T12:00:00Z"},{"id":"fix_2","delivered_at":"2026-03-01T12:00:00Z","items_sent":5,"items_kept":null,"rating":null,"feedback_at":null}],"email_opens":2,"email_clicks":1,"last_email_open_at":"2026-03-02T11:00:00Z","last_email_click_at":"2026-03-02T11:05:00Z","recent":["2026-03-01T08:00:00Z","2026-03-02T10:00:00.123456Z"]},"version":7,"created_at":"2026-01-15T09:00:00Z","updated_at":"2026-03-04T09:30:00.500Z"}"#;
    const PLAIN_UNVERSIONED: &str = r#"{"id":"usr_02","email":"grace@example.com","first_name":"Grace","last_name":null,"time_zone":"UTC","consent":{"email_opt_in":false,"unsubscribed":false},"profile":{"preferences":[],"top_size":null,"bottom_size":null,"shoe_size":null,"budget":null,"fit_notes":null},"activity":{"login_count":0,"last_login_at":null,"order_count":0,"last_order_at":null,"fixes":[],"email_opens":0,"email_clicks":0,"last_email_open_at":null,"last_email_click_at":null,"recent":[]},"version":1,"created_at":"2026-03-02T12:00:00Z","updated_at":"2026-03-02T12:00:00Z"}"#;
    /// What this build writes.
    const FULL_V1: &str = r#"{"v":1,"id":"usr_01","email":"Ada@Example.com","first_name":"Ada","last_name":"Lovelace","time_zone":"Europe/London","consent":{"email_opt_in":true,"unsubscribed":true,"unsubscribed_at":"2026-03-04T09:30:00Z"},"profile":{"preferences":["minimal","workwear"],"top_size":"M","bottom_size":"32","shoe_size":"39","budget":"$$","fit_notes":"Long arms.\nPrefers loose fits."},"activity":{"login_count":3,"last_login_at":"2026-03-02T10:00:00.123456Z","order_count":1,"last_order_at":"2026-03-01T08:00:00Z","fixes":[{"id":"fix_1","delivered_at":"2026-02-01T12:00:00Z","items_sent":5,"items_kept":3,"rating":4,"feedback_at":"2026-02-03T12:00:00Z"},{"id":"fix_2","delivered_at":"2026-03-01T12:00:00Z","items_sent":5,"items_kept":null,"rating":null,"feedback_at":null}],"email_opens":2,"email_clicks":1,"last_email_open_at":"2026-03-02T11:00:00Z","last_email_click_at":"2026-03-02T11:05:00Z","recent":["2026-03-01T08:00:00Z","2026-03-02T10:00:00.123456Z"]},"version":7,"created_at":"2026-01-15T09:00:00Z","updated_at":"2026-03-04T09:30:00.500Z"}"#;
    const PLAIN_V1: &str = r#"{"v":1,"id":"usr_02","email":"grace@example.com","first_name":"Grace","last_name":null,"time_zone":"UTC","consent":{"email_opt_in":false,"unsubscribed":false},"profile":{"preferences":[],"top_size":null,"bottom_size":null,"shoe_size":null,"budget":null,"fit_notes":null},"activity":{"login_count":0,"last_login_at":null,"order_count":0,"last_order_at":null,"fixes":[],"email_opens":0,"email_clicks":0,"last_email_open_at":null,"last_email_click_at":null,"recent":[]},"version":1,"created_at":"2026-03-02T12:00:00Z","updated_at":"2026-03-02T12:00:00Z"}"#;

    #[test]
    fn bodies_stored_before_versions_decode_to_the_client() {
        assert_eq!(decode_client(FULL_UNVERSIONED).unwrap(), full());
        assert_eq!(decode_client(PLAIN_UNVERSIONED).unwrap(), plain());
    }

    #[test]
    fn a_body_of_the_first_stored_shape_reads_with_its_defaults() {
        // The oldest bodies have no profile, no activity, no last name and no
        // `unsubscribed`.
        let body = r#"{"id":"usr_02","email":"grace@example.com","first_name":"Grace","time_zone":"UTC","consent":{"email_opt_in":false},"version":1,"created_at":"2026-03-02T12:00:00Z","updated_at":"2026-03-02T12:00:00Z"}"#;
        assert_eq!(decode_client(body).unwrap(), plain());
    }

    #[test]
    fn a_client_encodes_to_the_pinned_version_1_body() {
        assert_eq!(encode_client(&full()).unwrap(), FULL_V1);
        assert_eq!(encode_client(&plain()).unwrap(), PLAIN_V1);
    }

    #[test]
    fn a_client_round_trips() {
        for c in [full(), plain()] {
            assert_eq!(decode_client(&encode_client(&c).unwrap()).unwrap(), c);
        }
    }

    #[test]
    fn a_later_version_is_refused_by_name() {
        let body = FULL_V1.replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(
            decode_client(&body).unwrap_err().to_string(),
            "stored client record has version 2; this build reads version 1"
        );
    }

    #[test]
    fn a_stored_address_or_time_zone_that_does_not_parse_is_refused() {
        let body = PLAIN_V1.replace("grace@example.com", "grace");
        assert_eq!(
            decode_client(&body).unwrap_err().to_string(),
            "stored client record: email: `grace` is not an email address"
        );
        let body = PLAIN_V1.replace(r#""UTC""#, r#""Mars/Olympus""#);
        assert_eq!(
            decode_client(&body).unwrap_err().to_string(),
            "stored client record: time_zone: `Mars/Olympus` is not an IANA time zone name"
        );
    }
}
