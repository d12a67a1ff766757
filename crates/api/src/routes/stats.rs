//! `/api/v1/stats`: the console dashboard's counts — clients by tier and score, and
//! the emails of the last days by status and by generator.

use crate::error::{ApiError, Problem};
use crate::extract::Query;
use crate::state::Shared;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Days, NaiveDate, Utc};
use engage_core::email::EmailStatus;
use engage_core::ports::{ClientStats, EmailActivity};
use engage_core::score::Tier;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub(crate) fn router() -> OpenApiRouter<Shared> {
    OpenApiRouter::new().routes(routes!(get_stats))
}

const DEFAULT_DAYS: u32 = 14;
const MAX_DAYS: u32 = 90;

/// Query parameters of `GET /api/v1/stats`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// The UTC days of email counts, today included: 1–90 (default 14).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<u32>,
}

/// The dashboard's counts.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Stats {
    pub generated_at: DateTime<Utc>,
    pub clients: ClientCounts,
    pub score_histogram: ScoreHistogram,
    /// Emails created each UTC day of the period, oldest first, every day listed.
    pub emails_per_day: Vec<EmailDay>,
    /// The period's emails by who wrote them.
    pub generators: GeneratorCounts,
    /// What the models' emails of the period cost, in US dollars; null when none
    /// reported a cost (no model wrote, or its prices are unknown).
    #[schema(required = true)]
    pub llm_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ClientCounts {
    pub total: u64,
    pub by_tier: TierCounts,
}

/// Clients per tier of their last score, and those not scored yet.
#[derive(Debug, Clone, PartialEq, Default, Serialize, ToSchema)]
pub struct TierCounts {
    pub new: u64,
    pub champion: u64,
    pub engaged: u64,
    pub at_risk: u64,
    pub lapsing: u64,
    pub dormant: u64,
    pub unscored: u64,
}

/// Scored clients per score bucket: `counts[i]` holds scores from `i * bucket_width`
/// to `(i + 1) * bucket_width - 1`, the last bucket also 100.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ScoreHistogram {
    pub bucket_width: u8,
    pub counts: [u64; 10],
}

/// One UTC day's emails, by current status (every status listed).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct EmailDay {
    /// `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    pub date: NaiveDate,
    pub by_status: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct GeneratorCounts {
    /// Written by a model.
    pub llm: u64,
    /// Written from the campaign's template (no model configured, or the fallback).
    pub template: u64,
}

fn days(raw: Option<u32>) -> Result<u32, ApiError> {
    match raw {
        None => Ok(DEFAULT_DAYS),
        Some(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::bad_param(
            "days",
            format!("days must be between 1 and {MAX_DAYS}, not {n}"),
        )),
    }
}

fn tier_counts(c: &ClientStats) -> TierCounts {
    let mut out = TierCounts {
        unscored: c.unscored,
        ..TierCounts::default()
    };
    for (tier, n) in &c.by_tier {
        let slot = match tier {
            Tier::New => &mut out.new,
            Tier::Champion => &mut out.champion,
            Tier::Engaged => &mut out.engaged,
            Tier::AtRisk => &mut out.at_risk,
            Tier::Lapsing => &mut out.lapsing,
            Tier::Dormant => &mut out.dormant,
        };
        *slot = *n;
    }
    out
}

/// Every day from `first` to `last`, with the activity's counts (zeros included).
fn per_day(first: NaiveDate, last: NaiveDate, activity: &EmailActivity) -> Vec<EmailDay> {
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            let mut by_status: BTreeMap<String, u64> = EmailStatus::ALL
                .iter()
                .map(|s| (s.as_str().to_string(), 0))
                .collect();
            for (_, status, n) in activity.per_day.iter().filter(|(d, _, _)| *d == date) {
                *by_status.entry(status.as_str().to_string()).or_default() += n;
            }
            EmailDay { date, by_status }
        })
        .collect()
}

/// Get the dashboard's counts.
///
/// Clients by tier and score bucket (now), and the emails created in the last `days`
/// UTC days (today included) by day and status, by generator, and what the models
/// cost. On the DynamoDB backend: 501 (each count would take a table scan).
#[utoipa::path(
    get,
    path = "/stats",
    tag = "stats",
    params(StatsParams),
    responses(
        (status = 200, description = "The counts.", body = Stats),
        (status = 400, description = "`days` is not 1–90.",
            body = Problem, content_type = "application/problem+json"),
        (status = 501, description = "This backend cannot count without full scans.",
            body = Problem, content_type = "application/problem+json"),
    )
)]
async fn get_stats(
    State(state): State<Shared>,
    Query(params): Query<StatsParams>,
) -> Result<Json<Stats>, ApiError> {
    let days = days(params.days)?;
    let now = state.clients.clock.now();
    let today = now.date_naive();
    let first = today
        .checked_sub_days(Days::new(u64::from(days - 1)))
        .unwrap_or(today);
    let since = first.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let (clients, emails) = tokio::try_join!(
        state.clients.store.stats(),
        state.history.email_activity(since),
    )?;
    Ok(Json(Stats {
        generated_at: now,
        clients: ClientCounts {
            total: clients.total,
            by_tier: tier_counts(&clients),
        },
        score_histogram: ScoreHistogram {
            bucket_width: ClientStats::BUCKET_WIDTH,
            counts: clients.score_histogram,
        },
        emails_per_day: per_day(first, today, &emails),
        generators: GeneratorCounts {
            llm: emails.llm,
            template: emails.template,
        },
        llm_cost_usd: emails.llm_cost_usd,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_default_to_14_and_allow_1_to_90() {
        assert_eq!(days(None).unwrap(), 14);
        assert_eq!(days(Some(1)).unwrap(), 1);
        assert_eq!(days(Some(90)).unwrap(), 90);
        assert!(days(Some(0)).is_err() && days(Some(91)).is_err());
    }

    #[test]
    fn every_day_is_listed_with_every_status() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 3, day).unwrap();
        let activity = EmailActivity {
            per_day: vec![(d(2), EmailStatus::Sent, 3), (d(2), EmailStatus::Failed, 1)],
            ..EmailActivity::default()
        };
        let out = per_day(d(1), d(3), &activity);
        assert_eq!(
            out.iter().map(|e| e.date).collect::<Vec<_>>(),
            [d(1), d(2), d(3)]
        );
        assert_eq!(out[0].by_status.len(), EmailStatus::ALL.len());
        assert_eq!(out[1].by_status["sent"], 3);
        assert_eq!(out[1].by_status["failed"], 1);
        assert_eq!(out[2].by_status["sent"], 0);
    }
}
