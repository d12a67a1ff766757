//! Consent at decision time and again at send time: the suppression list (matched
//! without case), unsubscribes and opt-outs that happen while an email waits.

use crate::world::{World, last_note};
use engage_core::client::EmailAddress;
use engage_core::email::{DecisionOutcome, EmailStatus, SkipReason};
use engage_core::ports::SuppressionStore;
use engage_core::processor::{Outcome, TickReport};
use engage_core::testing::t0;

#[tokio::test]
async fn a_suppressed_address_gets_no_email_whatever_its_case_and_the_reason_is_recorded() {
    let w = World::new();
    let shouted = EmailAddress::parse("ADA@Example.COM").unwrap();
    w.store.add(&shouted, "hard_bounce", t0()).await.unwrap();
    let ada = w.create("ada@example.com", "UTC").await;

    let d = w.decide_one().await;
    assert_eq!(d.outcome, DecisionOutcome::Skip);
    assert_eq!(d.reason, Some(SkipReason::Suppressed));
    assert_eq!(d.campaign.as_deref(), Some("welcome"), "what was held back");
    assert_eq!(
        d.explanation,
        "not sent, because the address is on the suppression list"
    );
    assert!(w.emails_of(&ada.id).await.is_empty());
    assert!(w.sender.sent().is_empty());
}

#[tokio::test]
async fn a_scheduled_email_to_an_address_suppressed_meanwhile_is_cancelled_when_due() {
    let w = World::new();
    let yuki = w.create("yuki@example.com", "Asia/Tokyo").await;
    let d = w.decide_one().await;
    let morning = d.scheduled_for.expect("quiet hours in Tokyo");
    w.store
        .add(
            &EmailAddress::parse("Yuki@Example.com").unwrap(),
            "complaint",
            t0(),
        )
        .await
        .unwrap();

    w.clock.set(morning);
    assert_eq!(w.engine.tick(100).await.unwrap(), TickReport::default());
    let email = w.email_of(&yuki.id).await;
    assert_eq!(email.status, EmailStatus::Cancelled);
    assert_eq!(
        last_note(&email),
        "not sent, because the address is on the suppression list"
    );
    assert!(w.sender.sent().is_empty());
}

#[tokio::test]
async fn an_unsubscribe_cancels_the_waiting_email_suppresses_the_address_and_skips_what_follows() {
    let w = World::new();
    let yuki = w.create("yuki@example.com", "Asia/Tokyo").await;
    let morning = w.decide_one().await.scheduled_for.unwrap();
    w.service.unsubscribe(&yuki.id, "one-click").await.unwrap();

    let s = w.store.get(&yuki.email).await.unwrap().expect("suppressed");
    assert_eq!(s.reason, "unsubscribed (one-click)");
    // The unsubscribe's own event: skipped, for the client's reason.
    let d = w.decide_one().await;
    assert_eq!(d.reason, Some(SkipReason::Unsubscribed));

    w.clock.set(morning);
    w.engine.tick(100).await.unwrap();
    let email = w.email_of(&yuki.id).await;
    assert_eq!(email.status, EmailStatus::Cancelled);
    assert_eq!(
        last_note(&email),
        "not sent, because the client unsubscribed"
    );

    w.login(&yuki.id).await;
    assert_eq!(w.decide_one().await.reason, Some(SkipReason::Unsubscribed));
    assert!(w.sender.sent().is_empty());
}

#[tokio::test]
async fn an_opt_out_before_a_pending_emails_redelivery_cancels_it() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let signup = w.events().pop().unwrap();
    w.sender.fail_next_transiently("throttled");
    assert!(w.engine.process(&signup).await.is_err(), "deferred");
    w.opt(&ada, false).await;

    // The queue redelivers the sign-up: the decision stands, consent is read again.
    assert_eq!(w.engine.process(&signup).await.unwrap(), Outcome::Duplicate);
    let email = w.email_of(&ada.id).await;
    assert_eq!(email.status, EmailStatus::Cancelled);
    assert_eq!(
        last_note(&email),
        "not sent, because the client has not opted in to email"
    );
    assert_eq!(w.sender.attempts(), 1);
    assert!(w.sender.sent().is_empty());
}
