//! The AWS backend's resources and their key design, shared by the adapters, by
//! `engage aws init` (which creates them on an endpoint such as the emulator) and,
//! by hand, by the CDK stack in `infra/` (keep the three in step).
//!
//! Three DynamoDB tables, all on-demand, with string keys:
//!
//! **Users** (`pk`): one item per client, `pk = <user id>`, attributes `kind = "user"`,
//! `version` (N, the optimistic-concurrency guard: every write is conditional on it),
//! `email` (the normalized address), `first_norm`, `last_norm`, `updated_at` and `body`
//! (the client's record: `ClientRecord`; every JSON body here is a versioned record of
//! `engage_core::records`). Each address also owns a guard item, `pk =
//! "email#<normalized address>"`, `kind = "email"`, `user_id`, written in the same
//! transaction as the client, so two clients can never share an address (deleting a
//! client deletes its guard and, as SQLite drops its `scores` row, its Ledger score
//! item, in the same transaction). The table's stream (`NEW_AND_OLD_IMAGES`) is the
//! change stream; the stream reader ignores guard items.
//!
//! Times are stored as RFC 3339 UTC text with microseconds (`2026-03-02T12:00:00.000000Z`,
//! as in SQLite): fixed width, so string order is time order in keys and conditions.
//!
//! **Emails** (`pk` = email id, `sk = "email"`): `user_id`, `campaign`, `status`,
//! `created_at`, `created_key = "<created_at>#<email id>"` (the lists' sort key: SQLite's
//! `(created_at, id)` order), `email_shard = "emails"`, `due_at` (as in SQLite: the
//! scheduled time, or when the current status began), `updated_at`, `state` (a
//! `DeliveryStateRecord`: sent_at, message_id, status_history) and `body` (an
//! `EmailRecord`: the email as created or as written). Indexes (a GSI lags its
//! table: what the adapters find through one they read back from the table or change
//! only conditionally):
//! - `byUser`: `user_id` / `created_key`, projecting `campaign` and `status` (a client's
//!   emails, newest first);
//! - `byStatus`: `status` / `due_at`, keys only (due scheduled emails, stranded pending
//!   ones, stuck sending ones, composing ones to write);
//! - `byStatusCreated`: `status` / `created_key`, projecting `campaign` (one status's
//!   emails, newest first: `byStatus` is in due order);
//! - `byCreated`: `email_shard` / `created_key`, projecting `campaign` (all emails,
//!   newest first; written once per email, as neither of its keys ever changes).
//!
//! **Ledger** (`pk`, `sk`): everything else the email processor keeps.
//! - a claim: `pk = "event#<event id>"`, `sk = "claim"`, `decision_id`, `email_id`,
//!   `claimed_at`; written with `attribute_not_exists(pk)`, so a redelivered event
//!   finds it;
//! - a client's ledger state and score: `pk = "user#<user id>"`, `sk = "score"`,
//!   `ledger_seq` (N; every decision commit is conditional on it, and one that writes
//!   a score bumps it, as in SQLite), `last_processed_version` (N), `score` (N), `tier`,
//!   `body` (the breakdown, a `ScoreRecord`), `next_rescore_at`, `rescore_shard = "rescore"`
//!   (removed if the client is found gone), and `recent_emails` (M: email id →
//!   `created_at`, the client's emails of the last 100 days, which the processor's
//!   context reads strongly consistent where `byUser` could still miss a just-committed
//!   one); deleting a client deletes this item;
//! - a decision: `pk = "user#<user id>"`, `sk = "decision#<at>#<decision id>"`, `body` (a
//!   `DecisionRecord`);
//! - a suppression: `pk = "suppression#<normalized address>"`, `sk = "suppression"`,
//!   `email`, `reason`, `created_at`; and `list_shard = "suppressions"` for listing;
//! - the stream poller's position (`engage serve --backend aws` only; Lambda keeps
//!   its own): `pk = "stream#<stream ARN>"`, `sk = "shard#<shard id>"`, `after`,
//!   `updated_at` ([`crate::StreamCheckpoints`]);
//! - the LLM's spending of a UTC day, shared by every writer:
//!   `pk = "llm_spend#<YYYY-MM-DD>"`, `sk = "spend"`, `tokens`, `micro_usd` (both added
//!   to atomically), `expires_at` ([`crate::DynamoSpendTally`]).
//!
//! Indexes:
//! - `byRescore`: `rescore_shard` / `next_rescore_at`, keys only (sparse: clients whose
//!   rescore is due, leased by moving `next_rescore_at` forward conditionally);
//! - `bySuppression`: `list_shard` / `pk` (sparse: the suppression list, by address).
//!
//! A decision commit reads the score item (strongly consistent) for what a
//! transaction cannot compute (the highest processed version, the recent emails),
//! then is one `TransactWriteItems`: the claim (put if absent; without a decision only
//! checked absent), the decision, the email (put if absent) and the score item
//! (conditional on `ledger_seq`, absent counting as 0); a cancelled transaction tells
//! which condition failed, which maps to `AlreadyClaimed` or `Stale` exactly as the
//! SQLite ledger answers. `engage_aws::create_ledger_tables` creates both tables.
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
    /// The SES identity (a domain, or one address) emails are sent from; `init`
    /// creates it when set. In real AWS a new domain identity still needs its DKIM
    /// records in DNS before SES sends from it.
    pub ses_identity: Option<String>,
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
            ses_identity: None,
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
    pub const BY_STATUS_CREATED: &str = "byStatusCreated";
    pub const BY_CREATED: &str = "byCreated";
    pub const BY_RESCORE: &str = "byRescore";
    pub const BY_SUPPRESSION: &str = "bySuppression";
    pub const EVENT_TYPE_ATTRIBUTE: &str = "event_type";
}
