//! The email queue on AWS, for hosts other than Lambda (`engage serve --backend
//! aws`): [`SqsQueue`] receives, deletes and releases messages of the SQS queue
//! subscribed to the events topic. The subscription's raw message delivery is off,
//! so an SQS body is SNS's JSON envelope whose `Message` is the event's JSON and
//! whose `MessageAttributes` hold `event_type`; [`SqsQueue::receive`] unwraps it.
//!
//! [`SqsQueue`] is the core's [`EventQueue`] port, whose documentation is the
//! contract; SQS keeps it by its own semantics (the visibility timeout, the redrive
//! policy's `maxReceiveCount`, the receive count across queues). Where SQS leaves a
//! choice to the backend, it takes it so: an earlier receipt of a message still in
//! the queue may delete or release it (SQS documents that it "might", moto always
//! does), and a release rounds its delay up to whole seconds.

use crate::errors::aws_error;
use crate::users::unexpected;
use async_trait::async_trait;
use aws_sdk_sqs::operation::change_message_visibility::ChangeMessageVisibilityError;
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use engage_core::StoreError;
use engage_core::change::Event;
use engage_core::ports::{EventQueue, QueueDelivery};
use serde_json::Value;
use std::time::Duration;

/// One received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// SQS's message id.
    pub message_id: String,
    /// The receipt handle this receive gave: deletes and releases name it.
    pub receipt: String,
    /// The event's JSON, out of the SNS envelope (the body as sent when there is none).
    pub body: String,
    /// The `event_type` message attribute, when the message has one.
    pub event_type: Option<String>,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

impl QueueMessage {
    /// The event the body holds.
    pub fn event(&self) -> Result<Event, StoreError> {
        engage_core::records::decode_event(&self.body)
    }
}

/// Reads an SQS body: an SNS notification envelope gives its `Message` and its
/// `event_type` attribute; anything else is the body itself.
pub(crate) fn unwrap_envelope(body: &str) -> (String, Option<String>) {
    let Ok(Value::Object(envelope)) = serde_json::from_str::<Value>(body) else {
        return (body.to_string(), None);
    };
    let Some(message) = envelope
        .get("Type")
        .filter(|t| t.as_str() == Some("Notification"))
        .and(envelope.get("Message"))
        .and_then(Value::as_str)
    else {
        return (body.to_string(), None);
    };
    let event_type = envelope
        .get("MessageAttributes")
        .and_then(|a| a.get(crate::tables::keys::EVENT_TYPE_ATTRIBUTE))
        .and_then(|a| a.get("Value"))
        .and_then(Value::as_str)
        .map(str::to_string);
    (message.to_string(), event_type)
}

#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            url: queue_url.into(),
        }
    }

    /// The queue named `name` (`GetQueueUrl`).
    pub async fn named(client: aws_sdk_sqs::Client, name: &str) -> Result<Self, StoreError> {
        let out = client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| unexpected(&format!("finding queue {name}"), e))?;
        let url = out
            .queue_url
            .ok_or_else(|| StoreError::Unexpected(anyhow::anyhow!("queue {name} has no URL")))?;
        Ok(Self::new(client, url))
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Receives up to `max` messages (1 to 10), waiting up to `wait` (at most 20 s,
    /// SQS's long-poll limit) for the first one.
    pub async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueMessage>, StoreError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(wait.as_secs().min(20) as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| aws_error("receiving messages", e))?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let receipt = m.receipt_handle()?.to_string();
                let (body, from_envelope) = unwrap_envelope(m.body().unwrap_or_default());
                // Raw delivery puts the attribute on the SQS message itself.
                let event_type = from_envelope.or_else(|| {
                    m.message_attributes()
                        .and_then(|a| a.get(crate::tables::keys::EVENT_TYPE_ATTRIBUTE))
                        .and_then(|v| v.string_value())
                        .map(str::to_string)
                });
                let receive_count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(QueueMessage {
                    message_id: m.message_id().unwrap_or_default().to_string(),
                    receipt,
                    body,
                    event_type,
                    receive_count,
                })
            })
            .collect())
    }

    /// Deletes the messages these receipts name, ten per call; answers how many were
    /// deleted. A receipt SQS refuses (the message is gone) is logged and not
    /// counted.
    pub async fn delete_batch(&self, receipts: Vec<String>) -> Result<usize, StoreError> {
        let mut deleted = 0;
        for chunk in receipts.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(r)
                        .build()
                        .map_err(|e| unexpected("building a delete entry", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .delete_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_error("deleting messages", e))?;
            deleted += out.successful().len();
            for f in out.failed() {
                tracing::warn!(entry = f.id(), code = f.code(), message = ?f.message(), "a message was not deleted");
            }
        }
        Ok(deleted)
    }

    /// Makes a received message visible again after `delay` (zero: now), so it is
    /// retried then (`ChangeMessageVisibility`; at most 12 hours).
    pub async fn release(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        self.change_visibility(receipt, delay).await.map(|_| ())
    }

    /// As [`SqsQueue::release`]; false when SQS knows no message in flight by this
    /// receipt (deleted, or no longer in flight).
    async fn change_visibility(&self, receipt: &str, delay: Duration) -> Result<bool, StoreError> {
        let out = self
            .client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            // Whole seconds, rounded up: truncating made a 1.75 s backoff 1 s.
            .visibility_timeout(delay.as_secs_f64().ceil().min(43_200.0) as i32)
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e)
                if matches!(
                    e.as_service_error(),
                    Some(
                        ChangeMessageVisibilityError::ReceiptHandleIsInvalid(_)
                            | ChangeMessageVisibilityError::MessageNotInflight(_)
                    )
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(aws_error("releasing a message", e)),
        }
    }
}

impl From<QueueMessage> for QueueDelivery {
    fn from(m: QueueMessage) -> Self {
        QueueDelivery {
            id: m.message_id,
            receipt: m.receipt,
            body: m.body,
            receive_count: m.receive_count,
        }
    }
}

/// SQS keeps no processing error: `error` is only logged by the caller.
#[async_trait]
impl EventQueue for SqsQueue {
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueDelivery>, StoreError> {
        let got = SqsQueue::receive(self, max, wait).await?;
        Ok(got.into_iter().map(QueueDelivery::from).collect())
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<usize, StoreError> {
        self.delete_batch(receipts).await
    }

    async fn release(
        &self,
        receipt: &str,
        delay: Duration,
        _error: &str,
    ) -> Result<bool, StoreError> {
        self.change_visibility(receipt, delay).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sns_envelope_is_unwrapped() {
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": "m-1",
            "Message": "{\"id\":\"evt_1\"}",
            "MessageAttributes": {"event_type": {"Type": "String", "Value": "client_created"}},
        })
        .to_string();
        assert_eq!(
            unwrap_envelope(&body),
            (
                "{\"id\":\"evt_1\"}".to_string(),
                Some("client_created".into())
            )
        );
        assert_eq!(
            unwrap_envelope("{\"id\":\"evt_1\"}"),
            ("{\"id\":\"evt_1\"}".to_string(), None)
        );
        assert_eq!(unwrap_envelope("not json"), ("not json".to_string(), None));
    }
}
