//! The suppression list on DynamoDB: one Ledger-table item per lower-cased address,
//! `pk = "suppression#<address>"`, listed in address order through the sparse
//! `bySuppression` index (see [`crate::tables`]).

use crate::ddb::{
    Item, clamp_limit, condition_failed, decode_cursor, encode_cursor, item, names, s, sdk_error,
    ts, unexpected, values,
};
use crate::tables::{Resources, keys};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::client::EmailAddress;
use engage_core::ports::{Page, Suppression, SuppressionStore};

const PREFIX: &str = "suppression#";
const SK: &str = "suppression";
/// The value of `list_shard` on every suppression: the `bySuppression` partition.
pub(crate) const LIST_SHARD: &str = "suppressions";

/// The key of the suppression item of a normalized (lower-cased) address.
pub(crate) fn suppression_key(normalized: &str) -> Item {
    item([
        (keys::PK, s(format!("{PREFIX}{normalized}"))),
        (keys::SK, s(SK)),
    ])
}

/// [`SuppressionStore`] over the Ledger table.
#[derive(Debug, Clone)]
pub struct DynamoSuppressions {
    client: Client,
    table: String,
}

impl DynamoSuppressions {
    pub fn new(client: Client, resources: &Resources) -> Self {
        Self {
            client,
            table: resources.ledger_table.clone(),
        }
    }
}

/// The suppression in a stored item: its `email`, `reason` and `created_at`, by name.
fn suppression_from(item: &Item) -> Result<Suppression, StoreError> {
    serde_dynamo::from_item(item.clone())
        .map_err(|e| unexpected(format!("decoding a stored suppression: {e}")))
}

#[async_trait]
impl SuppressionStore for DynamoSuppressions {
    /// A second add updates the reason and keeps the first `created_at`.
    async fn add(
        &self,
        address: &EmailAddress,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Suppression, StoreError> {
        let email = address.normalized();
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(suppression_key(&email)))
            .update_expression(
                "SET #email = :email, #reason = :reason, #shard = :shard, \
                 #created = if_not_exists(#created, :now)",
            )
            .set_expression_attribute_names(names([
                ("#email", "email"),
                ("#reason", "reason"),
                ("#shard", "list_shard"),
                ("#created", "created_at"),
            ]))
            .set_expression_attribute_values(values([
                (":email", s(&email)),
                (":reason", s(reason)),
                (":shard", s(LIST_SHARD)),
                (":now", s(ts(now))),
            ]))
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| sdk_error("UpdateItem (add suppression)", e))?;
        suppression_from(out.attributes().unwrap_or(&Item::new()))
    }

    async fn remove(&self, address: &EmailAddress) -> Result<(), StoreError> {
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(suppression_key(&address.normalized())))
            .condition_expression("attribute_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(StoreError::NotFound),
            Err(e) => Err(sdk_error("DeleteItem (remove suppression)", e)),
        }
    }

    async fn get(&self, address: &EmailAddress) -> Result<Option<Suppression>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(suppression_key(&address.normalized())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("GetItem (suppression)", e))?;
        out.item().map(suppression_from).transpose()
    }

    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Suppression>, StoreError> {
        let limit = clamp_limit(limit) as usize;
        let after = cursor
            .as_deref()
            .map(|c| decode_cursor(c, 1))
            .transpose()?
            .map(|mut parts| parts.remove(0));
        let mut items: Vec<Suppression> = Vec::new();
        let mut start: Option<Item> = None;
        // One more than a page, to know whether there is a next one.
        while items.len() <= limit {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(keys::BY_SUPPRESSION)
                .scan_index_forward(true)
                .limit((limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            query = match &after {
                Some(a) => query
                    .key_condition_expression("#shard = :shard AND pk > :after")
                    .set_expression_attribute_values(values([
                        (":shard", s(LIST_SHARD)),
                        (":after", s(format!("{PREFIX}{a}"))),
                    ])),
                None => query
                    .key_condition_expression("#shard = :shard")
                    .set_expression_attribute_values(values([(":shard", s(LIST_SHARD))])),
            };
            let out = query
                .set_expression_attribute_names(names([("#shard", "list_shard")]))
                .send()
                .await
                .map_err(|e| sdk_error("Query (suppressions)", e))?;
            for i in out.items() {
                items.push(suppression_from(i)?);
            }
            match out.last_evaluated_key() {
                Some(k) => start = Some(k.clone()),
                None => break,
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|s| encode_cursor(&[&s.email]))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// An item as `add` stores it (and as earlier versions did) reads back whole.
    #[test]
    fn a_stored_suppression_item_reads_back() {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
        let mut stored = suppression_key("ann@example.com");
        stored.extend(item([
            ("email", s("ann@example.com")),
            ("reason", s("bounce")),
            ("list_shard", s(LIST_SHARD)),
            ("created_at", s(ts(at))),
        ]));
        assert_eq!(
            suppression_from(&stored).unwrap(),
            Suppression {
                email: "ann@example.com".into(),
                reason: "bounce".into(),
                created_at: at,
            }
        );
        stored.remove("reason");
        assert!(suppression_from(&stored).is_err());
    }
}
