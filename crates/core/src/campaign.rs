//! Campaigns: which client states call for which email, how often, and what the
//! email says when no LLM writes it (the fallback template).
//!
//! Triggers read the client's *current state* (and the score), not the event that
//! woke the processor: events can arrive late, twice or out of order, state cannot.

use crate::client::Client;
use crate::score::{ScoreBreakdown, Tier};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The state a campaign waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Trigger {
    /// The client signed up less than `within_days` ago.
    NewClient { within_days: i64 },
    /// The style profile is less than `below` percent complete.
    ProfileIncomplete { below: u8 },
    /// The latest Fix was delivered at least `after_days` ago and has no feedback.
    FixAwaitingFeedback { after_days: i64 },
    /// The client's tier is one of these.
    TierIn { tiers: Vec<Tier> },
}

impl Trigger {
    /// The trigger in plain words, for people reading the configuration.
    pub fn describe(&self) -> String {
        let days = |n: i64| {
            if n == 1 {
                "1 day".to_string()
            } else {
                format!("{n} days")
            }
        };
        match self {
            Trigger::NewClient { within_days } => {
                format!("The client signed up less than {} ago.", days(*within_days))
            }
            Trigger::ProfileIncomplete { below } => {
                format!("The client's style profile is less than {below}% complete.")
            }
            Trigger::FixAwaitingFeedback { after_days } => format!(
                "The client's latest Fix was delivered at least {} ago and has no feedback yet.",
                days(*after_days)
            ),
            Trigger::TierIn { tiers } => {
                let names: Vec<&str> = tiers.iter().map(Tier::as_str).collect();
                match names.as_slice() {
                    [one] => format!("The client is in the {one} tier."),
                    [rest @ .., last] => {
                        format!("The client is in the {} or {last} tier.", rest.join(", "))
                    }
                    [] => "Never (no tier is listed).".to_string(),
                }
            }
        }
    }

    pub fn matches(&self, c: &Client, s: &ScoreBreakdown, now: DateTime<Utc>) -> bool {
        match self {
            Trigger::NewClient { within_days } => now - c.created_at < Duration::days(*within_days),
            Trigger::ProfileIncomplete { below } => c.profile.completeness() < *below,
            Trigger::FixAwaitingFeedback { after_days } => c.activity.last_fix().is_some_and(|f| {
                f.feedback_at.is_none() && now - f.delivered_at >= Duration::days(*after_days)
            }),
            Trigger::TierIn { tiers } => tiers.contains(&s.tier),
        }
    }
}

/// The fallback content. Placeholders (filled by the template generator):
/// `{first_name}`, `{preferences}`, `{preferences_clause}`, `{days_since_last_fix}`,
/// `{days_since_last_activity}`, `{profile_completeness}`, `{cadence_days}`,
/// `{score}`, `{tier}`. An unknown placeholder fails the composition guard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub subject: String,
    pub preheader: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Campaign {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub trigger: Trigger,
    /// Days before the same campaign may go to the same client again; `None`: once ever.
    pub cooldown_days: Option<i64>,
    /// What the LLM is asked to write.
    pub instructions: String,
    pub template: Template,
}

fn yes() -> bool {
    true
}

fn campaign(
    name: &str,
    trigger: Trigger,
    cooldown_days: Option<i64>,
    instructions: &str,
    t: [&str; 3],
) -> Campaign {
    Campaign {
        name: name.into(),
        enabled: true,
        trigger,
        cooldown_days,
        instructions: instructions.into(),
        template: Template {
            subject: t[0].into(),
            preheader: t[1].into(),
            body: t[2].into(),
        },
    }
}

/// The default campaigns, in priority order: the first whose trigger matches and whose
/// cooldown has passed is the one a decision considers.
pub fn default_campaigns() -> Vec<Campaign> {
    vec![
        campaign(
            "welcome",
            Trigger::NewClient { within_days: 7 },
            None,
            "Welcome a new client warmly, explain in one sentence how a Fix works, and invite them to tell their stylist about their style.",
            [
                "Welcome, {first_name} — your stylist is ready",
                "Here is how your first Fix comes together.",
                "Hi {first_name},\n\nWelcome! Your stylist hand-picks every piece in a Fix for you, and the more we know about your style, the better it fits.\n\nTell us what you love{preferences_clause} and we will take it from there.\n\nSee you soon,\nYour styling team",
            ],
        ),
        campaign(
            "fix_feedback",
            Trigger::FixAwaitingFeedback { after_days: 3 },
            Some(14),
            "Ask for feedback on the client's latest Fix: what they kept, what they returned and why. Keep it short and grateful.",
            [
                "{first_name}, how did your latest Fix fit?",
                "Two minutes of feedback makes your next Fix better.",
                "Hi {first_name},\n\nYour latest Fix arrived a few days ago. What did you keep, and what didn't work? Every answer goes straight to your stylist.\n\nThank you,\nYour styling team",
            ],
        ),
        campaign(
            "schedule_next_fix",
            Trigger::TierIn {
                tiers: vec![Tier::AtRisk],
            },
            Some(14),
            "Invite the client to schedule their next Fix, referring to how long it has been and to their style preferences. No pressure, no discounts.",
            [
                "{first_name}, ready for your next Fix?",
                "Your stylist has new pieces in mind for you.",
                "Hi {first_name},\n\nIt has been {days_since_last_fix} days since your last Fix. Your stylist has been saving new pieces{preferences_clause}.\n\nSchedule your next Fix whenever suits you.\n\nWarmly,\nYour styling team",
            ],
        ),
        campaign(
            "win_back",
            Trigger::TierIn {
                tiers: vec![Tier::Lapsing, Tier::Dormant],
            },
            Some(30),
            "Win back a client who has drifted away: acknowledge the time apart, mention what is new, and make coming back easy.",
            [
                "We've missed you, {first_name}",
                "A lot has changed in the studio since your last Fix.",
                "Hi {first_name},\n\nIt has been a while, and a lot has changed: new brands, new styles{preferences_clause}, and a stylist who would love to pick for you again.\n\nWhenever you are ready, your next Fix is one click away.\n\nYour styling team",
            ],
        ),
        campaign(
            "complete_style_profile",
            Trigger::ProfileIncomplete { below: 60 },
            Some(21),
            "Encourage the client to complete their style profile (sizes, budget, fit notes), explaining that it helps their stylist choose better.",
            [
                "{first_name}, help your stylist get it just right",
                "A complete style profile means better picks.",
                "Hi {first_name},\n\nYour style profile is {profile_completeness}% complete. Adding your sizes, budget and fit notes helps your stylist choose pieces you will love.\n\nIt takes two minutes.\n\nYour styling team",
            ],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_trigger_reads_as_a_sentence() {
        let described: Vec<String> = default_campaigns()
            .iter()
            .map(|c| c.trigger.describe())
            .collect();
        assert_eq!(
            described,
            [
                "The client signed up less than 7 days ago.",
                "The client's latest Fix was delivered at least 3 days ago and has no feedback yet.",
                "The client is in the at_risk tier.",
                "The client is in the lapsing or dormant tier.",
                "The client's style profile is less than 60% complete.",
            ]
        );
        let three = Trigger::TierIn {
            tiers: vec![Tier::New, Tier::Engaged, Tier::Champion],
        };
        assert_eq!(
            three.describe(),
            "The client is in the new, engaged or champion tier."
        );
    }
}
