//! A world a scenario runs in: the real HTTP API of one backend, a manual clock, and
//! a way to run the pipeline until nothing is left to do.
//!
//! - [`World::embedded`]: `engage serve` on SQLite in a temporary directory, its
//!   pipeline stepped (the tailer and the workers), emails to the outbox.
//! - [`World::aws`]: the same application on the AWS backend in moto, with nothing
//!   running in the background; [`crate::lambda::Lambda`] plays Lambda's part: it reads
//!   the Users table's stream through the Streams API and invokes the `stream`
//!   handler, receives from the email queue and invokes the `mailer` handler, as the
//!   event source mappings would. Emails go out through SES (moto's).

use crate::lambda::Lambda;
use chrono::{DateTime, TimeZone, Utc};
use engage::Application;
use engage::config::{Backend, Config, SenderKind};
use engage_aws::testing::Moto;
use engage_core::clock::ManualClock;
use engage_embedded::pipeline::Pipeline;
use engage_embedded::queue::{EMAIL_QUEUE, QueueSettings};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "scenario-admin-token-0123456789";

/// Monday 2 March 2026, noon UTC: daytime in Europe, night in Sydney.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap()
}

pub enum Driver {
    Embedded {
        pipeline: Arc<Pipeline>,
        data_dir: PathBuf,
    },
    Aws(Box<Lambda>),
}

pub struct World {
    pub name: &'static str,
    pub clock: Arc<ManualClock>,
    pub driver: Driver,
    base: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
}

fn config(dir: &tempfile::TempDir) -> Config {
    let mut config = Config {
        addr: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.path().to_path_buf(),
        admin_token: Some(TOKEN.into()),
        unsubscribe_secret: Some("scenario-unsubscribe-secret-0123".into()),
        durability: engage::config::DurabilitySetting::Normal,
        ..Config::default()
    };
    config.pipeline.autostart = false;
    config
}

impl World {
    pub async fn embedded() -> World {
        let dir = tempfile::tempdir().unwrap();
        let config = config(&dir);
        let data_dir = config.data_dir.clone();
        let clock = Arc::new(ManualClock::new(t0()));
        let app = Application::build(config, clock.clone())
            .await
            .expect("the embedded app builds");
        let pipeline = app.pipeline().expect("the embedded backend");
        Self::serve(
            "embedded",
            app,
            clock,
            dir,
            Driver::Embedded { pipeline, data_dir },
        )
    }

    pub async fn aws() -> World {
        let moto = Moto::start().await;
        let sdk = moto.sdk_config();
        let resources = engage_aws::tables::Resources {
            ses_identity: Some(
                engage_core::config::EngineConfig::default()
                    .from_domain()
                    .into(),
            ),
            ..Default::default()
        };
        let init = engage_aws::init(&sdk, &resources)
            .await
            .expect("the resources in moto");
        let dir = tempfile::tempdir().unwrap();
        let mut config = config(&dir);
        config.backend = Backend::Aws;
        config.mail.sender = SenderKind::Ses;
        config.aws.endpoint_url = Some(moto.endpoint.clone());
        config.aws.region = Some("us-east-1".into());
        config.validate().expect("a valid configuration");
        let clock = Arc::new(ManualClock::new(t0()));
        let app = Application::build_with(config, clock.clone(), Some(sdk))
            .await
            .expect("the AWS app builds");
        let host = app.aws().expect("the AWS backend");
        let lambda = Lambda::new(moto, host, &init).await;
        Self::serve("aws", app, clock, dir, Driver::Aws(Box::new(lambda)))
    }

    fn serve(
        name: &'static str,
        app: Application,
        clock: Arc<ManualClock>,
        dir: tempfile::TempDir,
        driver: Driver,
    ) -> World {
        let base = format!("http://{}", app.addr());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until_stopped(async move {
            let _ = rx.await;
        }));
        World {
            name,
            clock,
            driver,
            base,
            http: reqwest::Client::new(),
            _dir: dir,
            stop: Some(tx),
            server: Some(server),
        }
    }

    pub async fn stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.server.take() {
            h.await.unwrap().unwrap();
        }
    }

    pub fn lambda(&self) -> &Lambda {
        match &self.driver {
            Driver::Aws(l) => l,
            Driver::Embedded { .. } => panic!("not the AWS world"),
        }
    }

    // --- the pipeline ----------------------------------------------------------------

    /// Runs the pipeline until nothing is left to do now.
    pub async fn settle(&self) {
        match &self.driver {
            Driver::Embedded { pipeline, .. } => {
                pipeline.run_until_idle().await.expect("the pipeline runs");
            }
            Driver::Aws(l) => l.settle().await,
        }
    }

    /// One scheduler step (the mailer's sweep on AWS), then settles what it published.
    pub async fn tick(&self) {
        match &self.driver {
            Driver::Embedded { pipeline, .. } => {
                pipeline.engine().tick(1000).await.expect("the scheduler");
            }
            Driver::Aws(l) => l.sweep().await,
        }
        self.settle().await;
    }

    /// Publishes the pending changes' events, then hands them to the email processor
    /// one by one, newest first (as a queue without ordering may deliver them).
    pub async fn deliver_newest_first(&self) -> usize {
        match &self.driver {
            Driver::Embedded { pipeline, .. } => {
                pipeline.pump_once().await.unwrap();
                let store = pipeline.store();
                let mut msgs = store
                    .receive(EMAIL_QUEUE, 10, QueueSettings::default())
                    .await
                    .unwrap();
                let n = msgs.len();
                msgs.reverse();
                for m in msgs {
                    pipeline.handle(m).await.unwrap();
                }
                n
            }
            Driver::Aws(l) => l.deliver_newest_first().await,
        }
    }

    /// How many emails reached the sender: the outbox's files, or SES's messages.
    pub async fn sent(&self) -> usize {
        match &self.driver {
            Driver::Embedded { data_dir, .. } => std::fs::read_dir(data_dir.join("outbox"))
                .map(|d| {
                    d.filter_map(Result::ok)
                        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                        .count()
                })
                .unwrap_or(0),
            Driver::Aws(l) => l.moto.ses_messages().await.len(),
        }
    }

    // --- the API ---------------------------------------------------------------------

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            r = r.json(b);
        }
        let r = r.send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn ok(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Value {
        let (status, v) = self.request(method.clone(), path, body).await;
        assert!(
            status.is_success(),
            "{} {method} {path}: {status} {v}",
            self.name
        );
        v
    }

    pub async fn create_client(&self, body: Value) -> String {
        let v = self
            .ok(reqwest::Method::POST, "/api/v1/users", Some(&body))
            .await;
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn simple_client(&self, email: &str, time_zone: &str, opt_in: bool) -> String {
        self.create_client(json!({
            "email": email, "first_name": "Ada", "time_zone": time_zone, "email_opt_in": opt_in
        }))
        .await
    }

    pub async fn record(&self, user: &str, activity: Value) {
        self.ok(
            reqwest::Method::POST,
            &format!("/api/v1/users/{user}/activity"),
            Some(&activity),
        )
        .await;
    }

    pub async fn patch(&self, user: &str, body: Value) {
        self.ok(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{user}"),
            Some(&body),
        )
        .await;
    }

    pub async fn items(&self, path: &str) -> Vec<Value> {
        self.ok(reqwest::Method::GET, path, None).await["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    pub async fn decisions(&self, user: &str) -> Vec<Value> {
        self.items(&format!("/api/v1/users/{user}/decisions?limit=200"))
            .await
    }

    pub async fn emails(&self, user: &str) -> Vec<Value> {
        self.items(&format!("/api/v1/users/{user}/emails?limit=200"))
            .await
    }

    /// What two backends must agree on, for the clients named: each decision's
    /// outcome, campaign, reason, event and schedule; each email's campaign, status,
    /// subject and status history; the engagement tier; and how many emails went out.
    pub async fn summary(&self, clients: &[(&str, &str)]) -> Value {
        let mut out = serde_json::Map::new();
        for (name, id) in clients {
            let decisions: Vec<Value> = self
                .decisions(id)
                .await
                .iter()
                .map(|d| {
                    json!([
                        d["outcome"],
                        d["campaign"],
                        d["reason"],
                        d["event_type"],
                        d["scheduled_for"]
                    ])
                })
                .collect();
            let emails: Vec<Value> = self
                .emails(id)
                .await
                .iter()
                .map(|e| {
                    let history: Vec<&Value> = e["status_history"]
                        .as_array()
                        .map(|h| h.iter().map(|s| &s["status"]).collect())
                        .unwrap_or_default();
                    json!([e["campaign"], e["status"], e["subject"], history])
                })
                .collect();
            let engagement = self
                .ok(
                    reqwest::Method::GET,
                    &format!("/api/v1/users/{id}/engagement"),
                    None,
                )
                .await;
            out.insert(
                name.to_string(),
                json!({"decisions": decisions, "emails": emails, "tier": engagement["tier"]}),
            );
        }
        out.insert("sent".into(), json!(self.sent().await));
        Value::Object(out)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
