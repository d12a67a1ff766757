//! The checks every free-text field of a client passes: trimmed, bounded, and free of
//! the characters that would let stored text pass for something else in a prompt or
//! a header.

use crate::ValidationError;

pub(super) fn check_optional_text(
    field: &str,
    v: &mut Option<String>,
    max: usize,
) -> Result<(), ValidationError> {
    if let Some(s) = v {
        let t = s.trim();
        if t.is_empty() {
            *v = None;
        } else if t.chars().count() > max {
            return Err(ValidationError::new(
                field,
                format!("at most {max} characters"),
            ));
        } else {
            *s = t.to_string();
        }
    }
    Ok(())
}

/// Control characters (newlines among them: a stored value must not be able to start
/// a line of its own in a prompt or a header) and the invisible bidirectional
/// overrides and isolates that make text read otherwise than it is stored.
pub(super) fn has_hidden_characters(s: &str) -> bool {
    s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
}

/// A short text field is one line of visible characters.
pub(super) fn check_one_line(field: &str, v: &Option<String>) -> Result<(), ValidationError> {
    match v {
        Some(s) if has_hidden_characters(s) => Err(ValidationError::new(
            field,
            "no control characters (line breaks, tabs) or direction overrides",
        )),
        _ => Ok(()),
    }
}

pub(super) fn check_name(field: &str, s: &str) -> Result<String, ValidationError> {
    let t = s.trim();
    if t.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if t.chars().count() > 100 || has_hidden_characters(t) {
        return Err(ValidationError::new(
            field,
            "at most 100 characters, no control characters",
        ));
    }
    Ok(t.to_string())
}
