//! Building the engine's parts from the configuration: the sender, the generator,
//! the links, the engine's settings and the feedback intake. Both hosts build their
//! engine from these (the `engage` binary's embedded backend and `engage resend`,
//! the AWS backend under `engage serve` and the Lambda functions).

use crate::config::{Config, SenderKind};
use anyhow::Context as _;
use engage_core::clock::Clock;
use engage_core::config::EngineConfig;
use engage_core::ports::{ContentGenerator, FeedbackIntake, MailSender, SpendTally};
use engage_core::unsubscribe::UnsubscribeLinks;
use engage_llm::OpenAiGenerator;
use engage_mail::{OutboxSender, SmtpSender, Throttled};
use std::sync::Arc;
use std::time::Duration;

/// The configured sender, held to `mail.max_send_rate` when one is set.
pub async fn sender(config: &Config) -> anyhow::Result<Arc<dyn MailSender>> {
    let m = &config.mail;
    let sender: Arc<dyn MailSender> = match m.sender {
        SenderKind::Outbox => Arc::new(
            OutboxSender::new(config.data_dir.join("outbox")).context("creating the outbox")?,
        ),
        SenderKind::Smtp => {
            let settings = m.smtp_settings()?;
            tracing::info!(relay = %settings.relay(), security = %settings.security, "emails go out through SMTP");
            Arc::new(SmtpSender::new(settings).context("configuring the SMTP sender")?)
        }
        #[cfg(not(feature = "aws"))]
        SenderKind::Ses => return Err(crate::aws_not_built("mail.sender = \"ses\"")),
        #[cfg(feature = "aws")]
        SenderKind::Ses => {
            let ses = engage_aws::SesSender::new(engage_aws::SesSettings {
                region: m.ses.region.clone(),
                endpoint_url: m.ses.endpoint_url.clone(),
                configuration_set: m.ses.configuration_set.clone(),
                max_concurrency: m.ses.max_concurrency,
            })
            .await;
            tracing::info!("emails go out through Amazon SES");
            Arc::new(ses)
        }
    };
    Ok(match m.max_send_rate {
        Some(rate) => Arc::new(Throttled::new(sender, rate)),
        None => sender,
    })
}

/// What one process's store says a model already spent (the embedded backend's
/// emails), read only when a model is configured.
#[async_trait::async_trait]
pub trait SpentSince: Send + Sync {
    /// The tokens and dollars of the emails a model wrote since `since`.
    async fn spent_since(&self, since: chrono::DateTime<chrono::Utc>)
    -> anyhow::Result<(u64, f64)>;
}

/// Where a model's daily budget is counted besides the process itself.
#[derive(Clone, Copy)]
pub enum Spending<'a> {
    /// One process: what its store says was spent since midnight UTC.
    Local(&'a dyn SpentSince),
    /// Many processes (the AWS backend): the day's spending is `tally`, shared.
    Shared(&'a Arc<dyn SpendTally>),
}

impl std::fmt::Debug for Spending<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local(_) => "Spending::Local",
            Self::Shared(_) => "Spending::Shared",
        })
    }
}

/// The configured generator: the template, or a model whose daily budget counts what
/// was already spent today (`spending`).
pub async fn generator(
    config: &Config,
    spending: Spending<'_>,
    clock: &Arc<dyn Clock>,
    template: &Arc<dyn ContentGenerator>,
) -> anyhow::Result<Arc<dyn ContentGenerator>> {
    Ok(match config.llm.openai()? {
        Some(settings) => {
            tracing::info!(base_url = %settings.base_url, model = %settings.model, "emails are written by an LLM");
            let llm = OpenAiGenerator::new(settings).context("building the LLM client")?;
            match spending {
                Spending::Local(store) => {
                    let midnight = clock
                        .now()
                        .date_naive()
                        .and_time(chrono::NaiveTime::MIN)
                        .and_utc();
                    let (tokens, usd) = store.spent_since(midnight).await?;
                    llm.spent_earlier_today(tokens, usd);
                    Arc::new(llm)
                }
                Spending::Shared(tally) => Arc::new(
                    llm.with_tally(tally.clone())
                        .await
                        .context("reading the day's shared LLM spending")?,
                ),
            }
        }
        None => template.clone(),
    })
}

/// Why feedback is on but takes nothing in: no topic is listed (any AWS account can
/// make a topic and sign for it, so "any topic" is for tests only).
pub const NO_FEEDBACK_TOPIC: &str = "feedback is on but feedback.sns_topic_arns lists no topic, so POST /webhooks/ses refuses every notification (403): list the SES feedback topic's ARN";

/// `POST /webhooks/ses`'s intake, when feedback is on (by default with the SES sender).
pub fn feedback(config: &Config) -> anyhow::Result<Option<Arc<dyn FeedbackIntake>>> {
    let f = &config.feedback;
    if !f.enabled.unwrap_or(config.mail.sender == SenderKind::Ses) {
        return Ok(None);
    }
    if f.sns_topic_arns.is_empty() && !f.allow_any_topic {
        tracing::warn!("{NO_FEEDBACK_TOPIC}");
        return Ok(Some(Arc::new(RefusingIntake)));
    }
    let verifier = engage_feedback::Verifier::new(engage_feedback::VerifierConfig {
        allowed_topic_arns: f.sns_topic_arns.clone(),
        allow_any_topic: f.allow_any_topic,
        max_age: Duration::from_secs(f.max_age_secs),
        ..engage_feedback::VerifierConfig::default()
    })
    .context("building the SNS verifier")?;
    Ok(Some(Arc::new(engage_feedback::SesIntake::new(verifier))))
}

/// The health entry of the feedback intake: none when feedback is off; `degraded`,
/// with the reason, when it refuses everything for want of a topic.
pub fn feedback_health(config: &Config) -> Option<engage_core::ports::DependencyHealth> {
    use engage_core::ports::{DependencyHealth, HealthStatus};
    let f = &config.feedback;
    if !f.enabled.unwrap_or(config.mail.sender == SenderKind::Ses) {
        return None;
    }
    let refusing = f.sns_topic_arns.is_empty() && !f.allow_any_topic;
    Some(DependencyHealth {
        name: "feedback".into(),
        status: if refusing {
            HealthStatus::Degraded
        } else {
            HealthStatus::Up
        },
        detail: if refusing {
            serde_json::json!({"error": NO_FEEDBACK_TOPIC})
        } else {
            serde_json::json!({"topics": f.sns_topic_arns.len(), "any_topic": f.allow_any_topic})
        },
    })
}

/// Feedback on, and no topic to take it from: every notification is refused.
#[derive(Debug)]
struct RefusingIntake;

#[async_trait::async_trait]
impl FeedbackIntake for RefusingIntake {
    async fn read(
        &self,
        _body: &str,
    ) -> Result<engage_core::ports::Intake, engage_core::ports::IntakeError> {
        Err(engage_core::ports::IntakeError::Refused(
            NO_FEEDBACK_TOPIC.into(),
        ))
    }
}

/// The unsubscribe links, signed with `secret` (and accepting the previous keys').
pub fn links(config: &Config, secret: &[u8]) -> UnsubscribeLinks {
    UnsubscribeLinks::new(&config.public_url(), secret)
        .with_mailbox(config.mail.unsubscribe_mailbox.clone())
        .with_previous_keys(
            config
                .unsubscribe_previous_secrets
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect(),
        )
}

/// The engine's settings: the configured ones, with links to engage's own public
/// address always allowed in content.
pub fn engine_config(config: &Config) -> EngineConfig {
    let mut engine = config.engine.clone();
    if let Some(host) = reqwest::Url::parse(&config.public_url())
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
    {
        engine.guards.allow_host(&host);
    }
    engine
}
