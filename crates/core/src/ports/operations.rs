//! What operators do with the pipeline's plumbing: dead letters and replay.

use super::Page;
use crate::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
    pub receive_count: u32,
    /// The last processing error, if one was recorded.
    pub last_error: Option<String>,
    /// When the message was first sent.
    pub sent_at: DateTime<Utc>,
}

/// The dead-letter queue, for operators: look, then redrive.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<DeadLetter>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<DeadLetter>, StoreError>;
    /// Moves one message back to its source queue with a fresh receive count;
    /// `NotFound` when there is no such dead letter.
    async fn redrive(&self, id: &str) -> Result<(), StoreError>;
    /// Redrives every dead letter; returns how many.
    async fn redrive_all(&self) -> Result<u64, StoreError>;
}

/// Re-running the stream processor over the change log. Event ids are derived from
/// the changes, so already-decided events are no-ops and replay is safe.
#[async_trait]
pub trait StreamReplay: Send + Sync {
    /// Publishes again every change after sequence number `from` (0: the whole log);
    /// returns how many changes that is.
    async fn replay_from(&self, from: u64) -> Result<u64, StoreError>;
}
