//! The ledger on DynamoDB: event claims, decisions, emails and scores, as the
//! [`Ledger`] port's documentation (and its contract suite,
//! `engage_core::testing::contract::ledger`) says, over the Emails and Ledger tables
//! whose key design [`crate::tables`] describes.
//!
//! - A decision commit is one `TransactWriteItems`: the claim (`attribute_not_exists`),
//!   the decision, the email (`attribute_not_exists`) and the client's score item,
//!   conditional on its `ledger_seq`. The score item is read first (strongly
//!   consistent) for the two values a transaction cannot compute: the highest
//!   processed version and the client's recent emails. The `ledger_seq` condition
//!   makes that read safe: any other commit in between fails ours (`Stale`).
//! - A cancelled transaction's reasons say which condition failed: the claim's is
//!   `AlreadyClaimed` (with the stored claim), the score item's is `Stale`; when both
//!   apply the claim wins, as the port requires (a stale read looks for the claim
//!   before answering `Stale`).
//! - Reads the processor decides on are strongly consistent: indexes are not (a GSI
//!   lags its table), so a client's recent emails are not read from `byUser` but from
//!   the ids its score item keeps (`recent_emails`), then from the Emails table.
//! - Every status move is a conditional `UpdateItem`; leases (composing emails,
//!   rescores) are conditional updates of the sort key the index was queried on, so
//!   two sweepers never both take one item, and an index that lags only costs a
//!   failed condition.
//!
//! The ledger's parts: [`items`] (the items as stored and read back), [`context`]
//! (what a decision reads), [`commit`] (the decision's transaction), [`emails`] (status
//! moves, due emails and composing leases), [`rescores`], [`lists`] (the console's
//! lists) and [`schema`] (the tables' creation).

mod commit;
mod context;
mod emails;
mod items;
mod lists;
mod rescores;
mod schema;

pub use schema::create_ledger_tables;

use crate::ddb::{Item, opt_s, sdk_error, unexpected};
use crate::tables::Resources;
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::email::{Decision, Email, EmailStatus, StatusChange};
use engage_core::ids::{EmailId, EventId, UserId};
use engage_core::ports::{
    Claim, CommitResult, ContextRequest, DecisionCommit, EmailActivity, EmailHistory, EmailQuery,
    EmailTransition, Ledger, LedgerContext, Page,
};
use engage_core::score::ScoreBreakdown;
use futures_util::{StreamExt, TryStreamExt};
use items::{claim_from_item, claim_key, email_from_item, email_key, score_key};
use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;

/// Requests one call has in flight at most.
const CONCURRENCY: usize = 16;

fn build_error(e: impl std::fmt::Display) -> StoreError {
    unexpected(format!("building a request: {e}"))
}

/// Runs `run` on each item; items with the same key one after the other in their
/// order, different keys concurrently. The results come in the items' order.
async fn grouped<T, K, R, F, Fut>(
    items: Vec<T>,
    key: impl Fn(&T) -> K,
    run: F,
) -> Result<Vec<R>, StoreError>
where
    K: Eq + Hash,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<R, StoreError>>,
{
    let count = items.len();
    let mut groups: Vec<Vec<(usize, T)>> = Vec::new();
    let mut by_key: HashMap<K, usize> = HashMap::new();
    for (i, t) in items.into_iter().enumerate() {
        let g = *by_key.entry(key(&t)).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push((i, t));
    }
    let run = &run;
    let done: Vec<Vec<(usize, R)>> = futures_util::stream::iter(groups)
        .map(|group| async move {
            let mut out = Vec::with_capacity(group.len());
            for (i, t) in group {
                out.push((i, run(t).await?));
            }
            Ok::<_, StoreError>(out)
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let mut slots: Vec<Option<R>> = (0..count).map(|_| None).collect();
    for (i, r) in done.into_iter().flatten() {
        slots[i] = Some(r);
    }
    Ok(slots.into_iter().flatten().collect())
}

/// [`Ledger`] over the Emails and Ledger tables (and the Users table, read for the
/// client versions [`Ledger::take_due_rescores`] answers with).
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    emails: String,
    ledger: String,
    users: String,
}

impl DynamoLedger {
    pub fn new(client: Client, resources: &Resources) -> Self {
        Self {
            client,
            emails: resources.emails_table.clone(),
            ledger: resources.ledger_table.clone(),
            users: resources.users_table.clone(),
        }
    }

    /// A strongly consistent `GetItem`.
    async fn get(&self, table: &str, key: Item, what: &str) -> Result<Option<Item>, StoreError> {
        Ok(self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("GetItem ({what})"), e))?
            .item)
    }

    async fn claim(&self, event: &EventId) -> Result<Option<Claim>, StoreError> {
        self.get(&self.ledger, claim_key(event), "claim")
            .await?
            .as_ref()
            .map(claim_from_item)
            .transpose()
    }

    /// One page of a query from `start`: its items and the key to continue from.
    async fn page(
        &self,
        query: &QueryFluentBuilder,
        start: Option<Item>,
        what: &str,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = query
            .clone()
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| sdk_error(&format!("Query ({what})"), e))?;
        Ok((out.items.unwrap_or_default(), out.last_evaluated_key))
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerContext>, StoreError> {
        let reads: Vec<_> = requests
            .iter()
            .map(|r| self.context_for(r, since))
            .collect();
        futures_util::stream::iter(reads)
            .buffered(CONCURRENCY)
            .try_collect()
            .await
    }

    async fn claim_of(&self, event: &EventId) -> Result<Option<Claim>, StoreError> {
        self.claim(event).await
    }

    async fn commit(&self, commit: DecisionCommit) -> Result<CommitResult, StoreError> {
        self.commit_one(commit).await
    }

    /// One transaction per decision; one client's decisions in their order, different
    /// clients' at the same time.
    async fn commit_many(
        &self,
        commits: Vec<DecisionCommit>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        grouped(commits, |c| c.user_id.clone(), |c| self.commit_one(c)).await
    }

    async fn get_email(&self, id: &EmailId) -> Result<Option<Email>, StoreError> {
        self.get(&self.emails, email_key(id.as_str()), "email")
            .await?
            .as_ref()
            .map(email_from_item)
            .transpose()
    }

    async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        change: StatusChange,
        message_id: Option<String>,
    ) -> Result<bool, StoreError> {
        self.transition_one(EmailTransition {
            id: id.clone(),
            from,
            change,
            message_id,
        })
        .await
    }

    async fn transition_many(&self, moves: Vec<EmailTransition>) -> Result<Vec<bool>, StoreError> {
        grouped(moves, |m| m.id.clone(), |m| self.transition_one(m)).await
    }

    async fn emails_to_deliver(
        &self,
        now: DateTime<Utc>,
        stranded_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let (mut out, pending) = tokio::try_join!(
            self.due_ids(EmailStatus::Scheduled, now, limit),
            self.due_ids(EmailStatus::Pending, stranded_before, limit),
        )?;
        out.extend(pending);
        Ok(out)
    }

    async fn claim_composing(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        self.lease_due_composing(now, lease_until, limit).await
    }

    async fn finish_composing(&self, email: Email) -> Result<bool, StoreError> {
        self.finish_composing_one(email).await
    }

    async fn stuck_sending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        self.due_ids(EmailStatus::Sending, before, limit).await
    }

    async fn take_due_rescores(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(UserId, u64)>, StoreError> {
        self.lease_due_rescores(now, lease_until, limit).await
    }
}

#[async_trait]
impl EmailHistory for DynamoLedger {
    async fn list_emails(&self, q: &EmailQuery) -> Result<Page<Email>, StoreError> {
        self.emails_page(q).await
    }

    async fn list_decisions(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Decision>, StoreError> {
        self.decisions_page(user, cursor, limit).await
    }

    async fn stored_score(&self, user: &UserId) -> Result<Option<ScoreBreakdown>, StoreError> {
        self.get(&self.ledger, score_key(user), "score")
            .await?
            .and_then(|i| opt_s(&i, "body").map(str::to_string))
            .map(|b| engage_core::records::decode_score(&b))
            .transpose()
    }

    async fn email_activity(&self, _since: DateTime<Utc>) -> Result<EmailActivity, StoreError> {
        Err(StoreError::Unsupported(
            "email counts by day are not available on the DynamoDB backend: the emails \
             table has no index that counts them without reading every email of the period"
                .into(),
        ))
    }
}
