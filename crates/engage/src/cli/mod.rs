//! The operator's commands, one module each. `main.rs` parses the command line and
//! calls `run` of the chosen one.

pub mod demo;
pub mod dlq;
pub mod export;
pub mod import;
pub mod replay;
pub mod resend;

use crate::config::{Backend, Config, DurabilitySetting};
use engage_core::clock::SystemClock;
use engage_embedded::{Durability, Store};
use std::sync::Arc;

/// Opens the data directory's store for a command that works on it directly. SQLite
/// lets this run beside a serving `engage serve` (WAL mode, one writer at a time).
/// The backend must be the embedded one: with `backend = "aws"` the data directory's
/// store is not where the clients are, so the command refuses to run.
pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    anyhow::ensure!(
        config.backend == Backend::Embedded,
        "this command works on the embedded backend only; with backend `aws` use the HTTP API (import, export, dead letters) or `engage aws init`"
    );
    crate::data_dir::create(&config.data_dir)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_commands_refuse_the_aws_backend() {
        let config = Config {
            backend: Backend::Aws,
            data_dir: std::env::temp_dir().join("engage-never-created"),
            ..Config::default()
        };
        let e = open_store(&config).unwrap_err().to_string();
        assert!(e.contains("embedded backend only"), "{e}");
        assert!(!config.data_dir.exists());
    }
}
