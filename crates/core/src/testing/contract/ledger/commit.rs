//! Decision commits: [`Ledger::commit`] and [`Ledger::commit_many`], their refusals
//! (`AlreadyClaimed`, `Stale`, and which wins when both apply) and what a commit
//! leaves behind.
//!
//! [`Ledger::commit`]: crate::ports::Ledger::commit
//! [`Ledger::commit_many`]: crate::ports::Ledger::commit_many

use super::fixtures::*;
use crate::email::EmailStatus;
use crate::ids::UserId;
use crate::ports::{CommitResult, DecisionCommit};
use crate::testing::{Backend, t0};
use chrono::Duration;

/// How many decisions the client has (at most 100).
async fn decisions(f: &Fixture, u: &UserId) -> usize {
    f.history()
        .list_decisions(u, None, 100)
        .await
        .unwrap()
        .items
        .len()
}

/// One commit writes the event's claim, the decision, the email and the score, and
/// moves the client's ledger state on.
pub async fn a_commit_stores_its_claim_decision_email_and_score(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    let c = commit(&u, "evt_1", t0(), Some(e.clone()), 3, 0);
    assert_eq!(
        f.ledger().commit(c.clone()).await.unwrap(),
        CommitResult::Committed,
        "{}",
        f.name
    );
    let n = f.name;
    assert_eq!(f.email(&e.id).await, e, "{n}: the email as committed");
    assert_eq!(
        f.ledger().claim_of(&event("evt_1")).await.unwrap(),
        Some(claim("evt_1", Some(&e))),
        "{n}"
    );
    assert_eq!(
        f.history()
            .list_decisions(&u, None, 10)
            .await
            .unwrap()
            .items,
        [c.decision.clone().unwrap()],
        "{n}: the decision as committed"
    );
    assert_eq!(
        f.history().stored_score(&u).await.unwrap(),
        Some(breakdown(50, t0())),
        "{n}: the score as committed"
    );
    let ctx = f.context(&u, t0()).await;
    assert_eq!(ctx.ledger_seq, 1, "{n}");
    assert_eq!(ctx.last_processed_version, Some(3), "{n}");
    assert_eq!(ctx.recent_emails.len(), 1, "{n}");
}

/// The same event again, on fresh state or not: its claim answers, nothing is written.
pub async fn a_redelivered_event_is_already_claimed_and_writes_nothing(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let first = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    f.commit(commit(&u, "evt_1", t0(), Some(first.clone()), 1, 0))
        .await;

    let later = t0() + Duration::minutes(5);
    let mut other = email(&u, "evt_1", "nudge", EmailStatus::Pending, later);
    other.id = crate::ids::EmailId::from_string("eml_evt_1_again");
    let mut again = commit(&u, "evt_1", later, Some(other.clone()), 2, 1);
    again.score = Some(breakdown(80, later));
    let n = f.name;
    assert_eq!(
        f.ledger().commit(again).await.unwrap(),
        CommitResult::AlreadyClaimed(claim("evt_1", Some(&first))),
        "{n}: the stored claim, not the new one"
    );
    assert_eq!(f.ledger().get_email(&other.id).await.unwrap(), None, "{n}");
    assert_eq!(
        f.history().stored_score(&u).await.unwrap(),
        Some(breakdown(50, t0())),
        "{n}: the score is the first commit's"
    );
    assert_eq!(decisions(&f, &u).await, 1, "{n}");
    let ctx = f.context(&u, later).await;
    assert_eq!(ctx.ledger_seq, 1, "{n}: the refused commit bumped nothing");
    assert_eq!(ctx.last_processed_version, Some(1), "{n}");
}

/// A commit whose inputs were read before another decision for the client committed
/// is `Stale` and writes nothing; decided again on fresh state, it commits.
pub async fn a_commit_on_a_stale_read_is_refused_and_writes_nothing(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let a = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    let b = email(&u, "evt_2", "nudge", EmailStatus::Pending, t0());
    // Two workers read ledger_seq 0 for the same client; the first commits.
    f.commit(commit(&u, "evt_1", t0(), Some(a), 1, 0)).await;
    let mut late = commit(&u, "evt_2", t0(), Some(b.clone()), 2, 0);
    late.score = Some(breakdown(90, t0()));
    let n = f.name;
    assert_eq!(
        f.ledger().commit(late.clone()).await.unwrap(),
        CommitResult::Stale,
        "{n}"
    );
    assert_eq!(f.ledger().get_email(&b.id).await.unwrap(), None, "{n}");
    assert_eq!(
        f.ledger().claim_of(&event("evt_2")).await.unwrap(),
        None,
        "{n}"
    );
    assert_eq!(decisions(&f, &u).await, 1, "{n}");
    assert_eq!(
        f.history().stored_score(&u).await.unwrap(),
        Some(breakdown(50, t0())),
        "{n}"
    );
    let ctx = f.context(&u, t0()).await;
    assert_eq!(
        (ctx.ledger_seq, ctx.last_processed_version),
        (1, Some(1)),
        "{n}"
    );

    late.expected_ledger_seq = 1;
    assert_eq!(
        f.ledger().commit(late).await.unwrap(),
        CommitResult::Committed,
        "{n}: decided again on fresh state"
    );
    let ctx = f.context(&u, t0()).await;
    assert_eq!(
        (ctx.ledger_seq, ctx.last_processed_version),
        (2, Some(2)),
        "{n}"
    );
    assert!(f.ledger().get_email(&b.id).await.unwrap().is_some(), "{n}");

    // A client's first commit must expect 0.
    let v = user(2);
    assert_eq!(
        f.ledger()
            .commit(commit(&v, "evt_3", t0(), None, 1, 4))
            .await
            .unwrap(),
        CommitResult::Stale,
        "{n}: a new client is at 0"
    );
    assert_eq!(f.context(&v, t0()).await.ledger_seq, 0, "{n}");
}

/// When the event is claimed and the read is stale too, the claim wins: the event
/// was decided on, so there is nothing to decide again.
pub async fn the_claim_wins_over_a_stale_read(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    let first = commit(&u, "evt_1", t0(), Some(e.clone()), 1, 0);
    f.commit(first.clone()).await;
    f.commit(commit(&u, "evt_2", t0(), None, 2, 1)).await;
    let n = f.name;
    assert_eq!(
        f.ledger().commit(first.clone()).await.unwrap(),
        CommitResult::AlreadyClaimed(claim("evt_1", Some(&e))),
        "{n}: claimed and stale (seq 0, now 2)"
    );
    // A commit without a decision on a claimed event is refused the same way.
    let rescore = DecisionCommit {
        decision: None,
        email: None,
        ..first
    };
    assert_eq!(
        f.ledger().commit(rescore.clone()).await.unwrap(),
        CommitResult::AlreadyClaimed(claim("evt_1", Some(&e))),
        "{n}: no decision, stale read, claimed event"
    );
    assert_eq!(
        f.ledger()
            .commit(DecisionCommit {
                expected_ledger_seq: 2,
                ..rescore
            })
            .await
            .unwrap(),
        CommitResult::AlreadyClaimed(claim("evt_1", Some(&e))),
        "{n}: no decision, fresh read, claimed event"
    );
    assert_eq!(f.context(&u, t0()).await.ledger_seq, 2, "{n}");
}

/// The stored processed version is the highest any commit named, whatever the order.
pub async fn the_processed_version_only_grows(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let n = f.name;
    for (i, (version, expect)) in [(5, 5), (3, 5), (5, 5), (7, 7)].into_iter().enumerate() {
        f.decide(&u, &format!("evt_{i}"), t0(), None, version).await;
        assert_eq!(
            f.context(&u, t0()).await.last_processed_version,
            Some(expect),
            "{n}: after a commit on version {version}"
        );
    }
    assert_eq!(f.context(&u, t0()).await.ledger_seq, 4, "{n}");
}

/// A commit without a decision (a time-based rescore) stores the score and moves the
/// ledger state on, but claims nothing and records no decision: the same rescore
/// event can be committed again.
pub async fn a_commit_without_a_decision_rescores_without_claiming(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    f.decide(&u, "evt_1", t0(), None, 2).await;
    let at = t0() + Duration::days(1);
    let rescore = DecisionCommit {
        event_id: event("evt_sweep_1"),
        decision: None,
        email: None,
        score: Some(breakdown(35, at)),
        user_id: u.clone(),
        processed_version: 3,
        next_rescore_at: at + Duration::days(1),
        expected_ledger_seq: 1,
    };
    f.commit(rescore.clone()).await;
    let n = f.name;
    assert_eq!(
        f.history().stored_score(&u).await.unwrap(),
        Some(breakdown(35, at)),
        "{n}"
    );
    assert_eq!(
        f.ledger().claim_of(&event("evt_sweep_1")).await.unwrap(),
        None,
        "{n}: no claim"
    );
    assert_eq!(decisions(&f, &u).await, 1, "{n}: no decision recorded");
    let ctx = f.context(&u, at).await;
    assert_eq!(
        (ctx.ledger_seq, ctx.last_processed_version),
        (2, Some(3)),
        "{n}"
    );
    f.commit(DecisionCommit {
        score: Some(breakdown(30, at)),
        expected_ledger_seq: 2,
        ..rescore
    })
    .await;
    assert_eq!(
        f.history().stored_score(&u).await.unwrap(),
        Some(breakdown(30, at)),
        "{n}: the same rescore event, committed again"
    );
}

/// A commit without a score (the client is gone) records the claim and the decision
/// but stores no score and leaves `ledger_seq` and the processed version alone.
pub async fn a_commit_without_a_score_leaves_the_ledger_state_alone(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let (u, v) = (user(1), user(2));
    let gone = DecisionCommit {
        score: None,
        ..commit(&u, "evt_1", t0(), None, 4, 0)
    };
    f.commit(gone).await;
    let n = f.name;
    assert_eq!(
        f.ledger().claim_of(&event("evt_1")).await.unwrap(),
        Some(claim("evt_1", None)),
        "{n}"
    );
    assert_eq!(decisions(&f, &u).await, 1, "{n}");
    assert_eq!(f.history().stored_score(&u).await.unwrap(), None, "{n}");
    let ctx = f.context(&u, t0()).await;
    assert_eq!(
        (ctx.ledger_seq, ctx.last_processed_version),
        (0, None),
        "{n}"
    );

    // On a client with a score, the score stays too.
    f.decide(&v, "evt_2", t0(), None, 1).await;
    f.commit(DecisionCommit {
        score: None,
        ..commit(&v, "evt_3", t0(), None, 2, 1)
    })
    .await;
    assert_eq!(
        f.history().stored_score(&v).await.unwrap(),
        Some(breakdown(50, t0())),
        "{n}"
    );
    let ctx = f.context(&v, t0()).await;
    assert_eq!(
        (ctx.ledger_seq, ctx.last_processed_version),
        (1, Some(1)),
        "{n}"
    );
}

/// `commit_many` answers each commit as `commit` would, in order: later commits see
/// what earlier ones in the batch wrote, and a refused one does not stop the rest.
pub async fn commit_many_answers_each_commit_in_order(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let (u, v) = (user(1), user(2));
    let e = email(&u, "evt_5", "welcome", EmailStatus::Pending, t0());
    let results = f
        .ledger()
        .commit_many(vec![
            commit(&u, "evt_1", t0(), None, 1, 0),
            commit(&v, "evt_2", t0(), None, 1, 0),
            // The same client on the state the first read: stale.
            commit(&u, "evt_3", t0(), None, 2, 0),
            // The first event again, on fresh state: claimed.
            commit(&u, "evt_1", t0(), None, 1, 1),
            // On the state after the first: committed.
            commit(&u, "evt_5", t0(), Some(e.clone()), 3, 1),
        ])
        .await
        .unwrap();
    let n = f.name;
    assert_eq!(
        results,
        [
            CommitResult::Committed,
            CommitResult::Committed,
            CommitResult::Stale,
            CommitResult::AlreadyClaimed(claim("evt_1", None)),
            CommitResult::Committed,
        ],
        "{n}"
    );
    assert_eq!(
        f.ledger().claim_of(&event("evt_3")).await.unwrap(),
        None,
        "{n}"
    );
    assert_eq!(f.email(&e.id).await, e, "{n}");
    assert_eq!(f.context(&u, t0()).await.ledger_seq, 2, "{n}");
    assert_eq!(f.context(&v, t0()).await.ledger_seq, 1, "{n}");
    assert!(
        f.ledger().commit_many(Vec::new()).await.unwrap().is_empty(),
        "{n}: no commits, no results"
    );
}
