use chrono::{DateTime, TimeZone, Utc};
use engage::Application;
use engage::config::Config;
use engage_core::clock::ManualClock;
use engage_embedded::Store;
use engage_embedded::pipeline::Pipeline;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// Monday 2 March 2026, noon UTC: daytime in Europe, night in Sydney.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub pipeline: Arc<Pipeline>,
    pub store: Store,
    pub data_dir: PathBuf,
    dir: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

fn test_config(data_dir: PathBuf) -> Config {
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir,
        admin_token: Some(TOKEN.into()),
        durability: engage::config::DurabilitySetting::Normal,
        ..Config::default()
    };
    config.pipeline.autostart = false;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(t0()));
    let mut config = test_config(dir.path().to_path_buf());
    tweak(&mut config);
    start(config, clock, Some(dir)).await
}

async fn start(config: Config, clock: Arc<ManualClock>, dir: Option<tempfile::TempDir>) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        // The first test's logging stays on for the whole run.
        static LOGS: std::sync::OnceLock<tracing_appender::non_blocking::WorkerGuard> =
            std::sync::OnceLock::new();
        LOGS.get_or_init(engage::telemetry::init);
    }
    let data_dir = config.data_dir.clone();
    let app = Application::build(config, clock.clone())
        .await
        .expect("the app builds");
    let base = format!("http://{}", app.addr());
    let pipeline = app.pipeline().expect("the embedded backend");
    let store = app.store().expect("the embedded backend");
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until_stopped(async move {
        let _ = rx.await;
    }));
    TestApp {
        base,
        http: reqwest::Client::new(),
        clock,
        pipeline,
        store,
        data_dir,
        dir,
        stop: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    /// Stops the server and opens a new application on the same data directory and
    /// clock, as a process restart would.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|_| {}).await
    }

    /// [`TestApp::restart`] with `tweak` applied to the new configuration.
    pub async fn restart_with(mut self, tweak: impl FnOnce(&mut Config)) -> TestApp {
        self.stop().await;
        let mut config = test_config(self.data_dir.clone());
        tweak(&mut config);
        let dir = self.dir.take();
        let clock = self.clock.clone();
        drop(self);
        start(config, clock, dir).await
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, body: &Value) -> Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn create_user(&self, body: Value) -> Value {
        let r = self.post("/api/v1/users", &body).await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::CREATED, "create user: {v}");
        v
    }

    pub async fn create_client(&self, email: &str, time_zone: &str, opt_in: bool) -> String {
        let v = self
            .create_user(json!({"email": email, "first_name": "Ada", "time_zone": time_zone, "email_opt_in": opt_in}))
            .await;
        v["id"].as_str().unwrap().to_string()
    }

    /// Creates `n` opted-in clients (`{prefix}{i}@example.com`) and renames each three
    /// times: four changes per client. Returns their ids.
    pub async fn clients_with_four_changes(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::new();
        for i in 0..n {
            let id = self
                .create_client(&format!("{prefix}{i}@example.com"), "Europe/London", true)
                .await;
            for (v, name) in [(1, "Ann"), (2, "Bea"), (3, "Cai")] {
                let r = self
                    .patch(
                        &format!("/api/v1/users/{id}"),
                        &json!({"version": v, "first_name": name}),
                    )
                    .await;
                assert_eq!(r.status(), StatusCode::OK);
            }
            ids.push(id);
        }
        ids
    }

    pub async fn record(&self, user: &str, activity: Value) -> Value {
        let r = self
            .post(&format!("/api/v1/users/{user}/activity"), &activity)
            .await;
        let status = r.status();
        let v: Value = r.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "activity {activity}: {v}");
        v
    }

    pub async fn decisions(&self, user: &str) -> Vec<Value> {
        self.get_json(&format!("/api/v1/users/{user}/decisions?limit=200"))
            .await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn emails(&self, user: &str) -> Vec<Value> {
        self.get_json(&format!("/api/v1/users/{user}/emails?limit=200"))
            .await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    /// Runs the stream tailer and the email workers until nothing is left to do now.
    pub async fn settle(&self) {
        self.pipeline
            .run_until_idle()
            .await
            .expect("the pipeline runs");
    }

    /// Publishes the pending changes and receives up to `max` messages, as a worker
    /// would, without processing or acknowledging them.
    pub async fn take_messages(&self, max: u32) -> Vec<engage_embedded::queue::Received> {
        self.pipeline.pump_once().await.unwrap();
        self.store
            .receive(
                engage_embedded::queue::EMAIL_QUEUE,
                max,
                engage_embedded::queue::QueueSettings::default(),
            )
            .await
            .unwrap()
    }

    /// One scheduler step, then settle what it published.
    pub async fn tick(&self) {
        self.pipeline
            .engine()
            .tick(1000)
            .await
            .expect("the scheduler runs");
        self.settle().await;
    }

    pub fn outbox_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.data_dir.join("outbox"))
            .map(|d| {
                d.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}

/// Asserts an `application/problem+json` answer with this status; returns the body.
pub async fn assert_problem(r: Response, status: StatusCode) -> Value {
    assert_eq!(r.status(), status);
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], status.as_u16());
    assert!(v["type"].is_string() && v["title"].is_string(), "{v}");
    v
}
