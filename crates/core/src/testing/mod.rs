//! What every backend's tests share (feature `testing`): the port contracts, run
//! against each implementation ([`contract`]), and the in-memory reference
//! implementation of the ports with state ([`memory`]) that the processor's own
//! tests drive.
//!
//! A backend's test file hands the contract a [`Backend`]: a factory of fresh, empty
//! [`Stores`]. Each contract case is an `async fn(&dyn Backend)`; the `*_contract!`
//! macros expand to one `#[tokio::test]` per case, so every case passes or fails on
//! its own, by name, on every backend.

pub mod contract;
pub mod memory;

use crate::clock::ManualClock;
use crate::ports::{ClientImport, ClientStore, EmailHistory, Ledger, SuppressionStore};
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;

/// One backend's ports with state, fresh and empty, over one store (so the ledger
/// sees the clients the client store wrote).
pub struct Stores {
    pub clients: Arc<dyn ClientStore>,
    pub import: Arc<dyn ClientImport>,
    pub ledger: Arc<dyn Ledger>,
    /// The same ledger's read queries.
    pub history: Arc<dyn EmailHistory>,
    pub suppressions: Arc<dyn SuppressionStore>,
    /// The clock the backend's adapters read, where they read one (change records'
    /// times); the contract cases pass `now` explicitly elsewhere.
    pub clock: Arc<ManualClock>,
    /// Whatever keeps the backend alive for the case (a temporary directory, the
    /// emulator's process); dropped with the stores.
    pub guard: Box<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

/// A factory of fresh, empty [`Stores`] of one backend.
#[async_trait]
pub trait Backend: Send + Sync {
    /// The backend's name in failure messages (`sqlite`, `dynamodb`, `memory`).
    fn name(&self) -> &'static str;
    async fn fresh(&self) -> Stores;
}

/// The time every contract case starts at: Monday 2 March 2026, noon UTC.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}
