//! Lists: the `{"items", "next_cursor"}` body and the checks on the query parameters
//! every list shares (`limit`, `cursor`) or some share (`tier`, `status`).

use crate::error::ApiError;
use engage_core::email::EmailStatus;
use engage_core::score::Tier;
use serde::{Deserialize, Serialize};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;
/// Cursors are opaque store tokens; nothing legitimate is longer than this.
const MAX_CURSOR_LEN: usize = 1024;

/// One page of a list; pass `next_cursor` as `cursor` for the next (null on the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

impl<T> From<engage_core::ports::Page<T>> for Page<T> {
    fn from(p: engage_core::ports::Page<T>) -> Self {
        Self {
            items: p.items,
            next_cursor: p.next_cursor,
        }
    }
}

/// `limit`: 1 to [`MAX_LIMIT`], [`DEFAULT_LIMIT`] when absent.
pub fn limit(raw: Option<u32>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_param(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}, not {n}"),
        )),
    }
}

/// `cursor`: passed to the store as given; an empty one means the first page.
pub fn cursor(raw: Option<String>) -> Result<Option<String>, ApiError> {
    match raw {
        None => Ok(None),
        Some(c) if c.is_empty() => Ok(None),
        Some(c) if c.len() > MAX_CURSOR_LEN || !c.bytes().all(|b| b.is_ascii_graphic()) => Err(
            ApiError::bad_param("cursor", "not a cursor this API returned"),
        ),
        Some(c) => Ok(Some(c)),
    }
}

/// `tier`: one of the tier names, or absent/empty for all.
pub fn tier(raw: Option<&str>) -> Result<Option<Tier>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => Tier::parse(s).map(Some).ok_or_else(|| {
            let valid: Vec<&str> = Tier::ALL.iter().map(Tier::as_str).collect();
            ApiError::bad_param(
                "tier",
                format!("`{s}` is not a tier; valid tiers: {}", valid.join(", ")),
            )
        }),
    }
}

/// `status`: one of the email statuses, or absent/empty for all.
pub fn email_status(raw: Option<&str>) -> Result<Option<EmailStatus>, ApiError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => EmailStatus::parse(s).map(Some).ok_or_else(|| {
            let valid: Vec<&str> = EmailStatus::ALL.iter().map(EmailStatus::as_str).collect();
            ApiError::bad_param(
                "status",
                format!(
                    "`{s}` is not an email status; valid statuses: {}",
                    valid.join(", ")
                ),
            )
        }),
    }
}

/// A free-text filter: trimmed, empty means none, bounded in length.
pub fn text_filter(
    field: &str,
    raw: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, ApiError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max_chars || s.chars().any(char::is_control) => {
            Err(ApiError::bad_param(
                field,
                format!("{field} is at most {max_chars} characters, without control characters"),
            ))
        }
        Some(s) => Ok(Some(s.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::BadRequest { field: Some(f), .. } => f,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn limit_defaults_to_50_and_allows_1_to_200() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some(1)).unwrap(), 1);
        assert_eq!(limit(Some(200)).unwrap(), 200);
        assert_eq!(field_of(limit(Some(201)).unwrap_err()), "limit");
        assert_eq!(field_of(limit(Some(0)).unwrap_err()), "limit");
    }

    #[test]
    fn tier_parses_names_and_lists_the_valid_ones_when_wrong() {
        assert_eq!(tier(None).unwrap(), None);
        assert_eq!(tier(Some("")).unwrap(), None);
        assert_eq!(tier(Some("at_risk")).unwrap(), Some(Tier::AtRisk));
        match tier(Some("gold")).unwrap_err() {
            ApiError::BadRequest { field, detail } => {
                assert_eq!(field.as_deref(), Some("tier"));
                for t in Tier::ALL {
                    assert!(detail.contains(t.as_str()), "{detail}");
                }
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_parses_names_and_lists_the_valid_ones_when_wrong() {
        assert_eq!(email_status(Some("sent")).unwrap(), Some(EmailStatus::Sent));
        match email_status(Some("lost")).unwrap_err() {
            ApiError::BadRequest { field, detail } => {
                assert_eq!(field.as_deref(), Some("status"));
                assert!(detail.contains("scheduled") && detail.contains("cancelled"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn cursors_pass_through_unless_absurd() {
        assert_eq!(cursor(None).unwrap(), None);
        assert_eq!(cursor(Some(String::new())).unwrap(), None);
        assert_eq!(
            cursor(Some("usr_01abc".into())).unwrap().as_deref(),
            Some("usr_01abc")
        );
        assert_eq!(field_of(cursor(Some("a b".into())).unwrap_err()), "cursor");
        assert_eq!(
            field_of(cursor(Some("x".repeat(2000))).unwrap_err()),
            "cursor"
        );
    }

    #[test]
    fn text_filters_are_trimmed_and_bounded() {
        assert_eq!(
            text_filter("q", Some("  ada ".into()), 10)
                .unwrap()
                .as_deref(),
            Some("ada")
        );
        assert_eq!(text_filter("q", Some("   ".into()), 10).unwrap(), None);
        assert_eq!(
            field_of(text_filter("q", Some("x".repeat(11)), 10).unwrap_err()),
            "q"
        );
    }
}
