//! engage's AWS adapters. [`SesSender`] sends through Amazon SES v2 (the official
//! `aws-sdk-sesv2`), with the raw MIME message every sender builds, so the unsubscribe
//! headers and the Message-ID survive.

mod ses;
#[cfg(feature = "testing")]
pub mod testing;

pub use ses::{SesSender, SesSettings, aws_config_for};
