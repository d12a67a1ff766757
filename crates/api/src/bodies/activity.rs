//! The body of `POST /api/v1/users/{id}/activity`.

use super::TryIntoDomain;
use chrono::{DateTime, Utc};
use engage_core::ValidationError;
use engage_core::client::Activity;
use serde::Deserialize;
use utoipa::ToSchema;

/// Something the client did, as recorded by `POST /api/v1/users/{id}/activity`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    deny_unknown_fields,
    expecting = "internally tagged enum Activity"
)]
#[schema(as = Activity)]
pub(crate) enum ActivityBody {
    Login {
        #[serde(default)]
        at: Option<DateTime<Utc>>,
    },
    Order {
        #[serde(default)]
        at: Option<DateTime<Utc>>,
    },
    FixDelivered {
        #[serde(default)]
        at: Option<DateTime<Utc>>,
        fix_id: String,
        items_sent: u8,
    },
    FixFeedback {
        #[serde(default)]
        at: Option<DateTime<Utc>>,
        fix_id: String,
        items_kept: u8,
        #[serde(default)]
        rating: Option<u8>,
    },
    EmailOpened {
        #[serde(default)]
        at: Option<DateTime<Utc>>,
    },
    EmailClicked {
        #[serde(default)]
        at: Option<DateTime<Utc>>,
    },
}

impl TryIntoDomain for ActivityBody {
    type Domain = Activity;

    /// Refuses nothing: what an activity may be depends on the client it is recorded
    /// for (a Fix's feedback needs the Fix delivered), so [`Activity::apply`] checks it.
    fn try_into_domain(self) -> Result<Activity, ValidationError> {
        Ok(match self {
            ActivityBody::Login { at } => Activity::Login { at },
            ActivityBody::Order { at } => Activity::Order { at },
            ActivityBody::FixDelivered {
                at,
                fix_id,
                items_sent,
            } => Activity::FixDelivered {
                at,
                fix_id,
                items_sent,
            },
            ActivityBody::FixFeedback {
                at,
                fix_id,
                items_kept,
                rating,
            } => Activity::FixFeedback {
                at,
                fix_id,
                items_kept,
                rating,
            },
            ActivityBody::EmailOpened { at } => Activity::EmailOpened { at },
            ActivityBody::EmailClicked { at } => Activity::EmailClicked { at },
        })
    }
}
