//! The SQLite backend of the port contracts (`engage_core::testing`): each case gets
//! a new database file in a temporary directory of its own. [`SqliteBackend`] is
//! also the queue contract's backend: the store's topic, its email queue
//! ([`crate::queue::SqliteQueue`]) and its dead letters, on the manual clock.

use crate::{Durability, Store};
use async_trait::async_trait;
use engage_core::clock::ManualClock;
use engage_core::testing::contract::queue::{QueueBackend, QueueSettings, QueueStores};
use engage_core::testing::{Backend, Stores, t0};
use std::sync::Arc;

/// Fresh SQLite stores, one file per case.
#[derive(Debug, Default, Clone, Copy)]
pub struct SqliteBackend;

impl SqliteBackend {
    /// A store on a new file and the temporary directory that holds it.
    pub fn open() -> (Store, Arc<ManualClock>, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Store::open(
            &dir.path().join("engage.db"),
            Durability::Normal,
            clock.clone(),
        )
        .expect("the store opens");
        (store, clock, dir)
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn fresh(&self) -> Stores {
        let (store, clock, dir) = Self::open();
        let store = Arc::new(store);
        Stores {
            clients: store.clone(),
            import: store.clone(),
            ledger: store.clone(),
            history: store.clone(),
            suppressions: store,
            clock,
            guard: Box::new(dir),
        }
    }
}

#[async_trait]
impl QueueBackend for SqliteBackend {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    async fn fresh(&self, settings: QueueSettings) -> QueueStores {
        let (store, clock, dir) = Self::open();
        let queue = crate::queue::SqliteQueue::email(
            store.clone(),
            crate::queue::QueueSettings {
                visibility: settings.visibility,
                max_receives: settings.max_receives,
                ..Default::default()
            },
        );
        let store = Arc::new(store);
        QueueStores {
            publisher: store.clone(),
            queue: Arc::new(queue),
            dead_letters: store,
            source_queue: crate::queue::EMAIL_QUEUE.to_string(),
            clock: Some(clock),
            guard: Box::new(dir),
        }
    }
}
