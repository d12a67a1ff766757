//! Where the stream poller has got to, kept in the Ledger table so a restarted
//! `engage serve --backend aws` resumes after the last record it handled instead of
//! publishing the stream's last 24 hours again.
//!
//! One item per shard: `pk = "stream#<stream ARN>"`, `sk = "shard#<shard id>"`,
//! `after` (the sequence number of the last record whose events were published) and
//! `updated_at`. A new stream (the table's stream disabled and enabled again) has a
//! new ARN, so it starts with no positions. Positions of shards that aged out of the
//! stream are left behind: a few hundred bytes a day per shard, which a TTL could
//! take away, and which nothing reads once their stream is gone.
//!
//! A checkpoint is written after its events were published, so a crash in between
//! publishes them again on restart: at least once, as the email processor expects.

use crate::ddb::{Item, item, names, opt_s, s, ts, unexpected, values};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use chrono::Utc;
use engage_core::StoreError;
use std::collections::HashMap;

#[derive(Debug, Clone)]
pub struct StreamCheckpoints {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

fn stream_pk(stream_arn: &str) -> String {
    format!("stream#{stream_arn}")
}

const SHARD_PREFIX: &str = "shard#";

impl StreamCheckpoints {
    /// Checkpoints in `ledger_table`.
    pub fn new(client: aws_sdk_dynamodb::Client, ledger_table: impl Into<String>) -> Self {
        Self {
            client,
            table: ledger_table.into(),
        }
    }

    /// The positions kept for `stream_arn`: shard id → last sequence number handled.
    pub async fn load(&self, stream_arn: &str) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :shard)")
                .set_expression_attribute_names(names([("#pk", "pk"), ("#sk", "sk")]))
                .set_expression_attribute_values(values([
                    (":pk", s(stream_pk(stream_arn))),
                    (":shard", s(SHARD_PREFIX)),
                ]))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| {
                    unexpected(format!(
                        "reading the stream checkpoints: {}",
                        DisplayErrorContext(e)
                    ))
                })?;
            for i in page.items() {
                let shard = opt_s(i, "sk").and_then(|k| k.strip_prefix(SHARD_PREFIX));
                if let (Some(shard), Some(after)) = (shard, opt_s(i, "after")) {
                    out.insert(shard.to_string(), after.to_string());
                }
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    /// Records that `shard`'s records up to `after` were handled.
    pub async fn save(&self, stream_arn: &str, shard: &str, after: &str) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item([
                ("pk", s(stream_pk(stream_arn))),
                ("sk", s(format!("{SHARD_PREFIX}{shard}"))),
                ("after", s(after)),
                ("updated_at", s(ts(Utc::now()))),
            ])))
            .send()
            .await
            .map_err(|e| {
                unexpected(format!(
                    "writing a stream checkpoint: {}",
                    DisplayErrorContext(e)
                ))
            })?;
        Ok(())
    }
}
