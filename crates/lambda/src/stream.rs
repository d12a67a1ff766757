//! The `stream` function: DynamoDB stream records of the Users table become the
//! domain's change records, then events ([`event_for_change`]), published on the
//! events topic.
//!
//! Partial batch failures: a stream shard is ordered, so on failure the response
//! names the first record whose event was not published; Lambda retries from it.
//! Events are published in one call, so that is the batch's first record: a retry
//! publishes the same event ids again, and the email processor's claims make a
//! repeat harmless.

use aws_lambda_events::event::dynamodb::{Event as DynamoDbEvent, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use engage_aws::stream::{change_of, client_in_image};
use engage_core::change::{ChangeRecord, Event, event_for_change};
use engage_core::client::Client;
use engage_core::ports::EventPublisher;
use serde_dynamo::{AttributeValue, Item};

/// The client in a stream image (`engage_aws::stream::client_in_image`, which the
/// long-running poller reads its images through too).
fn client_of(image: &Item) -> Result<Option<Client>, String> {
    let s = |k: &str| match image.get(k) {
        Some(AttributeValue::S(v)) => Some(v.as_str()),
        _ => None,
    };
    client_in_image(s("kind"), s("body"))
}

/// The change record a stream record means; `None` for an address guard item.
pub fn change_record(record: &EventRecord) -> Result<Option<ChangeRecord>, String> {
    let change = &record.change;
    let seq = change.sequence_number.clone().unwrap_or_default();
    let old = client_of(&change.old_image)?;
    let new = client_of(&change.new_image)?;
    Ok(change_of(
        &seq,
        old,
        new,
        change.approximate_creation_date_time,
    ))
}

/// Publishes the events of `batch`; answers with the records to retry.
pub async fn handle(publisher: &dyn EventPublisher, batch: DynamoDbEvent) -> DynamoDbEventResponse {
    let mut events: Vec<Event> = Vec::new();
    for record in &batch.records {
        match change_record(record) {
            Ok(Some(change)) => events.extend(event_for_change(&change)),
            Ok(None) => {}
            Err(why) => {
                // Retrying cannot help a record that does not decode; it is skipped,
                // loudly, rather than blocking its shard for a day.
                tracing::error!(seq = ?record.change.sequence_number, %why, "skipping an unreadable stream record");
            }
        }
    }
    let failures = if events.is_empty() {
        Vec::new()
    } else {
        match publisher.publish(events).await {
            Ok(()) => Vec::new(),
            Err(e) => {
                tracing::error!(error = %e, "publishing the batch's events failed; the batch will be retried");
                batch
                    .records
                    .first()
                    .map(|r| {
                        let mut f = DynamoDbBatchItemFailure::default();
                        f.item_identifier = r.change.sequence_number.clone();
                        f
                    })
                    .into_iter()
                    .collect()
            }
        }
    };
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    response
}
