//! Time in decisions: quiet hours in the client's zone, the frequency cap's window,
//! and the scheduler's rescoring sweep.

use crate::world::{World, decided, statuses};
use chrono::{DateTime, Duration, Utc};
use engage_core::change::{Event, EventType};
use engage_core::client::{Activity, StyleProfile};
use engage_core::email::{DecisionOutcome, EmailStatus, SkipReason};
use engage_core::ports::{EmailHistory as _, Ledger};
use engage_core::processor::{Outcome, TickReport};
use engage_core::testing::t0;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn quiet_hours_schedule_the_email_for_the_end_of_the_night_in_the_clients_zone() {
    // t0 is noon UTC: 12:00 in London, 21:00 in Tokyo, 07:00 in New York.
    let w = World::new();
    let london = w.create("ada@example.com", "Europe/London").await;
    let tokyo = w.create("yuki@example.com", "Asia/Tokyo").await;
    let new_york = w.create("grace@example.com", "America/New_York").await;
    let out: Vec<_> = w
        .decide()
        .await
        .into_iter()
        .map(|r| decided(r.unwrap()))
        .collect();

    assert_eq!(out[0].outcome, DecisionOutcome::Send);
    assert_eq!(out[0].scheduled_for, None);
    // Tokyo's quiet hours end at 08:00 the next day; New York's at 08:00 today.
    let tokyo_morning = at("2026-03-02T23:00:00Z");
    let new_york_morning = at("2026-03-02T13:00:00Z");
    assert_eq!(out[1].outcome, DecisionOutcome::Schedule);
    assert_eq!(out[1].scheduled_for, Some(tokyo_morning));
    assert!(
        out[1].explanation.contains("Asia/Tokyo"),
        "{}",
        out[1].explanation
    );
    assert_eq!(out[2].scheduled_for, Some(new_york_morning));
    let yuki = w.email_of(&tokyo.id).await;
    assert_eq!(yuki.status, EmailStatus::Scheduled);
    assert_eq!(yuki.scheduled_for, Some(tokyo_morning));
    assert_eq!(w.sender.sent().len(), 1, "only London's");
    assert_eq!(w.sender.sent()[0].to, london.email);

    w.clock.set(new_york_morning - Duration::seconds(1));
    assert_eq!(w.engine.tick(100).await.unwrap(), TickReport::default());
    w.clock.set(new_york_morning);
    assert_eq!(w.engine.tick(100).await.unwrap().sent, 1);
    assert_eq!(w.email_of(&new_york.id).await.status, EmailStatus::Sent);
    assert_eq!(w.email(&yuki.id).await.status, EmailStatus::Scheduled);

    w.clock.set(tokyo_morning);
    assert_eq!(w.engine.tick(100).await.unwrap().sent, 1);
    let yuki = w.email(&yuki.id).await;
    assert_eq!(
        statuses(&yuki),
        [
            EmailStatus::Scheduled,
            EmailStatus::Pending,
            EmailStatus::Sending,
            EmailStatus::Sent
        ]
    );
    assert_eq!(
        yuki.status_history[1].note.as_deref(),
        Some("quiet hours over")
    );
    assert_eq!(yuki.sent_at, Some(tokyo_morning));
    assert_eq!(w.sender.sent().len(), 3);
    assert_eq!(w.engine.tick(100).await.unwrap().sent, 0, "sent once");
}

#[tokio::test]
async fn the_frequency_cap_holds_back_a_third_email_in_a_week_and_lifts_after_it() {
    let w = World::new();
    // Signed up four days ago, a Fix delivered then and not rated: the welcome and
    // the feedback request both apply.
    w.clock.set(t0() - Duration::days(4));
    let ada = w.create("ada@example.com", "UTC").await;
    w.service
        .record_activity(
            &ada.id,
            Activity::FixDelivered {
                at: None,
                fix_id: "fix-1".into(),
                items_sent: 5,
            },
        )
        .await
        .unwrap();
    w.clock.set(t0());
    let sent: Vec<_> = w
        .decide()
        .await
        .into_iter()
        .map(|r| decided(r.unwrap()).campaign.unwrap())
        .collect();
    assert_eq!(sent, ["welcome", "fix_feedback"]);

    w.login(&ada.id).await;
    let capped = w.decide_one().await;
    assert_eq!(capped.outcome, DecisionOutcome::Skip);
    assert_eq!(capped.reason, Some(SkipReason::FrequencyCap));
    assert!(capped.campaign.is_some(), "names what was held back");

    // The window is seven days from each email: at the very end, still capped.
    w.clock.set(t0() + Duration::days(7));
    w.login(&ada.id).await;
    assert_eq!(w.decide_one().await.reason, Some(SkipReason::FrequencyCap));
    w.clock.set(t0() + Duration::days(7) + Duration::seconds(1));
    w.login(&ada.id).await;
    let d = w.decide_one().await;
    assert_eq!(d.outcome, DecisionOutcome::Send, "{d:?}");
    assert_eq!(w.emails_of(&ada.id).await.len(), 3);
}

#[tokio::test]
async fn a_failed_email_counts_neither_against_the_cap_nor_for_its_campaigns_cooldown() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.sender.fail_next_permanently("mailbox unavailable");
    let mut out = vec![w.decide_one().await];
    for _ in 0..2 {
        w.login(&ada.id).await;
        out.push(w.decide_one().await);
    }

    // The welcome failed, so the next event sends it again, and the one after is not
    // capped: one email of two counts.
    let campaigns: Vec<_> = out.iter().map(|d| d.campaign.as_deref().unwrap()).collect();
    assert_eq!(campaigns, ["welcome", "welcome", "complete_style_profile"]);
    assert!(out.iter().all(|d| d.outcome == DecisionOutcome::Send));
    let statuses: Vec<_> = w
        .emails_of(&ada.id)
        .await
        .iter()
        .map(|e| e.status)
        .collect();
    assert_eq!(
        statuses,
        [EmailStatus::Sent, EmailStatus::Sent, EmailStatus::Failed],
        "newest first"
    );
}

/// A profile two-thirds complete: no campaign asks for more of it.
fn full_profile() -> StyleProfile {
    StyleProfile {
        preferences: vec!["minimal".into()],
        top_size: Some("M".into()),
        bottom_size: Some("32".into()),
        shoe_size: Some("39".into()),
        ..StyleProfile::default()
    }
}

#[tokio::test]
async fn the_sweep_publishes_a_due_clients_rescore_once_per_lease_and_its_commit_sets_the_next() {
    let w = World::new();
    let ada = w
        .create_with("ada@example.com", "UTC", Some(full_profile()))
        .await;
    assert_eq!(w.decide_one().await.campaign.as_deref(), Some("welcome"));
    // A decision makes the next rescore due a day later.
    w.clock.set(t0() + Duration::days(1) - Duration::seconds(1));
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 0);

    // Eight days on: past the welcome's week, a new client with a full profile.
    let later = t0() + Duration::days(8);
    w.clock.set(later);
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 1);
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 0, "leased");
    let published = w.publisher.take();
    assert_eq!(published, [Event::rescore(&ada.id, 1, later)]);
    assert_eq!(published[0].event_type, EventType::RescoreDue);

    // Nothing applies: the score is stored, no decision recorded.
    assert_eq!(
        w.engine.process(&published[0]).await.unwrap(),
        Outcome::Rescored
    );
    assert_eq!(w.decisions_of(&ada.id).await.len(), 1, "the welcome's only");
    let stored = w.store.stored_score(&ada.id).await.unwrap().unwrap();
    assert_eq!(stored.computed_at, later);

    // The commit set the next rescore a day on (past the sweep's one-hour lease).
    w.clock
        .set(later + Duration::days(1) - Duration::seconds(1));
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 0);
    w.clock.set(later + Duration::days(1));
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 1);
}

#[tokio::test]
async fn a_rescore_the_sweep_leased_is_published_again_when_its_lease_runs_out_undecided() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    w.decide_one().await;
    let due = t0() + Duration::days(1);
    w.clock.set(due);
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 1);
    // The event is lost before any worker decides it.
    w.publisher.take();
    w.clock.set(due + Duration::minutes(59));
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 0);
    w.clock.set(due + Duration::hours(1));
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 1);
    assert_eq!(
        w.publisher.take()[0].user_id,
        ada.id,
        "the same client again"
    );
}

#[tokio::test]
async fn a_deleted_client_is_not_swept() {
    let w = World::new();
    let ada = w.create("ada@example.com", "UTC").await;
    let grace = w.create("grace@example.com", "UTC").await;
    w.decide().await;
    w.service.delete(&ada.id, None).await.unwrap();
    w.decide().await;

    w.clock.set(t0() + Duration::days(2));
    assert_eq!(w.engine.tick(100).await.unwrap().rescores, 1);
    let published = w.publisher.take();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].user_id, grace.id);
    let ctx = w
        .store
        .context(&ada.id, &ada.email, None, w.now())
        .await
        .unwrap();
    assert_eq!(ctx.ledger_seq, 0, "its ledger state went with it");
}
