//! A demo client's history: where it stands with the service (new, stalled, active,
//! slipping, lapsed), its cadence, and the activities that got it there (Fixes,
//! feedback, logins, orders, email opens and clicks), every one before `now`.

use super::lists::weighted;
use chrono::{DateTime, Duration, Utc};
use engage_core::client::Activity;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;

/// Where a client stands in its life with the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Signed up in the last two weeks, no Fix yet.
    Fresh,
    /// Signed up long ago and never got a Fix.
    Stalled,
    /// Last Fix within one cadence.
    Active,
    /// Last Fix one to two and a half cadences ago.
    Slipping,
    /// Last Fix three or more cadences ago: gone for months.
    Lapsed,
}

const STAGES: [(Stage, u32); 5] = [
    (Stage::Fresh, 10),
    (Stage::Stalled, 6),
    (Stage::Active, 42),
    (Stage::Slipping, 20),
    (Stage::Lapsed, 22),
];

/// Days between Fixes.
const CADENCES: [(i64, u32); 4] = [(30, 4), (45, 3), (60, 2), (90, 1)];

fn days(d: f64) -> Duration {
    Duration::seconds((d * 86_400.0) as i64)
}

/// The client's history: activities with their times, in no particular order.
pub(super) struct History {
    pub(super) signed_up: DateTime<Utc>,
    pub(super) events: Vec<Activity>,
}

pub(super) fn history(
    rng: &mut StdRng,
    index: u64,
    now: DateTime<Utc>,
    emailable: bool,
) -> History {
    // Nothing happens in the last minute, so every time is safely in the past.
    let latest = now - Duration::minutes(1);
    let stage = weighted(rng, &STAGES);
    let mut events = Vec::new();
    let login_after = |rng: &mut StdRng, from: DateTime<Utc>, within_days: f64| Activity::Login {
        at: Some((from + days(rng.random_range(0.0..within_days))).min(latest)),
    };
    match stage {
        Stage::Fresh | Stage::Stalled => {
            let age = match stage {
                Stage::Fresh => rng.random_range(0.05..13.0),
                _ => rng.random_range(15.0..300.0),
            };
            let signed_up = now - days(age);
            for _ in 0..rng.random_range(0..=2) {
                events.push(login_after(rng, signed_up, age.min(10.0)));
            }
            return History { signed_up, events };
        }
        Stage::Active | Stage::Slipping | Stage::Lapsed => {}
    }

    let cadence = weighted(rng, &CADENCES) as f64;
    let (fixes, since_last) = match stage {
        Stage::Active => (
            rng.random_range(2..=12),
            rng.random_range(0.1..1.0) * cadence,
        ),
        Stage::Slipping => (
            rng.random_range(1..=10),
            rng.random_range(1.0..2.5) * cadence,
        ),
        _ => (
            rng.random_range(1..=8),
            (rng.random_range(3.0..12.0) * cadence).min(600.0),
        ),
    };
    // Fix dates, newest first, each about one cadence before the next.
    let mut at = latest - days(since_last);
    let mut dates = vec![at];
    for _ in 1..fixes {
        at -= days(cadence * rng.random_range(0.85..1.15));
        dates.push(at);
    }
    dates.reverse();
    let signed_up = dates[0] - days(rng.random_range(2.0..21.0));

    // How much this client likes what arrives, and how dutifully it says so.
    let affinity: f64 = rng.random_range(0.1..0.9);
    let diligence: f64 = rng.random_range(0.6..1.0);
    for (k, delivered) in dates.iter().copied().enumerate() {
        let fix_id = format!("fx-{index}-{}", k + 1);
        let items_sent = *[3u8, 4, 5, 5, 5, 6, 8].choose(rng).unwrap_or(&5);
        events.push(Activity::FixDelivered {
            at: Some(delivered),
            fix_id: fix_id.clone(),
            items_sent,
        });
        for _ in 0..rng.random_range(1..=3) {
            let around = delivered + days(rng.random_range(-5.0..7.0));
            events.push(Activity::Login {
                at: Some(around.clamp(signed_up, latest)),
            });
        }
        if emailable && rng.random_bool(0.5) {
            let opened = (delivered - days(rng.random_range(1.0..8.0))).max(signed_up);
            events.push(Activity::EmailOpened { at: Some(opened) });
            if rng.random_bool(0.35) {
                events.push(Activity::EmailClicked {
                    at: Some(opened + Duration::minutes(rng.random_range(1..30))),
                });
            }
        }
        let feedback_at = delivered + days(rng.random_range(1.0..10.0));
        if feedback_at > latest || !rng.random_bool(diligence) {
            continue;
        }
        let kept = (0..items_sent)
            .filter(|_| rng.random_bool(affinity))
            .count()
            .min(5) as u8;
        let liked = f64::from(kept) / f64::from(items_sent);
        let rating = rng.random_bool(0.9).then(|| {
            (1.0 + 4.0 * liked + rng.random_range(-0.8..0.8))
                .round()
                .clamp(1.0, 5.0) as u8
        });
        events.push(Activity::FixFeedback {
            at: Some(feedback_at),
            fix_id,
            items_kept: kept,
            rating,
        });
        if kept > 0 {
            events.push(Activity::Order {
                at: Some((feedback_at + Duration::minutes(rng.random_range(2..90))).min(latest)),
            });
        }
    }
    // Now and then an order or a visit between Fixes.
    let span = (dates[dates.len() - 1] - signed_up).num_seconds().max(1) as f64 / 86_400.0;
    for _ in 0..rng.random_range(0..=3) {
        events.push(Activity::Order {
            at: Some((signed_up + days(rng.random_range(0.0..span))).min(latest)),
        });
    }
    History { signed_up, events }
}
