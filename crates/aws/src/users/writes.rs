//! The Users table's writes: the conditional puts and deletes a client's writes are
//! made of, and the transaction that runs them together.

use super::items::{guard_key, user_key};
use super::{DynamoClients, unexpected};
use crate::ddb::{Item, n, s};
use crate::tables::keys;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use engage_core::StoreError;
use engage_core::client::EmailAddress;
use engage_core::ids::UserId;
use std::time::Duration;

/// How many times a transaction cancelled only by a concurrent transaction on the
/// same items (`TransactionConflict`) is tried again before the write fails.
pub(super) const CONFLICT_RETRIES: u32 = 6;

pub(super) fn build<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| unexpected("building a request", e))
}

pub(super) fn put_if_absent(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .put(build(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", keys::PK)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?)
        .build())
}

pub(super) fn put_at_version(
    table: &str,
    item: Item,
    version: u64,
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .put(build(
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(version))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?)
        .build())
}

pub(super) fn delete_user_at_version(
    table: &str,
    id: &UserId,
    version: u64,
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .delete(build(
            Delete::builder()
                .table_name(table)
                .set_key(Some(user_key(id.as_str())))
                .condition_expression("#version = :expected")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":expected", n(version))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?)
        .build())
}

/// Deletes `address`'s guard if it still belongs to `id`.
pub(super) fn delete_guard(
    table: &str,
    address: &EmailAddress,
    id: &UserId,
) -> Result<TransactWriteItem, StoreError> {
    Ok(TransactWriteItem::builder()
        .delete(build(
            Delete::builder()
                .table_name(table)
                .set_key(Some(user_key(&guard_key(address))))
                .condition_expression("#user_id = :id")
                .expression_attribute_names("#user_id", "user_id")
                .expression_attribute_values(":id", s(id.as_str()))
                .build(),
        )?)
        .build())
}

pub(super) fn failed(reason: &CancellationReason) -> bool {
    reason.code().is_some_and(|c| c != "None")
}

pub(super) fn condition_failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons
        .get(index)
        .and_then(CancellationReason::code)
        .is_some_and(|c| c == "ConditionalCheckFailed")
}

impl DynamoClients {
    /// Runs a transaction; `Err(reasons)` when DynamoDB cancelled it for a failed
    /// condition. Cancellations caused only by a concurrent transaction on the same
    /// items (or by throttling) are retried, a few times, with a short backoff.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<CancellationReason>>, StoreError> {
        let mut attempt = 0;
        loop {
            let r = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let e = match r {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(c)) =
                e.as_service_error()
            else {
                if e.as_service_error().and_then(|s| s.code()) == Some("TransactionConflict")
                    && attempt < CONFLICT_RETRIES
                {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
                return Err(unexpected("writing a client", e));
            };
            let reasons = c.cancellation_reasons().to_vec();
            let only_contention = reasons.iter().filter(|r| failed(r)).all(|r| {
                matches!(
                    r.code(),
                    Some(
                        "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                    )
                )
            });
            if only_contention && attempt < CONFLICT_RETRIES {
                attempt += 1;
                tokio::time::sleep(backoff(attempt)).await;
                continue;
            }
            if reasons
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Ok(Err(reasons));
            }
            return Err(unexpected("writing a client", e));
        }
    }
}

pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(10 * (1 << attempt.min(8)))
}
