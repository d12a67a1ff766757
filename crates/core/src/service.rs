//! Client operations as the API performs them, on input already checked
//! ([`NewClient`], [`ClientPatch`]; an [`Activity`] is checked against the client it
//! is recorded for): optimistic concurrency, and the retry that activity recording
//! needs when two writes race.
//!
//! Consent is kept at two levels. The client record says whether *this client* is
//! unsubscribed; the suppression list says that *the address* is not to be mailed.
//! Every unsubscribe (a link, one click, the API, a PATCH) also suppresses the
//! address, so deleting the client and creating it again, or importing it again,
//! does not make it mailable. Only an explicit re-subscribe by an operator lifts that
//! suppression — and only one an unsubscribe or a complaint made, never a bounce's.

use crate::client::{Activity, Client, ClientPatch, ClientPatchFields, NewClient};
use crate::clock::Clock;
use crate::ids::UserId;
use crate::ports::{ClientStore, SuppressionStore};
use crate::{DomainError, StoreError};
use std::sync::Arc;

/// The reason recorded with the suppression an unsubscribe makes: `unsubscribed
/// (how)`, e.g. `unsubscribed (one-click)`.
pub fn unsubscribe_reason(how: &str) -> String {
    format!("unsubscribed ({how})")
}

/// Whether a suppression was made by the client's own choice (an unsubscribe, a
/// complaint), which an operator's re-subscribe may lift; a bounce's may not.
pub fn lifted_by_resubscribe(reason: &str) -> bool {
    reason.starts_with("unsubscribed") || reason == "complaint"
}

#[derive(Clone)]
pub struct ClientService {
    pub store: Arc<dyn ClientStore>,
    pub suppressions: Arc<dyn SuppressionStore>,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClientService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientService").finish_non_exhaustive()
    }
}

impl ClientService {
    pub fn new(
        store: Arc<dyn ClientStore>,
        suppressions: Arc<dyn SuppressionStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            store,
            suppressions,
            clock,
        }
    }

    pub async fn create(&self, new: NewClient) -> Result<Client, DomainError> {
        let client = new.into_client(UserId::generate(), self.clock.now());
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
        patch: ClientPatch,
        if_match: Option<u64>,
    ) -> Result<Client, DomainError> {
        let current = self.patch_target(id, patch.version(), if_match).await?;
        let expected = current.version;
        let now = self.clock.now();
        let was_unsubscribed = current.consent.unsubscribed;
        let mut next = patch.apply(current, now);
        next.version = expected + 1;
        next.updated_at = now;
        if next.consent.unsubscribed && !was_unsubscribed {
            self.suppress(&next, "api").await?;
        }
        self.store.replace(next.clone(), expected).await?;
        if was_unsubscribed && !next.consent.unsubscribed {
            self.lift(&next).await?;
        }
        Ok(next)
    }

    /// The client a patch made against `version` (the body's) or `if_match` would
    /// change: one of them must name a version, they must agree, and the client must
    /// exist and be at that version. A caller that refuses a patch's fields asks this
    /// first, so these refusals come before the fields' as they do for [`Self::patch`].
    pub async fn patch_target(
        &self,
        id: &UserId,
        version: Option<u64>,
        if_match: Option<u64>,
    ) -> Result<Client, DomainError> {
        let expected = match (version, if_match) {
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
        Ok(current)
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

    /// Unsubscribes a client through a normal write, so the change stream and the
    /// ledger see it, and suppresses the address first (`how`: `link`, `one-click`,
    /// `api`): should the write fail, the address is still not mailed.
    pub async fn unsubscribe(&self, id: &UserId, how: &str) -> Result<Client, DomainError> {
        let client = self.get(id).await?;
        self.suppress(&client, how).await?;
        self.set_unsubscribed(id, true).await
    }

    /// Re-subscribes a client, as an explicit operator action, and lifts the
    /// address's suppression if an unsubscribe or a complaint made it (a bounce's
    /// stays: the address does not take mail). The client's change log records it.
    pub async fn resubscribe(&self, id: &UserId) -> Result<Client, DomainError> {
        let client = self.set_unsubscribed(id, false).await?;
        self.lift(&client).await?;
        Ok(client)
    }

    async fn set_unsubscribed(
        &self,
        id: &UserId,
        unsubscribed: bool,
    ) -> Result<Client, DomainError> {
        let patch = ClientPatchFields {
            unsubscribed: Some(unsubscribed),
            ..ClientPatchFields::default()
        }
        .check()?;
        self.modify(id, |c, now| Ok(patch.clone().apply(c, now)))
            .await
    }

    async fn suppress(&self, client: &Client, how: &str) -> Result<(), DomainError> {
        // A bounce's suppression stays as it is: relabelled an unsubscribe, a later
        // re-subscribe would lift it.
        if let Some(s) = self.suppressions.get(&client.email).await?
            && !lifted_by_resubscribe(&s.reason)
        {
            return Ok(());
        }
        self.suppressions
            .add(&client.email, &unsubscribe_reason(how), self.clock.now())
            .await?;
        Ok(())
    }

    async fn lift(&self, client: &Client) -> Result<(), DomainError> {
        match self.suppressions.get(&client.email).await? {
            Some(s) if lifted_by_resubscribe(&s.reason) => {
                match self.suppressions.remove(&client.email).await {
                    Ok(()) | Err(StoreError::NotFound) => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            _ => Ok(()),
        }
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
