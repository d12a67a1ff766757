//! engage's AWS adapters, on the official aws-sdk-rust crates. [`SesSender`] sends
//! through Amazon SES v2 with the raw MIME message every sender builds, so the
//! unsubscribe headers and the Message-ID survive. [`tables`] holds the resources'
//! key design.

mod ses;
pub mod tables;
#[cfg(feature = "testing")]
pub mod testing;

pub use ses::{SesSender, SesSettings, aws_config_for};
