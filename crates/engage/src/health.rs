//! `/health` for the embedded backend: one entry per dependency; and the mail
//! sender's entry, which both backends use.

use async_trait::async_trait;
use engage_core::ports::{DependencyHealth, HealthCheck, HealthStatus, MailSender};
use engage_embedded::Store;
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a sender's answer stands: health stays cheap however often a load
/// balancer asks, and a relay is not dialled on every probe.
pub const MAIL_CHECK_TTL: Duration = Duration::from_secs(10);

/// The `mail` entry: the sender in use checks itself ([`MailSender::check`]: the
/// outbox's directory, the SMTP relay, the SES account), cached for [`MAIL_CHECK_TTL`].
pub struct MailCheck {
    sender: Arc<dyn MailSender>,
    cached: Mutex<Option<(Instant, DependencyHealth)>>,
}

impl std::fmt::Debug for MailCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailCheck")
            .field("sender", &self.sender.name())
            .finish_non_exhaustive()
    }
}

impl MailCheck {
    pub fn new(sender: Arc<dyn MailSender>) -> Self {
        Self {
            sender,
            cached: Mutex::new(None),
        }
    }

    pub async fn entry(&self) -> DependencyHealth {
        if let Some((at, e)) = &*self.cached.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < MAIL_CHECK_TTL
        {
            return e.clone();
        }
        let name = self.sender.name();
        let e = match self.sender.check().await {
            Ok(detail) => {
                let mut d = json!({"sender": name});
                if let (Some(d), serde_json::Value::Object(more)) = (d.as_object_mut(), detail) {
                    d.extend(more);
                }
                entry("mail", HealthStatus::Up, d)
            }
            Err(why) => {
                tracing::warn!(sender = name, error = %why, "health: the mail sender cannot send");
                entry(
                    "mail",
                    HealthStatus::Down,
                    json!({"sender": name, "error": why}),
                )
            }
        };
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), e.clone()));
        e
    }
}

#[derive(Debug)]
pub struct EmbeddedHealth {
    pub store: Store,
    pub generator: String,
    pub mail: MailCheck,
    /// The feedback intake's entry, when feedback is on.
    pub feedback: Option<DependencyHealth>,
}

pub(crate) fn entry(
    name: &str,
    status: HealthStatus,
    detail: serde_json::Value,
) -> DependencyHealth {
    DependencyHealth {
        name: name.into(),
        status,
        detail,
    }
}

#[async_trait]
impl HealthCheck for EmbeddedHealth {
    async fn check(&self) -> Vec<DependencyHealth> {
        let mut out = Vec::new();
        let started = Instant::now();
        match self.store.ping().await {
            Ok(()) => out.push(entry(
                "database",
                HealthStatus::Up,
                json!({"kind": "sqlite", "latency_ms": started.elapsed().as_secs_f64() * 1000.0}),
            )),
            Err(e) => {
                tracing::error!(error = %e, "health: database ping failed");
                out.push(entry(
                    "database",
                    HealthStatus::Down,
                    json!({"kind": "sqlite", "error": "not answering"}),
                ));
                return out;
            }
        }
        match self.store.stream_position().await {
            Ok((head, checkpoint)) => {
                let lag = head - checkpoint;
                let status = if lag > 10_000 {
                    HealthStatus::Degraded
                } else {
                    HealthStatus::Up
                };
                out.push(entry(
                    "change_stream",
                    status,
                    json!({"head": head, "checkpoint": checkpoint, "lag": lag}),
                ));
            }
            Err(_) => out.push(entry("change_stream", HealthStatus::Down, json!({}))),
        }
        match (
            self.store.queue_depth(EMAIL_QUEUE).await,
            self.store.queue_depth(EMAIL_DLQ).await,
        ) {
            (Ok(q), Ok(dlq)) => {
                let dead = dlq.visible + dlq.delayed + dlq.in_flight;
                let status = if dead > 0 {
                    HealthStatus::Degraded
                } else {
                    HealthStatus::Up
                };
                out.push(entry(
                    "email_queue",
                    status,
                    json!({"queue": q, "dead_letters": dead}),
                ));
            }
            _ => out.push(entry("email_queue", HealthStatus::Down, json!({}))),
        }
        out.push(entry(
            "generator",
            HealthStatus::Up,
            json!({"active": self.generator}),
        ));
        out.push(self.mail.entry().await);
        out.extend(self.feedback.clone());
        out
    }
}
