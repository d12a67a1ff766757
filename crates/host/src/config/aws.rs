//! `[aws]`: where the AWS backend's resources are (`backend = "aws"`). The names
//! default to `Resources::with_prefix(prefix)`; the CDK stack passes the names it
//! created explicitly (`ENGAGE_AWS__USERS_TABLE`, …), which win over the prefix.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AwsConfig {
    /// Unset: the SDK's default chain (`AWS_REGION`, the profile, the instance's).
    pub region: Option<String>,
    /// Another endpoint than AWS's (an emulator). Unset: AWS, or the SDK's own
    /// `AWS_ENDPOINT_URL` when that is set.
    pub endpoint_url: Option<String>,
    /// The resources' name prefix (a stage): `{prefix}-users`, `{prefix}-email`, ….
    pub prefix: String,
    /// Explicit resource names, each overriding the prefix's.
    pub users_table: Option<String>,
    pub emails_table: Option<String>,
    pub ledger_table: Option<String>,
    /// Unset: the topic `{prefix}-events`, found by name.
    pub events_topic_arn: Option<String>,
    /// Unset: the queue `{prefix}-email`, found by name.
    pub email_queue_url: Option<String>,
    /// The email queue's dead-letter queue (operators' `/api/v1/dead-letters`).
    /// Unset: the one the email queue's redrive policy names, looked up at start.
    pub email_dlq_url: Option<String>,
    /// Used by the Lambda functions (their event source mappings and secrets); the
    /// server accepts them so the stack's environment loads, and ignores them.
    pub email_queue_arn: Option<String>,
    /// Used by the Lambda functions; ignored by the server.
    pub feedback_queue_arn: Option<String>,
    /// Used by the Lambda functions; ignored by the server.
    pub openai_api_key_secret_arn: Option<String>,
    /// Used by the Lambda functions; ignored by the server.
    pub unsubscribe_secret_arn: Option<String>,
    /// Used by the Lambda functions; ignored by the server.
    pub admin_token_secret_arn: Option<String>,
    /// The secret CloudFront sends as `X-Origin-Verify`; the `api` function refuses
    /// requests without it (the execute-api address is not a way around CloudFront).
    pub origin_secret_arn: Option<String>,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            prefix: "engage".into(),
            users_table: None,
            emails_table: None,
            ledger_table: None,
            events_topic_arn: None,
            email_queue_url: None,
            email_dlq_url: None,
            email_queue_arn: None,
            feedback_queue_arn: None,
            openai_api_key_secret_arn: None,
            unsubscribe_secret_arn: None,
            admin_token_secret_arn: None,
            origin_secret_arn: None,
        }
    }
}

impl AwsConfig {
    /// The resources' names: the prefix's, with the explicit ones in their place.
    #[cfg(feature = "aws")]
    pub fn resources(&self) -> engage_aws::tables::Resources {
        let mut r = engage_aws::tables::Resources::with_prefix(&self.prefix);
        if let Some(t) = &self.users_table {
            r.users_table = t.clone();
        }
        if let Some(t) = &self.emails_table {
            r.emails_table = t.clone();
        }
        if let Some(t) = &self.ledger_table {
            r.ledger_table = t.clone();
        }
        r
    }

    /// The SDK configuration: the region and endpoint as configured, credentials from
    /// the default chain.
    #[cfg(feature = "aws")]
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        engage_aws::aws_config_for(self.region.as_deref(), self.endpoint_url.as_deref()).await
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.prefix.is_empty()
            || !self
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            anyhow::bail!(
                "configuration: aws.prefix must be letters, digits, `-` or `_`, not {:?}",
                self.prefix
            );
        }
        Ok(())
    }
}
