//! What a comparison says, in words, and the report the API returns.

use super::power::{ALPHA, POWER, clients_per_group_for};
use super::proportion::z_two_sided;
use super::{Comparison, Proportion, Test};
use serde::Serialize;

/// What the figures say about a lift of at least `min_lift`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Verdict {
    /// One of the groups has no clients yet.
    NoData,
    /// The 95 % interval of the lift lies entirely above 0.
    Lift {
        lift: f64,
        low: f64,
        high: f64,
        p_value: f64,
    },
    /// The 95 % interval of the lift lies entirely below 0.
    Harm {
        lift: f64,
        low: f64,
        high: f64,
        p_value: f64,
    },
    /// The interval contains 0 but lies within (−min_lift, +min_lift): any lift is
    /// smaller than the one that matters.
    NoLift { low: f64, high: f64, min_lift: f64 },
    /// The interval contains 0 and reaches ±min_lift: `more_per_group` more clients
    /// in each group would give the test 80 % power to show a lift of `min_lift`.
    NotEnoughData {
        more_per_group: u64,
        low: f64,
        high: f64,
        min_lift: f64,
    },
}

/// The verdict's name alone, as the API returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    NoData,
    Lift,
    Harm,
    NoLift,
    NotEnoughData,
}

impl Verdict {
    pub fn kind(&self) -> VerdictKind {
        match self {
            Verdict::NoData => VerdictKind::NoData,
            Verdict::Lift { .. } => VerdictKind::Lift,
            Verdict::Harm { .. } => VerdictKind::Harm,
            Verdict::NoLift { .. } => VerdictKind::NoLift,
            Verdict::NotEnoughData { .. } => VerdictKind::NotEnoughData,
        }
    }

    /// The verdict in a sentence without the campaign's name, to follow it: "raised
    /// the conversion rate by 4.1 points (95 % interval 1.2 to 7.0 points, p = 0.004)".
    /// Rates are in percentage points, to one decimal.
    pub fn describe(&self) -> String {
        match *self {
            Verdict::NoData => "no clients in one of the groups yet".to_owned(),
            Verdict::Lift {
                lift,
                low,
                high,
                p_value,
            } => format!(
                "raised the conversion rate by {} points (95 % interval {} to {} points, {})",
                points(lift),
                points(low),
                points(high),
                p_text(p_value)
            ),
            Verdict::Harm {
                lift,
                low,
                high,
                p_value,
            } => format!(
                "lowered the conversion rate by {} points (95 % interval {} to {} points, {})",
                points(-lift),
                points(-high),
                points(-low),
                p_text(p_value)
            ),
            Verdict::NoLift {
                low,
                high,
                min_lift,
            } => format!(
                "no lift: the interval {} to {} points rules out a lift of {} points",
                points(low),
                points(high),
                points_short(min_lift)
            ),
            Verdict::NotEnoughData {
                more_per_group: 0,
                low,
                high,
                min_lift,
            } => format!(
                "not enough data yet: the interval {} to {} points is still too wide to tell a {}-point lift, though the groups are as large as it needs",
                points(low),
                points(high),
                points_short(min_lift)
            ),
            Verdict::NotEnoughData {
                more_per_group,
                min_lift,
                ..
            } => format!(
                "not enough data yet: about {more_per_group} more clients per group would show a {}-point lift",
                points_short(min_lift)
            ),
        }
    }
}

/// A rate difference in percentage points to one decimal, with a true minus sign and
/// never "−0.0".
fn points(x: f64) -> String {
    let r = (x * 1000.0).round() / 10.0;
    if r == 0.0 {
        "0.0".to_owned()
    } else if r < 0.0 {
        format!("\u{2212}{:.1}", -r)
    } else {
        format!("{r:.1}")
    }
}

/// Like [`points`] but without a trailing ".0": "2", "0.5".
fn points_short(x: f64) -> String {
    let s = points(x);
    s.strip_suffix(".0").map(str::to_owned).unwrap_or(s)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "p < 0.001".to_owned()
    } else {
        format!("p = {p:.3}")
    }
}

impl Comparison {
    /// The verdict about a lift of at least `min_lift` (a rate difference, 0.02 for 2
    /// points), from the 95 % interval: above 0 is a lift, below 0 a harm, within
    /// (−min_lift, min_lift) no lift worth having, otherwise not enough data.
    ///
    /// For "not enough data", the clients still needed are
    /// [`clients_per_group_for`]`(control rate, min_lift, 0.05, 0.8)` less the smaller
    /// group's size, at least 0. The baseline is the observed control rate even when it
    /// is 0 (the formula is finite there): it is what the campaign is measured against,
    /// and a guess such as 5 % would be no better founded for a campaign with few
    /// clients. A control rate above 1 − min_lift is taken as 1 − min_lift.
    pub fn verdict(&self, min_lift: f64) -> Verdict {
        let min_lift = min_lift.abs();
        let (Some(lift), Some((low, high)), Some(p_value), Some(baseline)) = (
            self.absolute_lift,
            self.interval,
            self.p_value,
            self.control.rate(),
        ) else {
            return Verdict::NoData;
        };
        if low > 0.0 {
            Verdict::Lift {
                lift,
                low,
                high,
                p_value,
            }
        } else if high < 0.0 {
            Verdict::Harm {
                lift,
                low,
                high,
                p_value,
            }
        } else if low > -min_lift && high < min_lift {
            Verdict::NoLift {
                low,
                high,
                min_lift,
            }
        } else {
            // A control rate within min_lift of 1 leaves no room for the lift above it.
            let baseline = baseline.min(1.0 - min_lift).max(0.0);
            let needed = clients_per_group_for(baseline, min_lift, ALPHA, POWER);
            let have = self.treated.trials.min(self.control.trials);
            Verdict::NotEnoughData {
                more_per_group: needed.saturating_sub(have),
                low,
                high,
                min_lift,
            }
        }
    }

    /// The figures and the verdict about a lift of at least `min_lift`, as the API
    /// returns them.
    pub fn report(&self, min_lift: f64) -> Report {
        let verdict = self.verdict(min_lift);
        Report {
            treated: GroupReport::of(self.treated),
            control: GroupReport::of(self.control),
            absolute_lift: self.absolute_lift,
            lift_low: self.interval.map(|i| i.0),
            lift_high: self.interval.map(|i| i.1),
            relative_lift: self.relative_lift,
            p_value: self.p_value,
            test: self.test,
            min_lift: min_lift.abs(),
            more_per_group: match verdict {
                Verdict::NotEnoughData { more_per_group, .. } => Some(more_per_group),
                _ => None,
            },
            verdict: verdict.kind(),
            verdict_text: verdict.describe(),
        }
    }
}

/// One group's figures: its counts, rate and 95 % Wilson interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupReport {
    pub successes: u64,
    pub trials: u64,
    pub rate: Option<f64>,
    pub interval_low: Option<f64>,
    pub interval_high: Option<f64>,
}

impl GroupReport {
    pub fn of(p: Proportion) -> Self {
        let interval = p.wilson(z_two_sided(ALPHA));
        Self {
            successes: p.successes,
            trials: p.trials,
            rate: p.rate(),
            interval_low: interval.map(|i| i.0),
            interval_high: interval.map(|i| i.1),
        }
    }
}

/// A campaign's measured lift, as the API returns it. Rates and lifts are fractions
/// (0.041 is 4.1 points); the figures are null when a group has no clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub treated: GroupReport,
    pub control: GroupReport,
    /// Treated rate − control rate.
    pub absolute_lift: Option<f64>,
    /// The 95 % interval of the absolute lift (Newcombe's hybrid score method).
    pub lift_low: Option<f64>,
    pub lift_high: Option<f64>,
    /// Absolute lift / control rate; null when the control rate is 0.
    pub relative_lift: Option<f64>,
    /// Two-sided p-value of "same rate".
    pub p_value: Option<f64>,
    /// The test the p-value is from.
    pub test: Option<Test>,
    /// The smallest lift that matters, the verdict's yardstick.
    pub min_lift: f64,
    /// With `not_enough_data`: the clients still needed in each group.
    pub more_per_group: Option<u64>,
    pub verdict: VerdictKind,
    pub verdict_text: String,
}
