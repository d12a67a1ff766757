//! The `[mail]` section (which sender delivers the emails, and how fast) and the
//! `[feedback]` section (the provider's reports). See docs/delivery.md.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which sender delivers the emails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderKind {
    /// Files in the data directory's `outbox/` (nothing leaves the machine).
    Outbox,
    /// An SMTP relay.
    Smtp,
    /// Amazon SES v2.
    Ses,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    pub sender: SenderKind,
    /// Emails per second handed to the provider (its sending quota); unset: as fast
    /// as the sender goes.
    pub max_send_rate: Option<f64>,
    /// A mailbox someone reads, offered in `List-Unsubscribe` as `mailto:` beside the
    /// one-click link. Unset (the default): the link only, since a request mailed to
    /// an address nobody reads is an unsubscribe ignored.
    pub unsubscribe_mailbox: Option<String>,
    pub smtp: SmtpConfig,
    pub ses: SesConfig,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            sender: SenderKind::Outbox,
            max_send_rate: None,
            unsubscribe_mailbox: None,
            smtp: SmtpConfig::default(),
            ses: SesConfig::default(),
        }
    }
}

/// The SMTP relay. The password never comes from the configuration file: from
/// `SMTP_PASSWORD`, or the file `password_file` names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Unset: the security's usual port (25, 587 or 465).
    pub port: Option<u16>,
    /// `starttls` (required, never a fallback to plain text), `tls` (implicit), or
    /// `none` (a relay on this host only).
    pub security: String,
    pub username: Option<String>,
    pub password_file: Option<PathBuf>,
    /// Connections kept open, and messages in flight at once. Each carries about 20
    /// emails/s with lettre 0.11.23 (Nagle; see docs/delivery.md): at least
    /// `max_send_rate / 20`.
    pub pool_size: u32,
    pub timeout_secs: u64,
    /// A PEM certificate to trust besides the public roots (a private relay's CA).
    pub ca_file: Option<PathBuf>,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: None,
            security: "starttls".into(),
            username: None,
            password_file: None,
            pool_size: 16,
            timeout_secs: 30,
            ca_file: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SesConfig {
    /// Unset: `AWS_REGION` and the default chain.
    pub region: Option<String>,
    /// Another endpoint than AWS's (an emulator).
    pub endpoint_url: Option<String>,
    /// The configuration set whose event destination publishes bounces, complaints
    /// and deliveries.
    pub configuration_set: Option<String>,
    pub max_concurrency: usize,
}

impl Default for SesConfig {
    fn default() -> Self {
        Self {
            region: None,
            endpoint_url: None,
            configuration_set: None,
            max_concurrency: 8,
        }
    }
}

/// `POST /webhooks/ses`: SES notifications delivered by SNS.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedbackConfig {
    /// Take in notifications at `/webhooks/ses`. Unset: when the sender is `ses`.
    pub enabled: Option<bool>,
    /// The SNS topics notifications may come from; a subscription is confirmed only
    /// for these. Empty: none — the webhook refuses every notification (403) and
    /// `/health` says why.
    pub sns_topic_arns: Vec<String>,
    /// Accept a verified notification from any topic. For tests only: any AWS
    /// account can create a topic and sign messages for it.
    pub allow_any_topic: bool,
    /// Older notifications are refused (a replay).
    pub max_age_secs: u64,
}

impl Default for FeedbackConfig {
    fn default() -> Self {
        Self {
            enabled: None,
            sns_topic_arns: Vec::new(),
            allow_any_topic: false,
            max_age_secs: 3600,
        }
    }
}

impl MailConfig {
    pub(super) fn validate(&self) -> anyhow::Result<()> {
        if let Some(r) = self.max_send_rate
            && !(r.is_finite() && r > 0.0 && r <= 100_000.0)
        {
            anyhow::bail!(
                "configuration: mail.max_send_rate must be more than 0 (emails per second), not {r}"
            );
        }
        if let Some(m) = &self.unsubscribe_mailbox {
            engage_core::client::EmailAddress::parse(m)
                .map_err(|e| anyhow::anyhow!("configuration: mail.unsubscribe_mailbox: {e}"))?;
        }
        let s = &self.smtp;
        s.security
            .parse::<engage_mail::SmtpSecurity>()
            .map_err(|e| anyhow::anyhow!("configuration: mail.smtp.security: {e}"))?;
        if !(1..=256).contains(&s.pool_size) {
            anyhow::bail!(
                "configuration: mail.smtp.pool_size must be 1 to 256, not {}",
                s.pool_size
            );
        }
        if !(1..=600).contains(&s.timeout_secs) {
            anyhow::bail!(
                "configuration: mail.smtp.timeout_secs must be 1 to 600, not {}",
                s.timeout_secs
            );
        }
        if self.sender == SenderKind::Smtp && s.host.trim().is_empty() {
            anyhow::bail!("configuration: mail.smtp.host is empty");
        }
        if !(1..=256).contains(&self.ses.max_concurrency) {
            anyhow::bail!(
                "configuration: mail.ses.max_concurrency must be 1 to 256, not {}",
                self.ses.max_concurrency
            );
        }
        Ok(())
    }

    /// The SMTP sender's settings, the password read from its file or `SMTP_PASSWORD`.
    pub fn smtp_settings(&self) -> anyhow::Result<engage_mail::SmtpSettings> {
        let c = &self.smtp;
        let security = c
            .security
            .parse::<engage_mail::SmtpSecurity>()
            .map_err(|e| anyhow::anyhow!("configuration: mail.smtp.security: {e}"))?;
        let mut s = engage_mail::SmtpSettings::new(c.host.trim(), security);
        if let Some(p) = c.port {
            s.port = p;
        }
        s.username = c.username.clone();
        s.password = match &c.password_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "configuration: mail.smtp.password_file {}: {e}",
                            f.display()
                        )
                    })?
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
            ),
            None => std::env::var("SMTP_PASSWORD")
                .ok()
                .filter(|p| !p.is_empty()),
        };
        s.pool_size = c.pool_size;
        s.timeout = std::time::Duration::from_secs(c.timeout_secs);
        s.extra_root_pem = match &c.ca_file {
            Some(f) => Some(std::fs::read(f).map_err(|e| {
                anyhow::anyhow!("configuration: mail.smtp.ca_file {}: {e}", f.display())
            })?),
            None => None,
        };
        Ok(s)
    }
}
