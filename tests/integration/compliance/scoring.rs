//! A hand-built scenario of logged results scores as derived by hand.

use super::*;

#[test]
fn the_scenario_scores_as_derived_by_hand() {
    let r = scenario_report();
    let sprs = r.sprs.as_ref().unwrap();
    // 110 − 5 (3.1.1 not met: objectives b–f still not met) − 3 (3.5.3, MFA partial);
    // 3.13.11 is met again; 3.1.12 is a feature not permitted.
    assert_eq!(sprs.score, Some(102), "{:?}", sprs.reason);
    assert_eq!((sprs.maximum, sprs.minimum), (110, -203));
    let points: Vec<(Option<i32>, u64)> = r.trend.iter().map(|t| (t.score, t.tree_size)).collect();
    assert_eq!(
        points,
        [(Some(110), 210), (Some(97), 300), (Some(102), 320)]
    );
    let t = &r.totals;
    assert_eq!(
        (
            t.requirements,
            t.met,
            t.partially_met,
            t.not_met,
            t.not_applicable,
            t.not_assessed
        ),
        (110, 107, 1, 1, 1, 0)
    );
    assert_eq!(t.implemented_of_total, "108/110");
    assert_eq!(t.percent_implemented, 98.2);
    let line = |id: &str| r.requirements.iter().find(|q| q.id == id).unwrap();
    let ac1 = line("3.1.1");
    assert_eq!((ac1.status.as_str(), ac1.points_lost), ("not_met", Some(5)));
    assert_eq!((ac1.objectives_met, ac1.objectives_total), (1, 6));
    assert_eq!(ac1.latest_result, Some(291));
    let cited: Vec<(u64, Option<&str>)> = ac1
        .evidence
        .iter()
        .map(|e| (e.entry, e.digest.as_deref()))
        .collect();
    assert_eq!(
        cited,
        [
            (3, None),
            (4, Some(&*format!("sha256:{}", "ab".repeat(32))))
        ]
    );
    assert_eq!(
        line("3.5.3").partial.as_deref(),
        Some("mfa_remote_and_privileged_only")
    );
    assert_eq!(line("3.5.3").points_lost, Some(3));
    assert_eq!(line("3.13.11").status, "met");
    assert_eq!(
        line("3.1.12").justification.as_deref(),
        Some("remote access is not permitted")
    );
    let poam: Vec<(&str, Option<&str>)> = r
        .poam
        .iter()
        .map(|p| (p.requirement.as_str(), p.milestone.as_deref()))
        .collect();
    assert_eq!(
        poam,
        [("3.1.1", Some("2027-01-31")), ("3.5.3", Some("2027-02-28"))]
    );
    let ac = r.families.iter().find(|f| f.id == "3.1").unwrap();
    assert_eq!(
        (ac.points_lost, ac.not_met, ac.not_applicable),
        (Some(5), 1, 1)
    );
    assert_eq!(r.results_considered, 116);
    assert_eq!(r.results.len(), 116);

    // The same results at an earlier checkpoint give that checkpoint's figures.
    let (results, _, digests) = scenario();
    let early = build(
        Framework::Rev2,
        fixed_checkpoint(300),
        &results,
        &[210, 300],
        &digests,
    );
    assert_eq!(early.sprs.unwrap().score, Some(97));
    assert_eq!(early.results_considered, 115);
}
