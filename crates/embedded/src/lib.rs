//! engage's embedded adapters: everything the pipeline needs, in one SQLite file.
//!
//! - [`Store`] implements the core ports (`ClientStore`, `Ledger`, `SuppressionStore`,
//!   `EventPublisher`) over [`db::Db`] — one group-committing writer, pooled readers.
//! - The change stream is the `user_changes` table, written in the same transaction
//!   as each client write; [`Store::pump`] turns new changes into events on the topic.
//! - The topic fans out to queues with SQS semantics (visibility timeout, receive
//!   count, dead-letter queue after N receives, delayed delivery): [`queue`].
//! - [`pipeline::Pipeline`] runs the stream tailer, the email workers and the
//!   scheduler as tasks, or step by step for tests.

mod clients;
pub mod db;
mod dead_letters;
mod emails;
mod ledger;
pub mod pipeline;
pub mod queue;
mod schema;
mod stats;
mod stream;
mod suppressions;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::Durability;

use db::{Db, unexpected};
use engage_core::StoreError;
use engage_core::clock::Clock;
pub(crate) use engage_core::keys::{
    clamp_limit, decode_cursor, encode_cursor, sortable_time as ts,
};
use rusqlite::OptionalExtension;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::Notify;

/// The embedded store. Cheap to clone; all clones share one database.
#[derive(Clone)]
pub struct Store {
    db: Arc<Db>,
    clock: Arc<dyn Clock>,
    /// Woken after every client write (the stream tailer waits on it).
    changes: Arc<Notify>,
    /// Woken after every publish (the email workers wait on it).
    messages: Arc<Notify>,
    /// Woken after a decision recorded an email for a remote generator to write.
    composing: Arc<Notify>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.db.path())
            .finish_non_exhaustive()
    }
}

impl Store {
    pub fn open(
        path: &Path,
        durability: Durability,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            db: Arc::new(Db::open(path, durability)?),
            clock,
            changes: Arc::new(Notify::new()),
            messages: Arc::new(Notify::new()),
            composing: Arc::new(Notify::new()),
        })
    }

    pub fn path(&self) -> &Path {
        self.db.path()
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// A value from the `meta` table (settings the process keeps for itself).
    pub async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_string();
        self.db
            .read(move |c| {
                c.query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(unexpected)
            })
            .await
    }

    /// Stores `value` under `key` unless a value is already there; returns the stored one.
    pub async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                    [&key, &value],
                )
                .map_err(unexpected)?;
                c.query_row("SELECT value FROM meta WHERE key = ?1", [&key], |r| {
                    r.get(0)
                })
                .map_err(unexpected)
            })
            .await
    }

    /// Checks that the database answers (for `/health`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .read(|c| c.query_row("SELECT 1", [], |_| Ok(())).map_err(unexpected))
            .await
    }
}

impl Store {
    /// Sets `key` to `value`, replacing any previous value.
    pub async fn meta_set(&self, key: &str, value: &str) -> Result<(), StoreError> {
        let (key, value) = (key.to_string(), value.to_string());
        self.db
            .write(move |c| {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    [&key, &value],
                )
                .map_err(unexpected)?;
                Ok(())
            })
            .await
    }
}

impl Store {
    /// Removes `key` from the `meta` table.
    pub async fn meta_delete(&self, key: &str) -> Result<(), StoreError> {
        let key = key.to_string();
        self.db
            .write(move |c| {
                c.execute("DELETE FROM meta WHERE key = ?1", [&key])
                    .map_err(unexpected)?;
                Ok(())
            })
            .await
    }
}
