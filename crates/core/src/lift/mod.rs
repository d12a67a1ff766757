//! The statistics of measured lift: whether an email campaign raised the conversion
//! rate of the clients it was sent to above that of the random control group held out
//! from it. Pure arithmetic on counts; no I/O.
//!
//! - [`Proportion`]: a group's conversions, its rate and Wilson interval;
//! - [`Comparison`]: treated against control — the absolute lift with Newcombe's
//!   interval, the relative lift, and a two-sided p-value (z-test or Fisher exact);
//! - [`clients_per_group_for`]: the group size a lift needs;
//! - [`Verdict`]: what the figures say, in words, and [`Report`], what the API
//!   returns.
//!
//! The normal distribution: its tail probability from `libm`'s `erfc` (the Rust port
//! of musl's, within an ulp) and its quantiles from `statrs`' `erfc_inv` (Boost's
//! rational approximations), both small, well-kept crates, rather than
//! approximations of our own. `statrs` is used without its default features, so that
//! it brings in only `approx`; its own `erfc` (0.19) is off by about 1e-10 relative,
//! measured against scipy, hence `libm` for that one.

mod power;
mod proportion;
mod significance;
mod verdict;

pub use power::{ALPHA, POWER, clients_per_group_for};
pub use proportion::{Proportion, normal_sf, upper_quantile, z_two_sided};
pub use significance::{Test, choose_test, fisher_exact_p, smallest_expected_count, z_test_p};
pub use verdict::{GroupReport, Report, Verdict, VerdictKind};

/// The treated group against the control group, with the figures computed once.
/// Every figure is `None` when either group has no trials; none is ever NaN.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub treated: Proportion,
    pub control: Proportion,
    /// p̂_treated − p̂_control.
    pub absolute_lift: Option<f64>,
    /// The 95 % interval of the absolute lift (Newcombe's method 10).
    pub interval: Option<(f64, f64)>,
    /// absolute lift / p̂_control; `None` also when the control rate is 0.
    pub relative_lift: Option<f64>,
    /// The two-sided p-value of "same rate", from [`Comparison::test`].
    pub p_value: Option<f64>,
    pub test: Option<Test>,
}

impl Comparison {
    /// Computes the lift, its 95 % interval, the relative lift and the p-value.
    pub fn new(treated: Proportion, control: Proportion) -> Self {
        let treated = Proportion::new(treated.successes, treated.trials);
        let control = Proportion::new(control.successes, control.trials);
        let absolute_lift = treated.rate().zip(control.rate()).map(|(t, c)| t - c);
        let interval = newcombe_interval(treated, control, z_two_sided(ALPHA));
        let relative_lift = absolute_lift
            .zip(control.rate())
            .and_then(|(d, c)| (c > 0.0).then(|| d / c));
        let test = choose_test(treated, control);
        let p_value = match test {
            Some(Test::ZTest) => z_test_p(treated, control),
            Some(Test::FisherExact) => fisher_exact_p(treated, control),
            None => None,
        };
        Self {
            treated,
            control,
            absolute_lift,
            interval,
            relative_lift,
            p_value,
            test,
        }
    }
}

/// The interval of p̂₁ − p̂₂ by Newcombe's hybrid score method (Newcombe 1998,
/// "Interval estimation for the difference between independent proportions:
/// comparison of eleven methods", Statistics in Medicine 17, method 10), from the
/// groups' Wilson intervals (l₁, u₁) and (l₂, u₂):
/// d − sqrt((p̂₁ − l₁)² + (u₂ − p̂₂)²) to d + sqrt((u₁ − p̂₁)² + (p̂₂ − l₂)²).
/// It stays within [−1, 1] and behaves at 0 and n successes, unlike the Wald
/// interval. `z` is the normal quantile of the Wilson intervals (1.959964 for 95 %).
/// `None` when a group has no trials.
pub fn newcombe_interval(treated: Proportion, control: Proportion, z: f64) -> Option<(f64, f64)> {
    let (p1, p2) = (treated.rate()?, control.rate()?);
    let (l1, u1) = treated.wilson(z)?;
    let (l2, u2) = control.wilson(z)?;
    let d = p1 - p2;
    let low = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let high = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    // At 0 and n successes an end may pass ±1 by an ulp.
    Some((low.max(-1.0), high.min(1.0)))
}

#[cfg(test)]
mod tests;
