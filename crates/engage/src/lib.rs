//! The `engage` binary's library: configuration, secrets, startup and the embedded
//! health check. `main.rs` only parses the command line and calls in here.

pub mod app;
/// The AWS backend wired from the configuration (engage-host's `aws`).
#[cfg(feature = "aws")]
pub use engage_host::aws as aws_host;
pub mod cli;
/// The configuration, shared with the Lambda functions (engage-host's).
pub use engage_host::config;
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
#[cfg(not(feature = "aws"))]
pub use engage_host::aws_not_built;

#[cfg(all(test, not(feature = "aws")))]
mod without_aws {
    use crate::config::{Backend, Config, SenderKind};
    use std::sync::Arc;

    #[tokio::test]
    async fn what_needs_aws_names_the_build_that_has_it() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            backend: Backend::Aws,
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        let e = crate::Application::build(config, Arc::new(engage_core::clock::SystemClock))
            .await
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("backend `aws` needs the AWS backend"), "{e}");
        assert!(e.contains("make build-aws"), "{e}");

        let mut config = Config {
            data_dir: dir.path().join("data"),
            ..Config::default()
        };
        config.mail.sender = SenderKind::Ses;
        let e = crate::wiring::sender(&config)
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(
            e.starts_with("mail.sender = \"ses\" needs the AWS backend"),
            "{e}"
        );
        assert!(!dir.path().join("data").exists(), "nothing was created");
    }
}
