//! Worked examples derived by hand from the DoD Assessment Methodology v1.2.1.

use threadlog::controls::score::{score, ResultRow, Status};
use threadlog::controls::sprs;

fn all(status: Status) -> Vec<ResultRow> {
    sprs::weights()
        .iter()
        .map(|w| ResultRow {
            target: w.requirement.clone(),
            status,
        })
        .collect()
}

fn then(mut rows: Vec<ResultRow>, target: &str, status: Status) -> Vec<ResultRow> {
    rows.push(ResultRow {
        target: target.into(),
        status,
    });
    rows
}

#[test]
fn everything_met_is_110() {
    let s = score(&all(Status::Met));
    assert_eq!(s.score, Some(110));
    assert!(s.requirements.iter().all(|r| r.points_lost == 0));
}

#[test]
fn nothing_met_but_the_plan_is_minus_203() {
    let s = score(&then(all(Status::NotMet), "3.12.4", Status::Met));
    assert_eq!(s.score, Some(-203));
    let lost: u32 = s
        .requirements
        .iter()
        .map(|r| u32::from(r.points_lost))
        .sum();
    assert_eq!(lost, 313);
}

#[test]
fn without_a_system_security_plan_there_is_no_score() {
    let s = score(&then(all(Status::Met), "3.12.4", Status::NotMet));
    assert_eq!(s.score, None);
    assert!(s.reason.unwrap().contains("system security plan"));
    let s = score(&then(
        all(Status::Met),
        "3.12.4",
        Status::PartiallyMet(None),
    ));
    assert_eq!(s.score, None, "a partial plan is no plan");
}

#[test]
fn only_the_method_defined_partials_earn_anything() {
    let mfa = Status::PartiallyMet(Some("mfa_remote_and_privileged_only"));
    assert_eq!(
        score(&then(all(Status::Met), "3.5.3", mfa)).score,
        Some(107)
    );
    let fips = Status::PartiallyMet(Some("encryption_not_fips_validated"));
    assert_eq!(
        score(&then(all(Status::Met), "3.13.11", fips)).score,
        Some(107)
    );
    // Both at once: 110 - 3 - 3.
    let rows = then(then(all(Status::Met), "3.5.3", mfa), "3.13.11", fips);
    assert_eq!(score(&rows).score, Some(104));
    // Any other partial implementation is not implemented: the full value.
    let rows = then(all(Status::Met), "3.1.5", Status::PartiallyMet(None));
    assert_eq!(score(&rows).score, Some(107));
    let rows = then(all(Status::Met), "3.5.3", Status::PartiallyMet(None));
    assert_eq!(score(&rows).score, Some(105));
}

#[test]
fn features_not_permitted_cost_nothing() {
    let mut rows = all(Status::Met);
    for r in ["3.1.12", "3.1.13", "3.1.16", "3.1.17", "3.1.18"] {
        rows = then(rows, r, Status::NotApplicable);
    }
    let s = score(&rows);
    assert_eq!(s.score, Some(110));
    assert!(s.unusual_not_applicable.is_empty());
    // Not applicable elsewhere costs nothing either, but is shown to the auditor.
    let s = score(&then(all(Status::Met), "3.3.1", Status::NotApplicable));
    assert_eq!(s.score, Some(110));
    assert_eq!(s.unusual_not_applicable, ["3.3.1"]);
}

#[test]
fn a_requirement_is_met_only_when_every_objective_is() {
    // 3.1.1 met as a whole, then one objective found not met: 5 points lost.
    let rows = then(all(Status::Met), "3.1.1[c]", Status::NotMet);
    assert_eq!(score(&rows).score, Some(105));
    // A later result for the whole requirement supersedes the objective's.
    assert_eq!(score(&then(rows, "3.1.1", Status::Met)).score, Some(110));
    // Objectives alone: met only once all six are.
    let mut rows: Vec<ResultRow> = all(Status::Met)
        .into_iter()
        .filter(|r| r.target != "3.1.1")
        .collect();
    for o in ["a", "b", "c", "d", "e"] {
        rows = then(rows, &format!("3.1.1[{o}]"), Status::Met);
    }
    let s = score(&rows);
    assert_eq!(s.score, None, "3.1.1[f] is not assessed");
    assert_eq!(s.range, Some((110, 105)));
    assert_eq!(score(&then(rows, "3.1.1[f]", Status::Met)).score, Some(110));
}

#[test]
fn not_assessed_is_its_own_bucket() {
    let rows: Vec<ResultRow> = all(Status::Met)
        .into_iter()
        .filter(|r| r.target != "3.1.3" && r.target != "3.13.1")
        .collect();
    let s = score(&rows);
    assert_eq!(s.score, None);
    assert!(
        s.reason.as_ref().unwrap().contains("3.1.3, 3.13.1"),
        "{:?}",
        s.reason
    );
    assert_eq!(s.range, Some((110, 104)));
    let r = s
        .requirements
        .iter()
        .find(|r| r.requirement == "3.1.3")
        .unwrap();
    assert_eq!((r.status, r.points_lost), (Status::NotAssessed, 0));
}
