//! The suppression list, keyed by lower-cased address: the policy checks it before
//! every decision and again before every send.

use crate::db::unexpected;
use crate::{Store, clamp_limit, decode_cursor, encode_cursor, ts};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::client::EmailAddress;
use engage_core::ports::{Page, Suppression, SuppressionStore};
use rusqlite::params;

fn parse_ts(at: &str) -> Result<DateTime<Utc>, StoreError> {
    Ok(DateTime::parse_from_rfc3339(at)
        .map_err(unexpected)?
        .to_utc())
}

#[async_trait]
impl SuppressionStore for Store {
    async fn add(
        &self,
        address: &EmailAddress,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Suppression, StoreError> {
        let (email, why) = (address.normalized(), reason.to_string());
        let created_at = self
            .db
            .write(move |c| {
                // A second add keeps the first time: the address was suppressed then.
                c.prepare_cached(
                    "INSERT INTO suppressions (email, reason, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (email) DO UPDATE SET reason = excluded.reason
                     RETURNING created_at",
                )
                .and_then(|mut s| {
                    s.query_row(params![email, why, ts(now)], |r| r.get::<_, String>(0))
                })
                .map_err(unexpected)
            })
            .await?;
        Ok(Suppression {
            email: address.normalized(),
            reason: reason.to_string(),
            created_at: parse_ts(&created_at)?,
        })
    }

    async fn remove(&self, address: &EmailAddress) -> Result<(), StoreError> {
        let email = address.normalized();
        let n = self
            .db
            .write(move |c| {
                c.execute("DELETE FROM suppressions WHERE email = ?1", [email])
                    .map_err(unexpected)
            })
            .await?;
        if n == 0 {
            Err(StoreError::NotFound)
        } else {
            Ok(())
        }
    }

    async fn get(&self, address: &EmailAddress) -> Result<Option<Suppression>, StoreError> {
        use rusqlite::OptionalExtension as _;
        let email = address.normalized();
        self.db
            .read(move |c| {
                let row = c
                    .prepare_cached(
                        "SELECT email, reason, created_at FROM suppressions WHERE email = ?1",
                    )
                    .and_then(|mut s| {
                        s.query_row([email], |r| {
                            Ok((
                                r.get::<_, String>(0)?,
                                r.get::<_, String>(1)?,
                                r.get::<_, String>(2)?,
                            ))
                        })
                        .optional()
                    })
                    .map_err(unexpected)?;
                row.map(|(email, reason, at)| {
                    Ok(Suppression {
                        email,
                        reason,
                        created_at: parse_ts(&at)?,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Suppression>, StoreError> {
        let limit = clamp_limit(limit);
        let after = cursor
            .as_deref()
            .map(|c| decode_cursor(c, 1))
            .transpose()?
            .map(|mut v| v.remove(0))
            .unwrap_or_default();
        self.db
            .read(move |c| {
                let mut s = c
                    .prepare_cached("SELECT email, reason, created_at FROM suppressions WHERE email > ?1 ORDER BY email LIMIT ?2")
                    .map_err(unexpected)?;
                let mut items = s
                    .query_map(params![after, limit as i64 + 1], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                    })
                    .map_err(unexpected)?
                    .map(|r| {
                        let (email, reason, at) = r.map_err(unexpected)?;
                        Ok(Suppression { email, reason, created_at: parse_ts(&at)? })
                    })
                    .collect::<Result<Vec<_>, StoreError>>()?;
                let next_cursor = if items.len() > limit as usize {
                    items.truncate(limit as usize);
                    items.last().map(|s| encode_cursor(&[&s.email]))
                } else {
                    None
                };
                Ok(Page { items, next_cursor })
            })
            .await
    }
}
