//! Startup you can test: `Application::build` opens the store (SQLite, or DynamoDB,
//! SNS and SQS with `backend = "aws"`), wires the engine,
//! binds the listener (port 0 in tests) and `run_until_stopped` serves the API and
//! runs the pipeline until the shutdown future resolves.

#[cfg(feature = "aws")]
use crate::aws_host::AwsHost;
use crate::config::{Backend, Config, DurabilitySetting};
use crate::health::EmbeddedHealth;
use crate::secrets;
use anyhow::Context as _;
use engage_api::{AppState, TokenAuth};
use engage_core::clock::Clock;
use engage_core::service::ClientService;
use engage_embedded::pipeline::{Pipeline, PipelineSettings};
use engage_embedded::queue::QueueSettings;
use engage_embedded::{Durability, Store};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: axum::Router,
    host: Host,
    autostart: bool,
    /// The admin token created at this start, if any (shown once).
    pub created_admin_token: Option<String>,
}

/// The backend the application runs on, with its background tasks.
#[derive(Debug)]
enum Host {
    Embedded {
        pipeline: Arc<Pipeline>,
        store: Store,
        /// Held while this process runs the pipeline (`pipeline.autostart`).
        _owner: Option<crate::data_dir::Owner>,
        /// The router's tokens, re-read from the store while serving.
        auth: TokenAuth,
        admin_token: Option<crate::config::Redacted>,
    },
    #[cfg(feature = "aws")]
    Aws(Arc<AwsHost>),
}

impl Application {
    /// Builds the application on the configured backend.
    pub async fn build(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        #[cfg(feature = "aws")]
        return Self::build_with(config, clock, None).await;
        #[cfg(not(feature = "aws"))]
        match config.backend {
            Backend::Embedded => Self::build_embedded(config, clock).await,
            Backend::Aws => Err(crate::aws_not_built("backend `aws`")),
        }
    }

    /// As [`Application::build`]; on the AWS backend, `aws_sdk` replaces the SDK
    /// configuration `[aws]` describes (tests hand in the emulator's credentials this
    /// way rather than through process-wide `AWS_*` variables).
    #[cfg(feature = "aws")]
    pub async fn build_with(
        config: Config,
        clock: Arc<dyn Clock>,
        aws_sdk: Option<aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        match config.backend {
            Backend::Embedded => Self::build_embedded(config, clock).await,
            Backend::Aws => Self::build_aws(config, clock, aws_sdk).await,
        }
    }

    /// The AWS backend: DynamoDB, SNS and SQS. `/metrics` serves the counters and
    /// histograms; the gauges read from the embedded store (queue depths, stream lag,
    /// emails by status) are left out (CloudWatch has the queues' and tables').
    #[cfg(feature = "aws")]
    async fn build_aws(
        config: Config,
        clock: Arc<dyn Clock>,
        aws_sdk: Option<aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        let host = Arc::new(AwsHost::build(&config, clock, aws_sdk).await?);
        let extra = engage_host::metrics::router(crate::metrics::install(), None);
        let router = engage_api::router_with_site(host.state.clone(), extra, site());
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            router,
            host: Host::Aws(host),
            autostart: config.pipeline.autostart,
            created_admin_token: None,
        })
    }

    async fn build_embedded(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        crate::data_dir::create(&config.data_dir)?;
        crate::data_dir::warn_if_loose(&config.data_dir);
        // The process that runs the pipeline owns the queues; a command that only
        // drives it step by step (`engage replay`) works beside it.
        let owner = config
            .pipeline
            .autostart
            .then(|| crate::data_dir::Owner::acquire(&config.data_dir))
            .transpose()?;
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
        let engine = crate::wiring::engine(&config, &store, clock.clone()).await?;
        let store_arc = Arc::new(store.clone());
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
        if owner.is_some() {
            // Whatever a killed predecessor had received is visible again now, not
            // after its visibility timeout.
            let returned = store.return_in_flight().await?;
            if returned > 0 {
                tracing::info!(
                    messages = returned,
                    "returned the previous run's in-flight messages to the queue"
                );
            }
        }
        let pipeline = Arc::new(Pipeline::new(store.clone(), engine.clone(), settings));
        let health = Arc::new(EmbeddedHealth {
            store: store.clone(),
            generator: engine.generator.name(),
            mail: engage_mail::MailCheck::new(engine.sender.clone()),
            feedback: crate::wiring::feedback_health(&config),
        });
        let auth = TokenAuth::new(token_hashes);
        let state = AppState {
            clients: ClientService::new(store_arc.clone(), store_arc.clone(), clock),
            engine,
            suppressions: store_arc.clone(),
            history: store_arc.clone(),
            // The outbox's copies, whatever the sender is now: messages an earlier
            // outbox kept stay readable.
            sent_messages: Arc::new(engage_mail::OutboxCopies::new(
                config.data_dir.join("outbox"),
            )),
            import: store_arc.clone(),
            dead_letters: store_arc.clone(),
            replay: store_arc,
            health,
            auth: auth.clone(),
            feedback: crate::wiring::feedback(&config)?,
        };
        let extra = crate::metrics::router(crate::metrics::install(), store.clone());
        let router = engage_api::router_with_site(state, extra, site());
        let listener = TcpListener::bind(config.addr)
            .await
            .with_context(|| format!("binding {}", config.addr))?;
        let addr = listener.local_addr()?;
        Ok(Self {
            listener,
            addr,
            router,
            host: Host::Embedded {
                pipeline,
                store,
                _owner: owner,
                auth,
                admin_token: config.admin_token.clone(),
            },
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

    /// The embedded pipeline (`None` on the AWS backend).
    pub fn pipeline(&self) -> Option<Arc<Pipeline>> {
        match &self.host {
            Host::Embedded { pipeline, .. } => Some(pipeline.clone()),
            #[cfg(feature = "aws")]
            Host::Aws(_) => None,
        }
    }

    /// The embedded store (`None` on the AWS backend).
    pub fn store(&self) -> Option<Store> {
        match &self.host {
            Host::Embedded { store, .. } => Some(store.clone()),
            #[cfg(feature = "aws")]
            Host::Aws(_) => None,
        }
    }

    /// The AWS host (`None` on the embedded backend).
    #[cfg(feature = "aws")]
    pub fn aws(&self) -> Option<Arc<AwsHost>> {
        match &self.host {
            #[cfg(feature = "aws")]
            Host::Aws(h) => Some(h.clone()),
            Host::Embedded { .. } => None,
        }
    }

    /// Serves until `shutdown` resolves, then lets the pipeline finish the work in
    /// hand and returns.
    #[cfg_attr(not(feature = "aws"), allow(irrefutable_let_patterns))]
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let stop = CancellationToken::new();
        let mut tasks = self.autostart.then(|| match &self.host {
            Host::Embedded { pipeline, .. } => pipeline.clone().spawn(stop.clone()),
            #[cfg(feature = "aws")]
            Host::Aws(host) => host.workers.clone().spawn(stop.clone()),
        });
        if let Host::Embedded {
            store,
            auth,
            admin_token,
            ..
        } = &self.host
        {
            let refresh = refresh_tokens(
                store.clone(),
                auth.clone(),
                admin_token.clone(),
                stop.clone(),
            );
            tasks
                .get_or_insert_with(tokio::task::JoinSet::new)
                .spawn(refresh);
        }
        // The peer's address reaches the handlers: the brake on failed tokens is per address.
        let app = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, app).with_graceful_shutdown(async move {
            shutdown.await;
            stop.cancel();
        });
        let served = server.await.context("serving HTTP");
        if let Some(tasks) = tasks.as_mut() {
            while tasks.join_next().await.is_some() {}
        }
        served
    }
}

/// How often a serving process re-reads the stored admin token: `engage rotate-token`
/// revokes the old one within this long, without a restart.
pub const TOKEN_REFRESH: Duration = Duration::from_secs(2);

/// Re-reads the accepted tokens every [`TOKEN_REFRESH`] until `stop`.
async fn refresh_tokens(
    store: Store,
    auth: TokenAuth,
    admin_token: Option<crate::config::Redacted>,
    stop: CancellationToken,
) {
    let mut every = tokio::time::interval(TOKEN_REFRESH);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.is_cancelled() {
        tokio::select! {
            _ = every.tick() => {}
            _ = stop.cancelled() => break,
        }
        match secrets::admin_tokens(&store, admin_token.as_deref()).await {
            Ok((hashes, _)) => auth.replace(hashes),
            Err(e) => {
                tracing::warn!(error = %e, "re-reading the admin token failed; the tokens in use stay")
            }
        }
    }
}

/// The web console at `/`, when this build has it (the `console` feature).
fn site() -> Option<axum::Router> {
    #[cfg(feature = "console")]
    return Some(crate::console::router());
    #[cfg(not(feature = "console"))]
    None
}
