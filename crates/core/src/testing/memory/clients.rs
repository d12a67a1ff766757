//! `ClientStore` and `ClientImport` in memory: every write appends its change record
//! under the same lock, so the change log never misses a write nor shows a refused one.

use super::{ChangeRow, MemoryStore, State};
use crate::StoreError;
use crate::change::ClientChange;
use crate::client::{Client, EmailAddress};
use crate::ids::UserId;
use crate::keys::{clamp_limit, decode_cursor, encode_cursor, sortable_time};
use crate::ports::{
    ClientImport, ClientQuery, ClientSort, ClientStats, ClientStore, ClientWithScore, ClientWrite,
    Page,
};
use crate::score::Tier;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::cmp::Ordering;

/// How names and searches are compared: trimmed, lower-cased.
fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

impl State {
    fn append_change(
        &mut self,
        user: &UserId,
        old: Option<Client>,
        new: Option<Client>,
        at: DateTime<Utc>,
    ) {
        let seq = self.changes.last().map_or(1, |c| c.seq + 1);
        self.changes.push(ChangeRow {
            seq,
            user_id: user.clone(),
            old,
            new,
            at,
        });
    }

    /// Whether another client than `except` has this address (compared without case).
    fn address_taken(&self, address: &EmailAddress, except: Option<&UserId>) -> bool {
        let wanted = address.normalized();
        self.clients
            .values()
            .any(|c| Some(&c.id) != except && c.email.normalized() == wanted)
    }

    fn insert_client(&mut self, client: Client) -> Result<(), StoreError> {
        if self.clients.contains_key(&client.id) || self.address_taken(&client.email, None) {
            return Err(StoreError::Duplicate("email".into()));
        }
        let (id, at) = (client.id.clone(), client.updated_at);
        self.append_change(&id, None, Some(client.clone()), at);
        self.clients.insert(client.id.clone(), client);
        Ok(())
    }

    fn replace_client(&mut self, client: Client, expected_version: u64) -> Result<(), StoreError> {
        let stored = self.clients.get(&client.id).ok_or(StoreError::NotFound)?;
        if stored.version != expected_version {
            return Err(StoreError::VersionConflict {
                current: stored.version,
            });
        }
        if self.address_taken(&client.email, Some(&client.id)) {
            return Err(StoreError::Duplicate("email".into()));
        }
        let (id, at) = (client.id.clone(), client.updated_at);
        let old = self.clients.insert(id.clone(), client.clone());
        self.append_change(&id, old, Some(client), at);
        Ok(())
    }

    fn with_score(&self, c: &Client) -> ClientWithScore {
        let row = self.scores.get(&c.id).and_then(|r| r.breakdown.as_ref());
        ClientWithScore {
            client: c.clone(),
            score: row.map(|b| b.score),
            tier: row.map(|b| b.tier),
            suppressed: self.suppressions.contains_key(&c.email.normalized()),
        }
    }
}

/// A listed client's sort key, as the cursor carries it: the score (`-1` before the
/// first), or the last activity as sortable text (`""` before the first).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    Id,
    Score(i64),
    Activity(String),
}

impl Key {
    fn of(sort: ClientSort, c: &ClientWithScore) -> Key {
        match sort {
            ClientSort::Id => Key::Id,
            ClientSort::Score | ClientSort::ScoreDesc => Key::Score(c.score.map_or(-1, i64::from)),
            ClientSort::LastActivity | ClientSort::LastActivityDesc => Key::Activity(
                c.client
                    .activity
                    .last_activity_at()
                    .map(sortable_time)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The key as a cursor part (an empty part cannot travel: `-` stands for it).
    fn part(&self) -> String {
        match self {
            Key::Id => String::new(),
            Key::Score(n) => n.to_string(),
            Key::Activity(t) if t.is_empty() => "-".into(),
            Key::Activity(t) => t.clone(),
        }
    }

    fn parse(sort: ClientSort, part: String) -> Result<Key, StoreError> {
        match sort {
            ClientSort::Id => Ok(Key::Id),
            ClientSort::Score | ClientSort::ScoreDesc => part
                .parse()
                .map(Key::Score)
                .map_err(|_| StoreError::InvalidCursor),
            _ => Ok(Key::Activity(if part == "-" {
                String::new()
            } else {
                part
            })),
        }
    }
}

/// Where a list resumes: after the client with this key and id.
fn parse_cursor(sort: ClientSort, cursor: &str) -> Result<(Key, String), StoreError> {
    if sort == ClientSort::Id {
        return Ok((Key::Id, decode_cursor(cursor, 1)?.remove(0)));
    }
    let mut parts = decode_cursor(cursor, 3)?;
    let id = parts.pop().expect("three parts");
    let key = parts.pop().expect("three parts");
    if parts[0] != sort.as_str() {
        return Err(StoreError::InvalidCursor);
    }
    Ok((Key::parse(sort, key)?, id))
}

fn matches_search(c: &Client, search: &str) -> bool {
    c.email.normalized().starts_with(search)
        || norm(&c.first_name).starts_with(search)
        || c.last_name
            .as_deref()
            .is_some_and(|l| norm(l).starts_with(search))
}

#[async_trait]
impl ClientStore for MemoryStore {
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        self.state().insert_client(client)
    }

    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError> {
        Ok(self.state().clients.get(id).cloned())
    }

    async fn get_with_score(&self, id: &UserId) -> Result<Option<ClientWithScore>, StoreError> {
        let state = self.state();
        Ok(state.clients.get(id).map(|c| state.with_score(c)))
    }

    async fn replace(&self, client: Client, expected_version: u64) -> Result<(), StoreError> {
        self.state().replace_client(client, expected_version)
    }

    async fn delete(
        &self,
        id: &UserId,
        expected_version: Option<u64>,
    ) -> Result<Client, StoreError> {
        let now = self.clock.now();
        let mut state = self.state();
        let stored = state.clients.get(id).ok_or(StoreError::NotFound)?;
        if expected_version.is_some_and(|v| v != stored.version) {
            return Err(StoreError::VersionConflict {
                current: stored.version,
            });
        }
        let old = state.clients.remove(id).expect("just read");
        // The client's ledger state goes with it; its decisions and emails stay.
        state.scores.remove(id);
        state.append_change(id, Some(old.clone()), None, now);
        Ok(old)
    }

    async fn list(&self, q: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        let limit = clamp_limit(q.limit) as usize;
        let sort = q.sort;
        let after = q
            .cursor
            .as_deref()
            .map(|c| parse_cursor(sort, c))
            .transpose()?;
        let search = q.search.as_deref().map(norm).filter(|s| !s.is_empty());
        let state = self.state();
        let mut rows: Vec<(Key, ClientWithScore)> = state
            .clients
            .values()
            .filter(|c| search.as_deref().is_none_or(|s| matches_search(c, s)))
            .map(|c| state.with_score(c))
            .filter(|c| q.admits(c))
            .map(|c| (Key::of(sort, &c), c))
            .collect();
        drop(state);
        let order = |a: &(Key, ClientWithScore), b: &(Key, ClientWithScore)| {
            let o =
                a.0.cmp(&b.0)
                    .then_with(|| a.1.client.id.cmp(&b.1.client.id));
            if sort.descending() { o.reverse() } else { o }
        };
        rows.sort_by(order);
        if let Some((key, id)) = &after {
            let id = UserId::from_string(id.clone());
            rows.retain(|(k, c)| {
                let o = k.cmp(key).then_with(|| c.client.id.cmp(&id));
                let o = if sort.descending() { o.reverse() } else { o };
                o == Ordering::Greater
            });
        }
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some((key, c)) if more => Some(match sort {
                ClientSort::Id => encode_cursor(&[c.client.id.as_str()]),
                _ => encode_cursor(&[sort.as_str(), &key.part(), c.client.id.as_str()]),
            }),
            _ => None,
        };
        Ok(Page {
            items: rows.into_iter().map(|(_, c)| c).collect(),
            next_cursor,
        })
    }

    async fn changes(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<ClientChange>, StoreError> {
        let limit = clamp_limit(limit) as usize;
        let before = match cursor {
            None => u64::MAX,
            Some(c) => decode_cursor(&c, 1)?[0]
                .parse::<u64>()
                .map_err(|_| StoreError::InvalidCursor)?,
        };
        let state = self.state();
        let mut items: Vec<ClientChange> = state
            .changes
            .iter()
            .rev()
            .filter(|c| &c.user_id == user && c.seq < before)
            .take(limit + 1)
            .map(|c| ClientChange::of(&c.record(), c.seq))
            .collect();
        let more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = items
            .last()
            .filter(|_| more)
            .map(|c| encode_cursor(&[&c.seq.to_string()]));
        Ok(Page { items, next_cursor })
    }

    async fn stats(&self) -> Result<ClientStats, StoreError> {
        let state = self.state();
        let mut stats = ClientStats::default();
        let mut by_tier = Tier::ALL.map(|t| (t, 0));
        for c in state.clients.values() {
            stats.total += 1;
            match state.scores.get(&c.id).and_then(|r| r.breakdown.as_ref()) {
                None => stats.unscored += 1,
                Some(b) => {
                    stats.score_histogram[ClientStats::bucket(b.score.min(100))] += 1;
                    if let Some(slot) = by_tier.iter_mut().find(|(t, _)| *t == b.tier) {
                        slot.1 += 1;
                    }
                }
            }
        }
        stats.by_tier = by_tier.to_vec();
        Ok(stats)
    }
}

#[async_trait]
impl ClientImport for MemoryStore {
    async fn get_by_emails(
        &self,
        emails: &[EmailAddress],
    ) -> Result<Vec<Option<Client>>, StoreError> {
        let state = self.state();
        Ok(emails
            .iter()
            .map(|e| {
                let wanted = e.normalized();
                state
                    .clients
                    .values()
                    .find(|c| c.email.normalized() == wanted)
                    .cloned()
            })
            .collect())
    }

    async fn write_batch(
        &self,
        writes: Vec<ClientWrite>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let mut state = self.state();
        Ok(writes
            .into_iter()
            .map(|w| match w {
                ClientWrite::Insert(client) => state.insert_client(client),
                ClientWrite::Replace {
                    client,
                    expected_version,
                } => state.replace_client(client, expected_version),
            })
            .collect())
    }
}
