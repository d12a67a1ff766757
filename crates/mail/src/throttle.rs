//! A sender held to the provider's sending quota: at most `rate` emails a second,
//! spread evenly (`governor`'s GCRA, a burst of at most one second's worth), shared by
//! every worker. A provider's own throttling (SMTP 421/454, SES `Throttling`) still
//! comes back as `SendError::Transient` and is retried later; this keeps it rare.

use async_trait::async_trait;
use engage_core::ports::{MailSender, OutgoingEmail, SendError, SendReceipt};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

pub struct Throttled {
    inner: Arc<dyn MailSender>,
    limiter: DefaultDirectRateLimiter,
    /// Waiters take turns in arrival order (`governor`'s waits are not a queue).
    line: tokio::sync::Mutex<()>,
    burst: u32,
}

impl std::fmt::Debug for Throttled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Throttled")
            .field("inner", &self.inner.name())
            .field("burst", &self.burst)
            .finish_non_exhaustive()
    }
}

impl Throttled {
    /// `inner`, at most `per_second` emails a second (fractions allowed: 0.5 is one
    /// every two seconds).
    pub fn new(inner: Arc<dyn MailSender>, per_second: f64) -> Self {
        let per_second = per_second.max(0.001);
        let burst = (per_second.floor() as u32).max(1);
        let period = Duration::from_secs_f64(1.0 / per_second);
        let quota = Quota::with_period(period)
            .expect("a positive period")
            .allow_burst(NonZeroU32::new(burst).expect("at least one"));
        Self {
            inner,
            limiter: RateLimiter::direct(quota),
            line: tokio::sync::Mutex::new(()),
            burst,
        }
    }

    async fn admit(&self, n: usize) {
        let _turn = self.line.lock().await;
        let mut left = n as u32;
        while left > 0 {
            let take = left.min(self.burst);
            // `take` never exceeds the burst, so the wait always ends.
            let _ = self
                .limiter
                .until_n_ready(NonZeroU32::new(take).expect("at least one"))
                .await;
            left -= take;
        }
    }
}

#[async_trait]
impl MailSender for Throttled {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn check(&self) -> Result<serde_json::Value, String> {
        self.inner.check().await
    }

    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        self.admit(1).await;
        self.inner.send(email).await
    }

    /// Sends in slices of at most a second's worth, each admitted as a whole, so a
    /// batch is paced as evenly as single sends.
    async fn send_many(&self, emails: &[OutgoingEmail]) -> Vec<Result<SendReceipt, SendError>> {
        let mut out = Vec::with_capacity(emails.len());
        for slice in emails.chunks(self.burst as usize) {
            self.admit(slice.len()).await;
            out.extend(self.inner.send_many(slice).await);
        }
        out
    }
}
