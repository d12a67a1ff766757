//! Authentication, and bad input: every error is problem+json, nothing stored changes,
//! and no input produces a 500.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn api_routes_need_the_token_and_public_routes_do_not() {
    let app = spawn_app().await;
    let r = app.http.get(app.url("/api/v1/users")).send().await.unwrap();
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(challenge.starts_with("bearer"), "{challenge}");
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app
        .http
        .get(app.url("/api/v1/users"))
        .bearer_auth("wrong-token-0123456789")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app
        .http
        .get(app.url("/api/v1/users"))
        .header("authorization", "Basic Zm9vOmJhcg==")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;
    let r = app
        .http
        .post(app.url("/api/v1/users"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;

    // Public: up or down, nothing more.
    let health = app.http.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<Value>().await.unwrap(),
        json!({"status": "up"})
    );
    // `/metrics` needs the token (Prometheus scrapes with `bearer_token`).
    let r = app.http.get(app.url("/metrics")).send().await.unwrap();
    assert_problem(r, StatusCode::UNAUTHORIZED).await;

    let health = app.get("/health").await;
    assert_eq!(health.status(), StatusCode::OK);
    let health: Value = health.json().await.unwrap();
    let names: Vec<&str> = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for dep in [
        "database",
        "change_stream",
        "email_queue",
        "generator",
        "mail",
    ] {
        assert!(names.contains(&dep), "{dep} missing from {names:?}");
    }
    assert_eq!(health["status"], "up");

    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/users"].is_object());
    assert!(doc["paths"]["/api/v1/users/{id}/engagement"].is_object());
    let docs = app.http.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
}

#[tokio::test]
async fn bad_input_gets_a_clear_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app
        .create_client("keep@example.com", "Europe/London", true)
        .await;
    let before = app.get_json(&format!("/api/v1/users/{id}")).await;
    let url = app.url("/api/v1/users");

    let r = app
        .http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::BAD_REQUEST).await;

    let r = app.post("/api/v1/users", &json!({"email": "not-an-address", "first_name": "X", "time_zone": "UTC", "email_opt_in": true})).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("email"), "{p}");

    let r = app.post("/api/v1/users", &json!({"email": "x@example.com", "first_name": "X", "time_zone": "Mars/Olympus", "email_opt_in": true})).await;
    let p = assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert!(p["detail"].as_str().unwrap().contains("time zone"), "{p}");

    let r = app.post("/api/v1/users", &json!({"email": "KEEP@example.com", "first_name": "Dup", "time_zone": "UTC", "email_opt_in": true})).await;
    assert_problem(r, StatusCode::CONFLICT).await;

    assert_problem(
        app.get("/api/v1/users/usr_does_not_exist").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let r = app
        .post(
            "/api/v1/users/usr_does_not_exist/activity",
            &json!({"type": "login"}),
        )
        .await;
    assert_problem(r, StatusCode::NOT_FOUND).await;

    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"version": 7, "first_name": "Stale"}),
        )
        .await;
    let p = assert_problem(r, StatusCode::CONFLICT).await;
    assert_eq!(p["current_version"], 1);
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"first_name": "NoVersion"}),
        )
        .await;
    assert_problem(r, StatusCode::PRECONDITION_REQUIRED).await;
    let r = app
        .patch(
            &format!("/api/v1/users/{id}"),
            &json!({"version": 1, "email": "broken"}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;

    let huge = "x".repeat(2 * 1024 * 1024);
    let r = app
        .http
        .post(&url)
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(format!("{{\"first_name\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::PAYLOAD_TOO_LARGE).await;

    let r = app
        .post(
            &format!("/api/v1/users/{id}/activity"),
            &json!({"type": "fix_feedback", "fix_id": "nope", "items_kept": 1}),
        )
        .await;
    assert_problem(r, StatusCode::UNPROCESSABLE_ENTITY).await;
    let r = app.get("/api/v1/users?cursor=%%%garbage").await;
    assert!(r.status().is_client_error());
    let r = app.get("/api/v1/emails?cursor=Z2FyYmFnZQ").await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;
    let r = app.get("/api/v1/users?tier=legendary").await;
    assert_problem(r, StatusCode::BAD_REQUEST).await;

    let after = app.get_json(&format!("/api/v1/users/{id}")).await;
    assert_eq!(before, after, "nothing stored changed");
    let all = app.get_json("/api/v1/users").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn no_input_produces_a_server_error() {
    let app = spawn_app().await;
    let id = app.create_client("fuzz@example.com", "UTC", true).await;
    let bodies = [
        "null",
        "[]",
        "\"\"",
        "{}",
        "{\"type\": 1}",
        "{\"version\": -1}",
        "{\"version\": 1e99}",
        "{\"email\": null}",
        "{\"time_zone\": \"\"}",
        "{\"type\": \"fix_delivered\", \"fix_id\": \"\", \"items_sent\": 0}",
        "{\"type\": \"login\", \"at\": \"yesterday\"}",
        "{\"type\": \"login\", \"at\": \"2999-01-01T00:00:00Z\"}",
        "{\"first_name\": \"\\u0000\"}",
        "{\"profile\": {\"preferences\": [\"\"]}}",
        "\u{feff}{}",
    ];
    let paths = [
        ("POST", "/api/v1/users".to_string()),
        ("PATCH", format!("/api/v1/users/{id}")),
        ("POST", format!("/api/v1/users/{id}/activity")),
        ("POST", "/api/v1/suppressions".to_string()),
    ];
    for (method, path) in &paths {
        for body in bodies {
            let r = app
                .http
                .request(method.parse().unwrap(), app.url(path))
                .bearer_auth(TOKEN)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_client_error(),
                "{method} {path} {body} -> {}",
                r.status()
            );
        }
    }
    for path in [
        "/api/v1/users/%00",
        "/api/v1/emails/..%2f..",
        "/api/v1/users?limit=-1",
        "/api/v1/users?limit=abc",
        "/api/v1/emails?status=lost",
        "/api/nope",
        "/api",
    ] {
        let r = app.get(path).await;
        assert!(r.status().is_client_error(), "{path} -> {}", r.status());
    }
    let r = app
        .http
        .put(app.url("/api/v1/users"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_problem(r, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(
        app.get_json(&format!("/api/v1/users/{id}")).await["version"],
        1
    );
}

/// Unmatched pages outside the API are the console's: its `index.html` (or, in a build
/// without `web/dist`, a page saying how to build it), with a strict CSP; the API's own
/// prefixes stay problem+json 404s.
#[tokio::test]
async fn pages_outside_the_api_are_the_consoles_and_api_paths_stay_problems() {
    let app = spawn_app().await;
    for path in ["/", "/clients/usr_123", "/sign-in"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        let built = engage::console::built();
        assert_eq!(
            r.status(),
            if built {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            },
            "{path}"
        );
        let h = r.headers();
        assert!(
            h["content-type"].to_str().unwrap().starts_with("text/html"),
            "{path}"
        );
        assert!(
            h["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("script-src 'self'")
        );
        assert_eq!(h["x-content-type-options"], "nosniff");
        let html = r.text().await.unwrap();
        assert!(html.contains("<html"), "{html}");
    }
    for path in ["/api/v2/users", "/webhooks/nope", "/docs/nope"] {
        let r = app.http.get(app.url(path)).send().await.unwrap();
        assert_problem(r, StatusCode::NOT_FOUND).await;
    }
    // An unknown unsubscribe link is the unsubscribe page's own 404, for people.
    let r = app.http.get(app.url("/u/")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = app.http.post(app.url("/clients")).send().await.unwrap();
    assert_problem(r, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn feedback_without_a_listed_topic_takes_nothing_in_and_health_says_why() {
    let app = spawn_app_with(|c| c.feedback.enabled = Some(true)).await;
    let r = app
        .http
        .post(app.url("/webhooks/ses"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(r, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("sns_topic_arns"),
        "{problem}"
    );
    let health: Value = app.get("/health").await.json().await.unwrap();
    let feedback = health["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "feedback")
        .cloned()
        .unwrap();
    assert_eq!(feedback["status"], "degraded", "{health}");
    assert!(
        feedback["detail"]["error"]
            .as_str()
            .unwrap()
            .contains("sns_topic_arns"),
        "{health}"
    );
}
