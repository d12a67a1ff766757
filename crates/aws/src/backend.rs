//! The AWS backend, built once ([`AwsBackend::connect`]): its stores and publisher,
//! and ([`AwsBackend::email_queue`]) the email queue with its dead letters, for the
//! hosts that consume the queue or serve the API. A host (`engage serve --backend
//! aws`, the Lambda functions) hands in what its configuration chooses — the
//! generator, the sender, the links, the engine's settings — and gets the [`Engine`],
//! `/health` and the workers; it only wires.

use crate::tables::Resources;
use crate::{
    DynamoClients, DynamoLedger, DynamoSpendTally, DynamoSuppressions, SnsPublisher,
    SqsDeadLetters, SqsQueue,
};
use anyhow::Context as _;
use async_trait::async_trait;
use aws_config::SdkConfig;
use engage_core::StoreError;
use engage_core::clock::Clock;
use engage_core::config::EngineConfig;
use engage_core::ports::{
    ContentGenerator, DeadLetter, DeadLetters, MailSender, Page, SpendTally, StreamReplay,
};
use engage_core::processor::Engine;
use engage_core::unsubscribe::UnsubscribeLinks;
use std::sync::Arc;

/// Where the backend's resources are: the names, and the addresses a stack already
/// knows (each found by its name when not given).
#[derive(Debug, Clone, Default)]
pub struct Locations {
    pub resources: Resources,
    pub events_topic_arn: Option<String>,
    pub email_queue_url: Option<String>,
    pub email_dlq_url: Option<String>,
}

/// What the host's configuration chooses for the engine.
pub struct EngineParts {
    pub generator: Arc<dyn ContentGenerator>,
    /// The template, when the generator fails.
    pub fallback: Arc<dyn ContentGenerator>,
    pub sender: Arc<dyn MailSender>,
    pub links: UnsubscribeLinks,
    pub clock: Arc<dyn Clock>,
    pub config: EngineConfig,
}

impl std::fmt::Debug for EngineParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineParts")
            .field("generator", &self.generator.name())
            .field("sender", &self.sender.name())
            .finish_non_exhaustive()
    }
}

/// The stores and the events topic of one deployment.
#[derive(Debug, Clone)]
pub struct AwsBackend {
    pub sdk: SdkConfig,
    pub resources: Resources,
    pub clients: Arc<DynamoClients>,
    pub ledger: Arc<DynamoLedger>,
    pub suppressions: Arc<DynamoSuppressions>,
    /// The model's daily spending, shared by every process that writes emails.
    pub tally: Arc<dyn SpendTally>,
    pub publisher: Arc<SnsPublisher>,
}

/// The email queue and its dead letters.
#[derive(Clone)]
pub struct EmailQueue {
    pub queue: SqsQueue,
    pub dead_letters: Arc<dyn DeadLetters>,
    /// `None` when the dead-letter queue was not found at start.
    pub dlq_url: Option<String>,
}

impl std::fmt::Debug for EmailQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailQueue")
            .field("queue", &self.queue.url())
            .field("dlq_url", &self.dlq_url)
            .finish_non_exhaustive()
    }
}

impl AwsBackend {
    /// The stores over `sdk`'s account, and the events topic's publisher (the topic
    /// found by name when its ARN is not given: one round trip).
    pub async fn connect(sdk: SdkConfig, at: &Locations) -> anyhow::Result<Self> {
        let resources = at.resources.clone();
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let publisher = events_publisher(&sdk, at).await?;
        Ok(Self {
            clients: Arc::new(DynamoClients::for_resources(dynamodb.clone(), &resources)),
            ledger: Arc::new(DynamoLedger::new(dynamodb.clone(), &resources)),
            suppressions: Arc::new(DynamoSuppressions::new(dynamodb.clone(), &resources)),
            tally: Arc::new(DynamoSpendTally::new(
                dynamodb,
                resources.ledger_table.clone(),
            )),
            publisher: Arc::new(publisher),
            sdk,
            resources,
        })
    }

    /// The engine over this backend's stores and publisher.
    pub fn engine(&self, parts: EngineParts) -> Engine {
        Engine {
            clients: self.clients.clone(),
            ledger: self.ledger.clone(),
            generator: parts.generator,
            fallback: parts.fallback,
            sender: parts.sender,
            publisher: self.publisher.clone(),
            suppressions: self.suppressions.clone(),
            links: parts.links,
            clock: parts.clock,
            config: Arc::new(parts.config),
        }
    }

    /// The email queue (found by name when its URL is not given) and its dead-letter
    /// queue: the one the queue's redrive policy names, else the one of the
    /// resources' name. Without a dead-letter queue the dead letters answer
    /// `Unsupported`, and a warning says why.
    pub async fn email_queue(&self, at: &Locations) -> anyhow::Result<EmailQueue> {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let queue = match &at.email_queue_url {
            Some(url) => SqsQueue::new(sqs.clone(), url.clone()),
            None => SqsQueue::named(sqs.clone(), &self.resources.email_queue)
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "the email queue {} was not found ({e}): run `engage aws init`",
                        self.resources.email_queue
                    )
                })?,
        };
        let dlq_url = match &at.email_dlq_url {
            Some(url) => Some(url.clone()),
            None => dead_letter_queue_url(&sqs, queue.url(), &self.resources.email_dlq).await,
        };
        let dead_letters: Arc<dyn DeadLetters> = match &dlq_url {
            Some(url) => Arc::new(SqsDeadLetters::new(
                sqs,
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
        Ok(EmailQueue {
            queue,
            dead_letters,
            dlq_url,
        })
    }

    /// Replay over the change log: not available here (see [`NoReplay`]).
    pub fn replay(&self) -> Arc<dyn StreamReplay> {
        Arc::new(NoReplay)
    }
}

/// The events topic's publisher: the topic `at` names by ARN, else the one of the
/// resources' name (one round trip). The stream function needs only this.
pub async fn events_publisher(sdk: &SdkConfig, at: &Locations) -> anyhow::Result<SnsPublisher> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let topic_arn = match &at.events_topic_arn {
        Some(arn) => arn.clone(),
        None => {
            let name = &at.resources.events_topic;
            crate::sns::find_topic_arn(&sns, name)
                .await?
                .with_context(|| {
                    format!("the events topic {name} does not exist: run `engage aws init`")
                })?
        }
    };
    Ok(SnsPublisher::new(sns, topic_arn))
}

/// The email queue's dead-letter queue named by its redrive policy, else the one
/// named `fallback`; `None` when neither is found.
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
pub struct NoReplay;

#[async_trait]
impl StreamReplay for NoReplay {
    async fn replay_from(&self, _: u64) -> Result<u64, StoreError> {
        Err(StoreError::Unsupported(
            "replay is not available on the AWS backend: DynamoDB streams keep 24 hours; restarting `engage serve` re-reads the last 24 hours of the stream (safe: nothing is sent twice)".into(),
        ))
    }
}
