//! The prompt: what the model is told, built only from what it needs. The client's
//! email address, surname and anything else personal never enter it.

use engage_core::compose::ComposeRequest;
use serde_json::{Value, json};

/// Bumped whenever the wording or the schema changes, and recorded with each email.
pub const PROMPT_VERSION: &str = "2026-11-29.1";

/// The brand voice used when none is configured.
pub const DEFAULT_VOICE: &str = "Warm, concise and personal, like a stylist who knows the client. No pressure, no exclamation-mark overload, no discount promises.";

/// The system and user messages for one email.
pub fn messages(request: &ComposeRequest, voice: &str) -> Vec<Value> {
    let system = format!(
        "You write one short engagement email for a personal-styling subscription (clients receive boxes of clothes called Fixes).\n\
         Brand voice: {voice}\n\
         Rules: plain text with at most **bold**, *italic* and lines starting with \"- \" for a list; \
         no HTML, no links, no URLs, no placeholders in braces or brackets; \
         address the client by first name; subject at most 80 characters; preheader at most 120 characters; \
         body 40 to 1200 characters in two to four short paragraphs separated by blank lines; \
         do not add a signature block, footer or unsubscribe text (those are added for you).\n\
         Answer with a JSON object with the string fields subject, preheader and body."
    );
    let d = &request.drivers;
    let mut facts = vec![
        format!("First name: {}", request.first_name),
        format!(
            "Engagement score: {} of 100 (tier: {:?})",
            request.score, request.tier
        ),
        format!("Weakest part of their engagement: {}", d.weakest),
        format!("Fixes delivered so far: {}", d.fixes_delivered),
        format!("Usual days between Fixes: {:.0}", d.cadence_days),
    ];
    if let Some(days) = d.days_since_last_fix {
        facts.push(format!("Days since their last Fix: {days}"));
    }
    if let Some(days) = d.days_since_last_activity {
        facts.push(format!("Days since they last used the site: {days}"));
    }
    if let Some(rate) = d.keep_rate {
        facts.push(format!("Share of items kept: {:.0} %", rate * 100.0));
    }
    if !request.preferences.is_empty() {
        facts.push(format!(
            "Style preferences: {}",
            request.preferences.join(", ")
        ));
    }
    let user = format!(
        "Campaign: {}\nWhat this email should do: {}\n\nAbout the client:\n- {}",
        request.campaign.name,
        request.campaign.instructions,
        facts.join("\n- ")
    );
    vec![
        json!({"role": "system", "content": system}),
        json!({"role": "user", "content": user}),
    ]
}

/// The strict JSON schema of the answer (OpenAI structured outputs).
pub fn response_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "subject": {"type": "string", "description": "The subject line, at most 80 characters."},
            "preheader": {"type": "string", "description": "The inbox preview line, at most 120 characters."},
            "body": {"type": "string", "description": "The plain-text body, paragraphs separated by blank lines."}
        },
        "required": ["subject", "preheader", "body"],
        "additionalProperties": false
    })
}
