//! `GET /metrics` on the embedded backend: engage-host's recorder and route
//! ([`engage_host::metrics`]), with the gauges read from the store at scrape time
//! (queue depths, change stream lag, emails by status).
//!
//! Every metric is listed in `docs/operations.md`.

use engage_core::StoreError;
use engage_embedded::Store;
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE};
pub use engage_host::metrics::{CONTENT_TYPE, Gauges, install};
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

/// The `/metrics` route over the embedded store.
pub fn router(handle: PrometheusHandle, store: Store) -> axum::Router {
    engage_host::metrics::router(handle, Some(Arc::new(StoreGauges(store))))
}

struct StoreGauges(Store);

#[async_trait::async_trait]
impl Gauges for StoreGauges {
    async fn refresh(&self) -> anyhow::Result<()> {
        Ok(refresh_gauges(&self.0).await?)
    }
}

/// Sets the gauges that are read from the store rather than counted as work happens.
pub async fn refresh_gauges(store: &Store) -> Result<(), StoreError> {
    for queue in [EMAIL_QUEUE, EMAIL_DLQ] {
        let depth = store.queue_depth(queue).await?;
        for (state, n) in [
            ("visible", depth.visible),
            ("in_flight", depth.in_flight),
            ("delayed", depth.delayed),
        ] {
            metrics::gauge!("engage_queue_messages", "queue" => queue, "state" => state)
                .set(n as f64);
        }
    }
    let (head, checkpoint) = store.stream_position().await?;
    metrics::gauge!("engage_change_stream_lag").set((head - checkpoint).max(0) as f64);
    for (status, n) in store.emails_by_status().await? {
        metrics::gauge!("engage_emails_by_status", "status" => status.as_str()).set(n as f64);
    }
    Ok(())
}
