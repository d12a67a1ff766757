//! The operator's tools end to end: replaying the change stream repeats no effect,
//! and a message that keeps failing for a real reason lands in the dead-letter queue,
//! then is processed exactly once when redriven after the fix.

use crate::helpers::*;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Everything a replay could wrongly repeat: emails and decisions per client, and
/// the messages in the outbox.
async fn effects(app: &TestApp, ids: &[String]) -> (Vec<Value>, Vec<Value>, usize) {
    let mut emails = Vec::new();
    let mut decisions = Vec::new();
    for id in ids {
        emails.extend(app.emails(id).await);
        decisions.extend(app.decisions(id).await);
    }
    (emails, decisions, app.outbox_files().len())
}

async fn dead_letters(app: &TestApp) -> Vec<Value> {
    app.get_json("/api/v1/dead-letters").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_replay_over_the_whole_change_log_sends_nothing_twice() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for (i, tz) in ["Europe/London", "Europe/Paris", "America/New_York"]
        .iter()
        .enumerate()
    {
        let id = app
            .create_client(&format!("c{i}@example.com"), tz, true)
            .await;
        app.record(&id, json!({"type": "login"})).await;
        app.record(&id, json!({"type": "order"})).await;
        ids.push(id);
    }
    let fix = json!({"type": "fix_delivered", "fix_id": "fix_1", "items_sent": 5});
    app.record(&ids[0], fix).await;
    app.settle().await;
    let before = effects(&app, &ids).await;
    let sent = before.0.iter().filter(|e| e["status"] == "sent").count();
    assert!(sent >= 3, "emails were sent: {:?}", before.0);
    assert_eq!(before.2, sent, "an outbox file per sent email");
    assert!(before.1.len() >= 3, "decisions: {:?}", before.1);

    let (head, _) = app.store.stream_position().await.unwrap();
    assert_eq!(head, 10, "a change per write");
    let r = app.post("/api/v1/replay", &json!({"from": 0})).await;
    assert_eq!(r.status(), StatusCode::ACCEPTED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body, json!({"from": 0, "changes": 10}));
    app.settle().await;

    assert_eq!(effects(&app, &ids).await, before);
    assert!(dead_letters(&app).await.is_empty());
}

#[tokio::test]
async fn a_poison_message_lands_in_the_dlq_and_a_redrive_after_the_fix_processes_it_once() {
    let app = spawn_app().await;
    // A file where the outbox directory should be: every send fails, even for root.
    let outbox = app.data_dir.join("outbox");
    std::fs::remove_dir_all(&outbox).unwrap();
    std::fs::write(&outbox, "not a directory").unwrap();

    let id = app
        .create_client("poison@example.com", "Europe/London", true)
        .await;
    app.settle().await;
    let max_receives = engage::config::PipelineConfig::default().max_receives;
    let mut waits = 0;
    while dead_letters(&app).await.is_empty() {
        waits += 1;
        assert!(
            waits <= max_receives,
            "still not dead after {waits} backoffs"
        );
        // Past any backoff (at most five minutes), and the visibility timeout.
        app.clock.advance(Duration::minutes(6));
        app.settle().await;
    }
    assert_eq!(
        waits, max_receives,
        "received max_receives times, then moved"
    );
    let dead = dead_letters(&app).await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["source_queue"], "email");
    assert_eq!(dead[0]["receive_count"], max_receives);
    assert_eq!(dead[0]["body"]["user_id"], id.as_str());
    let error = dead[0]["last_error"].as_str().unwrap();
    assert!(error.contains("outbox"), "{error}");
    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["status"], "pending", "recorded, never sent");

    // The fix, then the redrive.
    std::fs::remove_file(&outbox).unwrap();
    std::fs::create_dir(&outbox).unwrap();
    let dead_id = dead[0]["id"].as_str().unwrap();
    let r = app
        .post(
            &format!("/api/v1/dead-letters/{dead_id}/redrive"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    app.settle().await;

    let emails = app.emails(&id).await;
    assert_eq!(emails.len(), 1);
    assert_eq!(emails[0]["status"], "sent");
    assert_eq!(app.outbox_files().len(), 1);
    assert_eq!(app.decisions(&id).await.len(), 1);
    assert!(dead_letters(&app).await.is_empty());
    let r = app
        .post(
            &format!("/api/v1/dead-letters/{dead_id}/redrive"),
            &json!({}),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND).await;
}
