//! The public routes besides unsubscribing: `/health`, `/openapi.json`, `/docs`; the
//! document's coverage; and routes merged in with `router_with`.

use crate::doubles::DownHealth;
use crate::helpers::*;
use axum::Router;
use axum::http::Method;
use engage_api::{openapi, router_with};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn health_says_only_up_or_down_without_a_token_and_503_when_a_dependency_is_down() {
    let app = spawn_app();
    let a = app.get_public("/health").await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body, json!({"status": "up"}), "no details in public");

    // With the token: one entry per dependency.
    let a = app.call(Method::GET, "/health", None).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "up");
    assert_eq!(a.body["checks"][0]["name"], "database");
    assert_eq!(a.body["checks"][0]["status"], "up");

    // A wrong token is not a way to ask whether a token is right.
    let a = send(
        &app.router,
        axum::http::Request::get("/health")
            .header("authorization", "Bearer not-the-token")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    a.assert_problem(401, "/problems/unauthorized");

    let down = spawn_app_with(|state| state.health = Arc::new(DownHealth));
    let a = down.get_public("/health").await;
    assert_eq!(a.status, 503);
    assert_eq!(a.body, json!({"status": "down"}));
    assert_eq!(a.header("content-type"), "application/json");
}

#[tokio::test]
async fn the_document_and_the_docs_are_served_publicly() {
    let app = spawn_app();
    let a = app.get_public("/openapi.json").await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        serde_json::to_value(openapi()).unwrap(),
        "served = openapi()"
    );

    docs_ui(&app).await;
}

#[cfg(feature = "docs-ui")]
async fn docs_ui(app: &TestApp) {
    let a = app.get_public("/docs/").await;
    assert_eq!(a.status, 200);
    let html = a.text();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("https://"), "the page loads nothing remote");

    let a = app.get_public("/docs/swagger-initializer.js").await;
    assert_eq!(a.status, 200);
    let js = a.text();
    assert!(js.contains("/openapi.json"), "{js}");
    let compact: String = js.split_whitespace().collect();
    assert!(compact.contains("\"validatorUrl\":\"none\""), "{js}");
}

/// Without `docs-ui` (the Lambda `api` function) there is no `/docs`.
#[cfg(not(feature = "docs-ui"))]
async fn docs_ui(app: &TestApp) {
    let a = app.get_public("/docs/").await;
    assert_eq!(a.status, 404);
    assert_eq!(a.header("content-type"), "application/problem+json");
}

#[tokio::test]
async fn extra_routes_need_the_token_and_get_the_layers() {
    let app = spawn_app();
    let extra = Router::new().route("/metrics", axum::routing::get(|| async { "up 1\n" }));
    let router = router_with(app.state.clone(), extra);
    let a = send(
        &router,
        axum::http::Request::get("/metrics")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    a.assert_problem(401, "/problems/unauthorized");
    let a = send(
        &router,
        req(Method::GET, "/metrics")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.text(), "up 1\n");
    assert!(!a.header("x-request-id").is_empty());
    let a = send(
        &router,
        req(Method::POST, "/metrics")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    a.assert_problem(405, "/problems/method-not-allowed");
    let a = send(
        &router,
        axum::http::Request::get("/api/v1/users")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    a.assert_problem(401, "/problems/unauthorized");
    let a = send(
        &router,
        axum::http::Request::get("/nope")
            .body(Default::default())
            .unwrap(),
    )
    .await;
    a.assert_problem(404, "/problems/not-found");
}

#[test]
fn the_document_covers_every_route_with_security_and_problems() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/health", vec!["get"]),
        ("/u/{token}", vec!["get", "post"]),
        ("/webhooks/ses", vec!["post"]),
        ("/api/v1/users", vec!["get", "post"]),
        ("/api/v1/users/import", vec!["post"]),
        ("/api/v1/users/export", vec!["get"]),
        ("/api/v1/users/{id}", vec!["get", "patch", "delete"]),
        ("/api/v1/users/{id}/activity", vec!["post"]),
        ("/api/v1/users/{id}/unsubscribe", vec!["post"]),
        ("/api/v1/users/{id}/resubscribe", vec!["post"]),
        ("/api/v1/users/{id}/engagement", vec!["get"]),
        ("/api/v1/users/{id}/emails", vec!["get"]),
        ("/api/v1/users/{id}/emails/preview", vec!["post"]),
        ("/api/v1/users/{id}/decisions", vec!["get"]),
        ("/api/v1/emails", vec!["get"]),
        ("/api/v1/emails/{id}", vec!["get"]),
        ("/api/v1/emails/{id}/resend", vec!["post"]),
        ("/api/v1/emails/export", vec!["get"]),
        ("/api/v1/suppressions", vec!["get", "post"]),
        ("/api/v1/suppressions/{email}", vec!["delete"]),
        ("/api/v1/dead-letters", vec!["get"]),
        ("/api/v1/dead-letters/{id}", vec!["get"]),
        ("/api/v1/dead-letters/{id}/redrive", vec!["post"]),
        ("/api/v1/dead-letters/redrive", vec!["post"]),
        ("/api/v1/replay", vec!["post"]),
        ("/api/v1/users/{id}/changes", vec!["get"]),
        ("/api/v1/emails/{id}/raw", vec!["get"]),
        ("/api/v1/campaigns", vec!["get"]),
        ("/api/v1/stats", vec!["get"]),
    ];
    assert_eq!(paths.len(), expected.len(), "{:?}", paths.keys());
    for (path, methods) in expected {
        let item = &paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        for m in methods {
            let op = &item[m];
            assert!(op.is_object(), "{m} {path}");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.contains_key("500"), "{m} {path}");
            if path.starts_with("/api/v1") {
                assert_eq!(op["security"], json!([{"bearer": []}]), "{m} {path}");
                assert_eq!(
                    responses["401"]["$ref"],
                    "#/components/responses/Unauthorized"
                );
                assert_eq!(
                    responses["429"]["$ref"],
                    "#/components/responses/TooManyRequests"
                );
            } else if path == "/health" {
                // Public, and more with a token.
                assert_eq!(op["security"], json!([{}, {"bearer": []}]), "{m} {path}");
            } else {
                assert!(op.get("security").is_none(), "{m} {path} is public");
            }
            if path.starts_with("/u/") {
                // For people: HTML, never a problem document.
                assert_eq!(op["tags"], json!(["unsubscribe"]));
                assert!(!op.to_string().contains("problem"), "{m} {path}: {op}");
                for s in ["200", "404", "500"] {
                    assert!(
                        responses[s]["content"].get("text/html").is_some(),
                        "{m} {path} {s}"
                    );
                }
            } else if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(s), "{m} {path} {s}");
                }
            }
        }
    }
    let one_click = &paths["/u/{token}"]["post"]["requestBody"];
    assert!(
        one_click["content"]
            .get("application/x-www-form-urlencoded")
            .is_some(),
        "{one_click}"
    );

    assert_eq!(
        one_click["content"]["application/x-www-form-urlencoded"]["schema"]["$ref"],
        "#/components/schemas/OneClick"
    );
    let form = &doc["components"]["schemas"]["OneClick"];
    assert!(form["properties"]["List-Unsubscribe"].is_object(), "{form}");

    let schemes = &doc["components"]["securitySchemes"]["bearer"];
    assert_eq!(schemes["type"], "http");
    assert_eq!(schemes["scheme"], "bearer");
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for s in [
        "Problem",
        "ClientView",
        "Client",
        "NewClient",
        "ClientPatch",
        "Activity",
        "ScoreBreakdown",
        "Email",
        "Decision",
        "Suppression",
        "NewSuppression",
        "HealthReport",
    ] {
        assert!(
            schemas.contains_key(s),
            "schema {s} missing: {:?}",
            schemas.keys()
        );
    }
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(tags.contains(&"unsubscribe"), "{tags:?}");
    // Every `$ref` points at something defined.
    let text = doc.to_string();
    for piece in text.split("\"$ref\":\"#/components/").skip(1) {
        let target = piece.split('"').next().unwrap();
        let (kind, name) = target.split_once('/').unwrap();
        assert!(
            doc["components"][kind].get(name).is_some(),
            "dangling $ref {target}"
        );
    }
}
