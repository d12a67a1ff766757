//! The `stream` function: DynamoDB stream batches of the Users table to the events
//! topic ([`engage_lambda::stream::handle`]). The publisher is built once, at the
//! cold start; the function reads no secret.

use aws_lambda_events::event::dynamodb::Event as DynamoDbEvent;
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use engage_lambda::start;
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    start::logging();
    let started = start::load(&[]).await.inspect_err(|e| {
        tracing::error!(error = format!("{e:#}"), "the stream function cannot start")
    })?;
    let publisher = start::publisher(&started).await?;
    let publisher = &*publisher;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<DynamoDbEvent>| async move {
            Ok::<DynamoDbEventResponse, lambda_runtime::Error>(
                engage_lambda::stream::handle(publisher, event.payload).await,
            )
        },
    ))
    .await
}
