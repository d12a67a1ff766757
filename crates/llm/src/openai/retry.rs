//! Why a request failed and what follows: another attempt or not, after the wait the
//! server asked for or the backoff's ([`backoff`], the policy `backon` runs).

use super::OpenAiSettings;
use backon::ExponentialBuilder;
use engage_core::ports::ComposeError;
use reqwest::header::HeaderMap;
use std::time::Duration;

/// Why one request failed, and whether another attempt may succeed.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) kind: &'static str,
    pub(super) detail: String,
    pub(super) retry: bool,
    pub(super) wait: Option<Duration>,
}

/// Why an attempt ended without an answer: its request failed (and may be retried),
/// or no request was sent because the budget, the breaker or the limiter said no,
/// which ends the email's attempts at once.
#[derive(Debug)]
pub(super) enum Attempt {
    Failed(Failure),
    Stopped(ComposeError),
}

impl Failure {
    /// A timeout or a broken connection: worth another attempt.
    pub(super) fn transport(e: reqwest::Error) -> Self {
        Self {
            kind: if e.is_timeout() { "timeout" } else { "connect" },
            detail: e.to_string(),
            retry: true,
            wait: None,
        }
    }
}

/// The retry policy: after the `n`th failed attempt (from 0), a random wait
/// between half and all of `backoff_base` × 2^n, capped at `backoff_cap`; at most
/// `max_attempts` attempts. backon's jitter adds up to one more delay to a delay,
/// so its delays start at half the base and stop growing at half the cap.
pub(super) fn backoff(s: &OpenAiSettings) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(s.backoff_base.min(s.backoff_cap) / 2)
        .with_max_delay(s.backoff_cap / 2)
        .with_factor(2.0)
        .with_jitter()
        .with_max_times(s.max_attempts.saturating_sub(1) as usize)
}

/// Logs a failed request, with the wait before the next one unless it was the last.
pub(super) fn log_failure(failure: &Failure, attempt: u32, retry_in: Option<Duration>) {
    tracing::warn!(
        kind = failure.kind,
        attempt,
        retry_in_ms = retry_in.map(|wait| wait.as_millis() as u64),
        detail = %failure.detail,
        "LLM request failed"
    );
}

/// The wait a server asks for: `retry-after-ms`, `Retry-After` (seconds), or the
/// reset time of an exhausted `x-ratelimit-*` budget.
pub(super) fn server_wait(headers: &HeaderMap) -> Option<Duration> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoffs_wait_between_half_and_all_of_base_times_two_to_the_retry_capped() {
        use backon::BackoffBuilder as _;
        let settings = OpenAiSettings {
            backoff_base: Duration::from_millis(500),
            backoff_cap: Duration::from_secs(3),
            max_attempts: 6,
            ..OpenAiSettings::default()
        };
        let bounds = [500, 1000, 2000, 3000, 3000].map(Duration::from_millis);
        for _ in 0..200 {
            let waits: Vec<Duration> = backoff(&settings).build().collect();
            assert_eq!(waits.len(), bounds.len(), "a wait before each retry");
            for (wait, bound) in waits.iter().zip(bounds) {
                assert!(
                    *wait >= bound / 2 && *wait <= bound,
                    "{wait:?} not within {:?}..={bound:?}",
                    bound / 2
                );
            }
        }
        let once = OpenAiSettings {
            max_attempts: 1,
            ..OpenAiSettings::default()
        };
        assert_eq!(backoff(&once).build().count(), 0, "one attempt, no retry");
    }

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
}
