//! What the store's test files share: a fresh SQLite file, a manual clock, and
//! clients to store.

use chrono::{TimeZone, Utc};
use engage_core::client::{Client, NewClientFields};
use engage_core::clock::ManualClock;
use engage_core::ids::UserId;
use engage_embedded::{Durability, Store};
use std::sync::Arc;

pub struct Fixture {
    pub _dir: tempfile::TempDir,
    pub store: Store,
    pub clock: Arc<ManualClock>,
}

/// A store on a new file in a temporary directory, at Monday 2 March 2026, noon UTC.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap(),
    ));
    let store = Store::open(
        &dir.path().join("engage.db"),
        Durability::Normal,
        clock.clone(),
    )
    .unwrap();
    Fixture {
        _dir: dir,
        store,
        clock,
    }
}

/// A new opted-in client in Paris, as created at `now`.
pub fn client(email: &str, first: &str, now: chrono::DateTime<Utc>) -> Client {
    NewClientFields {
        email: email.into(),
        first_name: first.into(),
        last_name: None,
        time_zone: "Europe/Paris".into(),
        email_opt_in: true,
        profile: None,
    }
    .check()
    .unwrap()
    .into_client(UserId::generate(), now)
}
