//! What operators do with the pipeline's plumbing: replay (the dead letters are
//! with the queue, in `queue.rs`).

use crate::StoreError;
use async_trait::async_trait;

/// Re-running the stream processor over the change log. Event ids are derived from
/// the changes, so already-decided events are no-ops and replay is safe.
#[async_trait]
pub trait StreamReplay: Send + Sync {
    /// Publishes again every change after sequence number `from` (0: the whole log);
    /// returns how many changes that is.
    async fn replay_from(&self, from: u64) -> Result<u64, StoreError>;
}
