//! The Users table's items as stored (see [`crate::tables`]): a client's user item
//! and its address guard, their keys (and the Ledger table's score item's), how a
//! client and its score are read back, and the lists' cursors.

use super::{KIND_EMAIL, KIND_USER, broken};
use crate::ddb::{Item, n, opt_s as get_s, s};
use crate::tables::keys;
use chrono::SecondsFormat;
use engage_core::StoreError;
use engage_core::client::{Client, EmailAddress};
use engage_core::ids::UserId;
use engage_core::ports::ClientWithScore;
use engage_core::records::{decode_client, encode_client};
use engage_core::score::Tier;
use std::collections::HashMap;

pub(super) fn get_n(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

/// The text the search compares with: trimmed and lower-cased.
pub(super) fn norm(s: &str) -> String {
    s.trim().to_lowercase()
}

/// The guard item's key for an address.
pub(super) fn guard_key(address: &EmailAddress) -> String {
    guard_key_of(&address.normalized())
}

/// The guard item's key for a normalized address (a user item's `email`).
pub(super) fn guard_key_of(normalized: &str) -> String {
    format!("email#{normalized}")
}

/// The Ledger table's key of a client's score item.
pub(super) fn score_key(id: &UserId) -> Item {
    HashMap::from([
        (keys::PK.to_string(), s(format!("user#{id}"))),
        (keys::SK.to_string(), s("score")),
    ])
}

pub(super) fn user_key(id: &str) -> Item {
    HashMap::from([(keys::PK.to_string(), s(id))])
}

/// A user item: the client as JSON in `body`, and beside it what conditions and
/// searches read.
pub(super) fn user_item(client: &Client) -> Result<Item, StoreError> {
    let body = encode_client(client)?;
    let mut item = HashMap::from([
        (keys::PK.to_string(), s(client.id.as_str())),
        ("kind".to_string(), s(KIND_USER)),
        ("version".to_string(), n(client.version)),
        ("email".to_string(), s(client.email.normalized())),
        ("first_norm".to_string(), s(norm(&client.first_name))),
        (
            "updated_at".to_string(),
            s(client
                .updated_at
                .to_rfc3339_opts(SecondsFormat::Micros, true)),
        ),
        ("body".to_string(), s(body)),
    ]);
    if let Some(last) = &client.last_name {
        item.insert("last_norm".to_string(), s(norm(last)));
    }
    Ok(item)
}

pub(super) fn guard_item(client: &Client) -> Item {
    HashMap::from([
        (keys::PK.to_string(), s(guard_key(&client.email))),
        ("kind".to_string(), s(KIND_EMAIL)),
        ("user_id".to_string(), s(client.id.as_str())),
    ])
}

/// The client in a user item's `body`.
pub(super) fn client_of(item: &Item) -> Result<Client, StoreError> {
    let body = get_s(item, "body").ok_or_else(|| broken("a user item without its `body`"))?;
    decode_client(body)
}

pub(super) fn with_score(client: Client, score: Option<&Item>) -> ClientWithScore {
    ClientWithScore {
        client,
        score: score
            .and_then(|i| get_n(i, "score"))
            .map(|s| s.min(u8::MAX.into()) as u8),
        tier: score.and_then(|i| get_s(i, "tier")).and_then(Tier::parse),
        // Read apart, by address: see `suppressed_among`.
        suppressed: false,
    }
}

/// A list's cursor: the last listed id, in the format every store shares
/// ([`engage_core::keys`]).
pub(super) fn encode_cursor(id: &str) -> String {
    crate::ddb::encode_cursor(&[id])
}

pub(super) fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    Ok(crate::ddb::decode_cursor(cursor, 1)?.remove(0))
}
