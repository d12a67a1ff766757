//! Small DynamoDB helpers the adapters share: attribute values, the sortable time
//! format, JSON bodies, opaque list cursors, batched reads, error mapping and the
//! one retry policy.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Utc};
use engage_core::StoreError;
pub(crate) use engage_core::keys::{
    clamp_limit, decode_cursor, encode_cursor, sortable_time as ts,
};
use std::collections::HashMap;
use std::time::Duration;

/// One DynamoDB item (or key).
pub(crate) type Item = HashMap<String, AttributeValue>;

/// A string attribute value.
pub(crate) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// A number attribute value.
pub(crate) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// An item (or key) from `(name, value)` pairs.
pub(crate) fn item<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Item {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Expression attribute names (`#x` → `x`) for a request builder's `set_…`.
pub(crate) fn names<const N: usize>(pairs: [(&str, &str); N]) -> Option<HashMap<String, String>> {
    Some(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

/// Expression attribute values (`:x` → value) for a request builder's `set_…`.
pub(crate) fn values<const N: usize>(pairs: [(&str, AttributeValue); N]) -> Option<Item> {
    Some(item(pairs))
}

/// A string attribute, if present and a string.
pub(crate) fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// A required string attribute.
pub(crate) fn req_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    opt_s(item, name).ok_or_else(|| unexpected(format!("stored item without `{name}`")))
}

/// A number attribute read as `u64`, if present.
pub(crate) fn opt_n(item: &Item, name: &str) -> Result<Option<u64>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Some)
            .map_err(|_| unexpected(format!("stored `{name}` is not a count: {v}"))),
        Some(_) => Err(unexpected(format!("stored `{name}` is not a number"))),
    }
}

pub(crate) fn parse_ts(v: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.to_utc())
        .map_err(|e| unexpected(format!("stored time `{v}`: {e}")))
}

pub(crate) fn unexpected(message: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("dynamodb: {message}"))
}

/// A failed DynamoDB request, naming the operation ([`crate::errors::aws_error`]).
pub(crate) fn sdk_error<E, R>(operation: &str, e: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    crate::errors::aws_error(&format!("dynamodb: {operation} failed"), e)
}

/// True when a request failed only because its `ConditionExpression` did not hold.
pub(crate) fn condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    matches!(e, SdkError::ServiceError(se) if se.err().code() == Some("ConditionalCheckFailedException"))
}

/// The one retry policy of the DynamoDB adapters, for what DynamoDB says may succeed
/// if tried again (a transaction cancelled by a conflicting one or by throttling,
/// keys a batch read left unprocessed): up to `retries` more tries, the first after
/// 20 ms, each next one after twice as long (a second at most), plus up to as much
/// again at random, so that writers which collided do not collide again in step.
pub(crate) fn retry_policy(retries: usize) -> ExponentialBuilder {
    ExponentialBuilder::new()
        .with_min_delay(Duration::from_millis(20))
        .with_factor(2.0)
        .with_max_delay(Duration::from_secs(1))
        .with_jitter()
        .with_max_times(retries)
}

/// How many times [`batch_get`] asks again for the keys DynamoDB left unprocessed.
const BATCH_RETRIES: usize = 8;

/// Reads the items with these keys from `table` (strongly consistent), in batches of
/// 100, asking again for the keys DynamoDB leaves unprocessed ([`retry_policy`]). The items come in no
/// particular order; a key without an item is left out.
pub(crate) async fn batch_get(
    client: &Client,
    table: &str,
    keys: Vec<Item>,
    projection: Option<(&str, HashMap<String, String>)>,
) -> Result<Vec<Item>, StoreError> {
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(100) {
        let mut pending = chunk.to_vec();
        let mut delays = retry_policy(BATCH_RETRIES).build();
        while !pending.is_empty() {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(std::mem::take(&mut pending)))
                .consistent_read(true);
            if let Some((expression, names)) = &projection {
                request = request
                    .projection_expression(*expression)
                    .set_expression_attribute_names(Some(names.clone()));
            }
            let request = request
                .build()
                .map_err(|e| unexpected(format!("BatchGetItem request: {e}")))?;
            let response = client
                .batch_get_item()
                .request_items(table, request)
                .send()
                .await
                .map_err(|e| sdk_error("BatchGetItem", e))?;
            if let Some(items) = response.responses().and_then(|r| r.get(table)) {
                out.extend(items.iter().cloned());
            }
            if let Some(left) = response
                .unprocessed_keys()
                .and_then(|u| u.get(table))
                .map(|k| k.keys().to_vec())
                .filter(|k| !k.is_empty())
            {
                let Some(delay) = delays.next() else {
                    return Err(StoreError::Transient(format!(
                        "dynamodb: BatchGetItem left keys unprocessed after {BATCH_RETRIES} tries"
                    )));
                };
                tokio::time::sleep(delay).await;
                pending = left;
            }
        }
    }
    Ok(out)
}
