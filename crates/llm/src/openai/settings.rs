//! What the OpenAI-compatible generator is configured with, and its defaults.

use crate::prompt;
use crate::spend::Prices;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Up to and including the version segment, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    /// Sent as a bearer token when set (local servers often need none).
    pub api_key: Option<String>,
    pub model: String,
    pub voice: String,
    pub timeout: Duration,
    /// Requests per email, the first included.
    pub max_attempts: u32,
    pub max_concurrency: usize,
    /// The first backoff's upper bound; each retry doubles it, up to `backoff_cap`.
    /// A backoff is a random wait between half of its bound and all of it.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// The longest server-requested wait honoured; a longer one gives up at once.
    pub max_wait: Duration,
    /// Requests and tokens per minute allowed by the provider; `None`: no limit.
    pub rpm: Option<u32>,
    pub tpm: Option<u32>,
    /// Failed requests in a row that open the circuit breaker, and how long it stays
    /// open before a probe.
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
    /// For the cost estimate; `None`: the model's list prices if known.
    pub prices: Option<Prices>,
    /// Spent, the generator stops asking the model until the next day (UTC).
    pub daily_token_budget: Option<u64>,
    pub daily_cost_budget_usd: Option<f64>,
    /// When set, every answer is also sent to this moderation endpoint (OpenAI's
    /// `/moderations` format) and refused if flagged.
    pub moderation: Option<Moderation>,
}

/// An OpenAI-format moderation endpoint and the model it runs.
#[derive(Debug, Clone)]
pub struct Moderation {
    pub url: String,
    pub model: String,
}

impl Default for OpenAiSettings {
    fn default() -> Self {
        Self {
            base_url: "https://api.openai.com/v1".into(),
            api_key: None,
            model: "gpt-4o-mini".into(),
            voice: prompt::DEFAULT_VOICE.into(),
            timeout: Duration::from_secs(30),
            max_attempts: 4,
            max_concurrency: 8,
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(20),
            max_wait: Duration::from_secs(60),
            rpm: None,
            tpm: None,
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
            prices: None,
            daily_token_budget: None,
            daily_cost_budget_usd: None,
            moderation: None,
        }
    }
}
