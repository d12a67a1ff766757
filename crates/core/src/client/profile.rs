//! The style profile the stylists work from, and the checks it passes before it is
//! stored.

use super::text::{check_one_line, check_optional_text, has_hidden_characters};
use crate::ValidationError;
use serde::{Deserialize, Serialize};

/// The style profile the stylists work from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StyleProfile {
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

impl StyleProfile {
    /// Percentage of the profile's six parts that are filled in.
    pub fn completeness(&self) -> u8 {
        let filled = [
            !self.preferences.is_empty(),
            self.top_size.is_some(),
            self.bottom_size.is_some(),
            self.shoe_size.is_some(),
            self.budget.is_some(),
            self.fit_notes.is_some(),
        ]
        .iter()
        .filter(|f| **f)
        .count();
        (filled * 100 / 6) as u8
    }

    pub(super) fn validate(&mut self) -> Result<(), ValidationError> {
        if self.preferences.len() > 20 {
            return Err(ValidationError::new(
                "profile.preferences",
                "at most 20 preferences",
            ));
        }
        for p in &mut self.preferences {
            *p = p.trim().to_string();
            if p.is_empty() || p.len() > 40 || has_hidden_characters(p) {
                return Err(ValidationError::new(
                    "profile.preferences",
                    "each preference is 1 to 40 characters, with no control characters",
                ));
            }
        }
        for (name, v) in [
            ("profile.top_size", &mut self.top_size),
            ("profile.bottom_size", &mut self.bottom_size),
            ("profile.shoe_size", &mut self.shoe_size),
            ("profile.budget", &mut self.budget),
        ] {
            check_optional_text(name, v, 40)?;
            check_one_line(name, v)?;
        }
        // Notes may run over lines; the prompt carries them escaped, as data.
        check_optional_text("profile.fit_notes", &mut self.fit_notes, 500)
    }
}
