//! What the processor reads before deciding: [`Ledger::context`], [`Ledger::contexts`]
//! and [`Ledger::claim_of`].
//!
//! [`Ledger::context`]: crate::ports::Ledger::context
//! [`Ledger::contexts`]: crate::ports::Ledger::contexts
//! [`Ledger::claim_of`]: crate::ports::Ledger::claim_of

use super::fixtures::*;
use crate::email::EmailStatus;
use crate::policy::recent_emails_since;
use crate::ports::ContextRequest;
use crate::testing::{Backend, t0};
use chrono::Duration;

/// A client the ledger has never seen: no claim, no version, no emails, seq 0.
pub async fn a_new_clients_context_is_empty(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let ctx = f
        .ledger()
        .context(&u, &address(&u), Some(&event("evt_1")), t0())
        .await
        .unwrap();
    let n = f.name;
    assert_eq!(ctx.claim, None, "{n}");
    assert_eq!(ctx.last_processed_version, None, "{n}");
    assert!(ctx.recent_emails.is_empty(), "{n}");
    assert!(!ctx.suppressed, "{n}");
    assert_eq!(ctx.stats.sent_last_90_days, 0, "{n}");
    assert_eq!(ctx.ledger_seq, 0, "{n}");
}

/// The context names the claim of the event it is asked about, and only that one.
pub async fn the_context_holds_the_claim_of_its_event(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let sent = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    f.record(&sent).await;
    f.decide(&u, "evt_2", t0() + Duration::minutes(1), None, 2)
        .await;
    let n = f.name;
    let ask = |e: &'static str| {
        let (f, u) = (&f, &u);
        async move {
            f.ledger()
                .context(u, &address(u), Some(&event(e)), t0())
                .await
                .unwrap()
                .claim
        }
    };
    assert_eq!(ask("evt_1").await, Some(claim("evt_1", Some(&sent))), "{n}");
    assert_eq!(
        ask("evt_2").await,
        Some(claim("evt_2", None)),
        "{n}: a decision that sent nothing claims its event without an email"
    );
    assert_eq!(ask("evt_3").await, None, "{n}: an event not decided on");
    assert_eq!(f.context(&u, t0()).await.claim, None, "{n}: no event asked");
}

/// `claim_of` answers the decision (and email) an event was decided with.
pub async fn claim_of_answers_the_decision_of_a_decided_event(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let (u, v) = (user(1), user(2));
    let sent = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    f.record(&sent).await;
    f.decide(&v, "evt_2", t0(), None, 1).await;
    let claim_of = |e: &'static str| {
        let f = &f;
        async move { f.ledger().claim_of(&event(e)).await.unwrap() }
    };
    let n = f.name;
    assert_eq!(
        claim_of("evt_1").await,
        Some(claim("evt_1", Some(&sent))),
        "{n}"
    );
    assert_eq!(claim_of("evt_2").await, Some(claim("evt_2", None)), "{n}");
    assert_eq!(claim_of("evt_9").await, None, "{n}");
}

/// The recent emails: created at or after `now - 90 days` (that instant included),
/// newest first, ties by id descending, each with its current status; only the
/// client's own. The stats count the ones handed to the provider.
pub async fn recent_emails_are_the_last_90_days_newest_first(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let (u, v) = (user(1), user(2));
    let now = t0();
    let edge = now - Duration::days(90);
    let emails = [
        email(
            &u,
            "evt_1",
            "old",
            EmailStatus::Pending,
            now - Duration::days(100),
        ),
        email(
            &u,
            "evt_2",
            "outside",
            EmailStatus::Pending,
            edge - Duration::seconds(1),
        ),
        email(&u, "evt_3", "edge", EmailStatus::Pending, edge),
        email(
            &u,
            "evt_4",
            "nudge",
            EmailStatus::Pending,
            now - Duration::days(10),
        ),
        email(
            &u,
            "evt_5a",
            "tie",
            EmailStatus::Pending,
            now - Duration::days(1),
        ),
        email(
            &u,
            "evt_5b",
            "tie",
            EmailStatus::Pending,
            now - Duration::days(1),
        ),
        email(
            &u,
            "evt_6",
            "latest",
            EmailStatus::Pending,
            now - Duration::hours(1),
        ),
        email(
            &v,
            "evt_7",
            "theirs",
            EmailStatus::Pending,
            now - Duration::hours(2),
        ),
    ];
    for e in &emails {
        f.record(e).await;
    }
    let later = now - Duration::minutes(30);
    for (e, path) in [
        (
            &emails[3],
            &[
                EmailStatus::Sending,
                EmailStatus::Sent,
                EmailStatus::Delivered,
            ][..],
        ),
        (&emails[4], &[EmailStatus::Failed][..]),
        (&emails[6], &[EmailStatus::Sending, EmailStatus::Sent][..]),
    ] {
        let mut from = EmailStatus::Pending;
        for to in path {
            assert!(f.transition(&e.id, from, *to, later).await, "{}", f.name);
            from = *to;
        }
    }

    let ctx = f.context(&u, now).await;
    let recent: Vec<_> = ctx
        .recent_emails
        .iter()
        .map(|e| (e.campaign.as_str(), e.status, e.created_at))
        .collect();
    assert_eq!(
        recent,
        [
            ("latest", EmailStatus::Sent, now - Duration::hours(1)),
            ("tie", EmailStatus::Pending, now - Duration::days(1)),
            ("tie", EmailStatus::Failed, now - Duration::days(1)),
            ("nudge", EmailStatus::Delivered, now - Duration::days(10)),
            ("edge", EmailStatus::Pending, edge),
        ],
        "{}: the 90 days up to now, newest first (ties: evt_5b before evt_5a), current status",
        f.name
    );
    assert_eq!(
        ctx.stats.sent_last_90_days, 2,
        "{}: sent and delivered count, pending and failed do not",
        f.name
    );
}

/// Suppression is by address, whatever its case, and a request without an address
/// (the client is gone) is never suppressed.
pub async fn suppression_is_by_address_and_never_without_one(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    f.stores
        .suppressions
        .add(&addr("Ana@Example.com"), "bounce", t0())
        .await
        .unwrap();
    let suppressed = |a: Option<&'static str>| {
        let (f, u) = (&f, &u);
        async move {
            let request = ContextRequest {
                user: u.clone(),
                address: a.map(addr),
                event: None,
            };
            f.ledger()
                .contexts(&[request], recent_emails_since(t0()))
                .await
                .unwrap()[0]
                .suppressed
        }
    };
    let n = f.name;
    assert!(suppressed(Some("ana@example.com")).await, "{n}");
    assert!(
        suppressed(Some("ANA@example.COM")).await,
        "{n}: without case"
    );
    assert!(
        !suppressed(Some("bo@example.com")).await,
        "{n}: another address"
    );
    assert!(!suppressed(None).await, "{n}: no address, never suppressed");

    f.stores
        .suppressions
        .remove(&addr("ana@example.com"))
        .await
        .unwrap();
    assert!(!suppressed(Some("Ana@Example.com")).await, "{n}: lifted");
}

/// `contexts` answers one context per request, in order, each as `context` would,
/// a request without an address included (claim, state and emails are still read).
pub async fn contexts_answer_each_request_in_order(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let (u, v, w) = (user(1), user(2), user(3));
    let sent = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    f.record(&sent).await;
    f.decide(&u, "evt_2", t0(), None, 4).await;
    f.decide(&v, "evt_3", t0(), None, 2).await;
    f.stores
        .suppressions
        .add(&address(&v), "complaint", t0())
        .await
        .unwrap();
    let request = |user: &crate::ids::UserId, with_address: bool, e: Option<&str>| ContextRequest {
        user: user.clone(),
        address: with_address.then(|| address(user)),
        event: e.map(event),
    };
    let requests = [
        request(&v, true, Some("evt_3")),
        request(&w, true, None),
        request(&u, false, Some("evt_1")),
        request(&u, true, None),
    ];
    let many = f
        .ledger()
        .contexts(&requests, recent_emails_since(t0()))
        .await
        .unwrap();
    let n = f.name;
    assert_eq!(many.len(), 4, "{n}: one context per request");
    let seen: Vec<_> = many
        .iter()
        .map(|c| {
            (
                c.claim.clone(),
                c.last_processed_version,
                c.ledger_seq,
                c.recent_emails.len(),
                c.suppressed,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (Some(claim("evt_3", None)), Some(2), 1, 0, true),
            (None, None, 0, 0, false),
            (Some(claim("evt_1", Some(&sent))), Some(4), 2, 1, false),
            (None, Some(4), 2, 1, false),
        ],
        "{n}: (claim, last processed version, ledger_seq, recent emails, suppressed), in order"
    );
    assert!(
        f.ledger()
            .contexts(&[], recent_emails_since(t0()))
            .await
            .unwrap()
            .is_empty(),
        "{n}: no requests, no contexts"
    );
}
