//! The `[llm]` section: which generator writes the emails, and the OpenAI-compatible
//! one's endpoint, limits, budget and moderation (docs/llm.md).

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which content generator writes the emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorKind {
    /// The campaigns' templates, filled in (no model).
    Template,
    /// A model behind an OpenAI-compatible chat-completions endpoint.
    Openai,
}

/// The LLM generator. The API key is never read from the configuration file: it
/// comes from `OPENAI_API_KEY` or from the file `api_key_file` names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LlmConfig {
    /// Unset: `openai` when an API key is found, otherwise `template`.
    pub generator: Option<GeneratorKind>,
    /// Unset: `OPENAI_BASE_URL`, else `https://api.openai.com/v1`.
    pub base_url: Option<String>,
    /// Unset: `OPENAI_MODEL`, else `gpt-4o-mini`.
    pub model: Option<String>,
    pub api_key_file: Option<PathBuf>,
    /// The brand voice the prompt asks for; unset: a built-in one.
    pub voice: Option<String>,
    pub timeout_secs: u64,
    pub max_attempts: u32,
    pub max_concurrency: usize,
    /// The provider's requests and tokens per minute for this key; unset: no limit.
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    /// Failed requests in a row that open the circuit breaker, and how long it stays
    /// open before one request probes again.
    pub breaker_failures: u32,
    pub breaker_cooldown_secs: u64,
    /// US dollars per million tokens, for the cost estimate; unset: the model's list
    /// prices if engage knows them.
    pub price_per_million_input_tokens: Option<f64>,
    pub price_per_million_output_tokens: Option<f64>,
    /// Once spent, emails use their templates until midnight UTC.
    pub daily_token_budget: Option<u64>,
    pub daily_cost_budget_usd: Option<f64>,
    /// Send every answer to a moderation endpoint (OpenAI's `/moderations` format)
    /// and refuse what it flags.
    pub moderation: bool,
    /// Unset: `{base_url}/moderations`.
    pub moderation_url: Option<String>,
    pub moderation_model: String,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            generator: None,
            base_url: None,
            model: None,
            api_key_file: None,
            voice: None,
            timeout_secs: 30,
            max_attempts: 4,
            max_concurrency: 8,
            rpm: None,
            tpm: None,
            breaker_failures: 5,
            breaker_cooldown_secs: 30,
            price_per_million_input_tokens: None,
            price_per_million_output_tokens: None,
            daily_token_budget: None,
            daily_cost_budget_usd: None,
            moderation: false,
            moderation_url: None,
            moderation_model: "omni-moderation-latest".into(),
        }
    }
}

impl LlmConfig {
    /// The OpenAI-compatible generator's settings, or `None` for the template.
    pub fn openai(&self) -> anyhow::Result<Option<engage_llm::OpenAiSettings>> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let api_key = match &self.api_key_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| {
                        anyhow::anyhow!("configuration: llm.api_key_file {}: {e}", f.display())
                    })?
                    .trim()
                    .to_string(),
            ),
            None => env("OPENAI_API_KEY"),
        };
        let kind = self.generator.unwrap_or(if api_key.is_some() {
            GeneratorKind::Openai
        } else {
            GeneratorKind::Template
        });
        if kind == GeneratorKind::Template {
            return Ok(None);
        }
        let defaults = engage_llm::OpenAiSettings::default();
        let base_url = self
            .base_url
            .clone()
            .or_else(|| env("OPENAI_BASE_URL"))
            .unwrap_or(defaults.base_url);
        let moderation = self.moderation.then(|| engage_llm::Moderation {
            url: self
                .moderation_url
                .clone()
                .unwrap_or_else(|| format!("{}/moderations", base_url.trim_end_matches('/'))),
            model: self.moderation_model.clone(),
        });
        Ok(Some(engage_llm::OpenAiSettings {
            base_url,
            moderation,
            api_key,
            model: self
                .model
                .clone()
                .or_else(|| env("OPENAI_MODEL"))
                .unwrap_or(defaults.model),
            voice: self.voice.clone().unwrap_or(defaults.voice),
            timeout: std::time::Duration::from_secs(self.timeout_secs),
            max_attempts: self.max_attempts,
            max_concurrency: self.max_concurrency,
            rpm: self.rpm,
            tpm: self.tpm,
            breaker_failures: self.breaker_failures,
            breaker_cooldown: std::time::Duration::from_secs(self.breaker_cooldown_secs),
            prices: match (
                self.price_per_million_input_tokens,
                self.price_per_million_output_tokens,
            ) {
                (Some(i), Some(o)) => Some(engage_llm::Prices {
                    input_per_million: i,
                    output_per_million: o,
                }),
                _ => None,
            },
            daily_token_budget: self.daily_token_budget,
            daily_cost_budget_usd: self.daily_cost_budget_usd,
            ..defaults
        }))
    }

    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if !(1..=600).contains(&self.timeout_secs) {
            anyhow::bail!(
                "configuration: llm.timeout_secs must be 1 to 600, not {}",
                self.timeout_secs
            );
        }
        if !(1..=10).contains(&self.max_attempts) {
            anyhow::bail!(
                "configuration: llm.max_attempts must be 1 to 10, not {}",
                self.max_attempts
            );
        }
        if !(1..=256).contains(&self.max_concurrency) {
            anyhow::bail!(
                "configuration: llm.max_concurrency must be 1 to 256, not {}",
                self.max_concurrency
            );
        }
        if self.rpm == Some(0) || self.tpm == Some(0) {
            anyhow::bail!("configuration: llm.rpm and llm.tpm must be at least 1 when set");
        }
        if !(1..=1000).contains(&self.breaker_failures) {
            anyhow::bail!(
                "configuration: llm.breaker_failures must be 1 to 1000, not {}",
                self.breaker_failures
            );
        }
        match (
            self.price_per_million_input_tokens,
            self.price_per_million_output_tokens,
        ) {
            (Some(i), Some(o)) if i.is_finite() && o.is_finite() && i >= 0.0 && o >= 0.0 => {}
            (None, None) => {}
            _ => anyhow::bail!(
                "configuration: llm.price_per_million_input_tokens and llm.price_per_million_output_tokens are set together, to numbers of 0 or more"
            ),
        }
        if self.daily_token_budget == Some(0)
            || self
                .daily_cost_budget_usd
                .is_some_and(|b| !(b.is_finite() && b > 0.0))
        {
            anyhow::bail!("configuration: llm.daily_*_budget must be more than 0 when set");
        }
        for (key, url) in [
            ("base_url", &self.base_url),
            ("moderation_url", &self.moderation_url),
        ] {
            if let Some(u) = url
                && !(u.starts_with("http://") || u.starts_with("https://"))
            {
                anyhow::bail!("configuration: llm.{key} must be an http(s) URL, not `{u}`");
            }
        }
        Ok(())
    }
}
