//! What the processor reads before deciding for a client ([`Ledger::contexts`]):
//! the event's claim, the ledger state, the suppression and the recent emails, all
//! strongly consistent.
//!
//! [`Ledger::contexts`]: engage_core::ports::Ledger::contexts

use super::DynamoLedger;
use super::items::{email_key, ledger_state, parse_status, recent_emails, score_key};
use crate::ddb::{batch_get, names, parse_ts, req_s, ts};
use crate::suppressions::suppression_key;
use crate::tables::keys;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::email::EmailSummary;
use engage_core::ports::{ContextRequest, LedgerContext};

impl DynamoLedger {
    /// What the processor reads before deciding for one client: everything strongly
    /// consistent (see the module's documentation).
    pub(super) async fn context_for(
        &self,
        r: &ContextRequest,
        since: DateTime<Utc>,
    ) -> Result<LedgerContext, StoreError> {
        let claim = async {
            match &r.event {
                Some(e) => self.claim(e).await,
                None => Ok(None),
            }
        };
        let score = self.get(&self.ledger, score_key(&r.user), "ledger state");
        let suppressed = async {
            match &r.address {
                Some(a) => Ok(self
                    .get(
                        &self.ledger,
                        suppression_key(&a.normalized()),
                        "suppression",
                    )
                    .await?
                    .is_some()),
                None => Ok(false),
            }
        };
        let (claim, score, suppressed) = tokio::try_join!(claim, score, suppressed)?;
        let (last_processed_version, ledger_seq) = ledger_state(score.as_ref())?;
        let since = ts(since);
        let ids: Vec<String> = recent_emails(score.as_ref())
            .into_iter()
            .filter(|(_, at)| *at >= since)
            .map(|(id, _)| id)
            .collect();
        let recent_emails = self.summaries(ids, &since).await?;
        Ok(LedgerContext::new(
            claim,
            last_processed_version,
            recent_emails,
            suppressed,
            ledger_seq,
        ))
    }

    /// The summaries of these emails created at `since` or later, newest first.
    async fn summaries(
        &self,
        ids: Vec<String>,
        since: &str,
    ) -> Result<Vec<EmailSummary>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let wanted = ids.iter().map(|id| email_key(id)).collect();
        let projection = (
            "pk, #campaign, #status, #created",
            names([
                ("#campaign", "campaign"),
                ("#status", "status"),
                ("#created", "created_at"),
            ])
            .unwrap_or_default(),
        );
        let mut found = Vec::new();
        for i in batch_get(&self.client, &self.emails, wanted, Some(projection)).await? {
            let created = req_s(&i, "created_at")?;
            if created < since {
                continue;
            }
            found.push((
                created.to_string(),
                req_s(&i, keys::PK)?.to_string(),
                EmailSummary {
                    campaign: req_s(&i, "campaign")?.to_string(),
                    status: parse_status(req_s(&i, "status")?)?,
                    created_at: parse_ts(created)?,
                },
            ));
        }
        found.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
        Ok(found.into_iter().map(|(_, _, e)| e).collect())
    }
}
