//! What the API reads: [`Ledger::list_emails`], [`Ledger::list_decisions`] and
//! [`Ledger::stored_score`].
//!
//! [`Ledger::list_emails`]: crate::ports::Ledger::list_emails
//! [`Ledger::list_decisions`]: crate::ports::Ledger::list_decisions
//! [`Ledger::stored_score`]: crate::ports::Ledger::stored_score

use super::fixtures::*;
use crate::StoreError;
use crate::email::{Email, EmailStatus};
use crate::ports::EmailQuery;
use crate::testing::{Backend, t0};
use chrono::Duration;

/// Seven emails: five of client 1 (two created at the same instant), two of client 2.
/// Ids `eml_evt_<i>`; created at t0 + the minutes given.
async fn seven_emails(f: &Fixture) -> Vec<Email> {
    let (u, v) = (user(1), user(2));
    let mut all = Vec::new();
    for (i, (who, minutes, campaign, status)) in [
        (&u, 0, "welcome", EmailStatus::Pending),
        (&u, 1, "nudge", EmailStatus::Pending),
        (&u, 2, "nudge", EmailStatus::Failed),
        (&u, 2, "tips", EmailStatus::Pending),
        (&u, 3, "winback", EmailStatus::Failed),
        (&v, 1, "welcome", EmailStatus::Failed),
        (&v, 4, "nudge", EmailStatus::Pending),
    ]
    .into_iter()
    .enumerate()
    {
        let e = email(
            who,
            &format!("evt_{i}"),
            campaign,
            status,
            t0() + Duration::minutes(minutes),
        );
        f.record(&e).await;
        all.push(e);
    }
    all
}

/// Every page of a list, each as the numbers of its emails (`eml_evt_<i>` → `i`).
async fn pages(f: &Fixture, mut q: EmailQuery) -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    loop {
        let page = f
            .history()
            .list_emails(&q)
            .await
            .unwrap_or_else(|e| panic!("{}: list_emails {q:?}: {e}", f.name));
        assert!(
            page.items.len() <= q.limit.max(1) as usize,
            "{}: a page holds at most `limit`",
            f.name
        );
        out.push(
            page.items
                .iter()
                .map(|e| {
                    e.id.as_str()
                        .strip_prefix("eml_evt_")
                        .and_then(|i| i.parse().ok())
                        .expect("a fixture's id")
                })
                .collect(),
        );
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

/// Emails come newest first (ties by id, descending), whole, in pages of `limit`
/// (at least 1) whose cursor resumes exactly after the page; the last page has no
/// cursor, and no page is empty.
pub async fn email_lists_are_newest_first_in_pages(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let all = seven_emails(&f).await;
    let n = f.name;
    let q = |limit| EmailQuery {
        limit,
        ..EmailQuery::default()
    };
    assert_eq!(
        pages(&f, q(3)).await,
        [vec![6, 4, 3], vec![2, 5, 1], vec![0]],
        "{n}"
    );
    assert_eq!(
        pages(&f, q(7)).await,
        [vec![6, 4, 3, 2, 5, 1, 0]],
        "{n}: one full page"
    );
    assert_eq!(
        pages(&f, q(0)).await,
        [[6], [4], [3], [2], [5], [1], [0]],
        "{n}: limit 0 is taken as 1"
    );
    let first = f.history().list_emails(&q(2)).await.unwrap();
    assert_eq!(
        first.items,
        [all[6].clone(), all[4].clone()],
        "{n}: whole emails"
    );
}

/// The filters (client, status, campaign) combine; a status move moves an email
/// between the status lists.
pub async fn email_lists_filter_by_client_status_and_campaign(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let all = seven_emails(&f).await;
    let n = f.name;
    let q = |user: Option<u32>, status: Option<EmailStatus>, campaign: Option<&str>, limit| {
        EmailQuery {
            user_id: user.map(super::fixtures::user),
            status,
            campaign: campaign.map(str::to_string),
            cursor: None,
            limit,
        }
    };
    let (pending, failed) = (Some(EmailStatus::Pending), Some(EmailStatus::Failed));
    for (query, expect) in [
        (
            q(Some(1), None, None, 2),
            vec![vec![4, 3], vec![2, 1], vec![0]],
        ),
        (q(Some(2), None, None, 2), vec![vec![6, 5]]),
        (q(Some(9), None, None, 2), vec![vec![]]),
        (q(None, failed, None, 2), vec![vec![4, 2], vec![5]]),
        (
            q(None, None, Some("nudge"), 1),
            vec![vec![6], vec![2], vec![1]],
        ),
        (
            q(Some(1), pending, None, 1),
            vec![vec![3], vec![1], vec![0]],
        ),
        (q(Some(1), None, Some("nudge"), 10), vec![vec![2, 1]]),
        (q(None, pending, Some("nudge"), 1), vec![vec![6], vec![1]]),
        (q(Some(1), failed, Some("nudge"), 10), vec![vec![2]]),
        (q(None, Some(EmailStatus::Sent), None, 10), vec![vec![]]),
    ] {
        assert_eq!(pages(&f, query.clone()).await, expect, "{n}: {query:?}");
    }

    assert!(
        f.transition(
            &all[0].id,
            EmailStatus::Pending,
            EmailStatus::Failed,
            t0() + Duration::hours(1)
        )
        .await,
        "{n}"
    );
    assert_eq!(
        pages(&f, q(None, failed, None, 10)).await,
        [[4, 2, 5, 0]],
        "{n}: now failed, still in creation order"
    );
    assert_eq!(
        pages(&f, q(Some(1), pending, None, 10)).await,
        [[3, 1]],
        "{n}: no longer pending"
    );
}

/// A cursor the store did not make is `InvalidCursor`, for emails and decisions.
pub async fn lists_refuse_a_cursor_they_did_not_make(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    seven_emails(&f).await;
    let n = f.name;
    for bad in ["not base64 ✗", "Zm9v", "", "%%%"] {
        let r = f
            .history()
            .list_emails(&EmailQuery {
                cursor: Some(bad.into()),
                limit: 2,
                ..EmailQuery::default()
            })
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidCursor)),
            "{n}: emails, {bad:?}: {r:?}"
        );
        let r = f
            .history()
            .list_decisions(&user(1), Some(bad.into()), 2)
            .await;
        assert!(
            matches!(r, Err(StoreError::InvalidCursor)),
            "{n}: decisions, {bad:?}: {r:?}"
        );
    }
}

/// A client's decisions (not another's), newest first (ties by id, descending),
/// whole, in pages with a cursor.
pub async fn decisions_list_newest_first_in_pages(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    // evt_3 and evt_4 at the same instant.
    for (i, minutes) in [0, 1, 2, 3, 3].into_iter().enumerate() {
        f.decide(
            &u,
            &format!("evt_{i}"),
            t0() + Duration::minutes(minutes),
            None,
            1,
        )
        .await;
    }
    f.decide(&user(2), "evt_9", t0() + Duration::hours(1), None, 1)
        .await;
    let n = f.name;
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = f.history().list_decisions(&u, cursor, 2).await.unwrap();
        assert!(page.items.len() <= 2, "{n}");
        seen.push(
            page.items
                .iter()
                .map(|d| d.event_id.to_string())
                .collect::<Vec<_>>(),
        );
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        [
            vec!["evt_4", "evt_3"],
            vec!["evt_2", "evt_1"],
            vec!["evt_0"]
        ],
        "{n}"
    );
    let last = f.history().list_decisions(&u, None, 10).await.unwrap();
    assert_eq!(
        last.items.last(),
        Some(&decision(&u, "evt_0", t0(), None, 1)),
        "{n}: the decision as committed"
    );
    assert_eq!(last.next_cursor, None, "{n}");
    let none = f
        .history()
        .list_decisions(&user(7), None, 10)
        .await
        .unwrap();
    assert!(none.items.is_empty() && none.next_cursor.is_none(), "{n}");
}

/// The stored score is the last committed breakdown, per client; `None` before one.
pub async fn stored_score_is_the_last_committed_breakdown(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let (u, v) = (user(1), user(2));
    let n = f.name;
    assert_eq!(f.history().stored_score(&u).await.unwrap(), None, "{n}");
    f.decide(&u, "evt_1", t0(), None, 1).await;
    let later = t0() + Duration::days(1);
    let mut c = commit(&u, "evt_2", later, None, 2, 1);
    c.score = Some(breakdown(72, later));
    f.commit(c).await;
    f.decide(&v, "evt_3", t0(), None, 1).await;
    assert_eq!(
        f.history().stored_score(&u).await.unwrap(),
        Some(breakdown(72, later)),
        "{n}"
    );
    assert_eq!(
        f.history().stored_score(&v).await.unwrap(),
        Some(breakdown(50, t0())),
        "{n}"
    );
}
