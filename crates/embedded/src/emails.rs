//! How an email is stored: its content once, in `email_contents`, and its delivery
//! state in a small `emails` row that each status change rewrites (schema step 5).

use crate::db::unexpected;
use crate::ts;
use engage_core::StoreError;
use engage_core::email::{DeliveryState, Email, EmailStatus};
use engage_core::ports::EmailTransition;
use engage_core::records::{
    decode_delivery_state, decode_email, encode_delivery_state, encode_email,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

/// `(created_at, id, content, status, state)` of emails as `e`, for [`email_from_row`].
pub(crate) const SELECT_EMAILS: &str = "SELECT e.created_at, e.id, c.body, e.status, e.state FROM emails e JOIN email_contents c ON c.id = e.id";

/// An email recorded for the first time, encoded off the writer thread.
pub(crate) struct NewEmail {
    pub email: Email,
    content: String,
    state: String,
}

impl NewEmail {
    pub fn encode(email: Email) -> Result<Self, StoreError> {
        Ok(Self {
            content: encode_email(&email)?,
            state: state_json(&email)?,
            email,
        })
    }
}

fn state_json(e: &Email) -> Result<String, StoreError> {
    encode_delivery_state(&DeliveryState::of(e))
}

/// What the model's writing of the email cost, when known (the dashboard's sum).
fn cost_usd(e: &Email) -> Option<f64> {
    e.generation.as_ref().and_then(|g| g.cost_usd)
}

fn due_at(e: &Email) -> String {
    ts(e.due_at())
}

pub(crate) fn insert_email(c: &Connection, new: &NewEmail) -> Result<(), StoreError> {
    let e = &new.email;
    c.prepare_cached("INSERT INTO email_contents (id, body) VALUES (?1, ?2)")
        .and_then(|mut s| s.execute(params![e.id.as_str(), new.content]))
        .map_err(unexpected)?;
    c.prepare_cached(
        "INSERT INTO emails (id, user_id, campaign, status, created_at, due_at, updated_at, state, generator, cost_usd) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut s| {
        s.execute(params![
            e.id.as_str(),
            e.user_id.as_str(),
            e.campaign,
            e.status.as_str(),
            ts(e.created_at),
            due_at(e),
            ts(e.created_at),
            new.state,
            e.generator,
            cost_usd(e)
        ])
    })
    .map_err(unexpected)?;
    Ok(())
}

/// Stores an email's written content and its new status (the last of its history),
/// if it is still `composing`.
pub(crate) fn finish_composing_in(c: &Connection, new: &NewEmail) -> Result<bool, StoreError> {
    let e = &new.email;
    let changed = c
        .prepare_cached(
            "UPDATE emails SET status = ?2, due_at = ?3, updated_at = ?4, state = ?5, generator = ?6, cost_usd = ?7
             WHERE id = ?1 AND status = 'composing'",
        )
        .and_then(|mut s| {
            s.execute(params![
                e.id.as_str(),
                e.status.as_str(),
                due_at(e),
                ts(e.status_history.last().map_or(e.created_at, |h| h.at)),
                new.state,
                e.generator,
                cost_usd(e)
            ])
        })
        .map_err(unexpected)?;
    if changed == 0 {
        return Ok(false);
    }
    c.prepare_cached("UPDATE email_contents SET body = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![e.id.as_str(), new.content]))
        .map_err(unexpected)?;
    Ok(true)
}

/// Decodes a row of [`SELECT_EMAILS`].
pub(crate) fn email_from_row(r: &Row) -> Result<Email, StoreError> {
    let (content, status, state) = (|| {
        Ok::<_, rusqlite::Error>((
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
        ))
    })()
    .map_err(unexpected)?;
    let mut email = decode_email(&content)?;
    let state = decode_delivery_state(&state)?;
    email.status =
        EmailStatus::parse(&status).ok_or_else(|| unexpected(format!("status `{status}`")))?;
    state.apply_to(&mut email);
    Ok(email)
}

pub(crate) fn get_email(c: &Connection, id: &str) -> Result<Option<Email>, StoreError> {
    let mut s = c
        .prepare_cached(&format!("{SELECT_EMAILS} WHERE e.id = ?1"))
        .map_err(unexpected)?;
    let mut rows = s.query([id]).map_err(unexpected)?;
    match rows.next().map_err(unexpected)? {
        Some(r) => email_from_row(r).map(Some),
        None => Ok(None),
    }
}

/// Moves one email to `m.change.status` if it is still at `m.from`. Only the small
/// state row is read and rewritten; the content is not touched.
pub(crate) fn transition_in(c: &Connection, m: EmailTransition) -> Result<bool, StoreError> {
    let found = c
        .prepare_cached("SELECT status, state FROM emails WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([m.id.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .optional()
        })
        .map_err(unexpected)?;
    let Some((status, state)) = found else {
        return Ok(false);
    };
    if status != m.from.as_str() {
        return Ok(false);
    }
    let mut state = decode_delivery_state(&state)?;
    let to = m.change.status;
    let at = ts(m.change.at);
    state.record(m.change, m.message_id);
    // A scheduled email keeps its due time; any other status is due from now.
    c.prepare_cached(
        "UPDATE emails SET status = ?2, due_at = CASE WHEN ?2 = 'scheduled' THEN due_at ELSE ?3 END,
           updated_at = ?3, state = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![m.id.as_str(), to.as_str(), at, encode_delivery_state(&state).map_err(|x| rusqlite::Error::ToSqlConversionFailure(Box::new(x)))?]))
    .map_err(unexpected)?;
    Ok(true)
}
