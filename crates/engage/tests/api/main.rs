//! End-to-end tests: a real `engage` application on a fresh SQLite file and port 0,
//! driven over real HTTP. The pipeline is stepped explicitly (no sleeps) and time is
//! a manual clock, so every test is deterministic.

mod auth_and_errors;
#[cfg(feature = "aws")]
mod aws;
mod batches;
mod demo;
mod helpers;
mod idempotency;
mod import;
mod llm;
mod metrics;
mod operations;
mod pipeline;
mod smtp;
mod users;
