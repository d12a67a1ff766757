//! A share of clients who converted, its Wilson score interval, and the standard
//! normal distribution the intervals and tests are read from.

use libm::erfc;
use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc_inv;
use std::f64::consts::SQRT_2;

/// `successes` of `trials` clients converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

impl Proportion {
    /// `successes` of `trials`. Successes above the trials are capped at the trials, so
    /// that a rate is never above 1.
    pub fn new(successes: u64, trials: u64) -> Self {
        Self {
            successes: successes.min(trials),
            trials,
        }
    }

    /// The observed rate, successes / trials; `None` with no trials.
    pub fn rate(&self) -> Option<f64> {
        (self.trials > 0).then(|| self.successes.min(self.trials) as f64 / self.trials as f64)
    }

    /// The Wilson score interval for the rate (Wilson 1927, "Probable inference, the
    /// law of succession, and statistical inference", JASA 22): the rates p whose
    /// score test |p̂ − p| / sqrt(p(1 − p)/n) is at most `z`, that is
    /// (p̂ + z²/2n ± z·sqrt(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n). `z` is the normal
    /// quantile, 1.959964 for 95 %. Unlike the textbook p̂ ± z·SE it stays within
    /// [0, 1] and is not empty at 0 or n successes. `None` with no trials.
    pub fn wilson(&self, z: f64) -> Option<(f64, f64)> {
        let p = self.rate()?;
        let n = self.trials as f64;
        let z2 = z * z;
        let denom = 1.0 + z2 / n;
        let center = (p + z2 / (2.0 * n)) / denom;
        let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
        // At 0 or n successes one end is 0 or 1 up to rounding.
        Some(((center - half).max(0.0), (center + half).min(1.0)))
    }
}

/// The upper-tail probability of the standard normal, P(Z > x) = erfc(x/√2)/2.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * erfc(x / SQRT_2)
}

/// The standard normal's upper quantile: the z with P(Z > z) = `q`, for q in (0, 1):
/// √2·erfc⁻¹(2q). `upper_quantile(0.025)` is 1.959964, the z of 95 % intervals.
pub fn upper_quantile(q: f64) -> f64 {
    SQRT_2 * erfc_inv(2.0 * q)
}

/// The z of a two-sided interval of confidence 1 − `alpha`: `upper_quantile(alpha/2)`.
pub fn z_two_sided(alpha: f64) -> f64 {
    upper_quantile(alpha / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_trials_has_no_rate_nor_interval() {
        let p = Proportion::new(0, 0);
        assert_eq!(p.rate(), None);
        assert_eq!(p.wilson(1.96), None);
    }

    #[test]
    fn zero_and_all_successes_keep_the_interval_in_0_1() {
        let z = z_two_sided(0.05);
        let (lo, hi) = Proportion::new(0, 10).wilson(z).unwrap();
        assert_eq!(lo, 0.0);
        assert!(hi > 0.0 && hi < 1.0);
        let (lo2, hi2) = Proportion::new(10, 10).wilson(z).unwrap();
        assert_eq!(hi2, 1.0);
        assert!((lo2 - (1.0 - hi)).abs() < 1e-12, "symmetric: {lo2} vs {hi}");
    }

    #[test]
    fn normal_figures() {
        assert!((z_two_sided(0.05) - 1.959_963_984_540_054).abs() < 1e-12);
        assert!((upper_quantile(0.2) - 0.841_621_233_572_914_3).abs() < 1e-12);
        let sf = normal_sf(1.959_963_984_540_054);
        assert!((sf - 0.025).abs() < 1e-15, "{sf}");
        assert_eq!(normal_sf(0.0), 0.5);
    }

    #[test]
    fn successes_are_capped_at_the_trials() {
        assert_eq!(Proportion::new(7, 5).rate(), Some(1.0));
    }
}
