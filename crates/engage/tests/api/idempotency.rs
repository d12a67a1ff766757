//! At-least-once delivery, exactly-once effects: redelivery, reordering and crashes.

use crate::helpers::*;
use chrono::Duration;
use engage_core::change::Event;
use engage_embedded::queue::EMAIL_QUEUE;
use serde_json::json;

#[tokio::test]
async fn the_same_change_delivered_twice_sends_one_email() {
    let app = spawn_app().await;
    let ids = [
        app.create_client("a@example.com", "Europe/London", true)
            .await,
        app.create_client("b@example.com", "Europe/London", true)
            .await,
    ];
    app.settle().await;
    let before: Vec<usize> = futures_count(&app, &ids).await;

    // Replay the whole change stream: every change is published again with the
    // same event id, and the claims turn each into a no-op.
    app.store.rewind_stream(0).await.unwrap();
    app.settle().await;
    assert_eq!(futures_count(&app, &ids).await, before);
    assert_eq!(app.outbox_files().len(), 2);

    // And a message handed to the processor directly, twice, changes nothing either.
    let change = app.store.changes_after(0, 1).await.unwrap().remove(0);
    let event = engage_core::change::event_for_change(&change).unwrap();
    for _ in 0..2 {
        let outcome = app.pipeline.engine().process(&event).await.unwrap();
        assert_eq!(outcome, engage_core::processor::Outcome::Duplicate);
    }
    assert_eq!(futures_count(&app, &ids).await, before);
}

async fn futures_count(app: &TestApp, ids: &[String]) -> Vec<usize> {
    let mut out = Vec::new();
    for id in ids {
        out.push(app.emails(id).await.len());
        out.push(app.decisions(id).await.len());
    }
    out
}

#[tokio::test]
async fn changes_delivered_out_of_order_decide_on_the_current_state() {
    let app = spawn_app().await;
    // v1: opted out; v2: opts in.
    let id = app
        .create_client("late@example.com", "Europe/London", false)
        .await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"version": 1, "email_opt_in": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let mut messages = app.take_messages(10).await;
    assert_eq!(messages.len(), 2);
    let versions: Vec<u64> = messages
        .iter()
        .map(|m| serde_json::from_str::<Event>(&m.body).unwrap().user_version)
        .collect();
    assert_eq!(versions, [1, 2]);

    // Deliver v2's event first, then v1's.
    messages.reverse();
    for m in messages {
        app.pipeline.handle(m).await.unwrap();
    }
    let decisions = app.decisions(&id).await;
    assert_eq!(decisions.len(), 2);
    let by_version = |v: u64| {
        decisions
            .iter()
            .find(|d| {
                d["event_type"]
                    == if v == 1 {
                        "client_created"
                    } else {
                        "consent_changed"
                    }
            })
            .unwrap()
    };
    assert_eq!(
        by_version(2)["outcome"],
        "send",
        "decided on the current, opted-in state"
    );
    assert_eq!(by_version(1)["outcome"], "skip");
    assert_eq!(
        by_version(1)["reason"],
        "superseded",
        "the older event is a no-op"
    );
    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["campaign"], "welcome");
}

#[tokio::test]
async fn a_message_received_but_never_acknowledged_is_processed_once_after_a_restart() {
    let app = spawn_app().await;
    let id = app
        .create_client("crash@example.com", "Europe/London", true)
        .await;
    let taken = app.take_messages(10).await;
    assert_eq!(taken.len(), 1);

    // The process dies holding the message; what starts next only drives the
    // pipeline step by step (as `engage replay` does), so it does not own the queue.
    let app = app.restart().await;
    app.settle().await;
    assert!(
        app.emails(&id).await.is_empty(),
        "still invisible until the timeout"
    );

    app.clock.advance(Duration::seconds(61));
    app.settle().await;
    assert_eq!(app.emails(&id).await.len(), 1);
    assert_eq!(app.decisions(&id).await.len(), 1);
    assert_eq!(app.outbox_files().len(), 1);
}

#[tokio::test]
async fn the_next_server_takes_back_a_killed_ones_in_flight_messages_at_once() {
    let app = spawn_app().await;
    let id = app
        .create_client("killed@example.com", "Europe/London", true)
        .await;
    assert_eq!(app.take_messages(10).await.len(), 1);
    assert_eq!(
        app.store.queue_depth(EMAIL_QUEUE).await.unwrap().in_flight,
        1
    );

    // The process dies holding the message; the next `engage serve` (it runs the
    // pipeline, so it owns the queue) starts with the clock where it was: no
    // visibility timeout has passed.
    let app = app.restart_with(|c| c.pipeline.autostart = true).await;
    let mut emails = Vec::new();
    for _ in 0..200 {
        emails = app.emails(&id).await;
        if emails.first().is_some_and(|e| e["status"] == "sent") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(emails.len(), 1, "sent without waiting out the timeout");
    assert_eq!(emails[0]["status"], "sent");
    assert_eq!(app.decisions(&id).await.len(), 1);
    assert_eq!(app.outbox_files().len(), 1);
}

#[tokio::test]
async fn a_message_processed_but_not_acknowledged_is_not_sent_again_after_a_restart() {
    let app = spawn_app().await;
    let id = app
        .create_client("twice@example.com", "Europe/London", true)
        .await;
    let taken = app.take_messages(10).await;
    let event: Event = serde_json::from_str(&taken[0].body).unwrap();
    app.pipeline.engine().process(&event).await.unwrap();
    assert_eq!(app.emails(&id).await[0]["status"], "sent");

    // The process dies after sending, before deleting the message.
    let app = app.restart().await;
    app.clock.advance(Duration::seconds(61));
    app.settle().await;
    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0]["status_history"].as_array().unwrap().len(),
        3,
        "pending, sending, sent: once"
    );
    assert_eq!(app.outbox_files().len(), 1);
    let depth = app.store.queue_depth(EMAIL_QUEUE).await.unwrap();
    assert_eq!(
        (depth.visible, depth.in_flight, depth.delayed),
        (0, 0, 0),
        "the redelivery was acknowledged"
    );
}

#[tokio::test]
async fn an_email_stranded_as_pending_by_a_crash_is_sent_by_the_scheduler() {
    let app = spawn_app().await;
    let id = app
        .create_client("stranded@example.com", "Europe/London", true)
        .await;
    let taken = app.take_messages(10).await;
    let event: Event = serde_json::from_str(&taken[0].body).unwrap();
    // Record the decision and the pending email as the processor would, then "crash"
    // before the send: done here by committing through the engine with a sender that
    // never runs — simulated by deleting the message and skipping delivery.
    let engine = app.pipeline.engine().clone();
    let client = engine
        .clients
        .get(&engage_core::ids::UserId::from_string(id.clone()))
        .await
        .unwrap()
        .unwrap();
    let breakdown = engine.engagement(&client).await.unwrap();
    let composed = engine
        .compose("welcome", &client, &breakdown)
        .await
        .unwrap();
    let email_id = engage_core::ids::EmailId::derive("welcome", &event.id);
    let decision_id = engage_core::ids::DecisionId::for_event(&event.id);
    let now = engage_core::clock::Clock::now(app.clock.as_ref());
    let email = engage_core::email::Email {
        id: email_id.clone(),
        user_id: client.id.clone(),
        campaign: "welcome".into(),
        status: engage_core::email::EmailStatus::Pending,
        subject: composed.content.subject,
        preheader: composed.content.preheader,
        body_html: engage_core::compose::render_html(&composed.content.body_text),
        body_text: composed.content.body_text,
        generator: composed.generator,
        generation: None,
        fallback_reason: None,
        trigger_event_id: event.id.clone(),
        decision_id: decision_id.clone(),
        created_at: now,
        scheduled_for: None,
        sent_at: None,
        message_id: None,
        status_history: vec![engage_core::email::StatusChange {
            status: engage_core::email::EmailStatus::Pending,
            at: now,
            note: None,
        }],
    };
    let decision = engage_core::email::Decision {
        id: decision_id,
        user_id: client.id.clone(),
        event_id: event.id.clone(),
        event_type: event.event_type,
        user_version: 1,
        at: now,
        outcome: engage_core::email::DecisionOutcome::Send,
        campaign: Some("welcome".into()),
        reason: None,
        explanation: "welcome sent".into(),
        score: Some(breakdown.score),
        tier: Some(breakdown.tier),
        email_id: Some(email_id),
        scheduled_for: None,
    };
    engine
        .ledger
        .commit(engage_core::ports::DecisionCommit {
            event_id: event.id.clone(),
            decision: Some(decision),
            email: Some(email),
            score: Some(breakdown),
            user_id: client.id.clone(),
            processed_version: 1,
            next_rescore_at: now + Duration::days(1),
            expected_ledger_seq: 0,
        })
        .await
        .unwrap();
    app.store.delete_message(&taken[0].receipt).await.unwrap();
    assert_eq!(app.emails(&id).await[0]["status"], "pending");

    let app = app.restart().await;
    app.tick().await;
    assert_eq!(
        app.emails(&id).await[0]["status"],
        "pending",
        "not yet considered stranded"
    );
    app.clock.advance(Duration::minutes(6));
    app.tick().await;
    assert_eq!(app.emails(&id).await[0]["status"], "sent");
    assert_eq!(app.outbox_files().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workers_deciding_on_one_client_at_once_send_one_email_per_trigger() {
    let app = spawn_app().await;
    let ids = app.clients_with_four_changes("race", 10).await;
    let messages = app.take_messages(100).await;
    assert_eq!(messages.len(), 40);
    // Every event of every client at once, as four workers would take them.
    let mut tasks = Vec::new();
    for m in messages {
        let engine = app.pipeline.engine().clone();
        let event: Event = serde_json::from_str(&m.body).unwrap();
        tasks.push(tokio::spawn(async move { engine.process(&event).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for id in &ids {
        let emails = app.emails(id).await;
        let welcomes = emails.iter().filter(|e| e["campaign"] == "welcome").count();
        assert_eq!(welcomes, 1, "{id}: {emails:?}");
        assert_eq!(app.decisions(id).await.len(), 4, "one decision per event");
    }
}
