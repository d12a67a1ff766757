//! Sending through Amazon SES v2 with `SendEmail` and raw content: the message is the
//! one [`engage_mail::build_message`] builds for every sender, headers included (SES's
//! simple content would drop `List-Unsubscribe`).

use async_trait::async_trait;
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::operation::send_email::SendEmailError;
use aws_sdk_sesv2::primitives::Blob;
use aws_sdk_sesv2::types::{Destination, EmailContent, RawMessage};
use engage_core::ports::{MailSender, OutgoingEmail, SendError, SendReceipt};
use engage_mail::{build_message, message_id};

#[derive(Debug, Clone, Default)]
pub struct SesSettings {
    /// Unset: the default chain (`AWS_REGION`, the profile, the instance's region).
    pub region: Option<String>,
    /// Another endpoint than AWS's (a local emulator).
    pub endpoint_url: Option<String>,
    /// The configuration set whose event destinations receive bounces, complaints and
    /// deliveries.
    pub configuration_set: Option<String>,
    /// Messages sent at once by `send_many`.
    pub max_concurrency: usize,
}

/// The AWS SDK configuration for `region` and `endpoint_url`, credentials from the
/// default chain (environment, profile, container or instance role).
pub async fn aws_config_for(
    region: Option<&str>,
    endpoint_url: Option<&str>,
) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_string()));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

#[derive(Debug, Clone)]
pub struct SesSender {
    client: aws_sdk_sesv2::Client,
    settings: SesSettings,
}

impl SesSender {
    pub async fn new(settings: SesSettings) -> Self {
        let config =
            aws_config_for(settings.region.as_deref(), settings.endpoint_url.as_deref()).await;
        Self::with_client(aws_sdk_sesv2::Client::new(&config), settings)
    }

    pub fn with_client(client: aws_sdk_sesv2::Client, settings: SesSettings) -> Self {
        Self { client, settings }
    }
}

/// Throttling and service-side trouble are worth another try later; everything else
/// (a rejected message, an unverified sender, a paused account) is the email's end.
fn classify(e: SdkError<SendEmailError>) -> SendError {
    let (code, message) = (
        e.code().unwrap_or("").to_string(),
        e.message().unwrap_or("").to_string(),
    );
    let detail = if code.is_empty() {
        format!("SES: {}", aws_sdk_sesv2::error::DisplayErrorContext(&e))
    } else {
        format!("SES {code}: {message}")
    };
    let transient = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            matches!(
                s.err(),
                SendEmailError::TooManyRequestsException(_)
                    | SendEmailError::LimitExceededException(_)
            ) || matches!(code.as_str(), "Throttling" | "ThrottlingException")
                || message.contains("Maximum sending rate exceeded")
                || s.raw().status().is_server_error()
        }
        _ => false,
    };
    if transient {
        SendError::Transient(detail)
    } else {
        SendError::Permanent(detail)
    }
}

#[async_trait]
impl MailSender for SesSender {
    fn name(&self) -> &'static str {
        "ses"
    }

    /// The account: sending enabled, out of the sandbox or not, the day's quota.
    async fn check(&self) -> Result<serde_json::Value, String> {
        let out = self.client.get_account().send().await.map_err(|e| {
            format!(
                "SES GetAccount: {}",
                aws_sdk_sesv2::error::DisplayErrorContext(e)
            )
        })?;
        let quota = out.send_quota();
        let detail = serde_json::json!({
            "sending_enabled": out.sending_enabled(),
            "production_access": out.production_access_enabled(),
            "max_24_hour_send": quota.map(|q| q.max24_hour_send()),
            "sent_last_24_hours": quota.map(|q| q.sent_last24_hours()),
            "max_send_rate": quota.map(|q| q.max_send_rate()),
        });
        if out.sending_enabled() {
            Ok(detail)
        } else {
            Err(format!("SES sending is paused for this account: {detail}"))
        }
    }

    /// The receipt's `message_id` is our `Message-ID` (SES keeps it in the raw
    /// message; its own id is logged).
    #[tracing::instrument(skip_all, fields(email_id = %email.email.id))]
    async fn send(&self, email: &OutgoingEmail) -> Result<SendReceipt, SendError> {
        let message = build_message(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let ours = message_id(email).map_err(|e| SendError::Permanent(e.to_string()))?;
        let out = self
            .client
            .send_email()
            .from_email_address(&email.from)
            .destination(
                Destination::builder()
                    .to_addresses(email.to.as_str())
                    .build(),
            )
            .content(
                EmailContent::builder()
                    .raw(
                        RawMessage::builder()
                            .data(Blob::new(message.formatted()))
                            .build()
                            .map_err(|e| SendError::Permanent(e.to_string()))?,
                    )
                    .build(),
            )
            .set_configuration_set_name(self.settings.configuration_set.clone())
            .send()
            .await
            .map_err(classify)?;
        tracing::debug!(
            ses_message_id = out.message_id().unwrap_or(""),
            "accepted by SES"
        );
        Ok(SendReceipt { message_id: ours })
    }

    async fn send_many(&self, emails: &[OutgoingEmail]) -> Vec<Result<SendReceipt, SendError>> {
        let permits = tokio::sync::Semaphore::new(self.settings.max_concurrency.max(1));
        let permits = &permits;
        futures_util::future::join_all(emails.iter().map(|e| async move {
            let _turn = permits.acquire().await;
            self.send(e).await
        }))
        .await
    }
}
