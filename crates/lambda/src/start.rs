//! What the three binaries do once, at a cold start: logging, the configuration, the
//! secrets and the AWS clients. Each `main` then serves its events with what this
//! built, for the life of the execution environment.
//!
//! The configuration is engage's own ([`Config::load`]: `engage.toml` if bundled, then
//! the `ENGAGE_*` variables the CDK stack sets). The stack passes the secrets as ARNs
//! (`ENGAGE_AWS__ADMIN_TOKEN_SECRET_ARN`, `…__UNSUBSCRIBE_SECRET_ARN`,
//! `…__OPENAI_API_KEY_SECRET_ARN`); [`load`] reads the ones a function needs from
//! Secrets Manager, all at once, before anything is built. A value already in the
//! environment (`ENGAGE_ADMIN_TOKEN`, `ENGAGE_UNSUBSCRIBE_SECRET`, `OPENAI_API_KEY`)
//! wins over its ARN, so a function runs without Secrets Manager too.

use anyhow::Context as _;
use aws_config::SdkConfig;
use engage_aws::SnsPublisher;
use engage_core::clock::SystemClock;
use engage_core::ports::FeedbackIntake;
use engage_core::processor::Engine;
use engage_host::config::{Backend, Config, Overrides, Secrets};
use std::sync::Arc;

/// The secrets a function reads at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    AdminToken,
    UnsubscribeKey,
    OpenAiKey,
    /// The value CloudFront sends as `X-Origin-Verify` (the `api` function only).
    OriginSecret,
}

/// The configuration with its secrets, and the SDK configuration.
pub struct Started {
    pub config: Config,
    pub sdk: SdkConfig,
    /// The origin secret, when [`Secret::OriginSecret`] was asked for and is
    /// configured (`ENGAGE_AWS__ORIGIN_SECRET_ARN`, or `ENGAGE_ORIGIN_SECRET` for a
    /// function run without Secrets Manager).
    pub origin_secret: Option<String>,
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Started")
            .field("config", &self.config)
            .field(
                "origin_secret",
                &self.origin_secret.as_ref().map(|_| "<redacted>"),
            )
            .finish_non_exhaustive()
    }
}

/// JSON lines on stderr (CloudWatch Logs keeps them), filtered by `RUST_LOG`
/// (default `info`). Written from the calling thread, not a background one: Lambda
/// freezes the process as soon as a response is posted, and a line still in a
/// writer thread's buffer would only appear at the next invocation.
pub fn logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_current_span(false)
        .try_init();
}

/// Loads the configuration, reads `secrets` (those not already set) and checks the
/// result as `engage serve --backend aws` would.
pub async fn load(secrets: &[Secret]) -> anyhow::Result<Started> {
    // The secrets are checked once read from Secrets Manager, below.
    let mut config = Config::load_settings(&Overrides {
        backend: Some(Backend::Aws),
        ..Overrides::default()
    })?;
    let sdk = config.aws.sdk_config().await;
    let wanted = |s: Secret| secrets.contains(&s);
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let read = |arn: Option<String>, what: &'static str| {
        let client = client.clone();
        async move {
            match arn {
                Some(arn) => secret_value(&client, &arn)
                    .await
                    .with_context(|| format!("reading the {what} from Secrets Manager"))
                    .map(Some),
                None => Ok(None),
            }
        }
    };
    let aws = &config.aws;
    let admin_arn = aws
        .admin_token_secret_arn
        .clone()
        .filter(|_| wanted(Secret::AdminToken) && config.admin_token.is_none());
    let unsubscribe_arn = aws
        .unsubscribe_secret_arn
        .clone()
        .filter(|_| wanted(Secret::UnsubscribeKey) && config.unsubscribe_secret.is_none());
    let openai_arn = aws.openai_api_key_secret_arn.clone().filter(|_| {
        wanted(Secret::OpenAiKey)
            && config.llm.api_key_file.is_none()
            && std::env::var("OPENAI_API_KEY").map_or(true, |v| v.trim().is_empty())
    });
    let origin_env = std::env::var("ENGAGE_ORIGIN_SECRET")
        .ok()
        .filter(|v| !v.trim().is_empty());
    let origin_arn = aws
        .origin_secret_arn
        .clone()
        .filter(|_| wanted(Secret::OriginSecret) && origin_env.is_none());
    let (admin, unsubscribe, openai, origin) = tokio::try_join!(
        read(admin_arn, "admin token"),
        read(unsubscribe_arn, "unsubscribe key"),
        read(openai_arn, "OpenAI API key"),
        read(origin_arn, "origin secret"),
    )?;
    let origin_secret = origin
        .or(origin_env)
        .filter(|_| wanted(Secret::OriginSecret));
    if admin.is_some() {
        config.admin_token = admin.map(Into::into);
    }
    if unsubscribe.is_some() {
        config.unsubscribe_secret = unsubscribe.map(Into::into);
    }
    if let Some(key) = openai {
        // The LLM settings read the key from `OPENAI_API_KEY` or `llm.api_key_file`;
        // changing the process's environment is unsafe, so the key goes to a file only
        // this process's user can read, in the function's private /tmp.
        config.llm.api_key_file = Some(write_private(
            &std::env::temp_dir().join("engage-openai-api-key"),
            &key,
        )?);
    }
    // Only what this function uses: the stream function is granted neither secret,
    // the mailer only the unsubscribe key.
    config.require_secrets(Secrets {
        admin_token: wanted(Secret::AdminToken),
        unsubscribe_secret: wanted(Secret::UnsubscribeKey),
    })?;
    Ok(Started {
        config,
        sdk,
        origin_secret,
    })
}

async fn secret_value(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> anyhow::Result<String> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!("{}", aws_sdk_secretsmanager::error::DisplayErrorContext(e))
        })?;
    out.secret_string
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .with_context(|| format!("the secret {arn} has no string value"))
}

fn write_private(path: &std::path::Path, value: &str) -> anyhow::Result<std::path::PathBuf> {
    use std::io::Write as _;
    let _ = std::fs::remove_file(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(value.as_bytes())?;
    Ok(path.to_path_buf())
}

/// The events topic's publisher (`aws.events_topic_arn`, else found by name).
pub async fn publisher(started: &Started) -> anyhow::Result<Arc<SnsPublisher>> {
    let at = engage_host::aws::locations(&started.config);
    Ok(Arc::new(
        engage_aws::backend::events_publisher(&started.sdk, &at).await?,
    ))
}

/// The mailer's engine: the AWS backend's stores and publisher, the configured
/// generator and sender, as `engage serve --backend aws` builds them, without the
/// email queue and the API's state (whose dead-letter queue lookup would cost two
/// round trips at every cold start and needs grants the mailer does not have).
pub async fn engine(started: &Started) -> anyhow::Result<Engine> {
    let at = engage_host::aws::locations(&started.config);
    let backend = engage_aws::AwsBackend::connect(started.sdk.clone(), &at).await?;
    engage_host::aws::engine(&started.config, &backend, Arc::new(SystemClock)).await
}

/// The feedback intake (SES notifications), when feedback is on.
pub fn feedback(started: &Started) -> anyhow::Result<Option<Arc<dyn FeedbackIntake>>> {
    engage_host::wiring::feedback(&started.config)
}
