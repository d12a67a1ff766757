//! `/health` on AWS: the Users table (DescribeTable), the email queue and its DLQ
//! (GetQueueAttributes), the generator and the sender.

use crate::backend::{AwsBackend, EmailQueue};
use async_trait::async_trait;
use engage_core::ports::{DependencyHealth, HealthCheck, HealthStatus};
use engage_mail::MailCheck;
use serde_json::json;
use std::time::Instant;

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
    mail: MailCheck,
    feedback: Option<DependencyHealth>,
}

impl AwsHealth {
    /// The checks of `backend` and its `queue`, with the sender's (`mail`) and, when
    /// feedback is on, the intake's entry.
    pub fn new(
        backend: &AwsBackend,
        queue: &EmailQueue,
        generator: String,
        mail: MailCheck,
        feedback: Option<DependencyHealth>,
    ) -> Self {
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(&backend.sdk),
            sqs: aws_sdk_sqs::Client::new(&backend.sdk),
            users_table: backend.resources.users_table.clone(),
            queue_url: queue.queue.url().to_string(),
            dlq_url: queue.dlq_url.clone(),
            generator,
            mail,
            feedback,
        }
    }

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
            Ok(_) => out.push(DependencyHealth::new(
                "database",
                HealthStatus::Up,
                json!({"kind": "dynamodb", "latency_ms": started.elapsed().as_secs_f64() * 1000.0}),
            )),
            Err(e) => {
                tracing::error!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "health: DescribeTable failed");
                out.push(DependencyHealth::new(
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
                out.push(DependencyHealth::new(
                    "email_queue",
                    status,
                    json!({"kind": "sqs", "messages": q, "dead_letters": dead}),
                ));
            }
            None => out.push(DependencyHealth::new(
                "email_queue",
                HealthStatus::Down,
                json!({"kind": "sqs"}),
            )),
        }
        out.push(DependencyHealth::new(
            "generator",
            HealthStatus::Up,
            json!({"active": self.generator}),
        ));
        out.push(self.mail.entry().await);
        out.extend(self.feedback.clone());
        out
    }
}
