//! Clients: the store behind the API and the stream, and the bulk import.

use super::Page;
use crate::StoreError;
use crate::change::ClientChange;
use crate::client::{Client, EmailAddress};
use crate::ids::UserId;
use crate::score::Tier;
use async_trait::async_trait;

/// The order of a client list. Ties are broken by id in the same direction, so the
/// order is total and a cursor (the sort key and id of a page's last client) resumes
/// exactly where the page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum ClientSort {
    /// By id: creation order (ids are time-ordered).
    #[default]
    Id,
    /// By last stored score, lowest first; clients not scored yet come first.
    Score,
    /// By last stored score, highest first; clients not scored yet come last.
    #[strum(serialize = "-score")]
    ScoreDesc,
    /// By [`crate::client::ActivityFacts::last_activity_at`], oldest first; clients
    /// never active come first.
    LastActivity,
    /// By last activity, newest first; clients never active come last.
    #[strum(serialize = "-last_activity")]
    LastActivityDesc,
}

impl ClientSort {
    /// The values of the API's `sort` parameter (the default order has none).
    pub const NAMED: [ClientSort; 4] = [
        ClientSort::Score,
        ClientSort::ScoreDesc,
        ClientSort::LastActivity,
        ClientSort::LastActivityDesc,
    ];
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<ClientSort> {
        Self::NAMED.into_iter().find(|o| o.as_str() == s)
    }
    pub fn descending(&self) -> bool {
        matches!(self, ClientSort::ScoreDesc | ClientSort::LastActivityDesc)
    }
}

/// What a client list shows: the clients that pass every filter given, in `sort`'s
/// order, a page at a time.
#[derive(Debug, Clone, Default)]
pub struct ClientQuery {
    /// Prefix of the email address, first name or last name, trimmed and compared
    /// without case; blank means no search.
    pub search: Option<String>,
    /// Only clients whose stored tier is this (never one not scored yet).
    pub tier: Option<Tier>,
    /// `Some(true)`: only clients who have not unsubscribed; `Some(false)`: only those
    /// who have.
    pub subscribed: Option<bool>,
    /// Only clients whose `consent.email_opt_in` is this.
    pub email_opt_in: Option<bool>,
    pub sort: ClientSort,
    /// Made by the same store for the same `sort`; another is `InvalidCursor`.
    pub cursor: Option<String>,
    /// The page's size, clamped to 1–1000.
    pub limit: u32,
}

impl ClientQuery {
    /// Whether a client passes the query's filters other than `search` (for stores
    /// that filter what they read).
    pub fn admits(&self, c: &ClientWithScore) -> bool {
        self.tier.is_none_or(|t| c.tier == Some(t))
            && self
                .subscribed
                .is_none_or(|s| s != c.client.consent.unsubscribed)
            && self
                .email_opt_in
                .is_none_or(|o| o == c.client.consent.email_opt_in)
    }
}

/// A client with its last stored score, as lists show it.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientWithScore {
    pub client: Client,
    pub score: Option<u8>,
    pub tier: Option<Tier>,
    /// Whether the client's address is on the suppression list.
    pub suppressed: bool,
}

/// Counts of the client records, for the console's dashboard.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClientStats {
    pub total: u64,
    /// Scored clients per tier, every tier listed (zero when none).
    pub by_tier: Vec<(Tier, u64)>,
    /// Clients not scored yet.
    pub unscored: u64,
    /// Scored clients per score bucket of [`ClientStats::BUCKET_WIDTH`]: 0–9, 10–19, …,
    /// 90–100 (the last bucket takes 100).
    pub score_histogram: [u64; 10],
}

impl ClientStats {
    pub const BUCKET_WIDTH: u8 = 10;

    /// The histogram bucket of a score.
    pub fn bucket(score: u8) -> usize {
        usize::from(score / Self::BUCKET_WIDTH).min(9)
    }
}

/// The client records. Every successful write appends a change record to the
/// change stream in the same transaction (or, on DynamoDB, the table's stream does);
/// a refused write (`Duplicate`, `VersionConflict`, `NotFound`) writes nothing.
/// Addresses are compared without case: no two clients share one. One contract
/// suite proves it on every backend (`engage_core::testing::contract::clients`,
/// feature `testing`).
#[async_trait]
pub trait ClientStore: Send + Sync {
    /// `Duplicate` when the address or the id is taken.
    async fn insert(&self, client: Client) -> Result<(), StoreError>;
    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError>;
    /// The clients with these ids, in order (`None` for one that does not exist). The
    /// batch email processor reads a whole batch's clients this way.
    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<Option<Client>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get(id).await?);
        }
        Ok(out)
    }
    /// The client with the score and tier the ledger last stored (`None` before the
    /// first) and whether its address is suppressed, in one read (the API's `GET`).
    async fn get_with_score(&self, id: &UserId) -> Result<Option<ClientWithScore>, StoreError>;
    /// Replaces the client if its stored version is `expected_version`; `client.version`
    /// must be `expected_version + 1`. `NotFound` when there is no such client,
    /// `VersionConflict` naming the stored version when it is another, `Duplicate`
    /// when the new address is another client's. A new address frees the old one (a
    /// change of case only is no new address); the stored score stays.
    async fn replace(&self, client: Client, expected_version: u64) -> Result<(), StoreError>;
    /// Deletes the client and its stored score, if at `expected_version` when one is
    /// given (`VersionConflict` naming the stored version otherwise); `NotFound` when
    /// there is no such client. Returns the client as deleted; its address is free.
    async fn delete(
        &self,
        id: &UserId,
        expected_version: Option<u64>,
    ) -> Result<Client, StoreError>;
    /// A page of the clients `query` admits, in its order. A page with a next cursor
    /// is full; the last page has none, and a cursor resumes after the client it
    /// ended on, whatever was written since. `Unsupported` for an order of
    /// [`ClientSort::NAMED`] the store keeps no index for.
    async fn list(&self, query: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError>;
    /// The client's change log, newest first (a deleted client's too), `limit`
    /// (1–1000) a page; `InvalidCursor` for a cursor it did not issue. `Unsupported`
    /// where the change stream keeps no per-client log (DynamoDB streams keep 24 hours,
    /// by shard).
    async fn changes(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<ClientChange>, StoreError>;
    /// Counts for the dashboard; `Unsupported` where they would take a full scan.
    async fn stats(&self) -> Result<ClientStats, StoreError>;
}

/// One write of a batch, answered as [`ClientStore::insert`] or
/// [`ClientStore::replace`] would answer it.
#[derive(Debug, Clone)]
pub enum ClientWrite {
    Insert(Client),
    Replace {
        client: Client,
        expected_version: u64,
    },
}

/// Bulk access to the client records, for import. Each write in a batch is atomic on
/// its own and appends its change record like any other write. One contract suite
/// proves it on every backend (`engage_core::testing::contract::import`, feature
/// `testing`).
#[async_trait]
pub trait ClientImport: Send + Sync {
    /// The clients with these addresses (compared case-insensitively), in order
    /// (`None` for an address no client has).
    async fn get_by_emails(
        &self,
        emails: &[EmailAddress],
    ) -> Result<Vec<Option<Client>>, StoreError>;
    /// Applies the writes in order, each on its own: a write sees the ones before it
    /// (a version they moved, an address they took or freed), and a refused one fails
    /// alone, writing nothing. One answer per write, in order; the outer `Err` only
    /// when the store fails as a whole.
    async fn write_batch(
        &self,
        writes: Vec<ClientWrite>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError>;
}
