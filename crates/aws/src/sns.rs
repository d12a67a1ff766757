//! The events topic on AWS: [`SnsPublisher`] publishes events to the SNS topic
//! `events` with `PublishBatch`, ten at a time. The message is the event as an
//! [`engage_core::records::EventMessage`] (what the SQLite queue stores too), and the
//! message attribute `event_type` carries [`engage_core::change::EventType::as_str`]
//! for the subscriptions' filter policies.

use crate::errors::aws_error;
use crate::tables::keys::EVENT_TYPE_ATTRIBUTE;
use crate::users::unexpected;
use async_trait::async_trait;
use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use engage_core::StoreError;
use engage_core::change::Event;
use engage_core::ports::EventPublisher;
use engage_core::records::encode_event;

/// `PublishBatch`'s limit.
const BATCH: usize = 10;
/// Batches in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        Self {
            client,
            topic_arn: topic_arn.into(),
        }
    }

    pub fn topic_arn(&self) -> &str {
        &self.topic_arn
    }

    async fn publish_batch(&self, events: &[Event]) -> Result<(), StoreError> {
        let entries = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let body = encode_event(e)?;
                let attribute = MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value(e.event_type.as_str())
                    .build()
                    .map_err(|err| unexpected("building a message attribute", err))?;
                PublishBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message(body)
                    .message_attributes(EVENT_TYPE_ATTRIBUTE, attribute)
                    .build()
                    .map_err(|err| unexpected("building a batch entry", err))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let out = self
            .client
            .publish_batch()
            .topic_arn(&self.topic_arn)
            .set_publish_batch_request_entries(Some(entries))
            .send()
            .await
            .map_err(|e| aws_error("publishing events", e))?;
        let failed: Vec<String> = out
            .failed()
            .iter()
            .map(|f| {
                let event = f
                    .id()
                    .strip_prefix('e')
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| events.get(i));
                let name = event.map_or_else(
                    || format!("entry {}", f.id()),
                    |e| format!("event {} ({})", e.id, e.event_type.as_str()),
                );
                format!("{name}: {} {}", f.code(), f.message().unwrap_or_default())
            })
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Unexpected(anyhow::anyhow!(
                "the events topic refused {}",
                failed.join("; ")
            )))
        }
    }
}

#[async_trait]
impl EventPublisher for SnsPublisher {
    /// Publishes in batches of ten, a few batches at once. `Err` when any event was
    /// not accepted (naming each); the others were published, and publishing all of
    /// them again is harmless, since the email processor claims each event id once.
    async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError> {
        let batches: Vec<&[Event]> = events.chunks(BATCH).collect();
        let mut results: Vec<Result<(), StoreError>> = Vec::with_capacity(batches.len());
        for group in batches.chunks(CONCURRENCY) {
            let done =
                futures_util::future::join_all(group.iter().map(|b| self.publish_batch(b))).await;
            results.extend(done);
        }
        let errors: Vec<String> = results
            .into_iter()
            .filter_map(Result::err)
            .map(|e| e.to_string())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Unexpected(anyhow::anyhow!(
                "{}",
                errors.join("; ")
            )))
        }
    }
}

/// The ARN of the topic named `name`, if it exists (`ListTopics`, paginated).
pub async fn find_topic_arn(
    client: &aws_sdk_sns::Client,
    name: &str,
) -> anyhow::Result<Option<String>> {
    let suffix = format!(":{name}");
    let mut pages = client.list_topics().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            anyhow::anyhow!(
                "listing topics: {}",
                aws_sdk_sns::error::DisplayErrorContext(e)
            )
        })?;
        if let Some(arn) = page
            .topics()
            .iter()
            .filter_map(|t| t.topic_arn())
            .find(|arn| arn.ends_with(&suffix))
        {
            return Ok(Some(arn.to_string()));
        }
    }
    Ok(None)
}
