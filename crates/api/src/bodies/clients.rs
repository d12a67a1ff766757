//! The bodies that create and change a client, and the style profile both carry.

use super::TryIntoDomain;
use engage_core::ValidationError;
use engage_core::client::{
    ClientPatch, ClientPatchFields, NewClient, NewClientFields, StyleProfile,
};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

/// The body of `POST /api/v1/users`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(expecting = "struct NewClient", deny_unknown_fields)]
#[schema(as = NewClient)]
pub(crate) struct NewClientBody {
    pub email: String,
    pub first_name: String,
    #[serde(default)]
    pub last_name: Option<String>,
    pub time_zone: String,
    pub email_opt_in: bool,
    #[serde(default)]
    pub profile: Option<StyleProfileBody>,
}

impl TryIntoDomain for NewClientBody {
    type Domain = NewClient;

    fn try_into_domain(self) -> Result<NewClient, ValidationError> {
        NewClientFields {
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            time_zone: self.time_zone,
            email_opt_in: self.email_opt_in,
            profile: self.profile.map(StyleProfile::from),
        }
        .check()
    }
}

/// The body of `PATCH /api/v1/users/{id}`: every field optional; `version` (or an
/// `If-Match` header) says which version the change was made against.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(expecting = "struct ClientPatch", deny_unknown_fields)]
#[schema(as = ClientPatch)]
pub(crate) struct ClientPatchBody {
    #[serde(default)]
    pub version: Option<u64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    // Absent leaves the last name as it is; `null` clears it. (A doc comment here
    // would change the published document.)
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub email_opt_in: Option<bool>,
    /// `false` re-subscribes a client who unsubscribed; `true` unsubscribes.
    #[serde(default)]
    pub unsubscribed: Option<bool>,
    /// Replaces the whole style profile.
    #[serde(default)]
    pub profile: Option<StyleProfileBody>,
}

/// A field that is present, `null` or not: an absent one is `None` (by
/// `#[serde(default)]`, which this is never called for).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

impl TryIntoDomain for ClientPatchBody {
    type Domain = ClientPatch;

    fn try_into_domain(self) -> Result<ClientPatch, ValidationError> {
        ClientPatchFields {
            version: self.version,
            email: self.email,
            first_name: self.first_name,
            last_name: self.last_name,
            time_zone: self.time_zone,
            email_opt_in: self.email_opt_in,
            unsubscribed: self.unsubscribed,
            profile: self.profile.map(StyleProfile::from),
        }
        .check()
    }
}

/// The style profile the stylists work from.
// Fields it does not know are ignored, as they always were.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(expecting = "struct StyleProfile")]
#[schema(as = StyleProfile)]
pub(crate) struct StyleProfileBody {
    /// Styles the client likes, e.g. `minimal`, `boho`, `workwear`.
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

/// Not checked yet: the profile is checked with the rest of the client's fields.
impl From<StyleProfileBody> for StyleProfile {
    fn from(p: StyleProfileBody) -> Self {
        StyleProfile {
            preferences: p.preferences,
            top_size: p.top_size,
            bottom_size: p.bottom_size,
            shoe_size: p.shoe_size,
            budget: p.budget,
            fit_notes: p.fit_notes,
        }
    }
}
