//! The in-memory reference implementation of the ports with state, and scripted
//! fakes of the others, for the processor's own tests and as a third backend of the
//! port contracts.
//!
//! [`MemoryStore`] is one store behind one lock, as the SQLite file is one database:
//! it is the `ClientStore` (with its change log), the `ClientImport`, the `Ledger` and
//! the `SuppressionStore` at once, so the ledger sees the clients the client store
//! wrote. Each call takes the lock, does all its work and lets go, never across an
//! `.await`: every call is atomic, as a transaction is. Lists order and page as the
//! SQLite adapter does, with the cursors of [`crate::keys`].
//!
//! The fakes: [`RecordingPublisher`] keeps what was published, [`ScriptedSender`]
//! keeps what was sent and fails when told to, [`ScriptedGenerator`] answers a fixed
//! [`crate::compose::Composed`] or fails as told.

mod clients;
mod fakes;
mod ledger;
mod suppressions;

pub use fakes::{RecordingPublisher, ScriptedGenerator, ScriptedSender, SendScript, composed};

use crate::change::ChangeRecord;
use crate::client::Client;
use crate::clock::{Clock, ManualClock};
use crate::email::{Decision, Email};
use crate::ids::{EmailId, EventId, UserId};
use crate::ports::{Claim, Suppression};
use crate::score::ScoreBreakdown;
use crate::testing::{Backend, Stores, t0};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

/// One committed client write, as the change log keeps it.
#[derive(Debug, Clone)]
struct ChangeRow {
    /// The store-wide sequence number: 1, 2, 3 … in commit order.
    seq: u64,
    user_id: UserId,
    old: Option<Client>,
    new: Option<Client>,
    at: DateTime<Utc>,
}

impl ChangeRow {
    fn record(&self) -> ChangeRecord {
        ChangeRecord {
            seq: self.seq.to_string(),
            user_id: self.user_id.clone(),
            old: self.old.clone(),
            new: self.new.clone(),
            committed_at: self.at,
        }
    }
}

/// A client's ledger state: its last score and what decisions it has had.
#[derive(Debug, Clone)]
struct ScoreRow {
    breakdown: Option<ScoreBreakdown>,
    last_processed_version: u64,
    next_rescore_at: DateTime<Utc>,
    /// Bumped by every commit that writes the client's score.
    ledger_seq: u64,
}

/// A recorded email and when its status is due for attention: the scheduled time,
/// the moment it entered its status, or the end of a writer's lease.
#[derive(Debug, Clone)]
struct StoredEmail {
    email: Email,
    due_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default)]
struct State {
    /// In id order, which is creation order.
    clients: BTreeMap<UserId, Client>,
    /// Every write, in commit order (a deleted client's too).
    changes: Vec<ChangeRow>,
    claims: HashMap<EventId, Claim>,
    decisions: Vec<Decision>,
    emails: BTreeMap<EmailId, StoredEmail>,
    scores: HashMap<UserId, ScoreRow>,
    /// By lower-cased address.
    suppressions: BTreeMap<String, Suppression>,
}

/// The ports with state, in memory. Clones share the same state.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    /// Dates the change record of a deletion (writes carry their own time).
    clock: Arc<dyn Clock>,
}

impl MemoryStore {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Arc::default(),
            clock,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A test that panicked while holding the lock leaves nothing half-written
        // (each call writes at its end), so the state is still good to read.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The change records after sequence number `after` (0: all), in commit order: the
    /// change stream, for tests that play the stream processor.
    pub fn changes_after(&self, after: u64) -> Vec<ChangeRecord> {
        self.state()
            .changes
            .iter()
            .filter(|c| c.seq > after)
            .map(ChangeRow::record)
            .collect()
    }
}

/// Fresh in-memory stores for the port contracts.
#[derive(Debug, Default, Clone, Copy)]
pub struct MemoryBackend;

#[async_trait]
impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn fresh(&self) -> Stores {
        let clock = Arc::new(ManualClock::new(t0()));
        let store = Arc::new(MemoryStore::new(clock.clone()));
        Stores {
            clients: store.clone(),
            import: store.clone(),
            ledger: store.clone(),
            history: store.clone(),
            suppressions: store,
            clock,
            guard: Box::new(()),
        }
    }
}
