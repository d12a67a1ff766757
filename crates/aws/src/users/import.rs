//! [`ClientImport`] over the Users table: clients by address, and batches of
//! writes run side by side where they cannot interfere.

use super::DynamoClients;
use super::items::{client_of, guard_key, guard_key_of, user_key};
use crate::ddb::{Item, batch_get, opt_s as get_s};
use crate::tables::keys;
use async_trait::async_trait;
use engage_core::StoreError;
use engage_core::client::{Client, EmailAddress};
use engage_core::ports::{ClientImport, ClientStore, ClientWrite};
use futures_util::future::try_join_all;
use std::collections::{HashMap, HashSet};

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
        let wanted = emails
            .iter()
            .map(guard_key)
            .collect::<HashSet<_>>()
            .iter()
            .map(|g| user_key(g))
            .collect();
        let owner_of: HashMap<String, String> =
            batch_get(&self.client, &self.users_table, wanted, None)
                .await?
                .iter()
                .filter_map(|i| {
                    Some((
                        get_s(i, keys::PK)?.to_string(),
                        get_s(i, "user_id")?.to_string(),
                    ))
                })
                .collect();
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
                        Err(e @ (StoreError::Unexpected(_) | StoreError::Transient(_))) => {
                            return Err(e);
                        }
                        r => results.push((i, r)),
                    }
                }
            }
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }
}
