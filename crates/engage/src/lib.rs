//! The `engage` binary's library: configuration, secrets, startup and the embedded
//! health check. `main.rs` only parses the command line and calls in here.

pub mod app;
pub mod aws_host;
pub mod cli;
pub mod config;
#[cfg(feature = "console")]
pub mod console;
pub mod data_dir;
pub mod demo;
pub mod health;
pub mod metrics;
pub mod secrets;
pub mod telemetry;
pub mod wiring;

pub use app::Application;
pub use config::Config;
