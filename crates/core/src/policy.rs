//! The decision policy: given the client's current state, its score and its recent
//! emails, which campaign (if any) goes out now, later, or not at all — and why.

use crate::campaign::Campaign;
use crate::client::{Client, TimeZone};
use crate::config::{EngineConfig, PolicyConfig};
use crate::email::{EmailSummary, SkipReason};
use crate::score::ScoreBreakdown;
use chrono::{DateTime, Duration, NaiveTime, TimeZone as _, Timelike, Utc};

/// How far back the policy looks at a client's emails (the frequency cap, the
/// email stats' `sent_last_90_days`): the ledger's context holds the emails created
/// since [`recent_emails_since`]. Stores are handed that bound; none keeps its own.
pub const RECENT_EMAILS_DAYS: i64 = 90;

/// The first instant of the recent-emails window at `now` (inclusive).
pub fn recent_emails_since(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::days(RECENT_EMAILS_DAYS)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Send {
        campaign: String,
    },
    Schedule {
        campaign: String,
        at: DateTime<Utc>,
    },
    Skip {
        campaign: Option<String>,
        reason: SkipReason,
    },
}

#[derive(Debug)]
pub struct PolicyInput<'a> {
    pub client: &'a Client,
    pub score: &'a ScoreBreakdown,
    pub recent_emails: &'a [EmailSummary],
    pub suppressed: bool,
    pub now: DateTime<Utc>,
}

/// Consent that holds at any moment, checked at decision time and again right before
/// a scheduled email goes out.
pub fn consent_block(client: &Client, suppressed: bool) -> Option<SkipReason> {
    if !client.consent.email_opt_in {
        Some(SkipReason::NotOptedIn)
    } else if client.consent.unsubscribed {
        Some(SkipReason::Unsubscribed)
    } else if suppressed {
        Some(SkipReason::Suppressed)
    } else {
        None
    }
}

fn in_cooldown(c: &Campaign, emails: &[EmailSummary], now: DateTime<Utc>) -> bool {
    emails.iter().any(|e| {
        e.campaign == c.name
            && e.status.counts_as_sent()
            && c.cooldown_days
                .is_none_or(|d| now - e.created_at < Duration::days(d))
    })
}

pub fn decide(input: &PolicyInput<'_>, cfg: &EngineConfig) -> Verdict {
    let matching: Vec<&Campaign> = cfg
        .campaigns
        .iter()
        .filter(|c| c.enabled && c.trigger.matches(input.client, input.score, input.now))
        .collect();
    let Some(first) = matching.first() else {
        return Verdict::Skip {
            campaign: None,
            reason: SkipReason::NoCampaignApplies,
        };
    };
    // The campaign that would go out: the first whose cooldown has passed. Consent is
    // checked against it, so the record says what was held back and why.
    let Some(chosen) = matching
        .iter()
        .find(|c| !in_cooldown(c, input.recent_emails, input.now))
    else {
        return Verdict::Skip {
            campaign: Some(first.name.clone()),
            reason: SkipReason::Cooldown,
        };
    };
    if let Some(reason) = consent_block(input.client, input.suppressed) {
        return Verdict::Skip {
            campaign: Some(chosen.name.clone()),
            reason,
        };
    }
    let window_start = input.now - Duration::days(cfg.policy.frequency_window_days);
    let recent = input
        .recent_emails
        .iter()
        .filter(|e| e.status.counts_as_sent() && e.created_at >= window_start)
        .count();
    if recent >= cfg.policy.frequency_cap as usize {
        return Verdict::Skip {
            campaign: Some(chosen.name.clone()),
            reason: SkipReason::FrequencyCap,
        };
    }
    let campaign = chosen.name.clone();
    match quiet_hours_end(input.client.time_zone, input.now, &cfg.policy) {
        Some(at) => Verdict::Schedule { campaign, at },
        None => Verdict::Send { campaign },
    }
}

/// If `now` falls in the client's local quiet hours, the moment they end (UTC).
pub fn quiet_hours_end(
    tz: TimeZone,
    now: DateTime<Utc>,
    p: &PolicyConfig,
) -> Option<DateTime<Utc>> {
    if p.quiet_start_hour == p.quiet_end_hour {
        return None;
    }
    let local = now.with_timezone(&tz.tz());
    let h = local.hour();
    let quiet = if p.quiet_start_hour > p.quiet_end_hour {
        h >= p.quiet_start_hour || h < p.quiet_end_hour
    } else {
        h >= p.quiet_start_hour && h < p.quiet_end_hour
    };
    if !quiet {
        return None;
    }
    let mut day = local.date_naive();
    if h >= p.quiet_end_hour {
        day = day.succ_opt()?;
    }
    let end = NaiveTime::from_hms_opt(p.quiet_end_hour, 0, 0)?;
    // On a DST gap the local hour may not exist: take the first instant after it.
    let mut naive = day.and_time(end);
    for _ in 0..3 {
        if let Some(t) = tz.tz().from_local_datetime(&naive).earliest() {
            return Some(t.with_timezone(&Utc));
        }
        naive += Duration::hours(1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::NewClientFields;
    use crate::email::EmailStatus;
    use crate::ids::UserId;
    use crate::score::{EmailStats, score};

    fn client(tz: &str, opt_in: bool, now: DateTime<Utc>) -> Client {
        NewClientFields {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: None,
            time_zone: tz.into(),
            email_opt_in: opt_in,
            profile: None,
        }
        .check()
        .unwrap()
        .into_client(UserId::from_string("usr_1"), now)
    }

    fn decide_for(
        c: &Client,
        emails: &[EmailSummary],
        suppressed: bool,
        now: DateTime<Utc>,
    ) -> Verdict {
        let cfg = EngineConfig::default();
        let s = score(c, EmailStats::default(), now, &cfg.scoring);
        decide(
            &PolicyInput {
                client: c,
                score: &s,
                recent_emails: emails,
                suppressed,
                now,
            },
            &cfg,
        )
    }

    fn noon_utc() -> DateTime<Utc> {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_new_opted_in_client_is_welcomed() {
        let now = noon_utc();
        assert_eq!(
            decide_for(&client("UTC", true, now), &[], false, now),
            Verdict::Send {
                campaign: "welcome".into()
            }
        );
    }

    #[test]
    fn consent_and_suppression_block_with_their_reason() {
        let now = noon_utc();
        let skip = |reason| Verdict::Skip {
            campaign: Some("welcome".into()),
            reason,
        };
        assert_eq!(
            decide_for(&client("UTC", false, now), &[], false, now),
            skip(SkipReason::NotOptedIn)
        );
        assert_eq!(
            decide_for(&client("UTC", true, now), &[], true, now),
            skip(SkipReason::Suppressed)
        );
        let mut c = client("UTC", true, now);
        c.consent.unsubscribed = true;
        assert_eq!(
            decide_for(&c, &[], false, now),
            skip(SkipReason::Unsubscribed)
        );
    }

    #[test]
    fn welcome_goes_once_then_the_next_campaign_applies() {
        let now = noon_utc();
        let sent = |campaign: &str, days_ago| EmailSummary {
            campaign: campaign.into(),
            status: EmailStatus::Sent,
            created_at: now - Duration::days(days_ago),
        };
        let c = client("UTC", true, now - Duration::days(1));
        assert_eq!(
            decide_for(&c, &[sent("welcome", 1)], false, now),
            Verdict::Send {
                campaign: "complete_style_profile".into()
            }
        );
        assert_eq!(
            decide_for(
                &c,
                &[sent("welcome", 1), sent("complete_style_profile", 1)],
                false,
                now
            ),
            Verdict::Skip {
                campaign: Some("welcome".into()),
                reason: SkipReason::Cooldown
            }
        );
    }

    #[test]
    fn the_frequency_cap_holds() {
        let now = noon_utc();
        let c = client("UTC", true, now - Duration::days(1));
        let emails: Vec<_> = ["a", "b"]
            .iter()
            .map(|n| EmailSummary {
                campaign: (*n).into(),
                status: EmailStatus::Sent,
                created_at: now - Duration::days(1),
            })
            .collect();
        assert_eq!(
            decide_for(&c, &emails, false, now),
            Verdict::Skip {
                campaign: Some("welcome".into()),
                reason: SkipReason::FrequencyCap
            }
        );
    }

    #[test]
    fn quiet_hours_schedule_for_the_clients_morning() {
        // 12:00 UTC is 22:00 in Sydney (AEST, UTC+10, in June).
        let now = noon_utc();
        let v = decide_for(&client("Australia/Sydney", true, now), &[], false, now);
        let expected: DateTime<Utc> = "2026-06-01T22:00:00Z".parse().unwrap(); // 08:00 next day local
        assert_eq!(
            v,
            Verdict::Schedule {
                campaign: "welcome".into(),
                at: expected
            }
        );
    }

    #[test]
    fn early_morning_waits_until_the_same_days_end_of_quiet_hours() {
        let tz = TimeZone::parse("Europe/Paris").unwrap();
        let now: DateTime<Utc> = "2026-01-10T04:30:00Z".parse().unwrap(); // 05:30 local
        let at = quiet_hours_end(tz, now, &PolicyConfig::default()).unwrap();
        assert_eq!(at, "2026-01-10T07:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let day: DateTime<Utc> = "2026-01-10T10:00:00Z".parse().unwrap();
        assert_eq!(quiet_hours_end(tz, day, &PolicyConfig::default()), None);
    }
}
