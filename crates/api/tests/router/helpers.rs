//! `spawn_app()`: the application state built as `crates/engage/src/app.rs` builds it,
//! on a temporary SQLite file, and typed helpers to call the router.

use async_trait::async_trait;
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode, header};
use chrono::{DateTime, TimeZone as _, Utc};
use engage_api::{AppState, PROBLEM_JSON, TokenAuth, router_with};
use engage_core::change::ChangeRecord;
use engage_core::clock::ManualClock;
use engage_core::config::EngineConfig;
use engage_core::ports::{ContentGenerator, DependencyHealth, HealthCheck, HealthStatus};
use engage_core::processor::Engine;
use engage_core::service::ClientService;
use engage_core::unsubscribe::UnsubscribeLinks;
use engage_embedded::pipeline::{Pipeline, PipelineSettings};
use engage_embedded::{Durability, Store};
use engage_llm::TemplateGenerator;
use engage_mail::OutboxSender;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::sync::Arc;
use tempfile::TempDir;
use tower::ServiceExt;

pub const TOKEN: &str = "test-token";
pub const SECRET: &[u8] = b"unsubscribe-secret-for-tests";
pub const PUBLIC_URL: &str = "http://engage.test";

/// Monday 2 March 2026, noon UTC: daytime in Europe.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

pub struct TestApp {
    pub router: Router,
    /// What `router` was built from; tests that need a variant rebuild from it.
    pub state: AppState,
    pub store: Store,
    pub pipeline: Pipeline,
    pub clock: Arc<ManualClock>,
    pub links: UnsubscribeLinks,
    pub dir: TempDir,
}

/// `/health` over the real store: the database answers or it does not. (The full
/// embedded check lives in the `engage` crate, which depends on this one.)
struct StoreHealth(Store);

#[async_trait]
impl HealthCheck for StoreHealth {
    async fn check(&self) -> Vec<DependencyHealth> {
        let status = match self.0.ping().await {
            Ok(()) => HealthStatus::Up,
            Err(_) => HealthStatus::Down,
        };
        vec![DependencyHealth {
            name: "database".into(),
            status,
            detail: json!({"kind": "sqlite"}),
        }]
    }
}

pub fn spawn_app() -> TestApp {
    spawn_app_with(|_| {})
}

/// An app whose state `tweak` may change (to put in a test double) before the
/// router is built.
pub fn spawn_app_with(tweak: impl FnOnce(&mut AppState)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let store = Store::open(
        &dir.path().join("engage.db"),
        Durability::Normal,
        clock.clone(),
    )
    .unwrap();
    let store_arc = Arc::new(store.clone());
    let config = EngineConfig::default();
    let links = UnsubscribeLinks::new(PUBLIC_URL, SECRET);
    let template: Arc<dyn ContentGenerator> = Arc::new(TemplateGenerator);
    let engine = Engine {
        clients: store_arc.clone(),
        ledger: store_arc.clone(),
        generator: template.clone(),
        fallback: template,
        sender: Arc::new(OutboxSender::new(dir.path().join("outbox")).unwrap()),
        publisher: store_arc.clone(),
        suppressions: store_arc.clone(),
        links: links.clone(),
        clock: clock.clone(),
        config: Arc::new(config),
    };
    let pipeline = Pipeline::new(store.clone(), engine.clone(), PipelineSettings::default());
    let mut state = AppState {
        clients: ClientService::new(store_arc.clone(), store_arc.clone(), clock.clone()),
        engine,
        suppressions: store_arc.clone(),
        history: store_arc.clone(),
        sent_messages: Arc::new(engage_mail::OutboxCopies::new(dir.path().join("outbox"))),
        import: store_arc.clone(),
        dead_letters: store_arc.clone(),
        replay: store_arc,
        health: Arc::new(StoreHealth(store.clone())),
        auth: TokenAuth::new(vec![TokenAuth::hash(TOKEN)]),
        feedback: None,
    };
    tweak(&mut state);
    TestApp {
        router: router_with(state.clone(), Router::new()),
        state,
        store,
        pipeline,
        clock,
        links,
        dir,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// JSON, or the text of a body that is not JSON, or null when empty.
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header"))
            .to_str()
            .unwrap()
    }

    pub fn text(&self) -> &str {
        self.body.as_str().unwrap_or_default()
    }

    pub fn assert_problem(&self, status: u16, ty: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.header("content-type"), PROBLEM_JSON);
        assert_eq!(self.body["type"], ty, "{}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        assert!(self.body["instance"].is_string(), "{}", self.body);
    }
}

impl TestApp {
    pub async fn send(&self, req: axum::http::Request<Body>) -> Answer {
        send(&self.router, req).await
    }

    /// An authenticated call with an optional JSON body.
    pub async fn call(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let r = req(method, uri);
        let r = match body {
            Some(b) => r
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => r.body(Body::empty()),
        };
        self.send(r.unwrap()).await
    }

    /// An unauthenticated GET.
    pub async fn get_public(&self, uri: &str) -> Answer {
        self.send(axum::http::Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    /// Creates a client; returns its id.
    pub async fn create_client(&self, email: &str) -> String {
        let a = self
            .call(Method::POST, "/api/v1/users", Some(client_body(email)))
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["id"].as_str().unwrap().to_string()
    }

    pub async fn get_user(&self, id: &str) -> Value {
        let a = self
            .call(Method::GET, &format!("/api/v1/users/{id}"), None)
            .await;
        assert_eq!(a.status, 200, "{}", a.body);
        a.body
    }

    /// Every record of the change stream, oldest first.
    pub async fn changes(&self) -> Vec<ChangeRecord> {
        self.store.changes_after(0, 100).await.unwrap()
    }

    /// Runs the change stream and the email processor until nothing is left to do.
    pub async fn settle(&self) {
        self.pipeline.run_until_idle().await.unwrap();
    }
}

pub async fn send(router: &Router, req: axum::http::Request<Body>) -> Answer {
    let res = router.clone().oneshot(req).await.unwrap();
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

/// A request carrying the API token.
pub fn req(method: Method, uri: &str) -> axum::http::request::Builder {
    axum::http::Request::builder()
        .method(method)
        .uri(uri)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
}

pub fn client_body(email: &str) -> Value {
    json!({"email": email, "first_name": "Ada", "time_zone": "Europe/Paris", "email_opt_in": true})
}

pub fn ada() -> Value {
    client_body("ada@example.com")
}
