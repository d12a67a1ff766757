//! The email processor, one step at a time: `process(event)` loads the client, scores,
//! decides, composes, records and sends. `deliver(email)` moves one recorded email
//! through `pending → sending → sent`. `tick()` is the scheduler's step. The embedded
//! worker loop, the Lambda handler and the tests all call these same functions.

use crate::StoreError;
use crate::change::{Event, EventType};
use crate::client::Client;
use crate::clock::Clock;
use crate::compose::{ComposeRequest, Composed, guard, render_html};
use crate::config::EngineConfig;
use crate::email::{Decision, DecisionOutcome, Email, EmailStatus, SkipReason, StatusChange};
use crate::ids::{DecisionId, EmailId};
use crate::policy::{PolicyInput, Verdict, consent_block, decide};
use crate::ports::{
    ClientStore, CommitResult, ContentGenerator, DecisionCommit, EventPublisher, Ledger,
    MailSender, OutgoingEmail, SendError,
};
use crate::score::{ScoreBreakdown, score};
use crate::unsubscribe::UnsubscribeLinks;
use chrono::Duration;
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
    /// Other workers kept deciding on the same client; the message is retried later.
    #[error("the client's ledger kept changing; will retry")]
    Contended,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Already past `pending`, or taken by another worker.
    NotMine,
    Cancelled(SkipReason),
    Failed(String),
}

/// Fresh attempts at a decision whose commit found the client's ledger moved on.
const MAX_STALE_RETRIES: usize = 5;

/// How long a `pending` email may wait before the scheduler assumes its worker died.
pub const STRANDED_AFTER: Duration = Duration::minutes(5);
/// How long an email may stay `sending` before it is declared of unknown outcome.
pub const STUCK_SENDING_AFTER: Duration = Duration::minutes(15);

impl Engine {
    /// The score as of now (recency decays without any write).
    pub async fn engagement(&self, client: &Client) -> Result<ScoreBreakdown, StoreError> {
        let now = self.clock.now();
        let ctx = self
            .ledger
            .context(&client.id, &client.email, None, now)
            .await?;
        Ok(score(client, ctx.stats, now, &self.config.scoring))
    }

    #[tracing::instrument(skip_all, fields(event_id = %event.id, event_type = event.event_type.as_str(), user_id = %event.user_id))]
    pub async fn process(&self, event: &Event) -> Result<Outcome, ProcessError> {
        // A stale commit means another worker decided on this client meanwhile:
        // decide again on the fresh state (rarely more than once).
        for _ in 0..MAX_STALE_RETRIES {
            if let Some(outcome) = self.try_process(event).await? {
                return Ok(outcome);
            }
        }
        Err(ProcessError::Contended)
    }

    async fn try_process(&self, event: &Event) -> Result<Option<Outcome>, ProcessError> {
        if let Some(claim) = self.ledger.claim_of(&event.id).await? {
            if let Some(email) = claim.email_id {
                self.deliver(&email).await?;
            }
            return Ok(Some(Outcome::Duplicate));
        }
        let now = self.clock.now();
        let decision_id = DecisionId::for_event(&event.id);
        let base = |outcome, reason: Option<SkipReason>, version| Decision {
            id: decision_id.clone(),
            user_id: event.user_id.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type,
            user_version: version,
            at: now,
            outcome,
            campaign: None,
            reason,
            explanation: reason.map_or(String::new(), |r| {
                format!("not sent, because {}", r.explain())
            }),
            score: None,
            tier: None,
            email_id: None,
            scheduled_for: None,
        };

        let Some(client) = self.clients.get(&event.user_id).await? else {
            let d = base(
                DecisionOutcome::Skip,
                Some(SkipReason::ClientDeleted),
                event.user_version,
            );
            let commit = DecisionCommit {
                event_id: event.id.clone(),
                decision: Some(d.clone()),
                email: None,
                score: None,
                user_id: event.user_id.clone(),
                processed_version: event.user_version,
                next_rescore_at: now,
                // Deleting a client removes its ledger state, so there is none to race on.
                expected_ledger_seq: 0,
            };
            return self.finish(event, commit, d, None).await;
        };
        let ctx = self
            .ledger
            .context(&client.id, &client.email, Some(&event.id), now)
            .await?;
        let breakdown = score(&client, ctx.stats, now, &self.config.scoring);
        let next_rescore_at = now + Duration::days(1);
        let commit =
            |decision: Option<Decision>, email: Option<Email>, processed_version| DecisionCommit {
                event_id: event.id.clone(),
                decision,
                email,
                score: Some(breakdown.clone()),
                user_id: client.id.clone(),
                processed_version,
                next_rescore_at,
                expected_ledger_seq: ctx.ledger_seq,
            };

        if ctx
            .last_processed_version
            .is_some_and(|v| event.user_version < v)
        {
            let mut d = base(
                DecisionOutcome::Skip,
                Some(SkipReason::Superseded),
                client.version,
            );
            d.score = Some(breakdown.score);
            d.tier = Some(breakdown.tier);
            let last = ctx.last_processed_version.unwrap_or_default();
            return self
                .finish(event, commit(Some(d.clone()), None, last), d, None)
                .await;
        }

        let verdict = decide(
            &PolicyInput {
                client: &client,
                score: &breakdown,
                recent_emails: &ctx.recent_emails,
                suppressed: ctx.suppressed,
                now,
            },
            &self.config,
        );
        let (outcome, campaign, reason, scheduled_for) = match verdict {
            Verdict::Send { campaign } => (DecisionOutcome::Send, Some(campaign), None, None),
            Verdict::Schedule { campaign, at } => {
                (DecisionOutcome::Schedule, Some(campaign), None, Some(at))
            }
            Verdict::Skip { campaign, reason } => {
                (DecisionOutcome::Skip, campaign, Some(reason), None)
            }
        };
        if event.event_type == EventType::RescoreDue
            && reason == Some(SkipReason::NoCampaignApplies)
        {
            return Ok(
                match self
                    .ledger
                    .commit(commit(None, None, client.version))
                    .await?
                {
                    CommitResult::Stale => None,
                    _ => Some(Outcome::Rescored),
                },
            );
        }

        let mut d = base(outcome, reason, client.version);
        d.score = Some(breakdown.score);
        d.tier = Some(breakdown.tier);
        d.campaign = campaign.clone();
        d.scheduled_for = scheduled_for;
        let email = match (&campaign, outcome) {
            (Some(name), DecisionOutcome::Send | DecisionOutcome::Schedule) => {
                let id = EmailId::derive(&client.id, name, &event.id);
                let composed = self.compose(name, &client, &breakdown).await?;
                d.email_id = Some(id.clone());
                d.explanation = match scheduled_for {
                    Some(at) => format!(
                        "{name} scheduled for {} (quiet hours in {})",
                        at.to_rfc3339(),
                        client.time_zone.name()
                    ),
                    None => format!(
                        "{name} sent (score {}, tier {})",
                        breakdown.score,
                        breakdown.tier.as_str()
                    ),
                };
                let status = if scheduled_for.is_some() {
                    EmailStatus::Scheduled
                } else {
                    EmailStatus::Pending
                };
                Some(Email {
                    id,
                    user_id: client.id.clone(),
                    campaign: name.clone(),
                    status,
                    subject: composed.content.subject,
                    preheader: composed.content.preheader,
                    body_html: render_html(&composed.content.body_text),
                    body_text: composed.content.body_text,
                    generator: composed.generator,
                    trigger_event_id: event.id.clone(),
                    decision_id: decision_id.clone(),
                    created_at: now,
                    scheduled_for,
                    sent_at: None,
                    message_id: None,
                    status_history: vec![StatusChange {
                        status,
                        at: now,
                        note: None,
                    }],
                })
            }
            _ => None,
        };
        self.finish(
            event,
            commit(Some(d.clone()), email, client.version),
            d,
            Some((&client, ctx.suppressed)),
        )
        .await
    }

    /// Commits a decision; a new `pending` email is then sent with the client and
    /// suppression state the decision read (`sender`), without reading them again.
    async fn finish(
        &self,
        event: &Event,
        commit: DecisionCommit,
        decision: Decision,
        sender: Option<(&Client, bool)>,
    ) -> Result<Option<Outcome>, ProcessError> {
        let created = commit.email.as_ref().map(|e| (e.clone(), e.status));
        match self.ledger.commit(commit).await? {
            CommitResult::Committed => {
                let (outcome, reason) = decision_labels(&decision);
                metrics::counter!("engage_decisions_total", "outcome" => outcome, "reason" => reason)
                    .increment(1);
                let lag = (self.clock.now() - event.at).to_std().unwrap_or_default();
                metrics::histogram!("engage_pipeline_lag_seconds").record(lag.as_secs_f64());
                let pending = created.and_then(|(email, status)| {
                    email_entered(status);
                    (status == EmailStatus::Pending).then_some(email)
                });
                if let Some(email) = pending {
                    match sender {
                        Some((client, suppressed)) => {
                            self.deliver_loaded(email, Some(client), suppressed).await?;
                        }
                        None => {
                            self.deliver(&email.id).await?;
                        }
                    }
                }
                Ok(Some(Outcome::Decided(Box::new(decision))))
            }
            // Another delivery of this event won the race; push its email along.
            CommitResult::AlreadyClaimed(claim) => {
                if let Some(id) = claim.email_id {
                    self.deliver(&id).await?;
                }
                Ok(Some(Outcome::Duplicate))
            }
            CommitResult::Stale => Ok(None),
        }
    }

    /// Writes the email for `campaign`, falling back to the template when the
    /// generator fails or its content fails a guard.
    pub async fn compose(
        &self,
        campaign: &str,
        client: &Client,
        breakdown: &ScoreBreakdown,
    ) -> Result<Composed, ProcessError> {
        let campaign = self
            .config
            .campaign(campaign)
            .ok_or_else(|| ProcessError::Compose(format!("unknown campaign `{campaign}`")))?;
        let request = ComposeRequest {
            campaign: campaign.clone(),
            first_name: client.first_name.clone(),
            preferences: client.profile.preferences.clone(),
            tier: breakdown.tier,
            score: breakdown.score,
            drivers: breakdown.drivers.clone(),
        };
        match self.generator.generate(&request).await {
            Ok(c) => match guard(&c.content) {
                Ok(()) => return Ok(c),
                Err(g) => tracing::warn!(
                    guard = g.guard,
                    "generated content refused, using the template"
                ),
            },
            Err(e) => tracing::warn!(error = %e, "generator failed, using the template"),
        }
        let c = self
            .fallback
            .generate(&request)
            .await
            .map_err(|e| ProcessError::Compose(e.to_string()))?;
        guard(&c.content)
            .map_err(|g| ProcessError::Compose(format!("template for `{}`: {g}", campaign.name)))?;
        Ok(c)
    }

    /// Sends a `pending` email once. Consent is checked again: it may have changed
    /// since the decision (an unsubscribe while the email waited).
    #[tracing::instrument(skip_all, fields(email_id = %id))]
    pub async fn deliver(&self, id: &EmailId) -> Result<Delivery, ProcessError> {
        let Some(email) = self.ledger.get_email(id).await? else {
            return Ok(Delivery::NotMine);
        };
        if email.status != EmailStatus::Pending {
            return Ok(Delivery::NotMine);
        }
        let now = self.clock.now();
        let client = self.clients.get(&email.user_id).await?;
        let suppressed = match &client {
            None => false,
            Some(c) => {
                self.ledger
                    .context(&c.id, &c.email, None, now)
                    .await?
                    .suppressed
            }
        };
        self.deliver_loaded(email, client.as_ref(), suppressed)
            .await
    }

    /// [`Engine::deliver`] for an email whose client and suppression state are known
    /// (just read by the decision that created it), saving the reads.
    async fn deliver_loaded(
        &self,
        email: Email,
        client: Option<&Client>,
        suppressed: bool,
    ) -> Result<Delivery, ProcessError> {
        let id = &email.id.clone();
        let now = self.clock.now();
        let block = match client {
            None => Some(SkipReason::ClientDeleted),
            Some(c) => consent_block(c, suppressed),
        };
        if let Some(reason) = block {
            let change = StatusChange {
                status: EmailStatus::Cancelled,
                at: now,
                note: Some(format!("not sent, because {}", reason.explain())),
            };
            self.transition(id, EmailStatus::Pending, change, None)
                .await?;
            return Ok(Delivery::Cancelled(reason));
        }
        let client = client.expect("checked above");
        let sending = StatusChange {
            status: EmailStatus::Sending,
            at: now,
            note: None,
        };
        if !self
            .transition(id, EmailStatus::Pending, sending, None)
            .await?
        {
            return Ok(Delivery::NotMine);
        }
        let out = OutgoingEmail {
            to: client.email.clone(),
            to_name: match &client.last_name {
                Some(l) => format!("{} {}", client.first_name, l),
                None => client.first_name.clone(),
            },
            from: self.config.from.clone(),
            unsubscribe_url: self.links.https_url(&client.id),
            unsubscribe_mailto: self.links.mailto(&client.id),
            email,
        };
        let result = self.sender.send(&out).await;
        let now = self.clock.now();
        match result {
            Ok(receipt) => {
                let change = StatusChange {
                    status: EmailStatus::Sent,
                    at: now,
                    note: Some(format!("accepted by {}", self.sender.name())),
                };
                self.transition(id, EmailStatus::Sending, change, Some(receipt.message_id))
                    .await?;
                Ok(Delivery::Sent)
            }
            Err(SendError::Transient(why)) => {
                let change = StatusChange {
                    status: EmailStatus::Pending,
                    at: now,
                    note: Some(format!("will retry: {why}")),
                };
                self.transition(id, EmailStatus::Sending, change, None)
                    .await?;
                Err(ProcessError::SendDeferred(why))
            }
            Err(SendError::Permanent(why)) => {
                let change = StatusChange {
                    status: EmailStatus::Failed,
                    at: now,
                    note: Some(why.clone()),
                };
                self.transition(id, EmailStatus::Sending, change, None)
                    .await?;
                Ok(Delivery::Failed(why))
            }
        }
    }

    /// [`Ledger::transition`], counting the emails that changed status.
    async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        change: StatusChange,
        message_id: Option<String>,
    ) -> Result<bool, StoreError> {
        let to = change.status;
        let moved = self.ledger.transition(id, from, change, message_id).await?;
        if moved {
            email_entered(to);
        }
        Ok(moved)
    }

    /// The scheduler's step: promote due scheduled emails, push stranded pending ones,
    /// settle ones stuck mid-send, and publish rescoring events for clients whose score
    /// is due. Returns how many items it touched.
    #[tracing::instrument(skip_all)]
    pub async fn tick(&self, batch: u32) -> Result<TickReport, ProcessError> {
        let now = self.clock.now();
        let mut report = TickReport::default();
        for id in self
            .ledger
            .emails_to_deliver(now, now - STRANDED_AFTER, batch)
            .await?
        {
            let scheduled =
                self.ledger.get_email(&id).await?.map(|e| e.status) == Some(EmailStatus::Scheduled);
            if scheduled {
                let change = StatusChange {
                    status: EmailStatus::Pending,
                    at: now,
                    note: Some("quiet hours over".into()),
                };
                if !self
                    .transition(&id, EmailStatus::Scheduled, change, None)
                    .await?
                {
                    continue;
                }
            }
            match self.deliver(&id).await {
                Ok(Delivery::Sent) => report.sent += 1,
                Ok(_) => {}
                Err(ProcessError::SendDeferred(_)) => report.deferred += 1,
                Err(e) => return Err(e),
            }
        }
        for id in self
            .ledger
            .stuck_sending(now - STUCK_SENDING_AFTER, batch)
            .await?
        {
            // The provider may or may not have accepted it; sending again could
            // double-send, so it is marked for an operator instead.
            let change = StatusChange {
                status: EmailStatus::Failed,
                at: now,
                note: Some("outcome unknown: the process stopped while sending; check the provider before resending".into()),
            };
            if self
                .transition(&id, EmailStatus::Sending, change, None)
                .await?
            {
                report.stuck += 1;
            }
        }
        let due = self
            .ledger
            .take_due_rescores(now, now + Duration::hours(1), batch)
            .await?;
        report.rescores = due.len();
        if !due.is_empty() {
            let events = due
                .iter()
                .map(|(u, v)| Event::rescore(u, *v, now))
                .collect();
            self.publisher.publish(events).await?;
            metrics::counter!("engage_events_total", "type" => EventType::RescoreDue.as_str())
                .increment(due.len() as u64);
        }
        Ok(report)
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub deferred: usize,
    pub stuck: usize,
    pub rescores: usize,
}

/// Counts an email entering `status` (`engage_emails_total`).
fn email_entered(status: EmailStatus) {
    metrics::counter!("engage_emails_total", "status" => status.as_str()).increment(1);
}

/// The `outcome` and `reason` labels of `engage_decisions_total`, spelled as the API
/// spells them; `reason` is `none` for an email sent or scheduled.
fn decision_labels(d: &Decision) -> (&'static str, &'static str) {
    let outcome = match d.outcome {
        DecisionOutcome::Send => "send",
        DecisionOutcome::Schedule => "schedule",
        DecisionOutcome::Skip => "skip",
    };
    let reason = d.reason.map_or("none", |r| match r {
        SkipReason::NoCampaignApplies => "no_campaign_applies",
        SkipReason::Cooldown => "cooldown",
        SkipReason::NotOptedIn => "not_opted_in",
        SkipReason::Unsubscribed => "unsubscribed",
        SkipReason::Suppressed => "suppressed",
        SkipReason::FrequencyCap => "frequency_cap",
        SkipReason::ClientDeleted => "client_deleted",
        SkipReason::Superseded => "superseded",
    });
    (outcome, reason)
}
