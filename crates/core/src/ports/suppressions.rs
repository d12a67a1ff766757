//! Addresses that must not be emailed.

use super::Page;
use crate::StoreError;
use crate::client::EmailAddress;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suppression {
    /// The address, lower-cased.
    pub email: String,
    pub reason: String,
    /// When the address was first suppressed (an update keeps it).
    pub created_at: DateTime<Utc>,
}

/// The suppression list: at most one suppression per address, whatever its case.
/// One contract suite proves it on every backend
/// (`engage_core::testing::contract::suppressions`, feature `testing`).
#[async_trait]
pub trait SuppressionStore: Send + Sync {
    /// Adds the address, or updates its reason if it is suppressed already; returns
    /// the stored suppression.
    async fn add(
        &self,
        address: &EmailAddress,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Suppression, StoreError>;
    /// `NotFound` when the address was not suppressed.
    async fn remove(&self, address: &EmailAddress) -> Result<(), StoreError>;
    /// The address's suppression, if it has one (matched without case).
    async fn get(&self, address: &EmailAddress) -> Result<Option<Suppression>, StoreError>;
    /// By address, `limit` (1–1000) a page; a page with a next cursor is full.
    /// `InvalidCursor` for a cursor it did not issue.
    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Suppression>, StoreError>;
}
