//! Due rescores ([`Ledger::take_due_rescores`]): found through `byRescore`, leased
//! by moving `next_rescore_at` forward conditionally, with the clients' current
//! versions from the Users table.
//!
//! [`Ledger::take_due_rescores`]: engage_core::ports::Ledger::take_due_rescores

use super::items::{RESCORE_SHARD, SCORE_SK};
use super::{CONCURRENCY, DynamoLedger};
use crate::ddb::{
    batch_get, clamp_limit, condition_failed, item, names, opt_n, req_s, s, sdk_error, ts,
    unexpected, values,
};
use crate::tables::keys;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::ids::UserId;
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};

impl DynamoLedger {
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

    /// Leases up to `limit` clients' rescores due at `now` (until `lease_until`),
    /// earliest first, each with the client's current version.
    pub(super) async fn lease_due_rescores(
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
}
