//! A decision's commit: one `TransactWriteItems` of the claim, the decision, the
//! email and the client's score item (see the module's documentation in
//! [`super`]), and how a cancelled one is answered.

use super::items::{
    DECISION_PREFIX, RESCORE_SHARD, claim_key, email_item, ledger_state, recent_emails, score_key,
};
use super::{DynamoLedger, build_error};
use crate::ddb::{Item, item, n, retry_policy, s, sdk_error, ts, unexpected};
use crate::tables::keys;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem, Update};
use backon::Retryable;
use chrono::Duration;
use engage_core::StoreError;
use engage_core::ports::{CommitResult, DecisionCommit};
use engage_core::records::{encode_decision, encode_score};
use std::collections::HashMap;

/// How long a score item remembers an email's id (past the window, for clocks that
/// disagree a little).
const RECENT_KEEP_DAYS: i64 = engage_core::policy::RECENT_EMAILS_DAYS + 10;
/// Tries after the first of a decision commit cancelled by a conflicting transaction
/// or throttling.
const COMMIT_RETRIES: usize = 4;

/// A commit's try that failed: `transient` when DynamoDB cancelled it for a
/// conflicting transaction or throttling, which another try may get past.
struct Failed {
    error: StoreError,
    transient: bool,
}

impl From<StoreError> for Failed {
    fn from(error: StoreError) -> Self {
        Self {
            error,
            transient: false,
        }
    }
}

impl DynamoLedger {
    /// Writes one decision's claim, decision, email and score in one transaction,
    /// unless the event is already claimed or the client's ledger moved on; a
    /// transaction cancelled by a conflicting one or by throttling is tried again
    /// ([`retry_policy`]), from the read of the ledger state.
    pub(super) async fn commit_one(
        &self,
        commit: DecisionCommit,
    ) -> Result<CommitResult, StoreError> {
        let decision_body = commit.decision.as_ref().map(encode_decision).transpose()?;
        let email = commit.email.as_ref().map(email_item).transpose()?;
        let score_body = commit.score.as_ref().map(encode_score).transpose()?;
        let attempt = || {
            self.try_commit(
                &commit,
                decision_body.as_deref(),
                email.as_ref(),
                score_body.as_deref(),
            )
        };
        attempt
            .retry(retry_policy(COMMIT_RETRIES))
            .when(|f| f.transient)
            .await
            .map_err(|f| f.error)
    }

    /// One try of [`Self::commit_one`], with the decision, email and score as stored.
    async fn try_commit(
        &self,
        commit: &DecisionCommit,
        decision_body: Option<&str>,
        email: Option<&Item>,
        score_body: Option<&str>,
    ) -> Result<CommitResult, Failed> {
        let stored = self
            .get(&self.ledger, score_key(&commit.user_id), "ledger state")
            .await?;
        let (stored_version, stored_seq) = ledger_state(stored.as_ref())?;
        if stored_seq != commit.expected_ledger_seq {
            return Ok(CommitResult::refused(self.claim(&commit.event_id).await?));
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
        if let (Some(d), Some(body)) = (&commit.decision, decision_body) {
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
        let email_at = email.map(|_| items.len());
        if let Some(e) = email {
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
        items.push(self.score_write(commit, score_body, stored.as_ref(), stored_version)?);

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
                _ => return Err(sdk_error("TransactWriteItems (decision commit)", error).into()),
            },
            _ => return Err(sdk_error("TransactWriteItems (decision commit)", error).into()),
        };
        let failed = |i: usize| {
            reasons
                .get(i)
                .is_some_and(|c| c == "ConditionalCheckFailed")
        };
        if failed(0) {
            return match self.claim(&commit.event_id).await? {
                Some(claim) => Ok(CommitResult::refused(Some(claim))),
                None => Err(unexpected(format!(
                    "the claim of event {} failed its condition but is not there",
                    commit.event_id
                ))
                .into()),
            };
        }
        if failed(score_at) {
            // The claim's condition held: the event was not claimed.
            return Ok(CommitResult::refused(None));
        }
        if email_at.is_some_and(failed) {
            return Err(unexpected(format!(
                "decision commit for event {}: its email is already recorded, without a claim",
                commit.event_id
            ))
            .into());
        }
        let transient = reasons.iter().any(|c| {
            matches!(
                c.as_str(),
                "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
            )
        });
        Err(Failed {
            error: sdk_error("TransactWriteItems (decision commit)", error),
            transient,
        })
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
}
