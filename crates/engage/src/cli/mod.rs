//! The operator's commands, one module each. `main.rs` parses the command line and
//! calls `run` of the chosen one.

pub mod demo;
pub mod dlq;
pub mod export;
pub mod import;
pub mod replay;
pub mod resend;

use crate::config::{Config, DurabilitySetting};
use engage_core::clock::SystemClock;
use engage_embedded::{Durability, Store};
use std::sync::Arc;

/// Opens the data directory's store for a command that works on it directly. SQLite
/// lets this run beside a serving `engage serve` (WAL mode, one writer at a time).
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    std::fs::create_dir_all(&config.data_dir)?;
    let durability = match config.durability {
        DurabilitySetting::Full => Durability::Full,
        DurabilitySetting::Normal => Durability::Normal,
    };
    Store::open(
        &config.data_dir.join("engage.db"),
        durability,
        Arc::new(SystemClock),
    )
}
