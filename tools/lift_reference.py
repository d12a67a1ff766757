"""Reference figures for engage-core's lift statistics (crates/core/tests/lift_reference.rs).

Reads JSON lines on stdin and prints one JSON line for each, in order:

- counts, {"t_s": .., "t_n": .., "c_s": .., "c_n": ..} (treated and control successes
  and trials): the Wilson intervals of both groups (statsmodels' proportion_confint,
  method "wilson"), the Newcombe interval of the difference treated - control
  (confint_proportions_2indep, method "newcomb", compare "diff"), the pooled
  two-proportion z-test's two-sided p-value (proportions_ztest, whose default variance
  is the pooled one; null when the pooled rate is 0 or 1) and Fisher's exact test's
  two-sided p-value (scipy.stats.fisher_exact);
- a sample size, {"baseline": .., "lift": .., "alpha": .., "power": ..}: the clients
  per group of the two-proportion formula, computed here with scipy.stats.norm.ppf
  (statsmodels' NormalIndPower works on Cohen's h, another formula), unrounded and
  rounded up.

All at 95 %.
"""

import json
import math
import sys

from scipy.stats import fisher_exact, norm
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)


def counts(t_s, t_n, c_s, c_n):
    t_lo, t_hi = proportion_confint(t_s, t_n, alpha=0.05, method="wilson")
    c_lo, c_hi = proportion_confint(c_s, c_n, alpha=0.05, method="wilson")
    d_lo, d_hi = confint_proportions_2indep(
        t_s, t_n, c_s, c_n, method="newcomb", compare="diff", alpha=0.05
    )
    pooled = (t_s + c_s) / (t_n + c_n)
    z_p = None
    if 0 < pooled < 1:
        _, z_p = proportions_ztest([t_s, c_s], [t_n, c_n])
        z_p = float(z_p)
    fisher = fisher_exact([[t_s, t_n - t_s], [c_s, c_n - c_s]], alternative="two-sided")
    return {
        "treated_wilson": [float(t_lo), float(t_hi)],
        "control_wilson": [float(c_lo), float(c_hi)],
        "newcombe": [float(d_lo), float(d_hi)],
        "z_p": z_p,
        "fisher_p": float(fisher.pvalue),
    }


def sample_size(baseline, lift, alpha, power):
    p1, p2 = baseline, baseline + lift
    mean = (p1 + p2) / 2
    a = norm.ppf(1 - alpha / 2) * math.sqrt(2 * mean * (1 - mean)) + norm.ppf(
        power
    ) * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    n = a * a / (p2 - p1) ** 2
    return {"n_exact": n, "n": math.ceil(n)}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        q = json.loads(line)
        if "baseline" in q:
            out = sample_size(q["baseline"], q["lift"], q["alpha"], q["power"])
        else:
            out = counts(q["t_s"], q["t_n"], q["c_s"], q["c_n"])
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
