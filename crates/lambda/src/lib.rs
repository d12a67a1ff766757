//! engage's AWS Lambda handlers, as library functions over the core's ports, so each
//! `main` only builds its clients once and calls one of these, and tests drive them
//! with real event payloads (`aws_lambda_events` types).
//!
//! - [`api::router`]: the API's router with the caller's address and the CloudFront
//!   origin check.
//! - [`stream::handle`]: a DynamoDB Streams batch of the Users table → change
//!   records → events → the events topic, reporting the first failed record.
//! - [`mailer::handle`]: an SQS batch from the email queue (events, in SNS envelopes)
//!   or the feedback queue (SES notifications, in SNS envelopes) → the email
//!   processor or the feedback intake, reporting exactly the failed message ids; or
//!   the scheduled sweep (`{"sweep": true}`).

pub mod api;
pub mod mailer;
pub mod start;
pub mod stream;
