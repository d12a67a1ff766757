//! The `Ledger` in memory: claims, decisions, emails and scores under the store's one
//! lock, so a commit (or a batch of them) is all-or-nothing and two commits naming
//! the same `ledger_seq` cannot both succeed.

use super::{MemoryStore, ScoreRow, State, StoredEmail};
use crate::StoreError;
use crate::email::{Decision, DeliveryState, Email, EmailStatus, EmailSummary, StatusChange};
use crate::ids::{EmailId, EventId, UserId};
use crate::keys::{clamp_limit, decode_cursor, encode_cursor, sortable_time};
use crate::ports::{
    Claim, CommitResult, ContextRequest, DecisionCommit, EmailActivity, EmailHistory, EmailQuery,
    EmailTransition, Ledger, LedgerContext, Page,
};
use crate::score::ScoreBreakdown;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::collections::HashMap;

fn unexpected(why: impl std::fmt::Display) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!("{why}"))
}

impl State {
    fn context(&self, r: &ContextRequest, since: DateTime<Utc>) -> LedgerContext {
        let claim = r.event.as_ref().and_then(|e| self.claims.get(e).cloned());
        let (last_processed_version, ledger_seq) =
            self.scores.get(&r.user).map_or((None, 0), |s| {
                (Some(s.last_processed_version), s.ledger_seq)
            });
        let mut recent: Vec<&Email> = self
            .emails
            .values()
            .map(|s| &s.email)
            .filter(|e| e.user_id == r.user && e.created_at >= since)
            .collect();
        recent.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        let recent_emails = recent
            .into_iter()
            .map(|e| EmailSummary {
                campaign: e.campaign.clone(),
                status: e.status,
                created_at: e.created_at,
            })
            .collect();
        let suppressed = r
            .address
            .as_ref()
            .is_some_and(|a| self.suppressions.contains_key(&a.normalized()));
        LedgerContext::new(
            claim,
            last_processed_version,
            recent_emails,
            suppressed,
            ledger_seq,
        )
    }

    /// One decision's writes, unless its event is claimed (first) or its client's
    /// ledger moved on. An email id already recorded fails the whole call.
    fn commit(&mut self, commit: DecisionCommit) -> Result<CommitResult, StoreError> {
        let claim = self.claims.get(&commit.event_id).cloned();
        let seq = self.scores.get(&commit.user_id).map_or(0, |s| s.ledger_seq);
        if claim.is_some() || seq != commit.expected_ledger_seq {
            return Ok(CommitResult::refused(claim));
        }
        if let Some(e) = &commit.email
            && self.emails.contains_key(&e.id)
        {
            return Err(unexpected(format!("email `{}` is already recorded", e.id)));
        }
        if let Some(d) = commit.decision {
            self.claims.insert(
                commit.event_id.clone(),
                Claim {
                    decision_id: d.id.clone(),
                    email_id: commit.email.as_ref().map(|e| e.id.clone()),
                },
            );
            self.decisions.push(d);
        }
        if let Some(e) = commit.email {
            self.emails.insert(
                e.id.clone(),
                StoredEmail {
                    due_at: e.due_at(),
                    email: e,
                },
            );
        }
        if let Some(score) = commit.score {
            let row = self
                .scores
                .entry(commit.user_id.clone())
                .or_insert(ScoreRow {
                    breakdown: None,
                    last_processed_version: commit.processed_version,
                    next_rescore_at: commit.next_rescore_at,
                    ledger_seq: 0,
                });
            row.breakdown = Some(score);
            row.last_processed_version = row.last_processed_version.max(commit.processed_version);
            row.next_rescore_at = commit.next_rescore_at;
            row.ledger_seq += 1;
        }
        Ok(CommitResult::Committed)
    }

    fn transition(&mut self, m: EmailTransition) -> bool {
        let Some(stored) = self.emails.get_mut(&m.id) else {
            return false;
        };
        if stored.email.status != m.from {
            return false;
        }
        let to = m.change.status;
        let at = m.change.at;
        let mut state = DeliveryState::of(&stored.email);
        state.record(m.change, m.message_id);
        state.apply_to(&mut stored.email);
        stored.email.status = to;
        // A scheduled email keeps its due time; any other status is due from now.
        if to != EmailStatus::Scheduled {
            stored.due_at = at;
        }
        true
    }

    /// The ids of emails in `status` due at or before `before`, soonest first.
    fn due(&self, status: EmailStatus, before: DateTime<Utc>, limit: u32) -> Vec<EmailId> {
        let mut due: Vec<&StoredEmail> = self
            .emails
            .values()
            .filter(|s| s.email.status == status && s.due_at <= before)
            .collect();
        due.sort_by(|a, b| (a.due_at, &a.email.id).cmp(&(b.due_at, &b.email.id)));
        due.into_iter()
            .take(limit as usize)
            .map(|s| s.email.id.clone())
            .collect()
    }
}

/// A page of `items` sorted newest first by `(time, id)`, after the cursor's.
fn page<T>(
    mut items: Vec<(String, String, T)>,
    cursor: Option<&str>,
    limit: u32,
) -> Result<Page<T>, StoreError> {
    let limit = clamp_limit(limit) as usize;
    let after = cursor.map(|c| decode_cursor(c, 2)).transpose()?;
    items.sort_by(|a, b| (&b.0, &b.1).cmp(&(&a.0, &a.1)));
    if let Some(a) = &after {
        items.retain(|(t, id, _)| (t, id) < (&a[0], &a[1]));
    }
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = items
        .last()
        .filter(|_| more)
        .map(|(t, id, _)| encode_cursor(&[t, id]));
    Ok(Page {
        items: items.into_iter().map(|(_, _, x)| x).collect(),
        next_cursor,
    })
}

#[async_trait]
impl Ledger for MemoryStore {
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerContext>, StoreError> {
        let state = self.state();
        Ok(requests.iter().map(|r| state.context(r, since)).collect())
    }

    async fn claim_of(&self, event: &EventId) -> Result<Option<Claim>, StoreError> {
        Ok(self.state().claims.get(event).cloned())
    }

    async fn commit(&self, commit: DecisionCommit) -> Result<CommitResult, StoreError> {
        Ok(self
            .commit_many(vec![commit])
            .await?
            .pop()
            .expect("one result per commit"))
    }

    async fn commit_many(
        &self,
        commits: Vec<DecisionCommit>,
    ) -> Result<Vec<CommitResult>, StoreError> {
        let mut state = self.state();
        // One transaction: a failing commit leaves none of the batch written.
        let before = state.clone();
        let results: Result<Vec<_>, _> = commits.into_iter().map(|c| state.commit(c)).collect();
        if results.is_err() {
            *state = before;
        }
        results
    }

    async fn get_email(&self, id: &EmailId) -> Result<Option<Email>, StoreError> {
        Ok(self.state().emails.get(id).map(|s| s.email.clone()))
    }

    async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        change: StatusChange,
        message_id: Option<String>,
    ) -> Result<bool, StoreError> {
        Ok(self.state().transition(EmailTransition {
            id: id.clone(),
            from,
            change,
            message_id,
        }))
    }

    async fn transition_many(&self, moves: Vec<EmailTransition>) -> Result<Vec<bool>, StoreError> {
        let mut state = self.state();
        Ok(moves.into_iter().map(|m| state.transition(m)).collect())
    }

    async fn emails_to_deliver(
        &self,
        now: DateTime<Utc>,
        stranded_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let state = self.state();
        let mut out = state.due(EmailStatus::Scheduled, now, limit);
        out.extend(state.due(EmailStatus::Pending, stranded_before, limit));
        Ok(out)
    }

    async fn claim_composing(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let mut state = self.state();
        let ids = state.due(EmailStatus::Composing, now, limit);
        for id in &ids {
            state.emails.get_mut(id).expect("just listed").due_at = lease_until;
        }
        Ok(ids)
    }

    async fn finish_composing(&self, email: Email) -> Result<bool, StoreError> {
        let mut state = self.state();
        match state.emails.get_mut(&email.id) {
            Some(stored) if stored.email.status == EmailStatus::Composing => {
                stored.due_at = email.due_at();
                stored.email = email;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn stuck_sending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        Ok(self.state().due(EmailStatus::Sending, before, limit))
    }

    async fn take_due_rescores(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(UserId, u64)>, StoreError> {
        let mut state = self.state();
        let mut due: Vec<(DateTime<Utc>, UserId, u64)> = state
            .scores
            .iter()
            .filter(|(_, s)| s.next_rescore_at <= now)
            .filter_map(|(u, s)| {
                let version = state.clients.get(u)?.version;
                Some((s.next_rescore_at, u.clone(), version))
            })
            .collect();
        due.sort();
        due.truncate(limit as usize);
        for (_, u, _) in &due {
            state.scores.get_mut(u).expect("just read").next_rescore_at = lease_until;
        }
        Ok(due.into_iter().map(|(_, u, v)| (u, v)).collect())
    }
}

#[async_trait]
impl EmailHistory for MemoryStore {
    async fn list_emails(&self, q: &EmailQuery) -> Result<Page<Email>, StoreError> {
        let items = self
            .state()
            .emails
            .values()
            .map(|s| &s.email)
            .filter(|e| q.user_id.as_ref().is_none_or(|u| &e.user_id == u))
            .filter(|e| q.status.is_none_or(|s| e.status == s))
            .filter(|e| q.campaign.as_ref().is_none_or(|c| &e.campaign == c))
            .map(|e| (sortable_time(e.created_at), e.id.to_string(), e.clone()))
            .collect();
        page(items, q.cursor.as_deref(), q.limit)
    }

    async fn list_decisions(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Decision>, StoreError> {
        let items = self
            .state()
            .decisions
            .iter()
            .filter(|d| &d.user_id == user)
            .map(|d| (sortable_time(d.at), d.id.to_string(), d.clone()))
            .collect();
        page(items, cursor.as_deref(), limit)
    }

    async fn stored_score(&self, user: &UserId) -> Result<Option<ScoreBreakdown>, StoreError> {
        Ok(self
            .state()
            .scores
            .get(user)
            .and_then(|s| s.breakdown.clone()))
    }

    async fn email_activity(&self, since: DateTime<Utc>) -> Result<EmailActivity, StoreError> {
        let state = self.state();
        let mut out = EmailActivity::default();
        let mut per_day = HashMap::new();
        for e in state.emails.values().map(|s| &s.email) {
            if e.created_at < since {
                continue;
            }
            *per_day
                .entry((e.created_at.date_naive(), e.status))
                .or_insert(0) += 1;
            if e.generator.starts_with("llm:") {
                out.llm += 1;
            } else if e.generator == "template" {
                out.template += 1;
            }
            if let Some(cost) = e.generation.as_ref().and_then(|g| g.cost_usd) {
                *out.llm_cost_usd.get_or_insert(0.0) += cost;
            }
        }
        out.per_day = per_day
            .into_iter()
            .map(|((day, status), n)| (day, status, n))
            .collect();
        Ok(out)
    }
}
