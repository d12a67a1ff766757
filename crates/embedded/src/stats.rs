//! Counts for the operator's gauges (`/metrics`), read at scrape time. Each is one
//! query over an index, so a scrape costs no more than a page of the API.

use crate::db::unexpected;
use crate::{Store, ts};
use chrono::{DateTime, NaiveDate, Utc};
use engage_core::StoreError;
use engage_core::email::EmailStatus;
use engage_core::ports::EmailActivity;

impl Store {
    /// How many emails are in each status, every status listed (zero when none), so
    /// a gauge falls back to 0 when its last email moves on.
    pub async fn emails_by_status(&self) -> Result<Vec<(EmailStatus, u64)>, StoreError> {
        self.db
            .read(|c| {
                let mut s = c
                    .prepare_cached("SELECT status, COUNT(*) FROM emails GROUP BY status")
                    .map_err(unexpected)?;
                let rows = s
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(unexpected)?;
                let mut counts = EmailStatus::ALL.map(|status| (status, 0));
                for row in rows {
                    let (status, n) = row.map_err(unexpected)?;
                    let status = EmailStatus::parse(&status)
                        .ok_or_else(|| unexpected(format!("unknown email status `{status}`")))?;
                    if let Some(slot) = counts.iter_mut().find(|(s, _)| *s == status) {
                        slot.1 = n as u64;
                    }
                }
                Ok(counts.to_vec())
            })
            .await
    }

    /// The tokens and dollars of the emails a model wrote since `since` (by their
    /// creation time), to carry the day's LLM budget over a restart.
    pub async fn llm_spend_since(&self, since: DateTime<Utc>) -> Result<(u64, f64), StoreError> {
        let since = ts(since);
        self.db
            .read(move |c| {
                c.query_row(
                    "SELECT COALESCE(SUM(json_extract(c.body, '$.generation.tokens_in')
                                        + json_extract(c.body, '$.generation.tokens_out')), 0),
                            COALESCE(SUM(json_extract(c.body, '$.generation.cost_usd')), 0.0)
                     FROM emails e JOIN email_contents c ON c.id = e.id
                     WHERE e.created_at >= ?1",
                    [since],
                    |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, f64>(1)?)),
                )
                .map_err(unexpected)
            })
            .await
    }
}

/// The emails created at or after `since`, counted for the dashboard: one pass over
/// the period in the covering `emails_for_stats` index (schema step 6).
pub(crate) fn email_activity_in(
    c: &rusqlite::Connection,
    since: &str,
) -> Result<EmailActivity, StoreError> {
    let mut out = EmailActivity::default();
    let mut s = c
        .prepare_cached(
            "SELECT substr(created_at, 1, 10), status, COUNT(*),
                    SUM(generator LIKE 'llm:%'), SUM(generator = 'template'),
                    SUM(cost_usd), COUNT(cost_usd)
             FROM emails WHERE created_at >= ?1 GROUP BY 1, 2",
        )
        .map_err(unexpected)?;
    let rows = s
        .query_map([since], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<f64>>(5)?,
            ))
        })
        .map_err(unexpected)?;
    for row in rows {
        let (day, status, n, llm, template, cost) = row.map_err(unexpected)?;
        let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d").map_err(unexpected)?;
        let status = EmailStatus::parse(&status)
            .ok_or_else(|| unexpected(format!("unknown email status `{status}`")))?;
        out.per_day.push((day, status, n as u64));
        out.llm += llm as u64;
        out.template += template as u64;
        if let Some(cost) = cost {
            *out.llm_cost_usd.get_or_insert(0.0) += cost;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Durability;
    use chrono::{TimeZone, Utc};
    use engage_core::clock::ManualClock;
    use std::sync::Arc;

    #[tokio::test]
    async fn emails_by_status_lists_every_status_with_its_count() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap(),
        ));
        let store = Store::open(&dir.path().join("engage.db"), Durability::Normal, clock).unwrap();
        store
            .db
            .write(|c| {
                for (id, status) in [("e1", "sent"), ("e2", "sent"), ("e3", "pending")] {
                    c.execute(
                        "INSERT INTO emails (id, user_id, campaign, status, created_at, updated_at, state)
                         VALUES (?1, 'u1', 'welcome', ?2, '2026-03-02T12:00:00Z', '2026-03-02T12:00:00Z', '{}')",
                        [id, status],
                    )
                    .map_err(unexpected)?;
                }
                Ok(())
            })
            .await
            .unwrap();

        let counts = store.emails_by_status().await.unwrap();

        assert_eq!(counts.len(), EmailStatus::ALL.len());
        let count = |s| counts.iter().find(|(x, _)| *x == s).map(|(_, n)| *n);
        assert_eq!(count(EmailStatus::Sent), Some(2));
        assert_eq!(count(EmailStatus::Pending), Some(1));
        assert_eq!(count(EmailStatus::Failed), Some(0));
    }
}
