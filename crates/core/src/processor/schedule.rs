//! The scheduler's step: due scheduled emails, stranded and stuck ones, and rescores.

use super::{Delivery, Engine, ProcessError};
use crate::change::{Event, EventType};
use crate::email::{EmailStatus, StatusChange};
use crate::ports::EmailTransition;
use chrono::Duration;

/// How long a `pending` email may wait before the scheduler assumes its worker died.
pub const STRANDED_AFTER: Duration = Duration::minutes(5);
/// How long an email may stay `sending` before it is declared of unknown outcome.
pub const STUCK_SENDING_AFTER: Duration = Duration::minutes(15);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    pub sent: usize,
    pub deferred: usize,
    pub stuck: usize,
    pub rescores: usize,
}

impl Engine {
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
                if !self.transition(&id, EmailStatus::Scheduled, change).await? {
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
            if self.transition(&id, EmailStatus::Sending, change).await? {
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

    /// Moves one email if it is still at `from`; false otherwise.
    async fn transition(
        &self,
        id: &crate::ids::EmailId,
        from: EmailStatus,
        change: StatusChange,
    ) -> Result<bool, crate::StoreError> {
        let m = EmailTransition {
            id: id.clone(),
            from,
            change,
            message_id: None,
        };
        Ok(self.transitions(vec![m]).await?.pop().unwrap_or(false))
    }
}
