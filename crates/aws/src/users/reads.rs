//! The Users table's reads, all strongly consistent: a user item, the items of
//! many clients with their score items and suppressions, and the list's scan.

use super::items::{client_of, score_key, user_key, with_score};
use super::{DynamoClients, KIND_USER};
use crate::ddb::{Item, batch_get, names, opt_s as get_s, s};
use crate::errors::aws_error;
use crate::suppressions::suppression_key;
use crate::tables::keys;
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
            .map_err(|e| aws_error("reading a client", e))?;
        Ok(out.item.filter(|i| get_s(i, "kind") == Some(KIND_USER)))
    }

    /// Which of these normalized addresses are on the suppression list: their
    /// suppression items, in batches.
    pub(super) async fn suppressed_among(
        &self,
        addresses: &[String],
    ) -> Result<HashSet<String>, StoreError> {
        let wanted = addresses
            .iter()
            .collect::<HashSet<_>>()
            .into_iter()
            .map(|a| suppression_key(a))
            .collect();
        let projection = ("#email", names([("#email", "email")]).unwrap_or_default());
        Ok(
            batch_get(&self.client, &self.ledger_table, wanted, Some(projection))
                .await?
                .iter()
                .filter_map(|i| get_s(i, "email").map(str::to_string))
                .collect(),
        )
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
            .map_err(|e| aws_error("reading a client's score", e))?;
        Ok(out.item)
    }

    /// The user items with these ids (distinct), by id.
    pub(super) async fn users_by_id(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, Item>, StoreError> {
        let wanted = ids.iter().map(|id| user_key(id)).collect();
        Ok(batch_get(&self.client, &self.users_table, wanted, None)
            .await?
            .into_iter()
            .filter(|i| get_s(i, "kind") == Some(KIND_USER))
            .filter_map(|i| Some((get_s(&i, keys::PK)?.to_string(), i)))
            .collect())
    }

    /// The clients with these ids (distinct) and their stored scores and
    /// suppressions, by id; the two tables are read side by side.
    pub(super) async fn with_scores(
        &self,
        ids: &[String],
    ) -> Result<HashMap<String, ClientWithScore>, StoreError> {
        let users = ids.iter().map(|id| user_key(id)).collect();
        let scores = ids
            .iter()
            .map(|id| score_key(&UserId::from_string(id.as_str())))
            .collect();
        let projection = (
            "#pk, #score, #tier",
            names([("#pk", keys::PK), ("#score", "score"), ("#tier", "tier")]).unwrap_or_default(),
        );
        let (users, scores) = tokio::try_join!(
            batch_get(&self.client, &self.users_table, users, None),
            batch_get(&self.client, &self.ledger_table, scores, Some(projection)),
        )?;
        let scores: HashMap<String, Item> = scores
            .into_iter()
            .filter_map(|i| {
                let id = get_s(&i, keys::PK)?.strip_prefix("user#")?.to_string();
                Some((id, i))
            })
            .collect();
        let mut out = HashMap::new();
        for item in users {
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
                .map_err(|e| aws_error("listing clients", e))?;
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
