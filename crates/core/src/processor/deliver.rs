//! Sending recorded emails: `pending → sending → sent`, with consent checked again at
//! the last moment (it may have changed while the email waited).

use super::{Engine, ProcessError, email_entered};
use crate::StoreError;
use crate::client::Client;
use crate::email::{Email, EmailStatus, SkipReason, StatusChange};
use crate::ids::EmailId;
use crate::policy::consent_block;
use crate::ports::{EmailTransition, OutgoingEmail, SendError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Written, and waiting for the end of the client's quiet hours.
    Scheduled,
    /// Already past `pending`, or taken by another worker.
    NotMine,
    Cancelled(SkipReason),
    Failed(String),
}

/// An email to send, with its client (`None`: deleted) and whether its address is
/// suppressed, as read just before.
pub(super) type Loaded = (Email, Option<Client>, bool);

impl Engine {
    /// Sends a `pending` email once, reading its client and suppression state first.
    #[tracing::instrument(skip_all, fields(email_id = %id))]
    pub async fn deliver(&self, id: &EmailId) -> Result<Delivery, ProcessError> {
        let Some(email) = self.ledger.get_email(id).await? else {
            return Ok(Delivery::NotMine);
        };
        if email.status != EmailStatus::Pending {
            return Ok(Delivery::NotMine);
        }
        let client = self.clients.get(&email.user_id).await?;
        let suppressed = match &client {
            None => false,
            Some(c) => {
                self.ledger
                    .context(
                        &c.id,
                        &c.email,
                        None,
                        crate::policy::recent_emails_since(self.clock.now()),
                    )
                    .await?
                    .suppressed
            }
        };
        self.deliver_loaded(vec![(email, client, suppressed)])
            .await?
            .pop()
            .expect("one result per email")
    }

    /// Sends a `failed` email again, at an operator's request: `failed → pending` (the
    /// request in its history), then [`Engine::deliver`], which checks consent and
    /// suppression again. `Ok(None)` when the email is not `failed` (nothing changes).
    #[tracing::instrument(skip_all, fields(email_id = %id))]
    pub async fn resend(&self, id: &EmailId) -> Result<Option<Delivery>, ProcessError> {
        let change = StatusChange {
            status: EmailStatus::Pending,
            at: self.clock.now(),
            note: Some("resent at an operator's request".into()),
        };
        let moved = self
            .transitions(vec![EmailTransition {
                id: id.clone(),
                from: EmailStatus::Failed,
                change,
                message_id: None,
            }])
            .await?
            .pop()
            .unwrap_or(false);
        if !moved {
            return Ok(None);
        }
        self.deliver(id).await.map(Some)
    }

    /// Sends `pending` emails whose client and suppression state are known, answering
    /// for each in order: one status write to claim them all (`sending`, or
    /// `cancelled` when consent is gone), one `send_many`, one status write for the
    /// outcomes. The outer `Err` only when the store fails as a whole.
    pub(super) async fn deliver_loaded(
        &self,
        items: Vec<Loaded>,
    ) -> Result<Vec<Result<Delivery, ProcessError>>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let now = self.clock.now();
        let blocks: Vec<Option<SkipReason>> = items
            .iter()
            .map(|(_, client, suppressed)| match client {
                None => Some(SkipReason::ClientDeleted),
                Some(c) => consent_block(c, *suppressed),
            })
            .collect();
        let claims = items
            .iter()
            .zip(&blocks)
            .map(|((email, _, _), block)| EmailTransition {
                id: email.id.clone(),
                from: EmailStatus::Pending,
                change: match block {
                    Some(reason) => StatusChange {
                        status: EmailStatus::Cancelled,
                        at: now,
                        note: Some(format!("not sent, because {}", reason.explain())),
                    },
                    None => StatusChange {
                        status: EmailStatus::Sending,
                        at: now,
                        note: None,
                    },
                },
                message_id: None,
            })
            .collect();
        let moved = self.transitions(claims).await?;

        let mut results: Vec<Result<Delivery, ProcessError>> = Vec::with_capacity(items.len());
        let mut sending = Vec::new();
        let mut outgoing = Vec::new();
        for (i, (((email, client, _), block), moved)) in
            items.into_iter().zip(blocks).zip(moved).enumerate()
        {
            results.push(match (moved, block, client) {
                (false, _, _) => Ok(Delivery::NotMine),
                (true, Some(reason), _) => Ok(Delivery::Cancelled(reason)),
                (true, None, Some(client)) => {
                    sending.push(i);
                    outgoing.push(self.outgoing(email, &client));
                    Ok(Delivery::Sent)
                }
                (true, None, None) => unreachable!("a deleted client always blocks"),
            });
        }
        if outgoing.is_empty() {
            return Ok(results);
        }
        let sent = self.sender.send_many(&outgoing).await;
        let now = self.clock.now();
        let mut outcomes = Vec::with_capacity(sent.len());
        for ((&i, out), result) in sending.iter().zip(&outgoing).zip(sent) {
            let (status, note, message_id) = match result {
                Ok(receipt) => (
                    EmailStatus::Sent,
                    format!("accepted by {}", self.sender.name()),
                    Some(receipt.message_id),
                ),
                Err(SendError::Transient(why)) => {
                    let note = format!("will retry: {why}");
                    results[i] = Err(ProcessError::SendDeferred(why));
                    (EmailStatus::Pending, note, None)
                }
                Err(SendError::Permanent(why)) => {
                    results[i] = Ok(Delivery::Failed(why.clone()));
                    (EmailStatus::Failed, why, None)
                }
            };
            outcomes.push(EmailTransition {
                id: out.email.id.clone(),
                from: EmailStatus::Sending,
                change: StatusChange {
                    status,
                    at: now,
                    note: Some(note),
                },
                message_id,
            });
        }
        self.transitions(outcomes).await?;
        Ok(results)
    }

    fn outgoing(&self, email: Email, client: &Client) -> OutgoingEmail {
        OutgoingEmail {
            to: client.email.clone(),
            to_name: match &client.last_name {
                Some(l) => format!("{} {}", client.first_name, l),
                None => client.first_name.clone(),
            },
            from: self.config.from.clone(),
            unsubscribe_url: self.links.https_url(&client.id),
            unsubscribe_mailto: self.links.mailto(&client.id),
            email,
        }
    }

    /// [`crate::ports::Ledger::transition_many`], counting the emails that changed status.
    pub(super) async fn transitions(
        &self,
        moves: Vec<EmailTransition>,
    ) -> Result<Vec<bool>, StoreError> {
        let statuses: Vec<EmailStatus> = moves.iter().map(|m| m.change.status).collect();
        let moved = self.ledger.transition_many(moves).await?;
        for (status, &m) in statuses.into_iter().zip(&moved) {
            if m {
                email_entered(status);
            }
        }
        Ok(moved)
    }
}
