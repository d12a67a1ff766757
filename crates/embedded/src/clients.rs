//! `ClientStore` over the `users` table. Each write appends its change record to
//! `user_changes` inside the same transaction: the change stream can never miss a
//! committed write, nor show one that rolled back.

use crate::db::unexpected;
use crate::{Store, clamp_limit, decode_cursor, encode_cursor, from_json, to_json, ts};
use async_trait::async_trait;
use engage_core::StoreError;
use engage_core::client::{Client, EmailAddress};
use engage_core::ids::UserId;
use engage_core::ports::{
    ClientImport, ClientQuery, ClientStore, ClientWithScore, ClientWrite, Page,
};
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
        .map(|(_, body)| from_json(&body))
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

/// Inserts a client and its change record. A refusal (`Duplicate`) comes from the
/// first statement alone, so it leaves nothing written; `write_batch` relies on it.
fn insert_in(c: &Connection, client: &Client, body: &str) -> Result<(), StoreError> {
    write_row(
        c,
        "INSERT INTO users (id, email_norm, first_norm, last_norm, version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        client,
        body,
    )?;
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
        let body = to_json(&client)?;
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
                    "SELECT u.body, s.score, s.tier FROM users u LEFT JOIN scores s ON s.user_id = u.id WHERE u.id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([id.as_str()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, Option<i64>>(1)?, r.get::<_, Option<String>>(2)?))
                    })
                    .optional()
                })
                .map_err(unexpected)?
                .map(|(body, score, tier)| {
                    Ok(ClientWithScore {
                        client: from_json(&body)?,
                        score: score.map(|s| s as u8),
                        tier: tier.as_deref().and_then(Tier::parse),
                    })
                })
                .transpose()
            })
            .await
    }

    async fn replace(&self, client: Client, expected_version: u64) -> Result<(), StoreError> {
        let body = to_json(&client)?;
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
                append_change(c, &id, stored, Some(&old), None, &now)?;
                Ok(old)
            })
            .await?;
        self.changes.notify_one();
        from_json(&old)
    }

    async fn list(&self, q: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        let limit = clamp_limit(q.limit);
        let after = q
            .cursor
            .as_deref()
            .map(|c| decode_cursor(c, 1))
            .transpose()?
            .map(|mut v| v.remove(0));
        let search = q.search.as_deref().map(norm).filter(|s| !s.is_empty());
        let tier = q.tier;
        self.db
            .read(move |c| {
                // Built per shape so each query can use its index: (tier, user_id) for a
                // tier filter, the primary key otherwise, and the name/email indexes
                // (prefix ranges, OR-optimised) for a search.
                let mut sql = String::from(
                    "SELECT u.id, u.body, s.score, s.tier FROM users u LEFT JOIN scores s ON s.user_id = u.id WHERE 1 = 1",
                );
                let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
                if let Some(t) = tier {
                    sql = String::from(
                        "SELECT u.id, u.body, s.score, s.tier FROM scores s JOIN users u ON u.id = s.user_id WHERE s.tier = ?",
                    );
                    args.push(Box::new(t.as_str()));
                }
                if let Some(s) = search {
                    let hi = format!("{s}\u{10FFFF}");
                    sql.push_str(
                        " AND ((u.email_norm >= ? AND u.email_norm < ?) OR (u.first_norm >= ? AND u.first_norm < ?) OR (u.last_norm >= ? AND u.last_norm < ?))",
                    );
                    for _ in 0..3 {
                        args.push(Box::new(s.clone()));
                        args.push(Box::new(hi.clone()));
                    }
                }
                if let Some(a) = after {
                    sql.push_str(" AND u.id > ?");
                    args.push(Box::new(a));
                }
                sql.push_str(" ORDER BY u.id LIMIT ?");
                args.push(Box::new(limit as i64 + 1));
                let mut stmt = c.prepare_cached(&sql).map_err(unexpected)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(args.iter()), |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, Option<i64>>(2)?,
                            r.get::<_, Option<String>>(3)?,
                        ))
                    })
                    .map_err(unexpected)?;
                let mut items = Vec::new();
                let mut last = None;
                for row in rows {
                    let (id, body, score, tier) = row.map_err(unexpected)?;
                    if items.len() == limit as usize {
                        return Ok(Page { items, next_cursor: last.map(|l: String| encode_cursor(&[&l])) });
                    }
                    items.push(ClientWithScore {
                        client: from_json(&body)?,
                        score: score.map(|s| s as u8),
                        tier: tier.as_deref().and_then(Tier::parse),
                    });
                    last = Some(id);
                }
                Ok(Page { items, next_cursor: None })
            })
            .await
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
                            .map(|b| from_json(&b))
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
                    ClientWrite::Insert(c) | ClientWrite::Replace { client: c, .. } => to_json(c)?,
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
                        Err(e @ StoreError::Unexpected(_)) => return Err(e),
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
