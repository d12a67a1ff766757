//! The ports: what the domain needs from the world. Embedded (SQLite) and AWS
//! adapters implement them; the processors, the service and the API use only these.

use crate::StoreError;
use crate::change::{ClientChange, Event};
use crate::client::{Client, EmailAddress};
use crate::compose::{ComposeRequest, Composed};
use crate::email::{Decision, Email, EmailStatus, EmailSummary, StatusChange};
use crate::ids::{DecisionId, EmailId, EventId, UserId};
use crate::score::{EmailStats, ScoreBreakdown, Tier};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One page of a list and the cursor to the next (opaque to callers).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// The order of a client list. Ties are broken by id in the same direction, so the
/// order is total and a cursor (the sort key and id of a page's last client) resumes
/// exactly where the page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientSort {
    /// By id: creation order (ids are time-ordered).
    #[default]
    Id,
    /// By last stored score, lowest first; clients not scored yet come first.
    Score,
    /// By last stored score, highest first; clients not scored yet come last.
    ScoreDesc,
    /// By [`crate::client::ActivityFacts::last_activity_at`], oldest first; clients
    /// never active come first.
    LastActivity,
    /// By last activity, newest first; clients never active come last.
    LastActivityDesc,
}

impl ClientSort {
    /// The values of the API's `sort` parameter (the default order has none).
    pub const NAMED: [ClientSort; 4] = [
        ClientSort::Score,
        ClientSort::ScoreDesc,
        ClientSort::LastActivity,
        ClientSort::LastActivityDesc,
    ];
    pub fn as_str(&self) -> &'static str {
        match self {
            ClientSort::Id => "id",
            ClientSort::Score => "score",
            ClientSort::ScoreDesc => "-score",
            ClientSort::LastActivity => "last_activity",
            ClientSort::LastActivityDesc => "-last_activity",
        }
    }
    pub fn parse(s: &str) -> Option<ClientSort> {
        Self::NAMED.into_iter().find(|o| o.as_str() == s)
    }
    pub fn descending(&self) -> bool {
        matches!(self, ClientSort::ScoreDesc | ClientSort::LastActivityDesc)
    }
}

/// What a client list shows: the clients that pass every filter given, in `sort`'s
/// order, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    /// Prefix of the email address, first name or last name, trimmed and compared
    /// without case; blank means no search.
    pub search: Option<String>,
    /// Only clients whose stored tier is this (never one not scored yet).
    pub tier: Option<Tier>,
    /// `Some(true)`: only clients who have not unsubscribed; `Some(false)`: only those
    /// who have.
    pub subscribed: Option<bool>,
    /// Only clients whose `consent.email_opt_in` is this.
    pub email_opt_in: Option<bool>,
    pub sort: ClientSort,
    /// Made by the same store for the same `sort`; another is `InvalidCursor`.
    pub cursor: Option<String>,
    /// The page's size, clamped to 1–1000.
    pub limit: u32,
}

impl ClientQuery {
    /// Whether a client passes the query's filters other than `search` (for stores
    /// that filter what they read).
    pub fn admits(&self, c: &ClientWithScore) -> bool {
        self.tier.is_none_or(|t| c.tier == Some(t))
            && self
                .subscribed
                .is_none_or(|s| s != c.client.consent.unsubscribed)
            && self
                .email_opt_in
                .is_none_or(|o| o == c.client.consent.email_opt_in)
    }
}

/// A client with its last stored score, as lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientWithScore {
    pub client: Client,
    pub score: Option<u8>,
    pub tier: Option<Tier>,
    /// Whether the client's address is on the suppression list.
    pub suppressed: bool,
}

/// Counts of the client records, for the console's dashboard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientStats {
    pub total: u64,
    /// Scored clients per tier, every tier listed (zero when none).
    pub by_tier: Vec<(Tier, u64)>,
    /// Clients not scored yet.
    pub unscored: u64,
    /// Scored clients per score bucket of [`ClientStats::BUCKET_WIDTH`]: 0–9, 10–19, …,
    /// 90–100 (the last bucket takes 100).
    pub score_histogram: [u64; 10],
}

impl ClientStats {
    pub const BUCKET_WIDTH: u8 = 10;

    /// The histogram bucket of a score.
    pub fn bucket(score: u8) -> usize {
        usize::from(score / Self::BUCKET_WIDTH).min(9)
    }
}

/// What the emails created in a period came to, for the console's dashboard
/// ([`Ledger::email_activity`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EmailActivity {
    /// Emails created per UTC day of their creation, by their current status; only
    /// days and statuses with emails are listed (each pair once), in no particular
    /// order.
    pub per_day: Vec<(chrono::NaiveDate, EmailStatus, u64)>,
    /// Emails a model wrote (generator `llm:<model>`).
    pub llm: u64,
    /// Emails the template wrote (generator `template`), fallbacks included.
    pub template: u64,
    /// The sum of the costs the models' emails reported; `None` when none reported
    /// one (an email without a known cost adds nothing).
    pub llm_cost_usd: Option<f64>,
}

/// The client records. Every successful write appends a change record to the
/// change stream in the same transaction (or, on DynamoDB, the table's stream does);
/// a refused write (`Duplicate`, `VersionConflict`, `NotFound`) writes nothing.
/// Addresses are compared without case: no two clients share one. One contract
/// suite proves it on every backend (`engage_core::testing::contract::clients`,
/// feature `testing`).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// `Duplicate` when the address or the id is taken.
    async fn insert(&self, client: Client) -> Result<(), StoreError>;
    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError>;
    /// The clients with these ids, in order (`None` for one that does not exist). The
    /// batch email processor reads a whole batch's clients this way.
    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<Option<Client>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(id).await?);
        }
        Ok(out)
    }
    /// The client with the score and tier the ledger last stored (`None` before the
    /// first) and whether its address is suppressed, in one read (the API's `GET`).
    async fn get_with_score(&self, id: &UserId) -> Result<Option<ClientWithScore>, StoreError>;
    /// Replaces the client if its stored version is `expected_version`; `client.version`
    /// must be `expected_version + 1`. `NotFound` when there is no such client,
    /// `VersionConflict` naming the stored version when it is another, `Duplicate`
    /// when the new address is another client's. A new address frees the old one (a
    /// change of case only is no new address); the stored score stays.
    async fn replace(&self, client: Client, expected_version: u64) -> Result<(), StoreError>;
    /// Deletes the client and its stored score, if at `expected_version` when one is
    /// given (`VersionConflict` naming the stored version otherwise); `NotFound` when
    /// there is no such client. Returns the client as deleted; its address is free.
    async fn delete(
        &self,
        id: &UserId,
        expected_version: Option<u64>,
    ) -> Result<Client, StoreError>;
    /// A page of the clients `query` admits, in its order. A page with a next cursor
    /// is full; the last page has none, and a cursor resumes after the client it
    /// ended on, whatever was written since. `Unsupported` for an order of
    /// [`ClientSort::NAMED`] the store keeps no index for.
    async fn list(&self, query: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError>;
    /// The client's change log, newest first (a deleted client's too), `limit`
    /// (1–1000) a page; `InvalidCursor` for a cursor it did not issue. `Unsupported`
    /// where the change stream keeps no per-client log (DynamoDB streams keep 24 hours,
    /// by shard).
    async fn changes(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<ClientChange>, StoreError>;
    /// Counts for the dashboard; `Unsupported` where they would take a full scan.
    async fn stats(&self) -> Result<ClientStats, StoreError>;
}

/// One write of a batch, answered as [`ClientStore::insert`] or
/// [`ClientStore::replace`] would answer it.
#[derive(Debug, Clone)]
pub enum ClientWrite {
    Insert(Client),
    Replace {
        client: Client,
        expected_version: u64,
    },
}

/// Bulk access to the client records, for import. Each write in a batch is atomic on
/// its own and appends its change record like any other write. One contract suite
/// proves it on every backend (`engage_core::testing::contract::import`, feature
/// `testing`).
#[async_trait]
pub trait ClientImport: Send + Sync {
    /// The clients with these addresses (compared case-insensitively), in order
    /// (`None` for an address no client has).
    async fn get_by_emails(
        &self,
        emails: &[EmailAddress],
    ) -> Result<Vec<Option<Client>>, StoreError>;
    /// Applies the writes in order, each on its own: a write sees the ones before it
    /// (a version they moved, an address they took or freed), and a refused one fails
    /// alone, writing nothing. One answer per write, in order; the outer `Err` only
    /// when the store fails as a whole.
    async fn write_batch(
        &self,
        writes: Vec<ClientWrite>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
}

/// What the email processor learns from the ledger before deciding
/// ([`Ledger::contexts`]). Everything in it is read as of the call (no lagging index):
/// a commit that returned before the read is seen by it.
#[derive(Debug, Clone, Default)]
pub struct LedgerContext {
    /// The claim of the event asked about ([`ContextRequest::event`]), set when that
    /// event was already decided on; `None` when no event was asked about.
    pub claim: Option<Claim>,
    /// The highest [`DecisionCommit::processed_version`] of the client's commits that
    /// stored a score; `None` before the first.
    pub last_processed_version: Option<u64>,
    /// The client's own emails created at or after `now - 90 days` (that instant
    /// included), newest first, ties by email id descending, each with its current
    /// status.
    pub recent_emails: Vec<EmailSummary>,
    /// Whether the request's address is on the suppression list (compared without
    /// case); never for a request without an address.
    pub suppressed: bool,
    /// Derived from `recent_emails` ([`LedgerContext::new`]).
    pub stats: EmailStats,
    /// The client's commit sequence: 0 before its first commit, bumped by every
    /// commit that stores a score (every decision on a client that exists, and every
    /// rescore). A commit names the value it read
    /// ([`DecisionCommit::expected_ledger_seq`]), so two workers deciding on one
    /// client cannot both commit.
    pub ledger_seq: u64,
}

impl LedgerContext {
    /// A context from what a store read; the email stats are derived from the recent
    /// emails (those handed to the provider count as sent).
    pub fn new(
        claim: Option<Claim>,
        last_processed_version: Option<u64>,
        recent_emails: Vec<EmailSummary>,
        suppressed: bool,
        ledger_seq: u64,
    ) -> Self {
        let sent = recent_emails.iter().filter(|e| e.status.was_sent()).count() as u32;
        Self {
            claim,
            last_processed_version,
            recent_emails,
            suppressed,
            stats: EmailStats {
                sent_last_90_days: sent,
            },
            ledger_seq,
        }
    }
}

/// What [`Ledger::contexts`] is asked for one client: its id, its address (for the
/// suppression list; `None` when the client is gone, and then the context is never
/// `suppressed`) and the event being decided on (whose claim the context carries).
#[derive(Debug, Clone)]
pub struct ContextRequest {
    pub user: UserId,
    pub address: Option<EmailAddress>,
    pub event: Option<EventId>,
}

/// One conditional move of an email's status ([`Ledger::transition`]).
#[derive(Debug, Clone)]
pub struct EmailTransition {
    pub id: EmailId,
    /// The status the email must be at for the move to happen.
    pub from: EmailStatus,
    /// The new status, its time and note: appended to the email's history as given.
    pub change: StatusChange,
    /// The provider's Message-ID, stored when given; `None` keeps the stored one.
    pub message_id: Option<String>,
}

/// What a decided event left: its decision, and the email it created if any. A
/// commit with a decision writes it; a redelivered event finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub decision_id: DecisionId,
    pub email_id: Option<EmailId>,
}

/// Everything one decision writes, committed together or not at all: the event's
/// claim, the decision, the email (if any) and the client's score.
#[derive(Debug, Clone)]
pub struct DecisionCommit {
    pub event_id: EventId,
    /// The decision, recorded with the event's claim ([`Claim`]: its id and the
    /// email's). `None` for a time-based rescore that changed nothing worth
    /// recording: then no claim and no decision are written (the same rescore event
    /// can commit again), but an existing claim of the event still refuses the commit.
    pub decision: Option<Decision>,
    /// Recorded as given ([`Ledger::get_email`] answers it field for field).
    pub email: Option<Email>,
    /// The client's new score. `None` when the client is gone: the commit then
    /// stores no score and leaves `ledger_seq`, the processed version and the next
    /// rescore as they were.
    pub score: Option<ScoreBreakdown>,
    pub user_id: UserId,
    /// The client version decided on; the stored one (stored with a score) is the
    /// highest any commit named: it only ever grows.
    pub processed_version: u64,
    /// When the client's score is next due for a time-based rescore
    /// ([`Ledger::take_due_rescores`]); stored with the score.
    pub next_rescore_at: DateTime<Utc>,
    /// The client's [`LedgerContext::ledger_seq`] when the decision's inputs were read.
    pub expected_ledger_seq: u64,
}

/// What [`Ledger::commit`] did. Only `Committed` wrote anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitResult {
    /// Everything the commit holds was written, atomically.
    Committed,
    /// The event was already decided on: the stored claim (not the refused
    /// commit's). Nothing was written. This wins over `Stale` when both apply: the
    /// event needs no decision on fresher state.
    AlreadyClaimed(Claim),
    /// The client's `ledger_seq` is no longer the commit's `expected_ledger_seq`
    /// (another commit for this client stored a score since the inputs were read;
    /// a client's first commit expects 0): nothing was written; decide again on
    /// fresh state.
    Stale,
}

/// A page of [`Ledger::list_emails`]: the filters given combine (all must hold).
#[derive(Debug, Clone, Default)]
pub struct EmailQuery {
    /// Only this client's emails.
    pub user_id: Option<UserId>,
    /// Only emails at this status now.
    pub status: Option<EmailStatus>,
    /// Only this campaign's emails.
    pub campaign: Option<String>,
    /// The `next_cursor` of the previous page of the same query; one the store did
    /// not make is `InvalidCursor`.
    pub cursor: Option<String>,
    /// The page size, taken between 1 and 1000 (0 is 1).
    pub limit: u32,
}

/// The ledger of decisions, emails and scores.
///
/// What every implementation must do is below, method by method, and is proven by
/// one contract suite run on every backend (`engage_core::testing::contract::ledger`,
/// feature `testing`). In short: a commit is atomic and conditional (on the event's
/// claim, then on the client's `ledger_seq`); every status move and every lease is
/// a conditional write, so two workers never both move, write or take one item; what
/// the processor decides on is read as of the call; lists page newest first with
/// opaque cursors. Times given are compared inclusively ("by `t`" includes `t`).
/// Only [`Ledger::email_activity`] and [`Ledger::sent_message`] may answer
/// `Unsupported`.
#[async_trait]
pub trait Ledger: Send + Sync {
    /// What the processor reads before deciding for one client: [`Ledger::contexts`]
    /// for one request.
    async fn context(
        &self,
        user: &UserId,
        address: &EmailAddress,
        event: Option<&EventId>,
        now: DateTime<Utc>,
    ) -> Result<LedgerContext, StoreError> {
        let request = ContextRequest {
            user: user.clone(),
            address: Some(address.clone()),
            event: event.cloned(),
        };
        Ok(self
            .contexts(std::slice::from_ref(&request), now)
            .await?
            .pop()
            .expect("one context per request"))
    }
    /// The contexts of many clients at once, one per request, in order: each one's
    /// claim of the event, ledger state, recent emails as of `now` and suppression
    /// (see [`LedgerContext`]). A request without an address (the client is gone) is
    /// never suppressed, and still reads the claim, the ledger state and the emails.
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<LedgerContext>, StoreError>;
    /// The claim a committed decision left on the event; `None` for an event not
    /// decided on (or only rescored: a commit without a decision claims nothing).
    async fn claim_of(&self, event: &EventId) -> Result<Option<Claim>, StoreError>;
    /// Writes the commit, all of it or nothing: the event's claim and the decision
    /// (when there is one), the email (when there is one) and the score with the
    /// processed version and next rescore (when there is one; storing a score bumps
    /// the client's `ledger_seq`). Refused, writing nothing, when the event is already
    /// claimed (`AlreadyClaimed`, checked first) or else when the client's
    /// `ledger_seq` moved on since the commit's read (`Stale`); see [`CommitResult`].
    async fn commit(&self, commit: DecisionCommit) -> Result<CommitResult, StoreError>;
    /// Commits each decision on its own terms (as [`Ledger::commit`]), in order: a
    /// commit sees what the batch's earlier ones wrote, and a refused one does not
    /// stop the rest. One result per commit, in order; the outer `Err` only when the
    /// store fails as a whole.
    async fn commit_many(
        &self,
        commits: Vec<DecisionCommit>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            out.push(self.commit(c).await?);
        }
        Ok(out)
    }
    /// The email as recorded, with its current status and delivery state (history,
    /// `sent_at`, Message-ID); `None` for an unknown id.
    async fn get_email(&self, id: &EmailId) -> Result<Option<Email>, StoreError>;
    /// Moves an email from `from` to `change.status` if it is still at `from`; false
    /// otherwise (or for an unknown email), changing nothing. A move appends `change`
    /// to the history, sets `sent_at` when the new status is `sent`, stores
    /// `message_id` when one is given, and keeps the content; the email is then due
    /// from `change.at` (for the sweeps below), except that a move to `scheduled`
    /// keeps its due time.
    async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        change: StatusChange,
        message_id: Option<String>,
    ) -> Result<bool, StoreError>;
    /// [`Ledger::transition`] for many moves, in order (a move sees the earlier ones,
    /// of the same email too): whether each one moved.
    async fn transition_many(&self, moves: Vec<EmailTransition>) -> Result<Vec<bool>, StoreError> {
        let mut out = Vec::with_capacity(moves.len());
        for m in moves {
            out.push(
                self.transition(&m.id, m.from, m.change, m.message_id)
                    .await?,
            );
        }
        Ok(out)
    }
    /// Emails to push along: up to `limit` `scheduled` ones due by `now` (their
    /// `scheduled_for`), then up to `limit` `pending` ones that became `pending` by
    /// `stranded_before` (their sender stopped between recording and sending); each
    /// kind earliest due first.
    async fn emails_to_deliver(
        &self,
        now: DateTime<Utc>,
        stranded_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError>;
    /// Up to `limit` `composing` emails due for writing by `now` (new ones, due from
    /// when they became `composing`, and ones whose writer's lease ended), earliest
    /// due first, each leased until `lease_until` so no other claim takes it before
    /// then. A lease changes no status.
    async fn claim_composing(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError>;
    /// Stores a written email — its content and its new status, the last entry of its
    /// history — if it is still `composing`; false otherwise (another writer won, or
    /// no such email), changing nothing. The email is then due as its new status
    /// says: from that last entry, or at `scheduled_for` when `scheduled`.
    async fn finish_composing(&self, email: Email) -> Result<bool, StoreError>;
    /// Up to `limit` `sending` emails that became `sending` by `before`, earliest
    /// first: the process stopped mid-send.
    async fn stuck_sending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError>;
    /// Up to `limit` clients whose score is due by `now` to be recomputed as time
    /// passes ([`DecisionCommit::next_rescore_at`]), earliest due first, with their
    /// current version in the client store; each is leased until `lease_until` so a
    /// second sweep does not take it before then. A score whose client is not in the
    /// client store (deleted, or never stored) is never answered.
    async fn take_due_rescores(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(UserId, u64)>, StoreError>;
    /// The emails that pass the query's filters, whole, newest first by creation
    /// (ties by id, descending), in pages of `limit`; `next_cursor` resumes right
    /// after the page and is `None` on the last page (no page after it is empty).
    async fn list_emails(&self, query: &EmailQuery) -> Result<Page<Email>, StoreError>;
    /// The client's decisions as committed, newest first (by `at`, ties by id,
    /// descending), paged as [`Ledger::list_emails`]; a cursor the store did not make
    /// is `InvalidCursor`.
    async fn list_decisions(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Decision>, StoreError>;
    /// The breakdown the client's last score-storing commit stored; `None` before one.
    async fn stored_score(&self, user: &UserId) -> Result<Option<ScoreBreakdown>, StoreError>;
    /// The emails created at or after `since`, counted for the dashboard (see
    /// [`EmailActivity`]); `Unsupported`, for every period, where that would take a
    /// scan of every email (the DynamoDB ledger).
    async fn email_activity(&self, since: DateTime<Utc>) -> Result<EmailActivity, StoreError>;
    /// The email's message as it was sent (RFC 5322 bytes), where a copy is kept: the
    /// embedded mode's outbox. `None` when there is no copy (not sent yet, sent by a
    /// provider that keeps none, or no such email). A backend that keeps no copy of
    /// any message answers `Unsupported` for every email instead (the AWS backend:
    /// SES keeps none; the API answers 501 rather than 404).
    async fn sent_message(&self, id: &EmailId) -> Result<Option<Vec<u8>>, StoreError>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Suppression {
    /// The address, lower-cased.
    pub email: String,
    pub reason: String,
    /// When the address was first suppressed (an update keeps it).
    pub created_at: DateTime<Utc>,
}

/// The suppression list: at most one suppression per address, whatever its case.
/// One contract suite proves it on every backend
/// (`engage_core::testing::contract::suppressions`, feature `testing`).
#[async_trait]
pub trait SuppressionStore: Send + Sync {
    /// Adds the address, or updates its reason if it is suppressed already; returns
    /// the stored suppression.
    async fn add(
        &self,
        address: &EmailAddress,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Suppression, StoreError>;
    /// `NotFound` when the address was not suppressed.
    async fn remove(&self, address: &EmailAddress) -> Result<(), StoreError>;
    /// The address's suppression, if it has one (matched without case).
    async fn get(&self, address: &EmailAddress) -> Result<Option<Suppression>, StoreError>;
    /// By address, `limit` (1–1000) a page; a page with a next cursor is full.
    /// `InvalidCursor` for a cursor it did not issue.
    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Suppression>, StoreError>;
}

/// A message that failed `max_receives` times, as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    /// Opaque id of the dead letter.
    pub id: String,
    /// The queue it came from and is redriven to.
    pub source_queue: String,
    /// The message body: the event as JSON when it parses, else the raw text.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub body: serde_json::Value,
    pub receive_count: u32,
    /// The last processing error, if one was recorded.
    pub last_error: Option<String>,
    /// When the message was first sent.
    pub sent_at: DateTime<Utc>,
}

/// The dead-letter queue, for operators: look, then redrive.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<DeadLetter>, StoreError>;
    async fn get(&self, id: &str) -> Result<Option<DeadLetter>, StoreError>;
    /// Moves one message back to its source queue with a fresh receive count;
    /// `NotFound` when there is no such dead letter.
    async fn redrive(&self, id: &str) -> Result<(), StoreError>;
    /// Redrives every dead letter; returns how many.
    async fn redrive_all(&self) -> Result<u64, StoreError>;
}

/// Re-running the stream processor over the change log. Event ids are derived from
/// the changes, so already-decided events are no-ops and replay is safe.
#[async_trait]
pub trait StreamReplay: Send + Sync {
    /// Publishes again every change after sequence number `from` (0: the whole log);
    /// returns how many changes that is.
    async fn replay_from(&self, from: u64) -> Result<u64, StoreError>;
}

/// The events topic.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    async fn publish(&self, events: Vec<Event>) -> Result<(), StoreError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("generator unavailable: {0}")]
    Unavailable(String),
    #[error("generator output refused: {0}")]
    Refused(String),
    /// Recent requests kept failing; the generator is not asked until it cools down.
    #[error("generator paused: {0}")]
    CircuitOpen(String),
    /// The day's token or cost budget is spent.
    #[error("generator budget spent: {0}")]
    OverBudget(String),
}

impl ComposeError {
    /// The `reason` label of `engage_llm_fallbacks_total`.
    pub fn kind(&self) -> &'static str {
        match self {
            ComposeError::Unavailable(_) => "unavailable",
            ComposeError::Refused(_) => "refused",
            ComposeError::CircuitOpen(_) => "circuit_open",
            ComposeError::OverBudget(_) => "over_budget",
        }
    }
}

#[async_trait]
pub trait ContentGenerator: Send + Sync {
    /// `template`, or `llm:<model>`.
    fn name(&self) -> String;
    /// True when generating calls out over the network and may take seconds: the
    /// engine then commits the decision first and writes the email afterwards
    /// (`composing`), so a slow generator delays no other decision.
    fn remote(&self) -> bool {
        false
    }
    async fn generate(&self, request: &ComposeRequest) -> Result<Composed, ComposeError>;
}

/// A recorded email made ready for a sender.
#[derive(Debug, Clone)]
pub struct OutgoingEmail {
    pub email: Email,
    pub to: EmailAddress,
    pub to_name: String,
    pub from: String,
    pub unsubscribe_url: String,
    /// Only when an operator configured a mailbox that is read.
    pub unsubscribe_mailto: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    pub message_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Try again later (throttling, connection trouble); never counted as sent.
    #[error("transient send failure: {0}")]
    Transient(String),
    /// The provider refused for good.
    #[error("permanent send failure: {0}")]
    Permanent(String),
}

/// The model's spending of one UTC day, shared by every process that writes emails
/// (on AWS, each mailer execution environment), so the daily budget holds across
/// them. Without one, a process counts its own spending only.
#[async_trait]
pub trait SpendTally: Send + Sync + std::fmt::Debug {
    /// Adds `tokens` and `usd` to `day`'s spending; answers the day's totals after
    /// it, everyone's. Adding nothing reads them.
    async fn add(
        &self,
        day: chrono::NaiveDate,
        tokens: u64,
        usd: f64,
    ) -> Result<(u64, f64), StoreError>;
}

#[async_trait]
pub trait MailSender: Send + Sync {
    /// `outbox`, `smtp` or `ses`.
    fn name(&self) -> &'static str;
    /// Whether it could send now, for `/health`: `Ok` with what it checked, or `Err`
    /// with what is wrong. Each sender checks what it sends through (a directory, a
    /// relay, an account); callers cache the answer, since it may cost a round trip.
    async fn check(&self) -> Result<serde_json::Value, String> {
        Ok(serde_json::Value::Null)
    }
    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError>;
    /// Sends several emails, answering for each in order. A sender that can share work
    /// between messages (one connection, one disk sync) overrides this.
    async fn send_many(&self, emails: &[OutgoingEmail]) -> Vec<Result<SendReceipt, SendError>> {
        let mut out = Vec::with_capacity(emails.len());
        for e in emails {
            out.push(self.send(e).await);
        }
        out
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    Up,
    Degraded,
    Down,
}

/// One dependency's health, as `/health` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DependencyHealth {
    pub name: String,
    pub status: HealthStatus,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
}

impl DependencyHealth {
    pub fn new(name: &str, status: HealthStatus, detail: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            status,
            detail,
        }
    }
}

#[async_trait]
pub trait HealthCheck: Send + Sync {
    async fn check(&self) -> Vec<DependencyHealth>;
}

/// What a provider notification came to, once verified and read.
#[derive(Debug, Clone, PartialEq)]
pub enum Intake {
    /// Reports about emails, to apply.
    Feedback(Vec<crate::processor::ProviderFeedback>),
    /// A subscription was confirmed (the provider's handshake).
    Confirmed,
    /// Genuine, but nothing engage acts on (an open, a click, an unknown email).
    Ignored(String),
}

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// Not genuine or not readable: refused, and a retry will not change that.
    #[error("refused: {0}")]
    Refused(String),
    /// Could not be checked now (the signing certificate did not download, say).
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// Verifies and reads the notifications a mail provider posts (SES through SNS).
#[async_trait]
pub trait FeedbackIntake: Send + Sync {
    async fn read(&self, body: &str) -> Result<Intake, IntakeError>;
}
