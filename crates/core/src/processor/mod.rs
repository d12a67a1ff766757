//! The email processor, one step at a time: `process_batch(events)` loads the clients,
//! scores, decides, composes, records and sends; `process(event)` is a batch of one.
//! `deliver(email)` moves one recorded email through `pending → sending → sent`;
//! `write_email(email)` writes one a remote generator is to write (`composing`).
//! `tick()` is the scheduler's step. The embedded worker loop, the Lambda handler and
//! the tests all call these same functions.
//!
//! A batch costs a fixed number of store round trips whatever its size: one read for
//! the clients, one for their ledger contexts, one commit for all decisions, two status
//! writes around one `send_many`. Each event is still decided and committed on its own
//! terms (its claim, its client's `ledger_seq`), so a batch is exactly as safe as its
//! events one by one.

mod deliver;
mod feedback;
mod plan;
mod preview;
mod retry;
mod schedule;
pub mod tasks;
mod write;

pub use deliver::Delivery;
pub use feedback::{FeedbackKind, FeedbackOutcome, ProviderFeedback};
use plan::Plan;
pub use preview::{Preview, PreviewDecision, PreviewEmail};
pub use retry::backoff;
pub use schedule::{STRANDED_AFTER, STUCK_SENDING_AFTER, TickReport};
pub use write::COMPOSE_LEASE;

use crate::StoreError;
use crate::change::Event;
use crate::client::Client;
use crate::clock::Clock;
use crate::config::EngineConfig;
use crate::email::{Decision, EmailStatus};
use crate::ids::{EmailId, UserId};
use crate::ports::{
    ClientStore, CommitResult, ContentGenerator, ContextRequest, EventPublisher, Ledger,
    MailSender, SuppressionStore,
};
use crate::score::{ScoreBreakdown, score};
use crate::unsubscribe::UnsubscribeLinks;
use std::collections::HashSet;
use std::sync::Arc;

/// The ports and settings the processors need, built once per process.
#[derive(Clone)]
pub struct Engine {
    pub clients: Arc<dyn ClientStore>,
    pub ledger: Arc<dyn Ledger>,
    pub generator: Arc<dyn ContentGenerator>,
    /// Used when `generator` fails or its output fails a guard. Must not fail itself.
    pub fallback: Arc<dyn ContentGenerator>,
    pub sender: Arc<dyn MailSender>,
    pub publisher: Arc<dyn EventPublisher>,
    /// Where hard bounces and complaints put their addresses.
    pub suppressions: Arc<dyn SuppressionStore>,
    pub links: UnsubscribeLinks,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<EngineConfig>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("generator", &self.generator.name())
            .field("sender", &self.sender.name())
            .finish_non_exhaustive()
    }
}

/// What processing an event came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Decided(Box<Decision>),
    /// A rescore that changed nothing worth a decision record.
    Rescored,
    /// The event was already decided on (a redelivery); any email it made was pushed on.
    Duplicate,
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The sender asked to try again later; the email stays `pending`.
    #[error("send deferred: {0}")]
    SendDeferred(String),
    #[error("no content: {0}")]
    Compose(String),
    /// A queue message that is not an event message this build reads: trying again
    /// cannot help, so it is released until the queue moves it to the dead letters,
    /// where an operator can see it.
    #[error("undecodable message: {0}")]
    Undecodable(String),
    /// Other workers kept deciding on the same client; the message is retried later.
    #[error("the client's ledger kept changing; will retry")]
    Contended,
}

/// Fresh attempts at a decision whose commit found the client's ledger moved on.
const MAX_STALE_RETRIES: usize = 5;

/// An event of a batch after its reads: already claimed, planned, or failed.
enum Step {
    Claimed(Option<EmailId>),
    Planned(Box<Plan>),
    Failed(ProcessError),
}

/// One event's result within a round: `None` when its commit was stale.
type RoundResult = Option<Result<Outcome, ProcessError>>;

impl Engine {
    /// The score as of now (recency decays without any write).
    pub async fn engagement(&self, client: &Client) -> Result<ScoreBreakdown, StoreError> {
        let now = self.clock.now();
        let ctx = self
            .ledger
            .context(
                &client.id,
                &client.email,
                None,
                crate::policy::recent_emails_since(now),
            )
            .await?;
        Ok(score(client, ctx.stats, now, &self.config.scoring))
    }

    /// Processes one event: a batch of one.
    #[tracing::instrument(skip_all, fields(event_id = %event.id, event_type = event.event_type.as_str(), user_id = %event.user_id))]
    pub async fn process(&self, event: &Event) -> Result<Outcome, ProcessError> {
        self.process_batch(std::slice::from_ref(event))
            .await?
            .pop()
            .expect("one result per event")
    }

    /// Processes queue messages whose bodies are event messages
    /// ([`crate::records::EventMessage`]), answering for each
    /// body in order: an undecodable body fails on its own, and when the store fails
    /// as a whole every event fails with it (all may be retried). The embedded and
    /// the AWS queue workers share this.
    pub async fn process_messages(&self, bodies: &[&str]) -> Vec<Result<(), ProcessError>> {
        let mut events = Vec::with_capacity(bodies.len());
        let mut results: Vec<Option<Result<(), ProcessError>>> = Vec::with_capacity(bodies.len());
        for body in bodies {
            match crate::records::decode_event(body) {
                Ok(e) => {
                    events.push(e);
                    results.push(None);
                }
                Err(e) => results.push(Some(Err(ProcessError::Undecodable(e.to_string())))),
            }
        }
        let mut processed = match self.process_batch(&events).await {
            Ok(r) => r.into_iter().map(|r| r.map(|_| ())).collect::<Vec<_>>(),
            Err(e) => events
                .iter()
                .map(|_| Err(ProcessError::Store(e.for_each())))
                .collect(),
        }
        .into_iter();
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| processed.next().expect("one result per event")))
            .collect()
    }

    /// Processes `events`, answering for each in order. The outer `Err` only when the
    /// store fails as a whole (nothing can be said of any event; all may be retried).
    ///
    /// Events run in rounds: a round takes the first undecided event of each client,
    /// so two events of one client are decided one after the other, the second seeing
    /// the first's email. An event whose commit finds its client's ledger moved on (a
    /// worker elsewhere decided meanwhile) is decided again in the next round.
    #[tracing::instrument(skip_all, fields(events = events.len()))]
    pub async fn process_batch(
        &self,
        events: &[Event],
    ) -> Result<Vec<Result<Outcome, ProcessError>>, StoreError> {
        let mut results: Vec<RoundResult> = events.iter().map(|_| None).collect();
        let mut stale = vec![0usize; events.len()];
        loop {
            let mut clients = HashSet::new();
            let round: Vec<usize> = (0..events.len())
                .filter(|&i| results[i].is_none() && clients.insert(&events[i].user_id))
                .collect();
            if round.is_empty() {
                break;
            }
            let batch: Vec<&Event> = round.iter().map(|&i| &events[i]).collect();
            for (i, result) in round.into_iter().zip(self.round(&batch).await?) {
                match result {
                    Some(r) => results[i] = Some(r),
                    None => {
                        stale[i] += 1;
                        if stale[i] >= MAX_STALE_RETRIES {
                            results[i] = Some(Err(ProcessError::Contended));
                        }
                    }
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.expect("every event has a result"))
            .collect())
    }

    /// One round: events of distinct clients, read, planned and committed together.
    async fn round(&self, events: &[&Event]) -> Result<Vec<RoundResult>, StoreError> {
        let now = self.clock.now();
        let ids: Vec<UserId> = events.iter().map(|e| e.user_id.clone()).collect();
        let clients = self.clients.get_many(&ids).await?;
        let requests: Vec<ContextRequest> = events
            .iter()
            .zip(&clients)
            .map(|(e, c)| ContextRequest {
                user: e.user_id.clone(),
                address: c.as_ref().map(|c| c.email.clone()),
                event: Some(e.id.clone()),
            })
            .collect();
        let contexts = self
            .ledger
            .contexts(&requests, crate::policy::recent_emails_since(now))
            .await?;

        let steps = futures_util::future::join_all(events.iter().zip(clients).zip(contexts).map(
            |((event, client), mut ctx)| async move {
                match ctx.claim.take() {
                    Some(claim) => Step::Claimed(claim.email_id),
                    None => match self.plan(event, client, ctx, now).await {
                        Ok(plan) => Step::Planned(Box::new(plan)),
                        Err(e) => Step::Failed(e),
                    },
                }
            },
        ))
        .await;

        let mut plans = Vec::new();
        let mut planned = Vec::new();
        let mut results: Vec<RoundResult> = Vec::with_capacity(events.len());
        let mut redeliver = Vec::new();
        for (i, step) in steps.into_iter().enumerate() {
            results.push(match step {
                Step::Claimed(email) => {
                    redeliver.extend(email.map(|e| (i, e)));
                    Some(Ok(Outcome::Duplicate))
                }
                Step::Failed(e) => Some(Err(e)),
                Step::Planned(plan) => {
                    planned.push(i);
                    plans.push(*plan);
                    None
                }
            });
        }
        let commits = plans.iter().map(|p| p.commit.clone()).collect();
        let committed = self.ledger.commit_many(commits).await?;

        let mut to_send = Vec::new();
        for ((i, plan), result) in planned.into_iter().zip(plans).zip(committed) {
            results[i] = match result {
                CommitResult::Committed => {
                    let event = events[i];
                    let lag = (self.clock.now() - event.at).to_std().unwrap_or_default();
                    metrics::histogram!("engage_pipeline_lag_seconds").record(lag.as_secs_f64());
                    if let Some(email) = plan.commit.email {
                        email_entered(email.status);
                        if email.status == EmailStatus::Pending {
                            to_send.push((i, (email, plan.client, plan.suppressed)));
                        }
                    }
                    Some(Ok(match plan.decision {
                        Some(d) => {
                            let (outcome, reason) = decision_labels(&d);
                            metrics::counter!("engage_decisions_total", "outcome" => outcome, "reason" => reason)
                                .increment(1);
                            Outcome::Decided(Box::new(d))
                        }
                        None => Outcome::Rescored,
                    }))
                }
                // Another delivery of this event won the race; push its email along.
                CommitResult::AlreadyClaimed(claim) => {
                    redeliver.extend(claim.email_id.map(|e| (i, e)));
                    Some(Ok(Outcome::Duplicate))
                }
                CommitResult::Stale => None,
            };
        }

        // A new email is sent with the client and suppression state its decision read.
        let (order, items): (Vec<usize>, Vec<_>) = to_send.into_iter().unzip();
        for (i, delivery) in order.into_iter().zip(self.deliver_loaded(items).await?) {
            if let Err(e) = delivery {
                results[i] = Some(Err(e));
            }
        }
        for (i, email) in redeliver {
            if let Err(e) = self.deliver(&email).await {
                results[i] = Some(Err(e));
            }
        }
        Ok(results)
    }
}

/// Counts an email entering `status` (`engage_emails_total`).
fn email_entered(status: EmailStatus) {
    metrics::counter!("engage_emails_total", "status" => status.as_str()).increment(1);
}

/// The `outcome` and `reason` labels of `engage_decisions_total`, spelled as the API
/// spells them; `reason` is `none` for an email sent or scheduled.
fn decision_labels(d: &Decision) -> (&'static str, &'static str) {
    (d.outcome.as_str(), d.reason.map_or("none", |r| r.as_str()))
}
