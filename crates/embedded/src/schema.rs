//! The schema, applied in numbered steps recorded in `PRAGMA user_version`.
//!
//! Records are stored as JSON documents (`body`, `state`: the versioned records of
//! `engage_core::records`) next to the columns that queries filter and sort on, so
//! the domain types can grow without a migration per field.
//! Times in sortable columns are RFC 3339 with fixed precision, so text order is time
//! order; queue times are Unix milliseconds.

use rusqlite::Connection;

/// Applied in order, each once. A step that has shipped is never edited: change the
/// schema by adding a step.
const STEPS: &[&str] = &[
    r#"
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    id         TEXT PRIMARY KEY,
    email_norm TEXT NOT NULL UNIQUE,
    first_norm TEXT NOT NULL,
    last_norm  TEXT,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX users_first ON users (first_norm);
CREATE INDEX users_last ON users (last_norm);

-- The change stream: one row per committed write, in commit order.
CREATE TABLE user_changes (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    old_body     TEXT,
    new_body     TEXT,
    committed_at TEXT NOT NULL
);

CREATE TABLE checkpoints (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;

-- Queues with SQS semantics; a dead-letter queue is just another queue name.
CREATE TABLE queue_messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    queue         TEXT NOT NULL,
    body          TEXT NOT NULL,
    visible_at    INTEGER NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    sent_at       INTEGER NOT NULL,
    last_error    TEXT
);
CREATE INDEX queue_ready ON queue_messages (queue, visible_at);

CREATE TABLE event_claims (
    event_id    TEXT PRIMARY KEY,
    decision_id TEXT NOT NULL,
    email_id    TEXT,
    claimed_at  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE decisions (
    id      TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    at      TEXT NOT NULL,
    body    TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX decisions_by_user ON decisions (user_id, at, id);

CREATE TABLE emails (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    campaign      TEXT NOT NULL,
    status        TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    due_at        TEXT,
    updated_at    TEXT NOT NULL,
    body          TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX emails_by_user ON emails (user_id, created_at, id);
CREATE INDEX emails_by_created ON emails (created_at, id);
CREATE INDEX emails_by_status ON emails (status, due_at);

CREATE TABLE scores (
    user_id                TEXT PRIMARY KEY,
    score                  INTEGER,
    tier                   TEXT,
    last_processed_version INTEGER NOT NULL,
    next_rescore_at        TEXT NOT NULL,
    body                   TEXT
) WITHOUT ROWID;
CREATE INDEX scores_by_tier ON scores (tier, user_id);
CREATE INDEX scores_due ON scores (next_rescore_at);

CREATE TABLE suppressions (
    email      TEXT PRIMARY KEY,
    reason     TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
"#,
    r#"
-- Dead letters: a message moved to a dead-letter queue remembers where it came from,
-- so an operator can redrive it there. Set only while the message is dead. Messages
-- that died before this step came from the email queue, the only one with a DLQ.
ALTER TABLE queue_messages ADD COLUMN source_queue TEXT;
UPDATE queue_messages SET source_queue = 'email' WHERE queue = 'email-dlq';
CREATE INDEX queue_dead_letters ON queue_messages (id) WHERE source_queue IS NOT NULL;
"#,
    r#"
-- Optimistic concurrency on a client's ledger: every decision commit bumps it, and a
-- commit made on a stale read (another worker decided on the same client meanwhile)
-- is refused and redone on fresh state.
ALTER TABLE scores ADD COLUMN ledger_seq INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- Lists of emails filtered by status come newest first: without this index every
-- page sorted all the matching emails.
CREATE INDEX emails_by_status_created ON emails (status, created_at, id);
"#,
    r#"
-- An email's content is written once; its delivery state changes two or three times.
-- Keeping them in one row rewrote kilobytes of content (and its overflow pages) on
-- every status change. Now `email_contents` holds the email as created, and `emails`
-- a small row: the columns queries use and `state`, the JSON of what changes
-- (`sent_at`, `message_id`, `status_history`).
CREATE TABLE email_contents (
    id   TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO email_contents (id, body) SELECT id, body FROM emails;
CREATE TABLE emails_v5 (
    id         TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL,
    campaign   TEXT NOT NULL,
    status     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    due_at     TEXT,
    updated_at TEXT NOT NULL,
    state      TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO emails_v5 (id, user_id, campaign, status, created_at, due_at, updated_at, state)
SELECT id, user_id, campaign, status, created_at, due_at, updated_at,
       json_object(
           'sent_at', json_extract(body, '$.sent_at'),
           'message_id', json_extract(body, '$.message_id'),
           'status_history', json(COALESCE(json_extract(body, '$.status_history'), '[]')))
FROM emails;
DROP TABLE emails;
ALTER TABLE emails_v5 RENAME TO emails;
CREATE INDEX emails_by_user ON emails (user_id, created_at, id);
CREATE INDEX emails_by_created ON emails (created_at, id);
CREATE INDEX emails_by_status ON emails (status, due_at);
CREATE INDEX emails_by_status_created ON emails (status, created_at, id);
"#,
    r#"
-- Client lists filtered by consent and sorted by score or last activity, at a million
-- clients. `user_index` is one narrow row per client, holding what lists filter and
-- sort on: the consent flags and last activity (written with every client write) and
-- the last score and tier (written with every score the ledger stores). Kept apart from
-- `users`, whose rows carry the whole record: a score change rewrites 50 bytes, not
-- the client, and filters read narrow rows. `score` is -1 until the client is first
-- scored and `last_activity_at` '' until it is first active, so both sort below any
-- value and a cursor can compare them. Filled by `backfill_user_index`.
CREATE TABLE user_index (
    id               TEXT PRIMARY KEY,
    score            INTEGER NOT NULL DEFAULT -1,
    tier             TEXT,
    subscribed       INTEGER NOT NULL,
    email_opt_in     INTEGER NOT NULL,
    last_activity_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX user_index_by_score ON user_index (score, id);
CREATE INDEX user_index_by_activity ON user_index (last_activity_at, id);
-- A tier with a sort: tiers follow score and recency, so walking the whole order for
-- one tier's clients read most of the table before the first page (700 ms at 1M).
CREATE INDEX user_index_by_tier_score ON user_index (tier, score, id);
CREATE INDEX user_index_by_tier_activity ON user_index (tier, last_activity_at, id);

-- A client's change log, newest first.
CREATE INDEX user_changes_by_user ON user_changes (user_id, seq);

-- The dashboard counts a period's emails by day, status and generator and adds up
-- what models cost. Reading each email's content for that took seconds; reading each
-- row through `emails_by_created`, 580 ms for 90 days of 300,000 emails; this
-- covering index, 160 ms. Its entries are narrow and a status change moves one among
-- the period's newest pages.
ALTER TABLE emails ADD COLUMN generator TEXT;
ALTER TABLE emails ADD COLUMN cost_usd REAL;
UPDATE emails SET
    generator = (SELECT json_extract(c.body, '$.generator') FROM email_contents c WHERE c.id = emails.id),
    cost_usd = (SELECT json_extract(c.body, '$.generation.cost_usd') FROM email_contents c WHERE c.id = emails.id);
CREATE INDEX emails_for_stats ON emails (created_at, status, generator, cost_usd);
"#,
];

/// The step after which [`backfill_user_index`] runs.
const USER_INDEX_STEP: usize = 6;

/// Fills `user_index` from the stored clients and scores: last activity is computed
/// by the domain, which SQL cannot do on the stored JSON with the same time format.
fn backfill_user_index(conn: &Connection) -> rusqlite::Result<()> {
    let mut read = conn.prepare(
        "SELECT u.id, u.body, s.score, s.tier FROM users u LEFT JOIN scores s ON s.user_id = u.id",
    )?;
    let mut write = conn.prepare(
        "INSERT INTO user_index (id, score, tier, subscribed, email_opt_in, last_activity_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?;
    let mut rows = read.query([])?;
    while let Some(r) = rows.next()? {
        let id: String = r.get(0)?;
        let body: String = r.get(1)?;
        let client = engage_core::records::decode_client(&body)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let keys = IndexKeys::of(&client);
        write.execute(rusqlite::params![
            id,
            r.get::<_, Option<i64>>(2)?.unwrap_or(-1),
            r.get::<_, Option<String>>(3)?,
            keys.subscribed,
            keys.email_opt_in,
            keys.last_activity_at
        ])?;
    }
    Ok(())
}

/// A client's columns of `user_index` that client writes set.
pub(crate) struct IndexKeys {
    pub subscribed: bool,
    pub email_opt_in: bool,
    pub last_activity_at: String,
}

impl IndexKeys {
    pub fn of(c: &engage_core::client::Client) -> Self {
        Self {
            subscribed: !c.consent.unsubscribed,
            email_opt_in: c.consent.email_opt_in,
            last_activity_at: c
                .activity
                .last_activity_at()
                .map(crate::ts)
                .unwrap_or_default(),
        }
    }
}

pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let current: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    for (i, step) in STEPS.iter().enumerate().skip(current) {
        let tx = conn.unchecked_transaction()?;
        tx.execute_batch(step)?;
        if i + 1 == USER_INDEX_STEP {
            backfill_user_index(&tx)?;
        }
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_that_died_before_step_2_remember_the_email_queue() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(STEPS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO queue_messages (queue, body, visible_at, sent_at) VALUES ('email-dlq', 'dead', 0, 0), ('email', 'alive', 0, 0);",
        )
        .unwrap();
        migrate(&conn).unwrap();
        let source = |body: &str| -> Option<String> {
            conn.query_row(
                "SELECT source_queue FROM queue_messages WHERE body = ?1",
                [body],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(source("dead").as_deref(), Some("email"));
        assert_eq!(source("alive"), None);
        let version: usize = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, STEPS.len());
    }

    #[test]
    fn clients_stored_before_step_6_are_indexed_with_their_score_and_activity() {
        let conn = Connection::open_in_memory().unwrap();
        for step in &STEPS[..5] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 5).unwrap();
        let client = |id: &str, unsubscribed: bool, activity: &str| {
            format!(
                r#"{{"id":"{id}","email":"{id}@example.com","first_name":"A","time_zone":"UTC",
                "consent":{{"email_opt_in":true,"unsubscribed":{unsubscribed}}},
                "activity":{activity},"version":1,
                "created_at":"2026-03-01T00:00:00Z","updated_at":"2026-03-01T00:00:00Z"}}"#
            )
        };
        let rows = [
            (
                "u1",
                client(
                    "u1",
                    false,
                    r#"{"last_login_at":"2026-03-02T10:00:00Z","last_email_open_at":"2026-03-02T11:30:00.5Z"}"#,
                ),
            ),
            ("u2", client("u2", true, "{}")),
        ];
        for (id, body) in &rows {
            conn.execute(
                "INSERT INTO users (id, email_norm, first_norm, last_norm, version, body) VALUES (?1, ?1, 'a', NULL, 1, ?2)",
                rusqlite::params![id, body],
            )
            .unwrap();
        }
        conn.execute_batch(
            "INSERT INTO scores (user_id, score, tier, last_processed_version, next_rescore_at, body)
             VALUES ('u1', 72, 'engaged', 1, '2026-03-03T00:00:00.000000Z', NULL);
             INSERT INTO emails (id, user_id, campaign, status, created_at, updated_at, state)
             VALUES ('e1', 'u1', 'welcome', 'sent', '2026-03-02T12:00:00.000000Z', '2026-03-02T12:00:00.000000Z', '{}');
             INSERT INTO email_contents (id, body) VALUES ('e1', '{\"generator\":\"llm:m\",\"generation\":{\"cost_usd\":0.25}}');",
        )
        .unwrap();

        migrate(&conn).unwrap();

        let row = |id: &str| -> (i64, Option<String>, bool, bool, String) {
            conn.query_row(
                "SELECT score, tier, subscribed, email_opt_in, last_activity_at FROM user_index WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap()
        };
        assert_eq!(
            row("u1"),
            (
                72,
                Some("engaged".into()),
                true,
                true,
                "2026-03-02T11:30:00.500000Z".into()
            )
        );
        assert_eq!(row("u2"), (-1, None, false, true, String::new()));
        let (generator, cost): (String, f64) = conn
            .query_row(
                "SELECT generator, cost_usd FROM emails WHERE id = 'e1'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((generator.as_str(), cost), ("llm:m", 0.25));
    }

    #[test]
    fn emails_stored_before_step_5_keep_their_content_and_state() {
        let conn = Connection::open_in_memory().unwrap();
        for step in &STEPS[..4] {
            conn.execute_batch(step).unwrap();
        }
        conn.pragma_update(None, "user_version", 4).unwrap();
        let body = r#"{"id":"e1","status":"sent","subject":"Hi","sent_at":"2026-03-02T12:00:01Z","message_id":"e1@x","status_history":[{"status":"pending","at":"2026-03-02T12:00:00Z"},{"status":"sent","at":"2026-03-02T12:00:01Z"}]}"#;
        conn.execute(
            "INSERT INTO emails (id, user_id, campaign, status, created_at, due_at, updated_at, body)
             VALUES ('e1', 'u1', 'welcome', 'sent', '2026-03-02T12:00:00Z', NULL, '2026-03-02T12:00:01Z', ?1)",
            [body],
        )
        .unwrap();
        migrate(&conn).unwrap();
        let (content, status, state): (String, String, String) = conn
            .query_row(
                "SELECT c.body, e.status, e.state FROM emails e JOIN email_contents c ON c.id = e.id",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(content, body);
        assert_eq!(status, "sent");
        let state: serde_json::Value = serde_json::from_str(&state).unwrap();
        assert_eq!(state["message_id"], "e1@x");
        assert_eq!(state["sent_at"], "2026-03-02T12:00:01Z");
        assert_eq!(state["status_history"].as_array().unwrap().len(), 2);
        assert_eq!(state["status_history"][1]["status"], "sent");
    }
}
