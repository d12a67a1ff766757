//! Deciding once, on current state: duplicates, reordered and stale events, deleted
//! clients.

use crate::world::{World, decided, last_note};
use engage_core::email::{DecisionOutcome, EmailStatus, SkipReason};
use engage_core::ports::Ledger;
use engage_core::processor::{Outcome, ProcessError};

#[tokio::test]
async fn the_same_event_delivered_again_is_decided_once_and_sends_one_email() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let events = w.events();
    assert_eq!(events.len(), 1);

    let first = decided(w.engine.process(&events[0]).await.unwrap());
    assert_eq!(first.outcome, DecisionOutcome::Send);
    assert_eq!(first.campaign.as_deref(), Some("welcome"));
    assert_eq!(
        w.engine.process(&events[0]).await.unwrap(),
        Outcome::Duplicate
    );
    let batch = [events[0].clone(), events[0].clone()];
    let again = w.engine.process_batch(&batch).await.unwrap();
    assert!(
        again.iter().all(|r| matches!(r, Ok(Outcome::Duplicate))),
        "{again:?}"
    );

    assert_eq!(w.sender.sent().len(), 1);
    assert_eq!(w.sender.attempts(), 1);
    assert_eq!(w.decisions_of(&ada.id).await.len(), 1);
    assert_eq!(w.emails_of(&ada.id).await.len(), 1);
}

#[tokio::test]
async fn one_batch_holding_an_event_twice_decides_it_once() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let e = w.events().pop().unwrap();

    let out = w
        .engine
        .process_batch(&[e.clone(), e.clone()])
        .await
        .unwrap();
    assert!(matches!(&out[0], Ok(Outcome::Decided(d)) if d.outcome == DecisionOutcome::Send));
    assert!(matches!(out[1], Ok(Outcome::Duplicate)), "{:?}", out[1]);
    assert_eq!(w.sender.sent().len(), 1);
    assert_eq!(w.decisions_of(&ada.id).await.len(), 1);
}

#[tokio::test]
async fn a_redelivered_event_pushes_on_the_email_its_first_delivery_left_pending() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let e = w.events().pop().unwrap();
    w.sender.fail_next_transiently("throttled");

    let first = w.engine.process(&e).await;
    assert!(
        matches!(&first, Err(ProcessError::SendDeferred(why)) if why == "throttled"),
        "{first:?}"
    );
    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Pending);
    assert_eq!(last_note(&email), "will retry: throttled");
    assert!(w.store.claim_of(&e.id).await.unwrap().is_some());

    // The queue delivers the message again: the decision stands, the email goes.
    assert_eq!(w.engine.process(&e).await.unwrap(), Outcome::Duplicate);
    assert_eq!(w.email(&email.id).await.status, EmailStatus::Sent);
    assert_eq!(w.sender.attempts(), 2);
    assert_eq!(w.sender.sent().len(), 1);
    assert_eq!(w.decisions_of(&ada.id).await.len(), 1);
}

#[tokio::test]
async fn an_older_change_arriving_after_a_newer_one_is_superseded() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let ada = w.opt(&ada, false).await;
    let events = w.events();
    assert_eq!(
        events.iter().map(|e| e.user_version).collect::<Vec<_>>(),
        [1, 2]
    );

    // The newer change first: the client has opted out.
    let newer = decided(w.engine.process(&events[1]).await.unwrap());
    assert_eq!(newer.reason, Some(SkipReason::NotOptedIn));
    // The sign-up arrives late: a newer change was already decided on.
    let older = decided(w.engine.process(&events[0]).await.unwrap());
    assert_eq!(older.outcome, DecisionOutcome::Skip);
    assert_eq!(older.reason, Some(SkipReason::Superseded));
    assert_eq!(
        older.user_version, 2,
        "recorded against the current version"
    );
    assert!(older.explanation.contains("newer change"), "{older:?}");
    let ctx = w
        .store
        .context(&ada.id, &ada.email, None, w.now())
        .await
        .unwrap();
    assert_eq!(ctx.last_processed_version, Some(2), "never goes back");
    assert!(w.emails_of(&ada.id).await.is_empty());

    // Opting in again is a new change, decided on as any other: the welcome goes.
    w.opt(&ada, true).await;
    let d = w.decide_one().await;
    assert_eq!(d.outcome, DecisionOutcome::Send);
    assert_eq!(d.campaign.as_deref(), Some("welcome"));
}

#[tokio::test]
async fn an_event_is_decided_on_the_clients_current_state_not_on_what_it_says() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.opt(&ada, false).await;
    let events = w.events();

    // The sign-up's event, decided before the opt-out's: the client has opted out.
    let d = decided(w.engine.process(&events[0]).await.unwrap());
    assert_eq!(d.reason, Some(SkipReason::NotOptedIn));
    assert_eq!(d.user_version, 2);
    assert_eq!(d.campaign.as_deref(), Some("welcome"));
    let d = decided(w.engine.process(&events[1]).await.unwrap());
    assert_eq!(d.reason, Some(SkipReason::NotOptedIn));
    assert!(w.emails_of(&ada.id).await.is_empty());
    assert!(w.sender.sent().is_empty());
}

#[tokio::test]
async fn events_about_a_deleted_client_record_client_deleted_and_send_nothing() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.service.delete(&ada.id, None).await.unwrap();

    let out = w.decide().await;
    assert_eq!(out.len(), 2, "created and deleted");
    for r in out {
        let d = decided(r.unwrap());
        assert_eq!(d.outcome, DecisionOutcome::Skip);
        assert_eq!(d.reason, Some(SkipReason::ClientDeleted));
    }
    assert_eq!(w.decisions_of(&ada.id).await.len(), 2);
    assert!(w.emails_of(&ada.id).await.is_empty());
    assert!(w.sender.sent().is_empty());
}

#[tokio::test]
async fn a_message_that_is_not_an_event_fails_alone_and_its_batch_is_decided() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let e = w.events().pop().unwrap();
    let good = engage_core::records::encode_event(&e).unwrap();
    let newer = good.replacen("\"v\":1", "\"v\":2", 1);
    let results = w
        .engine
        .process_messages(&["not json", &newer, &good])
        .await;
    assert!(
        matches!(&results[0], Err(ProcessError::Undecodable(_))),
        "{:?}",
        results[0]
    );
    match &results[1] {
        Err(ProcessError::Undecodable(why)) => assert!(why.contains("version 2"), "{why}"),
        other => panic!("a newer message: {other:?}"),
    }
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(w.decisions_of(&ada.id).await.len(), 1);
}
