//! Configuration: embedded defaults, then `engage.toml` (or the file named by
//! `ENGAGE_CONFIG`), then the environment (`ENGAGE_*`, nested keys with `__`, e.g.
//! `ENGAGE_POLICY__FREQUENCY_CAP=3`), then command-line flags ([`sources`] reads and
//! merges them).

use engage_core::config::EngineConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

mod aws;
mod llm;
mod mail;
mod redacted;
mod sources;
pub use aws::AwsConfig;
pub use llm::{GeneratorKind, LlmConfig};
pub use mail::{FeedbackConfig, MailConfig, SenderKind, SesConfig, SmtpConfig};
pub use redacted::{MIN_TOKEN_BITS, Redacted, estimated_bits};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Embedded,
    Aws,
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "embedded" => Ok(Self::Embedded),
            "aws" => Ok(Self::Aws),
            other => Err(format!("unknown backend `{other}`: `embedded` or `aws`")),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DurabilitySetting {
    /// Every commit reaches the disk before it is acknowledged (`synchronous=FULL`).
    Full,
    /// Commits survive a process crash but not a power cut (`synchronous=NORMAL`).
    Normal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// Start the tailer, workers and scheduler with the server. Tests turn it off to
    /// drive the pipeline step by step.
    pub autostart: bool,
    /// Email workers; each processes one batch of messages at a time.
    pub workers: usize,
    /// Messages a worker receives and processes together (at most 10,000).
    pub batch_size: u32,
    pub visibility_timeout_secs: u64,
    pub max_receives: u32,
    pub scheduler_interval_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            autostart: true,
            workers: 8,
            batch_size: 100,
            visibility_timeout_secs: 60,
            max_receives: 5,
            scheduler_interval_secs: 60,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    /// Accepted as an admin API token in addition to the stored one.
    pub admin_token: Option<Redacted>,
    /// Base of links in emails; defaults to `http://{addr}`.
    pub public_url: Option<String>,
    pub backend: Backend,
    /// Key for unsubscribe tokens; created and kept in the data directory when unset.
    pub unsubscribe_secret: Option<Redacted>,
    /// Earlier keys, whose links still work after a rotation; drop one to revoke the
    /// links it signed.
    pub unsubscribe_previous_secrets: Vec<Redacted>,
    pub durability: DurabilitySetting,
    pub pipeline: PipelineConfig,
    pub llm: LlmConfig,
    pub mail: MailConfig,
    pub feedback: FeedbackConfig,
    /// Where the AWS backend's resources are (`backend = "aws"`).
    pub aws: AwsConfig,
    #[serde(flatten)]
    pub engine: EngineConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".parse().expect("a valid address"),
            data_dir: PathBuf::from("./data"),
            admin_token: None,
            public_url: None,
            backend: Backend::Embedded,
            unsubscribe_secret: None,
            unsubscribe_previous_secrets: Vec::new(),
            durability: DurabilitySetting::Full,
            pipeline: PipelineConfig::default(),
            llm: LlmConfig::default(),
            mail: MailConfig::default(),
            feedback: FeedbackConfig::default(),
            aws: AwsConfig::default(),
            engine: EngineConfig::default(),
        }
    }
}

/// The secrets a process on the AWS backend needs ([`Config::require_secrets`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secrets {
    /// Bearer tokens of the API (`engage serve`, the `api` function).
    pub admin_token: bool,
    /// The key of unsubscribe links (whatever signs or checks them).
    pub unsubscribe_secret: bool,
}

impl Secrets {
    /// What `engage serve` uses: the API's tokens, and the key that signs links.
    pub const ALL: Secrets = Secrets {
        admin_token: true,
        unsubscribe_secret: true,
    };
    /// A command that neither serves the API nor signs links (`engage aws init`).
    pub const NONE: Secrets = Secrets {
        admin_token: false,
        unsubscribe_secret: false,
    };
    /// A command that signs links but serves no API (`engage resend`).
    pub const LINKS: Secrets = Secrets {
        admin_token: false,
        unsubscribe_secret: true,
    };
}

/// Flags that override every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub backend: Option<Backend>,
}

impl Config {
    /// Reads the configuration from its sources, with every secret `engage serve`
    /// needs; `Err` names the bad key.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        Self::load_for(overrides, Secrets::ALL)
    }

    /// As [`Config::load`], checking only the secrets `needed`: each command checks
    /// only what it uses.
    pub fn load_for(overrides: &Overrides, needed: Secrets) -> anyhow::Result<Self> {
        let config = Self::load_settings(overrides)?;
        config.require_secrets(needed)?;
        Ok(config)
    }

    /// As [`Config::load`], without requiring the AWS backend's secrets: for a
    /// process that reads them from elsewhere (a Lambda function, from Secrets
    /// Manager) and then checks the ones it uses with [`Config::require_secrets`].
    pub fn load_settings(overrides: &Overrides) -> anyhow::Result<Self> {
        Self::from_process(overrides)
    }

    /// Every check: the settings, and on the AWS backend both secrets.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.validate_settings()?;
        self.require_secrets(Secrets::ALL)
    }

    /// On the AWS backend, the secrets `needed` must be set: there is no data
    /// directory to create and keep them in. The embedded backend needs none.
    pub fn require_secrets(&self, needed: Secrets) -> anyhow::Result<()> {
        if self.backend != Backend::Aws {
            return Ok(());
        }
        if needed.admin_token && self.admin_token.as_ref().is_none_or(|t| t.len() < 16) {
            anyhow::bail!(
                "configuration: backend `aws` needs admin_token (ENGAGE_ADMIN_TOKEN, at least 16 characters)"
            );
        }
        if needed.unsubscribe_secret
            && self
                .unsubscribe_secret
                .as_ref()
                .is_none_or(|s| s.len() < 16)
        {
            anyhow::bail!(
                "configuration: backend `aws` needs unsubscribe_secret (ENGAGE_UNSUBSCRIBE_SECRET, at least 16 characters)"
            );
        }
        Ok(())
    }

    /// Every check but the secrets'.
    pub fn validate_settings(&self) -> anyhow::Result<()> {
        if let Some(t) = &self.admin_token
            && estimated_bits(t) < MIN_TOKEN_BITS
        {
            anyhow::bail!(
                "configuration: admin_token (ENGAGE_ADMIN_TOKEN) is too easy to guess (about {:.0} bits, want at least {MIN_TOKEN_BITS:.0}): use a random one, e.g. `openssl rand -hex 24`",
                estimated_bits(t)
            );
        }
        self.engine
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        self.check_templates()?;
        self.llm.validate()?;
        self.mail.validate()?;
        if self
            .unsubscribe_previous_secrets
            .iter()
            .any(|s| s.len() < 16)
        {
            anyhow::bail!(
                "configuration: unsubscribe_previous_secrets must each be at least 16 characters"
            );
        }
        let p = &self.pipeline;
        if p.workers == 0 || p.workers > 256 {
            anyhow::bail!(
                "configuration: pipeline.workers must be 1 to 256, not {}",
                p.workers
            );
        }
        if p.batch_size == 0 || p.batch_size > 10_000 {
            anyhow::bail!(
                "configuration: pipeline.batch_size must be 1 to 10000, not {}",
                p.batch_size
            );
        }
        self.aws.validate()
    }

    /// Renders every campaign's template for a sample client and runs the content
    /// guards, so a broken template stops the start instead of every send.
    fn check_templates(&self) -> anyhow::Result<()> {
        use engage_core::compose::ComposeRequest;
        use engage_core::score::{Drivers, Tier};
        for campaign in &self.engine.campaigns {
            let sample = ComposeRequest {
                campaign: campaign.clone(),
                first_name: "Sam".into(),
                preferences: vec!["minimal".into()],
                tier: Tier::AtRisk,
                score: 50,
                drivers: Drivers {
                    days_since_last_fix: Some(40),
                    days_since_last_activity: Some(30),
                    ..Drivers::default()
                },
            };
            self.engine
                .guards
                .check(&engage_llm::render_template(&sample))
                .map_err(|g| {
                    anyhow::anyhow!(
                        "configuration: the template of campaign `{}` fails a guard: {g}",
                        campaign.name
                    )
                })?;
        }
        Ok(())
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }
}

#[cfg(test)]
mod tests;
