//! The ledger: event claims, decisions, emails and scores. A decision's claim, its
//! email and the client's score are written in one transaction, so a redelivered
//! event either finds all of them or none.

use crate::db::unexpected;
use crate::emails::{
    NewEmail, SELECT_EMAILS, email_from_row, finish_composing_in, get_email, insert_email,
    transition_in,
};
use crate::{Store, clamp_limit, decode_cursor, encode_cursor, ts};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::email::{Decision, Email, EmailStatus, EmailSummary, StatusChange};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::{
    Claim, CommitResult, ContextRequest, DecisionCommit, EmailActivity, EmailHistory, EmailQuery,
    EmailTransition, Ledger, LedgerContext, Page,
};
use engage_core::records::{decode_decision, decode_score, encode_decision, encode_score};
use engage_core::score::ScoreBreakdown;
use rusqlite::{Connection, OptionalExtension, params};

/// A client's last decided version and ledger sequence (0 before its first decision).
fn ledger_state(c: &Connection, user: &str) -> Result<(Option<u64>, u64), StoreError> {
    Ok(
        c.prepare_cached(
            "SELECT last_processed_version, ledger_seq FROM scores WHERE user_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([user], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                .optional()
        })
        .map_err(unexpected)?
        .map_or((None, 0), |(v, seq)| (Some(v as u64), seq as u64)),
    )
}

fn claim_of(c: &Connection, event: &str) -> Result<Option<Claim>, StoreError> {
    c.prepare_cached("SELECT decision_id, email_id FROM event_claims WHERE event_id = ?1")
        .and_then(|mut s| {
            s.query_row([event], |r| {
                Ok(Claim {
                    decision_id: DecisionId::from_string(r.get::<_, String>(0)?),
                    email_id: r.get::<_, Option<String>>(1)?.map(EmailId::from_string),
                })
            })
            .optional()
        })
        .map_err(unexpected)
}

fn ids(c: &Connection, sql: &str, a: &str, limit: u32) -> Result<Vec<EmailId>, StoreError> {
    let mut s = c.prepare_cached(sql).map_err(unexpected)?;
    let rows = s
        .query_map(params![a, limit as i64], |r| r.get::<_, String>(0))
        .map_err(unexpected)?;
    rows.map(|r| r.map(EmailId::from_string).map_err(unexpected))
        .collect()
}

/// What the processor reads before deciding for one client (see [`LedgerContext`]);
/// `since` bounds the recent emails.
fn context_in(
    c: &Connection,
    r: &ContextRequest,
    since: &str,
) -> Result<LedgerContext, StoreError> {
    let claim = match &r.event {
        Some(e) => claim_of(c, e.as_str())?,
        None => None,
    };
    let (last_processed_version, ledger_seq) = ledger_state(c, r.user.as_str())?;
    let mut s = c
        .prepare_cached(
            "SELECT campaign, status, created_at FROM emails WHERE user_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC, id DESC",
        )
        .map_err(unexpected)?;
    let recent_emails = s
        .query_map(params![r.user.as_str(), since], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(unexpected)?
        .map(|row| {
            let (campaign, status, created) = row.map_err(unexpected)?;
            Ok(EmailSummary {
                campaign,
                status: EmailStatus::parse(&status)
                    .ok_or_else(|| unexpected(format!("status `{status}`")))?,
                created_at: DateTime::parse_from_rfc3339(&created)
                    .map_err(unexpected)?
                    .to_utc(),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let suppressed = match &r.address {
        Some(a) => c
            .prepare_cached("SELECT 1 FROM suppressions WHERE email = ?1")
            .and_then(|mut s| s.exists([a.normalized()]))
            .map_err(unexpected)?,
        None => false,
    };
    Ok(LedgerContext::new(
        claim,
        last_processed_version,
        recent_emails,
        suppressed,
        ledger_seq,
    ))
}

/// A decision commit with its JSON documents encoded before it reaches the writer
/// thread, which is the one resource every write shares.
struct Encoded {
    commit: DecisionCommit,
    decision: Option<String>,
    email: Option<NewEmail>,
    score: Option<String>,
}

impl Encoded {
    fn new(commit: DecisionCommit) -> Result<Self, StoreError> {
        Ok(Self {
            decision: commit.decision.as_ref().map(encode_decision).transpose()?,
            email: commit.email.clone().map(NewEmail::encode).transpose()?,
            score: commit.score.as_ref().map(encode_score).transpose()?,
            commit,
        })
    }
}

/// Writes one decision's claim, decision, email and score, unless the event is
/// already claimed or the client's ledger moved on since `expected_ledger_seq`.
fn commit_in(c: &Connection, encoded: &Encoded) -> Result<CommitResult, StoreError> {
    let Encoded {
        commit,
        decision: decision_body,
        email: email_body,
        score: score_body,
    } = encoded;
    let claim = claim_of(c, commit.event_id.as_str())?;
    if claim.is_some() || ledger_state(c, commit.user_id.as_str())?.1 != commit.expected_ledger_seq
    {
        return Ok(CommitResult::refused(claim));
    }
    if let Some(d) = &commit.decision {
        c.prepare_cached(
            "INSERT INTO event_claims (event_id, decision_id, email_id, claimed_at) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut s| {
            s.execute(params![
                commit.event_id.as_str(),
                d.id.as_str(),
                commit.email.as_ref().map(|e| e.id.as_str()),
                ts(d.at)
            ])
        })
        .map_err(unexpected)?;
        c.prepare_cached("INSERT INTO decisions (id, user_id, at, body) VALUES (?1, ?2, ?3, ?4)")
            .and_then(|mut s| {
                s.execute(params![
                    d.id.as_str(),
                    d.user_id.as_str(),
                    ts(d.at),
                    decision_body
                ])
            })
            .map_err(unexpected)?;
    }
    if let Some(e) = email_body {
        insert_email(c, e)?;
    }
    if let Some(s) = &commit.score {
        c.prepare_cached(
            "INSERT INTO scores (user_id, score, tier, last_processed_version, next_rescore_at, body, ledger_seq)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
             ON CONFLICT (user_id) DO UPDATE SET score = excluded.score, tier = excluded.tier,
               last_processed_version = max(last_processed_version, excluded.last_processed_version),
               next_rescore_at = excluded.next_rescore_at, body = excluded.body,
               ledger_seq = ledger_seq + 1",
        )
        .and_then(|mut st| {
            st.execute(params![
                commit.user_id.as_str(),
                s.score as i64,
                s.tier.as_str(),
                commit.processed_version as i64,
                ts(commit.next_rescore_at),
                score_body
            ])
        })
        .map_err(unexpected)?;
        // The lists' copy (schema step 6); no row when the client is gone. A rescore
        // that moved neither leaves the row alone.
        c.prepare_cached(
            "UPDATE user_index SET score = ?2, tier = ?3 WHERE id = ?1 AND (score != ?2 OR tier IS NOT ?3)",
        )
        .and_then(|mut st| st.execute(params![commit.user_id.as_str(), s.score as i64, s.tier.as_str()]))
        .map_err(unexpected)?;
    }
    Ok(CommitResult::Committed)
}

#[async_trait]
impl Ledger for Store {
    async fn contexts(
        &self,
        requests: &[ContextRequest],
        since: DateTime<Utc>,
    ) -> Result<Vec<LedgerContext>, StoreError> {
        let requests = requests.to_vec();
        let since = ts(since);
        self.db
            .read(move |c| requests.iter().map(|r| context_in(c, r, &since)).collect())
            .await
    }

    async fn claim_of(&self, event: &EventId) -> Result<Option<Claim>, StoreError> {
        let event = event.clone();
        self.db.read(move |c| claim_of(c, event.as_str())).await
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
        let composing = commits.iter().any(|c| {
            c.email
                .as_ref()
                .is_some_and(|e| e.status == EmailStatus::Composing)
        });
        let encoded = commits
            .into_iter()
            .map(Encoded::new)
            .collect::<Result<Vec<_>, _>>()?;
        let results = self
            .db
            .write(move |c| encoded.iter().map(|e| commit_in(c, e)).collect())
            .await?;
        if composing {
            self.wake_writers();
        }
        Ok(results)
    }

    async fn get_email(&self, id: &EmailId) -> Result<Option<Email>, StoreError> {
        let id = id.clone();
        self.db.read(move |c| get_email(c, id.as_str())).await
    }

    async fn transition(
        &self,
        id: &EmailId,
        from: EmailStatus,
        change: StatusChange,
        message_id: Option<String>,
    ) -> Result<bool, StoreError> {
        let m = EmailTransition {
            id: id.clone(),
            from,
            change,
            message_id,
        };
        self.db.write(move |c| transition_in(c, m)).await
    }

    async fn transition_many(&self, moves: Vec<EmailTransition>) -> Result<Vec<bool>, StoreError> {
        self.db
            .write(move |c| moves.into_iter().map(|m| transition_in(c, m)).collect())
            .await
    }

    async fn emails_to_deliver(
        &self,
        now: DateTime<Utc>,
        stranded_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let (now, stranded) = (ts(now), ts(stranded_before));
        self.db
            .read(move |c| {
                let mut out = ids(c, "SELECT id FROM emails WHERE status = 'scheduled' AND due_at <= ?1 ORDER BY due_at LIMIT ?2", &now, limit)?;
                out.extend(ids(c, "SELECT id FROM emails WHERE status = 'pending' AND due_at <= ?1 ORDER BY due_at LIMIT ?2", &stranded, limit)?);
                Ok(out)
            })
            .await
    }

    async fn claim_composing(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let (now, lease) = (ts(now), ts(lease_until));
        self.db
            .write(move |c| {
                let mut s = c
                    .prepare_cached(
                        "UPDATE emails SET due_at = ?2 WHERE id IN (
                           SELECT id FROM emails WHERE status = 'composing' AND due_at <= ?1
                           ORDER BY due_at LIMIT ?3)
                         RETURNING id",
                    )
                    .map_err(unexpected)?;
                let rows = s
                    .query_map(params![now, lease, limit as i64], |r| r.get::<_, String>(0))
                    .map_err(unexpected)?;
                rows.map(|r| r.map(EmailId::from_string).map_err(unexpected))
                    .collect()
            })
            .await
    }

    async fn finish_composing(&self, email: Email) -> Result<bool, StoreError> {
        let new = NewEmail::encode(email)?;
        self.db.write(move |c| finish_composing_in(c, &new)).await
    }

    async fn stuck_sending(
        &self,
        before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        let before = ts(before);
        self.db
            .read(move |c| ids(c, "SELECT id FROM emails WHERE status = 'sending' AND due_at <= ?1 ORDER BY due_at LIMIT ?2", &before, limit))
            .await
    }

    async fn take_due_rescores(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<(UserId, u64)>, StoreError> {
        let (now, lease) = (ts(now), ts(lease_until));
        self.db
            .write(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT s.user_id, u.version FROM scores s JOIN users u ON u.id = s.user_id
                         WHERE s.next_rescore_at <= ?1 ORDER BY s.next_rescore_at LIMIT ?2",
                    )
                    .map_err(unexpected)?;
                let due = s
                    .query_map(params![now, limit as i64], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })
                    .map_err(unexpected)?
                    .map(|r| {
                        r.map(|(u, v)| (UserId::from_string(u), v as u64))
                            .map_err(unexpected)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let mut up = c
                    .prepare_cached("UPDATE scores SET next_rescore_at = ?2 WHERE user_id = ?1")
                    .map_err(unexpected)?;
                for (u, _) in &due {
                    up.execute(params![u.as_str(), lease]).map_err(unexpected)?;
                }
                Ok(due)
            })
            .await
    }
}

#[async_trait]
impl EmailHistory for Store {
    async fn list_emails(&self, q: &EmailQuery) -> Result<Page<Email>, StoreError> {
        let limit = clamp_limit(q.limit);
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?;
        let q = q.clone();
        self.db
            .read(move |c| {
                let mut sql = format!("{SELECT_EMAILS} WHERE 1 = 1");
                let mut args: Vec<String> = Vec::new();
                if let Some(u) = &q.user_id {
                    sql.push_str(" AND e.user_id = ?");
                    args.push(u.to_string());
                }
                if let Some(s) = q.status {
                    sql.push_str(" AND e.status = ?");
                    args.push(s.as_str().into());
                }
                if let Some(camp) = &q.campaign {
                    sql.push_str(" AND e.campaign = ?");
                    args.push(camp.clone());
                }
                if let Some(a) = &after {
                    sql.push_str(" AND (e.created_at, e.id) < (?, ?)");
                    args.extend(a.iter().cloned());
                }
                sql.push_str(&format!(
                    " ORDER BY e.created_at DESC, e.id DESC LIMIT {}",
                    limit + 1
                ));
                page(c, &sql, &args, limit, email_from_row)
            })
            .await
    }

    async fn list_decisions(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Decision>, StoreError> {
        let limit = clamp_limit(limit);
        let after = cursor.as_deref().map(|c| decode_cursor(c, 2)).transpose()?;
        let user = user.clone();
        self.db
            .read(move |c| {
                let mut sql = String::from("SELECT at, id, body FROM decisions WHERE user_id = ?");
                let mut args = vec![user.to_string()];
                if let Some(a) = &after {
                    sql.push_str(" AND (at, id) < (?, ?)");
                    args.extend(a.iter().cloned());
                }
                sql.push_str(&format!(" ORDER BY at DESC, id DESC LIMIT {}", limit + 1));
                page(c, &sql, &args, limit, |r| {
                    decode_decision(&r.get::<_, String>(2).map_err(unexpected)?)
                })
            })
            .await
    }

    async fn stored_score(&self, user: &UserId) -> Result<Option<ScoreBreakdown>, StoreError> {
        let user = user.clone();
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT body FROM scores WHERE user_id = ?1",
                    [user.as_str()],
                    |r| r.get::<_, Option<String>>(0),
                )
                .optional()
                .map_err(unexpected)?
                .flatten()
                .map(|b| decode_score(&b))
                .transpose()
            })
            .await
    }

    async fn email_activity(&self, since: DateTime<Utc>) -> Result<EmailActivity, StoreError> {
        let since = ts(since);
        self.db
            .read(move |c| crate::stats::email_activity_in(c, &since))
            .await
    }
}

/// Runs a `(sort key, id, …)` query fetched with `limit + 1` rows and makes a page,
/// decoding each row with `item`.
fn page<T>(
    c: &Connection,
    sql: &str,
    args: &[String],
    limit: u32,
    item: impl Fn(&rusqlite::Row) -> Result<T, StoreError>,
) -> Result<Page<T>, StoreError> {
    let mut s = c.prepare_cached(sql).map_err(unexpected)?;
    let mut rows = s
        .query(rusqlite::params_from_iter(args.iter()))
        .map_err(unexpected)?;
    let mut items = Vec::new();
    let mut last: Option<(String, String)> = None;
    while let Some(r) = rows.next().map_err(unexpected)? {
        if items.len() == limit as usize {
            let cursor = last.map(|(k, i)| encode_cursor(&[&k, &i]));
            return Ok(Page {
                items,
                next_cursor: cursor,
            });
        }
        items.push(item(r)?);
        let key = (|| Ok::<_, rusqlite::Error>((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))()
            .map_err(unexpected)?;
        last = Some(key);
    }
    Ok(Page {
        items,
        next_cursor: None,
    })
}
