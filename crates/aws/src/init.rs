//! `engage aws init`: creates the AWS backend's resources ([`crate::tables`]) on an
//! endpoint — an account, or the emulator in tests — and leaves existing ones as
//! they should be, so running it again changes nothing:
//!
//! - the Users table (`pk`, on-demand, stream `NEW_AND_OLD_IMAGES`);
//! - the Emails and Ledger tables with their indexes (the ledger adapter's
//!   [`crate::create_ledger_tables`]);
//! - the events topic;
//! - the email queue's dead-letter queue, and the email queue (visibility timeout
//!   180 s, redrive to the DLQ after 5 receives), whose policy lets the topic send;
//! - the queue's subscription to the topic (raw delivery off), with a filter policy
//!   on `event_type` that lets every event type through;
//! - the SES identity emails are sent from, when `resources.ses_identity` names one.
//!
//! The CDK stack in `infra/` declares the same resources for real deployments.

use crate::tables::Resources;
use crate::tables::keys::{EVENT_TYPE_ATTRIBUTE, PK};
use anyhow::{Context as _, anyhow, bail};
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::operation::describe_table::DescribeTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    StreamSpecification, StreamViewType, TableStatus,
};
use aws_sdk_sqs::operation::get_queue_url::GetQueueUrlError;
use aws_sdk_sqs::types::QueueAttributeName;
use engage_core::change::EventType;
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

/// The email queue's visibility timeout: longer than a worker's batch can take.
pub const EMAIL_VISIBILITY_TIMEOUT_SECS: u32 = 180;
/// Receives after which a message moves to the dead-letter queue.
pub const MAX_RECEIVES: u32 = 5;
/// How long the dead-letter queue keeps a message (SQS's maximum, 14 days).
const DLQ_RETENTION_SECS: u32 = 1_209_600;

/// Every event type, for the subscription's filter policy.
pub const ALL_EVENT_TYPES: [EventType; 11] = [
    EventType::ClientCreated,
    EventType::ClientDeleted,
    EventType::ConsentChanged,
    EventType::FixFeedbackGiven,
    EventType::FixDelivered,
    EventType::OrderPlaced,
    EventType::LoginRecorded,
    EventType::EmailEngaged,
    EventType::ProfileUpdated,
    EventType::ContactUpdated,
    EventType::RescoreDue,
];

/// Fails to compile when an event type is added and not listed above.
const _: fn(EventType) = |t| match t {
    EventType::ClientCreated
    | EventType::ClientDeleted
    | EventType::ConsentChanged
    | EventType::FixFeedbackGiven
    | EventType::FixDelivered
    | EventType::OrderPlaced
    | EventType::LoginRecorded
    | EventType::EmailEngaged
    | EventType::ProfileUpdated
    | EventType::ContactUpdated
    | EventType::RescoreDue => {}
};

/// The email queue subscription's filter policy: every event type.
pub fn email_filter_policy() -> String {
    let types: Vec<&str> = ALL_EVENT_TYPES.iter().map(EventType::as_str).collect();
    json!({ EVENT_TYPE_ATTRIBUTE: types }).to_string()
}

/// What [`init`] found or made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitReport {
    pub users_stream_arn: String,
    pub topic_arn: String,
    pub email_queue_url: String,
    pub email_queue_arn: String,
    pub email_dlq_url: String,
    pub email_dlq_arn: String,
    pub subscription_arn: String,
    /// The resources this run created (empty when everything was there already).
    pub created: Vec<String>,
    /// Existing resources this run changed to match the design.
    pub updated: Vec<String>,
}

/// What `engage aws init` prints: what it created or changed, then the resources.
impl std::fmt::Display for InitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.created.is_empty() && self.updated.is_empty() {
            writeln!(f, "everything was already in place")?;
        }
        for c in &self.created {
            writeln!(f, "created {c}")?;
        }
        for u in &self.updated {
            writeln!(f, "updated {u}")?;
        }
        writeln!(f, "users stream:    {}", self.users_stream_arn)?;
        writeln!(f, "events topic:    {}", self.topic_arn)?;
        writeln!(f, "email queue:     {}", self.email_queue_url)?;
        writeln!(f, "email queue ARN: {}", self.email_queue_arn)?;
        writeln!(f, "email DLQ:       {}", self.email_dlq_url)?;
        writeln!(f, "subscription:    {}", self.subscription_arn)
    }
}

fn sdk(what: &str, e: impl std::error::Error) -> anyhow::Error {
    anyhow!("{what}: {}", DisplayErrorContext(e))
}

/// Creates what is missing of `resources` and brings what exists in line.
pub async fn init(
    config: &aws_config::SdkConfig,
    resources: &Resources,
) -> anyhow::Result<InitReport> {
    let dynamodb = aws_sdk_dynamodb::Client::new(config);
    let sns = aws_sdk_sns::Client::new(config);
    let sqs = aws_sdk_sqs::Client::new(config);
    let mut created = Vec::new();
    let mut updated = Vec::new();

    let users_stream_arn = users_table(
        &dynamodb,
        &resources.users_table,
        &mut created,
        &mut updated,
    )
    .await?;
    let mut missing = Vec::new();
    for table in [&resources.emails_table, &resources.ledger_table] {
        if !table_exists(&dynamodb, table).await? {
            missing.push(format!("table {table}"));
        }
    }
    crate::create_ledger_tables(&dynamodb, resources).await?;
    created.extend(missing);

    let topic_arn = match crate::sns::find_topic_arn(&sns, &resources.events_topic).await? {
        Some(arn) => arn,
        None => {
            let out = sns
                .create_topic()
                .name(&resources.events_topic)
                .send()
                .await
                .map_err(|e| sdk("creating the events topic", e))?;
            created.push(format!("topic {}", resources.events_topic));
            out.topic_arn
                .context("CreateTopic answered without a topic ARN")?
        }
    };

    let dlq_attributes = HashMap::from([(
        QueueAttributeName::MessageRetentionPeriod,
        DLQ_RETENTION_SECS.to_string(),
    )]);
    let (email_dlq_url, email_dlq_arn) =
        queue(&sqs, &resources.email_dlq, dlq_attributes, &mut created).await?;
    let redrive = json!({
        "deadLetterTargetArn": email_dlq_arn,
        "maxReceiveCount": MAX_RECEIVES.to_string(),
    });
    let (email_queue_url, email_queue_arn) = queue(
        &sqs,
        &resources.email_queue,
        HashMap::from([
            (
                QueueAttributeName::VisibilityTimeout,
                EMAIL_VISIBILITY_TIMEOUT_SECS.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ]),
        &mut created,
    )
    .await?;
    // The policy names the queue's own ARN, so it is set once the queue exists.
    let policy = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "events-topic-sends",
            "Effect": "Allow",
            "Principal": { "Service": "sns.amazonaws.com" },
            "Action": "sqs:SendMessage",
            "Resource": email_queue_arn,
            "Condition": { "ArnEquals": { "aws:SourceArn": topic_arn } },
        }],
    });
    sqs.set_queue_attributes()
        .queue_url(&email_queue_url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .map_err(|e| sdk("setting the email queue's policy", e))?;

    let subscription_arn = subscription(
        &sns,
        &topic_arn,
        &email_queue_arn,
        &mut created,
        &mut updated,
    )
    .await?;

    if let Some(identity) = &resources.ses_identity {
        ses_identity(config, identity, &mut created).await?;
    }

    Ok(InitReport {
        users_stream_arn,
        topic_arn,
        email_queue_url,
        email_queue_arn,
        email_dlq_url,
        email_dlq_arn,
        subscription_arn,
        created,
        updated,
    })
}

async fn table_exists(client: &aws_sdk_dynamodb::Client, name: &str) -> anyhow::Result<bool> {
    match client.describe_table().table_name(name).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk(&format!("describing table {name}"), e)),
    }
}

/// The Users table, created if missing, its stream enabled if it is not; answers
/// the stream's ARN once the table is active.
async fn users_table(
    client: &aws_sdk_dynamodb::Client,
    name: &str,
    created: &mut Vec<String>,
    updated: &mut Vec<String>,
) -> anyhow::Result<String> {
    let stream = StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::NewAndOldImages)
        .build()
        .map_err(|e| sdk("building a stream specification", e))?;
    let existing = match client.describe_table().table_name(name).send().await {
        Ok(out) => out.table,
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(DescribeTableError::ResourceNotFoundException(_))
            ) =>
        {
            None
        }
        Err(e) => return Err(sdk(&format!("describing table {name}"), e)),
    };
    match existing {
        None => {
            client
                .create_table()
                .table_name(name)
                .attribute_definitions(
                    AttributeDefinition::builder()
                        .attribute_name(PK)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                        .map_err(|e| sdk("building a key", e))?,
                )
                .key_schema(
                    KeySchemaElement::builder()
                        .attribute_name(PK)
                        .key_type(KeyType::Hash)
                        .build()
                        .map_err(|e| sdk("building a key", e))?,
                )
                .billing_mode(BillingMode::PayPerRequest)
                .stream_specification(stream)
                .send()
                .await
                .map_err(|e| sdk(&format!("creating table {name}"), e))?;
            created.push(format!("table {name}"));
        }
        Some(t) => {
            let spec = t.stream_specification();
            let enabled = spec.is_some_and(|s| s.stream_enabled());
            let view = spec.and_then(|s| s.stream_view_type());
            if enabled && view != Some(&StreamViewType::NewAndOldImages) {
                bail!(
                    "table {name}'s stream shows {view:?}, not NEW_AND_OLD_IMAGES: disable it, then run init again"
                );
            }
            if !enabled {
                client
                    .update_table()
                    .table_name(name)
                    .stream_specification(stream)
                    .send()
                    .await
                    .map_err(|e| sdk(&format!("enabling table {name}'s stream"), e))?;
                updated.push(format!("table {name}: stream enabled"));
            }
        }
    }
    for _ in 0..120 {
        let t = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk(&format!("describing table {name}"), e))?
            .table
            .context("DescribeTable answered without the table")?;
        if t.table_status() == Some(&TableStatus::Active)
            && let Some(arn) = t.latest_stream_arn()
        {
            return Ok(arn.to_string());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    bail!("table {name} did not become active with its stream within a minute")
}

/// The queue named `name`, created with `attributes` if missing, else given them;
/// answers its URL and ARN.
async fn queue(
    client: &aws_sdk_sqs::Client,
    name: &str,
    attributes: HashMap<QueueAttributeName, String>,
    created: &mut Vec<String>,
) -> anyhow::Result<(String, String)> {
    let url = match client.get_queue_url().queue_name(name).send().await {
        Ok(out) => {
            let url = out
                .queue_url
                .context("GetQueueUrl answered without a URL")?;
            // `CreateQueue` refuses different attributes for an existing queue;
            // setting them converges instead.
            client
                .set_queue_attributes()
                .queue_url(&url)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| sdk(&format!("setting queue {name}'s attributes"), e))?;
            url
        }
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetQueueUrlError::QueueDoesNotExist(_))
            ) =>
        {
            let out = client
                .create_queue()
                .queue_name(name)
                .set_attributes(Some(attributes))
                .send()
                .await
                .map_err(|e| sdk(&format!("creating queue {name}"), e))?;
            created.push(format!("queue {name}"));
            out.queue_url
                .context("CreateQueue answered without a URL")?
        }
        Err(e) => return Err(sdk(&format!("finding queue {name}"), e)),
    };
    let arn = client
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| sdk(&format!("reading queue {name}'s ARN"), e))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .with_context(|| format!("queue {name} has no ARN"))?;
    Ok((url, arn))
}

/// The queue's subscription to the topic, with the filter policy. Raw message
/// delivery is left off (its default) and only switched off when found on: the
/// emulator reads any value given for it, even `"false"`, as on.
async fn subscription(
    client: &aws_sdk_sns::Client,
    topic_arn: &str,
    queue_arn: &str,
    created: &mut Vec<String>,
    updated: &mut Vec<String>,
) -> anyhow::Result<String> {
    let policy = email_filter_policy();
    let mut existing = None;
    let mut pages = client
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| sdk("listing the topic's subscriptions", e))?;
        if let Some(arn) = page
            .subscriptions()
            .iter()
            .find(|s| s.protocol() == Some("sqs") && s.endpoint() == Some(queue_arn))
            .and_then(|s| s.subscription_arn())
        {
            existing = Some(arn.to_string());
            break;
        }
    }
    let Some(arn) = existing.filter(|a| a.starts_with("arn:")) else {
        let out = client
            .subscribe()
            .topic_arn(topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .attributes("FilterPolicy", &policy)
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| sdk("subscribing the email queue to the topic", e))?;
        created.push("subscription email queue → events topic".to_string());
        return out
            .subscription_arn
            .context("Subscribe answered without a subscription ARN");
    };
    let attributes = client
        .get_subscription_attributes()
        .subscription_arn(&arn)
        .send()
        .await
        .map_err(|e| sdk("reading the subscription's attributes", e))?
        .attributes
        .unwrap_or_default();
    let same_policy = attributes
        .get("FilterPolicy")
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        == serde_json::from_str::<serde_json::Value>(&policy).ok();
    if !same_policy {
        client
            .set_subscription_attributes()
            .subscription_arn(&arn)
            .attribute_name("FilterPolicy")
            .attribute_value(&policy)
            .send()
            .await
            .map_err(|e| sdk("setting the subscription's filter policy", e))?;
        updated.push("subscription: filter policy".to_string());
    }
    if attributes
        .get("RawMessageDelivery")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        client
            .set_subscription_attributes()
            .subscription_arn(&arn)
            .attribute_name("RawMessageDelivery")
            .attribute_value("false")
            .send()
            .await
            .map_err(|e| sdk("turning raw message delivery off", e))?;
        updated.push("subscription: raw delivery off".to_string());
    }
    Ok(arn)
}

/// Creates the SES (v2) email identity `identity` unless it exists.
async fn ses_identity(
    config: &aws_config::SdkConfig,
    identity: &str,
    created: &mut Vec<String>,
) -> anyhow::Result<()> {
    use aws_sdk_sesv2::operation::get_email_identity::GetEmailIdentityError;
    let ses = aws_sdk_sesv2::Client::new(config);
    match ses
        .get_email_identity()
        .email_identity(identity)
        .send()
        .await
    {
        Ok(_) => return Ok(()),
        Err(e)
            if matches!(
                e.as_service_error(),
                Some(GetEmailIdentityError::NotFoundException(_))
            ) => {}
        Err(e) => return Err(sdk("looking up the SES identity", e)),
    }
    ses.create_email_identity()
        .email_identity(identity)
        .send()
        .await
        .map_err(|e| sdk("creating the SES identity", e))?;
    created.push(format!("SES identity {identity}"));
    Ok(())
}
