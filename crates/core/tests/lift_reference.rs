//! engage-core's lift statistics against scipy and statsmodels, through
//! `tools/lift_reference.py` run in the project's venv (`make venv` installs
//! tools/requirements.txt into `.venv`; `TOOLS_VENV` names another venv).

use engage_core::lift::{
    ALPHA, Comparison, GroupReport, Proportion, Test, clients_per_group_for, fisher_exact_p,
    z_test_p,
};
use serde_json::{Value, json};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python() -> PathBuf {
    let venv = std::env::var_os("TOOLS_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv"));
    let bin = venv.join("bin/python");
    let has_them = Command::new(&bin)
        .args(["-c", "import scipy.stats, statsmodels.stats.proportion"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has_them,
        "scipy and statsmodels are not installed in {}: run `make venv` (or `make test`), which installs tools/requirements.txt",
        venv.display()
    );
    bin
}

/// Runs the reference script on `queries`, one JSON line out for each line in.
fn reference(queries: &[Value]) -> Vec<Value> {
    let mut child = Command::new(python())
        .args(["-W", "ignore"])
        .arg(root().join("tools/lift_reference.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python starts");
    let mut input = String::new();
    for q in queries {
        input.push_str(&q.to_string());
        input.push('\n');
    }
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("the script runs");
    assert!(out.status.success(), "lift_reference.py failed");
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), queries.len());
    lines
}

#[track_caller]
fn close(what: &str, rust: f64, reference: f64, rel: f64) {
    let tol = rel * rust.abs().max(reference.abs()) + 1e-15;
    assert!(
        (rust - reference).abs() <= tol,
        "{what}: rust {rust:e}, reference {reference:e}"
    );
}

fn pair(v: &Value) -> (f64, f64) {
    (v[0].as_f64().unwrap(), v[1].as_f64().unwrap())
}

/// (treated successes, trials, control successes, trials).
const COUNTS: [(u64, u64, u64, u64); 17] = [
    (3, 20, 0, 18),
    (0, 20, 0, 18),
    (20, 20, 18, 18),
    (4100, 50000, 180, 2600),
    (3, 4, 1, 4),
    (1, 10, 4, 12),
    (0, 50, 5, 50),
    (50, 1000, 50, 1000),
    (120, 1000, 80, 1000),
    (5, 40, 1, 45),
    (2, 3000, 9, 3100),
    (1010, 20000, 1000, 20000),
    (7, 7, 0, 9),
    (300, 2000, 200, 2000),
    (15, 100, 5, 100),
    (0, 1, 1, 1),
    (40, 400, 3, 30),
];

#[test]
fn intervals_and_p_values_match_scipy_and_statsmodels() {
    let queries: Vec<Value> = COUNTS
        .iter()
        .map(|&(t_s, t_n, c_s, c_n)| json!({"t_s": t_s, "t_n": t_n, "c_s": c_s, "c_n": c_n}))
        .collect();
    let mut tests_seen = Vec::new();
    for (&(t_s, t_n, c_s, c_n), r) in COUNTS.iter().zip(reference(&queries)) {
        let case = format!("{t_s}/{t_n} vs {c_s}/{c_n}");
        let (t, c) = (Proportion::new(t_s, t_n), Proportion::new(c_s, c_n));
        let cmp = Comparison::new(t, c);
        for (name, group, reference) in [
            ("treated", GroupReport::of(t), &r["treated_wilson"]),
            ("control", GroupReport::of(c), &r["control_wilson"]),
        ] {
            let (lo, hi) = pair(reference);
            close(
                &format!("{case}: {name} Wilson low"),
                group.interval_low.unwrap(),
                lo,
                1e-9,
            );
            close(
                &format!("{case}: {name} Wilson high"),
                group.interval_high.unwrap(),
                hi,
                1e-9,
            );
        }
        let (lo, hi) = cmp.interval.unwrap();
        let (rlo, rhi) = pair(&r["newcombe"]);
        close(&format!("{case}: Newcombe low"), lo, rlo, 1e-9);
        close(&format!("{case}: Newcombe high"), hi, rhi, 1e-9);

        let fisher = fisher_exact_p(t, c).unwrap();
        close(
            &format!("{case}: Fisher p"),
            fisher,
            r["fisher_p"].as_f64().unwrap(),
            1e-9,
        );
        let z = z_test_p(t, c).unwrap();
        match r["z_p"].as_f64() {
            Some(rz) => close(&format!("{case}: z-test p"), z, rz, 1e-9),
            // The pooled rate is 0 or 1: no difference, p = 1 (statsmodels divides by 0).
            None => assert_eq!(z, 1.0, "{case}"),
        }
        let chosen = match cmp.test.unwrap() {
            Test::ZTest => z,
            Test::FisherExact => fisher,
        };
        assert_eq!(cmp.p_value, Some(chosen), "{case}");
        tests_seen.push(cmp.test.unwrap());
    }
    assert!(tests_seen.contains(&Test::ZTest) && tests_seen.contains(&Test::FisherExact));
}

#[test]
fn sample_sizes_match_the_formula_with_scipy_quantiles() {
    let cases = [
        (0.05, 0.02, ALPHA, 0.8),
        (0.1, 0.02, ALPHA, 0.8),
        (0.0, 0.02, ALPHA, 0.8),
        (0.3, 0.05, ALPHA, 0.8),
        (0.07, -0.02, ALPHA, 0.8),
        (0.5, 0.01, ALPHA, 0.8),
        (0.069, 0.02, ALPHA, 0.8),
        (0.02, 0.005, 0.01, 0.9),
    ];
    let queries: Vec<Value> = cases
        .iter()
        .map(|&(b, l, a, p)| json!({"baseline": b, "lift": l, "alpha": a, "power": p}))
        .collect();
    for (&(b, l, a, p), r) in cases.iter().zip(reference(&queries)) {
        let n = clients_per_group_for(b, l, a, p);
        let exact = r["n_exact"].as_f64().unwrap();
        // Not an integer by chance, so rounding up cannot differ.
        assert!(exact.ceil() - exact > 1e-6, "{exact}");
        assert_eq!(Some(n), r["n"].as_u64(), "baseline {b}, lift {l}: {exact}");
    }
}
