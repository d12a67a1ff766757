//! [`ClientStore`] over the Users table: a client's insert, reads, replace, delete
//! and the console's list.

use super::items::{
    client_of, decode_cursor, encode_cursor, get_n, guard_item, norm, score_key, user_item,
    with_score,
};
use super::writes::{
    CONFLICT_RETRIES, build, condition_failed, delete_guard, delete_user_at_version,
    put_at_version, put_if_absent,
};
use super::{DynamoClients, broken};
use crate::ddb::Item;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};
use engage_core::StoreError;
use engage_core::change::ClientChange;
use engage_core::client::Client;
use engage_core::ids::UserId;
use engage_core::ports::{
    ClientQuery, ClientSort, ClientStats, ClientStore, ClientWithScore, Page,
};
use futures_util::future::try_join_all;
use std::collections::{HashMap, HashSet};

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
