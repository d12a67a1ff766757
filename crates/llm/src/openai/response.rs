//! A chat completion read into an email's content: the first choice's JSON answer,
//! unwrapped from a code fence if need be; a refusal or anything else is refused.

use super::retry::Failure;
use engage_core::compose::Content;
use serde::Deserialize;

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Deserialize, Default, Clone, Copy)]
pub(super) struct Usage {
    #[serde(default)]
    pub(super) prompt_tokens: u64,
    #[serde(default)]
    pub(super) completion_tokens: u64,
}

/// A usable answer: its content, its token usage and the text as the model wrote it.
pub(super) struct Answered {
    pub(super) content: Content,
    pub(super) usage: Usage,
    pub(super) raw: String,
}

#[derive(Deserialize)]
struct Answer {
    subject: String,
    preheader: String,
    body: String,
}

/// The content and usage of a successful completion, or why it is unusable.
pub(super) fn parse_completion(text: &str) -> Result<Answered, Failure> {
    let refuse = |detail: String| Failure {
        kind: "malformed_output",
        detail,
        retry: false,
        wait: None,
    };
    let completion: Completion =
        serde_json::from_str(text).map_err(|e| refuse(format!("not a chat completion: {e}")))?;
    let usage = completion.usage.unwrap_or_default();
    let message = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| refuse("no choices".into()))?
        .message;
    if let Some(r) = message.refusal.filter(|r| !r.is_empty()) {
        return Err(Failure {
            kind: "model_refusal",
            detail: r.chars().take(300).collect(),
            retry: false,
            wait: None,
        });
    }
    let raw = message.content.unwrap_or_default();
    let answer: Answer = serde_json::from_str(strip_fences(&raw)).map_err(|e| {
        let snippet: String = raw.chars().take(200).collect();
        refuse(format!(
            "the answer is not the JSON asked for: {e}; it began `{snippet}`"
        ))
    })?;
    Ok(Answered {
        content: Content {
            subject: answer.subject.trim().to_string(),
            preheader: answer.preheader.trim().to_string(),
            body_text: answer.body.trim().to_string(),
        },
        usage,
        raw,
    })
}

/// Some JSON-mode servers wrap the object in a Markdown code fence.
fn strip_fences(s: &str) -> &str {
    let t = s.trim();
    t.strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|r| r.strip_suffix("```"))
        .map(str::trim)
        .unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_json_answers_are_unwrapped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
    }
}
