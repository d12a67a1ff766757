//! The optional moderation of every answer: an OpenAI-format `/moderations` endpoint
//! asked about the content before it is used.

use super::{Moderation, OpenAiGenerator};
use engage_core::compose::Content;
use engage_core::ports::ComposeError;
use serde::Deserialize;
use serde_json::json;

impl OpenAiGenerator {
    /// Asks the moderation endpoint about the content: `Refused` when it is flagged,
    /// `Unavailable` when the endpoint cannot say (the template is used: unmoderated
    /// content is never sent).
    pub(super) async fn moderate(&self, m: &Moderation, c: &Content) -> Result<(), ComposeError> {
        #[derive(Deserialize)]
        struct Verdicts {
            results: Vec<Verdict>,
        }
        #[derive(Deserialize)]
        struct Verdict {
            flagged: bool,
            #[serde(default)]
            categories: std::collections::BTreeMap<String, bool>,
        }
        let input = format!("{}\n\n{}\n\n{}", c.subject, c.preheader, c.body_text);
        let mut req = self
            .http
            .post(&m.url)
            .json(&json!({"model": m.model, "input": input}));
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key);
        }
        let unavailable = |e: String| {
            metrics::counter!("engage_llm_errors_total", "kind" => "moderation").increment(1);
            ComposeError::Unavailable(format!("moderation: {e}"))
        };
        let resp = req.send().await.map_err(|e| unavailable(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(unavailable(format!("HTTP {}", resp.status())));
        }
        let verdicts: Verdicts = resp.json().await.map_err(|e| unavailable(e.to_string()))?;
        let flagged: Vec<String> = verdicts
            .results
            .iter()
            .filter(|v| v.flagged)
            .flat_map(|v| {
                v.categories
                    .iter()
                    .filter(|(_, on)| **on)
                    .map(|(k, _)| k.clone())
            })
            .collect();
        if verdicts.results.iter().any(|v| v.flagged) {
            return Err(ComposeError::Refused(format!(
                "moderation flagged the answer ({})",
                if flagged.is_empty() {
                    "no category given".into()
                } else {
                    flagged.join(", ")
                }
            )));
        }
        Ok(())
    }
}
