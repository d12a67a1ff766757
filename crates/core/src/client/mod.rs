//! The client record and the values it is made of. Constructors parse: once an
//! `EmailAddress` or `TimeZone` exists it is valid, so nothing downstream re-checks.
//!
//! - `values`: the parsed values, [`EmailAddress`] and [`TimeZone`];
//! - `profile`: the [`StyleProfile`] the stylists work from;
//! - `text`: the checks every free-text field passes;
//! - `activity`: what the client did ([`Activity`]) and the facts kept of it
//!   ([`ActivityFacts`], [`Fix`]);
//! - `input`: the inputs of a client's writes as given ([`NewClientFields`],
//!   [`ClientPatchFields`]) and as checked ([`NewClient`], [`ClientPatch`]).

mod activity;
mod input;
mod profile;
mod text;
mod values;

pub use activity::{Activity, ActivityFacts, Fix};
pub use input::{ClientPatch, ClientPatchFields, NewClient, NewClientFields};
pub use profile::StyleProfile;
pub use values::{EmailAddress, TimeZone};

use crate::ids::UserId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether the client may be emailed. Both must allow it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Consent {
    pub email_opt_in: bool,
    #[serde(default)]
    pub unsubscribed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unsubscribed_at: Option<DateTime<Utc>>,
}

/// The client record as stored. `version` increases by one on every write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Client {
    pub id: UserId,
    pub email: EmailAddress,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    pub time_zone: TimeZone,
    pub consent: Consent,
    #[serde(default)]
    pub profile: StyleProfile,
    #[serde(default)]
    pub activity: ActivityFacts,
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new opted-in client in London, as the unit tests start from.
#[cfg(test)]
fn new_client() -> Client {
    NewClientFields {
        email: "ada@example.com".into(),
        first_name: " Ada ".into(),
        last_name: None,
        time_zone: "Europe/London".into(),
        email_opt_in: true,
        profile: None,
    }
    .check()
    .unwrap()
    .into_client(UserId::from_string("usr_1"), Utc::now())
}
