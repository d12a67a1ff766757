//! Deciding on one event from what was read: the decision, the email if one is to be
//! sent, and everything the commit writes. No I/O but a local generator's.

use super::write::fill;
use super::{Engine, ProcessError};
use crate::change::{Event, EventType};
use crate::client::Client;
use crate::email::{Decision, DecisionOutcome, Email, EmailStatus, SkipReason, StatusChange};
use crate::ids::{DecisionId, EmailId};
use crate::policy::{PolicyInput, Verdict, decide};
use crate::ports::{DecisionCommit, LedgerContext};
use crate::score::score;
use chrono::{DateTime, Duration, Utc};

/// What one event of a batch is to write, worked out from what was read.
pub(super) struct Plan {
    pub commit: DecisionCommit,
    /// `None` for a rescore that changed nothing worth recording.
    pub decision: Option<Decision>,
    /// The client and suppression state the decision read, for sending its email.
    pub client: Option<Client>,
    pub suppressed: bool,
}

impl Engine {
    /// Decides on `event` from what was read: the client (if it still exists) and its
    /// ledger context. Composes the email when the decision is to send one and the
    /// generator is local; a remote one's email is recorded `composing`.
    pub(super) async fn plan(
        &self,
        event: &Event,
        client: Option<Client>,
        ctx: LedgerContext,
        now: DateTime<Utc>,
    ) -> Result<Plan, ProcessError> {
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

        let Some(client) = client else {
            let d = base(
                DecisionOutcome::Skip,
                Some(SkipReason::ClientDeleted),
                event.user_version,
            );
            return Ok(Plan {
                commit: DecisionCommit {
                    event_id: event.id.clone(),
                    decision: Some(d.clone()),
                    email: None,
                    score: None,
                    user_id: event.user_id.clone(),
                    processed_version: event.user_version,
                    next_rescore_at: now,
                    // Deleting a client removes its ledger state, so there is none to race on.
                    expected_ledger_seq: 0,
                },
                decision: Some(d),
                client: None,
                suppressed: false,
            });
        };
        let breakdown = score(&client, ctx.stats, now, &self.config.scoring);
        let commit =
            |decision: Option<Decision>, email: Option<Email>, processed_version| DecisionCommit {
                event_id: event.id.clone(),
                decision,
                email,
                score: Some(breakdown.clone()),
                user_id: client.id.clone(),
                processed_version,
                next_rescore_at: now + Duration::days(1),
                expected_ledger_seq: ctx.ledger_seq,
            };

        if let Some(last) = ctx
            .last_processed_version
            .filter(|&v| event.user_version < v)
        {
            let mut d = base(
                DecisionOutcome::Skip,
                Some(SkipReason::Superseded),
                client.version,
            );
            d.score = Some(breakdown.score);
            d.tier = Some(breakdown.tier);
            return Ok(Plan {
                commit: commit(Some(d.clone()), None, last),
                decision: Some(d),
                client: Some(client),
                suppressed: ctx.suppressed,
            });
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
            return Ok(Plan {
                commit: commit(None, None, client.version),
                decision: None,
                client: Some(client),
                suppressed: ctx.suppressed,
            });
        }

        let mut d = base(outcome, reason, client.version);
        d.score = Some(breakdown.score);
        d.tier = Some(breakdown.tier);
        d.campaign = campaign.clone();
        d.scheduled_for = scheduled_for;
        let email = match (&campaign, outcome) {
            (Some(name), DecisionOutcome::Send | DecisionOutcome::Schedule) => {
                let id = EmailId::derive(name, &event.id);
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
                // A remote generator writes after the commit (`write_email`), so its
                // seconds delay no other decision.
                let (status, composed) = if self.generator.remote() {
                    (EmailStatus::Composing, None)
                } else if scheduled_for.is_some() {
                    let c = self.compose(name, &client, &breakdown).await?;
                    (EmailStatus::Scheduled, Some(c))
                } else {
                    let c = self.compose(name, &client, &breakdown).await?;
                    (EmailStatus::Pending, Some(c))
                };
                let mut email = Email {
                    id,
                    user_id: client.id.clone(),
                    campaign: name.clone(),
                    status,
                    subject: String::new(),
                    preheader: String::new(),
                    body_text: String::new(),
                    body_html: String::new(),
                    generator: self.generator.name(),
                    generation: None,
                    fallback_reason: None,
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
                };
                if let Some(c) = composed {
                    fill(&mut email, c, &self.config.guards);
                }
                Some(email)
            }
            _ => None,
        };
        Ok(Plan {
            commit: commit(Some(d.clone()), email, client.version),
            decision: Some(d),
            client: Some(client),
            suppressed: ctx.suppressed,
        })
    }
}
