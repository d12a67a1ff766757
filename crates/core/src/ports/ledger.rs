//! The ledger: what the email processor decided and sent, per client.

use super::Page;
use crate::StoreError;
use crate::client::EmailAddress;
use crate::email::{Decision, Email, EmailStatus, EmailSummary, StatusChange};
use crate::ids::{DecisionId, EmailId, EventId, UserId};
use crate::score::{EmailStats, ScoreBreakdown};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

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
    /// The client's own emails created at or after the request's `since` (that
    /// instant included; the core passes
    /// [`recent_emails_since`](crate::policy::recent_emails_since)), newest first, ties by email id descending, each with its current
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

impl CommitResult {
    /// The answer to a commit a store refused, from the event's stored claim: the
    /// claim when there is one (it wins over a moved `ledger_seq`: the event needs no
    /// decision on fresher state), else `Stale`. Every store answers through this,
    /// so the precedence is written once.
    pub fn refused(claim: Option<Claim>) -> Self {
        match claim {
            Some(claim) => Self::AlreadyClaimed(claim),
            None => Self::Stale,
        }
    }
}

/// A page of [`EmailHistory::list_emails`]: the filters given combine (all must hold).
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
/// Nothing here may answer `Unsupported`.
///
/// The ledger is split by who uses it: this trait is the processor's (what it reads
/// to decide, and every write); [`EmailHistory`] is the operators' read queries (the
/// API, the console, the CLI); the copy of a sent message is the sender's
/// ([`SentMessages`](super::SentMessages)).
#[async_trait]
pub trait Ledger: Send + Sync {
    /// What the processor reads before deciding for one client: [`Ledger::contexts`]
    /// for one request.
    async fn context(
        &self,
        user: &UserId,
        address: &EmailAddress,
        event: Option<&EventId>,
        since: DateTime<Utc>,
    ) -> Result<LedgerContext, StoreError> {
        let request = ContextRequest {
            user: user.clone(),
            address: Some(address.clone()),
            event: event.cloned(),
        };
        Ok(self
            .contexts(std::slice::from_ref(&request), since)
            .await?
            .pop()
            .expect("one context per request"))
    }
    /// The contexts of many clients at once, one per request, in order: each one's
    /// claim of the event, ledger state, emails created since `since` and suppression
    /// (see [`LedgerContext`]). A request without an address (the client is gone) is
    /// never suppressed, and still reads the claim, the ledger state and the emails.
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        since: DateTime<Utc>,
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
}

/// What the emails created in a period came to, for the console's dashboard
/// ([`EmailHistory::email_activity`]).
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

/// The ledger as operators read it (the API, the console, `engage resend`): emails,
/// decisions, scores and the dashboard's counts. Implemented by each backend's
/// ledger, over the same data as [`Ledger`]; only [`EmailHistory::email_activity`]
/// may answer `Unsupported`.
#[async_trait]
pub trait EmailHistory: Send + Sync {
    /// The emails that pass the query's filters, whole, newest first by creation
    /// (ties by id, descending), in pages of `limit`; `next_cursor` resumes right
    /// after the page and is `None` on the last page (no page after it is empty).
    async fn list_emails(&self, query: &EmailQuery) -> Result<Page<Email>, StoreError>;
    /// The client's decisions as committed, newest first (by `at`, ties by id,
    /// descending), paged as [`EmailHistory::list_emails`]; a cursor the store did not make
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
}
