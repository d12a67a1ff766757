//! The client an NDJSON line describes: the import file's own shape, so the file
//! format stays as it is when the domain's types change.

use crate::client::{NewClientFields, StyleProfile};
use serde::Deserialize;

/// One NDJSON line: a client, unknown fields refused. Serde's messages name the type
/// a value was expected to be (`expected struct NewClient`): `expecting` keeps the
/// names the messages of a refused line always had.
#[derive(Debug, Clone, Deserialize)]
#[serde(expecting = "struct NewClient", deny_unknown_fields)]
pub(super) struct ClientRow {
    email: String,
    first_name: String,
    #[serde(default)]
    last_name: Option<String>,
    time_zone: String,
    email_opt_in: bool,
    #[serde(default)]
    profile: Option<ProfileRow>,
}

/// The style profile of a line. Fields it does not know are ignored, as they always
/// were.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(expecting = "struct StyleProfile")]
struct ProfileRow {
    #[serde(default)]
    preferences: Vec<String>,
    #[serde(default)]
    top_size: Option<String>,
    #[serde(default)]
    bottom_size: Option<String>,
    #[serde(default)]
    shoe_size: Option<String>,
    #[serde(default)]
    budget: Option<String>,
    #[serde(default)]
    fit_notes: Option<String>,
}

impl From<ClientRow> for NewClientFields {
    fn from(r: ClientRow) -> Self {
        NewClientFields {
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            time_zone: r.time_zone,
            email_opt_in: r.email_opt_in,
            profile: r.profile.map(|p| StyleProfile {
                preferences: p.preferences,
                top_size: p.top_size,
                bottom_size: p.bottom_size,
                shoe_size: p.shoe_size,
                budget: p.budget,
                fit_notes: p.fit_notes,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(json: &str) -> Result<NewClientFields, String> {
        serde_json::from_str::<ClientRow>(json)
            .map(NewClientFields::from)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn a_line_becomes_the_fields_of_a_new_client_unchecked() {
        let fields = row(
            r#"{"email":" a@example.com","first_name":" A ","time_zone":"UTC",
            "email_opt_in":false,"profile":{"top_size":"M","preferences":["boho"]}}"#,
        )
        .unwrap();
        assert_eq!(fields.email, " a@example.com");
        assert_eq!(fields.first_name, " A ", "checked later, by `check`");
        assert_eq!(fields.last_name, None);
        assert!(!fields.email_opt_in);
        let profile = fields.profile.unwrap();
        assert_eq!(profile.top_size.as_deref(), Some("M"));
        assert_eq!(profile.preferences, ["boho"]);
    }

    #[test]
    fn unknown_fields_of_a_line_are_refused_and_of_its_profile_ignored() {
        let e = row(
            r#"{"email":"a@example.com","first_name":"A","time_zone":"UTC",
            "email_opt_in":true,"nickname":"x"}"#,
        )
        .unwrap_err();
        assert!(e.starts_with("unknown field `nickname`"), "{e}");
        let fields = row(
            r#"{"email":"a@example.com","first_name":"A","time_zone":"UTC",
            "email_opt_in":true,"profile":{"colour":"red"}}"#,
        )
        .unwrap();
        assert_eq!(fields.profile.unwrap(), StyleProfile::default());
        let e = row("3").unwrap_err();
        assert!(e.contains("expected struct NewClient"), "{e}");
        let e = row(
            r#"{"email":"a@example.com","first_name":"A","time_zone":"UTC",
            "email_opt_in":true,"profile":"tall"}"#,
        )
        .unwrap_err();
        assert!(e.contains("expected struct StyleProfile"), "{e}");
    }
}
