//! The engine's configuration: scoring, policy and campaigns, with defaults that work.

use crate::campaign::{Campaign, default_campaigns};
use crate::compose::{GuardConfig, Retention};
use crate::score::ScoringConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// At most this many engagement emails per client in `frequency_window_days`.
    pub frequency_cap: u32,
    pub frequency_window_days: i64,
    /// Local hour (0–23) at which quiet hours start, in the client's time zone.
    pub quiet_start_hour: u32,
    /// Local hour at which quiet hours end and scheduled emails go out.
    pub quiet_end_hour: u32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            frequency_cap: 2,
            frequency_window_days: 7,
            quiet_start_hour: 21,
            quiet_end_hour: 8,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    pub scoring: ScoringConfig,
    pub policy: PolicyConfig,
    pub campaigns: Vec<Campaign>,
    /// The `From` of engagement emails.
    pub from: String,
    /// What generated content may contain (links, phrases).
    pub guards: GuardConfig,
    /// Which emails keep the LLM's prompt and raw answer (`retain_llm_io`).
    pub retain_llm_io: Retention,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            scoring: ScoringConfig::default(),
            policy: PolicyConfig::default(),
            campaigns: default_campaigns(),
            from: "Your styling team <styling@engage.localhost>".into(),
            guards: GuardConfig::default(),
            retain_llm_io: Retention::default(),
        }
    }
}

impl EngineConfig {
    /// The domain of the `From` address (for Message-IDs and the unsubscribe mailto).
    pub fn from_domain(&self) -> &str {
        self.from
            .rsplit('@')
            .next()
            .map(|d| d.trim_end_matches('>').trim())
            .filter(|d| !d.is_empty())
            .unwrap_or("localhost")
    }

    pub fn campaign(&self, name: &str) -> Option<&Campaign> {
        self.campaigns.iter().find(|c| c.name == name)
    }

    /// Refuses configurations that would misbehave at run time.
    pub fn validate(&self) -> Result<(), String> {
        let address = match (self.from.find('<'), self.from.rfind('>')) {
            (Some(i), Some(j)) if i < j => &self.from[i + 1..j],
            _ => self.from.as_str(),
        };
        crate::client::EmailAddress::parse(address)
            .map_err(|_| format!("from: `{}` has no valid email address", self.from))?;
        let p = &self.policy;
        if p.quiet_start_hour > 23 || p.quiet_end_hour > 23 {
            return Err("policy.quiet_*_hour must be 0..=23".into());
        }
        if p.frequency_window_days <= 0 {
            return Err("policy.frequency_window_days must be positive".into());
        }
        let mut names = std::collections::HashSet::new();
        for c in &self.campaigns {
            if !names.insert(c.name.as_str()) {
                return Err(format!("campaign `{}` is defined twice", c.name));
            }
            if c.name.is_empty()
                || !c
                    .name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_')
            {
                return Err(format!(
                    "campaign name `{}` must be lowercase letters and _",
                    c.name
                ));
            }
        }
        let s = &self.scoring;
        if !(s.champion_at > s.engaged_at
            && s.engaged_at > s.at_risk_at
            && s.at_risk_at > s.lapsing_at)
        {
            return Err(
                "scoring thresholds must fall: champion_at > engaged_at > at_risk_at > lapsing_at"
                    .into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_from_domain_is_read_from_the_address() {
        let mut c = EngineConfig::default();
        assert_eq!(c.from_domain(), "engage.localhost");
        c.from = "hi@example.com".into();
        assert_eq!(c.from_domain(), "example.com");
        assert!(EngineConfig::default().validate().is_ok());
        c.from = "Studio <studio@example.com>".into();
        assert!(c.validate().is_ok());
        c.from = "No address".into();
        assert!(c.validate().unwrap_err().contains("from"));
    }
}
