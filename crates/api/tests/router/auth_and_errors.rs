//! Authentication, and bad input: every error is a problem document, and no input
//! produces a 500.

use crate::doubles::{BrokenStore, SECRET_CAUSE};
use crate::helpers::*;
use axum::body::Body;
use axum::http::{Method, header};
use engage_api::MAX_BODY_BYTES;
use engage_core::service::ClientService;
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn api_calls_without_a_valid_token_are_401_with_www_authenticate() {
    let app = spawn_app();
    for auth in [
        None,
        Some("Bearer nope"),
        Some("Basic dGVzdA=="),
        Some("Bearer"),
    ] {
        let mut r = axum::http::Request::get("/api/v1/users");
        if let Some(a) = auth {
            r = r.header(header::AUTHORIZATION, a);
        }
        let a = app.send(r.body(Body::empty()).unwrap()).await;
        a.assert_problem(401, "/problems/unauthorized");
        assert_eq!(a.header("www-authenticate"), "Bearer");
        assert_eq!(a.body["instance"], "/api/v1/users");
    }
    // Refused before the body is looked at, and nothing is written.
    let r = axum::http::Request::post("/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(ada().to_string()))
        .unwrap();
    app.send(r)
        .await
        .assert_problem(401, "/problems/unauthorized");
    assert!(app.changes().await.is_empty());
}

#[tokio::test]
async fn bad_bodies_get_400_413_415_or_422_and_change_nothing() {
    let app = spawn_app();
    let mut bad_email = ada();
    bad_email["email"] = json!("not-an-email");
    let a = app
        .call(Method::POST, "/api/v1/users", Some(bad_email))
        .await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "email");

    let mut bad_tz = ada();
    bad_tz["time_zone"] = json!("Mars/Olympus");
    let a = app.call(Method::POST, "/api/v1/users", Some(bad_tz)).await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "time_zone");

    let mut unknown = ada();
    unknown["nickname"] = json!("x");
    let a = app.call(Method::POST, "/api/v1/users", Some(unknown)).await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "nickname");

    app.call(Method::POST, "/api/v1/users", Some(json!({"email": 3})))
        .await
        .assert_problem(422, "/problems/validation-error");

    let r = req(Method::POST, "/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"email\":"))
        .unwrap();
    app.send(r)
        .await
        .assert_problem(400, "/problems/malformed-body");

    let r = req(Method::POST, "/api/v1/users")
        .body(Body::from(ada().to_string()))
        .unwrap();
    app.send(r)
        .await
        .assert_problem(415, "/problems/unsupported-media-type");

    let big = format!("{{\"first_name\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES + 1));
    let r = req(Method::POST, "/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    app.send(r)
        .await
        .assert_problem(413, "/problems/payload-too-large");
    // Without a Content-Length the limit is met while reading.
    let r = req(Method::POST, "/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .body(unsized_body(big))
        .unwrap();
    app.send(r)
        .await
        .assert_problem(413, "/problems/payload-too-large");

    assert!(app.changes().await.is_empty(), "nothing was written");
}

/// A body with no known length, as a chunked upload sends it.
fn unsized_body(s: String) -> Body {
    struct Chunks(std::vec::IntoIter<axum::body::Bytes>);
    impl http_body::Body for Chunks {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(self.0.next().map(|b| Ok(http_body::Frame::data(b))))
        }
    }
    let chunks: Vec<_> = s
        .into_bytes()
        .chunks(64 * 1024)
        .map(axum::body::Bytes::copy_from_slice)
        .collect();
    Body::new(Chunks(chunks.into_iter()))
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = spawn_app();
    let a = app.call(Method::GET, "/nope", None).await;
    a.assert_problem(404, "/problems/not-found");
    assert_eq!(a.body["instance"], "/nope");
    app.call(Method::GET, "/api/v1/nope", None)
        .await
        .assert_problem(404, "/problems/not-found");

    let a = app.call(Method::DELETE, "/health", None).await;
    a.assert_problem(405, "/problems/method-not-allowed");
    assert!(a.header("allow").contains("GET"), "{}", a.header("allow"));
    app.call(Method::PUT, "/api/v1/users", None)
        .await
        .assert_problem(405, "/problems/method-not-allowed");
    app.call(Method::POST, "/openapi.json", None)
        .await
        .assert_problem(405, "/problems/method-not-allowed");
}

#[tokio::test]
async fn request_ids_are_made_or_propagated() {
    let app = spawn_app();
    let a = app.get_public("/health").await;
    assert!(!a.header("x-request-id").is_empty());
    let r = axum::http::Request::get("/nope")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.send(r).await.header("x-request-id"), "abc-123");
}

#[tokio::test]
async fn a_failing_store_is_a_500_problem_that_does_not_leak_its_cause() {
    let app = spawn_app_with(|state| {
        state.clients = ClientService::new(
            Arc::new(BrokenStore),
            state.suppressions.clone(),
            state.engine.clock.clone(),
        );
    });
    for (method, uri, body) in [
        (Method::GET, "/api/v1/users", None),
        (Method::GET, "/api/v1/users/usr_1", None),
        (Method::POST, "/api/v1/users", Some(ada())),
        (Method::POST, "/api/v1/users/usr_1/unsubscribe", None),
    ] {
        let a = app.call(method.clone(), uri, body).await;
        a.assert_problem(500, "/problems/internal");
        let text = a.body.to_string();
        assert!(
            !text.contains("sqlite") && !text.contains("/srv/"),
            "{method} {uri}: {text} leaks {SECRET_CAUSE}"
        );
    }
}
