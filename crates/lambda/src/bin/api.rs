//! The `api` function: API Gateway (HTTP API) requests to the axum router `engage
//! serve` uses, over the AWS backend. The configuration, the secrets (the admin
//! token, the unsubscribe key, the OpenAI key) and the clients are built once, at the
//! cold start.

use engage_lambda::start::{self, Secret};

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    start::logging();
    let started = start::load(&[
        Secret::AdminToken,
        Secret::UnsubscribeKey,
        Secret::OpenAiKey,
        Secret::OriginSecret,
    ])
    .await
    .inspect_err(|e| tracing::error!(error = format!("{e:#}"), "the api function cannot start"))?;
    let clock = std::sync::Arc::new(engage_core::clock::SystemClock);
    let host = engage_host::aws::AwsHost::build(&started.config, clock, Some(started.sdk))
        .await
        .inspect_err(|e| {
            tracing::error!(error = format!("{e:#}"), "the api function cannot start")
        })?;
    let extra = engage_host::metrics::router(engage_host::metrics::install(), None);
    if started.origin_secret.is_none() {
        tracing::warn!("no origin secret: the API answers at its execute-api address too");
    }
    let router = engage_lambda::api::router(host.state.clone(), extra, started.origin_secret);
    lambda_http::run(router).await
}
