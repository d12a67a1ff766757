//! `/health` for the embedded backend: one entry per dependency.

use async_trait::async_trait;
use engage_core::ports::{DependencyHealth, HealthCheck, HealthStatus};
use engage_embedded::Store;
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE};
use engage_mail::MailCheck;
use serde_json::json;
use std::time::Instant;

#[derive(Debug)]
pub struct EmbeddedHealth {
    pub store: Store,
    pub generator: String,
    pub mail: MailCheck,
    /// The feedback intake's entry, when feedback is on.
    pub feedback: Option<DependencyHealth>,
}

#[async_trait]
impl HealthCheck for EmbeddedHealth {
    async fn check(&self) -> Vec<DependencyHealth> {
        let mut out = Vec::new();
        let started = Instant::now();
        match self.store.ping().await {
            Ok(()) => out.push(DependencyHealth::new(
                "database",
                HealthStatus::Up,
                json!({"kind": "sqlite", "latency_ms": started.elapsed().as_secs_f64() * 1000.0}),
            )),
            Err(e) => {
                tracing::error!(error = %e, "health: database ping failed");
                out.push(DependencyHealth::new(
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
                out.push(DependencyHealth::new(
                    "change_stream",
                    status,
                    json!({"head": head, "checkpoint": checkpoint, "lag": lag}),
                ));
            }
            Err(_) => out.push(DependencyHealth::new(
                "change_stream",
                HealthStatus::Down,
                json!({}),
            )),
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
                out.push(DependencyHealth::new(
                    "email_queue",
                    status,
                    json!({"queue": q, "dead_letters": dead}),
                ));
            }
            _ => out.push(DependencyHealth::new(
                "email_queue",
                HealthStatus::Down,
                json!({}),
            )),
        }
        out.push(DependencyHealth::new(
            "generator",
            HealthStatus::Up,
            json!({"active": self.generator}),
        ));
        out.push(self.mail.entry().await);
        out.extend(self.feedback.clone());
        out
    }
}
