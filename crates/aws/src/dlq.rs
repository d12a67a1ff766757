//! The email queue's dead letters on AWS, for operators ([`SqsDeadLetters`]).
//!
//! SQS cannot show a queue's messages without receiving them, so what this adapter
//! can and cannot do follows from that:
//!
//! - **list** and **get** receive the dead-letter queue's messages with a short
//!   visibility timeout ([`PEEK_VISIBILITY`]), then make each visible again at once.
//!   Each look counts as a receive of those messages (the DLQ has no redrive policy,
//!   so that moves nothing), and for the moment of a look the messages are hidden
//!   from another look. There is no stable order: a page is the messages SQS handed
//!   out, and there is no next page (`next_cursor` is always `None`); at most
//!   [`MAX_SCAN`] messages are seen.
//! - **redrive** sends a message's event to the email queue again, as a fresh message
//!   (receive count 1; the event, not the SNS envelope, which the workers read too)
//!   and then deletes it from the DLQ: a crash in between leaves it in both, which is
//!   harmless since the email processor claims each event once.
//! - The last processing error is not known to SQS (`last_error` is `None`).
//! - The receive count shown is the receives before this look: SQS counts a
//!   message's receives across queues, so that is the source queue's
//!   (`maxReceiveCount`) plus every earlier look.
//!
//! The port's documentation (`engage_core::ports::DeadLetters`) is the contract; the
//! cursor-less list is the part of it this adapter takes the SQS way.

use crate::errors::aws_error;
use crate::sqs::unwrap_envelope;
use crate::tables::keys::EVENT_TYPE_ATTRIBUTE;
use crate::users::unexpected;
use async_trait::async_trait;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue,
    MessageSystemAttributeName,
};
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::ports::{DeadLetter, DeadLetters, Page};

/// How long a look hides the messages it received (they are released right after).
pub const PEEK_VISIBILITY: i32 = 5;
/// The most messages one look sees.
pub const MAX_SCAN: usize = 1_000;

#[derive(Debug, Clone)]
pub struct SqsDeadLetters {
    client: aws_sdk_sqs::Client,
    dlq_url: String,
    source_url: String,
    source_name: String,
}

/// One received dead letter: what the port shows, and what a redrive needs.
struct Received {
    letter: DeadLetter,
    receipt: String,
    event: String,
    event_type: Option<String>,
}

impl SqsDeadLetters {
    /// The dead letters of `dlq_url`, redriven to `source_url` (named `source_name`).
    pub fn new(
        client: aws_sdk_sqs::Client,
        dlq_url: impl Into<String>,
        source_url: impl Into<String>,
        source_name: impl Into<String>,
    ) -> Self {
        Self {
            client,
            dlq_url: dlq_url.into(),
            source_url: source_url.into(),
            source_name: source_name.into(),
        }
    }

    fn read(&self, m: &Message) -> Option<Received> {
        let receipt = m.receipt_handle()?.to_string();
        let (event, from_envelope) = unwrap_envelope(m.body().unwrap_or_default());
        let event_type = from_envelope.or_else(|| {
            m.message_attributes()
                .and_then(|a| a.get(EVENT_TYPE_ATTRIBUTE))
                .and_then(|v| v.string_value())
                .map(str::to_string)
        });
        let attribute = |name| m.attributes().and_then(|a| a.get(&name));
        // This look is a receive too; it is not one the message had.
        let receive_count = attribute(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|c| c.parse::<u32>().ok())
            .unwrap_or(1)
            .saturating_sub(1);
        let sent_at = attribute(MessageSystemAttributeName::SentTimestamp)
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(DateTime::<Utc>::from_timestamp_millis)
            .unwrap_or_default();
        let body = serde_json::from_str(&event)
            .unwrap_or_else(|_| serde_json::Value::String(event.clone()));
        Some(Received {
            letter: DeadLetter {
                id: m.message_id()?.to_string(),
                source_queue: self.source_name.clone(),
                body,
                receive_count,
                last_error: None,
                sent_at,
            },
            receipt,
            event,
            event_type,
        })
    }

    /// Receives up to `max` messages, each hidden for `visibility` seconds.
    async fn receive(&self, max: usize, visibility: i32) -> Result<Vec<Received>, StoreError> {
        let mut out: Vec<Received> = Vec::new();
        while out.len() < max {
            let got = self
                .client
                .receive_message()
                .queue_url(&self.dlq_url)
                .max_number_of_messages((max - out.len()).min(10) as i32)
                .visibility_timeout(visibility)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .message_attribute_names("All")
                .send()
                .await
                .map_err(|e| aws_error("receiving dead letters", e))?
                .messages
                .unwrap_or_default();
            if got.is_empty() {
                break;
            }
            for m in &got {
                // SQS may hand out a message twice in one look; keep one.
                if let Some(r) = self.read(m)
                    && !out.iter().any(|o| o.letter.id == r.letter.id)
                {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    /// Makes the received messages visible again now.
    async fn release(&self, received: &[Received]) -> Result<(), StoreError> {
        for chunk in received.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .receipt_handle(&r.receipt)
                        .visibility_timeout(0)
                        .build()
                        .map_err(|e| unexpected("building a visibility entry", e))
                })
                .collect::<Result<Vec<_>, _>>()?;
            self.client
                .change_message_visibility_batch()
                .queue_url(&self.dlq_url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| aws_error("releasing dead letters", e))?;
        }
        Ok(())
    }

    /// Sends the message's event to the source queue, then deletes it from the DLQ.
    async fn move_back(&self, r: &Received) -> Result<(), StoreError> {
        let mut send = self
            .client
            .send_message()
            .queue_url(&self.source_url)
            .message_body(&r.event);
        if let Some(t) = &r.event_type {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(t)
                .build()
                .map_err(|e| unexpected("building a message attribute", e))?;
            send = send.message_attributes(EVENT_TYPE_ATTRIBUTE, attribute);
        }
        send.send()
            .await
            .map_err(|e| aws_error("sending a dead letter back", e))?;
        self.client
            .delete_message()
            .queue_url(&self.dlq_url)
            .receipt_handle(&r.receipt)
            .send()
            .await
            .map_err(|e| aws_error("deleting a redriven dead letter", e))?;
        Ok(())
    }
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn list(
        &self,
        _cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<DeadLetter>, StoreError> {
        let received = self
            .receive((limit.max(1) as usize).min(MAX_SCAN), PEEK_VISIBILITY)
            .await?;
        self.release(&received).await?;
        Ok(Page {
            items: received.into_iter().map(|r| r.letter).collect(),
            next_cursor: None,
        })
    }

    async fn get(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let received = self.receive(MAX_SCAN, PEEK_VISIBILITY).await?;
        self.release(&received).await?;
        Ok(received
            .into_iter()
            .find(|r| r.letter.id == id)
            .map(|r| r.letter))
    }

    async fn redrive(&self, id: &str) -> Result<(), StoreError> {
        let mut received = self.receive(MAX_SCAN, PEEK_VISIBILITY).await?;
        let found = received.iter().position(|r| r.letter.id == id);
        let target = found.map(|i| received.swap_remove(i));
        self.release(&received).await?;
        match target {
            Some(r) => self.move_back(&r).await,
            None => Err(StoreError::NotFound),
        }
    }

    async fn redrive_all(&self) -> Result<u64, StoreError> {
        let mut moved = 0;
        loop {
            // Hidden long enough to be moved; each batch is moved before the next.
            let batch = self.receive(10, 60).await?;
            if batch.is_empty() {
                return Ok(moved);
            }
            for r in &batch {
                self.move_back(r).await?;
                moved += 1;
            }
        }
    }
}
