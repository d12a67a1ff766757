//! The email processor's queue ([`EventQueue`]: the queue subscribed to the events
//! topic) and its dead letters ([`DeadLetters`]), as every backend must keep them: on
//! SQLite (`engage_embedded::queue`) and on SQS (`engage_aws::SqsQueue`,
//! `engage_aws::SqsDeadLetters`). `engage_core::testing::contract::queue` checks it.
//!
//! The contract, in the terms of SQS, whose semantics it is:
//!
//! - **QueueDelivery.** An event published on the topic ([`super::EventPublisher`]) is a
//!   message of the queue; a receive delivers it with a fresh receipt and its
//!   receive count, 1 on its first delivery.
//! - **Visibility.** A delivered message is hidden (in flight) for the queue's
//!   visibility timeout; if it is neither deleted nor released by then it is
//!   delivered again, with a new receipt and its count one higher.
//! - **Latest receipt.** Deleting or releasing names a receipt. The latest receipt
//!   of a message always acts on it; a receipt of a message already deleted acts on
//!   nothing and is no error (SQS counts it as accepted all the same). Whether an *earlier* receipt of a message still in the
//!   queue acts is backend-dependent (SQLite refuses it; SQS documents that it "might"
//!   act, and moto lets it): callers delete only what they finished, and processing
//!   is idempotent (claims), so a stale receipt's delete loses nothing.
//! - **Release.** Releasing makes a message visible again after a delay (the
//!   backoff of a failed attempt; SQS rounds it up to whole seconds); the receive
//!   stays counted.
//! - **Dead letters.** A message that was received `max_receives` times and comes up
//!   again moves to the dead-letter queue instead of being delivered (the receive
//!   that finds it moves it), remembering its source queue, its body and its
//!   receive count; it is then never delivered from the source queue again.
//! - **Redrive.** A redriven dead letter is a message of its source queue again, with
//!   a fresh count: its next delivery counts 1.

use super::Page;
use crate::StoreError;
use crate::change::Event;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// One message as one receive delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueDelivery {
    /// The message's id in its queue, the same on every delivery (for logs).
    pub id: String,
    /// This delivery's receipt: deletes and releases name it.
    pub receipt: String,
    /// The event's message as published ([`crate::records::EventMessage`]; a body
    /// that is not an event is delivered as it is, and fails on its own when
    /// processed).
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

impl QueueDelivery {
    /// The event the body holds.
    pub fn event(&self) -> Result<Event, StoreError> {
        crate::records::decode_event(&self.body)
    }
}

/// The queue of the events topic that the email processor consumes.
#[async_trait]
pub trait EventQueue: Send + Sync {
    /// Delivers up to `max` visible messages (at least 1; a backend may deliver
    /// fewer than are visible, SQS at most 10), waiting up to `wait` for the first
    /// when none is visible (SQS: at most 20 s); answers none when none came. Each
    /// delivered message is hidden for the visibility timeout; a message that has
    /// had its `max_receives` moves to the dead letters instead.
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueDelivery>, StoreError>;

    /// Deletes the messages these receipts name; a receipt that acts on nothing is
    /// no error. Answers how many receipts it accepted: each one that deleted a
    /// message, and, where deleting is idempotent (SQS), also each receipt of a
    /// message already deleted (SQLite does not count those).
    async fn delete(&self, receipts: Vec<String>) -> Result<usize, StoreError>;

    /// Makes a delivered message visible again after `delay`, noting `error` where
    /// the backend keeps it (the dead letter's `last_error`). Answers false when
    /// the receipt named no message in flight (it was deleted, or, where stale
    /// receipts are refused, delivered again since), which is no error.
    async fn release(
        &self,
        receipt: &str,
        delay: Duration,
        error: &str,
    ) -> Result<bool, StoreError>;
}

/// A message that failed `max_receives` times, as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// Opaque id of the dead letter.
    pub id: String,
    /// The queue it came from and is redriven to.
    pub source_queue: String,
    /// The message body: the event as JSON when it parses, else the raw text.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: serde_json::Value,
    /// The receives it had when it died (`max_receives`); where looking at the
    /// dead-letter queue is receiving from it (SQS), earlier looks add to it.
    pub receive_count: u32,
    /// The last processing error, if the backend keeps one (SQS does not).
    pub last_error: Option<String>,
    /// When the message was first sent.
    pub sent_at: DateTime<Utc>,
}

/// The dead-letter queue, for operators: look, then redrive.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Up to `limit` dead letters from `cursor` on. A backend that can page (SQLite)
    /// lists in a stable order and answers a cursor while more remain, and refuses a
    /// cursor it did not issue (`InvalidCursor`); one that cannot (SQS) answers one
    /// page in no order and never a cursor.
    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<DeadLetter>, StoreError>;
    /// The dead letter of this id; `None` when there is none.
    async fn get(&self, id: &str) -> Result<Option<DeadLetter>, StoreError>;
    /// Moves one message back to its source queue with a fresh receive count;
    /// `NotFound` when there is no such dead letter.
    async fn redrive(&self, id: &str) -> Result<(), StoreError>;
    /// Redrives every dead letter; returns how many.
    async fn redrive_all(&self) -> Result<u64, StoreError>;
}
