//! The engagement score: an explainable 0–100 number made of weighted components,
//! each returned with its value, weight, contribution and a plain-language reason.
//!
//! Recency decays against the client's *own* cadence (the median days between their
//! Fixes), so a client who orders every 90 days is not "lapsing" on day 40 while a
//! monthly client is.

use crate::client::Client;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A client's engagement tier. Its names (`at_risk`, …) are the same in stored data,
/// the API's JSON and its query parameters: serde's and strum's `snake_case` agree.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Tier {
    New,
    Champion,
    Engaged,
    AtRisk,
    Lapsing,
    Dormant,
}

impl Tier {
    pub const ALL: [Tier; 6] = [
        Tier::New,
        Tier::Champion,
        Tier::Engaged,
        Tier::AtRisk,
        Tier::Lapsing,
        Tier::Dormant,
    ];
    pub fn as_str(&self) -> &'static str {
        self.into()
    }
    pub fn parse(s: &str) -> Option<Tier> {
        s.parse().ok()
    }
}

/// Weights and thresholds; the defaults work without configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringConfig {
    pub weight_recency: f64,
    pub weight_frequency: f64,
    pub weight_fix_outcomes: f64,
    pub weight_email: f64,
    pub weight_profile: f64,
    /// Cadence assumed until a client has two Fixes.
    pub default_cadence_days: f64,
    /// Activities in the frequency window that count as "fully active".
    pub frequency_target: f64,
    pub frequency_window_days: i64,
    /// A client is `new` for this many days unless a Fix was delivered.
    pub new_client_days: i64,
    pub champion_at: u8,
    pub engaged_at: u8,
    pub at_risk_at: u8,
    pub lapsing_at: u8,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        Self {
            weight_recency: 0.35,
            weight_frequency: 0.20,
            weight_fix_outcomes: 0.20,
            weight_email: 0.10,
            weight_profile: 0.15,
            default_cadence_days: 30.0,
            frequency_target: 8.0,
            frequency_window_days: 90,
            new_client_days: 14,
            champion_at: 80,
            engaged_at: 60,
            at_risk_at: 40,
            lapsing_at: 20,
        }
    }
}

/// One part of the score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Component {
    /// `recency`, `frequency`, `fix_outcomes`, `email_engagement` or `profile`.
    pub name: String,
    /// 0.0–1.0: how well the client does on this component.
    pub value: f64,
    /// The component's share of the score (weights sum to 1).
    pub weight: f64,
    /// Points this component adds to the score (sum of contributions = score).
    pub contribution: f64,
    pub explanation: String,
}

/// The facts behind the score, for composition ("it has been 45 days since your last
/// Fix") and for people reading the breakdown.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Drivers {
    pub days_since_last_activity: Option<i64>,
    pub days_since_last_fix: Option<i64>,
    pub cadence_days: f64,
    pub fixes_delivered: u32,
    pub keep_rate: Option<f64>,
    pub average_rating: Option<f64>,
    pub profile_completeness: u8,
    /// The weakest component, the one a nudge would help most.
    pub weakest: String,
}

/// A score with everything that explains it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoreBreakdown {
    pub score: u8,
    pub tier: Tier,
    pub components: Vec<Component>,
    pub drivers: Drivers,
    pub computed_at: DateTime<Utc>,
}

/// What the ledger knows that the client record does not: the emails sent recently.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmailStats {
    pub sent_last_90_days: u32,
}

fn days_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_seconds().max(0) as f64 / 86_400.0
}

/// The median gap between the client's Fixes, or the default when fewer than two.
pub fn cadence_days(client: &Client, cfg: &ScoringConfig) -> f64 {
    let fixes = &client.activity.fixes;
    if fixes.len() < 2 {
        return cfg.default_cadence_days;
    }
    let mut gaps: Vec<f64> = fixes
        .windows(2)
        .map(|w| days_between(w[0].delivered_at, w[1].delivered_at))
        .collect();
    gaps.sort_by(f64::total_cmp);
    let m = gaps[gaps.len() / 2];
    // A cadence under a week is double-delivery noise, over a year is no cadence.
    m.clamp(7.0, 365.0)
}

pub fn score(
    client: &Client,
    stats: EmailStats,
    now: DateTime<Utc>,
    cfg: &ScoringConfig,
) -> ScoreBreakdown {
    let a = &client.activity;
    let cadence = cadence_days(client, cfg);

    // Recency: half-life of one cadence, measured from the last sign of interest (or
    // from sign-up, for a client who has done nothing yet).
    let last_active = a.last_active_at();
    let since = days_between(last_active.unwrap_or(client.created_at), now);
    let recency = 0.5f64.powf(since / cadence);
    let recency_why = match last_active {
        Some(_) => format!(
            "{:.0} days since the last activity, against a cadence of {:.0} days",
            since, cadence
        ),
        None => format!("no activity yet, {:.0} days since sign-up", since),
    };

    let window_start = now - Duration::days(cfg.frequency_window_days);
    let recent = a
        .recent
        .iter()
        .filter(|t| **t >= window_start && **t <= now)
        .count();
    let frequency = (recent as f64 / cfg.frequency_target).min(1.0);
    let frequency_why = format!(
        "{recent} activities in the last {} days (target {:.0})",
        cfg.frequency_window_days, cfg.frequency_target
    );

    let rated: Vec<_> = a.fixes.iter().rev().take(5).collect();
    let with_feedback: Vec<_> = rated.iter().filter(|f| f.items_kept.is_some()).collect();
    let keep_rate = (!with_feedback.is_empty()).then(|| {
        with_feedback
            .iter()
            .map(|f| f.items_kept.unwrap_or(0) as f64 / f.items_sent.max(1) as f64)
            .sum::<f64>()
            / with_feedback.len() as f64
    });
    let ratings: Vec<f64> = rated
        .iter()
        .filter_map(|f| f.rating.map(f64::from))
        .collect();
    let average_rating =
        (!ratings.is_empty()).then(|| ratings.iter().sum::<f64>() / ratings.len() as f64);
    let (fix_outcomes, fix_why) = if rated.is_empty() {
        (0.5, "no Fixes yet: neutral".to_string())
    } else {
        let feedback_rate = with_feedback.len() as f64 / rated.len() as f64;
        let rating = average_rating.map_or(0.5, |r| (r - 1.0) / 4.0);
        let v = 0.5 * keep_rate.unwrap_or(0.3) + 0.25 * feedback_rate + 0.25 * rating;
        let why = format!(
            "keep rate {}, feedback on {} of the last {} Fixes, average rating {}",
            keep_rate.map_or("unknown".into(), |k| format!("{:.0}%", k * 100.0)),
            with_feedback.len(),
            rated.len(),
            average_rating.map_or("none".into(), |r| format!("{r:.1}/5")),
        );
        (v, why)
    };

    let (email, email_why) = if client.consent.unsubscribed {
        (0.0, "unsubscribed from email".to_string())
    } else if stats.sent_last_90_days == 0 {
        (0.5, "no emails sent recently: neutral".to_string())
    } else {
        let sent = stats.sent_last_90_days as f64;
        let opens = (a.email_opens as f64).min(sent);
        let clicks = (a.email_clicks as f64).min(sent);
        let v = ((0.4 * opens + 0.6 * clicks) / sent).min(1.0);
        (
            v,
            format!(
                "{} opens and {} clicks on {} recent emails",
                a.email_opens, a.email_clicks, stats.sent_last_90_days
            ),
        )
    };

    let completeness = client.profile.completeness();
    let profile = completeness as f64 / 100.0;

    let parts = [
        ("recency", recency, cfg.weight_recency, recency_why),
        ("frequency", frequency, cfg.weight_frequency, frequency_why),
        (
            "fix_outcomes",
            fix_outcomes,
            cfg.weight_fix_outcomes,
            fix_why,
        ),
        ("email_engagement", email, cfg.weight_email, email_why),
        (
            "profile",
            profile,
            cfg.weight_profile,
            format!("style profile {completeness}% complete"),
        ),
    ];
    let total_weight: f64 = parts.iter().map(|p| p.2).sum::<f64>().max(f64::EPSILON);
    let components: Vec<Component> = parts
        .into_iter()
        .map(|(name, value, weight, explanation)| {
            let weight = weight / total_weight;
            Component {
                name: name.to_string(),
                value: round3(value),
                weight: round3(weight),
                contribution: round3(100.0 * weight * value),
                explanation,
            }
        })
        .collect();
    let raw: f64 = components.iter().map(|c| c.contribution).sum();
    let score = raw.round().clamp(0.0, 100.0) as u8;
    let weakest = components
        .iter()
        .min_by(|x, y| {
            (x.value * x.weight)
                .total_cmp(&(y.value * y.weight))
                .then(x.value.total_cmp(&y.value))
        })
        .map(|c| c.name.clone())
        .unwrap_or_default();

    let is_new =
        a.fixes.is_empty() && now - client.created_at < Duration::days(cfg.new_client_days);
    let tier = if is_new {
        Tier::New
    } else if score >= cfg.champion_at {
        Tier::Champion
    } else if score >= cfg.engaged_at {
        Tier::Engaged
    } else if score >= cfg.at_risk_at {
        Tier::AtRisk
    } else if score >= cfg.lapsing_at {
        Tier::Lapsing
    } else {
        Tier::Dormant
    };

    ScoreBreakdown {
        score,
        tier,
        components,
        drivers: Drivers {
            days_since_last_activity: last_active.map(|t| (now - t).num_days()),
            days_since_last_fix: a.last_fix().map(|f| (now - f.delivered_at).num_days()),
            cadence_days: round3(cadence),
            fixes_delivered: a.fixes.len() as u32,
            keep_rate: keep_rate.map(round3),
            average_rating: average_rating.map(round3),
            profile_completeness: completeness,
            weakest,
        },
        computed_at: now,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Activity, NewClientFields, StyleProfile};
    use crate::ids::UserId;

    #[test]
    fn tier_names_are_the_serde_names_and_all_lists_every_tier() {
        assert_eq!(Tier::ALL, <Tier as strum::VariantArray>::VARIANTS);
        for t in Tier::ALL {
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json.as_str(), Some(t.as_str()));
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
        assert_eq!(Tier::AtRisk.as_str(), "at_risk");
        for unknown in ["At_Risk", "atrisk", "at-risk", ""] {
            assert_eq!(Tier::parse(unknown), None, "{unknown:?}");
        }
    }

    fn client(created: DateTime<Utc>) -> Client {
        NewClientFields {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: None,
            time_zone: "UTC".into(),
            email_opt_in: true,
            profile: Some(StyleProfile {
                preferences: vec!["minimal".into()],
                top_size: Some("M".into()),
                bottom_size: Some("30".into()),
                shoe_size: Some("39".into()),
                budget: Some("mid".into()),
                fit_notes: Some("relaxed".into()),
            }),
        }
        .check()
        .unwrap()
        .into_client(UserId::from_string("usr_1"), created)
    }

    fn fix(c: Client, id: &str, at: DateTime<Utc>, kept: u8, rating: u8) -> Client {
        let c = Activity::FixDelivered {
            at: Some(at),
            fix_id: id.into(),
            items_sent: 5,
        }
        .apply(c, at)
        .unwrap();
        Activity::FixFeedback {
            at: Some(at + Duration::days(3)),
            fix_id: id.into(),
            items_kept: kept,
            rating: Some(rating),
        }
        .apply(c, at + Duration::days(3))
        .unwrap()
    }

    #[test]
    fn contributions_add_up_to_the_score_and_weights_to_one() {
        let t0 = Utc::now() - Duration::days(200);
        let mut c = client(t0);
        for i in 0..4 {
            c = fix(c, &format!("f{i}"), t0 + Duration::days(30 * i), 3, 4);
        }
        let s = score(
            &c,
            EmailStats::default(),
            t0 + Duration::days(100),
            &ScoringConfig::default(),
        );
        let sum: f64 = s.components.iter().map(|c| c.contribution).sum();
        assert!((sum - s.score as f64).abs() <= 0.5, "{sum} vs {}", s.score);
        let w: f64 = s.components.iter().map(|c| c.weight).sum();
        assert!((w - 1.0).abs() < 0.01);
        assert_eq!(s.drivers.cadence_days, 30.0);
    }

    #[test]
    fn a_fresh_client_is_new() {
        let now = Utc::now();
        let s = score(
            &client(now),
            EmailStats::default(),
            now,
            &ScoringConfig::default(),
        );
        assert_eq!(s.tier, Tier::New);
    }

    #[test]
    fn recency_decays_against_the_clients_own_cadence() {
        let t0 = Utc::now() - Duration::days(400);
        let cfg = ScoringConfig::default();
        let mut monthly = client(t0);
        let mut quarterly = client(t0);
        for i in 0..3 {
            monthly = fix(monthly, &format!("m{i}"), t0 + Duration::days(30 * i), 3, 4);
            quarterly = fix(
                quarterly,
                &format!("q{i}"),
                t0 + Duration::days(90 * i),
                3,
                4,
            );
        }
        // 45 days after each one's last feedback.
        let m_now = monthly.activity.last_active_at().unwrap() + Duration::days(45);
        let q_now = quarterly.activity.last_active_at().unwrap() + Duration::days(45);
        let m = score(&monthly, EmailStats::default(), m_now, &cfg);
        let q = score(&quarterly, EmailStats::default(), q_now, &cfg);
        let rec = |s: &ScoreBreakdown| s.components[0].value;
        assert!(
            rec(&q) > rec(&m),
            "quarterly {} monthly {}",
            rec(&q),
            rec(&m)
        );
        assert!((rec(&m) - 0.5f64.powf(1.5)).abs() < 0.01);
    }

    #[test]
    fn scores_fall_through_the_tiers_as_time_passes() {
        let t0 = Utc::now() - Duration::days(400);
        let mut c = client(t0);
        for i in 0..3 {
            c = fix(c, &format!("f{i}"), t0 + Duration::days(30 * i), 4, 5);
        }
        let last = c.activity.last_active_at().unwrap();
        let cfg = ScoringConfig::default();
        let tiers: Vec<Tier> = [0, 30, 60, 120, 365]
            .iter()
            .map(|d| score(&c, EmailStats::default(), last + Duration::days(*d), &cfg).tier)
            .collect();
        let mut sorted = tiers.clone();
        sorted.sort();
        assert_eq!(tiers, sorted, "tiers only fall: {tiers:?}");
        assert_ne!(tiers.first(), tiers.last());
    }
}
