//! `engage serve --backend aws` and the Lambda functions: the AWS backend
//! ([`engage_aws::AwsBackend`]) wired from the configuration — the generator, the
//! sender, the links and the API's state. Everything AWS-specific lives in
//! engage-aws; this module only chooses.

use crate::config::{Config, SenderKind};
use anyhow::Context as _;
use aws_config::SdkConfig;
use engage_api::{AppState, TokenAuth};
use engage_aws::{AwsBackend, AwsHealth, AwsWorkers, EngineParts, Locations, WorkerSettings};
use engage_core::clock::Clock;
use engage_core::ports::{ContentGenerator, MailSender};
use engage_core::processor::Engine;
use engage_core::service::ClientService;
use engage_llm::TemplateGenerator;
use std::sync::Arc;
use std::time::Duration;

/// The AWS backend, built: the API's state and the background tasks.
#[derive(Debug)]
pub struct AwsHost {
    pub state: AppState,
    pub engine: Engine,
    pub workers: Arc<AwsWorkers>,
}

/// Where `[aws]` says the resources are.
pub fn locations(config: &Config) -> Locations {
    let aws = &config.aws;
    Locations {
        resources: aws.resources(),
        events_topic_arn: aws.events_topic_arn.clone(),
        email_queue_url: aws.email_queue_url.clone(),
        email_dlq_url: aws.email_dlq_url.clone(),
    }
}

/// The engine over `backend`, with the configured generator (its daily budget
/// shared through the backend's tally), sender and links.
pub async fn engine(
    config: &Config,
    backend: &AwsBackend,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Engine> {
    let template: Arc<dyn ContentGenerator> = Arc::new(TemplateGenerator);
    let generator = crate::wiring::generator(
        config,
        crate::wiring::Spending::Shared(&backend.tally),
        &clock,
        &template,
    )
    .await?;
    let secret = config
        .unsubscribe_secret
        .as_deref()
        .context("backend `aws` needs unsubscribe_secret (ENGAGE_UNSUBSCRIBE_SECRET)")?;
    Ok(backend.engine(EngineParts {
        generator,
        fallback: template,
        sender: sender(config, &backend.sdk).await?,
        links: crate::wiring::links(config, secret.as_bytes()),
        clock,
        config: crate::wiring::engine_config(config),
    }))
}

impl AwsHost {
    /// Builds the host from the configuration; `sdk` replaces the SDK configuration
    /// `[aws]` describes (tests hand in the emulator's, with its test credentials).
    pub async fn build(
        config: &Config,
        clock: Arc<dyn Clock>,
        sdk: Option<SdkConfig>,
    ) -> anyhow::Result<Self> {
        let admin_token = config
            .admin_token
            .as_deref()
            .context("backend `aws` needs admin_token (ENGAGE_ADMIN_TOKEN)")?;
        anyhow::ensure!(
            admin_token.len() >= 16,
            "ENGAGE_ADMIN_TOKEN must be at least 16 characters"
        );
        anyhow::ensure!(
            config.unsubscribe_secret.as_deref().map_or(0, str::len) >= 16,
            "backend `aws` needs unsubscribe_secret (ENGAGE_UNSUBSCRIBE_SECRET), at least 16 characters"
        );
        let sdk = match sdk {
            Some(s) => s,
            None => config.aws.sdk_config().await,
        };
        let at = locations(config);
        let backend = AwsBackend::connect(sdk, &at).await?;
        let queue = backend.email_queue(&at).await?;
        let engine = engine(config, &backend, clock.clone()).await?;
        let health = AwsHealth::new(
            &backend,
            &queue,
            engine.generator.name(),
            engage_mail::MailCheck::new(engine.sender.clone()),
            crate::wiring::feedback_health(config),
        );
        let state = AppState {
            clients: ClientService::new(
                backend.clients.clone(),
                backend.suppressions.clone(),
                clock,
            ),
            engine: engine.clone(),
            suppressions: backend.suppressions.clone(),
            history: backend.ledger.clone(),
            sent_messages: Arc::new(engage_core::ports::NoSentCopies),
            import: backend.clients.clone(),
            dead_letters: queue.dead_letters,
            replay: backend.replay(),
            health: Arc::new(health),
            auth: TokenAuth::new(vec![crate::token_hash(admin_token)]),
            feedback: crate::wiring::feedback(config)?,
        };
        let p = &config.pipeline;
        let workers = AwsWorkers::new(
            backend,
            engine.clone(),
            queue.queue,
            WorkerSettings {
                workers: p.workers,
                writers: config.llm.max_concurrency,
                tick_every: Duration::from_secs(p.scheduler_interval_secs.max(1)),
            },
        );
        Ok(Self {
            state,
            engine,
            workers: Arc::new(workers),
        })
    }
}

/// The configured sender; SES without its own region or endpoint goes through the
/// host's SDK configuration (so its credentials and endpoint are the backend's). The
/// Lambda functions use it too.
pub async fn sender(config: &Config, sdk: &SdkConfig) -> anyhow::Result<Arc<dyn MailSender>> {
    let m = &config.mail;
    if m.sender == SenderKind::Ses && m.ses.region.is_none() && m.ses.endpoint_url.is_none() {
        let ses = engage_aws::SesSender::with_client(
            aws_sdk_sesv2::Client::new(sdk),
            engage_aws::SesSettings {
                region: None,
                endpoint_url: None,
                configuration_set: m.ses.configuration_set.clone(),
                max_concurrency: m.ses.max_concurrency,
            },
        );
        tracing::info!("emails go out through Amazon SES");
        let ses: Arc<dyn MailSender> = Arc::new(ses);
        return Ok(match m.max_send_rate {
            Some(rate) => Arc::new(engage_mail::Throttled::new(ses, rate)),
            None => ses,
        });
    }
    crate::wiring::sender(config).await
}
