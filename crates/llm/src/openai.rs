//! The OpenAI-compatible generator: chat completions against any base URL (OpenAI,
//! Azure OpenAI's v1 endpoint, vLLM, Ollama, llama.cpp's server).
//!
//! - Structured output with a strict JSON schema; a server that refuses
//!   `json_schema` (HTTP 400 naming it) is asked again in JSON mode, and from then on.
//! - A timeout per request; retries with exponential backoff and full jitter on
//!   timeouts, connection errors, 408, 409, 429 and 5xx. A `retry-after-ms` or
//!   `Retry-After` header, or an exhausted `x-ratelimit-remaining-*` with its
//!   `x-ratelimit-reset-*`, sets the wait instead.
//! - At most `max_concurrency` requests at once, and at most `rpm` requests and `tpm`
//!   tokens a minute, shared by every worker ([`crate::limits::Limiter`]); a request
//!   counts its prompt (bytes / 4) and its `max_tokens`, as providers count it.
//! - A circuit breaker stops asking a server that keeps failing; emails use their
//!   templates until a probe after the cooldown succeeds.
//! - Output that is not the JSON asked for is refused, not retried: the engine falls
//!   back to the campaign's template and records why.
//!
//! No SDK: the official OpenAI crates target OpenAI alone, and the whole protocol used
//! here is one POST and a few headers.

use crate::limits::{Breaker, Limiter};
use crate::prompt::{self, PROMPT_VERSION};
use crate::spend::{Budget, Prices, today};
use async_trait::async_trait;
use engage_core::compose::{ComposeRequest, Composed, Content, Generation};
use engage_core::ports::{ComposeError, ContentGenerator, SpendTally};
use rand::Rng as _;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

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

/// The answer's token budget: an email body is a few hundred tokens.
const MAX_TOKENS: u32 = 700;

#[derive(Debug)]
pub struct OpenAiGenerator {
    settings: OpenAiSettings,
    http: reqwest::Client,
    permits: Semaphore,
    limiter: Limiter,
    breaker: Breaker,
    budget: Budget,
    /// The day's spending shared with the other writers, if any.
    tally: Option<std::sync::Arc<dyn SpendTally>>,
    prices: Option<Prices>,
    /// Set once the server refused `json_schema`: ask in JSON mode from then on.
    json_mode: AtomicBool,
}

/// Why one request failed, and whether another attempt may succeed.
#[derive(Debug)]
struct Failure {
    kind: &'static str,
    detail: String,
    retry: bool,
    wait: Option<Duration>,
}

impl Failure {
    /// A timeout or a broken connection: worth another attempt.
    fn transport(e: reqwest::Error) -> Self {
        Self {
            kind: if e.is_timeout() { "timeout" } else { "connect" },
            detail: e.to_string(),
            retry: true,
            wait: None,
        }
    }
}

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
struct Usage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

/// A usable answer: its content, its token usage and the text as the model wrote it.
struct Answered {
    content: Content,
    usage: Usage,
    raw: String,
}

#[derive(Deserialize)]
struct Answer {
    subject: String,
    preheader: String,
    body: String,
}

impl OpenAiGenerator {
    pub fn new(settings: OpenAiSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .build()?;
        Ok(Self {
            permits: Semaphore::new(settings.max_concurrency.max(1)),
            limiter: Limiter::new(settings.rpm, settings.tpm),
            breaker: Breaker::new(settings.breaker_failures, settings.breaker_cooldown),
            budget: Budget::new(settings.daily_token_budget, settings.daily_cost_budget_usd),
            tally: None,
            prices: settings.prices.or_else(|| Prices::known(&settings.model)),
            settings,
            http,
            json_mode: AtomicBool::new(false),
        })
    }

    fn url(&self) -> String {
        format!(
            "{}/chat/completions",
            self.settings.base_url.trim_end_matches('/')
        )
    }

    fn body(&self, messages: &[Value]) -> Value {
        let format = if self.json_mode.load(Ordering::Relaxed) {
            json!({"type": "json_object"})
        } else {
            json!({"type": "json_schema", "json_schema": {
                "name": "engagement_email", "strict": true, "schema": prompt::response_schema()
            }})
        };
        json!({
            "model": self.settings.model,
            "messages": messages,
            "response_format": format,
            "temperature": 0.7,
            "max_tokens": MAX_TOKENS,
        })
    }

    /// One request: the content and its token usage, or why it failed.
    async fn attempt(&self, body: Vec<u8>) -> Result<Answered, Failure> {
        let mut req = self
            .http
            .post(self.url())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        if let Some(key) = &self.settings.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(Failure::transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.map_err(Failure::transport)?;
        if !status.is_success() {
            return Err(self.refused_request(status, &headers, &text));
        }
        parse_completion(&text)
    }

    fn refused_request(&self, status: StatusCode, headers: &HeaderMap, text: &str) -> Failure {
        let snippet: String = text.chars().take(300).collect();
        if status == StatusCode::BAD_REQUEST
            && (text.contains("response_format") || text.contains("json_schema"))
            && !self.json_mode.swap(true, Ordering::Relaxed)
        {
            tracing::info!(
                "the LLM server refused structured output; asking in JSON mode from now on"
            );
            return Failure {
                kind: "schema_unsupported",
                detail: snippet,
                retry: true,
                wait: Some(Duration::ZERO),
            };
        }
        let retry = matches!(status.as_u16(), 408 | 409 | 429) || status.is_server_error();
        Failure {
            kind: match status.as_u16() {
                429 => "rate_limited",
                401 | 403 => "auth",
                s if s >= 500 => "server",
                _ => "client",
            },
            detail: format!("HTTP {status}: {snippet}"),
            retry,
            wait: server_wait(headers),
        }
    }

    /// The accounting of an answer, counted in the metrics and against the budget.
    fn account(
        &self,
        answered: &Answered,
        messages: &[Value],
        started: Instant,
        attempts: u32,
    ) -> Generation {
        let (tokens_in, tokens_out) = (
            answered.usage.prompt_tokens,
            answered.usage.completion_tokens,
        );
        let cost_usd = self.prices.map(|p| p.cost(tokens_in, tokens_out));
        metrics::counter!("engage_llm_tokens_total", "direction" => "in").increment(tokens_in);
        metrics::counter!("engage_llm_tokens_total", "direction" => "out").increment(tokens_out);
        if let Some(usd) = cost_usd {
            metrics::gauge!("engage_llm_cost_usd_total").increment(usd);
        }
        self.budget
            .add(tokens_in + tokens_out, cost_usd.unwrap_or(0.0));
        Generation {
            model: self.settings.model.clone(),
            prompt_version: PROMPT_VERSION.into(),
            tokens_in,
            tokens_out,
            latency_ms: started.elapsed().as_millis() as u64,
            attempts,
            cost_usd,
            prompt: serde_json::to_string(messages).ok(),
            raw_output: Some(answered.raw.clone()),
        }
    }

    /// Asks the moderation endpoint about the content: `Refused` when it is flagged,
    /// `Unavailable` when the endpoint cannot say (the template is used: unmoderated
    /// content is never sent).
    async fn moderate(&self, m: &Moderation, c: &Content) -> Result<(), ComposeError> {
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

    /// Counts what was spent today before this process started (from the emails
    /// already written), so a restart does not reset the daily budget.
    pub fn spent_earlier_today(&self, tokens: u64, usd: f64) {
        self.budget.add(tokens, usd);
    }

    /// Counts the daily budget in `tally` too, shared with every other writer, and
    /// starts from the day's spending it already holds.
    pub async fn with_tally(
        mut self,
        tally: std::sync::Arc<dyn SpendTally>,
    ) -> Result<Self, engage_core::StoreError> {
        let day = today();
        let (tokens, usd) = tally.add(utc_day(day), 0, 0.0).await?;
        self.budget.observe(day, tokens, usd);
        self.tally = Some(tally);
        Ok(self)
    }

    /// Adds an answer's spending to the shared tally and takes in everyone's totals.
    /// A tally that cannot be reached is logged: the local count still holds.
    async fn share_spend(&self, generation: &Generation) {
        let Some(tally) = &self.tally else { return };
        let day = today();
        let tokens = generation.tokens_in + generation.tokens_out;
        match tally
            .add(utc_day(day), tokens, generation.cost_usd.unwrap_or(0.0))
            .await
        {
            Ok((tokens, usd)) => self.budget.observe(day, tokens, usd),
            Err(e) => tracing::warn!(error = %e, "the shared LLM spending could not be updated"),
        }
    }

    /// Full jitter: a random wait up to base × 2^retry, capped.
    fn backoff(&self, retry: u32) -> Duration {
        let cap = self
            .settings
            .backoff_base
            .saturating_mul(2u32.saturating_pow(retry.min(16)))
            .min(self.settings.backoff_cap);
        let ms = cap.as_millis() as u64;
        Duration::from_millis(rand::rng().random_range(ms / 2..=ms.max(1)))
    }
}

/// The content and usage of a successful completion, or why it is unusable.
fn parse_completion(text: &str) -> Result<Answered, Failure> {
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

/// The wait a server asks for: `retry-after-ms`, `Retry-After` (seconds), or the
/// reset time of an exhausted `x-ratelimit-*` budget.
fn server_wait(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    if let Some(s) = header("retry-after").and_then(|v| v.trim().parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(s.max(0.0)));
    }
    ["requests", "tokens"]
        .iter()
        .filter(|kind| header(&format!("x-ratelimit-remaining-{kind}")) == Some("0"))
        .filter_map(|kind| header(&format!("x-ratelimit-reset-{kind}")).and_then(parse_reset))
        .max()
}

/// OpenAI's reset durations: `20ms`, `1.5s`, `6m0s`, `1h2m3s`.
fn parse_reset(v: &str) -> Option<Duration> {
    let mut total = 0.0;
    let mut num = String::new();
    let mut chars = v.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let n: f64 = num.parse().ok()?;
        num.clear();
        total += match c {
            'h' => n * 3600.0,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                n / 1000.0
            }
            'm' => n * 60.0,
            's' => n,
            _ => return None,
        };
    }
    if !num.is_empty() {
        total += num.parse::<f64>().ok()?;
    }
    Some(Duration::from_secs_f64(total))
}

#[async_trait]
impl ContentGenerator for OpenAiGenerator {
    fn name(&self) -> String {
        format!("llm:{}", self.settings.model)
    }

    fn remote(&self) -> bool {
        true
    }

    async fn generate(&self, request: &ComposeRequest) -> Result<Composed, ComposeError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ComposeError::Unavailable("the generator is shutting down".into()))?;
        let messages = prompt::messages(request, &self.settings.voice);
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            self.budget.check().map_err(ComposeError::OverBudget)?;
            if let Err(open_for) = self.breaker.allow() {
                return Err(ComposeError::CircuitOpen(format!(
                    "the LLM failed repeatedly; not asking it for another {:.0} s",
                    open_for.as_secs_f64()
                )));
            }
            let body = serde_json::to_vec(&self.body(&messages)).expect("JSON");
            let estimate = u32::try_from(body.len() / 4).unwrap_or(u32::MAX) + MAX_TOKENS;
            let waited = self
                .limiter
                .admit(estimate)
                .await
                .map_err(ComposeError::Refused)?;
            metrics::histogram!("engage_llm_limiter_wait_seconds").record(waited.as_secs_f64());
            attempts += 1;
            let sent = Instant::now();
            let outcome = self.attempt(body).await;
            metrics::histogram!("engage_llm_request_duration_seconds")
                .record(sent.elapsed().as_secs_f64());
            let failure = match outcome {
                Ok(answered) => {
                    self.breaker.succeeded();
                    let generation = self.account(&answered, &messages, started, attempts);
                    self.share_spend(&generation).await;
                    if let Some(m) = &self.settings.moderation {
                        self.moderate(m, &answered.content).await?;
                    }
                    return Ok(Composed {
                        content: answered.content,
                        generator: self.name(),
                        generation: Some(generation),
                        fallback_reason: None,
                    });
                }
                Err(f) => f,
            };
            // An answer that was not the JSON asked for still shows a working server.
            match failure.kind {
                "malformed_output" | "model_refusal" => self.breaker.succeeded(),
                _ => self.breaker.failed(),
            }
            metrics::counter!("engage_llm_errors_total", "kind" => failure.kind).increment(1);
            let wait = failure.wait.unwrap_or_else(|| self.backoff(attempts - 1));
            let give_up = !failure.retry
                || attempts >= self.settings.max_attempts
                || wait > self.settings.max_wait;
            tracing::warn!(
                kind = failure.kind,
                attempt = attempts,
                retry_in_ms = (!give_up).then_some(wait.as_millis() as u64),
                detail = %failure.detail,
                "LLM request failed"
            );
            if give_up {
                let why = format!(
                    "{} after {attempts} attempt(s): {}",
                    failure.kind, failure.detail
                );
                return Err(if failure.retry {
                    ComposeError::Unavailable(why)
                } else {
                    ComposeError::Refused(why)
                });
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// The UTC date of a day number (days since 1970-01-01).
fn utc_day(day: u64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(day as i64 * 86_400, 0)
        .unwrap_or_default()
        .date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_durations_parse_as_openai_writes_them() {
        assert_eq!(parse_reset("20ms"), Some(Duration::from_millis(20)));
        assert_eq!(parse_reset("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_reset("6m0s"), Some(Duration::from_secs(360)));
        assert_eq!(parse_reset("1h2m3s"), Some(Duration::from_secs(3723)));
        assert_eq!(parse_reset("soon"), None);
    }

    #[test]
    fn retry_after_ms_wins_over_retry_after() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(server_wait(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(server_wait(&h), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn an_exhausted_rate_limit_waits_for_its_reset() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        h.insert("x-ratelimit-reset-requests", "750ms".parse().unwrap());
        h.insert("x-ratelimit-remaining-tokens", "900".parse().unwrap());
        h.insert("x-ratelimit-reset-tokens", "9s".parse().unwrap());
        assert_eq!(server_wait(&h), Some(Duration::from_millis(750)));
    }

    #[test]
    fn fenced_json_answers_are_unwrapped() {
        assert_eq!(strip_fences("```json\n{\"a\":1}\n```"), "{\"a\":1}");
        assert_eq!(strip_fences(" {\"a\":1} "), "{\"a\":1}");
    }
}
