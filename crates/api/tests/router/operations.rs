//! Dead letters and replay through HTTP, over the real store: poison messages are
//! made by failing real queue messages up to the maximum receives.

use crate::helpers::*;
use axum::body::Body;
use axum::http::Method;
use engage_embedded::queue::{EMAIL_DLQ, EMAIL_QUEUE, QueueSettings};
use serde_json::{Value, json};

const SETTINGS: QueueSettings = QueueSettings {
    visibility: std::time::Duration::from_secs(30),
    max_receives: 2,
    dead_letter_queue: EMAIL_DLQ,
};

/// Sends `bodies` to the email queue and fails each until it is a dead letter.
async fn poison(app: &TestApp, bodies: &[&str]) {
    let bodies = bodies.iter().map(|b| b.to_string()).collect();
    app.store
        .send_messages(EMAIL_QUEUE, bodies, std::time::Duration::ZERO)
        .await
        .unwrap();
    for attempt in 1..=SETTINGS.max_receives {
        for m in app.store.receive(EMAIL_QUEUE, 10, SETTINGS).await.unwrap() {
            let error = format!("outbox unwritable (attempt {attempt})");
            app.store
                .release(&m.receipt, std::time::Duration::ZERO, &error)
                .await
                .unwrap();
        }
    }
    let moved = app.store.receive(EMAIL_QUEUE, 10, SETTINGS).await.unwrap();
    assert!(moved.is_empty(), "the last receive moves them to the DLQ");
}

fn items(a: &Answer) -> &Vec<Value> {
    a.body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", a.body))
}

#[tokio::test]
async fn dead_letters_are_listed_inspected_and_redriven_one_by_one_or_all_at_once() {
    let app = spawn_app();
    poison(&app, &[r#"{"id":"evt_1"}"#, "raw", "third"]).await;

    let a = app.call(Method::GET, "/api/v1/dead-letters", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(items(&a).len(), 3);
    assert!(a.body["next_cursor"].is_null());
    let first = items(&a)[0].clone();
    assert_eq!(first["source_queue"], "email");
    assert_eq!(first["receive_count"], 2);
    assert_eq!(first["last_error"], "outbox unwritable (attempt 2)");
    assert_eq!(first["body"], json!({"id": "evt_1"}));
    assert_eq!(first["sent_at"], "2026-03-02T12:00:00Z");
    let id = first["id"].as_str().unwrap();

    let page = app
        .call(Method::GET, "/api/v1/dead-letters?limit=2", None)
        .await;
    assert_eq!(items(&page).len(), 2);
    let cursor = page.body["next_cursor"].as_str().expect("a next page");
    let rest = app
        .call(
            Method::GET,
            &format!("/api/v1/dead-letters?limit=2&cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(items(&rest)[0]["body"], "third");

    let one = app
        .call(Method::GET, &format!("/api/v1/dead-letters/{id}"), None)
        .await;
    assert_eq!(one.status, 200);
    assert_eq!(one.body, first);

    let a = app
        .call(
            Method::POST,
            &format!("/api/v1/dead-letters/{id}/redrive"),
            None,
        )
        .await;
    assert_eq!(a.status, 204, "{}", a.body);
    assert_eq!(a.body, Value::Null);
    app.call(Method::GET, &format!("/api/v1/dead-letters/{id}"), None)
        .await
        .assert_problem(404, "/problems/not-found");
    app.call(
        Method::POST,
        &format!("/api/v1/dead-letters/{id}/redrive"),
        None,
    )
    .await
    .assert_problem(404, "/problems/not-found");
    let back = app.store.queue_depth(EMAIL_QUEUE).await.unwrap();
    assert_eq!(back.visible, 1);

    let a = app
        .call(Method::POST, "/api/v1/dead-letters/redrive", None)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, json!({"redriven": 2}));
    let a = app.call(Method::GET, "/api/v1/dead-letters", None).await;
    assert!(items(&a).is_empty());
    assert_eq!(app.store.queue_depth(EMAIL_QUEUE).await.unwrap().visible, 3);
    let again = app
        .call(Method::POST, "/api/v1/dead-letters/redrive", None)
        .await;
    assert_eq!(again.body, json!({"redriven": 0}));
}

#[tokio::test]
async fn unknown_dead_letters_are_404_and_bad_parameters_400() {
    let app = spawn_app();
    for (method, uri) in [
        (Method::GET, "/api/v1/dead-letters/msg_999"),
        (Method::GET, "/api/v1/dead-letters/nope"),
        (Method::POST, "/api/v1/dead-letters/msg_999/redrive"),
        (Method::POST, "/api/v1/dead-letters/nope/redrive"),
    ] {
        let a = app.call(method.clone(), uri, None).await;
        a.assert_problem(404, "/problems/not-found");
        assert_eq!(a.body["detail"], "no dead letter has this id", "{uri}");
    }
    for (uri, field) in [
        ("/api/v1/dead-letters?cursor=bogus", "cursor"),
        ("/api/v1/dead-letters?limit=0", "limit"),
    ] {
        let a = app.call(Method::GET, uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], field, "{uri}");
    }
}

#[tokio::test]
async fn operations_need_the_token() {
    let app = spawn_app();
    for (method, uri) in [
        (Method::GET, "/api/v1/dead-letters"),
        (Method::GET, "/api/v1/dead-letters/msg_1"),
        (Method::POST, "/api/v1/dead-letters/msg_1/redrive"),
        (Method::POST, "/api/v1/dead-letters/redrive"),
        (Method::POST, "/api/v1/replay"),
    ] {
        let r = axum::http::Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"from":0}"#))
            .unwrap();
        app.send(r)
            .await
            .assert_problem(401, "/problems/unauthorized");
    }
    assert_eq!(app.store.stream_position().await.unwrap(), (0, 0));
}

#[tokio::test]
async fn replay_answers_how_many_changes_it_republishes_and_sends_nothing_twice() {
    let app = spawn_app();
    app.create_client("ada@example.com").await;
    app.create_client("bea@example.com").await;
    app.settle().await;
    let emails = app.call(Method::GET, "/api/v1/emails", None).await;
    assert_eq!(items(&emails).len(), 2, "{}", emails.body);

    let a = app
        .call(Method::POST, "/api/v1/replay", Some(json!({"from": 0})))
        .await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(a.body, json!({"from": 0, "changes": 2}));
    assert_eq!(app.store.stream_position().await.unwrap(), (2, 0));
    app.settle().await;
    let after = app.call(Method::GET, "/api/v1/emails", None).await;
    assert_eq!(after.body, emails.body, "the replay changed nothing");

    let a = app
        .call(Method::POST, "/api/v1/replay", Some(json!({"from": 1})))
        .await;
    assert_eq!(a.body, json!({"from": 1, "changes": 1}));
    let a = app
        .call(Method::POST, "/api/v1/replay", Some(json!({"from": 99})))
        .await;
    assert_eq!(a.status, 202);
    assert_eq!(a.body, json!({"from": 99, "changes": 0}), "past the head");

    for bad in [
        json!({}),
        json!({"from": -1}),
        json!({"from": "0"}),
        json!({"from": 0, "to": 2}),
    ] {
        let a = app
            .call(Method::POST, "/api/v1/replay", Some(bad.clone()))
            .await;
        a.assert_problem(422, "/problems/validation-error");
    }
}
