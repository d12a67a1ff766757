//! The events topic and its queues, with the semantics of SNS → SQS:
//!
//! - a message becomes visible at `visible_at` (delayed delivery);
//! - receiving hides it for the visibility timeout and gives it a fresh receipt
//!   handle; only the latest receipt can delete it (a worker whose timeout expired
//!   cannot delete a message another worker now holds);
//! - a message received more than `max_receives` times moves to the dead-letter queue
//!   instead of being delivered again, remembering its source queue; operators list
//!   and redrive dead letters through the `DeadLetters` port (`dead_letters.rs`).
//!
//! [`SqliteQueue`] is the email queue as the core's [`EventQueue`] port, whose
//! documentation is the contract these semantics keep.

use crate::Store;
use crate::db::unexpected;
use async_trait::async_trait;
use engage_core::StoreError;
use engage_core::change::Event;
use engage_core::ports::{EventPublisher, EventQueue, QueueDelivery};
use rand::Rng as _;
use rusqlite::{Connection, params};
use serde::Serialize;
use std::time::Duration;

/// The email processor's queue and its dead-letter queue.
pub const EMAIL_QUEUE: &str = "email";
pub const EMAIL_DLQ: &str = "email-dlq";

#[derive(Debug, Clone, Copy)]
pub struct QueueSettings {
    pub visibility: Duration,
    pub max_receives: u32,
    pub dead_letter_queue: &'static str,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            visibility: Duration::from_secs(60),
            max_receives: 5,
            dead_letter_queue: EMAIL_DLQ,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub id: i64,
    pub receipt: String,
    pub body: String,
    /// 1 on the first delivery.
    pub receive_count: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// Received and not yet deleted.
    pub in_flight: u64,
    /// Not yet visible (delayed or backing off).
    pub delayed: u64,
}

/// The message id a receipt handle carries (`{id}.{random}`), so deleting or
/// releasing by receipt is a primary-key lookup, not a scan of the queue.
fn message_id(receipt: &str) -> i64 {
    receipt
        .split_once('.')
        .and_then(|(id, _)| id.parse().ok())
        .unwrap_or(-1)
}

/// Which queues an event goes to: the topic's subscriptions and their filters. The
/// email processor wants every event type; a future consumer adds a line here.
fn subscribers(_event: &Event) -> [&'static str; 1] {
    [EMAIL_QUEUE]
}

pub(crate) fn enqueue(
    c: &Connection,
    queue: &str,
    body: &str,
    visible_at: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO queue_messages (queue, body, visible_at, sent_at) VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut s| s.execute(params![queue, body, visible_at, now]))
    .map_err(unexpected)?;
    Ok(())
}

/// Publishes `events` within the caller's transaction.
pub(crate) fn publish_in(c: &Connection, events: &[Event], now: i64) -> Result<(), StoreError> {
    publish_handing_off(c, events, now, 0, QueueSettings::default()).map(|_| ())
}

/// What a pump may hand straight to the workers ([`Store::pump_handing_off`]).
#[derive(Debug, Clone, Default)]
pub struct Handoff {
    /// Email-queue messages to hand off as received, at most.
    pub max: usize,
    pub settings: QueueSettings,
    /// Receipts of messages done with, deleted in the same write.
    pub acks: Vec<String>,
}

/// Publishes `events` within the caller's transaction; the first `max` email-queue
/// messages are stored as received (hidden for the visibility timeout, with a
/// receipt) and returned, the rest are visible to any receive.
pub(crate) fn publish_handing_off(
    c: &Connection,
    events: &[Event],
    now: i64,
    max: usize,
    settings: QueueSettings,
) -> Result<Vec<Received>, StoreError> {
    let mut received = Vec::new();
    for e in events {
        let body = engage_core::records::encode_event(e)?;
        for q in subscribers(e) {
            if q == EMAIL_QUEUE && received.len() < max {
                received.push(enqueue_received(c, q, body.clone(), now, settings)?);
            } else {
                enqueue(c, q, &body, now, now)?;
            }
        }
    }
    Ok(received)
}

/// Enqueues a message already received once, as [`Store::receive_acking`] would leave it.
fn enqueue_received(
    c: &Connection,
    queue: &str,
    body: String,
    now: i64,
    settings: QueueSettings,
) -> Result<Received, StoreError> {
    let hidden_until = now + settings.visibility.as_millis() as i64;
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO queue_messages (queue, body, visible_at, sent_at, receive_count) VALUES (?1, ?2, ?3, ?4, 1) RETURNING id",
        )
        .and_then(|mut s| s.query_row(params![queue, body, hidden_until, now], |r| r.get(0)))
        .map_err(unexpected)?;
    let receipt = new_receipt(id);
    c.prepare_cached("UPDATE queue_messages SET receipt = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, receipt]))
        .map_err(unexpected)?;
    Ok(Received {
        id,
        receipt,
        body,
        receive_count: 1,
    })
}

/// A fresh receipt handle for message `id`.
fn new_receipt(id: i64) -> String {
    format!("{id}.{:032x}", rand::rng().random::<u128>())
}

/// Deletes the messages whose receipts are current; returns how many.
pub(crate) fn delete_in(c: &Connection, receipts: &[String]) -> Result<usize, StoreError> {
    let mut s = c
        .prepare_cached("DELETE FROM queue_messages WHERE id = ?1 AND receipt = ?2")
        .map_err(unexpected)?;
    receipts.iter().try_fold(0, |n, r| {
        s.execute(params![message_id(r), r])
            .map(|d| n + d)
            .map_err(unexpected)
    })
}

impl Store {
    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now().timestamp_millis()
    }

    /// Sends raw messages to a queue, visible after `delay`.
    pub async fn send_messages(
        &self,
        queue: &str,
        bodies: Vec<String>,
        delay: Duration,
    ) -> Result<(), StoreError> {
        let now = self.now_ms();
        let visible = now + delay.as_millis() as i64;
        let queue = queue.to_string();
        self.db
            .write(move |c| {
                bodies
                    .iter()
                    .try_for_each(|b| enqueue(c, &queue, b, visible, now))
            })
            .await?;
        self.wake_workers();
        Ok(())
    }

    /// Receives up to `max` visible messages, hiding each for the visibility timeout.
    pub async fn receive(
        &self,
        queue: &str,
        max: u32,
        settings: QueueSettings,
    ) -> Result<Vec<Received>, StoreError> {
        self.receive_acking(queue, max, settings, Vec::new()).await
    }

    /// Deletes the messages of `acks` (receipts of messages done with) and receives up
    /// to `max` more, in one write: a worker acknowledges a batch with its next receive.
    pub async fn receive_acking(
        &self,
        queue: &str,
        max: u32,
        settings: QueueSettings,
        acks: Vec<String>,
    ) -> Result<Vec<Received>, StoreError> {
        let now = self.now_ms();
        let hidden_until = now + settings.visibility.as_millis() as i64;
        let queue = queue.to_string();
        self.db
            .write(move |c| {
                delete_in(c, &acks)?;
                let mut pick = c
                    .prepare_cached(
                        "SELECT id, body, receive_count FROM queue_messages WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, id LIMIT ?3",
                    )
                    .map_err(unexpected)?;
                let candidates = pick
                    .query_map(params![queue, now, max as i64], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)? as u32))
                    })
                    .map_err(unexpected)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unexpected)?;
                let mut out = Vec::new();
                for (id, body, count) in candidates {
                    if count >= settings.max_receives {
                        // Count and last error stay as they were, for the operator.
                        c.prepare_cached("UPDATE queue_messages SET queue = ?2, source_queue = ?4, visible_at = ?3, receipt = NULL WHERE id = ?1")
                            .and_then(|mut s| s.execute(params![id, settings.dead_letter_queue, now, queue]))
                            .map_err(unexpected)?;
                        tracing::warn!(message_id = id, receives = count, "message moved to the dead-letter queue");
                        continue;
                    }
                    let receipt = new_receipt(id);
                    c.prepare_cached(
                        "UPDATE queue_messages SET receive_count = receive_count + 1, visible_at = ?2, receipt = ?3 WHERE id = ?1",
                    )
                    .and_then(|mut s| s.execute(params![id, hidden_until, receipt]))
                    .map_err(unexpected)?;
                    out.push(Received { id, receipt, body, receive_count: count + 1 });
                }
                Ok(out)
            })
            .await
    }

    /// Deletes a received message; false when the receipt is no longer current.
    pub async fn delete_message(&self, receipt: &str) -> Result<bool, StoreError> {
        let receipt = receipt.to_string();
        self.db
            .write(move |c| {
                c.prepare_cached("DELETE FROM queue_messages WHERE id = ?1 AND receipt = ?2")
                    .and_then(|mut s| s.execute(params![message_id(&receipt), receipt]))
                    .map(|n| n > 0)
                    .map_err(unexpected)
            })
            .await
    }

    /// Deletes received messages in one write; returns how many receipts were current.
    pub async fn delete_messages(&self, receipts: Vec<String>) -> Result<usize, StoreError> {
        if receipts.is_empty() {
            return Ok(0);
        }
        self.db.write(move |c| delete_in(c, &receipts)).await
    }

    /// Gives back received messages that were never worked on: visible again at once,
    /// their receive not counted. Returns how many receipts were current.
    pub async fn unreceive(&self, receipts: Vec<String>) -> Result<usize, StoreError> {
        if receipts.is_empty() {
            return Ok(0);
        }
        let now = self.now_ms();
        let n = self
            .db
            .write(move |c| {
                let mut s = c
                    .prepare_cached("UPDATE queue_messages SET visible_at = ?3, receipt = NULL, receive_count = receive_count - 1 WHERE id = ?1 AND receipt = ?2")
                    .map_err(unexpected)?;
                receipts.iter().try_fold(0, |n, r| {
                    s.execute(params![message_id(r), r, now])
                        .map(|d| n + d)
                        .map_err(unexpected)
                })
            })
            .await?;
        self.wake_workers();
        Ok(n)
    }

    /// Makes every message received and not yet deleted visible again at once, and
    /// returns how many. Only for the one process that owns the queues, at its start:
    /// what a killed predecessor had received then waits for no visibility timeout.
    /// The receive stays counted, so a message that kills the process every time still
    /// reaches the dead-letter queue; and claims make whatever the predecessor had
    /// already done with it a no-op.
    pub async fn return_in_flight(&self) -> Result<usize, StoreError> {
        let now = self.now_ms();
        let n = self
            .db
            .write(move |c| {
                c.prepare_cached(
                    "UPDATE queue_messages SET visible_at = ?1, receipt = NULL WHERE visible_at > ?1 AND receipt IS NOT NULL",
                )
                .and_then(|mut s| s.execute(params![now]))
                .map_err(unexpected)
            })
            .await?;
        if n > 0 {
            self.wake_workers();
        }
        Ok(n)
    }

    /// Makes a received message visible again after `delay` (backoff), noting why.
    pub async fn release(
        &self,
        receipt: &str,
        delay: Duration,
        error: &str,
    ) -> Result<bool, StoreError> {
        let visible = self.now_ms() + delay.as_millis() as i64;
        let (receipt, error) = (
            receipt.to_string(),
            error.chars().take(500).collect::<String>(),
        );
        self.db
            .write(move |c| {
                c.prepare_cached("UPDATE queue_messages SET visible_at = ?2, last_error = ?3, receipt = NULL WHERE id = ?4 AND receipt = ?1")
                    .and_then(|mut s| s.execute(params![receipt, visible, error, message_id(&receipt)]))
                    .map(|n| n > 0)
                    .map_err(unexpected)
            })
            .await
    }

    pub async fn queue_depth(&self, queue: &str) -> Result<QueueDepth, StoreError> {
        let now = self.now_ms();
        let queue = queue.to_string();
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT
                       COALESCE(SUM(visible_at <= ?2), 0),
                       COALESCE(SUM(visible_at > ?2 AND receipt IS NOT NULL), 0),
                       COALESCE(SUM(visible_at > ?2 AND receipt IS NULL), 0)
                     FROM queue_messages WHERE queue = ?1",
                    params![queue, now],
                    |r| {
                        Ok(QueueDepth {
                            visible: r.get::<_, i64>(0)? as u64,
                            in_flight: r.get::<_, i64>(1)? as u64,
                            delayed: r.get::<_, i64>(2)? as u64,
                        })
                    },
                )
                .map_err(unexpected)
            })
            .await
    }

    /// Waits until a message may have been published, or `timeout` passes.
    pub async fn wait_for_messages(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.messages.notified()).await;
    }
}

/// One queue of a store, with its settings, as the [`EventQueue`] port. Stale
/// receipts are refused: only a message's latest receipt deletes or releases it.
#[derive(Debug, Clone)]
pub struct SqliteQueue {
    store: Store,
    queue: &'static str,
    settings: QueueSettings,
}

impl SqliteQueue {
    /// The email queue ([`EMAIL_QUEUE`]) of `store`.
    pub fn email(store: Store, settings: QueueSettings) -> Self {
        Self {
            store,
            queue: EMAIL_QUEUE,
            settings,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> QueueSettings {
        self.settings
    }
}

impl From<Received> for QueueDelivery {
    fn from(m: Received) -> Self {
        QueueDelivery {
            id: m.id.to_string(),
            receipt: m.receipt,
            body: m.body,
            receive_count: m.receive_count,
        }
    }
}

#[async_trait]
impl EventQueue for SqliteQueue {
    async fn receive(&self, max: u32, wait: Duration) -> Result<Vec<QueueDelivery>, StoreError> {
        let max = max.max(1);
        let mut got = self.store.receive(self.queue, max, self.settings).await?;
        if got.is_empty() && !wait.is_zero() {
            self.store.wait_for_messages(wait).await;
            got = self.store.receive(self.queue, max, self.settings).await?;
        }
        Ok(got.into_iter().map(QueueDelivery::from).collect())
    }

    async fn delete(&self, receipts: Vec<String>) -> Result<usize, StoreError> {
        self.store.delete_messages(receipts).await
    }

    async fn release(
        &self,
        receipt: &str,
        delay: Duration,
        error: &str,
    ) -> Result<bool, StoreError> {
        self.store.release(receipt, delay, error).await
    }
}

#[async_trait]
impl EventPublisher for Store {
    async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError> {
        let now = self.now_ms();
        self.db.write(move |c| publish_in(c, &events, now)).await?;
        self.wake_workers();
        Ok(())
    }
}

impl Store {
    /// Wakes every idle worker, and leaves a permit for one that is about to wait.
    pub(crate) fn wake_workers(&self) {
        self.messages.notify_waiters();
        self.messages.notify_one();
    }

    /// Wakes the email writers (see `Engine::write_due`).
    pub(crate) fn wake_writers(&self) {
        self.composing.notify_waiters();
        self.composing.notify_one();
    }

    /// Waits until an email may have been recorded `composing`, or `timeout` passes.
    pub async fn wait_for_composing(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.composing.notified()).await;
    }
}
