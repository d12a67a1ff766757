//! The router driven in-process over in-memory fakes of the ports: auth, status codes,
//! headers and problem documents. (The end-to-end tests over SQLite live in
//! `crates/engage/tests`.)

use super::{AppState, MAX_BODY_BYTES, PROBLEM_JSON, Router, TokenAuth, openapi, router};
use async_trait::async_trait;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use chrono::{DateTime, Utc};
use engage_core::StoreError;
use engage_core::client::{Client, EmailAddress};
use engage_core::clock::SystemClock;
use engage_core::compose::{ComposeRequest, Composed};
use engage_core::config::EngineConfig;
use engage_core::email::{Decision, Email, EmailStatus, StatusChange};
use engage_core::ids::{EmailId, EventId, UserId};
use engage_core::ports::*;
use engage_core::processor::Engine;
use engage_core::score::ScoreBreakdown;
use engage_core::service::ClientService;
use engage_core::unsubscribe::UnsubscribeLinks;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::Mutex;
use tower::ServiceExt;

const TOKEN: &str = "test-token";

#[derive(Default)]
struct Clients(Mutex<BTreeMap<String, Client>>);

#[async_trait]
impl ClientStore for Clients {
    async fn insert(&self, client: Client) -> Result<(), StoreError> {
        let mut m = self.0.lock().unwrap();
        if m.values()
            .any(|c| c.email.normalized() == client.email.normalized())
        {
            return Err(StoreError::Duplicate("email".into()));
        }
        m.insert(client.id.to_string(), client);
        Ok(())
    }
    async fn get(&self, id: &UserId) -> Result<Option<Client>, StoreError> {
        Ok(self.0.lock().unwrap().get(id.as_str()).cloned())
    }
    async fn replace(&self, client: Client, expected: u64) -> Result<(), StoreError> {
        let mut m = self.0.lock().unwrap();
        let cur = m.get(client.id.as_str()).ok_or(StoreError::NotFound)?;
        if cur.version != expected {
            return Err(StoreError::VersionConflict {
                current: cur.version,
            });
        }
        m.insert(client.id.to_string(), client);
        Ok(())
    }
    async fn delete(&self, id: &UserId, expected: Option<u64>) -> Result<Client, StoreError> {
        let mut m = self.0.lock().unwrap();
        let cur = m.get(id.as_str()).ok_or(StoreError::NotFound)?;
        if let Some(v) = expected
            && v != cur.version
        {
            return Err(StoreError::VersionConflict {
                current: cur.version,
            });
        }
        Ok(m.remove(id.as_str()).expect("present"))
    }
    async fn list(&self, q: &ClientQuery) -> Result<Page<ClientWithScore>, StoreError> {
        if q.cursor.as_deref() == Some("bogus") {
            return Err(StoreError::InvalidCursor);
        }
        let items = self
            .0
            .lock()
            .unwrap()
            .values()
            .take(q.limit as usize)
            .map(|c| ClientWithScore {
                client: c.clone(),
                score: None,
                tier: None,
            })
            .collect();
        Ok(Page {
            items,
            next_cursor: None,
        })
    }
}

struct Ledger_;

#[async_trait]
impl Ledger for Ledger_ {
    async fn context(
        &self,
        _: &UserId,
        _: &EmailAddress,
        _: Option<&EventId>,
        _: DateTime<Utc>,
    ) -> Result<LedgerContext, StoreError> {
        Ok(LedgerContext::default())
    }
    async fn claim_of(&self, _: &EventId) -> Result<Option<Claim>, StoreError> {
        Ok(None)
    }
    async fn commit(&self, _: DecisionCommit) -> Result<CommitResult, StoreError> {
        Ok(CommitResult::Committed)
    }
    async fn get_email(&self, _: &EmailId) -> Result<Option<Email>, StoreError> {
        Ok(None)
    }
    async fn transition(
        &self,
        _: &EmailId,
        _: EmailStatus,
        _: StatusChange,
        _: Option<String>,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn emails_to_deliver(
        &self,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: u32,
    ) -> Result<Vec<EmailId>, StoreError> {
        Ok(vec![])
    }
    async fn stuck_sending(&self, _: DateTime<Utc>, _: u32) -> Result<Vec<EmailId>, StoreError> {
        Ok(vec![])
    }
    async fn take_due_rescores(
        &self,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
        _: u32,
    ) -> Result<Vec<(UserId, u64)>, StoreError> {
        Ok(vec![])
    }
    async fn list_emails(&self, _: &EmailQuery) -> Result<Page<Email>, StoreError> {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    }
    async fn list_decisions(
        &self,
        _: &UserId,
        _: Option<String>,
        _: u32,
    ) -> Result<Page<Decision>, StoreError> {
        Ok(Page {
            items: vec![],
            next_cursor: None,
        })
    }
    async fn stored_score(&self, _: &UserId) -> Result<Option<ScoreBreakdown>, StoreError> {
        Ok(None)
    }
}

#[derive(Default)]
struct Suppressions(Mutex<BTreeMap<String, Suppression>>);

#[async_trait]
impl SuppressionStore for Suppressions {
    async fn add(
        &self,
        address: &EmailAddress,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<Suppression, StoreError> {
        let s = Suppression {
            email: address.normalized(),
            reason: reason.into(),
            created_at: now,
        };
        self.0.lock().unwrap().insert(s.email.clone(), s.clone());
        Ok(s)
    }
    async fn remove(&self, address: &EmailAddress) -> Result<(), StoreError> {
        self.0
            .lock()
            .unwrap()
            .remove(&address.normalized())
            .map(drop)
            .ok_or(StoreError::NotFound)
    }
    async fn list(&self, _: Option<String>, _: u32) -> Result<Page<Suppression>, StoreError> {
        Ok(Page {
            items: self.0.lock().unwrap().values().cloned().collect(),
            next_cursor: None,
        })
    }
}

struct Nobody;

#[async_trait]
impl ContentGenerator for Nobody {
    fn name(&self) -> String {
        "none".into()
    }
    async fn generate(&self, _: &ComposeRequest) -> Result<Composed, ComposeError> {
        Err(ComposeError::Unavailable("test".into()))
    }
}

#[async_trait]
impl MailSender for Nobody {
    fn name(&self) -> &'static str {
        "none"
    }
    async fn send(&self, _: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        Err(SendError::Transient("test".into()))
    }
}

#[async_trait]
impl EventPublisher for Nobody {
    async fn publish(&self, _: Vec<engage_core::change::Event>) -> Result<(), StoreError> {
        Ok(())
    }
}

struct Health(HealthStatus);

#[async_trait]
impl HealthCheck for Health {
    async fn check(&self) -> Vec<DependencyHealth> {
        vec![DependencyHealth {
            name: "store".into(),
            status: self.0,
            detail: json!({}),
        }]
    }
}

fn app_with_health(status: HealthStatus) -> Router {
    let store: Arc<dyn ClientStore> = Arc::new(Clients::default());
    let clock = Arc::new(SystemClock);
    let engine = Engine {
        clients: store.clone(),
        ledger: Arc::new(Ledger_),
        generator: Arc::new(Nobody),
        fallback: Arc::new(Nobody),
        sender: Arc::new(Nobody),
        publisher: Arc::new(Nobody),
        links: UnsubscribeLinks::new("http://localhost", b"k", "localhost"),
        clock: clock.clone(),
        config: Arc::new(EngineConfig::default()),
    };
    router(AppState {
        clients: ClientService::new(store, clock),
        engine,
        suppressions: Arc::new(Suppressions::default()),
        health: Arc::new(Health(status)),
        auth: TokenAuth::new(vec![TokenAuth::hash(TOKEN)]),
    })
}

fn app() -> Router {
    app_with_health(HealthStatus::Up)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    fn assert_problem(&self, status: u16, ty: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.header("content-type"), PROBLEM_JSON);
        assert_eq!(self.body["type"], ty, "{}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        assert!(self.body["instance"].is_string(), "{}", self.body);
    }
}

async fn send(app: &Router, req: axum::http::Request<Body>) -> Answer {
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn req(method: Method, uri: &str) -> axum::http::request::Builder {
    axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

async fn call(app: &Router, method: Method, uri: &str, body: Option<Value>) -> Answer {
    let r = req(method, uri);
    let r = match body {
        Some(b) => r
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => r.body(Body::empty()),
    };
    send(app, r.unwrap()).await
}

fn ada() -> Value {
    json!({"email": "ada@example.com", "first_name": "Ada", "time_zone": "Europe/Paris", "email_opt_in": true})
}

async fn create(app: &Router) -> String {
    let a = call(app, Method::POST, "/api/v1/users", Some(ada())).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn health_is_public_and_503_when_a_dependency_is_down() {
    let a = send(
        &app(),
        axum::http::Request::get("/health")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["status"], "up");
    assert_eq!(a.body["checks"][0]["name"], "store");
    let a = send(
        &app_with_health(HealthStatus::Down),
        axum::http::Request::get("/health")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 503);
    assert_eq!(a.body["status"], "down");
    assert_eq!(a.header("content-type"), "application/json");
}

#[tokio::test]
async fn api_calls_without_a_valid_token_are_401_with_www_authenticate() {
    let app = app();
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
        let a = send(&app, r.body(Body::empty()).unwrap()).await;
        a.assert_problem(401, "/problems/unauthorized");
        assert_eq!(a.header("www-authenticate"), "Bearer");
        assert_eq!(a.body["instance"], "/api/v1/users");
    }
}

#[tokio::test]
async fn creating_a_client_answers_201_with_location_etag_and_no_score_yet() {
    let app = app();
    let a = call(&app, Method::POST, "/api/v1/users", Some(ada())).await;
    assert_eq!(a.status, 201, "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    assert_eq!(a.header("location"), format!("/api/v1/users/{id}"));
    assert_eq!(a.header("etag"), "\"1\"");
    assert_eq!(a.body["version"], 1);
    assert_eq!(a.body["email"], "ada@example.com");
    assert!(a.body["score"].is_null() && a.body["tier"].is_null());
    assert!(a.body.get("client").is_none(), "flattened: {}", a.body);

    let dup = call(&app, Method::POST, "/api/v1/users", Some(ada())).await;
    dup.assert_problem(409, "/problems/duplicate");
}

#[tokio::test]
async fn bad_bodies_get_400_413_415_or_422_and_never_500() {
    let app = app();
    let mut bad_email = ada();
    bad_email["email"] = json!("not-an-email");
    let a = call(&app, Method::POST, "/api/v1/users", Some(bad_email)).await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "email");

    let mut bad_tz = ada();
    bad_tz["time_zone"] = json!("Mars/Olympus");
    let a = call(&app, Method::POST, "/api/v1/users", Some(bad_tz)).await;
    assert_eq!(a.body["field"], "time_zone");

    let mut unknown = ada();
    unknown["nickname"] = json!("x");
    let a = call(&app, Method::POST, "/api/v1/users", Some(unknown)).await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "nickname");

    let a = call(
        &app,
        Method::POST,
        "/api/v1/users",
        Some(json!({"email": 3})),
    )
    .await;
    a.assert_problem(422, "/problems/validation-error");

    let r = req(Method::POST, "/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from("{\"email\":"))
        .unwrap();
    send(&app, r)
        .await
        .assert_problem(400, "/problems/malformed-body");

    let r = req(Method::POST, "/api/v1/users")
        .body(Body::from(ada().to_string()))
        .unwrap();
    send(&app, r)
        .await
        .assert_problem(415, "/problems/unsupported-media-type");

    let big = format!("{{\"first_name\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES + 1));
    let r = req(Method::POST, "/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    send(&app, r)
        .await
        .assert_problem(413, "/problems/payload-too-large");
    // Without a Content-Length the limit is met while reading.
    let stream = unsized_body(big);
    let r = req(Method::POST, "/api/v1/users")
        .header(header::CONTENT_TYPE, "application/json")
        .body(stream)
        .unwrap();
    send(&app, r)
        .await
        .assert_problem(413, "/problems/payload-too-large");
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
async fn get_patch_and_delete_follow_versions() {
    let app = app();
    let id = create(&app).await;
    let uri = format!("/api/v1/users/{id}");

    let a = call(&app, Method::GET, &uri, None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("etag"), "\"1\"");

    let a = call(
        &app,
        Method::PATCH,
        &uri,
        Some(json!({"first_name": "Ada L."})),
    )
    .await;
    a.assert_problem(428, "/problems/precondition-required");

    let r = req(Method::PATCH, &uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, "\"7\"")
        .body(Body::from(r#"{"first_name":"Ada L."}"#))
        .unwrap();
    let a = send(&app, r).await;
    a.assert_problem(409, "/problems/version-conflict");
    assert_eq!(a.body["current_version"], 1);

    let r = req(Method::PATCH, &uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, "soon")
        .body(Body::from(r#"{"first_name":"Ada L."}"#))
        .unwrap();
    send(&app, r)
        .await
        .assert_problem(400, "/problems/bad-request");

    let r = req(Method::PATCH, &uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::IF_MATCH, "W/\"1\"")
        .body(Body::from(r#"{"first_name":"Ada L."}"#))
        .unwrap();
    let a = send(&app, r).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.header("etag"), "\"2\"");
    assert_eq!(a.body["first_name"], "Ada L.");

    let a = call(
        &app,
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
    send(&app, r)
        .await
        .assert_problem(409, "/problems/version-conflict");
    let a = call(&app, Method::DELETE, &uri, None).await;
    assert_eq!(a.status, 204);
    assert!(a.body.is_null());
    call(&app, Method::GET, &uri, None)
        .await
        .assert_problem(404, "/problems/not-found");
    call(&app, Method::DELETE, &uri, None)
        .await
        .assert_problem(404, "/problems/not-found");
}

#[tokio::test]
async fn activity_and_engagement_of_a_client() {
    let app = app();
    let id = create(&app).await;
    let a = call(
        &app,
        Method::POST,
        &format!("/api/v1/users/{id}/activity"),
        Some(json!({"type": "login"})),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["version"], 2);
    assert_eq!(a.body["activity"]["login_count"], 1);

    let a = call(
        &app,
        Method::POST,
        &format!("/api/v1/users/{id}/activity"),
        Some(json!({"type": "teleport"})),
    )
    .await;
    a.assert_problem(422, "/problems/validation-error");

    let a = call(
        &app,
        Method::GET,
        &format!("/api/v1/users/{id}/engagement"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["tier"], "new");
    assert_eq!(a.body["components"].as_array().unwrap().len(), 5);

    call(&app, Method::GET, "/api/v1/users/usr_nope/engagement", None)
        .await
        .assert_problem(404, "/problems/not-found");
    call(
        &app,
        Method::POST,
        "/api/v1/users/usr_nope/activity",
        Some(json!({"type": "login"})),
    )
    .await
    .assert_problem(404, "/problems/not-found");
}

#[tokio::test]
async fn lists_check_their_query_parameters() {
    let app = app();
    create(&app).await;
    let a = call(&app, Method::GET, "/api/v1/users?limit=10&q=ad", None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);
    assert!(a.body["next_cursor"].is_null());
    assert!(a.body["items"][0]["id"].is_string());

    for (uri, field) in [
        ("/api/v1/users?limit=201", "limit"),
        ("/api/v1/users?limit=0", "limit"),
        ("/api/v1/users?tier=gold", "tier"),
        ("/api/v1/users?cursor=bogus", "cursor"),
        ("/api/v1/emails?status=lost", "status"),
    ] {
        let a = call(&app, Method::GET, uri, None).await;
        a.assert_problem(400, "/problems/bad-request");
        assert_eq!(a.body["field"], field, "{uri}");
    }
    call(&app, Method::GET, "/api/v1/users?limit=abc", None)
        .await
        .assert_problem(400, "/problems/bad-request");

    for uri in [
        "/api/v1/emails?status=sent&campaign=welcome&user_id=usr_1",
        "/api/v1/users/usr_gone/emails",
        "/api/v1/users/usr_gone/decisions?limit=5",
        "/api/v1/suppressions",
    ] {
        let a = call(&app, Method::GET, uri, None).await;
        assert_eq!(a.status, 200, "{uri}: {}", a.body);
        assert!(a.body["items"].is_array());
    }
    call(&app, Method::GET, "/api/v1/emails/eml_nope", None)
        .await
        .assert_problem(404, "/problems/not-found");
}

#[tokio::test]
async fn suppressions_can_be_added_listed_and_lifted() {
    let app = app();
    let a = call(
        &app,
        Method::POST,
        "/api/v1/suppressions",
        Some(json!({"email": "Bob@Example.com"})),
    )
    .await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.body["email"], "bob@example.com");
    assert_eq!(a.body["reason"], "manual");

    let a = call(
        &app,
        Method::POST,
        "/api/v1/suppressions",
        Some(json!({"email": "nope"})),
    )
    .await;
    a.assert_problem(422, "/problems/validation-error");
    assert_eq!(a.body["field"], "email");

    let a = call(&app, Method::GET, "/api/v1/suppressions", None).await;
    assert_eq!(a.body["items"].as_array().unwrap().len(), 1);

    let a = call(
        &app,
        Method::DELETE,
        "/api/v1/suppressions/bob%40example.com",
        None,
    )
    .await;
    assert_eq!(a.status, 204);
    call(
        &app,
        Method::DELETE,
        "/api/v1/suppressions/bob@example.com",
        None,
    )
    .await
    .assert_problem(404, "/problems/not-found");
}

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = app();
    let a = call(&app, Method::GET, "/nope", None).await;
    a.assert_problem(404, "/problems/not-found");
    assert_eq!(a.body["instance"], "/nope");
    call(&app, Method::GET, "/api/v1/nope", None)
        .await
        .assert_problem(404, "/problems/not-found");

    let a = call(&app, Method::DELETE, "/health", None).await;
    a.assert_problem(405, "/problems/method-not-allowed");
    assert!(a.header("allow").contains("GET"), "{}", a.header("allow"));
    call(&app, Method::PUT, "/api/v1/users", None)
        .await
        .assert_problem(405, "/problems/method-not-allowed");
    call(&app, Method::POST, "/openapi.json", None)
        .await
        .assert_problem(405, "/problems/method-not-allowed");
}

#[tokio::test]
async fn request_ids_are_made_or_propagated() {
    let app = app();
    let a = call(&app, Method::GET, "/health", None).await;
    assert!(!a.header("x-request-id").is_empty());
    let r = axum::http::Request::get("/nope")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, r).await.header("x-request-id"), "abc-123");
}

#[tokio::test]
async fn the_document_and_the_docs_are_served_publicly() {
    let app = app();
    let a = send(
        &app,
        axum::http::Request::get("/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(
        a.body,
        serde_json::to_value(openapi()).unwrap(),
        "served = openapi()"
    );

    let a = send(
        &app,
        axum::http::Request::get("/docs/")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    let html = a.body.as_str().unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(!html.contains("https://"), "the page loads nothing remote");

    let a = send(
        &app,
        axum::http::Request::get("/docs/swagger-initializer.js")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(a.status, 200);
    let js = a.body.as_str().unwrap();
    assert!(js.contains("/openapi.json"), "{js}");
    let compact: String = js.split_whitespace().collect();
    assert!(compact.contains("\"validatorUrl\":\"none\""), "{js}");
}

#[test]
fn the_document_covers_every_route_with_security_and_problems() {
    let doc = serde_json::to_value(openapi()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        ("/health", vec!["get"]),
        ("/api/v1/users", vec!["get", "post"]),
        ("/api/v1/users/{id}", vec!["get", "patch", "delete"]),
        ("/api/v1/users/{id}/activity", vec!["post"]),
        ("/api/v1/users/{id}/engagement", vec!["get"]),
        ("/api/v1/users/{id}/emails", vec!["get"]),
        ("/api/v1/users/{id}/decisions", vec!["get"]),
        ("/api/v1/emails", vec!["get"]),
        ("/api/v1/emails/{id}", vec!["get"]),
        ("/api/v1/suppressions", vec!["get", "post"]),
        ("/api/v1/suppressions/{email}", vec!["delete"]),
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
            } else {
                assert!(op.get("security").is_none());
            }
            if op.get("requestBody").is_some() {
                for s in ["400", "413", "415", "422"] {
                    assert!(responses.contains_key(s), "{m} {path} {s}");
                }
            }
        }
    }
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
