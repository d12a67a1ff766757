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

use crate::ddb::{
    Item, batch_get, clamp_limit, condition_failed, decode_cursor, encode_cursor, from_json, item,
    n, names, opt_n, opt_s, parse_ts, req_s, s, sdk_error, to_json, ts, unexpected, values,
};
use crate::suppressions::suppression_key;
use crate::tables::{Resources, keys};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, GlobalSecondaryIndex,
    IndexStatus, KeySchemaElement, KeyType, Projection, ProjectionType, Put, ScalarAttributeType,
    TableStatus, TransactWriteItem, Update,
};
use chrono::{DateTime, Duration, Utc};
use engage_core::StoreError;
use engage_core::email::{Decision, DeliveryState, Email, EmailStatus, EmailSummary, StatusChange};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{
    Claim, CommitResult, ContextRequest, DecisionCommit, EmailActivity, EmailQuery,
    EmailTransition, Ledger, LedgerContext, Page,
};
use engage_core::score::ScoreBreakdown;
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::hash::Hash;

const EMAIL_SK: &str = "email";
/// `email_shard` of every email: the `byCreated` partition (all emails, newest first).
const EMAIL_SHARD: &str = "emails";
const CLAIM_SK: &str = "claim";
const SCORE_SK: &str = "score";
const DECISION_PREFIX: &str = "decision#";
/// `rescore_shard` of every score item: the `byRescore` partition.
const RESCORE_SHARD: &str = "rescore";
/// The window of [`LedgerContext::recent_emails`].
const RECENT_DAYS: i64 = 90;
/// How long a score item remembers an email's id (past the window, for clocks that
/// disagree a little).
const RECENT_KEEP_DAYS: i64 = 100;
/// Requests one call has in flight at most.
const CONCURRENCY: usize = 16;
/// Tries of a decision commit cancelled by a conflicting transaction or throttling.
const COMMIT_TRIES: u32 = 5;
/// Tries of a status move whose item changed between its read and its write.
const TRANSITION_TRIES: u32 = 10;

fn claim_key(event: &EventId) -> Item {
    item([
        (keys::PK, s(format!("event#{event}"))),
        (keys::SK, s(CLAIM_SK)),
    ])
}

fn score_key(user: &UserId) -> Item {
    item([
        (keys::PK, s(format!("user#{user}"))),
        (keys::SK, s(SCORE_SK)),
    ])
}

fn email_key(id: &str) -> Item {
    item([(keys::PK, s(id)), (keys::SK, s(EMAIL_SK))])
}

/// The sort key of the email lists: creation time, then id (the time is fixed-width,
/// so string order is the order of `(created_at, id)` the lists promise).
fn created_key(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

fn state_json(e: &Email) -> Result<String, StoreError> {
    to_json(&DeliveryState::of(e))
}

fn due_at(e: &Email) -> String {
    ts(e.due_at())
}

/// An email as first recorded.
fn email_item(e: &Email) -> Result<Item, StoreError> {
    let created = ts(e.created_at);
    Ok(item([
        (keys::PK, s(e.id.as_str())),
        (keys::SK, s(EMAIL_SK)),
        ("user_id", s(e.user_id.as_str())),
        ("campaign", s(&e.campaign)),
        ("status", s(e.status.as_str())),
        ("created_key", s(created_key(&created, e.id.as_str()))),
        ("email_shard", s(EMAIL_SHARD)),
        ("due_at", s(due_at(e))),
        ("updated_at", s(&created)),
        ("created_at", s(created)),
        ("state", s(state_json(e)?)),
        ("body", s(to_json(e)?)),
    ]))
}

fn parse_status(v: &str) -> Result<EmailStatus, StoreError> {
    EmailStatus::parse(v).ok_or_else(|| unexpected(format!("status `{v}`")))
}

fn email_from_item(item: &Item) -> Result<Email, StoreError> {
    let mut email: Email = from_json(req_s(item, "body")?)?;
    let state: DeliveryState = from_json(req_s(item, "state")?)?;
    email.status = parse_status(req_s(item, "status")?)?;
    state.apply_to(&mut email);
    Ok(email)
}

fn claim_from_item(item: &Item) -> Result<Claim, StoreError> {
    Ok(Claim {
        decision_id: DecisionId::from_string(req_s(item, "decision_id")?),
        email_id: opt_s(item, "email_id").map(EmailId::from_string),
    })
}

/// A client's last decided version and ledger sequence (0 before its first decision).
fn ledger_state(score: Option<&Item>) -> Result<(Option<u64>, u64), StoreError> {
    match score {
        None => Ok((None, 0)),
        Some(i) => Ok((
            opt_n(i, "last_processed_version")?,
            opt_n(i, "ledger_seq")?.unwrap_or(0),
        )),
    }
}

/// The emails a score item remembers: id → creation time.
fn recent_emails(score: Option<&Item>) -> HashMap<String, String> {
    score
        .and_then(|i| i.get("recent_emails"))
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(id, at)| Some((id.clone(), at.as_s().ok()?.clone())))
                .collect()
        })
        .unwrap_or_default()
}

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

    /// `(email id, due_at)` of up to `limit` emails in `status` due at `until` or
    /// before, earliest first, from `byStatus` (which may lag the table a little).
    fn due_query(&self, status: EmailStatus, until: &str, limit: u32) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.emails)
            .index_name(keys::BY_STATUS)
            .key_condition_expression("#status = :status AND #due <= :until")
            .set_expression_attribute_names(names([("#status", "status"), ("#due", "due_at")]))
            .set_expression_attribute_values(values([
                (":status", s(status.as_str())),
                (":until", s(until)),
            ]))
            .scan_index_forward(true)
            .limit(clamp_limit(limit) as i32)
    }

    async fn due_ids(
        &self,
        status: EmailStatus,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let limit = limit as usize;
        let query = self.due_query(status, &ts(until), limit as u32);
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let (items, next) = self.page(&query, start, "byStatus").await?;
            for i in &items {
                if out.len() < limit {
                    out.push(EmailId::from_string(req_s(i, keys::PK)?));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }

    /// What the processor reads before deciding for one client: everything strongly
    /// consistent (see the module's documentation).
    async fn context_for(
        &self,
        r: &ContextRequest,
        now: DateTime<Utc>,
    ) -> Result<LedgerContext, StoreError> {
        let claim = async {
            match &r.event {
                Some(e) => self.claim(e).await,
                None => Ok(None),
            }
        };
        let score = self.get(&self.ledger, score_key(&r.user), "ledger state");
        let suppressed = async {
            match &r.address {
                Some(a) => Ok(self
                    .get(
                        &self.ledger,
                        suppression_key(&a.normalized()),
                        "suppression",
                    )
                    .await?
                    .is_some()),
                None => Ok(false),
            }
        };
        let (claim, score, suppressed) = tokio::try_join!(claim, score, suppressed)?;
        let (last_processed_version, ledger_seq) = ledger_state(score.as_ref())?;
        let since = ts(now - Duration::days(RECENT_DAYS));
        let ids: Vec<String> = recent_emails(score.as_ref())
            .into_iter()
            .filter(|(_, at)| *at >= since)
            .map(|(id, _)| id)
            .collect();
        let recent_emails = self.summaries(ids, &since).await?;
        Ok(LedgerContext::new(
            claim,
            last_processed_version,
            recent_emails,
            suppressed,
            ledger_seq,
        ))
    }

    /// The summaries of these emails created at `since` or later, newest first.
    async fn summaries(
        &self,
        ids: Vec<String>,
        since: &str,
    ) -> Result<Vec<EmailSummary>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = ids.iter().map(|id| email_key(id)).collect();
        let projection = (
            "pk, #campaign, #status, #created",
            names([
                ("#campaign", "campaign"),
                ("#status", "status"),
                ("#created", "created_at"),
            ])
            .unwrap_or_default(),
        );
        let mut found = Vec::new();
        for i in batch_get(&self.client, &self.emails, wanted, Some(projection)).await? {
            let created = req_s(&i, "created_at")?;
            if created < since {
                continue;
            }
            found.push((
                created.to_string(),
                req_s(&i, keys::PK)?.to_string(),
                EmailSummary {
                    campaign: req_s(&i, "campaign")?.to_string(),
                    status: parse_status(req_s(&i, "status")?)?,
                    created_at: parse_ts(created)?,
                },
            ));
        }
        found.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
        Ok(found.into_iter().map(|(_, _, e)| e).collect())
    }

    /// Writes one decision's claim, decision, email and score in one transaction,
    /// unless the event is already claimed or the client's ledger moved on.
    async fn commit_one(&self, commit: DecisionCommit) -> Result<CommitResult, StoreError> {
        let decision_body = commit.decision.as_ref().map(to_json).transpose()?;
        let email = commit.email.as_ref().map(email_item).transpose()?;
        let score_body = commit.score.as_ref().map(to_json).transpose()?;
        let mut tries = 0;
        loop {
            tries += 1;
            let stored = self
                .get(&self.ledger, score_key(&commit.user_id), "ledger state")
                .await?;
            let (stored_version, stored_seq) = ledger_state(stored.as_ref())?;
            if stored_seq != commit.expected_ledger_seq {
                return Ok(match self.claim(&commit.event_id).await? {
                    Some(claim) => CommitResult::AlreadyClaimed(claim),
                    None => CommitResult::Stale,
                });
            }

            let mut items = Vec::with_capacity(4);
            // The claim comes first: its cancellation reason is at index 0.
            items.push(match &commit.decision {
                Some(d) => {
                    let mut claim = claim_key(&commit.event_id);
                    claim.insert("decision_id".into(), s(d.id.as_str()));
                    claim.insert("claimed_at".into(), s(ts(d.at)));
                    if let Some(e) = &commit.email {
                        claim.insert("email_id".into(), s(e.id.as_str()));
                    }
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.ledger)
                                .set_item(Some(claim))
                                .condition_expression("attribute_not_exists(pk)")
                                .build()
                                .map_err(build_error)?,
                        )
                        .build()
                }
                // No decision, no claim to write, but an existing one still wins.
                None => TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(&self.ledger)
                            .set_key(Some(claim_key(&commit.event_id)))
                            .condition_expression("attribute_not_exists(pk)")
                            .build()
                            .map_err(build_error)?,
                    )
                    .build(),
            });
            if let (Some(d), Some(body)) = (&commit.decision, &decision_body) {
                items.push(
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.ledger)
                                .set_item(Some(item([
                                    (keys::PK, s(format!("user#{}", d.user_id))),
                                    (
                                        keys::SK,
                                        s(format!("{DECISION_PREFIX}{}#{}", ts(d.at), d.id)),
                                    ),
                                    ("body", s(body)),
                                ])))
                                .build()
                                .map_err(build_error)?,
                        )
                        .build(),
                );
            }
            let email_at = email.as_ref().map(|_| items.len());
            if let Some(e) = &email {
                items.push(
                    TransactWriteItem::builder()
                        .put(
                            Put::builder()
                                .table_name(&self.emails)
                                .set_item(Some(e.clone()))
                                .condition_expression("attribute_not_exists(pk)")
                                .build()
                                .map_err(build_error)?,
                        )
                        .build(),
                );
            }
            let score_at = items.len();
            items.push(self.score_write(
                &commit,
                score_body.as_deref(),
                stored.as_ref(),
                stored_version,
            )?);

            let error = match self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => return Ok(CommitResult::Committed),
                Err(e) => e,
            };
            let reasons: Vec<String> = match &error {
                SdkError::ServiceError(se) => match se.err() {
                    TransactWriteItemsError::TransactionCanceledException(t) => t
                        .cancellation_reasons()
                        .iter()
                        .map(|r| r.code().unwrap_or("None").to_string())
                        .collect(),
                    _ => return Err(sdk_error("TransactWriteItems (decision commit)", error)),
                },
                _ => return Err(sdk_error("TransactWriteItems (decision commit)", error)),
            };
            let failed = |i: usize| {
                reasons
                    .get(i)
                    .is_some_and(|c| c == "ConditionalCheckFailed")
            };
            if failed(0) {
                return match self.claim(&commit.event_id).await? {
                    Some(claim) => Ok(CommitResult::AlreadyClaimed(claim)),
                    None => Err(unexpected(format!(
                        "the claim of event {} failed its condition but is not there",
                        commit.event_id
                    ))),
                };
            }
            if failed(score_at) {
                return Ok(CommitResult::Stale);
            }
            if email_at.is_some_and(failed) {
                return Err(unexpected(format!(
                    "decision commit for event {}: its email is already recorded, without a claim",
                    commit.event_id
                )));
            }
            let transient = reasons.iter().any(|c| {
                matches!(
                    c.as_str(),
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            });
            if !transient || tries >= COMMIT_TRIES {
                return Err(sdk_error("TransactWriteItems (decision commit)", error));
            }
            tokio::time::sleep(std::time::Duration::from_millis(20 << tries)).await;
        }
    }

    /// The commit's write of the client's score item, conditional on `ledger_seq`.
    fn score_write(
        &self,
        commit: &DecisionCommit,
        score_body: Option<&str>,
        stored: Option<&Item>,
        stored_version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let condition = if commit.expected_ledger_seq == 0 {
            "(attribute_not_exists(#seq) OR #seq = :seq)"
        } else {
            "#seq = :seq"
        };
        let mut names = HashMap::from([("#seq".to_string(), "ledger_seq".to_string())]);
        let mut values = HashMap::from([(":seq".to_string(), n(commit.expected_ledger_seq))]);
        let mut set = Vec::new();
        if let Some(e) = &commit.email {
            // The client's recent emails, for the strongly consistent context.
            let created = ts(e.created_at);
            let keep = ts(e.created_at - Duration::days(RECENT_KEEP_DAYS));
            let mut recent: HashMap<String, AttributeValue> = recent_emails(stored)
                .into_iter()
                .filter(|(_, at)| *at >= keep)
                .map(|(id, at)| (id, s(at)))
                .collect();
            recent.insert(e.id.to_string(), s(created));
            set.push("#recent = :recent");
            names.insert("#recent".into(), "recent_emails".into());
            values.insert(":recent".into(), AttributeValue::M(recent));
        }
        if let (Some(score), Some(body)) = (&commit.score, score_body) {
            set.push(
                "#score = :score, #tier = :tier, #body = :body, #version = :version, \
                 #next = :next, #shard = :shard, #seq = :next_seq",
            );
            for (k, v) in [
                ("#score", "score"),
                ("#tier", "tier"),
                ("#body", "body"),
                ("#version", "last_processed_version"),
                ("#next", "next_rescore_at"),
                ("#shard", "rescore_shard"),
            ] {
                names.insert(k.into(), v.into());
            }
            let version = stored_version.map_or(commit.processed_version, |v| {
                v.max(commit.processed_version)
            });
            for (k, v) in [
                (":score", n(u64::from(score.score))),
                (":tier", s(score.tier.as_str())),
                (":body", s(body)),
                (":version", n(version)),
                (":next", s(ts(commit.next_rescore_at))),
                (":shard", s(RESCORE_SHARD)),
                (":next_seq", n(commit.expected_ledger_seq + 1)),
            ] {
                values.insert(k.into(), v);
            }
        }
        let key = score_key(&commit.user_id);
        Ok(if set.is_empty() {
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&self.ledger)
                        .set_key(Some(key))
                        .condition_expression(condition)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values))
                        .build()
                        .map_err(build_error)?,
                )
                .build()
        } else {
            TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.ledger)
                        .set_key(Some(key))
                        .update_expression(format!("SET {}", set.join(", ")))
                        .condition_expression(condition)
                        .set_expression_attribute_names(Some(names))
                        .set_expression_attribute_values(Some(values))
                        .build()
                        .map_err(build_error)?,
                )
                .build()
        })
    }

    /// Moves one email to `m.change.status` if it is still at `m.from`: reads its
    /// state, appends the change and writes it back on condition that neither the
    /// status nor the state changed meanwhile (re-reading if only the state did).
    async fn transition_one(&self, m: EmailTransition) -> Result<bool, StoreError> {
        for _ in 0..TRANSITION_TRIES {
            let found = self
                .client
                .get_item()
                .table_name(&self.emails)
                .set_key(Some(email_key(m.id.as_str())))
                .consistent_read(true)
                .projection_expression("#status, #state")
                .set_expression_attribute_names(names([("#status", "status"), ("#state", "state")]))
                .send()
                .await
                .map_err(|e| sdk_error("GetItem (email state)", e))?
                .item;
            let Some(found) = found else {
                return Ok(false);
            };
            if req_s(&found, "status")? != m.from.as_str() {
                return Ok(false);
            }
            let old_state = req_s(&found, "state")?;
            let mut state: DeliveryState = from_json(old_state)?;
            let to = m.change.status;
            let at = ts(m.change.at);
            state.record(m.change.clone(), m.message_id.clone());
            // A scheduled email keeps its due time; any other status is due from now.
            let update = if to == EmailStatus::Scheduled {
                "SET #status = :to, #updated = :at, #state = :state"
            } else {
                "SET #status = :to, #updated = :at, #state = :state, #due = :at"
            };
            let mut names = HashMap::from([
                ("#status".to_string(), "status".to_string()),
                ("#updated".to_string(), "updated_at".to_string()),
                ("#state".to_string(), "state".to_string()),
            ]);
            if to != EmailStatus::Scheduled {
                names.insert("#due".into(), "due_at".into());
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.emails)
                .set_key(Some(email_key(m.id.as_str())))
                .update_expression(update)
                .condition_expression("#status = :from AND #state = :old")
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(values([
                    (":to", s(to.as_str())),
                    (":at", s(at)),
                    (":state", s(to_json(&state)?)),
                    (":from", s(m.from.as_str())),
                    (":old", s(old_state)),
                ]))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(e) if condition_failed(&e) => continue,
                Err(e) => return Err(sdk_error("UpdateItem (email status)", e)),
            }
        }
        Err(unexpected(format!(
            "email {} kept changing while moving it from {} (transient, worth retrying)",
            m.id,
            m.from.as_str()
        )))
    }

    /// Moves an email's `due_at` from `seen` to `lease` if it is still `composing`
    /// there; false when another writer took it first.
    async fn lease_composing(&self, id: &str, seen: &str, lease: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.emails)
            .set_key(Some(email_key(id)))
            .update_expression("SET #due = :lease")
            .condition_expression("#status = :composing AND #due = :seen")
            .set_expression_attribute_names(names([("#status", "status"), ("#due", "due_at")]))
            .set_expression_attribute_values(values([
                (":lease", s(lease)),
                (":composing", s(EmailStatus::Composing.as_str())),
                (":seen", s(seen)),
            ]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem (composing lease)", e)),
        }
    }

    /// Leases a client's due rescore (moves `next_rescore_at` from `seen` to `lease`)
    /// when `version` is its current one; without a client (deleted meanwhile) takes
    /// its score item off `byRescore` instead. True when leased.
    async fn lease_rescore(
        &self,
        pk: &str,
        seen: &str,
        lease: &str,
        version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let key = item([(keys::PK, s(pk)), (keys::SK, s(SCORE_SK))]);
        let request = self
            .client
            .update_item()
            .table_name(&self.ledger)
            .set_key(Some(key))
            .condition_expression("#next = :seen AND #shard = :shard")
            .set_expression_attribute_names(names([
                ("#next", "next_rescore_at"),
                ("#shard", "rescore_shard"),
            ]));
        let result = match version {
            Some(_) => {
                request
                    .update_expression("SET #next = :lease")
                    .set_expression_attribute_values(values([
                        (":lease", s(lease)),
                        (":seen", s(seen)),
                        (":shard", s(RESCORE_SHARD)),
                    ]))
                    .send()
                    .await
            }
            None => {
                request
                    .update_expression("REMOVE #shard")
                    .set_expression_attribute_values(values([
                        (":seen", s(seen)),
                        (":shard", s(RESCORE_SHARD)),
                    ]))
                    .send()
                    .await
            }
        };
        match result {
            Ok(_) => Ok(version.is_some()),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem (rescore lease)", e)),
        }
    }
}

#[async_trait]
impl Ledger for DynamoLedger {
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<LedgerContext>, StoreError> {
        let reads: Vec<_> = requests.iter().map(|r| self.context_for(r, now)).collect();
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
        let limit = limit as usize;
        let lease = ts(lease_until);
        let query = self.due_query(EmailStatus::Composing, &ts(now), limit as u32);
        let mut out: Vec<EmailId> = Vec::new();
        let mut tried: HashSet<String> = HashSet::new();
        let mut start = None;
        while out.len() < limit {
            let (items, next) = self.page(&query, start, "byStatus").await?;
            let candidates = items
                .iter()
                .map(|i| {
                    Ok((
                        req_s(i, keys::PK)?.to_string(),
                        req_s(i, "due_at")?.to_string(),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?
                .into_iter()
                .filter(|(id, _)| tried.insert(id.clone()))
                .take(limit - out.len());
            let leased: Vec<(String, bool)> = futures_util::stream::iter(candidates)
                .map(|(id, seen)| {
                    let lease = &lease;
                    async move {
                        let ok = self.lease_composing(&id, &seen, lease).await?;
                        Ok::<_, StoreError>((id, ok))
                    }
                })
                .buffered(CONCURRENCY)
                .try_collect()
                .await?;
            out.extend(
                leased
                    .into_iter()
                    .filter(|(_, ok)| *ok)
                    .map(|(id, _)| EmailId::from_string(id)),
            );
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }

    async fn finish_composing(&self, email: Email) -> Result<bool, StoreError> {
        let updated = ts(email
            .status_history
            .last()
            .map_or(email.created_at, |h| h.at));
        let result = self
            .client
            .update_item()
            .table_name(&self.emails)
            .set_key(Some(email_key(email.id.as_str())))
            .update_expression(
                "SET #status = :to, #due = :due, #updated = :updated, #state = :state, #body = :body",
            )
            .condition_expression("#status = :composing")
            .set_expression_attribute_names(names([
                ("#status", "status"),
                ("#due", "due_at"),
                ("#updated", "updated_at"),
                ("#state", "state"),
                ("#body", "body"),
            ]))
            .set_expression_attribute_values(values([
                (":to", s(email.status.as_str())),
                (":due", s(due_at(&email))),
                (":updated", s(updated)),
                (":state", s(state_json(&email)?)),
                (":body", s(to_json(&email)?)),
                (":composing", s(EmailStatus::Composing.as_str())),
            ]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem (finish composing)", e)),
        }
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
        let limit = limit as usize;
        let lease = ts(lease_until);
        let query = self
            .client
            .query()
            .table_name(&self.ledger)
            .index_name(keys::BY_RESCORE)
            .key_condition_expression("#shard = :shard AND #next <= :now")
            .set_expression_attribute_names(names([
                ("#shard", "rescore_shard"),
                ("#next", "next_rescore_at"),
            ]))
            .set_expression_attribute_values(values([
                (":shard", s(RESCORE_SHARD)),
                (":now", s(ts(now))),
            ]))
            .scan_index_forward(true)
            .limit(clamp_limit(limit as u32) as i32);
        let mut out = Vec::new();
        let mut tried: HashSet<String> = HashSet::new();
        let mut start = None;
        while out.len() < limit {
            let (items, next) = self.page(&query, start, "byRescore").await?;
            let mut candidates = Vec::new();
            for i in &items {
                let pk = req_s(i, keys::PK)?;
                let user = pk
                    .strip_prefix("user#")
                    .ok_or_else(|| unexpected(format!("score item `{pk}`")))?;
                if tried.insert(pk.to_string()) {
                    candidates.push((
                        pk.to_string(),
                        user.to_string(),
                        req_s(i, "next_rescore_at")?.to_string(),
                    ));
                }
            }
            candidates.truncate(limit - out.len());
            // The clients' current versions, from the Users table.
            let versions: HashMap<String, u64> = if candidates.is_empty() {
                HashMap::new()
            } else {
                let wanted = candidates
                    .iter()
                    .map(|(_, u, _)| item([(keys::PK, s(u))]))
                    .collect();
                let projection = (
                    "pk, #version",
                    names([("#version", "version")]).unwrap_or_default(),
                );
                batch_get(&self.client, &self.users, wanted, Some(projection))
                    .await?
                    .iter()
                    .map(|i| {
                        let version = opt_n(i, "version")?
                            .ok_or_else(|| unexpected("stored client without `version`"))?;
                        Ok((req_s(i, keys::PK)?.to_string(), version))
                    })
                    .collect::<Result<_, StoreError>>()?
            };
            let leased: Vec<Option<(UserId, u64)>> = futures_util::stream::iter(candidates)
                .map(|(pk, user, seen)| {
                    let version = versions.get(&user).copied();
                    let lease = &lease;
                    async move {
                        let ok = self.lease_rescore(&pk, &seen, lease, version).await?;
                        Ok::<_, StoreError>(
                            version
                                .filter(|_| ok)
                                .map(|v| (UserId::from_string(user), v)),
                        )
                    }
                })
                .buffered(CONCURRENCY)
                .try_collect()
                .await?;
            out.extend(leased.into_iter().flatten());
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }

    async fn list_emails(&self, q: &EmailQuery) -> Result<Page<Email>, StoreError> {
        let limit = clamp_limit(q.limit) as usize;
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?
            .map(|p| created_key(&p[0], &p[1]));
        // The narrowest index: a client's emails, one status's, or all of them.
        let (index, part, value) = match (&q.user_id, q.status) {
            (Some(u), _) => (keys::BY_USER, "user_id", u.to_string()),
            (None, Some(st)) => (keys::BY_STATUS_CREATED, "status", st.as_str().to_string()),
            (None, None) => (keys::BY_CREATED, "email_shard", EMAIL_SHARD.to_string()),
        };
        let mut names = HashMap::from([("#part".to_string(), part.to_string())]);
        let mut values = HashMap::from([(":part".to_string(), s(value))]);
        let mut condition = "#part = :part".to_string();
        if let Some(a) = &after {
            condition.push_str(" AND #ck < :after");
            names.insert("#ck".into(), "created_key".into());
            values.insert(":after".into(), s(a));
        }
        let mut filters = Vec::new();
        if let (Some(_), Some(st)) = (&q.user_id, q.status) {
            filters.push("#status = :status");
            names.insert("#status".into(), "status".into());
            values.insert(":status".into(), s(st.as_str()));
        }
        if let Some(c) = &q.campaign {
            filters.push("#campaign = :campaign");
            names.insert("#campaign".into(), "campaign".into());
            values.insert(":campaign".into(), s(c));
        }
        let mut query = self
            .client
            .query()
            .table_name(&self.emails)
            .index_name(index)
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false);
        query = if filters.is_empty() {
            query.limit(limit as i32 + 1)
        } else {
            // A filter applies after the page is read: read wider pages.
            query
                .filter_expression(filters.join(" AND "))
                .limit(((limit + 1) * 4).clamp(100, 1000) as i32)
        };
        // The keys of one more email than a page, newest first.
        let mut found: Vec<(String, String)> = Vec::new();
        let mut start = None;
        while found.len() <= limit {
            let (items, next) = self.page(&query, start, index).await?;
            for i in &items {
                if found.len() <= limit {
                    found.push((
                        req_s(i, keys::PK)?.to_string(),
                        req_s(i, "created_key")?.to_string(),
                    ));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            let (_, key) = found.last().expect("a full page");
            let (at, id) = key
                .split_once('#')
                .ok_or_else(|| unexpected(format!("created_key `{key}`")))?;
            Some(encode_cursor(&[at, id]))
        } else {
            None
        };
        // The emails themselves, strongly consistent; one the index showed in a state
        // it has since left no longer matches and is left out.
        let wanted = found.iter().map(|(id, _)| email_key(id)).collect();
        let mut by_id: HashMap<String, Email> = HashMap::new();
        for i in batch_get(&self.client, &self.emails, wanted, None).await? {
            let e = email_from_item(&i)?;
            by_id.insert(e.id.to_string(), e);
        }
        let items = found
            .iter()
            .filter_map(|(id, _)| by_id.remove(id))
            .filter(|e| {
                q.user_id.as_ref().is_none_or(|u| e.user_id == *u)
                    && q.status.is_none_or(|st| e.status == st)
                    && q.campaign.as_ref().is_none_or(|c| e.campaign == *c)
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    async fn list_decisions(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Decision>, StoreError> {
        let limit = clamp_limit(limit) as usize;
        let before = cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?
            .map(|p| format!("{DECISION_PREFIX}{}#{}", p[0], p[1]));
        let query = self
            .client
            .query()
            .table_name(&self.ledger)
            .consistent_read(true)
            .scan_index_forward(false)
            .limit(limit as i32 + 2);
        let query = match &before {
            // BETWEEN is inclusive: the cursor's own decision is skipped below.
            Some(b) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .set_expression_attribute_values(values([
                    (":pk", s(format!("user#{user}"))),
                    (":lo", s(DECISION_PREFIX)),
                    (":hi", s(b)),
                ])),
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :lo)")
                .set_expression_attribute_values(values([
                    (":pk", s(format!("user#{user}"))),
                    (":lo", s(DECISION_PREFIX)),
                ])),
        };
        let mut found: Vec<(String, Decision)> = Vec::new();
        let mut start = None;
        while found.len() <= limit {
            let (items, next) = self.page(&query, start, "decisions").await?;
            for i in &items {
                let sk = req_s(i, keys::SK)?;
                if found.len() <= limit && before.as_deref() != Some(sk) {
                    found.push((sk.to_string(), from_json(req_s(i, "body")?)?));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            let (sk, _) = found.last().expect("a full page");
            let (at, id) = sk
                .strip_prefix(DECISION_PREFIX)
                .and_then(|k| k.split_once('#'))
                .ok_or_else(|| unexpected(format!("decision key `{sk}`")))?;
            Some(encode_cursor(&[at, id]))
        } else {
            None
        };
        Ok(Page {
            items: found.into_iter().map(|(_, d)| d).collect(),
            next_cursor,
        })
    }

    async fn stored_score(&self, user: &UserId) -> Result<Option<ScoreBreakdown>, StoreError> {
        self.get(&self.ledger, score_key(user), "score")
            .await?
            .and_then(|i| opt_s(&i, "body").map(str::to_string))
            .map(|b| from_json(&b))
            .transpose()
    }

    async fn sent_message(&self, _id: &EmailId) -> Result<Option<Vec<u8>>, StoreError> {
        Err(StoreError::Unsupported(
            "the message as sent is not kept on the AWS backend: SES keeps no copy".into(),
        ))
    }

    async fn email_activity(&self, _since: DateTime<Utc>) -> Result<EmailActivity, StoreError> {
        Err(StoreError::Unsupported(
            "email counts by day are not available on the DynamoDB backend: the emails \
             table has no index that counts them without reading every email of the period"
                .into(),
        ))
    }
}

fn key_schema(hash: &str, range: &str) -> Result<Vec<KeySchemaElement>, StoreError> {
    Ok(vec![
        KeySchemaElement::builder()
            .attribute_name(hash)
            .key_type(KeyType::Hash)
            .build()
            .map_err(build_error)?,
        KeySchemaElement::builder()
            .attribute_name(range)
            .key_type(KeyType::Range)
            .build()
            .map_err(build_error)?,
    ])
}

/// A global secondary index; `include` lists the projected attributes besides the
/// keys (`None`: all of them).
fn index(
    name: &str,
    hash: &str,
    range: &str,
    include: Option<&[&str]>,
) -> Result<GlobalSecondaryIndex, StoreError> {
    let projection = match include {
        None => Projection::builder()
            .projection_type(ProjectionType::All)
            .build(),
        Some([]) => Projection::builder()
            .projection_type(ProjectionType::KeysOnly)
            .build(),
        Some(attributes) => Projection::builder()
            .projection_type(ProjectionType::Include)
            .set_non_key_attributes(Some(attributes.iter().map(|a| a.to_string()).collect()))
            .build(),
    };
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .set_key_schema(Some(key_schema(hash, range)?))
        .projection(projection)
        .build()
        .map_err(build_error)
}

/// Creates the Emails and Ledger tables with their indexes (on demand) unless they
/// exist, and waits until both and their indexes are active. A table that exists
/// without one of the indexes is an error (the adapters need every one).
pub async fn create_ledger_tables(client: &Client, resources: &Resources) -> anyhow::Result<()> {
    let emails = [
        index(
            keys::BY_USER,
            "user_id",
            "created_key",
            Some(&["campaign", "status"]),
        )?,
        index(keys::BY_STATUS, "status", "due_at", Some(&[]))?,
        index(
            keys::BY_STATUS_CREATED,
            "status",
            "created_key",
            Some(&["campaign"]),
        )?,
        index(
            keys::BY_CREATED,
            "email_shard",
            "created_key",
            Some(&["campaign"]),
        )?,
    ];
    let ledger = [
        index(
            keys::BY_RESCORE,
            "rescore_shard",
            "next_rescore_at",
            Some(&[]),
        )?,
        index(keys::BY_SUPPRESSION, "list_shard", keys::PK, None)?,
    ];
    let tables = [
        (
            &resources.emails_table,
            &[
                keys::PK,
                keys::SK,
                "user_id",
                "created_key",
                "status",
                "due_at",
                "email_shard",
            ][..],
            &emails[..],
        ),
        (
            &resources.ledger_table,
            &[
                keys::PK,
                keys::SK,
                "rescore_shard",
                "next_rescore_at",
                "list_shard",
            ][..],
            &ledger[..],
        ),
    ];
    for (table, attributes, indexes) in tables {
        let definitions = attributes
            .iter()
            .map(|a| {
                AttributeDefinition::builder()
                    .attribute_name(*a)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()?;
        let created = client
            .create_table()
            .table_name(table.as_str())
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(definitions))
            .set_key_schema(Some(key_schema(keys::PK, keys::SK)?))
            .set_global_secondary_indexes(Some(indexes.to_vec()))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(SdkError::ServiceError(e)) if e.err().is_resource_in_use_exception() => {}
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "creating table {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                ));
            }
        }
        wait_until_active(client, table, indexes).await?;
    }
    Ok(())
}

/// Polls `DescribeTable` until the table and its indexes are `ACTIVE` (5 minutes at most).
async fn wait_until_active(
    client: &Client,
    table: &str,
    indexes: &[GlobalSecondaryIndex],
) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(300);
    loop {
        let described = client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "describing table {table}: {}",
                    aws_sdk_dynamodb::error::DisplayErrorContext(&e)
                )
            })?;
        let t = described
            .table
            .ok_or_else(|| anyhow::anyhow!("table {table}: no description"))?;
        let present = t.global_secondary_indexes();
        let missing: Vec<&str> = indexes
            .iter()
            .map(GlobalSecondaryIndex::index_name)
            .filter(|name| !present.iter().any(|p| p.index_name() == Some(*name)))
            .collect();
        if !missing.is_empty() {
            anyhow::bail!(
                "table {table} exists without the index(es) {}: it was created by another version of engage",
                missing.join(", ")
            );
        }
        let active = t.table_status() == Some(&TableStatus::Active)
            && present
                .iter()
                .all(|p| p.index_status().is_none_or(|s| *s == IndexStatus::Active));
        if active {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("table {table} is not active after 5 minutes");
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}
