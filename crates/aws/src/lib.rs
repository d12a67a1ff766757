//! engage's AWS backend, on the official aws-sdk-rust crates. [`AwsBackend`] builds
//! it (the stores, the events topic, the email queue and its dead letters, `/health`)
//! and [`AwsWorkers`] runs it in a long-lived process; the adapters implement the
//! core's ports over DynamoDB, SNS and SQS. [`SesSender`] sends
//! through Amazon SES v2 with the raw MIME message every sender builds, so the
//! unsubscribe headers and the Message-ID survive. [`tables`] holds the resources'
//! key design. [`SqsDeadLetters`] shows and redrives the email queue's dead letters
//! (within what SQS allows: see its module).

pub mod backend;
mod checkpoints;
mod ddb;
mod dlq;
mod errors;
mod health;
pub mod init;
mod ledger;
mod ses;
pub mod sns;
mod spend;
pub mod sqs;
pub mod stream;
mod suppressions;
pub mod tables;
#[cfg(feature = "testing")]
pub mod testing;
mod users;
mod workers;

pub use backend::{AwsBackend, EmailQueue, EngineParts, Locations};
pub use checkpoints::StreamCheckpoints;
pub use dlq::SqsDeadLetters;
pub use health::AwsHealth;
pub use init::{InitReport, init};
pub use ledger::{DynamoLedger, create_ledger_tables};
pub use ses::{SesSender, SesSettings, aws_config_for};
pub use sns::SnsPublisher;
pub use spend::DynamoSpendTally;
pub use sqs::{QueueMessage, SqsQueue};
pub use stream::{PollReport, StreamPoller};
pub use suppressions::DynamoSuppressions;
pub use users::DynamoClients;
pub use workers::{AwsWorkers, WorkerSettings};
