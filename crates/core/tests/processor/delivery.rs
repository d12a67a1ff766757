//! Sending: what the sender is handed, a transient failure retried by the scheduler,
//! a permanent one failed for good, and an email stuck mid-send never sent twice.

use crate::world::{PUBLIC_URL, SECRET, World, decided, last_note, statuses};
use chrono::Duration;
use engage_core::email::{DecisionOutcome, EmailStatus, StatusChange};
use engage_core::ports::Ledger;
use engage_core::processor::{
    Delivery, Outcome, ProcessError, STRANDED_AFTER, STUCK_SENDING_AFTER,
};
use engage_core::testing::memory::ScriptedSender;
use engage_core::testing::t0;
use engage_core::unsubscribe::UnsubscribeLinks;

#[tokio::test]
async fn the_sender_is_handed_the_recorded_email_with_the_clients_name_and_a_signed_unsubscribe_link()
 {
    let w = World::new();
    let ada = w.create("Ada@Example.com", "UTC").await;
    w.decide_one().await;

    let sent = w.sender.sent();
    assert_eq!(sent.len(), 1);
    let out = &sent[0];
    assert_eq!(out.to.as_str(), "Ada@Example.com", "as the client gave it");
    assert_eq!(out.to_name, "Ada Lovelace");
    assert_eq!(out.from, w.engine.config.from);
    let token = out
        .unsubscribe_url
        .strip_prefix(&format!("{PUBLIC_URL}/u/"))
        .expect("engage's own link");
    let links = UnsubscribeLinks::new(PUBLIC_URL, SECRET);
    assert_eq!(links.verify(token), Some(ada.id.clone()));
    assert_eq!(out.unsubscribe_mailto, None, "no mailbox configured");

    let email = w.email_of(&ada.id).await;
    assert_eq!(out.email.id, email.id);
    assert_eq!(
        email.message_id,
        Some(ScriptedSender::message_id(&email.id))
    );
    assert_eq!(email.sent_at, Some(t0()));
    assert_eq!(last_note(&email), "accepted by memory");
}

#[tokio::test]
async fn a_transient_send_failure_keeps_the_email_pending_until_the_scheduler_retries_it() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.sender.fail_next_transiently("throttled");
    w.sender.fail_next_transiently("throttled again");
    let out = w.decide().await.pop().unwrap();
    assert!(matches!(out, Err(ProcessError::SendDeferred(_))), "{out:?}");
    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Pending);
    assert_eq!((email.sent_at, email.message_id), (None, None));

    // A pending email is the scheduler's once its worker has had time to finish.
    w.clock.set(t0() + STRANDED_AFTER - Duration::seconds(1));
    assert_eq!(w.engine.tick(100).await.unwrap().deferred, 0);
    assert_eq!(w.sender.attempts(), 1);
    w.clock.set(t0() + STRANDED_AFTER);
    let report = w.engine.tick(100).await.unwrap();
    assert_eq!((report.sent, report.deferred), (0, 1));
    let retry = t0() + STRANDED_AFTER * 2;
    w.clock.set(retry);
    let report = w.engine.tick(100).await.unwrap();
    assert_eq!((report.sent, report.deferred), (1, 0));

    let email = w.email(&email.id).await;
    assert_eq!(email.status, EmailStatus::Sent);
    assert_eq!(email.sent_at, Some(retry));
    let notes: Vec<_> = email
        .status_history
        .iter()
        .filter_map(|h| h.note.as_deref())
        .collect();
    assert_eq!(
        notes,
        [
            "will retry: throttled",
            "will retry: throttled again",
            "accepted by memory"
        ]
    );
    assert_eq!((w.sender.attempts(), w.sender.sent().len()), (3, 1));
}

#[tokio::test]
async fn a_permanent_send_failure_fails_the_email_and_only_an_operator_sends_it_again() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let e = w.events().pop().unwrap();
    w.sender.fail_next_permanently("550 no such mailbox");
    let d = decided(w.engine.process(&e).await.unwrap());
    assert_eq!(d.outcome, DecisionOutcome::Send, "the decision stands");

    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Failed);
    assert_eq!(last_note(&email), "550 no such mailbox");
    // Neither the scheduler nor a redelivery sends it again.
    w.clock.set(t0() + Duration::days(1));
    assert_eq!(w.engine.tick(100).await.unwrap().sent, 0);
    assert_eq!(w.engine.process(&e).await.unwrap(), Outcome::Duplicate);
    assert_eq!(w.sender.attempts(), 1);

    assert_eq!(
        w.engine.resend(&email.id).await.unwrap(),
        Some(Delivery::Sent)
    );
    let email = w.email(&email.id).await;
    assert_eq!(email.status, EmailStatus::Sent);
    assert!(
        email
            .status_history
            .iter()
            .any(|h| h.note.as_deref() == Some("resent at an operator's request"))
    );
    assert_eq!(
        w.engine.resend(&email.id).await.unwrap(),
        None,
        "not failed"
    );
    assert_eq!(w.sender.sent().len(), 1);
}

#[tokio::test]
async fn an_email_stuck_sending_is_failed_as_outcome_unknown_and_never_sent_again() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.sender.fail_next_transiently("connection reset");
    w.decide().await;
    let email = w.email_of(&ada.id).await;
    // A worker takes it to `sending` and its process stops there.
    let change = StatusChange {
        status: EmailStatus::Sending,
        at: t0(),
        note: None,
    };
    assert!(
        w.store
            .transition(&email.id, EmailStatus::Pending, change, None)
            .await
            .unwrap()
    );

    w.clock
        .set(t0() + STUCK_SENDING_AFTER - Duration::seconds(1));
    let report = w.engine.tick(100).await.unwrap();
    assert_eq!((report.stuck, report.sent), (0, 0));
    w.clock.set(t0() + STUCK_SENDING_AFTER);
    assert_eq!(w.engine.tick(100).await.unwrap().stuck, 1);

    let email = w.email(&email.id).await;
    assert_eq!(email.status, EmailStatus::Failed);
    assert!(
        last_note(&email).starts_with("outcome unknown"),
        "{email:?}"
    );
    w.clock.set(t0() + Duration::days(1));
    let report = w.engine.tick(100).await.unwrap();
    assert_eq!((report.stuck, report.sent), (0, 0));
    assert_eq!(w.sender.attempts(), 1, "only the first, failed, attempt");
    assert_eq!(
        statuses(&email),
        [
            EmailStatus::Pending,
            EmailStatus::Sending,
            EmailStatus::Pending,
            EmailStatus::Sending,
            EmailStatus::Failed
        ]
    );
}
