//! The ledger's items as stored (see [`crate::tables`]): their keys, an email's item
//! and how each is read back (an email, a claim, a client's ledger state and the
//! recent emails its score item remembers).

use crate::ddb::{Item, item, opt_n, opt_s, req_s, s, ts, unexpected};
use crate::tables::keys;
use engage_core::StoreError;
use engage_core::email::{DeliveryState, Email, EmailStatus};
use engage_core::ids::{DecisionId, EmailId, EventId, UserId};
use engage_core::ports::Claim;
use engage_core::records::{
    decode_delivery_state, decode_email, encode_delivery_state, encode_email,
};
use std::collections::HashMap;

const EMAIL_SK: &str = "email";
/// `email_shard` of every email: the `byCreated` partition (all emails, newest first).
pub(super) const EMAIL_SHARD: &str = "emails";
const CLAIM_SK: &str = "claim";
pub(super) const SCORE_SK: &str = "score";
pub(super) const DECISION_PREFIX: &str = "decision#";
/// `rescore_shard` of every score item: the `byRescore` partition.
pub(super) const RESCORE_SHARD: &str = "rescore";

pub(super) fn claim_key(event: &EventId) -> Item {
    item([
        (keys::PK, s(format!("event#{event}"))),
        (keys::SK, s(CLAIM_SK)),
    ])
}

pub(super) fn score_key(user: &UserId) -> Item {
    item([
        (keys::PK, s(format!("user#{user}"))),
        (keys::SK, s(SCORE_SK)),
    ])
}

pub(super) fn email_key(id: &str) -> Item {
    item([(keys::PK, s(id)), (keys::SK, s(EMAIL_SK))])
}

/// The sort key of the email lists: creation time, then id (the time is fixed-width,
/// so string order is the order of `(created_at, id)` the lists promise).
pub(super) fn created_key(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

pub(super) fn state_json(e: &Email) -> Result<String, StoreError> {
    encode_delivery_state(&DeliveryState::of(e))
}

pub(super) fn due_at(e: &Email) -> String {
    ts(e.due_at())
}

/// An email as first recorded.
pub(super) fn email_item(e: &Email) -> Result<Item, StoreError> {
    let created = ts(e.created_at);
    Ok(item([
        (keys::PK, s(e.id.as_str())),
        (keys::SK, s(EMAIL_SK)),
        ("user_id", s(e.user_id.as_str())),
        ("campaign", s(&e.campaign)),
        ("status", s(e.status.as_str())),
        ("created_key", s(created_key(&created, e.id.as_str()))),
        ("email_shard", s(EMAIL_SHARD)),
        ("due_at", s(due_at(e))),
        ("updated_at", s(&created)),
        ("created_at", s(created)),
        ("state", s(state_json(e)?)),
        ("body", s(encode_email(e)?)),
    ]))
}

pub(super) fn parse_status(v: &str) -> Result<EmailStatus, StoreError> {
    EmailStatus::parse(v).ok_or_else(|| unexpected(format!("status `{v}`")))
}

pub(super) fn email_from_item(item: &Item) -> Result<Email, StoreError> {
    let mut email = decode_email(req_s(item, "body")?)?;
    let state = decode_delivery_state(req_s(item, "state")?)?;
    email.status = parse_status(req_s(item, "status")?)?;
    state.apply_to(&mut email);
    Ok(email)
}

pub(super) fn claim_from_item(item: &Item) -> Result<Claim, StoreError> {
    Ok(Claim {
        decision_id: DecisionId::from_string(req_s(item, "decision_id")?),
        email_id: opt_s(item, "email_id").map(EmailId::from_string),
    })
}

/// A client's last decided version and ledger sequence (0 before its first decision).
pub(super) fn ledger_state(score: Option<&Item>) -> Result<(Option<u64>, u64), StoreError> {
    match score {
        None => Ok((None, 0)),
        Some(i) => Ok((
            opt_n(i, "last_processed_version")?,
            opt_n(i, "ledger_seq")?.unwrap_or(0),
        )),
    }
}

/// The emails a score item remembers: id → creation time.
pub(super) fn recent_emails(score: Option<&Item>) -> HashMap<String, String> {
    score
        .and_then(|i| i.get("recent_emails"))
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(id, at)| Some((id.clone(), at.as_s().ok()?.clone())))
                .collect()
        })
        .unwrap_or_default()
}
