//! Two-sided p-values for "the two groups convert at the same rate": the pooled
//! two-proportion z-test for large counts, Fisher's exact test for small ones.

use super::proportion::{Proportion, normal_sf};
use serde::{Deserialize, Serialize};

/// Which test gave a p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// The pooled two-proportion z-test.
    ZTest,
    /// Fisher's exact test, two-sided.
    FisherExact,
}

/// The smallest expected count of any cell of the 2×2 table (groups × converted or
/// not) under "same rate": min(row total) × min(column total) / N. `None` when a
/// group has no trials.
pub fn smallest_expected_count(treated: Proportion, control: Proportion) -> Option<f64> {
    let (a, b) = (treated.trials, control.trials);
    if a == 0 || b == 0 {
        return None;
    }
    let n = (a + b) as f64;
    let s = treated.successes.min(a) + control.successes.min(b);
    let rows = a.min(b) as f64;
    let cols = s.min(a + b - s) as f64;
    Some(rows * cols / n)
}

/// The test the p-value is taken from: the z-test when every expected cell count is
/// at least 5 (Cochran's rule), else Fisher's exact test. `None` when a group has no
/// trials.
pub fn choose_test(treated: Proportion, control: Proportion) -> Option<Test> {
    let e = smallest_expected_count(treated, control)?;
    Some(if e >= 5.0 {
        Test::ZTest
    } else {
        Test::FisherExact
    })
}

/// The two-sided p-value of the pooled two-proportion z-test: with the pooled rate
/// p = (s₁ + s₂)/(n₁ + n₂), z = (p̂₁ − p̂₂) / sqrt(p(1 − p)(1/n₁ + 1/n₂)) and
/// p-value = 2·P(Z > |z|) (the score test for two proportions; statsmodels'
/// `proportions_ztest`). 1 when the pooled rate is 0 or 1 (no difference can be
/// seen); `None` when a group has no trials.
pub fn z_test_p(treated: Proportion, control: Proportion) -> Option<f64> {
    let (p1, p2) = (treated.rate()?, control.rate()?);
    let (n1, n2) = (treated.trials as f64, control.trials as f64);
    let pooled = (treated.successes + control.successes) as f64 / (n1 + n2);
    let var = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2);
    if var <= 0.0 {
        return Some(1.0);
    }
    let z = (p1 - p2) / var.sqrt();
    Some((2.0 * normal_sf(z.abs())).min(1.0))
}

/// The relative tolerance under which another table counts as being as likely as the
/// observed one (R's `fisher.test` uses 1e-7; scipy 1e-14): it keeps tables whose
/// probabilities are equal in exact arithmetic but not in floating point.
const FISHER_TOLERANCE: f64 = 1e-7;

/// The two-sided p-value of Fisher's exact test (Fisher 1935, "The logic of
/// inductive inference"; scipy's `fisher_exact`): given the margins, the number of
/// treated successes is hypergeometric, and the p-value is the total probability of
/// the tables no more likely than the observed one (up to a relative 1e-7). The
/// probabilities come from the ratio of consecutive terms,
/// P(x+1)/P(x) = (K − x)(n − x) / ((x + 1)(N − K − n + x + 1)), summed in logs
/// from the support's low end: no factorials, so exact enough for any N; the
/// support is never longer than the smallest margin. `None` when a group has no
/// trials.
pub fn fisher_exact_p(treated: Proportion, control: Proportion) -> Option<f64> {
    if treated.trials == 0 || control.trials == 0 {
        return None;
    }
    let n = treated.trials; // draws
    let total = treated.trials + control.trials;
    let k = treated.successes.min(treated.trials) + control.successes.min(control.trials);
    let x_obs = treated.successes.min(treated.trials);
    let lo = (n + k).saturating_sub(total);
    let hi = n.min(k);
    let len = usize::try_from(hi - lo + 1).ok()?;
    let mut logs = Vec::with_capacity(len);
    let mut l = 0.0_f64;
    logs.push(l);
    for x in lo..hi {
        let num = ((k - x) as f64).ln() + ((n - x) as f64).ln();
        let den = ((x + 1) as f64).ln() + ((total + x + 1 - k - n) as f64).ln();
        l += num - den;
        logs.push(l);
    }
    let max = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let weights: Vec<f64> = logs.iter().map(|l| (l - max).exp()).collect();
    let sum: f64 = weights.iter().sum();
    let observed = weights[usize::try_from(x_obs - lo).ok()?];
    let limit = observed * (1.0 + FISHER_TOLERANCE);
    let tail: f64 = weights.iter().filter(|&&w| w <= limit).sum();
    Some((tail / sum).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: u64, n: u64) -> Proportion {
        Proportion::new(s, n)
    }

    #[test]
    fn identical_groups_give_p_1() {
        assert_eq!(fisher_exact_p(p(3, 20), p(3, 20)), Some(1.0));
        assert!((z_test_p(p(300, 2000), p(300, 2000)).unwrap() - 1.0).abs() < 1e-15);
    }

    #[test]
    fn the_lady_tasting_tea() {
        // Fisher's own example: 3 of 4 cups right each way, p = 0.4857 (34/70).
        let v = fisher_exact_p(p(3, 4), p(1, 4)).unwrap();
        assert!((v - 34.0 / 70.0).abs() < 1e-12, "{v}");
    }

    #[test]
    fn no_successes_anywhere() {
        assert_eq!(fisher_exact_p(p(0, 20), p(0, 18)), Some(1.0));
        assert_eq!(z_test_p(p(0, 20), p(0, 18)), Some(1.0));
        assert_eq!(choose_test(p(0, 20), p(0, 18)), Some(Test::FisherExact));
        assert_eq!(choose_test(p(20, 20), p(18, 18)), Some(Test::FisherExact));
    }

    #[test]
    fn the_test_follows_the_expected_counts() {
        assert_eq!(choose_test(p(3, 20), p(0, 18)), Some(Test::FisherExact));
        assert_eq!(choose_test(p(4100, 50000), p(180, 2600)), Some(Test::ZTest));
        assert_eq!(choose_test(p(1, 0), p(0, 18)), None);
    }
}
