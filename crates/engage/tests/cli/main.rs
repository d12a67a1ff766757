//! The `engage` binary as a user runs it: a real process, real signals.//!
//! One test binary (`cli`), its tests grouped by command: [`serve`] (starting,
//! stopping, the data directory, refusals), [`import`], [`dlq`] (and `replay`),
//! [`demo`] (and `export`), [`resend`], [`aws`] (`aws init`) and [`tokens`]
//! (`rotate-token`, and the brake on guessed tokens); [`helpers`] runs the binary.

#[cfg(feature = "aws")]
mod aws;
mod demo;
mod dlq;
mod helpers;
mod import;
mod resend;
mod serve;
mod tokens;
