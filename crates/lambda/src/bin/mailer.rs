//! The `mailer` function: SQS batches of the email and feedback queues, and the
//! scheduled sweep (`{"sweep": true}`), through [`engage_lambda::mailer::handle`].
//! The configuration, its secrets (the unsubscribe key, the OpenAI key), the engine
//! and the feedback intake are built once, at the cold start.

use engage_lambda::start::{self, Secret};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    start::logging();
    let built = async {
        let started = start::load(&[Secret::UnsubscribeKey, Secret::OpenAiKey]).await?;
        anyhow::Ok((start::engine(&started).await?, start::feedback(&started)?))
    }
    .await
    .inspect_err(|e| {
        tracing::error!(error = format!("{e:#}"), "the mailer function cannot start")
    })?;
    let (engine, intake) = (&built.0, built.1.as_deref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        engage_lambda::mailer::handle(engine, intake, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
