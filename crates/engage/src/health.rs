//! `/health` for the embedded backend: one entry per dependency.

use async_trait::async_trait;
use engage_core::ports::{DependencyHealth, HealthCheck, HealthStatus};
use engage_embedded::Store;
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE};
use serde_json::json;
use std::time::Instant;

#[derive(Debug)]
pub struct EmbeddedHealth {
    pub store: Store,
    pub generator: String,
    pub sender: &'static str,
    pub outbox_dir: std::path::PathBuf,
}

fn entry(name: &str, status: HealthStatus, detail: serde_json::Value) -> DependencyHealth {
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
        let writable = std::fs::metadata(&self.outbox_dir)
            .map(|m| m.is_dir() && !m.permissions().readonly())
            .unwrap_or(false);
        out.push(entry(
            "mail",
            if writable {
                HealthStatus::Up
            } else {
                HealthStatus::Down
            },
            json!({"sender": self.sender, "outbox": self.outbox_dir.display().to_string()}),
        ));
        out
    }
}
