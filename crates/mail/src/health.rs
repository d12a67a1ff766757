//! The `mail` entry of `/health`, which every backend lists: the sender in use checks
//! itself, and the answer is cached.

use engage_core::ports::{DependencyHealth, HealthStatus, MailSender};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a sender's answer stands: health stays cheap however often a load
/// balancer asks, and a relay is not dialled on every probe.
pub const MAIL_CHECK_TTL: Duration = Duration::from_secs(10);

/// The `mail` entry: the sender in use checks itself ([`MailSender::check`]: the
/// outbox's directory, the SMTP relay, the SES account), cached for [`MAIL_CHECK_TTL`].
pub struct MailCheck {
    sender: Arc<dyn MailSender>,
    cached: Mutex<Option<(Instant, DependencyHealth)>>,
}

impl std::fmt::Debug for MailCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailCheck")
            .field("sender", &self.sender.name())
            .finish_non_exhaustive()
    }
}

impl MailCheck {
    pub fn new(sender: Arc<dyn MailSender>) -> Self {
        Self {
            sender,
            cached: Mutex::new(None),
        }
    }

    pub async fn entry(&self) -> DependencyHealth {
        if let Some((at, e)) = &*self.cached.lock().unwrap_or_else(|p| p.into_inner())
            && at.elapsed() < MAIL_CHECK_TTL
        {
            return e.clone();
        }
        let name = self.sender.name();
        let e = match self.sender.check().await {
            Ok(detail) => {
                let mut d = json!({"sender": name});
                if let (Some(d), serde_json::Value::Object(more)) = (d.as_object_mut(), detail) {
                    d.extend(more);
                }
                DependencyHealth::new("mail", HealthStatus::Up, d)
            }
            Err(why) => {
                tracing::warn!(sender = name, error = %why, "health: the mail sender cannot send");
                DependencyHealth::new(
                    "mail",
                    HealthStatus::Down,
                    json!({"sender": name, "error": why}),
                )
            }
        };
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), e.clone()));
        e
    }
}
