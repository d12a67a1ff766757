//! Writing emails: [`Engine::compose`] asks the generator (falling back to the
//! campaign's template), and for a remote generator [`Engine::write_email`] does it
//! after the decision committed: `composing → pending` (or `scheduled`), then sends.
//!
//! A decision to send is committed at once with its email `composing`, so a model
//! taking seconds delays no other client's decision. Writers claim `composing` emails
//! with a lease ([`Engine::write_due`]); one whose writer stopped is claimed again
//! when the lease runs out, and the conditional `finish_composing` lets only one
//! writer's content be stored.

use super::{Delivery, Engine, ProcessError, email_entered};
use crate::client::Client;
use crate::compose::{ComposeRequest, Composed, GuardConfig, Retention};
use crate::email::{Email, EmailStatus, StatusChange};
use crate::ids::EmailId;
use crate::policy::consent_block;
use crate::ports::EmailTransition;
use crate::score::{ScoreBreakdown, score};
use chrono::Duration;
use std::sync::Arc;

/// How long a writer holds a `composing` email before another may take it over.
pub const COMPOSE_LEASE: Duration = Duration::minutes(5);

impl Engine {
    /// Writes the email for `campaign`, falling back to the template when the
    /// generator fails or its content fails a guard; the reason is recorded.
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
        let retain = self.config.retain_llm_io;
        let (why, tried) = match self.generator.generate(&request).await {
            Ok(mut c) => match self.config.guards.check(&c.content) {
                Ok(()) => {
                    if retain != Retention::All {
                        forget_io(&mut c);
                    }
                    return Ok(c);
                }
                Err(g) => {
                    tracing::warn!(
                        guard = g.guard,
                        "generated content refused, using the template"
                    );
                    metrics::counter!("engage_llm_fallbacks_total", "reason" => g.guard)
                        .increment(1);
                    (g.to_string(), Some(c))
                }
            },
            Err(e) => {
                tracing::warn!(error = %e, "generator failed, using the template");
                metrics::counter!("engage_llm_fallbacks_total", "reason" => e.kind()).increment(1);
                (e.to_string(), None)
            }
        };
        let mut c = self
            .fallback
            .generate(&request)
            .await
            .map_err(|e| ProcessError::Compose(e.to_string()))?;
        if !Arc::ptr_eq(&self.generator, &self.fallback) {
            c.fallback_reason = Some(why);
            // What the model was asked and answered stays on record with the fallback.
            if let Some(mut tried) = tried {
                if retain == Retention::None {
                    forget_io(&mut tried);
                }
                c.generation = tried.generation;
            }
        }
        self.config
            .guards
            .check(&c.content)
            .map_err(|g| ProcessError::Compose(format!("template for `{}`: {g}", campaign.name)))?;
        Ok(c)
    }

    /// Writes up to `limit` `composing` emails that are due (new, or their writer's
    /// lease ran out), one after another; returns how many it claimed.
    pub async fn write_due(&self, limit: u32) -> Result<usize, ProcessError> {
        let now = self.clock.now();
        let ids = self
            .ledger
            .claim_composing(now, now + COMPOSE_LEASE, limit)
            .await?;
        for id in &ids {
            match self.write_email(id).await {
                Ok(_) | Err(ProcessError::SendDeferred(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ids.len())
    }

    /// Writes one `composing` email for its client as they are now, then sends it (or
    /// leaves it `scheduled`). Consent gone meanwhile cancels it before the model is
    /// asked; a failing generator falls back to the template.
    #[tracing::instrument(skip_all, fields(email_id = %id))]
    pub async fn write_email(&self, id: &EmailId) -> Result<Delivery, ProcessError> {
        let Some(mut email) = self.ledger.get_email(id).await? else {
            return Ok(Delivery::NotMine);
        };
        if email.status != EmailStatus::Composing {
            return Ok(Delivery::NotMine);
        }
        let now = self.clock.now();
        let client = self.clients.get(&email.user_id).await?;
        let (suppressed, breakdown) = match &client {
            None => (false, None),
            Some(c) => {
                let ctx = self
                    .ledger
                    .context(
                        &c.id,
                        &c.email,
                        None,
                        crate::policy::recent_emails_since(now),
                    )
                    .await?;
                let b = score(c, ctx.stats, now, &self.config.scoring);
                (ctx.suppressed, Some(b))
            }
        };
        let block = match &client {
            None => Some(crate::email::SkipReason::ClientDeleted),
            Some(c) => consent_block(c, suppressed),
        };
        let (Some(client), Some(breakdown), None) = (client, breakdown, block) else {
            let reason = block.expect("a deleted client always blocks");
            let note = format!("not sent, because {}", reason.explain());
            self.settle_composing(id, EmailStatus::Cancelled, note)
                .await?;
            return Ok(Delivery::Cancelled(reason));
        };
        let composed = match self.compose(&email.campaign, &client, &breakdown).await {
            Ok(c) => c,
            Err(e) => {
                self.settle_composing(id, EmailStatus::Failed, e.to_string())
                    .await?;
                return Ok(Delivery::Failed(e.to_string()));
            }
        };
        fill(&mut email, composed, &self.config.guards);
        let status = match email.scheduled_for {
            Some(at) if at > now => EmailStatus::Scheduled,
            _ => EmailStatus::Pending,
        };
        email.status = status;
        email.status_history.push(StatusChange {
            status,
            at: now,
            note: Some(format!("written by {}", email.generator)),
        });
        if !self.ledger.finish_composing(email.clone()).await? {
            return Ok(Delivery::NotMine);
        }
        email_entered(status);
        if status == EmailStatus::Scheduled {
            return Ok(Delivery::Scheduled);
        }
        self.deliver_loaded(vec![(email, Some(client), suppressed)])
            .await?
            .pop()
            .expect("one result per email")
    }

    /// Ends a `composing` email without content (`cancelled` or `failed`).
    async fn settle_composing(
        &self,
        id: &EmailId,
        status: EmailStatus,
        note: String,
    ) -> Result<bool, crate::StoreError> {
        let m = EmailTransition {
            id: id.clone(),
            from: EmailStatus::Composing,
            change: StatusChange {
                status,
                at: self.clock.now(),
                note: Some(note),
            },
            message_id: None,
        };
        Ok(self.transitions(vec![m]).await?.pop().unwrap_or(false))
    }
}

/// Drops the prompt and the raw answer from a generation's record.
fn forget_io(c: &mut Composed) {
    if let Some(g) = &mut c.generation {
        g.prompt = None;
        g.raw_output = None;
    }
}

/// Puts what a generator wrote into `email`, with the HTML engage renders from it
/// (its links limited to the allowed hosts, as the guard checked).
pub(super) fn fill(email: &mut Email, composed: Composed, guards: &GuardConfig) {
    email.subject = composed.content.subject;
    email.preheader = composed.content.preheader;
    email.body_html = guards.render_html(&composed.content.body_text);
    email.body_text = composed.content.body_text;
    email.generator = composed.generator;
    email.generation = composed.generation;
    email.fallback_reason = composed.fallback_reason;
}
