//! What keeps the generator within its provider's limits and away from a provider
//! that is down: a requests- and tokens-per-minute limiter shared by every worker,
//! and a circuit breaker.
//!
//! The limiter is `governor`'s GCRA, which behaves as the providers' own buckets do:
//! full at start, refilling continuously, a minute's budget at most. The breaker is
//! written here: it is a counter and a deadline, and the crates that offer one bring
//! policies and a runtime of their own that this needs none of.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests and tokens per minute; `None` for no limit.
#[derive(Debug)]
pub(crate) struct Limiter {
    requests: Option<DefaultDirectRateLimiter>,
    tokens: Option<(DefaultDirectRateLimiter, u32)>,
    /// Waiters take turns in arrival order: `governor`'s waits are not a queue (each
    /// waiter sleeps and tries again), so under contention an unlucky request could
    /// wait many turns; behind this FIFO lock only the head of the line waits on it.
    line: tokio::sync::Mutex<()>,
}

impl Limiter {
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Self {
        let limiter = |n: NonZeroU32| RateLimiter::direct(Quota::per_minute(n));
        Self {
            requests: rpm.and_then(NonZeroU32::new).map(limiter),
            tokens: tpm.and_then(NonZeroU32::new).map(|n| (limiter(n), n.get())),
            line: tokio::sync::Mutex::new(()),
        }
    }

    /// Waits until one request of `tokens` tokens fits both budgets; returns how long
    /// it waited. `Err` when `tokens` is more than a whole minute's budget.
    pub async fn admit(&self, tokens: u32) -> Result<Duration, String> {
        let started = Instant::now();
        if self.requests.is_none() && self.tokens.is_none() {
            return Ok(Duration::ZERO);
        }
        let _turn = self.line.lock().await;
        if let Some((bucket, per_minute)) = &self.tokens {
            let n = NonZeroU32::new(tokens.max(1)).expect("at least one");
            bucket.until_n_ready(n).await.map_err(|_| {
                format!("a request of about {tokens} tokens exceeds the budget of {per_minute} tokens per minute")
            })?;
        }
        if let Some(bucket) = &self.requests {
            bucket.until_ready().await;
        }
        Ok(started.elapsed())
    }
}

/// Opens after `threshold` failed requests in a row (timeouts, refused connections,
/// 429s and 5xx); while open, no request is made. After `cooldown` one request probes:
/// its success closes the breaker, its failure opens it again.
#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    state: Mutex<BreakerState>,
}

#[derive(Debug, Default)]
struct BreakerState {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold: threshold.max(1),
            cooldown,
            state: Mutex::default(),
        }
    }

    /// Whether a request may be made now; `Err` says for how long it stays open.
    pub fn allow(&self) -> Result<(), Duration> {
        let mut s = self.state.lock().expect("breaker");
        match s.open_until {
            None => Ok(()),
            Some(until) => {
                let now = Instant::now();
                if now < until {
                    Err(until - now)
                } else if s.probing {
                    Err(Duration::ZERO)
                } else {
                    s.probing = true;
                    Ok(())
                }
            }
        }
    }

    /// The server answered (whatever it said about the content).
    pub fn succeeded(&self) {
        let mut s = self.state.lock().expect("breaker");
        if s.open_until.is_some() {
            tracing::info!("the LLM answers again; closing the circuit breaker");
        }
        *s = BreakerState::default();
        metrics::gauge!("engage_llm_circuit_open").set(0.0);
    }

    /// A request failed in a way another attempt might not.
    pub fn failed(&self) {
        let mut s = self.state.lock().expect("breaker");
        s.failures += 1;
        if s.probing || (s.open_until.is_none() && s.failures >= self.threshold) {
            tracing::warn!(
                failures = s.failures,
                cooldown_secs = self.cooldown.as_secs_f64(),
                "the LLM keeps failing; opening the circuit breaker, emails use their templates meanwhile"
            );
            s.open_until = Some(Instant::now() + self.cooldown);
            s.probing = false;
            metrics::gauge!("engage_llm_circuit_open").set(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_the_threshold_and_probes_after_the_cooldown() {
        let b = Breaker::new(2, Duration::from_millis(40));
        b.failed();
        assert!(b.allow().is_ok());
        b.failed();
        assert!(b.allow().is_err(), "open after two failures");
        std::thread::sleep(Duration::from_millis(50));
        assert!(b.allow().is_ok(), "one probe after the cooldown");
        assert!(b.allow().is_err(), "only one");
        b.failed();
        assert!(b.allow().is_err(), "a failed probe opens it again");
        std::thread::sleep(Duration::from_millis(50));
        assert!(b.allow().is_ok());
        b.succeeded();
        assert!(b.allow().is_ok() && b.allow().is_ok(), "closed");
    }

    #[tokio::test]
    async fn the_limiter_refuses_a_request_larger_than_a_minutes_budget() {
        let l = Limiter::new(None, Some(1000));
        assert!(l.admit(900).await.is_ok());
        assert!(
            l.admit(1001)
                .await
                .unwrap_err()
                .contains("1000 tokens per minute")
        );
    }
}
