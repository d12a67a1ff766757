//! How many clients each group needs to show a given lift.

use super::proportion::{upper_quantile, z_two_sided};

/// The significance level verdicts use: 95 % intervals, two-sided tests at 5 %.
pub const ALPHA: f64 = 0.05;
/// The power [`clients_per_group_for`] is asked for by the verdicts: 80 %.
pub const POWER: f64 = 0.8;

/// The clients per group (equal groups) that a two-sided test at level `alpha` needs
/// to see a rise of the conversion rate from `baseline` to `baseline + lift` with
/// probability `power`, by the usual normal-approximation formula for two
/// proportions (Fleiss, Levin and Paik 2003, "Statistical methods for rates and
/// proportions", 4.14 without continuity correction):
/// n = (z₁₋α/₂·sqrt(2p̄(1 − p̄)) + z₁₋β·sqrt(p₁(1 − p₁) + p₂(1 − p₂)))² / (p₂ − p₁)²,
/// with p₁ = baseline, p₂ = baseline + lift and p̄ = (p₁ + p₂)/2, rounded up.
///
/// `baseline` is clamped to [0, 1] and p₂ too (a lift cannot take the rate above 1).
/// A lift of 0 (or one that clamping makes 0), or any figure that is not finite,
/// needs more clients than there are: `u64::MAX`.
pub fn clients_per_group_for(baseline: f64, lift: f64, alpha: f64, power: f64) -> u64 {
    if !(baseline.is_finite() && lift.is_finite() && alpha > 0.0 && alpha < 1.0) {
        return u64::MAX;
    }
    if !(power > 0.0 && power < 1.0) {
        return u64::MAX;
    }
    let p1 = baseline.clamp(0.0, 1.0);
    let p2 = (p1 + lift).clamp(0.0, 1.0);
    let d = p2 - p1;
    if d == 0.0 {
        return u64::MAX;
    }
    let mean = (p1 + p2) / 2.0;
    let za = z_two_sided(alpha);
    let zb = upper_quantile(1.0 - power);
    let a =
        za * (2.0 * mean * (1.0 - mean)).sqrt() + zb * (p1 * (1.0 - p1) + p2 * (1.0 - p2)).sqrt();
    let n = (a * a / (d * d)).ceil();
    if n.is_finite() && n < u64::MAX as f64 {
        (n as u64).max(1)
    } else {
        u64::MAX
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_textbook_figure() {
        // 5 % to 7 %, two-sided 5 %, power 80 %: 2 213 per group (Fleiss without
        // the continuity correction).
        assert_eq!(clients_per_group_for(0.05, 0.02, ALPHA, POWER), 2213);
    }

    #[test]
    fn degenerate_inputs_never_panic() {
        assert_eq!(clients_per_group_for(0.05, 0.0, ALPHA, POWER), u64::MAX);
        assert_eq!(clients_per_group_for(1.0, 0.02, ALPHA, POWER), u64::MAX);
        assert_eq!(
            clients_per_group_for(f64::NAN, 0.02, ALPHA, POWER),
            u64::MAX
        );
        assert!(clients_per_group_for(0.0, 0.02, ALPHA, POWER) > 0);
        assert_eq!(clients_per_group_for(0.05, 0.02, 0.0, POWER), u64::MAX);
    }

    #[test]
    fn a_harm_needs_as_many_as_the_mirrored_lift() {
        assert_eq!(
            clients_per_group_for(0.07, -0.02, ALPHA, POWER),
            clients_per_group_for(0.05, 0.02, ALPHA, POWER)
        );
    }
}
