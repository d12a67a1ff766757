//! Composition: what a generator is asked, what it must give back, the guards every
//! piece of content passes, and the HTML engage renders from the text itself (never
//! HTML from a generator).

use crate::campaign::Campaign;
use crate::score::{Drivers, Tier};
use serde::{Deserialize, Serialize};

/// Everything a generator may know about the client: no address, no surname.
#[derive(Debug, Clone)]
pub struct ComposeRequest {
    pub campaign: Campaign,
    pub first_name: String,
    pub preferences: Vec<String>,
    pub tier: Tier,
    pub score: u8,
    pub drivers: Drivers,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub subject: String,
    pub preheader: String,
    pub body_text: String,
}

/// Content and who wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub content: Content,
    /// `template` or `llm:<model>`.
    pub generator: String,
    /// How a model wrote it; `None` for the template.
    pub generation: Option<Generation>,
    /// Why the configured generator's content was not used (the template stood in).
    pub fallback_reason: Option<String>,
}

/// The accounting of one LLM-written email: recorded with the email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Generation {
    pub model: String,
    pub prompt_version: String,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// From the first request to the accepted answer, retries and waits included.
    pub latency_ms: u64,
    /// Requests made, the successful one included.
    pub attempts: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("guard `{guard}` failed: {detail}")]
pub struct GuardFailure {
    pub guard: &'static str,
    pub detail: String,
}

fn fail(guard: &'static str, detail: impl Into<String>) -> Result<(), GuardFailure> {
    Err(GuardFailure {
        guard,
        detail: detail.into(),
    })
}

/// The checks all content passes before it is recorded, whoever wrote it.
pub fn guard(c: &Content) -> Result<(), GuardFailure> {
    let subject_len = c.subject.chars().count();
    if subject_len == 0 || subject_len > 120 {
        return fail(
            "subject_length",
            format!("{subject_len} characters, want 1–120"),
        );
    }
    if c.preheader.chars().count() > 200 {
        return fail("preheader_length", "over 200 characters");
    }
    let body_len = c.body_text.chars().count();
    if !(20..=6000).contains(&body_len) {
        return fail(
            "body_length",
            format!("{body_len} characters, want 20–6000"),
        );
    }
    for (part, text) in [
        ("subject", &c.subject),
        ("preheader", &c.preheader),
        ("body", &c.body_text),
    ] {
        if let Some(p) = unresolved_placeholder(text) {
            return fail("placeholder", format!("unresolved `{p}` in the {part}"));
        }
        if text
            .chars()
            .any(|ch| ch.is_control() && ch != '\n' && ch != '\t')
        {
            return fail("control_characters", format!("in the {part}"));
        }
    }
    if c.subject.contains('\n') || c.preheader.contains('\n') {
        return fail("single_line", "subject and preheader are one line");
    }
    Ok(())
}

fn unresolved_placeholder(text: &str) -> Option<&str> {
    for (open, close) in [("{", "}"), ("[", "]")] {
        let mut rest = text;
        while let Some(i) = rest.find(open) {
            let after = &rest[i + 1..];
            let Some(j) = after.find(close) else { break };
            let inner = &after[..j];
            let looks_like_placeholder = !inner.is_empty()
                && inner.len() <= 40
                && inner
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ' ')
                && (open == "{"
                    || inner
                        .chars()
                        .all(|c| c.is_ascii_uppercase() || c == '_' || c == ' '));
            if looks_like_placeholder {
                return Some(&rest[i..i + 1 + j + 1]);
            }
            rest = &after[j + 1..];
        }
    }
    None
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// HTML for a text body: every character escaped, blank lines make paragraphs, single
/// newlines make line breaks. Nothing in the text can become markup.
pub fn render_html(body_text: &str) -> String {
    body_text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br>\n")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(subject: &str, body: &str) -> Content {
        Content {
            subject: subject.into(),
            preheader: String::new(),
            body_text: body.into(),
        }
    }

    #[test]
    fn good_content_passes() {
        assert_eq!(
            guard(&content(
                "Hello Ada",
                "Hi Ada,\n\nYour next Fix is waiting."
            )),
            Ok(())
        );
    }

    #[test]
    fn placeholders_and_bad_lengths_fail() {
        let body = "Hi {first_name}, your next Fix is waiting.";
        assert_eq!(
            guard(&content("Hello", body)).unwrap_err().guard,
            "placeholder"
        );
        assert_eq!(
            guard(&content("Hi [NAME]", "Your next Fix is waiting for you."))
                .unwrap_err()
                .guard,
            "placeholder"
        );
        assert_eq!(
            guard(&content("", "Your next Fix is waiting for you."))
                .unwrap_err()
                .guard,
            "subject_length"
        );
        assert_eq!(
            guard(&content("Hi", "short")).unwrap_err().guard,
            "body_length"
        );
    }

    #[test]
    fn html_is_escaped_and_paragraphed() {
        let html = render_html("Hi <b>Ada</b> & co,\n\nline one\nline two");
        assert_eq!(
            html,
            "<p>Hi &lt;b&gt;Ada&lt;/b&gt; &amp; co,</p>\n<p>line one<br>\nline two</p>"
        );
    }
}
