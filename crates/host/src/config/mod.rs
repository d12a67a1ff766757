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
mod tests {
    use super::*;
    use std::path::Path;

    /// Loads from a file's text and variables, checking every secret as
    /// [`Config::load`] does (without touching the process's environment).
    fn load_with(
        toml: &str,
        env: &[(&str, &str)],
        overrides: &Overrides,
    ) -> Result<Config, String> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_sources(Some((Path::new("engage.toml"), toml)), env, overrides)
            .and_then(|c| c.require_secrets(Secrets::ALL).map(|()| c))
            .map_err(|e| e.to_string())
    }

    fn load(toml: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        load_with(toml, env, &Overrides::default())
    }

    #[test]
    fn zero_configuration_gives_the_embedded_defaults() {
        let c = load("", &[]).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:8080");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.backend, Backend::Embedded);
        assert_eq!(c.public_url(), "http://127.0.0.1:8080");
        assert_eq!(c.engine.campaigns.len(), 5);
    }

    #[test]
    fn the_file_and_the_environment_set_nested_keys() {
        let c = load(
            "addr = \"127.0.0.1:9000\"\nfrom = \"Studio <hi@example.com>\"\n[policy]\nfrequency_cap = 3\n[scoring]\nchampion_at = 85\n",
            &[
                ("ENGAGE_POLICY__QUIET_START_HOUR", "22"),
                ("ENGAGE_PIPELINE__WORKERS", "2"),
                ("ENGAGE_DATA_DIR", "/tmp/engage-data"),
                ("ENGAGE_LOG_FORMAT", "json"),
            ],
        )
        .unwrap();
        assert_eq!(c.addr.port(), 9000);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/engage-data"));
        assert_eq!(c.engine.from, "Studio <hi@example.com>");
        assert_eq!(c.engine.policy.frequency_cap, 3);
        assert_eq!(c.engine.policy.quiet_start_hour, 22);
        assert_eq!(c.engine.scoring.champion_at, 85);
        assert_eq!(c.pipeline.workers, 2);
    }

    #[test]
    fn an_error_names_the_key_and_the_source_that_set_it() {
        let e = load("", &[("ENGAGE_PIPELINE__WORKERS", "many")]).unwrap_err();
        assert!(
            e.starts_with("configuration: pipeline.workers: invalid type"),
            "{e}"
        );
        assert!(e.ends_with("(set by ENGAGE_PIPELINE__WORKERS)"), "{e}");
        let e = load("", &[("ENGAGE_ADRR", "127.0.0.1:1")]).unwrap_err();
        assert!(
            e.starts_with("configuration: adrr: unknown field `adrr`"),
            "{e}"
        );
        assert!(e.ends_with("(set by ENGAGE_ADRR)"), "{e}");
        let e = load("[pipeline]\nwokers = 2\n", &[]).unwrap_err();
        assert!(
            e.starts_with("configuration: pipeline.wokers: unknown field"),
            "{e}"
        );
        assert!(
            e.ends_with("(set by pipeline.wokers in engage.toml)"),
            "{e}"
        );
        let e = load("[pipeline\n", &[]).unwrap_err();
        assert!(e.starts_with("configuration: engage.toml: "), "{e}");
        let e = load("", &[("ENGAGE_POLICY__FREQUENCY_CAP", "x")]).unwrap_err();
        assert!(
            e.starts_with("configuration: policy.frequency_cap: invalid type"),
            "{e}"
        );
        assert!(e.ends_with("(set by ENGAGE_POLICY__FREQUENCY_CAP)"), "{e}");
        let e = load("", &[("ENGAGE_POLICY____CAP", "1")]).unwrap_err();
        assert!(
            e.contains("ENGAGE_POLICY____CAP is not a configuration key"),
            "{e}"
        );
    }

    #[test]
    fn a_string_setting_keeps_a_variables_text_that_looks_like_a_number() {
        let token = "738205619374025816394720";
        let c = load(
            "",
            &[
                ("ENGAGE_ADMIN_TOKEN", token),
                ("ENGAGE_UNSUBSCRIBE_SECRET", "1234567890123456789"),
                ("ENGAGE_LLM__MODEL", "4"),
            ],
        )
        .unwrap();
        assert_eq!(c.admin_token.as_deref(), Some(token));
        assert_eq!(c.unsubscribe_secret.as_deref(), Some("1234567890123456789"));
        assert_eq!(c.llm.model.as_deref(), Some("4"));
    }

    #[test]
    fn the_environment_overrides_the_file_and_flags_override_both() {
        let file = "addr = \"127.0.0.1:9000\"\n";
        let env = [("ENGAGE_ADDR", "127.0.0.1:9001")];
        assert_eq!(load(file, &[]).unwrap().addr.port(), 9000);
        assert_eq!(load(file, &env).unwrap().addr.port(), 9001);
        let flag = Overrides {
            addr: Some("127.0.0.1:9002".parse().unwrap()),
            ..Overrides::default()
        };
        assert_eq!(load_with(file, &env, &flag).unwrap().addr.port(), 9002);
    }

    #[test]
    fn the_llm_section_chooses_and_configures_the_generator() {
        let c = load(
            "[llm]\ngenerator = \"openai\"\nbase_url = \"http://127.0.0.1:11434/v1\"\nmodel = \"llama3.1\"\nmax_attempts = 2\nrpm = 500\ntpm = 200000\nprice_per_million_input_tokens = 0.2\nprice_per_million_output_tokens = 0.8\ndaily_cost_budget_usd = 5.0\n",
            &[],
        )
        .unwrap();
        let s = c
            .llm
            .openai()
            .unwrap()
            .expect("the OpenAI-compatible generator");
        assert_eq!(
            (s.base_url.as_str(), s.model.as_str(), s.max_attempts),
            ("http://127.0.0.1:11434/v1", "llama3.1", 2)
        );
        assert_eq!((s.rpm, s.tpm), (Some(500), Some(200_000)));
        assert_eq!(s.prices.map(|p| p.output_per_million), Some(0.8));
        assert_eq!(s.daily_cost_budget_usd, Some(5.0));
        assert!(s.moderation.is_none());
        let c = load("[llm]\ngenerator = \"openai\"\nbase_url = \"http://127.0.0.1:8000/v1/\"\nmoderation = true\n", &[]).unwrap();
        let m = c.llm.openai().unwrap().unwrap().moderation.unwrap();
        assert_eq!(
            (m.url.as_str(), m.model.as_str()),
            (
                "http://127.0.0.1:8000/v1/moderations",
                "omni-moderation-latest"
            )
        );
        let c = load("[llm]\ngenerator = \"template\"\n", &[]).unwrap();
        assert!(c.llm.openai().unwrap().is_none());
        for bad in [
            "[llm]\ntimeout_secs = 0\n",
            "[llm]\nmax_attempts = 50\n",
            "[llm]\nbase_url = \"ftp://x\"\n",
            "[llm]\nrpm = 0\n",
            "[llm]\nprice_per_million_input_tokens = 0.15\n",
            "[llm]\ndaily_cost_budget_usd = -1.0\n",
            "[llm]\nmoderation_url = \"localhost/mod\"\n",
        ] {
            let e = load(bad, &[]).unwrap_err();
            assert!(e.contains("llm."), "{bad}: {e}");
        }
        let e = load("[llm]\napi_key = \"sk-in-the-repo\"\n", &[]).unwrap_err();
        assert!(
            e.contains("api_key"),
            "keys come from the environment or a file: {e}"
        );
    }

    #[test]
    fn the_guards_are_configured_in_the_file_or_the_environment() {
        let c = load(
            "[guards]\nbanned_phrases = [\"hurry\"]\n",
            &[(
                "ENGAGE_GUARDS__ALLOWED_LINK_HOSTS",
                "[shop.example.com, help.example.com]",
            )],
        )
        .unwrap();
        assert_eq!(c.engine.guards.banned_phrases, ["hurry"]);
        assert_eq!(
            c.engine.guards.allowed_link_hosts,
            ["shop.example.com", "help.example.com"]
        );
        let e = load("[guards]\nbanned_phrases = [\"hurry\"]\n[[campaigns]]\nname = \"welcome\"\ntrigger = { kind = \"new_client\", within_days = 7 }\ninstructions = \"x\"\ntemplate = { subject = \"Hurry, Sam\", preheader = \"\", body = \"Hello there, welcome to the studio.\" }\n", &[]).unwrap_err();
        assert!(
            e.contains("banned_phrase"),
            "the templates pass the configured guards: {e}"
        );
    }

    #[test]
    fn the_aws_section_loads_the_stacks_variables() {
        let c = load(
            "backend = \"aws\"\n[aws]\nregion = \"eu-west-1\"\nprefix = \"engage-dev\"\n",
            &[
                ("ENGAGE_ADMIN_TOKEN", "3f0c9a7e51d2b84c06e1f7a9"),
                ("ENGAGE_UNSUBSCRIBE_SECRET", "fedcba9876543210"),
                ("ENGAGE_AWS__USERS_TABLE", "Stack-Users-1"),
                ("ENGAGE_AWS__EMAILS_TABLE", "Stack-Emails-1"),
                ("ENGAGE_AWS__LEDGER_TABLE", "Stack-Ledger-1"),
                (
                    "ENGAGE_AWS__EVENTS_TOPIC_ARN",
                    "arn:aws:sns:eu-west-1:1:events",
                ),
                (
                    "ENGAGE_AWS__EMAIL_QUEUE_URL",
                    "https://sqs.eu-west-1.amazonaws.com/1/email",
                ),
                (
                    "ENGAGE_AWS__EMAIL_QUEUE_ARN",
                    "arn:aws:sqs:eu-west-1:1:email",
                ),
                (
                    "ENGAGE_AWS__FEEDBACK_QUEUE_ARN",
                    "arn:aws:sqs:eu-west-1:1:feedback",
                ),
                (
                    "ENGAGE_AWS__OPENAI_API_KEY_SECRET_ARN",
                    "arn:aws:secretsmanager:x",
                ),
                (
                    "ENGAGE_AWS__UNSUBSCRIBE_SECRET_ARN",
                    "arn:aws:secretsmanager:y",
                ),
                (
                    "ENGAGE_AWS__ADMIN_TOKEN_SECRET_ARN",
                    "arn:aws:secretsmanager:z",
                ),
            ],
        )
        .unwrap();
        assert_eq!(c.backend, Backend::Aws);
        assert_eq!(c.aws.region.as_deref(), Some("eu-west-1"));
        #[cfg(feature = "aws")]
        {
            let r = c.aws.resources();
            assert_eq!(r.users_table, "Stack-Users-1");
            assert_eq!(r.emails_table, "Stack-Emails-1");
            assert_eq!(r.ledger_table, "Stack-Ledger-1");
            assert_eq!(r.email_dlq, "engage-dev-email-dlq");
        }
        assert_eq!(
            c.aws.events_topic_arn.as_deref(),
            Some("arn:aws:sns:eu-west-1:1:events")
        );
        let e = load("[aws]\nprefx = \"x\"\n", &[]).unwrap_err();
        assert!(e.contains("prefx"), "{e}");
    }

    #[test]
    fn secrets_are_redacted_when_the_configuration_is_printed() {
        let c = load(
            "",
            &[
                ("ENGAGE_ADMIN_TOKEN", "3f0c9a7e51d2b84c06e1f7a9"),
                ("ENGAGE_UNSUBSCRIBE_SECRET", "fedcba9876543210-key"),
                (
                    "ENGAGE_UNSUBSCRIBE_PREVIOUS_SECRETS",
                    "[old-key-0123456789]",
                ),
            ],
        )
        .unwrap();
        let printed = format!("{c:?}");
        for secret in [
            "3f0c9a7e51d2b84c06e1f7a9",
            "fedcba9876543210-key",
            "old-key-0123456789",
        ] {
            assert!(!printed.contains(secret), "{printed}");
        }
        assert_eq!(c.admin_token.as_deref(), Some("3f0c9a7e51d2b84c06e1f7a9"));
    }

    #[test]
    fn unknown_or_invalid_keys_are_refused_with_their_name() {
        let e = load("[policy]\nfrequency_kap = 3\n", &[]).unwrap_err();
        assert!(e.contains("frequency_kap"), "{e}");
        let e = load("addr = \"nowhere\"\n", &[]).unwrap_err();
        assert!(e.contains("addr"), "{e}");
        let e = load("[scoring]\nengaged_at = 90\n", &[]).unwrap_err();
        assert!(e.contains("thresholds"), "{e}");
        let e = load("", &[("ENGAGE_ADRR", "127.0.0.1:1")]).unwrap_err();
        assert!(e.contains("adrr"), "{e}");
        let e = load("backend = \"aws\"\n", &[]).unwrap_err();
        assert!(e.contains("admin_token"), "{e}");
        let e = load(
            "backend = \"aws\"\nadmin_token = \"3f0c9a7e51d2b84c06e1f7a9\"\n",
            &[],
        )
        .unwrap_err();
        assert!(e.contains("unsubscribe_secret"), "{e}");
        let e = load("", &[("ENGAGE_ADMIN_TOKEN", "0123456789abcdef")]).unwrap_err();
        assert!(
            e.contains("admin_token") && e.contains("too easy to guess"),
            "{e}"
        );
        let e = load("[pipeline]\nbatch_size = 0\n", &[]).unwrap_err();
        assert!(e.contains("pipeline.batch_size"), "{e}");
        let e = load("", &[("ENGAGE_PIPELINE__WORKERS", "0")]).unwrap_err();
        assert!(e.contains("pipeline.workers"), "{e}");
        let broken = "[[campaigns]]\nname = \"welcome\"\ntrigger = { kind = \"new_client\", within_days = 7 }\ninstructions = \"x\"\ntemplate = { subject = \"Hi {nmae}\", preheader = \"\", body = \"Hello there, welcome to the studio.\" }\n";
        let e = load(broken, &[]).unwrap_err();
        assert!(e.contains("welcome") && e.contains("{nmae}"), "{e}");
    }

    #[test]
    fn the_annotated_example_in_the_operations_docs_loads() {
        let doc = include_str!("../../../../docs/operations.md");
        let start = doc.find("```toml\n").expect("a toml block") + 8;
        let end = start + doc[start..].find("```").expect("its end");
        let c = load(&doc[start..end], &[]).unwrap();
        assert_eq!(c.public_url(), "https://engage.example.com");
        assert_eq!(c.engine.campaigns.len(), 1);
        assert_eq!(c.engine.campaigns[0].cooldown_days, None);
        assert_eq!((c.pipeline.workers, c.pipeline.batch_size), (8, 100));
    }
}
