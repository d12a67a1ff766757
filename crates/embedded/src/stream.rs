//! The change stream's tailer: reads `user_changes` after its checkpoint, turns each
//! change into an event with the core's stream processor, and publishes the events
//! and advances the checkpoint in one transaction — so every change is published
//! exactly once, however often the process stops. Replay ([`StreamReplay`]) moves the
//! checkpoint back; event ids come from the changes, so a replay repeats no effect.

use crate::Store;
use crate::db::unexpected;
use crate::queue::{Handoff, Received, delete_in, publish_handing_off};
use async_trait::async_trait;
use chrono::DateTime;
use engage_core::StoreError;
use engage_core::change::{ChangeRecord, event_for_change};
use engage_core::ids::UserId;
use engage_core::ports::StreamReplay;
use engage_core::records::decode_client;
use rusqlite::{OptionalExtension, params};
use std::time::Duration;

const CHECKPOINT: &str = "stream";

impl Store {
    /// The change log's newest sequence number and the tailer's checkpoint.
    pub async fn stream_position(&self) -> Result<(i64, i64), StoreError> {
        self.db
            .read(|c| {
                let head: i64 = c
                    .query_row("SELECT COALESCE(MAX(seq), 0) FROM user_changes", [], |r| {
                        r.get(0)
                    })
                    .map_err(unexpected)?;
                let cp: i64 = c
                    .query_row(
                        "SELECT seq FROM checkpoints WHERE name = ?1",
                        [CHECKPOINT],
                        |r| r.get(0),
                    )
                    .optional()
                    .map_err(unexpected)?
                    .unwrap_or(0);
                Ok((head, cp))
            })
            .await
    }

    /// Change records after `seq`, oldest first.
    pub async fn changes_after(
        &self,
        seq: i64,
        limit: u32,
    ) -> Result<Vec<ChangeRecord>, StoreError> {
        self.db
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT seq, user_id, old_body, new_body, committed_at FROM user_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
                    )
                    .map_err(unexpected)?;
                let rows = s
                    .query_map(params![seq, limit as i64], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, String>(4)?,
                        ))
                    })
                    .map_err(unexpected)?;
                rows.map(|row| {
                    let (seq, user, old, new, at) = row.map_err(unexpected)?;
                    Ok(ChangeRecord {
                        seq: seq.to_string(),
                        user_id: UserId::from_string(user),
                        old: old.as_deref().map(decode_client).transpose()?,
                        new: new.as_deref().map(decode_client).transpose()?,
                        committed_at: DateTime::parse_from_rfc3339(&at).map_err(unexpected)?.to_utc(),
                    })
                })
                .collect()
            })
            .await
    }

    /// Publishes the events of up to `batch` new changes; returns how many changes it
    /// consumed. Decoding happens on a reader; the write only checks that the
    /// checkpoint has not moved (another tailer) and commits events + checkpoint.
    pub async fn pump(&self, batch: u32) -> Result<usize, StoreError> {
        Ok(self.pump_handing_off(batch, Handoff::default()).await?.0)
    }

    /// [`Store::pump`], handing up to `handoff.max` of the email queue's new messages
    /// straight to the caller as received (in flight, as a receive would leave them),
    /// and deleting `handoff.acks`, in the same write. A worker waiting for work then
    /// starts on them without a receive of its own: one write and one commit fewer
    /// between a change and its decision. Messages handed off but never processed
    /// reappear after the visibility timeout, like any received message.
    pub async fn pump_handing_off(
        &self,
        batch: u32,
        handoff: Handoff,
    ) -> Result<(usize, Vec<Received>), StoreError> {
        let (_, checkpoint) = self.stream_position().await?;
        let changes = self.changes_after(checkpoint, batch).await?;
        let Some(last) = changes.last() else {
            if !handoff.acks.is_empty() {
                self.delete_messages(handoff.acks).await?;
            }
            return Ok((0, Vec::new()));
        };
        let last_seq: i64 = last.seq.parse().map_err(unexpected)?;
        let events: Vec<_> = changes.iter().filter_map(event_for_change).collect();
        let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
        let now = self.now_ms();
        let received = self
            .db
            .write(move |c| {
                let cp: i64 = c
                    .query_row("SELECT seq FROM checkpoints WHERE name = ?1", [CHECKPOINT], |r| r.get(0))
                    .optional()
                    .map_err(unexpected)?
                    .unwrap_or(0);
                delete_in(c, &handoff.acks)?;
                if cp != checkpoint {
                    return Ok(None);
                }
                let received = publish_handing_off(c, &events, now, handoff.max, handoff.settings)?;
                c.execute(
                    "INSERT INTO checkpoints (name, seq) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                    params![CHECKPOINT, last_seq],
                )
                .map_err(unexpected)?;
                Ok(Some(received))
            })
            .await?;
        let Some(received) = received else {
            return Ok((0, Vec::new()));
        };
        for t in types {
            metrics::counter!("engage_events_total", "type" => t).increment(1);
        }
        self.wake_workers();
        Ok((changes.len(), received))
    }

    /// Moves the tailer's checkpoint back so changes after `seq` are published again
    /// (replay). Their events keep their ids, so already-decided ones are no-ops.
    pub async fn rewind_stream(&self, seq: i64) -> Result<(), StoreError> {
        self.replay_from(u64::try_from(seq).unwrap_or(0)).await?;
        Ok(())
    }

    /// Waits until a client write may have happened, or `timeout` passes.
    pub async fn wait_for_changes(&self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.changes.notified()).await;
    }
}

#[async_trait]
impl StreamReplay for Store {
    /// Sets the checkpoint back to `from` and answers how many changes lie after it.
    /// It never moves the checkpoint forward, which would skip changes not yet
    /// published. A `from` at or past the log's head changes nothing and answers 0.
    async fn replay_from(&self, from: u64) -> Result<u64, StoreError> {
        let from = i64::try_from(from).unwrap_or(i64::MAX);
        let changes = self
            .db
            .write(move |c| {
                let after: i64 = c
                    .query_row(
                        "SELECT COUNT(*) FROM user_changes WHERE seq > ?1",
                        [from],
                        |r| r.get(0),
                    )
                    .map_err(unexpected)?;
                if after > 0 {
                    c.execute(
                        "INSERT INTO checkpoints (name, seq) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET seq = MIN(seq, excluded.seq)",
                        params![CHECKPOINT, from],
                    )
                    .map_err(unexpected)?;
                }
                Ok(after as u64)
            })
            .await?;
        if changes > 0 {
            tracing::info!(from, changes, "change stream rewound for replay");
            self.changes.notify_one();
        }
        Ok(changes)
    }
}
