//! Configuration: embedded defaults, then `engage.toml` (or the file named by
//! `ENGAGE_CONFIG`), then the environment (`ENGAGE_*`, nested keys with `__`, e.g.
//! `ENGAGE_POLICY__FREQUENCY_CAP=3`), then command-line flags.

use engage_core::config::EngineConfig;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Embedded,
    Aws,
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
    pub workers: usize,
    pub visibility_timeout_secs: u64,
    pub max_receives: u32,
    pub scheduler_interval_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            autostart: true,
            workers: 4,
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
    pub admin_token: Option<String>,
    /// Base of links in emails; defaults to `http://{addr}`.
    pub public_url: Option<String>,
    pub backend: Backend,
    /// Key for unsubscribe tokens; created and kept in the data directory when unset.
    pub unsubscribe_secret: Option<String>,
    pub durability: DurabilitySetting,
    pub pipeline: PipelineConfig,
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
            durability: DurabilitySetting::Full,
            pipeline: PipelineConfig::default(),
            engine: EngineConfig::default(),
        }
    }
}

/// Flags that override every other source.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub addr: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub backend: Option<Backend>,
}

impl Config {
    /// Reads the configuration from its sources; `Err` names the bad key.
    pub fn load(overrides: &Overrides) -> anyhow::Result<Self> {
        let file = std::env::var_os("ENGAGE_CONFIG")
            .map(PathBuf::from)
            .unwrap_or_else(|| "engage.toml".into());
        if std::env::var_os("ENGAGE_CONFIG").is_some() && !file.exists() {
            anyhow::bail!(
                "ENGAGE_CONFIG names {}, which does not exist",
                file.display()
            );
        }
        let mut fig = Figment::from(Serialized::defaults(Config::default()))
            .merge(Toml::file(&file))
            .merge(Env::prefixed("ENGAGE_").split("__").ignore(&["config"]));
        if let Some(a) = overrides.addr {
            fig = fig.merge(Serialized::default("addr", a));
        }
        if let Some(d) = &overrides.data_dir {
            fig = fig.merge(Serialized::default("data_dir", d));
        }
        if let Some(b) = overrides.backend {
            fig = fig.merge(Serialized::default("backend", b));
        }
        let config: Config = fig
            .extract()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        self.engine
            .validate()
            .map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
        if self.backend == Backend::Aws {
            anyhow::bail!(
                "configuration: backend `aws` is not available in this build yet; use `embedded`"
            );
        }
        Ok(())
    }

    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }
}
