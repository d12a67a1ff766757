//! `GET /metrics` in the Prometheus text format.
//!
//! The library crates count through the `metrics` facade (core: decisions, pipeline
//! lag, email status changes; embedded: events published; api: HTTP requests). Here
//! the process installs the one recorder that keeps them, and the `/metrics` route
//! renders it, after refreshing the gauges a host reads at scrape time ([`Gauges`]:
//! the embedded store's queue depths, change stream lag and emails by status). The
//! recorder is process-global, so it is installed once however many applications
//! the process builds (the tests build many).
//!
//! Every metric is listed in `docs/operations.md`.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

/// The content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request latency: 1 ms to 10 s.
const HTTP_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Change committed → decision recorded: milliseconds when the pipeline keeps up,
/// minutes to an hour when messages wait out retries with backoff.
const LAG_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    300.0, 900.0, 3600.0,
];

/// LLM requests and limiter waits: 10 ms to 2 minutes.
const LLM_BUCKETS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

/// How often histogram samples are folded in when nobody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's recorder on the first call and returns the handle that
/// renders it; later calls return the same handle.
pub fn install() -> PrometheusHandle {
    HANDLE.get_or_init(build).clone()
}

fn build() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full("engage_http_request_duration_seconds".into()),
            HTTP_BUCKETS,
        )
        .and_then(|b| b.set_buckets_for_metric(Matcher::Prefix("engage_llm_".into()), LLM_BUCKETS))
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("engage_pipeline_lag_seconds".into()),
                LAG_BUCKETS,
            )
        })
        .expect("the bucket lists are not empty");
    let handle = match builder.install_recorder() {
        Ok(handle) => handle,
        Err(e) => {
            // Someone installed another recorder first (an embedding program): serve
            // an empty document rather than fail the start.
            tracing::warn!(error = %e, "metrics: a recorder is already installed; /metrics will be empty");
            PrometheusBuilder::new().build_recorder().handle()
        }
    };
    // Rendering folds histogram samples in; without scrapes they would pile up.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics: no upkeep thread; histograms are folded in at scrape time only");
    }
    describe();
    metrics::gauge!("engage_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    handle
}

/// The `# HELP` lines.
fn describe() {
    describe_counter!(
        "engage_http_requests_total",
        "HTTP requests answered, by method, route template and status"
    );
    describe_histogram!(
        "engage_http_request_duration_seconds",
        Unit::Seconds,
        "HTTP request latency, by method and route template"
    );
    describe_counter!(
        "engage_events_total",
        "events published on the events topic, by event type"
    );
    describe_counter!(
        "engage_decisions_total",
        "decisions recorded by the email processor, by outcome and skip reason"
    );
    describe_histogram!(
        "engage_pipeline_lag_seconds",
        Unit::Seconds,
        "time from a change's commit (the event's time) to its recorded decision"
    );
    describe_counter!(
        "engage_emails_total",
        "emails entering a status (created pending or scheduled, then each transition)"
    );
    describe_gauge!(
        "engage_queue_messages",
        "messages in a queue, by queue and state (visible, in_flight, delayed)"
    );
    describe_gauge!(
        "engage_change_stream_lag",
        "change records not yet published by the stream tailer (head - checkpoint)"
    );
    describe_gauge!("engage_emails_by_status", "emails currently in each status");
    describe_histogram!(
        "engage_llm_request_duration_seconds",
        Unit::Seconds,
        "LLM chat-completion requests, each attempt on its own"
    );
    describe_histogram!(
        "engage_llm_limiter_wait_seconds",
        Unit::Seconds,
        "time a request waited for the client-side requests/tokens-per-minute limiter"
    );
    describe_counter!(
        "engage_llm_errors_total",
        "failed LLM requests, by kind (timeout, connect, rate_limited, server, auth, client, malformed_output, model_refusal, schema_unsupported)"
    );
    describe_counter!(
        "engage_llm_tokens_total",
        "tokens of accepted LLM answers, by direction (in: prompt, out: completion)"
    );
    describe_gauge!(
        "engage_llm_cost_usd_total",
        "estimated US dollars of accepted LLM answers since the process started"
    );
    describe_gauge!(
        "engage_llm_spent_today",
        "LLM tokens and dollars spent today (UTC) against the daily budget, by unit"
    );
    describe_gauge!(
        "engage_llm_circuit_open",
        "1 while the LLM circuit breaker is open (emails use their templates)"
    );
    describe_counter!(
        "engage_llm_fallbacks_total",
        "emails written from their template instead of the model, by reason (a guard's name, unavailable, refused, circuit_open, over_budget)"
    );
    describe_gauge!(
        "engage_build_info",
        "always 1; the `version` label is the running build"
    );
}

/// The gauges a host reads at scrape time rather than counting as work happens.
#[async_trait::async_trait]
pub trait Gauges: Send + Sync {
    async fn refresh(&self) -> anyhow::Result<()>;
}

#[derive(Clone)]
struct Scrape {
    handle: PrometheusHandle,
    gauges: Option<Arc<dyn Gauges>>,
}

/// The `/metrics` route, to merge into the API router (behind its token); a scrape
/// refreshes `gauges` first, when there are any (the AWS backend has none: CloudWatch
/// has the queues' and tables' figures).
pub fn router(handle: PrometheusHandle, gauges: Option<Arc<dyn Gauges>>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape { handle, gauges })
}

async fn scrape(State(s): State<Scrape>) -> impl IntoResponse {
    if let Some(gauges) = &s.gauges
        && let Err(e) = gauges.refresh().await
    {
        // Counters are still worth having; the gauges keep their last values.
        tracing::error!(error = %e, "metrics: reading the gauges failed");
    }
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], s.handle.render())
}
