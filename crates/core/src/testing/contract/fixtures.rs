//! What the contract cases share: clients to store, their next versions, scores
//! written the way the email processor writes them (through the ledger), and the
//! macro that turns a module's cases into one test each.

use super::super::{Stores, t0};
use crate::client::{Client, EmailAddress, NewClientFields};
use crate::ids::{EventId, UserId};
use crate::ports::{CommitResult, DecisionCommit};
use crate::score::{Drivers, ScoreBreakdown, Tier};
use chrono::Duration;

/// A parsed address (the cases' addresses are valid).
pub fn address(s: &str) -> EmailAddress {
    EmailAddress::parse(s).expect("a valid address")
}

/// A new opted-in client in Paris, without a last name, created at [`t0`] with a
/// fresh id. Ids are time-ordered, so clients made one after another sort in the
/// order they were made.
pub fn client(email: &str, first: &str) -> Client {
    NewClientFields {
        email: email.into(),
        first_name: first.into(),
        last_name: None,
        time_zone: "Europe/Paris".into(),
        email_opt_in: true,
        profile: None,
    }
    .check()
    .expect("a valid client")
    .into_client(UserId::generate(), t0())
}

/// The client's next version, as the service writes it: `version + 1`, updated a
/// minute after the version before. Change what the write changes on the result.
pub fn next(c: &Client) -> Client {
    let mut n = c.clone();
    n.version += 1;
    n.updated_at += Duration::minutes(1);
    n
}

/// A score breakdown with nothing behind it but its score and tier.
pub fn breakdown(score: u8, tier: Tier) -> ScoreBreakdown {
    ScoreBreakdown {
        score,
        tier,
        components: vec![],
        drivers: Drivers::default(),
        computed_at: t0(),
    }
}

/// Stores `score` and `tier` as the client's score, the way the processor stores one:
/// a decision commit (a rescore with nothing to record) at the client's current
/// `ledger_seq`.
pub async fn store_score(stores: &Stores, client: &Client, score: u8, tier: Tier) {
    let seq = stores
        .ledger
        .context(&client.id, &client.email, None, t0())
        .await
        .expect("the ledger reads the client's context")
        .ledger_seq;
    let commit = DecisionCommit {
        event_id: EventId::from_string(format!("evt_score_{}_{seq}", client.id)),
        decision: None,
        email: None,
        score: Some(breakdown(score, tier)),
        user_id: client.id.clone(),
        processed_version: client.version,
        next_rescore_at: t0() + Duration::days(1),
        expected_ledger_seq: seq,
    };
    let r = stores
        .ledger
        .commit(commit)
        .await
        .expect("the score commits");
    assert_eq!(r, CommitResult::Committed, "storing a score");
}

/// One `#[tokio::test]` per case, in a module named after the contract's module
/// (`clients::insert_…`), each calling `contract::<module>::<case>` with `$args`.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_cases {
    ($module:ident, $args:tt, [$($case:ident),+ $(,)?]) => {
        mod $module {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[::tokio::test]
                async fn $case() {
                    $crate::testing::contract::$module::$case $args.await;
                }
            )+
        }
    };
}
