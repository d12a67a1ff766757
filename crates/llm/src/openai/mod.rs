//! The OpenAI-compatible generator: chat completions against any base URL (OpenAI,
//! Azure OpenAI's v1 endpoint, vLLM, Ollama, llama.cpp's server).
//!
//! - Structured output with a strict JSON schema; a server that refuses
//!   `json_schema` (HTTP 400 naming it) is asked again in JSON mode, and from then on.
//! - A timeout per request; retries (`backon`) with exponential backoff and jitter
//!   on timeouts, connection errors, 408, 409, 429 and 5xx. A `retry-after-ms` or
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
//!
//! - `settings`: what the generator is configured with;
//! - `retry`: why a request failed, whether to ask again and after how long;
//! - `response`: a chat completion read into an email's content;
//! - `moderation`: the optional check of every answer.

mod moderation;
mod response;
mod retry;
mod settings;

pub use settings::{Moderation, OpenAiSettings};

use crate::limits::{Breaker, Limiter};
use crate::prompt::{self, PROMPT_VERSION};
use crate::spend::{Budget, Prices, today};
use async_trait::async_trait;
use backon::Retryable as _;
use engage_core::compose::{ComposeRequest, Composed, Generation};
use engage_core::ports::{ComposeError, ContentGenerator, SpendTally};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use response::{Answered, parse_completion};
use retry::{Attempt, Failure, backoff, log_failure, server_wait};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

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

    /// One attempt: the budget, the breaker and the limiter asked first, then one
    /// request, counted in `attempts`, in the metrics and by the breaker.
    async fn try_once(
        &self,
        messages: &[Value],
        attempts: &AtomicU32,
    ) -> Result<Answered, Attempt> {
        self.budget
            .check()
            .map_err(|e| Attempt::Stopped(ComposeError::OverBudget(e)))?;
        if let Err(open_for) = self.breaker.allow() {
            return Err(Attempt::Stopped(ComposeError::CircuitOpen(format!(
                "the LLM failed repeatedly; not asking it for another {:.0} s",
                open_for.as_secs_f64()
            ))));
        }
        let body = serde_json::to_vec(&self.body(messages)).expect("JSON");
        let estimate = u32::try_from(body.len() / 4).unwrap_or(u32::MAX) + MAX_TOKENS;
        let waited = self
            .limiter
            .admit(estimate)
            .await
            .map_err(|e| Attempt::Stopped(ComposeError::Refused(e)))?;
        metrics::histogram!("engage_llm_limiter_wait_seconds").record(waited.as_secs_f64());
        attempts.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let outcome = self.attempt(body).await;
        metrics::histogram!("engage_llm_request_duration_seconds")
            .record(sent.elapsed().as_secs_f64());
        match outcome {
            Ok(answered) => {
                self.breaker.succeeded();
                Ok(answered)
            }
            Err(failure) => {
                // An answer that was not the JSON asked for still shows a working server.
                match failure.kind {
                    "malformed_output" | "model_refusal" => self.breaker.succeeded(),
                    _ => self.breaker.failed(),
                }
                metrics::counter!("engage_llm_errors_total", "kind" => failure.kind).increment(1);
                Err(Attempt::Failed(failure))
            }
        }
    }
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
        let attempts = AtomicU32::new(0);
        let max_wait = self.settings.max_wait;
        let outcome = (|| self.try_once(&messages, &attempts))
            .retry(backoff(&self.settings))
            .sleep(tokio::time::sleep)
            .when(|a| matches!(a, Attempt::Failed(f) if f.retry))
            // The server's wait instead of the backoff's when it asked for one, while
            // attempts are left; a wait longer than `max_wait` gives up at once.
            .adjust(|a, backoff| {
                let Attempt::Failed(f) = a else { return None };
                let wait = f.wait.unwrap_or(backoff?);
                (wait <= max_wait).then_some(wait)
            })
            .notify(|a, wait| {
                if let Attempt::Failed(f) = a {
                    log_failure(f, attempts.load(Ordering::Relaxed), Some(wait));
                }
            })
            .await;
        let attempts = attempts.into_inner();
        let answered = match outcome {
            Ok(answered) => answered,
            Err(Attempt::Stopped(e)) => return Err(e),
            Err(Attempt::Failed(failure)) => {
                log_failure(&failure, attempts, None);
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
        };
        let generation = self.account(&answered, &messages, started, attempts);
        self.share_spend(&generation).await;
        if let Some(m) = &self.settings.moderation {
            self.moderate(m, &answered.content).await?;
        }
        Ok(Composed {
            content: answered.content,
            generator: self.name(),
            generation: Some(generation),
            fallback_reason: None,
        })
    }
}

/// The UTC date of a day number (days since 1970-01-01).
fn utc_day(day: u64) -> chrono::NaiveDate {
    chrono::DateTime::from_timestamp(day as i64 * 86_400, 0)
        .unwrap_or_default()
        .date_naive()
}
