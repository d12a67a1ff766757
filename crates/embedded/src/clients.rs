//! `ClientStore` over the `users` table. Each write appends its change record to
//! `user_changes` inside the same transaction: the change stream can never miss a
//! committed write, nor show one that rolled back.

use crate::db::unexpected;
use crate::schema::IndexKeys;
use crate::{Store, clamp_limit, decode_cursor, encode_cursor, ts};
use async_trait::async_trait;
use chrono::DateTime;
use engage_core::StoreError;
use engage_core::change::{ChangeRecord, ClientChange};
use engage_core::client::{Client, EmailAddress};
use engage_core::ids::UserId;
use engage_core::ports::{
    ClientImport, ClientQuery, ClientSort, ClientStats, ClientStore, ClientWithScore, ClientWrite,
    Page,
};
use engage_core::records::{decode_client, encode_client};
use engage_core::score::Tier;
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

fn map_constraint(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => {
            StoreError::Duplicate("email".into())
        }
        _ => unexpected(e),
    }
}

fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

fn append_change(
    c: &Connection,
    user: &UserId,
    version: u64,
    old: Option<&str>,
    new: Option<&str>,
    at: &str,
) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO user_changes (user_id, version, old_body, new_body, committed_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| s.execute(params![user.as_str(), version as i64, old, new, at]))
    .map_err(unexpected)?;
    Ok(())
}

fn current(c: &Connection, id: &UserId) -> Result<Option<(u64, String)>, StoreError> {
    c.prepare_cached("SELECT version, body FROM users WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([id.as_str()], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?))
            })
            .optional()
        })
        .map_err(unexpected)
}

pub(crate) fn get_client(c: &Connection, id: &UserId) -> Result<Option<Client>, StoreError> {
    current(c, id)?
        .map(|(_, body)| decode_client(&body))
        .transpose()
}

/// Runs `sql` with the `users` row's columns as ?1–?6 (id, the normalised address
/// and names, version, JSON body).
fn write_row(c: &Connection, sql: &str, client: &Client, body: &str) -> Result<(), StoreError> {
    c.prepare_cached(sql)
        .and_then(|mut s| {
            s.execute(params![
                client.id.as_str(),
                client.email.normalized(),
                norm(&client.first_name),
                client.last_name.as_deref().map(norm),
                client.version as i64,
                body
            ])
        })
        .map_err(map_constraint)?;
    Ok(())
}

/// Writes the client's `user_index` row (schema step 6): its consent flags and last
/// activity. Its score columns are the ledger's; an insert starts them unscored.
fn index_row(c: &Connection, client: &Client, insert: bool) -> Result<(), StoreError> {
    let keys = IndexKeys::of(client);
    let sql = if insert {
        "INSERT INTO user_index (id, subscribed, email_opt_in, last_activity_at) VALUES (?1, ?2, ?3, ?4)"
    } else {
        // Most writes (a login, a profile edit) leave these alone: skip the write then.
        "UPDATE user_index SET subscribed = ?2, email_opt_in = ?3, last_activity_at = ?4
         WHERE id = ?1 AND (subscribed != ?2 OR email_opt_in != ?3 OR last_activity_at != ?4)"
    };
    c.prepare_cached(sql)
        .and_then(|mut s| {
            s.execute(params![
                client.id.as_str(),
                keys.subscribed,
                keys.email_opt_in,
                keys.last_activity_at
            ])
        })
        .map_err(unexpected)?;
    Ok(())
}

/// Inserts a client and its change record. A refusal (`Duplicate`) comes from the
/// first statement alone, so it leaves nothing written; `write_batch` relies on it.
fn insert_in(c: &Connection, client: &Client, body: &str) -> Result<(), StoreError> {
    write_row(
        c,
        "INSERT INTO users (id, email_norm, first_norm, last_norm, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        client,
        body,
    )?;
    index_row(c, client, true)?;
    append_change(
        c,
        &client.id,
        client.version,
        None,
        Some(body),
        &ts(client.updated_at),
    )
}

/// Replaces a client and appends its change record. As with [`insert_in`], a
/// refusal (`NotFound`, `VersionConflict`, `Duplicate`) leaves nothing written.
fn replace_in(
    c: &Connection,
    client: &Client,
    expected_version: u64,
    body: &str,
) -> Result<(), StoreError> {
    let (stored, old) = current(c, &client.id)?.ok_or(StoreError::NotFound)?;
    if stored != expected_version {
        return Err(StoreError::VersionConflict { current: stored });
    }
    write_row(
        c,
        "UPDATE users SET email_norm = ?2, first_norm = ?3, last_norm = ?4, version = ?5, body = ?6 WHERE id = ?1",
        client,
        body,
    )?;
    index_row(c, client, false)?;
    append_change(
        c,
        &client.id,
        client.version,
        Some(&old),
        Some(body),
        &ts(client.updated_at),
    )
}

#[async_trait]
impl ClientStore for Store {
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        let body = encode_client(&client)?;
        self.db.write(move |c| insert_in(c, &client, &body)).await?;
        self.changes.notify_one();
        Ok(())
    }

    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError> {
        self.db.read_point(|c| get_client(c, id)).await
    }

    async fn get_many(&self, ids: &[UserId]) -> Result<Vec<Option<Client>>, StoreError> {
        let ids = ids.to_vec();
        self.db
            .read(move |c| ids.iter().map(|id| get_client(c, id)).collect())
            .await
    }

    async fn get_with_score(&self, id: &UserId) -> Result<Option<ClientWithScore>, StoreError> {
        self.db
            .read_point(|c| {
                c.prepare_cached(
                    &format!("SELECT u.body, s.score, s.tier, {SUPPRESSED} FROM users u LEFT JOIN scores s ON s.user_id = u.id WHERE u.id = ?1"),
                )
                .and_then(|mut s| {
                    s.query_row([id.as_str()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<String>>(2)?, r.get::<_, bool>(3)?))
                    })
                    .optional()
                })
                .map_err(unexpected)?
                .map(|(body, score, tier, suppressed)| {
                    Ok(ClientWithScore {
                        client: decode_client(&body)?,
                        score: score.map(|s| s as u8),
                        tier: tier.as_deref().and_then(Tier::parse),
                        suppressed,
                    })
                })
                .transpose()
            })
            .await
    }

    async fn replace(&self, client: Client, expected_version: u64) -> Result<(), StoreError> {
        let body = encode_client(&client)?;
        self.db
            .write(move |c| replace_in(c, &client, expected_version, &body))
            .await?;
        self.changes.notify_one();
        Ok(())
    }

    async fn delete(
        &self,
        id: &UserId,
        expected_version: Option<u64>,
    ) -> Result<Client, StoreError> {
        let id = id.clone();
        let now = ts(self.clock.now());
        let old = self
            .db
            .write(move |c| {
                let (stored, old) = current(c, &id)?.ok_or(StoreError::NotFound)?;
                if expected_version.is_some_and(|v| v != stored) {
                    return Err(StoreError::VersionConflict { current: stored });
                }
                c.execute("DELETE FROM users WHERE id = ?1", [id.as_str()])
                    .map_err(unexpected)?;
                c.execute("DELETE FROM scores WHERE user_id = ?1", [id.as_str()])
                    .map_err(unexpected)?;
                c.execute("DELETE FROM user_index WHERE id = ?1", [id.as_str()])
                    .map_err(unexpected)?;
                append_change(c, &id, stored, Some(&old), None, &now)?;
                Ok(old)
            })
            .await?;
        self.changes.notify_one();
        decode_client(&old)
    }

    async fn list(&self, q: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        let limit = clamp_limit(q.limit);
        let plan = ListPlan::new(q)?;
        self.db
            .read(move |c| {
                let mut stmt = c.prepare_cached(&plan.sql).map_err(unexpected)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(plan.args.iter()), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Option<String>>(3)?,
                            r.get::<_, bool>(4)?,
                            r.get::<_, rusqlite::types::Value>(5)?,
                        ))
                    })
                    .map_err(unexpected)?;
                let mut items = Vec::new();
                let mut last: Option<(String, String)> = None;
                for row in rows {
                    let (id, body, score, tier, suppressed, key) = row.map_err(unexpected)?;
                    if items.len() == limit as usize {
                        let next_cursor = last.map(|(key, id)| plan.cursor(&key, &id));
                        return Ok(Page { items, next_cursor });
                    }
                    items.push(ClientWithScore {
                        client: decode_client(&body)?,
                        score: score.filter(|s| *s >= 0).map(|s| s as u8),
                        tier: tier.as_deref().and_then(Tier::parse),
                        suppressed,
                    });
                    let key = match key {
                        rusqlite::types::Value::Integer(n) => n.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        _ => String::new(),
                    };
                    last = Some((key, id));
                }
                Ok(Page {
                    items,
                    next_cursor: None,
                })
            })
            .await
    }

    async fn changes(
        &self,
        user: &UserId,
        cursor: Option<String>,
        limit: u32,
    ) -> Result<Page<ClientChange>, StoreError> {
        let limit = clamp_limit(limit);
        let before = match cursor {
            None => i64::MAX,
            Some(c) => decode_cursor(&c, 1)?[0]
                .parse::<i64>()
                .map_err(|_| StoreError::InvalidCursor)?,
        };
        let user = user.clone();
        self.db
            .read(move |c| {
                let mut s = c
                    .prepare_cached(
                        "SELECT seq, old_body, new_body, committed_at FROM user_changes
                         WHERE user_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
                    )
                    .map_err(unexpected)?;
                let rows = s
                    .query_map(params![user.as_str(), before, limit as i64 + 1], |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Option<String>>(1)?,
                            r.get::<_, Option<String>>(2)?,
                            r.get::<_, String>(3)?,
                        ))
                    })
                    .map_err(unexpected)?;
                let mut items = Vec::new();
                for row in rows {
                    let (seq, old, new, at) = row.map_err(unexpected)?;
                    if items.len() == limit as usize {
                        let last: &ClientChange = items.last().expect("a full page");
                        let next = encode_cursor(&[&last.seq.to_string()]);
                        return Ok(Page {
                            items,
                            next_cursor: Some(next),
                        });
                    }
                    let record = ChangeRecord {
                        seq: seq.to_string(),
                        user_id: user.clone(),
                        old: old.as_deref().map(decode_client).transpose()?,
                        new: new.as_deref().map(decode_client).transpose()?,
                        committed_at: DateTime::parse_from_rfc3339(&at)
                            .map_err(unexpected)?
                            .to_utc(),
                    };
                    items.push(ClientChange::of(&record, seq as u64));
                }
                Ok(Page {
                    items,
                    next_cursor: None,
                })
            })
            .await
    }

    async fn stats(&self) -> Result<ClientStats, StoreError> {
        self.db
            .read(|c| {
                // Both queries read an index in its own order, so neither sorts:
                // `user_index`'s score index (the unscored at -1) and its tier index.
                let mut stats = ClientStats::default();
                let mut s = c
                    .prepare_cached("SELECT score, COUNT(*) FROM user_index GROUP BY score")
                    .map_err(unexpected)?;
                let rows = s
                    .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(unexpected)?;
                for row in rows {
                    let (score, n) = row.map_err(unexpected)?;
                    let n = n as u64;
                    stats.total += n;
                    if score < 0 {
                        stats.unscored += n;
                    } else {
                        stats.score_histogram[ClientStats::bucket(score.min(100) as u8)] += n;
                    }
                }
                let mut by_tier = Tier::ALL.map(|t| (t, 0));
                let mut s = c
                    .prepare_cached("SELECT tier, COUNT(*) FROM user_index WHERE tier IS NOT NULL GROUP BY tier")
                    .map_err(unexpected)?;
                let rows = s
                    .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                    .map_err(unexpected)?;
                for row in rows {
                    let (tier, n) = row.map_err(unexpected)?;
                    if let Some(slot) = by_tier.iter_mut().find(|(t, _)| t.as_str() == tier) {
                        slot.1 = n as u64;
                    }
                }
                stats.by_tier = by_tier.to_vec();
                Ok(stats)
            })
            .await
    }
}

/// Whether the row's client (`u`) is on the suppression list: suppressions are keyed
/// by the lower-cased address, as `users.email_norm` is.
const SUPPRESSED: &str = "EXISTS (SELECT 1 FROM suppressions p WHERE p.email = u.email_norm)";

/// The query of one list, built per shape so each can use its index: the scores' tier
/// index for a tier in id order, `user_index`'s score or activity index for those
/// sorts, its primary key (id order) otherwise, and the name/email indexes (prefix
/// ranges, OR-optimised) for a search, whichever SQLite finds narrower. Filters read
/// `user_index`'s narrow rows; only listed clients' records are read.
struct ListPlan {
    sql: String,
    args: Vec<rusqlite::types::Value>,
    sort: ClientSort,
}

impl ListPlan {
    fn new(q: &ClientQuery) -> Result<Self, StoreError> {
        use rusqlite::types::Value;
        let sort = q.sort;
        let key = key_name(sort);
        // An id-ordered tier list walks the tier's index entries, as before step 6.
        let by_tier = q.tier.is_some() && sort == ClientSort::Id;
        let mut sql = format!(
            "SELECT u.id, u.body, x.score, x.tier, {SUPPRESSED}, {key} FROM user_index x JOIN users u ON u.id = x.id WHERE 1 = 1"
        );
        if by_tier {
            sql = format!(
                "SELECT u.id, u.body, x.score, x.tier, {SUPPRESSED}, x.id FROM scores s JOIN user_index x ON x.id = s.user_id JOIN users u ON u.id = s.user_id WHERE 1 = 1"
            );
        }
        let mut args: Vec<Value> = Vec::new();
        if let Some(t) = q.tier {
            sql.push_str(if by_tier {
                " AND s.tier = ?"
            } else {
                " AND x.tier = ?"
            });
            args.push(Value::Text(t.as_str().into()));
        }
        if let Some(v) = q.subscribed {
            sql.push_str(" AND x.subscribed = ?");
            args.push(Value::Integer(v.into()));
        }
        if let Some(v) = q.email_opt_in {
            sql.push_str(" AND x.email_opt_in = ?");
            args.push(Value::Integer(v.into()));
        }
        if let Some(s) = q.search.as_deref().map(norm).filter(|s| !s.is_empty()) {
            let hi = format!("{s}\u{10FFFF}");
            sql.push_str(
                " AND ((u.email_norm >= ? AND u.email_norm < ?) OR (u.first_norm >= ? AND u.first_norm < ?) OR (u.last_norm >= ? AND u.last_norm < ?))",
            );
            for _ in 0..3 {
                args.push(Value::Text(s.clone()));
                args.push(Value::Text(hi.clone()));
            }
        }
        let (cmp, dir) = if sort.descending() {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        if let Some(cursor) = &q.cursor {
            if sort == ClientSort::Id {
                let id = decode_cursor(cursor, 1)?.remove(0);
                sql.push_str(&format!(" AND x.id {cmp} ?"));
                args.push(Value::Text(id));
            } else {
                // `<sort>`, key, id: a cursor of another sort is refused, not misread.
                let mut parts = decode_cursor(cursor, 3)?;
                let id = parts.pop().expect("three parts");
                let after = parts.pop().expect("three parts");
                if parts[0] != sort.as_str() {
                    return Err(StoreError::InvalidCursor);
                }
                let after = match sort {
                    ClientSort::Score | ClientSort::ScoreDesc => {
                        Value::Integer(after.parse().map_err(|_| StoreError::InvalidCursor)?)
                    }
                    // '' (never active) cannot travel in a cursor part.
                    _ => Value::Text(if after == "-" { String::new() } else { after }),
                };
                sql.push_str(&format!(" AND ({key}, x.id) {cmp} (?, ?)"));
                args.push(after);
                args.push(Value::Text(id));
            }
        }
        if sort == ClientSort::Id {
            sql.push_str(if by_tier {
                " ORDER BY s.user_id"
            } else {
                " ORDER BY x.id"
            });
        } else {
            sql.push_str(&format!(" ORDER BY {key} {dir}, x.id {dir}"));
        }
        sql.push_str(" LIMIT ?");
        args.push(Value::Integer(i64::from(clamp_limit(q.limit)) + 1));
        Ok(Self { sql, args, sort })
    }

    /// The cursor after a listed client whose sort key is `key`.
    fn cursor(&self, key: &str, id: &str) -> String {
        match self.sort {
            ClientSort::Id => encode_cursor(&[id]),
            sort => encode_cursor(&[sort.as_str(), if key.is_empty() { "-" } else { key }, id]),
        }
    }
}

fn key_name(sort: ClientSort) -> &'static str {
    match sort {
        ClientSort::Id => "x.id",
        ClientSort::Score | ClientSort::ScoreDesc => "x.score",
        ClientSort::LastActivity | ClientSort::LastActivityDesc => "x.last_activity_at",
    }
}

#[async_trait]
impl ClientImport for Store {
    async fn get_by_emails(
        &self,
        emails: &[EmailAddress],
    ) -> Result<Vec<Option<Client>>, StoreError> {
        let keys: Vec<String> = emails.iter().map(EmailAddress::normalized).collect();
        self.db
            .read(move |c| {
                let mut s = c
                    .prepare_cached("SELECT body FROM users WHERE email_norm = ?1")
                    .map_err(unexpected)?;
                keys.iter()
                    .map(|k| {
                        s.query_row([k], |r| r.get::<_, String>(0))
                            .optional()
                            .map_err(unexpected)?
                            .map(|b| decode_client(&b))
                            .transpose()
                    })
                    .collect()
            })
            .await
    }

    async fn write_batch(
        &self,
        writes: Vec<ClientWrite>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        // Encoding happens here, off the writer thread, which only runs SQL.
        let encoded = writes
            .into_iter()
            .map(|w| {
                let body = match &w {
                    ClientWrite::Insert(c) | ClientWrite::Replace { client: c, .. } => {
                        encode_client(c)?
                    }
                };
                Ok((w, body))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let results = self
            .db
            .write(move |c| {
                // A row's one write that can be refused (the `users` insert or
                // update: a taken address, a moved version) runs first, as a single
                // statement, so a refused row has written nothing; its change record
                // follows. Any other failure fails the whole batch, which is then
                // undone. (A savepoint per row did the same at a third of the
                // writer's time: each one copies every page it touches.)
                let mut out = Vec::with_capacity(encoded.len());
                for (w, body) in &encoded {
                    let r = match w {
                        ClientWrite::Insert(client) => insert_in(c, client, body),
                        ClientWrite::Replace {
                            client,
                            expected_version,
                        } => replace_in(c, client, *expected_version, body),
                    };
                    match r {
                        Err(e @ (StoreError::Unexpected(_) | StoreError::Transient(_))) => {
                            return Err(e);
                        }
                        r => out.push(r),
                    }
                }
                Ok(out)
            })
            .await?;
        self.changes.notify_one();
        Ok(results)
    }
}
