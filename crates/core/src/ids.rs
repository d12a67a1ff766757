//! Opaque identifiers. Client ids are ULIDs (time-ordered, so lists page by id);
//! event, decision and email ids are *derived* from what caused them, which is what
//! makes redelivery harmless: the same change always yields the same event id, the
//! same event the same decision id, and the same (client, campaign, trigger) the same
//! email id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    hex::encode(&h.finalize()[..13])
}

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

impl DecisionId {
    pub fn for_event(event: &EventId) -> Self {
        Self(format!("dec_{}", digest(&[event.as_str()])))
    }
}

impl EmailId {
    pub fn derive(user: &UserId, campaign: &str, trigger: &EventId) -> Self {
        Self(format!(
            "eml_{}",
            digest(&[user.as_str(), campaign, trigger.as_str()])
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let u = UserId::from_string("usr_1");
        let e1 = EventId::for_change("42");
        let e2 = EventId::for_change("43");
        assert_eq!(
            EmailId::derive(&u, "welcome", &e1),
            EmailId::derive(&u, "welcome", &e1)
        );
        assert_ne!(
            EmailId::derive(&u, "welcome", &e1),
            EmailId::derive(&u, "welcome", &e2)
        );
        assert_ne!(
            EmailId::derive(&u, "welcome", &e1),
            EmailId::derive(&u, "win_back", &e1)
        );
        assert_eq!(DecisionId::for_event(&e1), DecisionId::for_event(&e1));
    }

    #[test]
    fn generated_user_ids_sort_by_creation() {
        let ids: Vec<UserId> = (0..1000).map(|_| UserId::generate()).collect();
        for w in ids.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
    }
}
