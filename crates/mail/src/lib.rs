//! engage's mail senders: implementations of `engage_core::ports::MailSender`, and the
//! RFC 5322 message they all send.
//!
//! [`build_message`] turns a recorded email into a complete message — both parts, the
//! unsubscribe footer and the RFC 8058 one-click headers — so every sender (the outbox,
//! SMTP, SES) delivers the same bytes. [`OutboxSender`] writes those bytes to
//! `{dir}/{email_id}.eml` for the console to show; [`SmtpSender`] hands them to an SMTP
//! relay.

pub mod headers;
mod health;
mod message;
mod outbox;
mod smtp;
#[cfg(feature = "testing")]
pub mod testing;
mod throttle;

pub use health::{MAIL_CHECK_TTL, MailCheck};
pub use message::{BuildError, build_message, email_id_of, html_document, message_id, text_body};
pub use outbox::{OutboxCopies, OutboxSender, outbox_path};
pub use smtp::{SmtpConfigError, SmtpSecurity, SmtpSender, SmtpSettings};
pub use throttle::Throttled;
