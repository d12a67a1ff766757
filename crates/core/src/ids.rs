//! Opaque identifiers. Client ids are ULIDs (time-ordered, so lists page by id);
//! event, decision and email ids are *derived* from what caused them, which is what
//! makes redelivery harmless: the same change always yields the same event id, the
//! same event the same decision id, and the same (campaign, trigger) the same email id.
//!
//! Derived ids keep their cause's order: an event id carries its change's sequence
//! number, and the decision and email ids carry the event's. Stored ids that follow
//! the change stream's order are appended to their indexes; hashed ids (as these were
//! at first) land on a random page each, and at thousands of decisions a second those
//! random page writes were most of what the database wrote.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String))]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id read back from storage or from a URL. Ids are opaque: no
            /// check beyond non-emptiness is made, a lookup of an unknown id finds nothing.
            pub fn from_string(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

id_type!(
    /// A client's id.
    UserId
);
id_type!(
    /// An event's id, derived from the change record that produced it.
    EventId
);
id_type!(
    /// A decision's id, derived from the event it decided on.
    DecisionId
);
id_type!(
    /// An email's id, derived from (client, campaign, trigger event).
    EmailId
);

impl UserId {
    /// A new client id: a ULID from one monotonic generator, so ids sort in creation
    /// order even within a millisecond and lists can page by id.
    pub fn generate() -> Self {
        static GENERATOR: std::sync::Mutex<ulid::Generator> =
            std::sync::Mutex::new(ulid::Generator::new());
        let id = GENERATOR
            .lock()
            .expect("id generator")
            .generate()
            .unwrap_or_else(|_| ulid::Ulid::new());
        Self(format!("usr_{}", id.to_string().to_lowercase()))
    }
}

impl EventId {
    /// The event id for change `source_seq` of a change stream. A replayed change
    /// yields the same id.
    pub fn for_change(source_seq: &str) -> Self {
        Self(format!("evt_{source_seq}"))
    }
    /// The id of the scheduler's time-based rescoring event for a client on a given
    /// day: at most one per client per day, however often the sweep runs.
    pub fn for_sweep(user: &UserId, day: chrono::NaiveDate) -> Self {
        Self(format!(
            "evt_sweep_{}_{}",
            user.as_str(),
            day.format("%Y%m%d")
        ))
    }
}

impl EventId {
    /// The event id without its `evt_` prefix: what ids derived from it carry.
    fn suffix(&self) -> &str {
        self.0.strip_prefix("evt_").unwrap_or(&self.0)
    }
}

impl DecisionId {
    /// One decision per event, so the event's id (re-prefixed) identifies it.
    pub fn for_event(event: &EventId) -> Self {
        Self(format!("dec_{}", event.suffix()))
    }
}

impl EmailId {
    /// At most one email per campaign for a trigger event. An event is about one
    /// client, so the client needs no place in the id.
    pub fn derive(campaign: &str, trigger: &EventId) -> Self {
        Self(format!("eml_{}_{campaign}", trigger.suffix()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let e1 = EventId::for_change("42");
        let e2 = EventId::for_change("43");
        assert_eq!(
            EmailId::derive("welcome", &e1),
            EmailId::derive("welcome", &e1)
        );
        assert_ne!(
            EmailId::derive("welcome", &e1),
            EmailId::derive("welcome", &e2)
        );
        assert_ne!(
            EmailId::derive("welcome", &e1),
            EmailId::derive("win_back", &e1)
        );
        assert_eq!(DecisionId::for_event(&e1), DecisionId::for_event(&e1));
        assert_ne!(DecisionId::for_event(&e1), DecisionId::for_event(&e2));
        let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let sweep = EventId::for_sweep(&UserId::from_string("usr_1"), day);
        assert_ne!(DecisionId::for_event(&sweep), DecisionId::for_event(&e1));
    }

    #[test]
    fn derived_ids_follow_the_change_streams_order() {
        // Changes 1000..1999 share a length, so their ids sort as their numbers do:
        // each new decision or email is appended to its index.
        let ids: Vec<(DecisionId, EmailId)> = (1000..2000)
            .map(|seq| {
                let e = EventId::for_change(&seq.to_string());
                (DecisionId::for_event(&e), EmailId::derive("welcome", &e))
            })
            .collect();
        for w in ids.windows(2) {
            assert!(w[0].0 < w[1].0 && w[0].1 < w[1].1, "{:?}", w);
        }
        assert_eq!(ids[0].0.as_str(), "dec_1000");
        assert_eq!(ids[0].1.as_str(), "eml_1000_welcome");
    }

    #[test]
    fn generated_user_ids_sort_by_creation() {
        let ids: Vec<UserId> = (0..1000).map(|_| UserId::generate()).collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
    }
}
