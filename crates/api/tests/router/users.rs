//! `/api/v1/users`: create, read, patch and delete with versions, activity, the
//! engagement score, and the operator's unsubscribe and re-subscribe.

use crate::helpers::*;
use axum::body::Body;
use axum::http::{Method, header};
use serde_json::json;

#[tokio::test]
async fn creating_a_client_answers_201_with_location_etag_and_no_score_yet() {
    let app = spawn_app();
    let a = app.call(Method::POST, "/api/v1/users", Some(ada())).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(a.header("location"), format!("/api/v1/users/{id}"));
    assert_eq!(a.header("etag"), "\"1\"");
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["email"], "ada@example.com");
    assert_eq!(a.body["created_at"], "2026-03-02T12:00:00Z");
    assert!(a.body["score"].is_null() && a.body["tier"].is_null());
    assert!(a.body.get("client").is_none(), "flattened: {}", a.body);
    assert_eq!(app.changes().await.len(), 1, "one change record");

    let mut shouting = ada();
    shouting["email"] = json!("ADA@example.com");
    app.call(Method::POST, "/api/v1/users", Some(shouting))
        .await
        .assert_problem(409, "/problems/duplicate");
    assert_eq!(app.changes().await.len(), 1);
}

#[tokio::test]
async fn get_patch_and_delete_follow_versions() {
    let app = spawn_app();
    let id = app.create_client("ada@example.com").await;
    let uri = format!("/api/v1/users/{id}");

    let a = app.call(Method::GET, &uri, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("etag"), "\"1\"");

    app.call(Method::PATCH, &uri, Some(json!({"first_name": "Ada L."})))
        .await
        .assert_problem(428, "/problems/precondition-required");

    let patch = |if_match: &'static str| {
        req(Method::PATCH, &uri)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::IF_MATCH, if_match)
            .body(Body::from(r#"{"first_name":"Ada L."}"#))
            .unwrap()
    };
    let a = app.send(patch("\"7\"")).await;
    a.assert_problem(409, "/problems/version-conflict");
    assert_eq!(a.body["current_version"], 1);
    app.send(patch("soon"))
        .await
        .assert_problem(400, "/problems/bad-request");

    let a = app.send(patch("W/\"1\"")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("etag"), "\"2\"");
    assert_eq!(a.body["first_name"], "Ada L.");
    assert_eq!(app.get_user(&id).await["first_name"], "Ada L.", "stored");

    let a = app
        .call(
            Method::PATCH,
            &uri,
            Some(json!({"version": 2, "time_zone": "Nowhere"})),
        )
        .await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "time_zone");

    let r = req(Method::DELETE, &uri)
        .header(header::IF_MATCH, "\"1\"")
        .body(Body::empty())
        .unwrap();
    app.send(r)
        .await
        .assert_problem(409, "/problems/version-conflict");
    let a = app.call(Method::DELETE, &uri, None).await;
    assert_eq!(a.status, 204);
    assert!(a.body.is_null());
    app.call(Method::GET, &uri, None)
        .await
        .assert_problem(404, "/problems/not-found");
    app.call(Method::DELETE, &uri, None)
        .await
        .assert_problem(404, "/problems/not-found");
    // Create, one patch, delete: the refused writes left no trace.
    assert_eq!(app.changes().await.len(), 3);
}

#[tokio::test]
async fn a_patch_is_refused_for_its_version_or_client_before_its_fields() {
    let app = spawn_app();
    let id = app.create_client("ada@example.com").await;
    let uri = format!("/api/v1/users/{id}");
    let bad = json!({"time_zone": "Nowhere"});
    app.call(Method::PATCH, &uri, Some(bad.clone()))
        .await
        .assert_problem(428, "/problems/precondition-required");
    let stale = json!({"version": 7, "time_zone": "Nowhere"});
    let a = app.call(Method::PATCH, &uri, Some(stale)).await;
    a.assert_problem(409, "/problems/version-conflict");
    assert_eq!(a.body["current_version"], 1);
    let unknown = json!({"version": 1, "time_zone": "Nowhere"});
    app.call(
        Method::PATCH,
        "/api/v1/users/usr_nope",
        Some(unknown.clone()),
    )
    .await
    .assert_problem(404, "/problems/not-found");
    let a = app.call(Method::PATCH, &uri, Some(unknown)).await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "time_zone");
    assert_eq!(app.changes().await.len(), 1, "nothing written");
}

#[tokio::test]
async fn activity_and_engagement_of_a_client() {
    let app = spawn_app();
    let id = app.create_client("ada@example.com").await;
    let a = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/activity"),
            Some(json!({"type": "login"})),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["version"], 2);
    assert_eq!(a.body["activity"]["login_count"], 1);
    assert_eq!(a.body["activity"]["last_login_at"], "2026-03-02T12:00:00Z");

    app.call(
        Method::POST,
        &format!("/api/v1/users/{id}/activity"),
        Some(json!({"type": "teleport"})),
    )
    .await
    .assert_problem(422, "/problems/validation-error");

    let a = app
        .call(Method::GET, &format!("/api/v1/users/{id}/engagement"), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["tier"], "new");
    assert_eq!(a.body["components"].as_array().unwrap().len(), 5);

    app.call(Method::GET, "/api/v1/users/usr_nope/engagement", None)
        .await
        .assert_problem(404, "/problems/not-found");
    app.call(
        Method::POST,
        "/api/v1/users/usr_nope/activity",
        Some(json!({"type": "login"})),
    )
    .await
    .assert_problem(404, "/problems/not-found");
}

#[tokio::test]
async fn operators_unsubscribe_and_resubscribe_through_the_api_and_both_are_recorded() {
    let app = spawn_app();
    let id = app.create_client("ada@example.com").await;

    let a = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/unsubscribe"),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("etag"), "\"2\"");
    assert_eq!(a.body["consent"]["unsubscribed"], true);
    assert_eq!(a.body["consent"]["unsubscribed_at"], "2026-03-02T12:00:00Z");
    assert!(a.body.get("score").is_some(), "a ClientView: {}", a.body);

    // Again: nothing to change, nothing written.
    let a = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/unsubscribe"),
            None,
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["version"], 2);
    assert_eq!(app.changes().await.len(), 2);

    let a = app
        .call(
            Method::POST,
            &format!("/api/v1/users/{id}/resubscribe"),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("etag"), "\"3\"");
    assert_eq!(a.body["consent"]["unsubscribed"], false);
    assert!(a.body["consent"].get("unsubscribed_at").is_none());
    assert_eq!(app.get_user(&id).await["consent"]["unsubscribed"], false);

    let changes = app.changes().await;
    assert_eq!(changes.len(), 3);
    let last = changes.last().unwrap();
    assert_eq!(last.user_id.as_str(), id);
    assert!(last.old.as_ref().unwrap().consent.unsubscribed);
    assert!(!last.new.as_ref().unwrap().consent.unsubscribed);

    for action in ["unsubscribe", "resubscribe"] {
        app.call(
            Method::POST,
            &format!("/api/v1/users/usr_nope/{action}"),
            None,
        )
        .await
        .assert_problem(404, "/problems/not-found");
        let r = axum::http::Request::post(format!("/api/v1/users/{id}/{action}"))
            .body(Body::empty())
            .unwrap();
        app.send(r)
            .await
            .assert_problem(401, "/problems/unauthorized");
    }
    assert_eq!(app.changes().await.len(), 3);
}
