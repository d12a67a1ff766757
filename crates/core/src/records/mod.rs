//! The shapes engage stores and sends: the JSON bodies of a client, of an email's
//! content and delivery state, of a decision and of a score, and the body of an
//! events-topic message. Both backends, and the Lambda handlers, encode and decode
//! these bodies here and nowhere else.
//!
//! Each record is a frozen copy of the JSON its domain type had when the record was
//! versioned, field names exactly as stored. Renaming a field of a domain type
//! changes a conversion in this module, never a stored name, so rows already stored
//! and messages already in flight keep reading.
//!
//! Every body is written with its version, `"v": 1`. A body without `v` was written
//! before bodies carried one, and reads as version 1. A body of any other version is
//! refused with a message that names the record kind and the versions, so a build
//! that meets a newer body says so instead of reporting a missing field.
//!
//! - `client`: [`ClientRecord`] and its parts (consent, style profile, activity
//!   facts, Fixes), the body of a client row or item and of a change-stream image;
//! - `email`: [`EmailRecord`], an email's content as first recorded (with its
//!   generation and status changes);
//! - `delivery`: [`DeliveryStateRecord`], the part of an email each status change
//!   rewrites;
//! - `decision`: [`DecisionRecord`];
//! - `score`: [`ScoreRecord`], a client's last score with its components and drivers;
//! - `event`: [`EventMessage`], the body of an events-topic (and queue) message.
//!
//! Enum values inside records (statuses, event types, tiers, outcomes, skip reasons)
//! are written by the domain enums' serde names; the records' tests pin every one.
//!
//! To add version 2 of a record: keep the version 1 struct as it is (it reads every
//! body stored so far), add the version 2 struct, and make the record's decode read
//! `v` and convert whichever version it finds into the domain type; encode writes
//! version 2 only. The builds still running version 1 refuse version 2 bodies with
//! the message above, so roll out a build that reads version 2 before one that
//! writes it.

mod client;
mod decision;
mod delivery;
mod email;
mod event;
mod score;

pub use client::{
    ActivityFactsRecord, ClientRecord, ConsentRecord, FixRecord, StyleProfileRecord, decode_client,
    encode_client,
};
pub use decision::{DecisionRecord, decode_decision, encode_decision};
pub use delivery::{DeliveryStateRecord, decode_delivery_state, encode_delivery_state};
pub use email::{EmailRecord, GenerationRecord, StatusChangeRecord, decode_email, encode_email};
pub use event::{EventMessage, decode_event, encode_event};
pub use score::{ComponentRecord, DriversRecord, ScoreRecord, decode_score, encode_score};

use crate::StoreError;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The version of every record this build writes, and the only one it reads.
pub const VERSION: u32 = 1;

/// The version of a body that carries none: it was written before bodies were
/// versioned, in the shape of version 1.
fn unversioned() -> u32 {
    1
}

/// A record kind, as errors name it.
#[derive(Debug, Clone, Copy)]
struct Kind {
    /// `client record`, `event message`.
    name: &'static str,
    /// Stored in a table (as opposed to sent as a message).
    stored: bool,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.stored {
            f.write_str("stored ")?;
        }
        f.write_str(self.name)
    }
}

fn failed(message: String) -> StoreError {
    StoreError::Unexpected(anyhow::anyhow!(message))
}

fn encode<R: Serialize>(kind: Kind, record: &R) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| failed(format!("{kind} does not encode: {e}")))
}

/// Refuses a version this build does not read.
fn check_version(kind: Kind, v: u32) -> Result<(), StoreError> {
    if v == VERSION {
        Ok(())
    } else {
        Err(failed(format!(
            "{kind} has version {v}; this build reads version {VERSION}"
        )))
    }
}

/// The version a body declares: `None` for JSON that is not an object with a numeric
/// `v` (a body stored before versions, or JSON that is none of engage's records). A
/// reader that also takes other JSON (the Lambda mailer's queue carries provider
/// notifications too) tells by it that a body it cannot decode is still engage's.
pub fn declared_version(body: &str) -> Option<u32> {
    match serde_json::from_str::<serde_json::Value>(body).ok()? {
        serde_json::Value::Object(o) => o.get("v")?.as_u64()?.try_into().ok(),
        _ => None,
    }
}

/// Reads a body as record `R` of version [`VERSION`]; `version` is the record's `v`.
fn decode<R: DeserializeOwned>(
    kind: Kind,
    body: &str,
    version: impl Fn(&R) -> u32,
) -> Result<R, StoreError> {
    match serde_json::from_str::<R>(body) {
        Ok(record) => {
            check_version(kind, version(&record))?;
            Ok(record)
        }
        Err(e) => {
            // A body of another version need not have this version's shape: its
            // version explains the failure better than the first field it lacks.
            if let Some(v) = declared_version(body) {
                check_version(kind, v)?;
            }
            Err(failed(format!("{kind} does not decode: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIND: Kind = Kind {
        name: "test record",
        stored: true,
    };

    #[derive(Debug, PartialEq, serde::Deserialize)]
    struct Probe {
        #[serde(default = "unversioned")]
        v: u32,
        name: String,
    }

    fn probe(body: &str) -> Result<Probe, String> {
        decode(KIND, body, |p: &Probe| p.v).map_err(|e| e.to_string())
    }

    #[test]
    fn a_body_without_a_version_is_version_1_and_another_version_is_refused() {
        let one = Probe {
            v: 1,
            name: "a".into(),
        };
        assert_eq!(probe(r#"{"name":"a"}"#), Ok(one));
        assert_eq!(
            probe(r#"{"v":2,"name":"a"}"#),
            Err("stored test record has version 2; this build reads version 1".into())
        );
        assert_eq!(
            probe(r#"{"v":0,"name":"a"}"#),
            Err("stored test record has version 0; this build reads version 1".into())
        );
    }

    #[test]
    fn a_body_of_another_shape_names_its_version_when_it_has_one() {
        assert_eq!(
            probe(r#"{"v":3,"title":"a"}"#),
            Err("stored test record has version 3; this build reads version 1".into())
        );
        let err = probe(r#"{"title":"a"}"#).unwrap_err();
        assert!(
            err.starts_with("stored test record does not decode: missing field `name`"),
            "{err}"
        );
        let err = probe("[3]").unwrap_err();
        assert!(
            err.starts_with("stored test record does not decode:"),
            "{err}"
        );
        let err = probe("not json").unwrap_err();
        assert!(
            err.starts_with("stored test record does not decode:"),
            "{err}"
        );
    }

    #[test]
    fn a_declared_version_is_read_from_any_object_that_has_one() {
        assert_eq!(declared_version(r#"{"v":2,"anything":[]}"#), Some(2));
        assert_eq!(declared_version(r#"{"v":1}"#), Some(1));
        for none in [r#"{"name":"a"}"#, r#"{"v":"2"}"#, "[1]", "not json", ""] {
            assert_eq!(declared_version(none), None, "{none}");
        }
    }

    #[test]
    fn a_message_is_not_called_stored() {
        let kind = Kind {
            name: "event message",
            stored: false,
        };
        assert_eq!(
            check_version(kind, 2).unwrap_err().to_string(),
            "event message has version 2; this build reads version 1"
        );
    }
}
