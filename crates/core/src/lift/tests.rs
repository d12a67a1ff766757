use super::*;

fn p(s: u64, n: u64) -> Proportion {
    Proportion::new(s, n)
}

fn no_nan(c: &Comparison) {
    let figures = [
        c.absolute_lift,
        c.interval.map(|i| i.0),
        c.interval.map(|i| i.1),
        c.relative_lift,
        c.p_value,
    ];
    for f in figures.into_iter().flatten() {
        assert!(f.is_finite(), "{c:?}");
    }
    if let Some(p) = c.p_value {
        assert!((0.0..=1.0).contains(&p), "{c:?}");
    }
}

#[test]
fn no_trials_gives_no_figures_and_no_data() {
    for (t, c) in [(p(0, 0), p(3, 10)), (p(3, 10), p(0, 0)), (p(0, 0), p(0, 0))] {
        let cmp = Comparison::new(t, c);
        assert_eq!(cmp.absolute_lift, None);
        assert_eq!(cmp.interval, None);
        assert_eq!(cmp.p_value, None);
        assert_eq!(cmp.test, None);
        let v = cmp.verdict(0.02);
        assert_eq!(v, Verdict::NoData);
        assert_eq!(v.describe(), "no clients in one of the groups yet");
    }
}

#[test]
fn edge_counts_never_give_nan() {
    let counts = [
        (0, 1),
        (1, 1),
        (0, 20),
        (20, 20),
        (3, 20),
        (0, 18),
        (18, 18),
        (1, 2),
    ];
    for &(ts, tn) in &counts {
        for &(cs, cn) in &counts {
            let cmp = Comparison::new(p(ts, tn), p(cs, cn));
            no_nan(&cmp);
            let (lo, hi) = cmp.interval.unwrap();
            assert!(
                (-1.0..=1.0).contains(&lo) && (-1.0..=1.0).contains(&hi),
                "{cmp:?}"
            );
            assert!(lo <= cmp.absolute_lift.unwrap() && cmp.absolute_lift.unwrap() <= hi);
            let r = cmp.report(0.02);
            assert!(serde_json::to_string(&r).is_ok());
        }
    }
}

#[test]
fn zero_control_rate_has_no_relative_lift() {
    let cmp = Comparison::new(p(3, 20), p(0, 18));
    assert_eq!(cmp.relative_lift, None);
    assert_eq!(cmp.test, Some(Test::FisherExact));
    let cmp = Comparison::new(p(30, 200), p(20, 200));
    assert!((cmp.relative_lift.unwrap() - 0.5).abs() < 1e-12);
}

#[test]
fn identical_groups() {
    let cmp = Comparison::new(p(50, 1000), p(50, 1000));
    assert_eq!(cmp.absolute_lift, Some(0.0));
    let (lo, hi) = cmp.interval.unwrap();
    assert!((lo + hi).abs() < 1e-15, "symmetric: {lo} {hi}");
    assert!((cmp.p_value.unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(cmp.test, Some(Test::ZTest));
}

#[test]
fn a_clear_lift() {
    let cmp = Comparison::new(p(4100, 50000), p(180, 2600));
    let v = cmp.verdict(0.02);
    assert_eq!(v.kind(), VerdictKind::Lift);
    let text = v.describe();
    assert!(
        text.starts_with(
            "raised the conversion rate by 1.3 points (95 % interval 0.2 to 2.2 points, p = 0."
        ),
        "{text}"
    );
}

#[test]
fn a_harm() {
    let v = Comparison::new(p(100, 2000), p(200, 2000)).verdict(0.02);
    assert_eq!(v.kind(), VerdictKind::Harm);
    assert!(
        v.describe()
            .starts_with("lowered the conversion rate by 5.0 points (95 % interval "),
        "{}",
        v.describe()
    );
    assert!(v.describe().ends_with("p < 0.001)"), "{}", v.describe());
}

#[test]
fn no_lift_when_the_interval_is_narrow_around_0() {
    let v = Comparison::new(p(1010, 20000), p(1000, 20000)).verdict(0.02);
    assert_eq!(v.kind(), VerdictKind::NoLift);
    let text = v.describe();
    assert!(
        text.starts_with("no lift: the interval \u{2212}0."),
        "{text}"
    );
    assert!(
        text.ends_with("points rules out a lift of 2 points"),
        "{text}"
    );
}

#[test]
fn not_enough_data_counts_the_clients_still_needed() {
    let cmp = Comparison::new(p(6, 100), p(5, 90));
    let v = cmp.verdict(0.02);
    let needed = clients_per_group_for(5.0 / 90.0, 0.02, ALPHA, POWER);
    assert_eq!(
        v,
        Verdict::NotEnoughData {
            more_per_group: needed - 90,
            low: cmp.interval.unwrap().0,
            high: cmp.interval.unwrap().1,
            min_lift: 0.02,
        }
    );
    assert_eq!(
        v.describe(),
        format!(
            "not enough data yet: about {} more clients per group would show a 2-point lift",
            needed - 90
        )
    );
}

#[test]
fn the_report_serialises_with_snake_case_tags() {
    let r = Comparison::new(p(3, 20), p(0, 18)).report(0.02);
    let j = serde_json::to_value(&r).unwrap();
    assert_eq!(j["test"], "fisher_exact");
    assert_eq!(j["verdict"], "not_enough_data");
    assert_eq!(j["treated"]["successes"], 3);
    assert_eq!(j["treated"]["trials"], 20);
    assert_eq!(j["control"]["rate"], 0.0);
    assert!(j["control"]["interval_high"].as_f64().unwrap() > 0.0);
    assert!(j["relative_lift"].is_null());
    for key in [
        "absolute_lift",
        "lift_low",
        "lift_high",
        "p_value",
        "verdict_text",
        "more_per_group",
    ] {
        assert!(!j[key].is_null(), "{key}");
    }
    let none = serde_json::to_value(Comparison::new(p(0, 0), p(0, 0)).report(0.02)).unwrap();
    assert_eq!(none["verdict"], "no_data");
    assert!(none["p_value"].is_null());
}

#[test]
fn a_control_at_100_percent_still_gives_a_finite_count() {
    let v = Comparison::new(p(9, 10), p(10, 10)).verdict(0.02);
    let Verdict::NotEnoughData { more_per_group, .. } = v else {
        panic!("{v:?}");
    };
    assert!(
        more_per_group > 0 && more_per_group < 1_000_000,
        "{more_per_group}"
    );
}
