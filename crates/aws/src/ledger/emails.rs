//! Emails' status moves and the sweeps that find them: due emails from `byStatus`
//! (to deliver, stuck sending), the composing leases and their finish.

use super::items::{due_at, email_key, state_json};
use super::{CONCURRENCY, DynamoLedger};
use crate::ddb::{clamp_limit, condition_failed, names, req_s, s, sdk_error, ts, values};
use crate::tables::keys;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::email::{Email, EmailStatus};
use engage_core::ids::EmailId;
use engage_core::ports::EmailTransition;
use engage_core::records::{decode_delivery_state, encode_delivery_state, encode_email};
use futures_util::{StreamExt, TryStreamExt};
use std::collections::{HashMap, HashSet};

/// Tries of a status move whose item changed between its read and its write.
const TRANSITION_TRIES: u32 = 10;

impl DynamoLedger {
    /// `(email id, due_at)` of up to `limit` emails in `status` due at `until` or
    /// before, earliest first, from `byStatus` (which may lag the table a little).
    fn due_query(&self, status: EmailStatus, until: &str, limit: u32) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.emails)
            .index_name(keys::BY_STATUS)
            .key_condition_expression("#status = :status AND #due <= :until")
            .set_expression_attribute_names(names([("#status", "status"), ("#due", "due_at")]))
            .set_expression_attribute_values(values([
                (":status", s(status.as_str())),
                (":until", s(until)),
            ]))
            .scan_index_forward(true)
            .limit(clamp_limit(limit) as i32)
    }

    pub(super) async fn due_ids(
        &self,
        status: EmailStatus,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let limit = limit as usize;
        let query = self.due_query(status, &ts(until), limit as u32);
        let mut out = Vec::new();
        let mut start = None;
        while out.len() < limit {
            let (items, next) = self.page(&query, start, "byStatus").await?;
            for i in &items {
                if out.len() < limit {
                    out.push(EmailId::from_string(req_s(i, keys::PK)?));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }

    /// Moves one email to `m.change.status` if it is still at `m.from`: reads its
    /// state, appends the change and writes it back on condition that neither the
    /// status nor the state changed meanwhile (re-reading if only the state did).
    pub(super) async fn transition_one(&self, m: EmailTransition) -> Result<bool, StoreError> {
        for _ in 0..TRANSITION_TRIES {
            let found = self
                .client
                .get_item()
                .table_name(&self.emails)
                .set_key(Some(email_key(m.id.as_str())))
                .consistent_read(true)
                .projection_expression("#status, #state")
                .set_expression_attribute_names(names([("#status", "status"), ("#state", "state")]))
                .send()
                .await
                .map_err(|e| sdk_error("GetItem (email state)", e))?
                .item;
            let Some(found) = found else {
                return Ok(false);
            };
            if req_s(&found, "status")? != m.from.as_str() {
                return Ok(false);
            }
            let old_state = req_s(&found, "state")?;
            let mut state = decode_delivery_state(old_state)?;
            let to = m.change.status;
            let at = ts(m.change.at);
            state.record(m.change.clone(), m.message_id.clone());
            // A scheduled email keeps its due time; any other status is due from now.
            let update = if to == EmailStatus::Scheduled {
                "SET #status = :to, #updated = :at, #state = :state"
            } else {
                "SET #status = :to, #updated = :at, #state = :state, #due = :at"
            };
            let mut names = HashMap::from([
                ("#status".to_string(), "status".to_string()),
                ("#updated".to_string(), "updated_at".to_string()),
                ("#state".to_string(), "state".to_string()),
            ]);
            if to != EmailStatus::Scheduled {
                names.insert("#due".into(), "due_at".into());
            }
            let result = self
                .client
                .update_item()
                .table_name(&self.emails)
                .set_key(Some(email_key(m.id.as_str())))
                .update_expression(update)
                .condition_expression("#status = :from AND #state = :old")
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(values([
                    (":to", s(to.as_str())),
                    (":at", s(at)),
                    (":state", s(encode_delivery_state(&state)?)),
                    (":from", s(m.from.as_str())),
                    (":old", s(old_state)),
                ]))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(true),
                Err(e) if condition_failed(&e) => continue,
                Err(e) => return Err(sdk_error("UpdateItem (email status)", e)),
            }
        }
        Err(StoreError::Transient(format!(
            "dynamodb: email {} kept changing while moving it from {}",
            m.id,
            m.from.as_str()
        )))
    }

    /// Moves an email's `due_at` from `seen` to `lease` if it is still `composing`
    /// there; false when another writer took it first.
    async fn lease_composing(&self, id: &str, seen: &str, lease: &str) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.emails)
            .set_key(Some(email_key(id)))
            .update_expression("SET #due = :lease")
            .condition_expression("#status = :composing AND #due = :seen")
            .set_expression_attribute_names(names([("#status", "status"), ("#due", "due_at")]))
            .set_expression_attribute_values(values([
                (":lease", s(lease)),
                (":composing", s(EmailStatus::Composing.as_str())),
                (":seen", s(seen)),
            ]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem (composing lease)", e)),
        }
    }

    /// Leases up to `limit` composing emails due at `now` (moves their `due_at` to
    /// `lease_until`), earliest first; one another sweeper took first is skipped.
    pub(super) async fn lease_due_composing(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let limit = limit as usize;
        let lease = ts(lease_until);
        let query = self.due_query(EmailStatus::Composing, &ts(now), limit as u32);
        let mut out: Vec<EmailId> = Vec::new();
        let mut tried: HashSet<String> = HashSet::new();
        let mut start = None;
        while out.len() < limit {
            let (items, next) = self.page(&query, start, "byStatus").await?;
            let candidates = items
                .iter()
                .map(|i| {
                    Ok((
                        req_s(i, keys::PK)?.to_string(),
                        req_s(i, "due_at")?.to_string(),
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?
                .into_iter()
                .filter(|(id, _)| tried.insert(id.clone()))
                .take(limit - out.len());
            let leased: Vec<(String, bool)> = futures_util::stream::iter(candidates)
                .map(|(id, seen)| {
                    let lease = &lease;
                    async move {
                        let ok = self.lease_composing(&id, &seen, lease).await?;
                        Ok::<_, StoreError>((id, ok))
                    }
                })
                .buffered(CONCURRENCY)
                .try_collect()
                .await?;
            out.extend(
                leased
                    .into_iter()
                    .filter(|(_, ok)| *ok)
                    .map(|(id, _)| EmailId::from_string(id)),
            );
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        Ok(out)
    }

    /// Writes a composed email, if it is still composing.
    pub(super) async fn finish_composing_one(&self, email: Email) -> Result<bool, StoreError> {
        let updated = ts(email
            .status_history
            .last()
            .map_or(email.created_at, |h| h.at));
        let result = self
            .client
            .update_item()
            .table_name(&self.emails)
            .set_key(Some(email_key(email.id.as_str())))
            .update_expression(
                "SET #status = :to, #due = :due, #updated = :updated, #state = :state, #body = :body",
            )
            .condition_expression("#status = :composing")
            .set_expression_attribute_names(names([
                ("#status", "status"),
                ("#due", "due_at"),
                ("#updated", "updated_at"),
                ("#state", "state"),
                ("#body", "body"),
            ]))
            .set_expression_attribute_values(values([
                (":to", s(email.status.as_str())),
                (":due", s(due_at(&email))),
                (":updated", s(updated)),
                (":state", s(state_json(&email)?)),
                (":body", s(encode_email(&email)?)),
                (":composing", s(EmailStatus::Composing.as_str())),
            ]))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(sdk_error("UpdateItem (finish composing)", e)),
        }
    }
}
