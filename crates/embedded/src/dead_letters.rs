//! The dead-letter queue as operators see it: a message that failed `max_receives`
//! times stays in `queue_messages` under its dead-letter queue's name, with its
//! `source_queue`, receive count and last error as they were when it died. Operators
//! list and inspect dead letters, then redrive them to their source queue once the
//! cause is fixed; processing is idempotent, so a redrive never repeats an effect.

use crate::db::unexpected;
use crate::{Store, clamp_limit, decode_cursor, encode_cursor};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::ports::{DeadLetter, DeadLetters, Page};
use rusqlite::{OptionalExtension, Row, params};

/// Dead letter ids are the message's row id behind this prefix.
const ID_PREFIX: &str = "msg_";

const COLUMNS: &str = "id, source_queue, body, receive_count, last_error, sent_at";

fn dead_letter_id(row_id: i64) -> String {
    format!("{ID_PREFIX}{row_id}")
}

/// The row id of a dead letter id; `None` for anything this store did not issue.
fn row_id(id: &str) -> Option<i64> {
    let digits = id.strip_prefix(ID_PREFIX)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

/// The body as JSON when it parses (an event), else as the raw text.
fn body_value(raw: String) -> serde_json::Value {
    serde_json::from_str(&raw).unwrap_or(serde_json::Value::String(raw))
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<DeadLetter> {
    let sent_ms: i64 = r.get(5)?;
    Ok(DeadLetter {
        id: dead_letter_id(r.get(0)?),
        source_queue: r.get(1)?,
        body: body_value(r.get(2)?),
        receive_count: r.get::<_, i64>(3)?.try_into().unwrap_or(u32::MAX),
        last_error: r.get(4)?,
        sent_at: DateTime::<Utc>::from_timestamp_millis(sent_ms).unwrap_or_default(),
    })
}

#[async_trait]
impl DeadLetters for Store {
    async fn list(
        &self,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<DeadLetter>, StoreError> {
        let limit = clamp_limit(limit);
        let after: i64 = match cursor.as_deref() {
            None => 0,
            Some(c) => decode_cursor(c, 1)?[0]
                .parse()
                .map_err(|_| StoreError::InvalidCursor)?,
        };
        self.db
            .read(move |c| {
                let mut s = c
                    .prepare_cached(&format!(
                        "SELECT {COLUMNS} FROM queue_messages WHERE source_queue IS NOT NULL AND id > ?1 ORDER BY id LIMIT ?2"
                    ))
                    .map_err(unexpected)?;
                let mut rows = s
                    .query_map(params![after, limit as i64 + 1], |r| {
                        Ok((r.get::<_, i64>(0)?, from_row(r)?))
                    })
                    .map_err(unexpected)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unexpected)?;
                let next_cursor = if rows.len() > limit as usize {
                    rows.truncate(limit as usize);
                    rows.last().map(|(id, _)| encode_cursor(&[&id.to_string()]))
                } else {
                    None
                };
                let items = rows.into_iter().map(|(_, d)| d).collect();
                Ok(Page { items, next_cursor })
            })
            .await
    }

    async fn get(&self, id: &str) -> Result<Option<DeadLetter>, StoreError> {
        let Some(row) = row_id(id) else {
            return Ok(None);
        };
        self.db
            .read(move |c| {
                c.query_row(
                    &format!(
                        "SELECT {COLUMNS} FROM queue_messages WHERE id = ?1 AND source_queue IS NOT NULL"
                    ),
                    [row],
                    from_row,
                )
                .optional()
                .map_err(unexpected)
            })
            .await
    }

    async fn redrive(&self, id: &str) -> Result<(), StoreError> {
        let row = row_id(id).ok_or(StoreError::NotFound)?;
        let now = self.now_ms();
        let n = self
            .db
            .write(move |c| {
                c.execute(&format!("{REDRIVE} AND id = ?2"), params![now, row])
                    .map_err(unexpected)
            })
            .await?;
        if n == 0 {
            return Err(StoreError::NotFound);
        }
        tracing::info!(message_id = row, "dead letter redriven");
        self.wake_workers();
        Ok(())
    }

    async fn redrive_all(&self) -> Result<u64, StoreError> {
        let now = self.now_ms();
        let n = self
            .db
            .write(move |c| c.execute(REDRIVE, [now]).map_err(unexpected))
            .await?;
        if n > 0 {
            tracing::info!(count = n, "dead letters redriven");
            self.wake_workers();
        }
        Ok(n as u64)
    }
}

/// Back to the source queue as a fresh message: visible now, no receipt, count 0.
/// The last error stays until the next failure replaces it.
const REDRIVE: &str = "UPDATE queue_messages SET queue = source_queue, source_queue = NULL, visible_at = ?1, receive_count = 0, receipt = NULL WHERE source_queue IS NOT NULL";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_foreign_ids_are_refused() {
        assert_eq!(dead_letter_id(42), "msg_42");
        assert_eq!(row_id("msg_42"), Some(42));
        for bad in [
            "42",
            "msg_",
            "msg_0",
            "msg_-1",
            "msg_4x",
            "msg_ 4",
            "evt_42",
            "msg_99999999999999999999",
        ] {
            assert_eq!(row_id(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bodies_are_json_when_they_parse() {
        assert_eq!(body_value(r#"{"a":1}"#.into())["a"], 1);
        assert_eq!(body_value("not json".into()), "not json");
    }
}
