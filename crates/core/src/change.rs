//! The change stream's records and the events the stream processor derives from them.
//!
//! A change record carries the old and new image of one client write (like a DynamoDB
//! stream record with NEW_AND_OLD_IMAGES). The stream processor turns it into at most
//! one event whose id is derived from the record's sequence number, so replaying the
//! stream yields the same events and the email processor's claims make them no-ops.

use crate::client::Client;
use crate::ids::{EventId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One committed write to a client, in per-client order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    /// The stream's sequence number (SQLite: the change log's row id; DynamoDB: the
    /// stream record's `SequenceNumber`).
    pub seq: String,
    pub user_id: UserId,
    pub old: Option<Client>,
    pub new: Option<Client>,
    pub committed_at: DateTime<Utc>,
}

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
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventType {
    ClientCreated,
    ClientDeleted,
    ConsentChanged,
    FixFeedbackGiven,
    FixDelivered,
    OrderPlaced,
    LoginRecorded,
    EmailEngaged,
    ProfileUpdated,
    ContactUpdated,
    /// Emitted by the scheduler's sweep, not by a write: time passed.
    RescoreDue,
}

impl EventType {
    /// The event type's name in the events topic, stored data and metrics (serde's
    /// name too).
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
}

/// The envelope published on the events topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    pub id: EventId,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub user_id: UserId,
    /// The client's version this event describes (the new image's; for a deletion,
    /// the last version).
    pub user_version: u64,
    pub at: DateTime<Utc>,
    pub changed_fields: Vec<String>,
}

impl Event {
    pub fn rescore(user: &UserId, version: u64, now: DateTime<Utc>) -> Self {
        Event {
            id: EventId::for_sweep(user, now.date_naive()),
            event_type: EventType::RescoreDue,
            user_id: user.clone(),
            user_version: version,
            at: now,
            changed_fields: vec![],
        }
    }
}

/// The fields of a client whose change means something to engagement. `version` and
/// `updated_at` are bookkeeping; scores and email statuses live outside the record,
/// so writing them can never feed back into the stream.
fn changed_fields(old: &Client, new: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |name: &str, changed: bool| {
        if changed {
            out.push(name.to_string());
        }
    };
    check("email", old.email != new.email);
    check("first_name", old.first_name != new.first_name);
    check("last_name", old.last_name != new.last_name);
    check("time_zone", old.time_zone != new.time_zone);
    check("consent", old.consent != new.consent);
    check("profile", old.profile != new.profile);
    let (a, b) = (&old.activity, &new.activity);
    check(
        "activity.logins",
        a.login_count != b.login_count || a.last_login_at != b.last_login_at,
    );
    check(
        "activity.orders",
        a.order_count != b.order_count || a.last_order_at != b.last_order_at,
    );
    let delivered =
        |f: &crate::client::ActivityFacts| f.fixes.iter().map(|x| x.id.clone()).collect::<Vec<_>>();
    check("activity.fixes", delivered(a) != delivered(b));
    // Feedback on the Fixes that have it: a new Fix delivered without feedback is not
    // feedback given.
    let feedback = |f: &crate::client::ActivityFacts| {
        f.fixes
            .iter()
            .filter(|x| x.feedback_at.is_some())
            .map(|x| (x.id.clone(), x.items_kept, x.rating))
            .collect::<Vec<_>>()
    };
    check("activity.feedback", feedback(a) != feedback(b));
    check(
        "activity.email",
        a.email_opens != b.email_opens || a.email_clicks != b.email_clicks,
    );
    out
}

/// The stream processor's one step: the event a change record means, if any.
pub fn event_for_change(change: &ChangeRecord) -> Option<Event> {
    let id = EventId::for_change(&change.seq);
    let (event_type, version, fields) = match (&change.old, &change.new) {
        (None, Some(new)) => (EventType::ClientCreated, new.version, vec![]),
        (Some(old), None) => (EventType::ClientDeleted, old.version, vec![]),
        (Some(old), Some(new)) => {
            let fields = changed_fields(old, new);
            let has = |f: &str| fields.iter().any(|x| x == f);
            // The most telling change names the event; all changed fields travel with it.
            let t = if has("consent") {
                EventType::ConsentChanged
            } else if has("activity.feedback") {
                EventType::FixFeedbackGiven
            } else if has("activity.fixes") {
                EventType::FixDelivered
            } else if has("activity.orders") {
                EventType::OrderPlaced
            } else if has("activity.logins") {
                EventType::LoginRecorded
            } else if has("activity.email") {
                EventType::EmailEngaged
            } else if has("profile") {
                EventType::ProfileUpdated
            } else if !fields.is_empty() {
                EventType::ContactUpdated
            } else {
                return None;
            };
            (t, new.version, fields)
        }
        (None, None) => return None,
    };
    Some(Event {
        id,
        event_type,
        user_id: change.user_id.clone(),
        user_version: version,
        at: change.committed_at,
        changed_fields: fields,
    })
}

/// One entry of a client's change log, as the API lists it: what the stream
/// processor made of one committed write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientChange {
    /// The change stream's sequence number.
    pub seq: u64,
    /// When the write committed.
    pub at: DateTime<Utc>,
    /// The event the write was published as; null for a write that changed nothing
    /// engagement reads (bookkeeping only), which publishes no event.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub event_type: Option<EventType>,
    /// The client's version after the write (for a deletion, the last version).
    pub version: u64,
    /// The fields the write changed (empty for a creation or deletion).
    pub changed_fields: Vec<String>,
}

impl ClientChange {
    /// The log entry of a change record, as [`event_for_change`] reads it.
    pub fn of(record: &ChangeRecord, seq: u64) -> Self {
        let version = record
            .new
            .as_ref()
            .or(record.old.as_ref())
            .map_or(0, |c| c.version);
        match event_for_change(record) {
            Some(e) => Self {
                seq,
                at: record.committed_at,
                event_type: Some(e.event_type),
                version: e.user_version,
                changed_fields: e.changed_fields,
            },
            None => Self {
                seq,
                at: record.committed_at,
                event_type: None,
                version,
                changed_fields: vec![],
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Activity, ClientPatchFields, NewClientFields};

    #[test]
    fn event_type_names_are_the_serde_names() {
        for t in <EventType as strum::VariantArray>::VARIANTS {
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json.as_str(), Some(t.as_str()));
        }
        assert_eq!(EventType::FixFeedbackGiven.as_str(), "fix_feedback_given");
    }

    fn client() -> Client {
        NewClientFields {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: None,
            time_zone: "UTC".into(),
            email_opt_in: true,
            profile: None,
        }
        .check()
        .unwrap()
        .into_client(UserId::from_string("usr_1"), Utc::now())
    }

    fn change(old: Option<Client>, new: Option<Client>) -> ChangeRecord {
        ChangeRecord {
            seq: "7".into(),
            user_id: UserId::from_string("usr_1"),
            old,
            new,
            committed_at: Utc::now(),
        }
    }

    #[test]
    fn creation_and_deletion_are_events() {
        let c = client();
        let e = event_for_change(&change(None, Some(c.clone()))).unwrap();
        assert_eq!(e.event_type, EventType::ClientCreated);
        assert_eq!(e.id, EventId::for_change("7"));
        let e = event_for_change(&change(Some(c), None)).unwrap();
        assert_eq!(e.event_type, EventType::ClientDeleted);
    }

    #[test]
    fn a_bookkeeping_only_change_is_no_event() {
        let old = client();
        let mut new = old.clone();
        new.version += 1;
        new.updated_at += chrono::Duration::seconds(1);
        assert_eq!(event_for_change(&change(Some(old), Some(new))), None);
    }

    #[test]
    fn a_log_entry_names_the_event_or_none_and_the_new_version() {
        let old = client();
        let mut quiet = old.clone();
        quiet.version = 2;
        let entry = ClientChange::of(&change(Some(old.clone()), Some(quiet)), 7);
        assert_eq!((entry.seq, entry.event_type, entry.version), (7, None, 2));
        let login = Activity::Login { at: None }
            .apply(old.clone(), Utc::now())
            .unwrap();
        let entry = ClientChange::of(&change(Some(old.clone()), Some(login.clone())), 8);
        assert_eq!(entry.event_type, Some(EventType::LoginRecorded));
        assert_eq!(entry.version, login.version);
        assert_eq!(entry.changed_fields, vec!["activity.logins"]);
        let gone = ClientChange::of(&change(Some(old), None), 9);
        assert_eq!(gone.event_type, Some(EventType::ClientDeleted));
        assert_eq!(gone.version, 1);
    }

    #[test]
    fn a_fix_delivered_is_not_feedback_and_feedback_is() {
        let old = client();
        let now = Utc::now();
        let delivered = Activity::FixDelivered {
            fix_id: "f1".into(),
            items_sent: 5,
            at: None,
        }
        .apply(old.clone(), now)
        .unwrap();
        let e = event_for_change(&change(Some(old), Some(delivered.clone()))).unwrap();
        assert_eq!(e.event_type, EventType::FixDelivered);
        assert_eq!(e.changed_fields, vec!["activity.fixes"]);

        let rated = Activity::FixFeedback {
            fix_id: "f1".into(),
            items_kept: 3,
            rating: Some(4),
            at: None,
        }
        .apply(delivered.clone(), now)
        .unwrap();
        let e = event_for_change(&change(Some(delivered), Some(rated))).unwrap();
        assert_eq!(e.event_type, EventType::FixFeedbackGiven);
        assert_eq!(e.changed_fields, vec!["activity.feedback"]);
    }

    #[test]
    fn the_most_telling_change_names_the_event() {
        let old = client();
        let now = Utc::now();
        let new = Activity::Login { at: None }
            .apply(old.clone(), now)
            .unwrap();
        let new = ClientPatchFields {
            email_opt_in: Some(false),
            ..Default::default()
        }
        .check()
        .unwrap()
        .apply(new, now);
        let e = event_for_change(&change(Some(old), Some(new))).unwrap();
        assert_eq!(e.event_type, EventType::ConsentChanged);
        assert_eq!(e.changed_fields, vec!["consent", "activity.logins"]);
    }
}
