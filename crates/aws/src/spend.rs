//! The LLM's daily spending shared by every mailer ([`DynamoSpendTally`]): on Lambda
//! each execution environment writes emails, and a budget counted per process would
//! let each spend the whole day's limit.
//!
//! One Ledger item per UTC day: `pk = "llm_spend#<YYYY-MM-DD>"`, `sk = "spend"`,
//! `tokens` (N) and `micro_usd` (N, millionths of a dollar), added to atomically
//! (`ADD`, which also creates the item), and `expires_at` (epoch seconds, a week on,
//! for a TTL if the table has one). Writers that answer at the same moment may each
//! pass the budget check before either adds: the overshoot is bounded by the writers
//! in flight, as with one process.

use crate::ddb::{item, n, names, s, unexpected, values};
use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::NaiveDate;
use engage_core::StoreError;
use engage_core::ports::SpendTally;

#[derive(Debug, Clone)]
pub struct DynamoSpendTally {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoSpendTally {
    /// The tally in `ledger_table`.
    pub fn new(client: aws_sdk_dynamodb::Client, ledger_table: impl Into<String>) -> Self {
        Self {
            client,
            table: ledger_table.into(),
        }
    }
}

#[async_trait]
impl SpendTally for DynamoSpendTally {
    async fn add(&self, day: NaiveDate, tokens: u64, usd: f64) -> Result<(u64, f64), StoreError> {
        let micro = (usd.max(0.0) * 1e6).round() as u64;
        let expires = day
            .and_hms_opt(0, 0, 0)
            .map_or(0, |t| t.and_utc().timestamp() + 8 * 86_400)
            .max(0) as u64;
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(item([
                ("pk", s(format!("llm_spend#{day}"))),
                ("sk", s("spend")),
            ])))
            .update_expression("ADD #t :t, #u :u SET #e = :e")
            .set_expression_attribute_names(names([
                ("#t", "tokens"),
                ("#u", "micro_usd"),
                ("#e", "expires_at"),
            ]))
            .set_expression_attribute_values(values([
                (":t", n(tokens)),
                (":u", n(micro)),
                (":e", n(expires)),
            ]))
            // Every attribute, not just the updated ones: adding nothing (a read) changes
            // no value, and the emulator then leaves the totals out of UPDATED_NEW.
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| {
                unexpected(format!(
                    "adding to the LLM spending: {}",
                    DisplayErrorContext(e)
                ))
            })?;
        let a = out.attributes.unwrap_or_default();
        let number = |k: &str| {
            a.get(k)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok((number("tokens"), number("micro_usd") as f64 / 1e6))
    }
}
