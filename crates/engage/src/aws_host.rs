//! `engage serve --backend aws`: the engine and the API's state over DynamoDB, SNS
//! and SQS ([`AwsHost::build`]), and the long-running tasks that stand in for the
//! Lambda functions ([`AwsHost::spawn`]): the stream poller (Users table stream →
//! events topic), the email queue's workers, the email writers and the scheduler.
//! They mirror the embedded pipeline (`engage_embedded::pipeline`): the same batch
//! processing, the same backoff for failed messages, the same stop on shutdown.

use crate::config::{Config, SenderKind};
use anyhow::Context as _;
use async_trait::async_trait;
use aws_config::SdkConfig;
use engage_api::{AppState, TokenAuth};
use engage_aws::tables::Resources;
use engage_aws::{
    DynamoClients, DynamoLedger, DynamoSpendTally, DynamoSuppressions, QueueMessage, SnsPublisher,
    SqsDeadLetters, SqsQueue, StreamCheckpoints, StreamPoller,
};
use engage_core::StoreError;
use engage_core::clock::Clock;
use engage_core::ports::{
    ContentGenerator, DeadLetter, DeadLetters, DependencyHealth, EventPublisher, HealthCheck,
    HealthStatus, MailSender, Page, SpendTally, StreamReplay,
};
use engage_core::processor::Engine;
use engage_core::service::ClientService;
use engage_llm::TemplateGenerator;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How long the stream poller waits after a poll that found nothing.
const STREAM_IDLE: Duration = Duration::from_millis(500);
/// Long polling of a worker's receive.
const RECEIVE_WAIT: Duration = Duration::from_secs(1);
/// How long an idle email writer waits before looking again.
const WRITER_IDLE: Duration = Duration::from_millis(500);

/// The AWS backend, built: the API's state and what the background tasks need.
#[derive(Debug)]
pub struct AwsHost {
    pub state: AppState,
    pub engine: Engine,
    pub queue: SqsQueue,
    pub resources: Resources,
    pub sdk: SdkConfig,
    publisher: Arc<SnsPublisher>,
    workers: usize,
    writers: usize,
    tick_every: Duration,
}

impl AwsHost {
    /// Builds the host from the configuration; `sdk` replaces the SDK configuration
    /// `[aws]` describes (tests hand in the emulator's, with its test credentials).
    pub async fn build(
        config: &Config,
        clock: Arc<dyn Clock>,
        sdk: Option<SdkConfig>,
    ) -> anyhow::Result<Self> {
        let sdk = match sdk {
            Some(s) => s,
            None => config.aws.sdk_config().await,
        };
        let resources = config.aws.resources();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);

        let topic_arn = match &config.aws.events_topic_arn {
            Some(arn) => arn.clone(),
            None => engage_aws::sns::find_topic_arn(&sns, &resources.events_topic)
                .await?
                .with_context(|| {
                    format!(
                        "the events topic {} does not exist: run `engage aws init`",
                        resources.events_topic
                    )
                })?,
        };
        let queue = match &config.aws.email_queue_url {
            Some(url) => SqsQueue::new(sqs.clone(), url.clone()),
            None => SqsQueue::named(sqs.clone(), &resources.email_queue)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the email queue {} was not found ({e}): run `engage aws init`",
                        resources.email_queue
                    )
                })?,
        };

        let admin_token = config
            .admin_token
            .as_deref()
            .context("backend `aws` needs admin_token (ENGAGE_ADMIN_TOKEN)")?;
        anyhow::ensure!(
            admin_token.len() >= 16,
            "ENGAGE_ADMIN_TOKEN must be at least 16 characters"
        );
        let secret = config
            .unsubscribe_secret
            .as_deref()
            .context("backend `aws` needs unsubscribe_secret (ENGAGE_UNSUBSCRIBE_SECRET)")?;
        anyhow::ensure!(
            secret.len() >= 16,
            "ENGAGE_UNSUBSCRIBE_SECRET must be at least 16 characters"
        );

        let clients = Arc::new(DynamoClients::for_resources(dynamodb.clone(), &resources));
        let ledger = Arc::new(DynamoLedger::new(dynamodb.clone(), &resources));
        let suppressions = Arc::new(DynamoSuppressions::new(dynamodb.clone(), &resources));
        let publisher = Arc::new(SnsPublisher::new(sns, topic_arn));
        let template: Arc<dyn ContentGenerator> = Arc::new(TemplateGenerator);
        let tally: Arc<dyn SpendTally> = Arc::new(DynamoSpendTally::new(
            dynamodb.clone(),
            resources.ledger_table.clone(),
        ));
        let generator = crate::wiring::generator(
            config,
            crate::wiring::Spending::Shared(&tally),
            &clock,
            &template,
        )
        .await?;
        let engine = Engine {
            clients: clients.clone(),
            ledger,
            generator,
            fallback: template,
            sender: sender(config, &sdk).await?,
            publisher: publisher.clone(),
            suppressions: suppressions.clone(),
            links: crate::wiring::links(config, secret.as_bytes()),
            clock: clock.clone(),
            config: Arc::new(crate::wiring::engine_config(config)),
        };
        let dlq_url = match &config.aws.email_dlq_url {
            Some(url) => Some(url.clone()),
            None => dead_letter_queue_url(&sqs, queue.url(), &resources.email_dlq).await,
        };
        let dead_letters: Arc<dyn DeadLetters> = match &dlq_url {
            Some(url) => Arc::new(SqsDeadLetters::new(
                sqs.clone(),
                url.clone(),
                queue.url(),
                queue.url().rsplit('/').next().unwrap_or_default(),
            )),
            None => {
                tracing::warn!(
                    queue = queue.url(),
                    "the email queue's dead-letter queue was not found: /api/v1/dead-letters will answer errors"
                );
                Arc::new(NoDeadLetters)
            }
        };
        let health = Arc::new(AwsHealth {
            dynamodb,
            sqs: sqs.clone(),
            users_table: resources.users_table.clone(),
            queue_url: queue.url().to_string(),
            dlq_url,
            generator: engine.generator.name(),
            mail: crate::health::MailCheck::new(engine.sender.clone()),
            feedback: crate::wiring::feedback_health(config),
        });
        let state = AppState {
            clients: ClientService::new(clients.clone(), suppressions.clone(), clock),
            engine: engine.clone(),
            suppressions,
            import: clients,
            dead_letters,
            replay: Arc::new(NoReplay),
            health,
            auth: TokenAuth::new(vec![crate::secrets::token_hash(admin_token)]),
            feedback: crate::wiring::feedback(config)?,
        };
        let p = &config.pipeline;
        Ok(Self {
            state,
            engine,
            queue,
            resources,
            sdk,
            publisher,
            workers: p.workers,
            writers: config.llm.max_concurrency,
            tick_every: Duration::from_secs(p.scheduler_interval_secs.max(1)),
        })
    }

    /// Receives up to ten messages (long polling for up to a second), processes them
    /// as one batch, deletes the done ones in one call and releases each failed one
    /// with the embedded pipeline's backoff. Returns how many it received.
    pub async fn work_once(&self) -> Result<usize, StoreError> {
        let msgs = self.queue.receive(10, RECEIVE_WAIT).await?;
        let n = msgs.len();
        if n > 0 {
            let done = process(&self.engine, &self.queue, msgs).await?;
            self.queue.delete_batch(done).await?;
        }
        Ok(n)
    }

    /// Starts the stream poller, the queue workers (`pipeline.workers`), the email
    /// writers (`llm.max_concurrency`) and the scheduler; they stop when `shutdown`
    /// turns true, finishing the batch or email in hand.
    pub fn spawn(self: Arc<Self>, shutdown: watch::Receiver<bool>) -> JoinSet<()> {
        let mut set = JoinSet::new();
        let poller = StreamPoller::new(
            &self.sdk,
            self.resources.users_table.clone(),
            self.publisher.clone() as Arc<dyn EventPublisher>,
        )
        // A restart resumes after the last record handled.
        .with_checkpoints(StreamCheckpoints::new(
            aws_sdk_dynamodb::Client::new(&self.sdk),
            self.resources.ledger_table.clone(),
        ));
        let mut stop = shutdown.clone();
        set.spawn(poller.run(STREAM_IDLE, async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
        for _ in 0..self.workers.max(1) {
            let me = self.clone();
            let mut stop = shutdown.clone();
            set.spawn(async move {
                // Not raced against the stop: a batch in hand is finished (the
                // receive's long poll bounds how long a stop waits).
                while !*stop.borrow() {
                    if let Err(e) = me.work_once().await {
                        tracing::error!(error = %e, "email worker step failed");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                            _ = stop.changed() => {}
                        }
                    }
                }
            });
        }
        for _ in 0..self.writers.max(1) {
            let me = self.clone();
            let mut stop = shutdown.clone();
            set.spawn(async move {
                while !*stop.borrow() {
                    match me.engine.write_due(1).await {
                        Ok(n) if n > 0 => continue,
                        Ok(_) => {}
                        Err(e) => tracing::error!(error = %e, "email writer step failed"),
                    }
                    tokio::select! {
                        _ = tokio::time::sleep(WRITER_IDLE) => {}
                        _ = stop.changed() => {}
                    }
                }
            });
        }
        let me = self;
        let mut stop = shutdown;
        set.spawn(async move {
            let mut every = tokio::time::interval(me.tick_every);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !*stop.borrow() {
                tokio::select! {
                    _ = every.tick() => {
                        if let Err(e) = me.engine.tick(500).await {
                            tracing::error!(error = %e, "scheduler tick failed");
                        }
                    }
                    _ = stop.changed() => {}
                }
            }
        });
        set
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

/// Processes a batch as the embedded pipeline does: undecodable messages and failed
/// events are released with backoff (SQS moves them to the DLQ after the redrive
/// policy's receives); answers the receipts of the done ones, to delete.
async fn process(
    engine: &Engine,
    queue: &SqsQueue,
    msgs: Vec<QueueMessage>,
) -> Result<Vec<String>, StoreError> {
    let bodies: Vec<&str> = msgs.iter().map(|m| m.body.as_str()).collect();
    let results = engine.process_messages(&bodies).await;
    let mut done = Vec::with_capacity(msgs.len());
    for (msg, result) in msgs.into_iter().zip(results) {
        match result {
            Ok(()) => done.push(msg.receipt),
            Err(e) => {
                let delay = engage_embedded::pipeline::backoff(msg.receive_count);
                tracing::warn!(message_id = msg.message_id, receive_count = msg.receive_count, error = %e, retry_in_ms = delay.as_millis() as u64, "message failed, will retry");
                queue.release(&msg.receipt, delay).await?;
            }
        }
    }
    Ok(done)
}

/// The email queue's dead-letter queue: the one its redrive policy names, else the
/// one named `fallback`; `None` when neither is found.
async fn dead_letter_queue_url(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    fallback: &str,
) -> Option<String> {
    let named = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
        .send()
        .await
        .ok()
        .and_then(|o| o.attributes)
        .and_then(|a| {
            a.get(&aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy)
                .cloned()
        })
        .and_then(|p| serde_json::from_str::<serde_json::Value>(&p).ok())
        .and_then(|p| {
            p["deadLetterTargetArn"]
                .as_str()
                .and_then(|arn| arn.rsplit(':').next())
                .map(str::to_string)
        });
    let name = named.as_deref().unwrap_or(fallback);
    sqs.get_queue_url()
        .queue_name(name)
        .send()
        .await
        .ok()
        .and_then(|o| o.queue_url)
}

/// Stands in when the dead-letter queue was not found at start.
#[derive(Debug)]
struct NoDeadLetters;

fn dlq_unavailable() -> StoreError {
    StoreError::Unsupported(
        "the email queue's dead-letter queue was not found at start: inspect and redrive it with the SQS console or `aws sqs start-message-move-task`".into(),
    )
}

#[async_trait]
impl DeadLetters for NoDeadLetters {
    async fn list(&self, _: Option<String>, _: u32) -> Result<Page<DeadLetter>, StoreError> {
        Err(dlq_unavailable())
    }
    async fn get(&self, _: &str) -> Result<Option<DeadLetter>, StoreError> {
        Err(dlq_unavailable())
    }
    async fn redrive(&self, _: &str) -> Result<(), StoreError> {
        Err(dlq_unavailable())
    }
    async fn redrive_all(&self) -> Result<u64, StoreError> {
        Err(dlq_unavailable())
    }
}

/// Replay is not available on AWS: the table's stream is the change log.
#[derive(Debug)]
struct NoReplay;

#[async_trait]
impl StreamReplay for NoReplay {
    async fn replay_from(&self, _: u64) -> Result<u64, StoreError> {
        Err(StoreError::Unsupported(
            "replay is not available on the AWS backend: DynamoDB streams keep 24 hours; restarting `engage serve` re-reads the last 24 hours of the stream (safe: nothing is sent twice)".into(),
        ))
    }
}

/// `/health` on AWS: the Users table (DescribeTable), the email queue and its DLQ
/// (GetQueueAttributes), the generator and the sender.
#[derive(Debug)]
pub struct AwsHealth {
    dynamodb: aws_sdk_dynamodb::Client,
    sqs: aws_sdk_sqs::Client,
    users_table: String,
    queue_url: String,
    dlq_url: Option<String>,
    generator: String,
    mail: crate::health::MailCheck,
    feedback: Option<DependencyHealth>,
}

fn entry(name: &str, status: HealthStatus, detail: serde_json::Value) -> DependencyHealth {
    DependencyHealth {
        name: name.into(),
        status,
        detail,
    }
}

impl AwsHealth {
    async fn depth(&self, url: &str) -> Option<u64> {
        use aws_sdk_sqs::types::QueueAttributeName as A;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(A::ApproximateNumberOfMessages)
            .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(A::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .ok()?;
        let a = out.attributes?;
        Some(
            [
                A::ApproximateNumberOfMessages,
                A::ApproximateNumberOfMessagesNotVisible,
                A::ApproximateNumberOfMessagesDelayed,
            ]
            .iter()
            .filter_map(|k| a.get(k).and_then(|v| v.parse::<u64>().ok()))
            .sum(),
        )
    }
}

#[async_trait]
impl HealthCheck for AwsHealth {
    async fn check(&self) -> Vec<DependencyHealth> {
        let mut out = Vec::new();
        let started = Instant::now();
        match self
            .dynamodb
            .describe_table()
            .table_name(&self.users_table)
            .send()
            .await
        {
            Ok(_) => out.push(entry(
                "database",
                HealthStatus::Up,
                json!({"kind": "dynamodb", "latency_ms": started.elapsed().as_secs_f64() * 1000.0}),
            )),
            Err(e) => {
                tracing::error!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "health: DescribeTable failed");
                out.push(entry(
                    "database",
                    HealthStatus::Down,
                    json!({"kind": "dynamodb", "error": "not answering"}),
                ));
                return out;
            }
        }
        let dead = match &self.dlq_url {
            Some(url) => self.depth(url).await,
            None => None,
        };
        match self.depth(&self.queue_url).await {
            Some(q) => {
                let status = if dead.unwrap_or(0) > 0 {
                    HealthStatus::Degraded
                } else {
                    HealthStatus::Up
                };
                out.push(entry(
                    "email_queue",
                    status,
                    json!({"kind": "sqs", "messages": q, "dead_letters": dead}),
                ));
            }
            None => out.push(entry(
                "email_queue",
                HealthStatus::Down,
                json!({"kind": "sqs"}),
            )),
        }
        out.push(entry(
            "generator",
            HealthStatus::Up,
            json!({"active": self.generator}),
        ));
        out.push(self.mail.entry().await);
        out.extend(self.feedback.clone());
        out
    }
}

/// What `engage aws init` prints: what it created or changed, then the resources.
pub fn describe_init(report: &engage_aws::InitReport) -> String {
    let mut out = String::new();
    if report.created.is_empty() && report.updated.is_empty() {
        out.push_str("everything was already in place\n");
    }
    for c in &report.created {
        out.push_str(&format!("created {c}\n"));
    }
    for u in &report.updated {
        out.push_str(&format!("updated {u}\n"));
    }
    out.push_str(&format!(
        "users stream:    {}\nevents topic:    {}\nemail queue:     {}\nemail queue ARN: {}\nemail DLQ:       {}\nsubscription:    {}\n",
        report.users_stream_arn,
        report.topic_arn,
        report.email_queue_url,
        report.email_queue_arn,
        report.email_dlq_url,
        report.subscription_arn
    ));
    out
}
