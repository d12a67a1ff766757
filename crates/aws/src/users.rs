//! `ClientStore` (and `ClientImport`) over the DynamoDB Users table, with the key
//! design of [`crate::tables`]: one user item per client and one `email#<address>`
//! guard item per address, always written together in one `TransactWriteItems`, so
//! two clients can never share an address. The table's stream is the change stream
//! (see [`crate::stream`]); nothing here writes change records of its own.
//!
//! The answers are the port's (`engage_core::testing::contract` runs them here): a
//! taken address (or id) is `Duplicate`, a stale `expected_version` is
//! `VersionConflict { current }`, a missing client `NotFound`; a refused write
//! leaves nothing written. Every read is strongly consistent, so a
//! read-modify-write never trips on its own previous write.

use crate::tables::{Resources, keys};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Delete, KeysAndAttributes, Put,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::SecondsFormat;
use engage_core::StoreError;
use engage_core::change::ClientChange;
use engage_core::client::{Client, EmailAddress};
use engage_core::ids::UserId;
use engage_core::ports::{
    ClientImport, ClientQuery, ClientSort, ClientStats, ClientStore, ClientWithScore, ClientWrite,
    Page,
};
use engage_core::score::Tier;
use futures_util::future::try_join_all;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// The `kind` of a user item and of an address guard item.
pub const KIND_USER: &str = "user";
pub const KIND_EMAIL: &str = "email";

/// How many times a transaction cancelled only by a concurrent transaction on the
/// same items (`TransactionConflict`) is tried again before the write fails.
const CONFLICT_RETRIES: u32 = 6;

pub(crate) fn unexpected(what: &str, e: impl std::error::Error) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("{what}: {}", DisplayErrorContext(e)))
}

fn broken(what: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("{what}"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// The text the search compares with: trimmed and lower-cased.
fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The guard item's key for an address.
pub fn guard_key(address: &EmailAddress) -> String {
    guard_key_of(&address.normalized())
}

/// The guard item's key for a normalized address (a user item's `email`).
fn guard_key_of(normalized: &str) -> String {
    format!("email#{normalized}")
}

/// The Ledger table's key of a client's score item.
fn score_key(id: &UserId) -> Item {
    HashMap::from([
        (keys::PK.to_string(), s(format!("user#{id}"))),
        (keys::SK.to_string(), s("score")),
    ])
}

fn user_key(id: &str) -> Item {
    HashMap::from([(keys::PK.to_string(), s(id))])
}

/// A user item: the client as JSON in `body`, and beside it what conditions and
/// searches read.
fn user_item(client: &Client) -> Result<Item, StoreError> {
    let body =
        serde_json::to_string(client).map_err(|e| broken(format!("encoding a client: {e}")))?;
    let mut item = HashMap::from([
        (keys::PK.to_string(), s(client.id.as_str())),
        ("kind".to_string(), s(KIND_USER)),
        ("version".to_string(), n(client.version)),
        ("email".to_string(), s(client.email.normalized())),
        ("first_norm".to_string(), s(norm(&client.first_name))),
        (
            "updated_at".to_string(),
            s(client
                .updated_at
                .to_rfc3339_opts(SecondsFormat::Micros, true)),
        ),
        ("body".to_string(), s(body)),
    ]);
    if let Some(last) = &client.last_name {
        item.insert("last_norm".to_string(), s(norm(last)));
    }
    Ok(item)
}

fn guard_item(client: &Client) -> Item {
    HashMap::from([
        (keys::PK.to_string(), s(guard_key(&client.email))),
        ("kind".to_string(), s(KIND_EMAIL)),
        ("user_id".to_string(), s(client.id.as_str())),
    ])
}

/// The client in a user item's `body`.
pub(crate) fn client_of(item: &Item) -> Result<Client, StoreError> {
    let body = get_s(item, "body").ok_or_else(|| broken("a user item without its `body`"))?;
    serde_json::from_str(body).map_err(|e| broken(format!("decoding a stored client: {e}")))
}

fn build<T>(r: Result<T, aws_sdk_dynamodb::error::BuildError>) -> Result<T, StoreError> {
    r.map_err(|e| unexpected("building a request", e))
}

fn put_if_absent(table: &str, item: Item) -> Result<TransactWriteItem, StoreError> {
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

fn put_at_version(table: &str, item: Item, version: u64) -> Result<TransactWriteItem, StoreError> {
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

fn delete_user_at_version(
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
fn delete_guard(
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

fn condition_failed(reasons: &[CancellationReason], index: usize) -> bool {
    reasons
        .get(index)
        .and_then(CancellationReason::code)
        .is_some_and(|c| c == "ConditionalCheckFailed")
}

/// The DynamoDB client store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DynamoClients {
    client: aws_sdk_dynamodb::Client,
    users_table: String,
    ledger_table: String,
}

impl DynamoClients {
    /// A store over `users_table`; `ledger_table` holds the clients' score items,
    /// which `get_with_score` and `list` read and `delete` removes.
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        users_table: impl Into<String>,
        ledger_table: impl Into<String>,
    ) -> Self {
        Self {
            client,
            users_table: users_table.into(),
            ledger_table: ledger_table.into(),
        }
    }

    /// A store over the Users and Ledger tables named in `resources`.
    pub fn for_resources(client: aws_sdk_dynamodb::Client, resources: &Resources) -> Self {
        Self::new(
            client,
            resources.users_table.clone(),
            resources.ledger_table.clone(),
        )
    }

    /// The user item with this id, read strongly consistent.
    async fn user_item(&self, id: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.users_table)
            .set_key(Some(user_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unexpected("reading a client", e))?;
        Ok(out.item.filter(|i| get_s(i, "kind") == Some(KIND_USER)))
    }

    /// Which of these normalized addresses (distinct, at most 100) are on the
    /// suppression list: one `BatchGetItem` of their suppression items.
    async fn suppressed_among(&self, addresses: &[String]) -> Result<HashSet<String>, StoreError> {
        if addresses.is_empty() {
            return Ok(HashSet::new());
        }
        let keys = build(
            KeysAndAttributes::builder()
                .set_keys(Some(
                    addresses
                        .iter()
                        .collect::<HashSet<_>>()
                        .into_iter()
                        .map(|a| crate::suppressions::suppression_key(a))
                        .collect(),
                ))
                .projection_expression("#email")
                .expression_attribute_names("#email", "email")
                .consistent_read(true)
                .build(),
        )?;
        Ok(self
            .batch_get_from(&self.ledger_table, keys)
            .await?
            .iter()
            .filter_map(|i| get_s(i, "email").map(str::to_string))
            .collect())
    }

    async fn score_item(&self, id: &UserId) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.ledger_table)
            .set_key(Some(score_key(id)))
            .projection_expression("#score, #tier")
            .expression_attribute_names("#score", "score")
            .expression_attribute_names("#tier", "tier")
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unexpected("reading a client's score", e))?;
        Ok(out.item)
    }

    /// Runs a transaction; `Err(reasons)` when DynamoDB cancelled it for a failed
    /// condition. Cancellations caused only by a concurrent transaction on the same
    /// items (or by throttling) are retried, a few times, with a short backoff.
    async fn transact(
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

    /// Items of `table` by key, in any order; `BatchGetItem`'s unprocessed keys are
    /// asked for again. Keys must be distinct and at most 100.
    /// [`Self::batch_get`] of one table: its items.
    async fn batch_get_from(
        &self,
        table: &str,
        keys: KeysAndAttributes,
    ) -> Result<Vec<Item>, StoreError> {
        let mut got = self
            .batch_get(HashMap::from([(table.to_string(), keys)]))
            .await?;
        Ok(got.remove(table).unwrap_or_default())
    }

    async fn batch_get(
        &self,
        requests: HashMap<String, KeysAndAttributes>,
    ) -> Result<HashMap<String, Vec<Item>>, StoreError> {
        let mut out: HashMap<String, Vec<Item>> = HashMap::new();
        let mut pending = requests;
        let mut attempt = 0;
        while !pending.is_empty() {
            let r = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| unexpected("reading clients", e))?;
            for (table, items) in r.responses.unwrap_or_default() {
                out.entry(table).or_default().extend(items);
            }
            pending = r.unprocessed_keys.unwrap_or_default();
            pending.retain(|_, k| !k.keys().is_empty());
            if !pending.is_empty() {
                attempt += 1;
                tokio::time::sleep(backoff(attempt.min(6))).await;
            }
        }
        Ok(out)
    }

    /// The user items with these ids (distinct, at most 100), by id.
    async fn users_by_id(&self, ids: &[String]) -> Result<HashMap<String, Item>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = build(
            KeysAndAttributes::builder()
                .set_keys(Some(ids.iter().map(|id| user_key(id)).collect()))
                .consistent_read(true)
                .build(),
        )?;
        Ok(self
            .batch_get_from(&self.users_table, keys)
            .await?
            .into_iter()
            .filter(|i| get_s(i, "kind") == Some(KIND_USER))
            .filter_map(|i| Some((get_s(&i, keys::PK)?.to_string(), i)))
            .collect())
    }

    /// The clients with these ids and their stored scores (at most 50 ids, distinct),
    /// read in one `BatchGetItem` over both tables: by id.
    async fn with_scores(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, ClientWithScore>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let users = build(
            KeysAndAttributes::builder()
                .set_keys(Some(ids.iter().map(|id| user_key(id)).collect()))
                .consistent_read(true)
                .build(),
        )?;
        let scores = build(
            KeysAndAttributes::builder()
                .set_keys(Some(
                    ids.iter()
                        .map(|id| score_key(&UserId::from_string(id.as_str())))
                        .collect(),
                ))
                .projection_expression("#pk, #score, #tier")
                .expression_attribute_names("#pk", keys::PK)
                .expression_attribute_names("#score", "score")
                .expression_attribute_names("#tier", "tier")
                .consistent_read(true)
                .build(),
        )?;
        let mut got = self
            .batch_get(HashMap::from([
                (self.users_table.clone(), users),
                (self.ledger_table.clone(), scores),
            ]))
            .await?;
        let scores: HashMap<String, Item> = got
            .remove(&self.ledger_table)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|i| {
                let id = get_s(&i, keys::PK)?.strip_prefix("user#")?.to_string();
                Some((id, i))
            })
            .collect();
        let mut out = HashMap::new();
        for item in got.remove(&self.users_table).unwrap_or_default() {
            if get_s(&item, "kind") != Some(KIND_USER) {
                continue;
            }
            let client = client_of(&item)?;
            let score = scores.get(client.id.as_str());
            out.insert(client.id.as_str().to_string(), with_score(client, score));
        }
        let addresses: Vec<String> = out.values().map(|c| c.client.email.normalized()).collect();
        let suppressed = self.suppressed_among(&addresses).await?;
        for c in out.values_mut() {
            c.suppressed = suppressed.contains(&c.client.email.normalized());
        }
        Ok(out)
    }

    /// The ids of the user items after `after` whose address, first or last name
    /// starts with `search`, sorted: one strongly consistent `Scan` of the whole table.
    async fn scan_ids(
        &self,
        search: Option<&str>,
        after: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        let mut filter = String::from("#kind = :user");
        let mut names = HashMap::from([
            ("#kind".to_string(), "kind".to_string()),
            ("#pk".to_string(), keys::PK.to_string()),
        ]);
        let mut values = HashMap::from([(":user".to_string(), s(KIND_USER))]);
        if let Some(a) = after {
            filter.push_str(" AND #pk > :after");
            values.insert(":after".into(), s(a));
        }
        if let Some(q) = search {
            filter.push_str(
                " AND (begins_with(#email, :q) OR begins_with(#first, :q) OR begins_with(#last, :q))",
            );
            names.insert("#email".into(), "email".into());
            names.insert("#first".into(), "first_norm".into());
            names.insert("#last".into(), "last_norm".into());
            values.insert(":q".into(), s(q));
        }
        let mut ids = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.users_table)
                .filter_expression(&filter)
                .projection_expression("#pk")
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unexpected("listing clients", e))?;
            ids.extend(
                out.items()
                    .iter()
                    .filter_map(|i| get_s(i, keys::PK).map(str::to_string)),
            );
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        ids.sort_unstable();
        Ok(ids)
    }
}

fn with_score(client: Client, score: Option<&Item>) -> ClientWithScore {
    ClientWithScore {
        client,
        score: score
            .and_then(|i| get_n(i, "score"))
            .map(|s| s.min(u8::MAX.into()) as u8),
        tier: score.and_then(|i| get_s(i, "tier")).and_then(Tier::parse),
        // Read apart, by address: see `suppressed_among`.
        suppressed: false,
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(10 * (1 << attempt.min(8)))
}

/// A list's cursor: the last listed id, in the format every store shares
/// ([`engage_core::keys`]).
fn encode_cursor(id: &str) -> String {
    crate::ddb::encode_cursor(&[id])
}

fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    Ok(crate::ddb::decode_cursor(cursor, 1)?.remove(0))
}

/// How many clients one `BatchGetItem` of a list reads (with their score items:
/// twice as many keys, within the call's 100).
const LIST_CHUNK: usize = 50;

#[async_trait]
impl ClientStore for DynamoClients {
    /// Puts the user item and its address guard, both only if absent: a taken address
    /// (or id) is `Duplicate("email")`.
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        let items = vec![
            put_if_absent(&self.users_table, user_item(&client)?)?,
            put_if_absent(&self.users_table, guard_item(&client))?,
        ];
        match self.transact(items).await? {
            Ok(()) => Ok(()),
            Err(_) => Err(StoreError::Duplicate("email".into())),
        }
    }

    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError> {
        self.user_item(id.as_str())
            .await?
            .map(|i| client_of(&i))
            .transpose()
    }

    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<Option<Client>>, StoreError> {
        let distinct: Vec<String> = ids
            .iter()
            .map(|i| i.as_str().to_string())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let found = try_join_all(distinct.chunks(100).map(|c| self.users_by_id(c))).await?;
        let found: HashMap<String, Item> = found.into_iter().flatten().collect();
        ids.iter()
            .map(|id| found.get(id.as_str()).map(client_of).transpose())
            .collect()
    }

    /// The user item and the Ledger table's score item, read side by side.
    async fn get_with_score(&self, id: &UserId) -> Result<Option<ClientWithScore>, StoreError> {
        let (user, score) = tokio::try_join!(self.user_item(id.as_str()), self.score_item(id))?;
        let Some(user) = user else {
            return Ok(None);
        };
        let mut found = with_score(client_of(&user)?, score.as_ref());
        let address = found.client.email.normalized();
        found.suppressed = self
            .suppressed_among(std::slice::from_ref(&address))
            .await?
            .contains(&address);
        Ok(Some(found))
    }

    /// Puts the new user item if the stored one is at `expected_version`; when the
    /// normalized address changes, the old guard is deleted and the new one put (if
    /// absent) in the same transaction. `NotFound`, `VersionConflict { current }` and
    /// `Duplicate("email")` are checked in that order and leave nothing written.
    async fn replace(&self, client: Client, expected_version: u64) -> Result<(), StoreError> {
        let stored = self
            .user_item(client.id.as_str())
            .await?
            .ok_or(StoreError::NotFound)?;
        let current =
            get_n(&stored, "version").ok_or_else(|| broken("a user item without `version`"))?;
        if current != expected_version {
            return Err(StoreError::VersionConflict { current });
        }
        let old = client_of(&stored)?;
        let mut items = vec![put_at_version(
            &self.users_table,
            user_item(&client)?,
            expected_version,
        )?];
        let moved = old.email.normalized() != client.email.normalized();
        if moved {
            items.push(put_if_absent(&self.users_table, guard_item(&client))?);
            items.push(delete_guard(&self.users_table, &old.email, &client.id)?);
        }
        let Err(reasons) = self.transact(items).await? else {
            return Ok(());
        };
        if condition_failed(&reasons, 0) {
            // The client moved on (or went) between the read and the write: what
            // DynamoDB saw when the condition failed says which.
            return match reasons[0].item().and_then(|i| get_n(i, "version")) {
                Some(current) => Err(StoreError::VersionConflict { current }),
                None => Err(StoreError::NotFound),
            };
        }
        if moved && condition_failed(&reasons, 1) {
            return Err(StoreError::Duplicate("email".into()));
        }
        Err(broken(format!(
            "client {}: the old address's guard does not belong to it",
            client.id
        )))
    }

    /// Deletes the user item (conditional on the version read), its address guard
    /// and its score item in the Ledger table, in one transaction. Returns the
    /// client as deleted.
    async fn delete(
        &self,
        id: &UserId,
        expected_version: Option<u64>,
    ) -> Result<Client, StoreError> {
        for attempt in 0.. {
            let stored = self
                .user_item(id.as_str())
                .await?
                .ok_or(StoreError::NotFound)?;
            let current =
                get_n(&stored, "version").ok_or_else(|| broken("a user item without `version`"))?;
            if expected_version.is_some_and(|v| v != current) {
                return Err(StoreError::VersionConflict { current });
            }
            let old = client_of(&stored)?;
            let items = vec![
                delete_user_at_version(&self.users_table, id, current)?,
                delete_guard(&self.users_table, &old.email, id)?,
                TransactWriteItem::builder()
                    .delete(build(
                        Delete::builder()
                            .table_name(&self.ledger_table)
                            .set_key(Some(score_key(id)))
                            .build(),
                    )?)
                    .build(),
            ];
            match self.transact(items).await? {
                Ok(()) => return Ok(old),
                // Written meanwhile: read again, and answer as of then.
                Err(reasons) if condition_failed(&reasons, 0) && attempt < CONFLICT_RETRIES => {
                    continue;
                }
                Err(_) => break,
            }
        }
        Err(broken(format!(
            "client {id}: the delete kept failing its conditions"
        )))
    }

    /// The AWS backend's console list: a strongly consistent `Scan` of the whole
    /// Users table (O(table) reads for every page, whatever the filters), then the
    /// page's clients and score items by key. The order (by id), the filters (a
    /// case-insensitive prefix of the address, first or last name; a tier, which
    /// only clients with a stored score have) and the cursors are the port's.
    async fn list(&self, q: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        if q.sort != ClientSort::Id {
            // The table has no index by score or activity: sorting would read it all.
            return Err(StoreError::Unsupported(format!(
                "sorting clients by `{}` is not available on the DynamoDB backend; \
                 clients are listed in id order",
                q.sort.as_str()
            )));
        }
        let limit = crate::ddb::clamp_limit(q.limit) as usize;
        let after = q.cursor.as_deref().map(decode_cursor).transpose()?;
        let search = q.search.as_deref().map(norm).filter(|s| !s.is_empty());
        let ids = self.scan_ids(search.as_deref(), after.as_deref()).await?;
        let mut items: Vec<ClientWithScore> = Vec::new();
        for chunk in ids.chunks(LIST_CHUNK) {
            let mut found = self.with_scores(chunk).await?;
            for id in chunk {
                // A client deleted since the scan is simply not listed.
                let Some(c) = found.remove(id) else { continue };
                // Filtered as read, like the search: the scan pages through them.
                if !q.admits(&c) {
                    continue;
                }
                if items.len() == limit {
                    let last = items.last().map(|c| c.client.id.as_str().to_string());
                    return Ok(Page {
                        items,
                        next_cursor: last.as_deref().map(encode_cursor),
                    });
                }
                items.push(c);
            }
        }
        Ok(Page {
            items,
            next_cursor: None,
        })
    }

    async fn changes(
        &self,
        _user: &UserId,
        _cursor: Option<String>,
        _limit: u32,
    ) -> Result<Page<ClientChange>, StoreError> {
        Err(StoreError::Unsupported(
            "a client's change log is not available on the DynamoDB backend: the table's \
             stream keeps 24 hours of changes, by shard, with no per-client log"
                .into(),
        ))
    }

    async fn stats(&self) -> Result<ClientStats, StoreError> {
        Err(StoreError::Unsupported(
            "client counts are not available on the DynamoDB backend: they would take a \
             scan of the whole users table"
                .into(),
        ))
    }
}

/// Keys a write claims within a batch: its id, its (new) address and, for a replace,
/// the address its client had before the batch (`stored`: normalized, by id), which a
/// move frees for a later write. Writes sharing one must not run side by side, or
/// which of them wins would be left to chance.
fn claims(w: &ClientWrite, stored: &HashMap<String, String>) -> Vec<String> {
    let (c, replace) = match w {
        ClientWrite::Insert(c) => (c, false),
        ClientWrite::Replace { client: c, .. } => (c, true),
    };
    let mut keys = vec![c.id.as_str().to_string(), guard_key(&c.email)];
    if let Some(old) = stored.get(c.id.as_str()).filter(|_| replace) {
        keys.push(guard_key_of(old));
    }
    keys
}

/// How many writes of an import batch run side by side.
const IMPORT_CONCURRENCY: usize = 16;

#[async_trait]
impl ClientImport for DynamoClients {
    /// Reads the addresses' guard items, then their clients; a client whose address
    /// changed in between is not found.
    async fn get_by_emails(
        &self,
        emails: &[EmailAddress],
    ) -> Result<Vec<Option<Client>>, StoreError> {
        let guards: Vec<String> = emails
            .iter()
            .map(guard_key)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut owner_of: HashMap<String, String> = HashMap::new();
        for chunk in guards.chunks(100) {
            let keys = build(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.iter().map(|g| user_key(g)).collect()))
                    .consistent_read(true)
                    .build(),
            )?;
            let got = self.batch_get_from(&self.users_table, keys).await?;
            for item in got {
                if let (Some(pk), Some(user)) = (get_s(&item, keys::PK), get_s(&item, "user_id")) {
                    owner_of.insert(pk.to_string(), user.to_string());
                }
            }
        }
        let ids: Vec<String> = owner_of
            .values()
            .cloned()
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let users = try_join_all(ids.chunks(100).map(|c| self.users_by_id(c))).await?;
        let users: HashMap<String, Item> = users.into_iter().flatten().collect();
        emails
            .iter()
            .map(|e| {
                let Some(item) = owner_of.get(&guard_key(e)).and_then(|id| users.get(id)) else {
                    return Ok(None);
                };
                let c = client_of(item)?;
                Ok((c.email.normalized() == e.normalized()).then_some(c))
            })
            .collect()
    }

    /// Runs the writes side by side, a few at a time, except that writes sharing an
    /// id or an address (one a replace frees included) run in batch order, so each
    /// write sees the ones before it. A refused write answers for itself; any other
    /// failure fails the batch (writes already made stay made: each one is atomic on
    /// its own, as the port promises).
    async fn write_batch(
        &self,
        writes: Vec<ClientWrite>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // The stored addresses of the clients replaced: one read per 100 of them.
        let replaced: Vec<String> = writes
            .iter()
            .filter_map(|w| match w {
                ClientWrite::Replace { client, .. } => Some(client.id.as_str().to_string()),
                ClientWrite::Insert(_) => None,
            })
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let stored: HashMap<String, String> =
            try_join_all(replaced.chunks(100).map(|c| self.users_by_id(c)))
                .await?
                .into_iter()
                .flatten()
                .filter_map(|(id, item)| Some((id, get_s(&item, "email")?.to_string())))
                .collect();
        // Waves of writes that claim distinct keys; the waves run one after another.
        let mut waves: Vec<Vec<(usize, ClientWrite)>> = Vec::new();
        let mut claimed: HashSet<String> = HashSet::new();
        for (i, w) in writes.into_iter().enumerate() {
            let keys = claims(&w, &stored);
            if waves.is_empty() || keys.iter().any(|k| claimed.contains(k)) {
                waves.push(Vec::new());
                claimed.clear();
            }
            claimed.extend(keys);
            waves.last_mut().expect("a wave").push((i, w));
        }
        let mut results: Vec<(usize, Result<(), StoreError>)> = Vec::new();
        for wave in waves {
            for group in wave.chunks(IMPORT_CONCURRENCY) {
                let done = futures_util::future::join_all(group.iter().cloned().map(
                    |(i, w)| async move {
                        let r = match w {
                            ClientWrite::Insert(c) => self.insert(c).await,
                            ClientWrite::Replace {
                                client,
                                expected_version,
                            } => self.replace(client, expected_version).await,
                        };
                        (i, r)
                    },
                ))
                .await;
                for (i, r) in done {
                    match r {
                        Err(e @ StoreError::Unexpected(_)) => return Err(e),
                        r => results.push((i, r)),
                    }
                }
            }
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }
}
