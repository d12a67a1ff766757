//! What a client would get now, worked out as the processor would and sent nowhere:
//! the score, the policy's verdict and the email, written by the configured generator
//! with its guards and fallback. Nothing is recorded.

use super::{Engine, ProcessError};
use crate::client::Client;
use crate::compose::Generation;
use crate::email::{DecisionOutcome, SkipReason};
use crate::policy::{PolicyInput, Verdict, decide};
use crate::score::{ScoreBreakdown, score};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// The outcome of a preview.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Preview {
    pub score: ScoreBreakdown,
    /// What the processor would decide on a change now.
    pub decision: PreviewDecision,
    /// The email of the decision's campaign, or of the campaign asked for; null when
    /// the decision is to skip and no campaign was asked for.
    pub email: Option<PreviewEmail>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewDecision {
    pub outcome: DecisionOutcome,
    pub campaign: Option<String>,
    pub reason: Option<SkipReason>,
    /// When quiet hours would hold the email back.
    pub scheduled_for: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreviewEmail {
    pub campaign: String,
    pub subject: String,
    pub preheader: String,
    pub body_text: String,
    /// As engage renders it; the unsubscribe footer is added when it is sent.
    pub body_html: String,
    pub generator: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<Generation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_reason: Option<String>,
}

impl Engine {
    /// Scores `client`, decides as the processor would, and writes the email of the
    /// decision's campaign — or of `campaign` when one is asked for, whatever the
    /// decision. `Err(Compose)` names an unknown campaign.
    pub async fn preview(
        &self,
        client: &Client,
        campaign: Option<&str>,
    ) -> Result<Preview, ProcessError> {
        if let Some(name) = campaign
            && self.config.campaign(name).is_none()
        {
            return Err(ProcessError::Compose(format!("unknown campaign `{name}`")));
        }
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
        let breakdown = score(client, ctx.stats, now, &self.config.scoring);
        let verdict = decide(
            &PolicyInput {
                client,
                score: &breakdown,
                recent_emails: &ctx.recent_emails,
                suppressed: ctx.suppressed,
                now,
            },
            &self.config,
        );
        let decision = match verdict {
            Verdict::Send { campaign } => PreviewDecision {
                outcome: DecisionOutcome::Send,
                campaign: Some(campaign),
                reason: None,
                scheduled_for: None,
            },
            Verdict::Schedule { campaign, at } => PreviewDecision {
                outcome: DecisionOutcome::Schedule,
                campaign: Some(campaign),
                reason: None,
                scheduled_for: Some(at),
            },
            Verdict::Skip { campaign, reason } => PreviewDecision {
                outcome: DecisionOutcome::Skip,
                campaign,
                reason: Some(reason),
                scheduled_for: None,
            },
        };
        let write = match (campaign, decision.outcome) {
            (Some(name), _) => Some(name.to_string()),
            (None, DecisionOutcome::Skip) => None,
            (None, _) => decision.campaign.clone(),
        };
        let email = match write {
            None => None,
            Some(name) => {
                let c = self.compose(&name, client, &breakdown).await?;
                Some(PreviewEmail {
                    campaign: name,
                    body_html: self.config.guards.render_html(&c.content.body_text),
                    subject: c.content.subject,
                    preheader: c.content.preheader,
                    body_text: c.content.body_text,
                    generator: c.generator,
                    generation: c.generation,
                    fallback_reason: c.fallback_reason,
                })
            }
        };
        Ok(Preview {
            score: breakdown,
            decision,
            email,
        })
    }
}
