//! The only stand-ins in these tests, each for a failure the real adapters cannot be
//! made to produce on demand: a dependency reported down, and a store failing with an
//! unexpected error (a real SQLite file answers every query while the disk is fine).

use async_trait::async_trait;
use engage_core::StoreError;
use engage_core::change::ClientChange;
use engage_core::client::Client;
use engage_core::ids::UserId;
use engage_core::ports::{
    ClientQuery, ClientStats, ClientStore, ClientWithScore, DependencyHealth, HealthCheck,
    HealthStatus, Page,
};
use serde_json::json;

/// A health check with one dependency down.
pub struct DownHealth;

#[async_trait]
impl HealthCheck for DownHealth {
    async fn check(&self) -> Vec<DependencyHealth> {
        vec![DependencyHealth {
            name: "database".into(),
            status: HealthStatus::Down,
            detail: json!({}),
        }]
    }
}

/// What the broken store's errors say; it must never reach a response.
pub const SECRET_CAUSE: &str = "sqlite: disk I/O error at /srv/engage/data/engage.db";

/// A client store whose every call fails unexpectedly.
pub struct BrokenStore;

fn broken() -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(SECRET_CAUSE))
}

#[async_trait]
impl ClientStore for BrokenStore {
    async fn insert(&self, _: Client) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn get_with_score(&self, _: &UserId) -> Result<Option<ClientWithScore>, StoreError> {
        Err(broken())
    }
    async fn get(&self, _: &UserId) -> Result<Option<Client>, StoreError> {
        Err(broken())
    }
    async fn replace(&self, _: Client, _: u64) -> Result<(), StoreError> {
        Err(broken())
    }
    async fn delete(&self, _: &UserId, _: Option<u64>) -> Result<Client, StoreError> {
        Err(broken())
    }
    async fn list(&self, _: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        Err(broken())
    }
    async fn changes(
        &self,
        _: &UserId,
        _: Option<String>,
        _: u32,
    ) -> Result<Page<ClientChange>, StoreError> {
        Err(broken())
    }
    async fn stats(&self) -> Result<ClientStats, StoreError> {
        Err(broken())
    }
}
