//! What engage's two hosts share — the `engage` binary (crates/engage) and the Lambda
//! functions (crates/lambda): the configuration ([`config`]), and the engine's parts
//! built from it ([`wiring`]; the AWS backend's in [`aws`]), the `/metrics` route
//! ([`metrics`]). Nothing here parses a command line or opens SQLite, so a Lambda
//! binary links neither.

#[cfg(feature = "aws")]
pub mod aws;
pub mod config;
pub mod metrics;
pub mod wiring;

pub use config::Config;

/// The SHA-256 of an admin API token: what the API's [`engage_api::TokenAuth`] keeps.
pub fn token_hash(token: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes()).into()
}

/// The error of a command or setting that needs the AWS backend (`backend = "aws"`,
/// `engage aws init`, `mail.sender = "ses"`) in a binary built without it (cargo
/// feature `aws`, which `make run` leaves out of its build). Always defined: a build
/// of several packages can turn this crate's `aws` on while `engage`'s stays off.
pub fn aws_not_built(what: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{what} needs the AWS backend, which this engage binary was built without: build it with `make build-aws` (cargo build --release --features aws)"
    )
}
