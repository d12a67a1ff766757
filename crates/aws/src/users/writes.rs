//! The Users table's writes: the conditional puts and deletes a client's writes are
//! made of, and the transaction that runs them together.

use super::items::{guard_key, user_key};
use super::{DynamoClients, unexpected};
use crate::ddb::{Item, n, retry_policy, s};
use crate::errors::aws_error;
use crate::tables::keys;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use backon::Retryable;
use engage_core::StoreError;
use engage_core::client::EmailAddress;
use engage_core::ids::UserId;

/// How many times a transaction cancelled only by a concurrent transaction on the
/// same items (`TransactionConflict`) is tried again before the write fails.
pub(super) const CONFLICT_RETRIES: usize = 6;

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

fn failed(reason: &CancellationReason) -> bool {
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
    /// condition. Cancellations caused only by concurrent transactions on the same
    /// items (or by throttling) are tried again, as [`retry_policy`] says.
    pub(super) async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
    ) -> Result<Result<(), Vec<CancellationReason>>, StoreError> {
        let send = || {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
        };
        let Err(e) = send
            .retry(retry_policy(CONFLICT_RETRIES))
            .when(contention)
            .await
        else {
            return Ok(Ok(()));
        };
        if let Some(TransactWriteItemsError::TransactionCanceledException(c)) = e.as_service_error()
        {
            let reasons = c.cancellation_reasons();
            if reasons
                .iter()
                .any(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Ok(Err(reasons.to_vec()));
            }
        }
        Err(aws_error("writing a client", e))
    }
}

/// True when a transaction failed only for concurrent transactions on its items (or
/// for throttling), not for a condition: another try may succeed.
fn contention(e: &SdkError<TransactWriteItemsError>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(c)) => c
            .cancellation_reasons()
            .iter()
            .filter(|r| failed(r))
            .all(|r| {
                matches!(
                    r.code(),
                    Some(
                        "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                    )
                )
            }),
        Some(other) => other.code() == Some("TransactionConflict"),
        None => false,
    }
}
