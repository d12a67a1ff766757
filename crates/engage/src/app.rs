//! Startup you can test: `Application::build` opens the store, wires the engine,
//! binds the listener (port 0 in tests) and `run_until_stopped` serves the API and
//! runs the pipeline until the shutdown future resolves.

use crate::config::{Config, DurabilitySetting};
use crate::health::EmbeddedHealth;
use crate::secrets;
use anyhow::Context as _;
use engage_api::{AppState, TokenAuth};
use engage_core::clock::Clock;
use engage_core::config::EngineConfig;
use engage_core::ports::ContentGenerator;
use engage_core::processor::Engine;
use engage_core::service::ClientService;
use engage_core::unsubscribe::UnsubscribeLinks;
use engage_embedded::pipeline::{Pipeline, PipelineSettings};
use engage_embedded::queue::QueueSettings;
use engage_embedded::{Durability, Store};
use engage_llm::{OpenAiGenerator, TemplateGenerator};
use engage_mail::OutboxSender;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    pipeline: Arc<Pipeline>,
    store: Store,
    autostart: bool,
    /// The admin token created at this start, if any (shown once).
    pub created_admin_token: Option<String>,
}

impl Application {
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("creating the data directory {}", config.data_dir.display())
        })?;
        let durability = match config.durability {
            DurabilitySetting::Full => Durability::Full,
            DurabilitySetting::Normal => Durability::Normal,
        };
        let store = Store::open(
            &config.data_dir.join("engage.db"),
            durability,
            clock.clone(),
        )?;
        let (token_hashes, created_admin_token) =
            secrets::admin_tokens(&store, config.admin_token.as_deref()).await?;
        let secret =
            secrets::unsubscribe_secret(config.unsubscribe_secret.as_deref(), &config.data_dir)?;
        let outbox_dir = config.data_dir.join("outbox");
        let sender =
            Arc::new(OutboxSender::new(outbox_dir.clone()).context("creating the outbox")?);
        let template: Arc<dyn ContentGenerator> = Arc::new(TemplateGenerator);
        let generator: Arc<dyn ContentGenerator> = match config.llm.openai()? {
            Some(settings) => {
                tracing::info!(base_url = %settings.base_url, model = %settings.model, "emails are written by an LLM");
                let llm = OpenAiGenerator::new(settings).context("building the LLM client")?;
                let midnight = clock
                    .now()
                    .date_naive()
                    .and_time(chrono::NaiveTime::MIN)
                    .and_utc();
                let (tokens, usd) = store.llm_spend_since(midnight).await?;
                llm.spent_earlier_today(tokens, usd);
                Arc::new(llm)
            }
            None => template.clone(),
        };
        let public_url = config.public_url();
        let mailto_domain = config.engine.from_domain().to_string();

        let store_arc = Arc::new(store.clone());
        let engine = Engine {
            clients: store_arc.clone(),
            ledger: store_arc.clone(),
            generator,
            fallback: template,
            sender,
            publisher: store_arc.clone(),
            links: UnsubscribeLinks::new(&public_url, &secret, &mailto_domain),
            clock: clock.clone(),
            config: Arc::new(engine_config(&config)),
        };
        let p = &config.pipeline;
        let settings = PipelineSettings {
            workers: p.workers,
            receive_batch: p.batch_size,
            queue: QueueSettings {
                visibility: Duration::from_secs(p.visibility_timeout_secs),
                max_receives: p.max_receives,
                ..QueueSettings::default()
            },
            tick_every: Duration::from_secs(p.scheduler_interval_secs.max(1)),
            writers: config.llm.max_concurrency,
            ..PipelineSettings::default()
        };
        let pipeline = Arc::new(Pipeline::new(store.clone(), engine.clone(), settings));
        let health = Arc::new(EmbeddedHealth {
            store: store.clone(),
            generator: engine.generator.name(),
            sender: engine.sender.name(),
            outbox_dir,
        });
        let state = AppState {
            clients: ClientService::new(store_arc.clone(), clock),
            engine,
            suppressions: store_arc.clone(),
            import: store_arc.clone(),
            dead_letters: store_arc.clone(),
            replay: store_arc,
            health,
            auth: TokenAuth::new(token_hashes),
        };
        let extra = crate::metrics::router(crate::metrics::install(), store.clone());
        let router = engage_api::router_with(state, extra);
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            router,
            pipeline,
            store,
            autostart: config.pipeline.autostart,
            created_admin_token,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn pipeline(&self) -> Arc<Pipeline> {
        self.pipeline.clone()
    }

    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Serves until `shutdown` resolves, then lets the pipeline finish the work in
    /// hand and returns.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = self.autostart.then(|| self.pipeline.clone().spawn(stop_rx));
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let served = server.await.context("serving HTTP");
        if let Some(tasks) = tasks.as_mut() {
            while tasks.join_next().await.is_some() {}
        }
        served
    }
}

/// The engine's settings: the configured ones, with links to engage's own public
/// address always allowed in content.
fn engine_config(config: &Config) -> EngineConfig {
    let mut engine = config.engine.clone();
    if let Some(host) = reqwest::Url::parse(&config.public_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
    {
        engine.guards.allow_host(&host);
    }
    engine
}
