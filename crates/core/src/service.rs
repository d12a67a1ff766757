//! Client operations as the API (and import) performs them: validation, optimistic
//! concurrency, and the retry that activity recording needs when two writes race.

use crate::client::{Activity, Client, ClientPatch, NewClient};
use crate::clock::Clock;
use crate::ids::UserId;
use crate::ports::ClientStore;
use crate::{DomainError, StoreError};
use std::sync::Arc;

#[derive(Clone)]
pub struct ClientService {
    pub store: Arc<dyn ClientStore>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClientService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientService").finish_non_exhaustive()
    }
}

impl ClientService {
    pub fn new(store: Arc<dyn ClientStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    pub async fn create(&self, new: NewClient) -> Result<Client, DomainError> {
        let client = new.into_client(UserId::generate(), self.clock.now())?;
        self.store.insert(client.clone()).await?;
        Ok(client)
    }

    pub async fn get(&self, id: &UserId) -> Result<Client, DomainError> {
        self.store.get(id).await?.ok_or(DomainError::NotFound)
    }

    /// Applies `patch` if the client is still at the version it names (in the body or,
    /// from the API, an `If-Match` header).
    pub async fn patch(
        &self,
        id: &UserId,
        mut patch: ClientPatch,
        if_match: Option<u64>,
    ) -> Result<Client, DomainError> {
        let expected = match (patch.version.take(), if_match) {
            (Some(a), Some(b)) if a != b => {
                return Err(crate::ValidationError::new(
                    "version",
                    "the body's version and If-Match disagree",
                )
                .into());
            }
            (Some(v), _) | (None, Some(v)) => v,
            (None, None) => return Err(DomainError::VersionRequired),
        };
        let current = self.get(id).await?;
        if current.version != expected {
            return Err(DomainError::VersionConflict {
                current: current.version,
            });
        }
        let now = self.clock.now();
        let mut next = patch.apply(current, now)?;
        next.version = expected + 1;
        next.updated_at = now;
        self.store.replace(next.clone(), expected).await?;
        Ok(next)
    }

    /// Records activity against whatever version is current.
    pub async fn record_activity(
        &self,
        id: &UserId,
        activity: Activity,
    ) -> Result<Client, DomainError> {
        self.modify(id, |c, now| activity.clone().apply(c, now))
            .await
    }

    /// Unsubscribes (or, as an explicit operator action, re-subscribes) a client
    /// through a normal write, so the change stream and the ledger see it.
    pub async fn set_unsubscribed(
        &self,
        id: &UserId,
        unsubscribed: bool,
    ) -> Result<Client, DomainError> {
        self.modify(id, |c, now| {
            ClientPatch {
                unsubscribed: Some(unsubscribed),
                ..ClientPatch::default()
            }
            .apply(c, now)
        })
        .await
    }

    /// Applies `change` to the current version, retrying when another write slipped
    /// in between the read and the conditional write. A change that alters nothing is
    /// not written (no version bump, no change record).
    async fn modify(
        &self,
        id: &UserId,
        change: impl Fn(Client, chrono::DateTime<chrono::Utc>) -> Result<Client, crate::ValidationError>,
    ) -> Result<Client, DomainError> {
        let mut attempts = 0;
        loop {
            let current = self.get(id).await?;
            let expected = current.version;
            let now = self.clock.now();
            let mut next = change(current.clone(), now)?;
            if next == current {
                return Ok(current);
            }
            next.version = expected + 1;
            next.updated_at = now;
            match self.store.replace(next.clone(), expected).await {
                Ok(()) => return Ok(next),
                Err(StoreError::VersionConflict { .. }) if attempts < 5 => attempts += 1,
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub async fn delete(&self, id: &UserId, if_match: Option<u64>) -> Result<Client, DomainError> {
        Ok(self.store.delete(id, if_match).await?)
    }
}
