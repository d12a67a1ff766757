//! The ports: what the domain needs from the world. Embedded (SQLite) and AWS
//! adapters implement them; the processors, the service and the API use only these.
//!
//! Each port's documentation is its contract: what every implementation must do.
//! `engage_core::testing` (feature `testing`) holds the suites that check it.

mod clients;
mod delivery;
mod feedback;
mod health;
mod ledger;
mod operations;
mod queue;
mod suppressions;

pub use clients::*;
pub use delivery::*;
pub use feedback::*;
pub use health::*;
pub use ledger::*;
pub use operations::*;
pub use queue::*;
pub use suppressions::*;

use serde::Serialize;

/// One page of a list and the cursor to the next (opaque to callers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}
