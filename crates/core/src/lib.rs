//! engage's domain: the client record, the change stream's events, the engagement
//! score, the decision policy, composition guards, the ports the adapters implement,
//! and the two processors (stream and email) written against those ports.
//!
//! Nothing here does I/O: SQLite, DynamoDB, HTTP and SMTP live in adapter crates.

pub mod campaign;
pub mod change;
pub mod client;
pub mod clock;
pub mod compose;
pub mod config;
pub mod email;
pub mod error;
pub mod holdout;
pub mod ids;
pub mod import;
pub mod keys;
pub mod lift;
pub mod links;
pub mod policy;
pub mod ports;
pub mod processor;
pub mod records;
pub mod score;
pub mod service;
#[cfg(feature = "testing")]
pub mod testing;
pub mod unsubscribe;

pub use error::{DomainError, StoreError, ValidationError};
