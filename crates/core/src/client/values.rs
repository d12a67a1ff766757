//! The values a client is made of that parse: an [`EmailAddress`] a provider will
//! take, and an IANA [`TimeZone`].

use crate::ValidationError;
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A syntactically valid email address (RFC 5321/5322 as `email_address` reads them),
/// kept as given but compared case-insensitively by the store.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, format = "email"))]
#[serde(transparent)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.len() > 254 {
            return Err(ValidationError::new(
                "email",
                "is longer than 254 characters",
            ));
        }
        // `email_address` accepts display-name forms and quoted locals; engage wants
        // a bare mailbox a provider will take.
        if s.contains(['<', '>', ' ', '"']) || !s.contains('@') {
            return Err(ValidationError::new(
                "email",
                format!("`{s}` is not an email address"),
            ));
        }
        if !email_address::EmailAddress::is_valid(s) {
            return Err(ValidationError::new(
                "email",
                format!("`{s}` is not an email address"),
            ));
        }
        let domain = s.rsplit('@').next().unwrap_or_default();
        if !domain.contains('.') && domain != "localhost" {
            return Err(ValidationError::new("email", "the domain has no dot"));
        }
        Ok(Self(s.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The form used for uniqueness: addresses differing only in case are one client.
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Debug for EmailAddress {
    // Personal data stays out of debug output that may reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for EmailAddress {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// An IANA time zone name such as `Europe/Paris`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeZone(chrono_tz::Tz);

impl TimeZone {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        s.trim().parse::<chrono_tz::Tz>().map(Self).map_err(|_| {
            ValidationError::new("time_zone", format!("`{s}` is not an IANA time zone name"))
        })
    }
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }
    pub fn name(&self) -> &'static str {
        self.0.name()
    }
}

impl Serialize for TimeZone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for TimeZone {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for TimeZone {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("IANA time zone name"))
            .examples([serde_json::json!("Europe/Paris")])
            .into()
    }
}
#[cfg(feature = "openapi")]
impl utoipa::ToSchema for TimeZone {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses_are_parsed() {
        assert!(EmailAddress::parse("ada@example.com").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "Ada <ada@example.com>",
            "a b@example.com",
            "ada@example",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn time_zones_must_be_iana_names() {
        assert_eq!(
            TimeZone::parse("America/New_York").unwrap().name(),
            "America/New_York"
        );
        assert!(TimeZone::parse("Mars/Olympus").is_err());
        assert!(TimeZone::parse("+02:00").is_err());
    }
}
