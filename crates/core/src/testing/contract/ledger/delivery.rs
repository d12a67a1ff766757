//! An email's life after it is recorded: [`Ledger::get_email`], the conditional moves
//! ([`Ledger::transition`], [`Ledger::transition_many`]) and what the scheduler
//! sweeps for ([`Ledger::emails_to_deliver`], [`Ledger::stuck_sending`]).
//!
//! [`Ledger::get_email`]: crate::ports::Ledger::get_email
//! [`Ledger::transition`]: crate::ports::Ledger::transition
//! [`Ledger::transition_many`]: crate::ports::Ledger::transition_many
//! [`Ledger::emails_to_deliver`]: crate::ports::Ledger::emails_to_deliver
//! [`Ledger::stuck_sending`]: crate::ports::Ledger::stuck_sending

use super::fixtures::*;
use crate::email::{EmailStatus, StatusChange};
use crate::ids::EmailId;
use crate::ports::EmailTransition;
use crate::testing::{Backend, t0};
use chrono::Duration;

/// An email reads back as it was committed, every field; an unknown id is `None`.
pub async fn get_email_answers_the_email_as_committed(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let mut e = by_model(
        scheduled(
            email(&u, "evt_1", "welcome", EmailStatus::Scheduled, t0()),
            t0() + Duration::hours(8),
        ),
        Some(0.0042),
    );
    e.fallback_reason = None;
    e.status_history[0].note = Some("quiet hours in Europe/Paris".into());
    let mut fallback = email(&u, "evt_2", "nudge", EmailStatus::Pending, t0());
    fallback.fallback_reason = Some("the model's answer had no subject".into());
    f.record(&e).await;
    f.record(&fallback).await;
    let n = f.name;
    assert_eq!(f.email(&e.id).await, e, "{n}");
    assert_eq!(f.email(&fallback.id).await, fallback, "{n}");
    assert_eq!(
        f.ledger()
            .get_email(&EmailId::from_string("eml_nope"))
            .await
            .unwrap(),
        None,
        "{n}"
    );
}

/// A move happens only from its `from` status; otherwise (or for an unknown email)
/// it answers false and changes nothing.
pub async fn a_transition_moves_only_from_its_from_status(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    f.record(&e).await;
    let t1 = t0() + Duration::seconds(1);
    let n = f.name;
    assert!(
        f.transition(&e.id, EmailStatus::Pending, EmailStatus::Sending, t1)
            .await,
        "{n}"
    );
    let sending = f.email(&e.id).await;
    assert!(
        !f.transition(&e.id, EmailStatus::Pending, EmailStatus::Sending, t1)
            .await,
        "{n}: a second pending → sending finds it sending"
    );
    assert!(
        !f.transition(&e.id, EmailStatus::Sent, EmailStatus::Delivered, t1)
            .await,
        "{n}: not sent yet"
    );
    assert_eq!(
        f.email(&e.id).await,
        sending,
        "{n}: refused moves change nothing"
    );
    assert!(
        !f.transition(
            &EmailId::from_string("eml_nope"),
            EmailStatus::Pending,
            EmailStatus::Sending,
            t1
        )
        .await,
        "{n}: an unknown email"
    );
}

/// A move appends its change (note included) to the history; `sent` sets `sent_at`,
/// a given Message-ID is stored, and later moves keep both; the content is untouched.
pub async fn a_transition_records_history_sent_at_and_message_id(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let e = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    f.record(&e).await;
    let (t1, t2, t3) = (
        t0() + Duration::seconds(1),
        t0() + Duration::seconds(2),
        t0() + Duration::hours(1),
    );
    let l = f.ledger();
    let n = f.name;
    let sending = StatusChange {
        note: Some("handed to the sender".into()),
        ..change(EmailStatus::Sending, t1)
    };
    assert!(
        l.transition(&e.id, EmailStatus::Pending, sending.clone(), None)
            .await
            .unwrap()
    );
    assert!(
        l.transition(
            &e.id,
            EmailStatus::Sending,
            change(EmailStatus::Sent, t2),
            Some("<m1@example.com>".into())
        )
        .await
        .unwrap(),
        "{n}"
    );
    let sent = f.email(&e.id).await;
    assert_eq!(sent.status, EmailStatus::Sent, "{n}");
    assert_eq!(sent.sent_at, Some(t2), "{n}");
    assert_eq!(sent.message_id.as_deref(), Some("<m1@example.com>"), "{n}");
    assert_eq!(
        sent.status_history,
        [
            e.status_history[0].clone(),
            sending.clone(),
            change(EmailStatus::Sent, t2)
        ],
        "{n}"
    );
    assert_eq!(
        (
            &sent.subject,
            &sent.body_text,
            &sent.body_html,
            &sent.created_at
        ),
        (&e.subject, &e.body_text, &e.body_html, &e.created_at),
        "{n}: the content is untouched"
    );

    assert!(
        f.transition(&e.id, EmailStatus::Sent, EmailStatus::Delivered, t3)
            .await,
        "{n}"
    );
    let delivered = f.email(&e.id).await;
    assert_eq!(delivered.status, EmailStatus::Delivered, "{n}");
    assert_eq!(delivered.sent_at, Some(t2), "{n}: sent_at is kept");
    assert_eq!(
        delivered.message_id.as_deref(),
        Some("<m1@example.com>"),
        "{n}: the Message-ID is kept"
    );
    assert_eq!(delivered.status_history.len(), 4, "{n}");
}

/// `transition_many` answers each move as `transition` would, in order: a move of
/// the batch sees the moves before it.
pub async fn transition_many_answers_each_move_in_order(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let a = email(&u, "evt_1", "welcome", EmailStatus::Pending, t0());
    let b = email(&u, "evt_2", "nudge", EmailStatus::Pending, t0());
    f.record(&a).await;
    f.record(&b).await;
    let at = t0() + Duration::seconds(1);
    let m = |id: &EmailId, from, to, message_id: Option<&str>| EmailTransition {
        id: id.clone(),
        from,
        change: change(to, at),
        message_id: message_id.map(str::to_string),
    };
    let moved = f
        .ledger()
        .transition_many(vec![
            m(&a.id, EmailStatus::Pending, EmailStatus::Sending, None),
            m(&a.id, EmailStatus::Pending, EmailStatus::Failed, None),
            m(
                &a.id,
                EmailStatus::Sending,
                EmailStatus::Sent,
                Some("<a@example.com>"),
            ),
            m(&b.id, EmailStatus::Pending, EmailStatus::Cancelled, None),
            m(
                &EmailId::from_string("eml_nope"),
                EmailStatus::Pending,
                EmailStatus::Sending,
                None,
            ),
        ])
        .await
        .unwrap();
    let n = f.name;
    assert_eq!(moved, [true, false, true, true, false], "{n}");
    let a = f.email(&a.id).await;
    assert_eq!(a.status, EmailStatus::Sent, "{n}");
    assert_eq!(a.message_id.as_deref(), Some("<a@example.com>"), "{n}");
    let history: Vec<_> = a.status_history.iter().map(|h| h.status).collect();
    assert_eq!(
        history,
        [
            EmailStatus::Pending,
            EmailStatus::Sending,
            EmailStatus::Sent
        ],
        "{n}"
    );
    assert_eq!(f.email(&b.id).await.status, EmailStatus::Cancelled, "{n}");
    assert!(
        f.ledger()
            .transition_many(Vec::new())
            .await
            .unwrap()
            .is_empty(),
        "{n}"
    );
}

/// Scheduled emails due by `now` (their time included) and pending ones that entered
/// `pending` by `stranded_before` (included); scheduled ones first, each kind earliest
/// first; a scheduled email moved to pending is due from that move.
pub async fn due_scheduled_and_stranded_pending_emails_are_to_deliver(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let now = t0() + Duration::hours(2);
    let stranded_before = now - Duration::minutes(10);
    let at = |minutes| t0() + Duration::minutes(minutes);
    let scheduled_for = |event, at_| {
        scheduled(
            email(&u, event, "welcome", EmailStatus::Scheduled, t0()),
            at_,
        )
    };
    let due = scheduled_for("evt_1", at(60));
    let due_now = scheduled_for("evt_2", now);
    let later = scheduled_for("evt_3", now + Duration::seconds(1));
    let stranded = email(&u, "evt_4", "nudge", EmailStatus::Pending, at(5));
    let on_the_edge = email(&u, "evt_5", "nudge", EmailStatus::Pending, stranded_before);
    let fresh = email(&u, "evt_6", "nudge", EmailStatus::Pending, at(115));
    let old_sending = email(&u, "evt_7", "tips", EmailStatus::Sending, t0());
    let old_composing = email(&u, "evt_8", "tips", EmailStatus::Composing, t0());
    let old_failed = email(&u, "evt_9", "tips", EmailStatus::Failed, t0());
    for e in [
        &due,
        &due_now,
        &later,
        &stranded,
        &on_the_edge,
        &fresh,
        &old_sending,
        &old_composing,
        &old_failed,
    ] {
        f.record(e).await;
    }
    let n = f.name;
    let to_deliver = || async {
        f.ledger()
            .emails_to_deliver(now, stranded_before, 10)
            .await
            .unwrap()
    };
    assert_eq!(
        to_deliver().await,
        [
            due.id.clone(),
            due_now.id.clone(),
            stranded.id.clone(),
            on_the_edge.id.clone()
        ],
        "{n}"
    );

    assert!(
        f.transition(&due.id, EmailStatus::Scheduled, EmailStatus::Pending, now)
            .await,
        "{n}"
    );
    assert_eq!(
        to_deliver().await,
        [
            due_now.id.clone(),
            stranded.id.clone(),
            on_the_edge.id.clone()
        ],
        "{n}: pending since now, not stranded yet"
    );
    assert_eq!(
        f.ledger().emails_to_deliver(now, now, 10).await.unwrap(),
        [
            due_now.id.clone(),
            stranded.id.clone(),
            on_the_edge.id.clone(),
            fresh.id.clone(),
            due.id.clone()
        ],
        "{n}: stranded once its move to pending is old enough"
    );
}

/// `limit` bounds each kind: up to `limit` scheduled emails and up to `limit` pending
/// ones, the earliest due of each.
pub async fn emails_to_deliver_takes_up_to_limit_of_each_kind(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let at = |minutes| t0() + Duration::minutes(minutes);
    let mut scheduled_ids = Vec::new();
    let mut pending_ids = Vec::new();
    // Recorded latest first, so an answer in recording order would be wrong.
    for i in (0..3).rev() {
        let s = scheduled(
            email(
                &u,
                &format!("evt_s{i}"),
                "welcome",
                EmailStatus::Scheduled,
                t0(),
            ),
            at(10 + i),
        );
        let p = email(
            &u,
            &format!("evt_p{i}"),
            "nudge",
            EmailStatus::Pending,
            at(i),
        );
        f.record(&s).await;
        f.record(&p).await;
        scheduled_ids.insert(0, s.id);
        pending_ids.insert(0, p.id);
    }
    let found = f
        .ledger()
        .emails_to_deliver(at(60), at(30), 2)
        .await
        .unwrap();
    assert_eq!(
        found,
        [
            scheduled_ids[0].clone(),
            scheduled_ids[1].clone(),
            pending_ids[0].clone(),
            pending_ids[1].clone()
        ],
        "{}: two of each, earliest first",
        f.name
    );
}

/// `sending` emails that entered `sending` by `before` (included), earliest first,
/// up to `limit`; no other status.
pub async fn sending_emails_are_stuck_once_older_than_the_bound(backend: &dyn Backend) {
    let f = Fixture::new(backend).await;
    let u = user(1);
    let at = |s| t0() + Duration::seconds(s);
    let mut ids = Vec::new();
    for (i, s) in [30, 10, 20].into_iter().enumerate() {
        let e = email(
            &u,
            &format!("evt_{i}"),
            "welcome",
            EmailStatus::Pending,
            t0(),
        );
        f.record(&e).await;
        assert!(
            f.transition(&e.id, EmailStatus::Pending, EmailStatus::Sending, at(s))
                .await,
            "{}",
            f.name
        );
        ids.push(e.id);
    }
    let sent = email(&u, "evt_9", "nudge", EmailStatus::Sent, t0());
    f.record(&sent).await;
    let n = f.name;
    let stuck = |before, limit| {
        let f = &f;
        async move { f.ledger().stuck_sending(before, limit).await.unwrap() }
    };
    assert_eq!(
        stuck(at(60), 10).await,
        [ids[1].clone(), ids[2].clone(), ids[0].clone()],
        "{n}"
    );
    assert_eq!(
        stuck(at(20), 10).await,
        [ids[1].clone(), ids[2].clone()],
        "{n}: the bound included"
    );
    assert_eq!(
        stuck(at(60), 2).await,
        [ids[1].clone(), ids[2].clone()],
        "{n}: limit"
    );
    assert!(stuck(at(9), 10).await.is_empty(), "{n}");
}
