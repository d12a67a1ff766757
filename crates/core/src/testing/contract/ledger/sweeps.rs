//! The leases of the background writers and sweeps: composing emails
//! ([`Ledger::claim_composing`], [`Ledger::finish_composing`]) and due rescores
//! ([`Ledger::take_due_rescores`]).
//!
//! [`Ledger::claim_composing`]: crate::ports::Ledger::claim_composing
//! [`Ledger::finish_composing`]: crate::ports::Ledger::finish_composing
//! [`Ledger::take_due_rescores`]: crate::ports::Ledger::take_due_rescores

use super::fixtures::*;
use crate::email::{Email, EmailStatus};
use crate::ids::EmailId;
use crate::testing::{Backend, t0};
use chrono::{DateTime, Duration, Utc};

/// `e` as its writer finished it at `at`: new content, `status` the last of its history.
fn written(e: &Email, status: EmailStatus, at: DateTime<Utc>) -> Email {
    let mut w = by_model(e.clone(), Some(0.001));
    w.subject = "Written by the model".into();
    w.body_text = "Hi Ana,\n\nA new Fix is ready.".into();
    w.body_html = "<p>Hi Ana,</p>\n<p>A new Fix is ready.</p>".into();
    w.status = status;
    w.status_history.push(change(status, at));
    w
}

/// A `composing` email is due from when it entered `composing`; a claim leases it
/// until `lease_until` (that instant included: it is free again then), so no other
/// writer takes it meanwhile.
pub async fn composing_emails_are_leased_to_one_writer_at_a_time(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Composing, t0());
    let not_yet = email(
        &u,
        "evt_2",
        "nudge",
        EmailStatus::Composing,
        t0() + Duration::hours(1),
    );
    let pending = email(&u, "evt_3", "tips", EmailStatus::Pending, t0());
    for x in [&e, &not_yet, &pending] {
        f.record(x).await;
    }
    let now = t0() + Duration::seconds(1);
    let lease = now + Duration::minutes(5);
    let claim = |now, lease_until, limit| {
        let f = &f;
        async move {
            f.ledger()
                .claim_composing(now, lease_until, limit)
                .await
                .unwrap()
        }
    };
    let n = f.name;
    assert_eq!(claim(now, lease, 10).await, vec![e.id.clone()], "{n}");
    assert!(
        claim(now + Duration::minutes(1), lease, 10)
            .await
            .is_empty(),
        "{n}: leased to the first writer"
    );
    assert_eq!(
        claim(lease, lease + Duration::minutes(5), 10).await,
        vec![e.id.clone()],
        "{n}: the writer died; when its lease ends another takes it"
    );
    assert_eq!(
        f.email(&e.id).await.status,
        EmailStatus::Composing,
        "{n}: a lease changes no status"
    );
}

/// `limit` bounds a claim, earliest due first; the rest stay for the next claim.
pub async fn claim_composing_takes_up_to_limit_earliest_first(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let mut ids = Vec::new();
    for i in (0..3).rev() {
        let e = email(
            &u,
            &format!("evt_{i}"),
            "welcome",
            EmailStatus::Composing,
            t0() + Duration::seconds(i),
        );
        f.record(&e).await;
        ids.insert(0, e.id);
    }
    let now = t0() + Duration::minutes(1);
    let lease = now + Duration::minutes(5);
    let n = f.name;
    assert_eq!(
        f.ledger().claim_composing(now, lease, 2).await.unwrap(),
        ids[..2],
        "{n}"
    );
    assert_eq!(
        f.ledger().claim_composing(now, lease, 2).await.unwrap(),
        ids[2..],
        "{n}: the two leased are not taken again"
    );
}

/// The first writer to finish stores the email (content and status); a second one
/// finds it no longer `composing` and changes nothing. Finished, it is due as its
/// new status says.
pub async fn finish_composing_stores_the_written_email_once(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Composing, t0());
    f.record(&e).await;
    let now = t0() + Duration::seconds(1);
    assert_eq!(
        f.ledger()
            .claim_composing(now, now + Duration::minutes(5), 10)
            .await
            .unwrap(),
        vec![e.id.clone()]
    );
    let later = now + Duration::seconds(30);
    let first = written(&e, EmailStatus::Pending, later);
    let n = f.name;
    assert!(
        f.ledger().finish_composing(first.clone()).await.unwrap(),
        "{n}"
    );
    assert_eq!(
        f.email(&e.id).await,
        first,
        "{n}: the written email, every field"
    );

    let mut slower = written(&e, EmailStatus::Pending, later + Duration::seconds(5));
    slower.subject = "Written by a slower writer".into();
    assert!(
        !f.ledger().finish_composing(slower).await.unwrap(),
        "{n}: a second writer loses"
    );
    assert_eq!(f.email(&e.id).await, first, "{n}: and changes nothing");
    assert!(
        f.ledger()
            .claim_composing(later + Duration::hours(1), later + Duration::hours(2), 10)
            .await
            .unwrap()
            .is_empty(),
        "{n}: no longer composing"
    );
    let to_deliver = |stranded_before| {
        let f = &f;
        async move {
            f.ledger()
                .emails_to_deliver(later, stranded_before, 10)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        to_deliver(later).await,
        vec![e.id.clone()],
        "{n}: pending since it was written"
    );
    assert!(
        to_deliver(later - Duration::seconds(1)).await.is_empty(),
        "{n}: not before"
    );

    let pending = email(&u, "evt_2", "nudge", EmailStatus::Pending, t0());
    f.record(&pending).await;
    assert!(
        !f.ledger()
            .finish_composing(written(&pending, EmailStatus::Pending, later))
            .await
            .unwrap(),
        "{n}: an email that was never composing"
    );
    assert_eq!(f.email(&pending.id).await, pending, "{n}");
    let mut unknown = written(&pending, EmailStatus::Pending, later);
    unknown.id = EmailId::from_string("eml_nope");
    assert!(!f.ledger().finish_composing(unknown).await.unwrap(), "{n}");
    assert_eq!(
        f.ledger()
            .get_email(&EmailId::from_string("eml_nope"))
            .await
            .unwrap(),
        None,
        "{n}: finishing creates nothing"
    );
}

/// An email written into quiet hours is due at its scheduled time, not before.
pub async fn a_composed_email_can_be_scheduled(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Composing, t0());
    f.record(&e).await;
    let at = t0() + Duration::seconds(20);
    let wake = t0() + Duration::hours(8);
    let mut w = written(&e, EmailStatus::Scheduled, at);
    w.scheduled_for = Some(wake);
    let n = f.name;
    assert!(f.ledger().finish_composing(w.clone()).await.unwrap(), "{n}");
    assert_eq!(f.email(&e.id).await, w, "{n}");
    let due = |now| {
        let f = &f;
        async move {
            f.ledger()
                .emails_to_deliver(now, now - Duration::minutes(5), 10)
                .await
                .unwrap()
        }
    };
    assert!(due(wake - Duration::seconds(1)).await.is_empty(), "{n}");
    assert_eq!(due(wake).await, vec![e.id.clone()], "{n}");
}

/// Clients whose next rescore is due, with their current version in the client
/// store, each leased until `lease_until`; a score without a client (never stored,
/// or deleted) is never answered; a later decision moves the next rescore on.
pub async fn due_rescores_are_leased_with_the_clients_version(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let due = f.insert_client(1, t0()).await;
    let not_due = f.insert_client(2, t0()).await;
    let deleted = f.insert_client(4, t0()).await;
    let never_stored = user(3);
    // Each decision sets the next rescore a day after it.
    f.decide(&due.id, "evt_1", t0(), None, 1).await;
    f.decide(&not_due.id, "evt_2", t0() + Duration::days(3), None, 1)
        .await;
    f.decide(&never_stored, "evt_3", t0(), None, 1).await;
    f.decide(&deleted.id, "evt_4", t0(), None, 1).await;
    f.stores.clients.delete(&deleted.id, Some(1)).await.unwrap();

    let now = t0() + Duration::days(2);
    let lease = now + Duration::hours(1);
    let take = |now, lease_until| {
        let f = &f;
        async move {
            f.ledger()
                .take_due_rescores(now, lease_until, 10)
                .await
                .unwrap()
        }
    };
    let n = f.name;
    assert_eq!(take(now, lease).await, [(due.id.clone(), 1)], "{n}");
    assert!(
        take(now + Duration::minutes(30), lease).await.is_empty(),
        "{n}: leased until {lease}"
    );
    let due = f.bump_client(due, now).await;
    assert_eq!(
        take(lease, lease + Duration::hours(1)).await,
        [(due.id.clone(), 2)],
        "{n}: due again when the lease ends, at the client's current version"
    );
    f.decide(&due.id, "evt_5", now + Duration::hours(3), None, 2)
        .await;
    assert!(
        take(now + Duration::hours(4), now + Duration::hours(5))
            .await
            .is_empty(),
        "{n}: the decision moved the next rescore a day on"
    );
    // Due next: the client at t0 + 3 days 3 hours, the other at t0 + 4 days.
    assert_eq!(
        take(t0() + Duration::days(4), t0() + Duration::days(5)).await,
        [(due.id.clone(), 2), (not_due.id.clone(), 1)],
        "{n}: earliest due first"
    );
}

/// `limit` bounds a sweep, earliest due first; the rest stay for the next sweep.
pub async fn take_due_rescores_takes_up_to_limit_earliest_first(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let mut ids = Vec::new();
    for i in (1..=3).rev() {
        let c = f.insert_client(i, t0()).await;
        f.decide(
            &c.id,
            &format!("evt_{i}"),
            t0() + Duration::hours(i64::from(i)),
            None,
            1,
        )
        .await;
        ids.insert(0, (c.id, 1));
    }
    let now = t0() + Duration::days(3);
    let lease = now + Duration::hours(1);
    let n = f.name;
    assert_eq!(
        f.ledger().take_due_rescores(now, lease, 2).await.unwrap(),
        ids[..2],
        "{n}"
    );
    assert_eq!(
        f.ledger().take_due_rescores(now, lease, 2).await.unwrap(),
        ids[2..],
        "{n}: the two leased are not taken again"
    );
}
