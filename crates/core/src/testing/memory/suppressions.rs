//! The suppression list in memory, keyed by the lower-cased address and listed in
//! address order.

use super::MemoryStore;
use crate::StoreError;
use crate::client::EmailAddress;
use crate::keys::{clamp_limit, decode_cursor, encode_cursor};
use crate::ports::{Page, Suppression, SuppressionStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::ops::Bound;

#[async_trait]
impl SuppressionStore for MemoryStore {
    /// A second add updates the reason and keeps the first `created_at`; either way
    /// the answer is what is stored.
    async fn add(
        &self,
        address: &EmailAddress,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Suppression, StoreError> {
        let stored = self
            .state()
            .suppressions
            .entry(address.normalized())
            .and_modify(|s| s.reason = reason.to_string())
            .or_insert_with(|| Suppression {
                email: address.normalized(),
                reason: reason.to_string(),
                created_at: now,
            })
            .clone();
        Ok(stored)
    }

    async fn remove(&self, address: &EmailAddress) -> Result<(), StoreError> {
        self.state()
            .suppressions
            .remove(&address.normalized())
            .map(|_| ())
            .ok_or(StoreError::NotFound)
    }

    async fn get(&self, address: &EmailAddress) -> Result<Option<Suppression>, StoreError> {
        Ok(self
            .state()
            .suppressions
            .get(&address.normalized())
            .cloned())
    }

    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Suppression>, StoreError> {
        let limit = clamp_limit(limit) as usize;
        let after = match cursor {
            Some(c) => Bound::Excluded(decode_cursor(&c, 1)?.remove(0)),
            None => Bound::Unbounded,
        };
        let state = self.state();
        let mut items: Vec<Suppression> = state
            .suppressions
            .range((after, Bound::Unbounded))
            .take(limit + 1)
            .map(|(_, s)| s.clone())
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = items
            .last()
            .filter(|_| more)
            .map(|s| encode_cursor(&[&s.email]));
        Ok(Page { items, next_cursor })
    }
}
