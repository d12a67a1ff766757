//! The Users table's reads, all strongly consistent: a user item, the items of
//! many clients with their score items and suppressions, and the list's scan.

use super::items::{client_of, score_key, user_key, with_score};
use super::writes::{backoff, build};
use super::{DynamoClients, KIND_USER, unexpected};
use crate::ddb::{Item, opt_s as get_s, s};
use crate::tables::keys;
use aws_sdk_dynamodb::types::KeysAndAttributes;
use engage_core::StoreError;
use engage_core::ids::UserId;
use engage_core::ports::ClientWithScore;
use std::collections::{HashMap, HashSet};

impl DynamoClients {
    /// The user item with this id, read strongly consistent.
    pub(super) async fn user_item(&self, id: &str) -> Result<Option<Item>, StoreError> {
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
    pub(super) async fn suppressed_among(
        &self,
        addresses: &[String],
    ) -> Result<HashSet<String>, StoreError> {
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

    pub(super) async fn score_item(&self, id: &UserId) -> Result<Option<Item>, StoreError> {
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

    /// Items of `table` by key, in any order; `BatchGetItem`'s unprocessed keys are
    /// asked for again. Keys must be distinct and at most 100.
    /// [`Self::batch_get`] of one table: its items.
    pub(super) async fn batch_get_from(
        &self,
        table: &str,
        keys: KeysAndAttributes,
    ) -> Result<Vec<Item>, StoreError> {
        let mut got = self
            .batch_get(HashMap::from([(table.to_string(), keys)]))
            .await?;
        Ok(got.remove(table).unwrap_or_default())
    }

    pub(super) async fn batch_get(
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
    pub(super) async fn users_by_id(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Item>, StoreError> {
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
    pub(super) async fn with_scores(
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
    pub(super) async fn scan_ids(
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
