//! The console's lists: emails (by client, by status or all, newest first, through
//! the narrowest index, then read back from the table) and a client's decisions.

use super::DynamoLedger;
use super::items::{DECISION_PREFIX, EMAIL_SHARD, created_key, email_from_item, email_key};
use crate::ddb::{
    batch_get, clamp_limit, decode_cursor, encode_cursor, req_s, s, unexpected, values,
};
use crate::tables::keys;
use engage_core::StoreError;
use engage_core::email::{Decision, Email};
use engage_core::ids::UserId;
use engage_core::ports::{EmailQuery, Page};
use engage_core::records::decode_decision;
use std::collections::HashMap;

impl DynamoLedger {
    /// One page of [`Ledger::list_emails`](engage_core::ports::Ledger::list_emails).
    pub(super) async fn emails_page(&self, q: &EmailQuery) -> Result<Page<Email>, StoreError> {
        let limit = clamp_limit(q.limit) as usize;
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?
            .map(|p| created_key(&p[0], &p[1]));
        // The narrowest index: a client's emails, one status's, or all of them.
        let (index, part, value) = match (&q.user_id, q.status) {
            (Some(u), _) => (keys::BY_USER, "user_id", u.to_string()),
            (None, Some(st)) => (keys::BY_STATUS_CREATED, "status", st.as_str().to_string()),
            (None, None) => (keys::BY_CREATED, "email_shard", EMAIL_SHARD.to_string()),
        };
        let mut names = HashMap::from([("#part".to_string(), part.to_string())]);
        let mut values = HashMap::from([(":part".to_string(), s(value))]);
        let mut condition = "#part = :part".to_string();
        if let Some(a) = &after {
            condition.push_str(" AND #ck < :after");
            names.insert("#ck".into(), "created_key".into());
            values.insert(":after".into(), s(a));
        }
        let mut filters = Vec::new();
        if let (Some(_), Some(st)) = (&q.user_id, q.status) {
            filters.push("#status = :status");
            names.insert("#status".into(), "status".into());
            values.insert(":status".into(), s(st.as_str()));
        }
        if let Some(c) = &q.campaign {
            filters.push("#campaign = :campaign");
            names.insert("#campaign".into(), "campaign".into());
            values.insert(":campaign".into(), s(c));
        }
        let mut query = self
            .client
            .query()
            .table_name(&self.emails)
            .index_name(index)
            .key_condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(false);
        query = if filters.is_empty() {
            query.limit(limit as i32 + 1)
        } else {
            // A filter applies after the page is read: read wider pages.
            query
                .filter_expression(filters.join(" AND "))
                .limit(((limit + 1) * 4).clamp(100, 1000) as i32)
        };
        // The keys of one more email than a page, newest first.
        let mut found: Vec<(String, String)> = Vec::new();
        let mut start = None;
        while found.len() <= limit {
            let (items, next) = self.page(&query, start, index).await?;
            for i in &items {
                if found.len() <= limit {
                    found.push((
                        req_s(i, keys::PK)?.to_string(),
                        req_s(i, "created_key")?.to_string(),
                    ));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            let (_, key) = found.last().expect("a full page");
            let (at, id) = key
                .split_once('#')
                .ok_or_else(|| unexpected(format!("created_key `{key}`")))?;
            Some(encode_cursor(&[at, id]))
        } else {
            None
        };
        // The emails themselves, strongly consistent; one the index showed in a state
        // it has since left no longer matches and is left out.
        let wanted = found.iter().map(|(id, _)| email_key(id)).collect();
        let mut by_id: HashMap<String, Email> = HashMap::new();
        for i in batch_get(&self.client, &self.emails, wanted, None).await? {
            let e = email_from_item(&i)?;
            by_id.insert(e.id.to_string(), e);
        }
        let items = found
            .iter()
            .filter_map(|(id, _)| by_id.remove(id))
            .filter(|e| {
                q.user_id.as_ref().is_none_or(|u| e.user_id == *u)
                    && q.status.is_none_or(|st| e.status == st)
                    && q.campaign.as_ref().is_none_or(|c| e.campaign == *c)
            })
            .collect();
        Ok(Page { items, next_cursor })
    }

    /// One page of [`Ledger::list_decisions`](engage_core::ports::Ledger::list_decisions).
    pub(super) async fn decisions_page(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<Decision>, StoreError> {
        let limit = clamp_limit(limit) as usize;
        let before = cursor
            .as_deref()
            .map(|c| decode_cursor(c, 2))
            .transpose()?
            .map(|p| format!("{DECISION_PREFIX}{}#{}", p[0], p[1]));
        let query = self
            .client
            .query()
            .table_name(&self.ledger)
            .consistent_read(true)
            .scan_index_forward(false)
            .limit(limit as i32 + 2);
        let query = match &before {
            // BETWEEN is inclusive: the cursor's own decision is skipped below.
            Some(b) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :lo AND :hi")
                .set_expression_attribute_values(values([
                    (":pk", s(format!("user#{user}"))),
                    (":lo", s(DECISION_PREFIX)),
                    (":hi", s(b)),
                ])),
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :lo)")
                .set_expression_attribute_values(values([
                    (":pk", s(format!("user#{user}"))),
                    (":lo", s(DECISION_PREFIX)),
                ])),
        };
        let mut found: Vec<(String, Decision)> = Vec::new();
        let mut start = None;
        while found.len() <= limit {
            let (items, next) = self.page(&query, start, "decisions").await?;
            for i in &items {
                let sk = req_s(i, keys::SK)?;
                if found.len() <= limit && before.as_deref() != Some(sk) {
                    found.push((sk.to_string(), decode_decision(req_s(i, "body")?)?));
                }
            }
            match next {
                Some(k) => start = Some(k),
                None => break,
            }
        }
        let next_cursor = if found.len() > limit {
            found.truncate(limit);
            let (sk, _) = found.last().expect("a full page");
            let (at, id) = sk
                .strip_prefix(DECISION_PREFIX)
                .and_then(|k| k.split_once('#'))
                .ok_or_else(|| unexpected(format!("decision key `{sk}`")))?;
            Some(encode_cursor(&[at, id]))
        } else {
            None
        };
        Ok(Page {
            items: found.into_iter().map(|(_, d)| d).collect(),
            next_cursor,
        })
    }
}
