//! The AWS backend's resources and their key design, shared by the adapters, by
//! `engage aws init` (which creates them on an endpoint such as the emulator) and,
//! by hand, by the CDK stack in `infra/` (keep the three in step).
//!
//! Three DynamoDB tables, all on-demand, with string keys:
//!
//! **Users** (`pk`): one item per client, `pk = <user id>`, attributes `kind = "user"`,
//! `version` (N, the optimistic-concurrency guard: every write is conditional on it),
//! `email` (the normalized address), `first_norm`, `last_norm`, `updated_at` and `body`
//! (the client as JSON). Each address also owns a guard item, `pk = "email#<normalized
//! address>"`, `kind = "email"`, `user_id`, written in the same transaction as the
//! client, so two clients can never share an address. The table's stream
//! (`NEW_AND_OLD_IMAGES`) is the change stream; the stream reader ignores guard items.
//!
//! **Emails** (`pk` = email id, `sk = "email"`): `user_id`, `campaign`, `status`,
//! `created_at`, `due_at` (as in SQLite: the scheduled time, or when the current
//! status began), `updated_at`, `state` (JSON: sent_at, message_id, status_history)
//! and `body` (the email as created or as written, JSON). Indexes:
//! - `byUser`: `user_id` / `created_at` (a client's emails, newest first);
//! - `byStatus`: `status` / `due_at` (due scheduled emails, stranded pending ones,
//!   stuck sending ones, composing ones to write).
//!
//! **Ledger** (`pk`, `sk`): everything else the email processor keeps.
//! - a claim: `pk = "event#<event id>"`, `sk = "claim"`, `decision_id`, `email_id`;
//!   written with `attribute_not_exists(pk)`, so a redelivered event finds it;
//! - a client's ledger state and score: `pk = "user#<user id>"`, `sk = "score"`,
//!   `ledger_seq` (N; every decision commit is conditional on it and bumps it),
//!   `last_processed_version` (N), `score` (N), `tier`, `body` (the breakdown as JSON),
//!   `next_rescore_at`, and `rescore_shard = "rescore"` while a rescore is due;
//! - a decision: `pk = "user#<user id>"`, `sk = "decision#<at>#<decision id>"`, `body`;
//! - a suppression: `pk = "suppression#<normalized address>"`, `sk = "suppression"`,
//!   `email`, `reason`, `created_at`; and `list_shard = "suppressions"` for listing.
//! Indexes:
//! - `byRescore`: `rescore_shard` / `next_rescore_at` (sparse: clients whose rescore is
//!   due, leased by moving `next_rescore_at` forward conditionally);
//! - `bySuppression`: `list_shard` / `pk` (sparse: the suppression list, by address).
//!
//! A decision commit is one `TransactWriteItems`: the claim (put if absent), the
//! decision, the email (put if absent) and the score item (conditional on
//! `ledger_seq`); a cancelled transaction tells which condition failed, which maps to
//! `AlreadyClaimed` or `Stale` exactly as the SQLite ledger answers.
//!
//! Messaging: an SNS topic `events` (the event type in the message attribute
//! `event_type`, for filter policies), an SQS queue `email` subscribed to it (raw
//! message delivery off) with a dead-letter queue `email-dlq` after 5 receives.

/// The names of the AWS backend's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub users_table: String,
    pub emails_table: String,
    pub ledger_table: String,
    pub events_topic: String,
    pub email_queue: String,
    pub email_dlq: String,
}

impl Resources {
    /// The names with `prefix` (a stage, e.g. `engage-dev`).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            users_table: format!("{prefix}-users"),
            emails_table: format!("{prefix}-emails"),
            ledger_table: format!("{prefix}-ledger"),
            events_topic: format!("{prefix}-events"),
            email_queue: format!("{prefix}-email"),
            email_dlq: format!("{prefix}-email-dlq"),
        }
    }
}

impl Default for Resources {
    fn default() -> Self {
        Self::with_prefix("engage")
    }
}

/// Attribute and index names, so the adapters and `engage aws init` agree.
pub mod keys {
    pub const PK: &str = "pk";
    pub const SK: &str = "sk";
    pub const BY_USER: &str = "byUser";
    pub const BY_STATUS: &str = "byStatus";
    pub const BY_RESCORE: &str = "byRescore";
    pub const BY_SUPPRESSION: &str = "bySuppression";
    pub const EVENT_TYPE_ATTRIBUTE: &str = "event_type";
}
