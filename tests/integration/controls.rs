//! The NIST SP 800-171 catalogs and the DoD methodology's values, as loaded from
//! `controls/`: counts, families, identifiers, and the score range the table implies;
//! and assessment results recorded through the API, checked against them.

use crate::common;

use common::{event, TestServer};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use threadlog::api::auth::{new_token, token_hash};
use threadlog::controls::sprs::{self, Points};
use threadlog::controls::{catalog, Framework};

fn per_family(f: Framework) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in &catalog(f).requirements {
        *m.entry(r.family.clone()).or_default() += 1;
    }
    m
}

#[test]
fn rev2_has_110_requirements_in_14_families_with_their_objectives() {
    let c = catalog(Framework::Rev2);
    assert_eq!(c.requirements.len(), 110);
    assert_eq!(c.families.len(), 14);
    // Requirements per family as published in SP 800-171 Rev. 2 (AC, AT, AU, CM, IA,
    // IR, MA, MP, PS, PE, RA, CA, SC, SI).
    let expected: BTreeMap<String, usize> = [
        ("3.1", 22),
        ("3.2", 3),
        ("3.3", 9),
        ("3.4", 9),
        ("3.5", 11),
        ("3.6", 3),
        ("3.7", 6),
        ("3.8", 9),
        ("3.9", 2),
        ("3.10", 6),
        ("3.11", 3),
        ("3.12", 4),
        ("3.13", 16),
        ("3.14", 7),
    ]
    .into_iter()
    .map(|(f, n)| (f.to_string(), n))
    .collect();
    assert_eq!(per_family(Framework::Rev2), expected);
    // SP 800-171A: 320 objectives, every requirement has some, ids are trimmed.
    let objectives: usize = c.requirements.iter().map(|r| r.objectives.len()).sum();
    assert_eq!(objectives, 320);
    assert!(c.requirements.iter().all(|r| !r.objectives.is_empty()));
    let r = c
        .requirement("3.2.1")
        .expect("the id with spaces in the source is trimmed");
    assert_eq!(r.family, "3.2");
    let ids: Vec<&str> = c
        .requirement("3.1.1")
        .unwrap()
        .objectives
        .iter()
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(
        ids,
        ["3.1.1[a]", "3.1.1[b]", "3.1.1[c]", "3.1.1[d]", "3.1.1[e]", "3.1.1[f]"]
    );
    assert_eq!(c.objective("3.5.3[d]").unwrap().0.id, "3.5.3");
}

#[test]
fn rev3_has_97_requirements_in_17_families_without_withdrawn_ones() {
    let c = catalog(Framework::Rev3);
    assert_eq!(c.requirements.len(), 97);
    assert_eq!(c.families.len(), 17);
    let fams = per_family(Framework::Rev3);
    assert_eq!(fams.len(), 17, "every family has requirements");
    assert_eq!(c.families.first().unwrap().id, "03.01");
    assert_eq!(c.families.last().unwrap().id, "03.17");
    // 03.01.13 is withdrawn in the catalog (incorporated into another requirement).
    assert!(c.requirement("03.01.13").is_none());
    assert!(c.requirement("03.01.12").is_some());
    let screening = c.requirement("03.09.01").unwrap();
    assert_eq!(screening.title, "Personnel Screening");
    assert_eq!(
        screening
            .objectives
            .iter()
            .map(|o| o.id.as_str())
            .collect::<Vec<_>>(),
        ["A.03.09.01.a", "A.03.09.01.b"]
    );
    assert_eq!(screening.parameters, ["A.03.09.01.ODP.01"]);
    assert!(c.requirements.iter().all(|r| !r.objectives.is_empty()));
}

#[test]
fn sprs_values_cover_rev2_and_span_110_to_minus_203() {
    let weights = sprs::weights();
    assert_eq!(weights.len(), 110);
    let rev2 = catalog(Framework::Rev2);
    for w in weights {
        assert!(
            rev2.requirement(&w.requirement).is_some(),
            "{}",
            w.requirement
        );
        if let Points::Value(p) = w.points {
            assert!([1, 3, 5].contains(&p), "{}: {p}", w.requirement);
        }
    }
    assert_eq!(sprs::MAX_SCORE, 110);
    assert_eq!(sprs::min_score(), -203);
    assert_eq!(sprs::weight("3.12.4").unwrap().points, Points::NotScored);
    let partial: Vec<(&str, u8)> = weights
        .iter()
        .filter_map(|w| w.partial.map(|p| (w.requirement.as_str(), p)))
        .collect();
    assert_eq!(partial, [("3.5.3", 3), ("3.13.11", 3)]);
    assert_eq!(sprs::weight("3.5.3").unwrap().points, Points::Value(5));
}

/// DoD Assessment Methodology v1.2.1 (June 24, 2020), Annex A: the points each Rev. 2
/// requirement not met subtracts from 110, in the methodology's order, typed in from the
/// methodology itself rather than read from `controls/sprs-weights-rev2.csv`, so a value
/// changed or two values swapped in the data fail here. `None`: 3.12.4, no score at all.
#[rustfmt::skip]
const DOD_ANNEX_A: [(&str, Option<u8>); 110] = [
    ("3.1.1", Some(5)), ("3.1.2", Some(5)), ("3.1.3", Some(1)), ("3.1.4", Some(1)),
    ("3.1.5", Some(3)), ("3.1.6", Some(1)), ("3.1.7", Some(1)), ("3.1.8", Some(1)),
    ("3.1.9", Some(1)), ("3.1.10", Some(1)), ("3.1.11", Some(1)), ("3.1.12", Some(5)),
    ("3.1.13", Some(5)), ("3.1.14", Some(1)), ("3.1.15", Some(1)), ("3.1.16", Some(5)),
    ("3.1.17", Some(5)), ("3.1.18", Some(5)), ("3.1.19", Some(3)), ("3.1.20", Some(1)),
    ("3.1.21", Some(1)), ("3.1.22", Some(1)),
    ("3.2.1", Some(5)), ("3.2.2", Some(5)), ("3.2.3", Some(1)),
    ("3.3.1", Some(5)), ("3.3.2", Some(3)), ("3.3.3", Some(1)), ("3.3.4", Some(1)),
    ("3.3.5", Some(5)), ("3.3.6", Some(1)), ("3.3.7", Some(1)), ("3.3.8", Some(1)),
    ("3.3.9", Some(1)),
    ("3.4.1", Some(5)), ("3.4.2", Some(5)), ("3.4.3", Some(1)), ("3.4.4", Some(1)),
    ("3.4.5", Some(5)), ("3.4.6", Some(5)), ("3.4.7", Some(5)), ("3.4.8", Some(5)),
    ("3.4.9", Some(1)),
    ("3.5.1", Some(5)), ("3.5.2", Some(5)), ("3.5.3", Some(5)), ("3.5.4", Some(1)),
    ("3.5.5", Some(1)), ("3.5.6", Some(1)), ("3.5.7", Some(1)), ("3.5.8", Some(1)),
    ("3.5.9", Some(1)), ("3.5.10", Some(5)), ("3.5.11", Some(1)),
    ("3.6.1", Some(5)), ("3.6.2", Some(5)), ("3.6.3", Some(1)),
    ("3.7.1", Some(3)), ("3.7.2", Some(5)), ("3.7.3", Some(1)), ("3.7.4", Some(3)),
    ("3.7.5", Some(5)), ("3.7.6", Some(1)),
    ("3.8.1", Some(3)), ("3.8.2", Some(3)), ("3.8.3", Some(5)), ("3.8.4", Some(1)),
    ("3.8.5", Some(1)), ("3.8.6", Some(1)), ("3.8.7", Some(5)), ("3.8.8", Some(3)),
    ("3.8.9", Some(1)),
    ("3.9.1", Some(3)), ("3.9.2", Some(5)),
    ("3.10.1", Some(5)), ("3.10.2", Some(5)), ("3.10.3", Some(1)), ("3.10.4", Some(1)),
    ("3.10.5", Some(1)), ("3.10.6", Some(1)),
    ("3.11.1", Some(3)), ("3.11.2", Some(5)), ("3.11.3", Some(1)),
    ("3.12.1", Some(5)), ("3.12.2", Some(3)), ("3.12.3", Some(5)), ("3.12.4", None),
    ("3.13.1", Some(5)), ("3.13.2", Some(5)), ("3.13.3", Some(1)), ("3.13.4", Some(1)),
    ("3.13.5", Some(5)), ("3.13.6", Some(5)), ("3.13.7", Some(1)), ("3.13.8", Some(3)),
    ("3.13.9", Some(1)), ("3.13.10", Some(1)), ("3.13.11", Some(5)), ("3.13.12", Some(1)),
    ("3.13.13", Some(1)), ("3.13.14", Some(1)), ("3.13.15", Some(5)), ("3.13.16", Some(1)),
    ("3.14.1", Some(5)), ("3.14.2", Some(5)), ("3.14.3", Some(5)), ("3.14.4", Some(5)),
    ("3.14.5", Some(3)), ("3.14.6", Some(5)), ("3.14.7", Some(3)),
];

#[test]
fn sprs_values_are_the_dod_methodology_table() {
    let ours: Vec<(&str, Option<u8>)> = sprs::weights()
        .iter()
        .map(|w| {
            let points = match w.points {
                Points::Value(p) => Some(p),
                Points::NotScored => None,
            };
            (w.requirement.as_str(), points)
        })
        .collect();
    for (theirs, ours) in DOD_ANNEX_A.iter().zip(&ours) {
        assert_eq!(theirs, ours, "requirement {}", theirs.0);
    }
    assert_eq!(ours.len(), DOD_ANNEX_A.len());
    let sum: i32 = DOD_ANNEX_A
        .iter()
        .filter_map(|(_, p)| p.map(i32::from))
        .sum();
    assert_eq!(sprs::MAX_SCORE - sum, -203);
    assert_eq!(sprs::min_score(), -203);
}

#[test]
fn frameworks_are_named_as_results_name_them() {
    for f in Framework::ALL {
        assert_eq!(f.as_str().parse::<Framework>(), Ok(f));
    }
    assert_eq!(
        "nist-800-53".parse::<Framework>(),
        Err("unknown framework \"nist-800-53\"; use nist-800-171r2 or nist-800-171r3".into())
    );
}

fn result(id: &str, requirement: &str, status: &str) -> Value {
    json!({
        "result_id": id,
        "framework": "nist-800-171r2",
        "requirement": requirement,
        "status": status,
        "assessor": "j.doe",
        "assessed_on": "2026-11-20",
        "effective_on": "2026-11-20"
    })
}

fn with(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

#[tokio::test]
async fn assessment_results_are_checked_against_the_catalogs_and_the_log() {
    let s = TestServer::start().await;
    let assessor = new_token();
    s.store
        .insert_token("assessor-1", "assessor", &token_hash(&assessor), None)
        .await
        .unwrap();
    // Evidence: an event, whose program digest is then an artifact the log names.
    assert_eq!(s.post_events(&event("e-1")).await.0, 201);
    let digest = format!("sha256:{}", "ab".repeat(32));
    let post = |body: Value| {
        let s = &s;
        let assessor = assessor.clone();
        async move {
            s.post_raw("/v1/controls/results", &assessor, body.to_string())
                .await
        }
    };

    let good = json!([
        with(
            result("r-1", "3.1.1", "met"),
            "evidence",
            json!([{"entry": 0}, {"digest": digest}])
        ),
        with(
            with(result("r-2", "3.5.3", "partially_met"), "partial", json!("mfa_remote_and_privileged_only")),
            "plan_of_action",
            json!({"milestone": "2027-02-28", "description": "MFA for every user"})
        ),
        with(result("r-3", "3.1.16", "not_applicable"), "justification", json!("no wireless in the enclave")),
        {
            "result_id": "r-4", "framework": "nist-800-171r3", "requirement": "03.09.01",
            "status": "met", "assessor": "j.doe", "assessed_on": "2026-11-20",
            "effective_on": "2026-11-21", "odp": {"A.03.09.01.ODP.01": "role change or 5 years"}
        },
        with(result("r-5", "3.1.1[a]", "met"), "objective", json!("3.1.1[a]")),
    ]);
    // r-5 names an objective instead of a requirement.
    let mut good = good;
    good[4].as_object_mut().unwrap().remove("requirement");
    let (status, receipts) = post(good.clone()).await;
    assert_eq!(status, 201, "{receipts}");
    assert_eq!(receipts.as_array().unwrap().len(), 5);
    let (status, _) = post(good).await;
    assert_eq!(status, 200, "a resubmission gets the first receipts");
    let (_, page) = s
        .get_json("/v1/entries?subject=control:nist-800-171r2:3.5.3")
        .await;
    let hits = page["entries"].as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["kind"], "control");
    assert_eq!(hits[0]["entry"]["submitter"], "assessor-1");
    let (_, page) = s
        .get_json("/v1/entries?subject=control:nist-800-171r2:3.1.1")
        .await;
    assert_eq!(
        page["entries"].as_array().unwrap().len(),
        2,
        "requirement and objective"
    );

    // Every bad result is a 422 naming the field, and nothing is appended.
    let size = s.tree_size().await;
    let not_met = result("x", "3.1.2", "not_met");
    for (body, field) in [
        (
            with(
                result("x", "3.1.1", "met"),
                "framework",
                json!("nist-800-53"),
            ),
            "framework",
        ),
        (result("x", "3.99.1", "met"), "requirement"),
        (
            with(result("x", "3.1.1", "met"), "status", json!("done")),
            "status",
        ),
        (result("x", "3.1.16", "not_applicable"), "justification"),
        (not_met.clone(), "plan_of_action"),
        (
            with(
                result("x", "3.1.1", "partially_met"),
                "partial",
                json!("mfa_remote_and_privileged_only"),
            ),
            "partial",
        ),
        (result("x", "3.13.11", "partially_met"), "partial"),
        (
            with(
                result("x", "3.1.1", "met"),
                "plan_of_action",
                json!({"milestone": "2027-01-01", "description": "d"}),
            ),
            "plan_of_action",
        ),
        (
            with(
                result("x", "3.1.1", "met"),
                "odp",
                json!({"A.03.09.01.ODP.01": "v"}),
            ),
            "odp",
        ),
        (
            with(
                result("x", "3.1.1", "met"),
                "assessed_on",
                json!("20 Nov 2026"),
            ),
            "assessed_on",
        ),
        (
            with(
                result("x", "3.1.1", "met"),
                "evidence",
                json!([{"entry": 999}]),
            ),
            "evidence[0].entry",
        ),
        (
            with(
                result("x", "3.1.1", "met"),
                "evidence",
                json!([{"digest": format!("sha256:{}", "cd".repeat(32))}]),
            ),
            "evidence[0].digest",
        ),
        (
            json!([
                result("ok", "3.1.1", "met"),
                with(result("x", "3.1.1", "met"), "colour", json!("red"))
            ]),
            "[1]",
        ),
    ] {
        let (status, err) = post(body).await;
        assert_eq!(status, 422, "{field}: {err}");
        let message = err["message"].as_str().unwrap();
        assert!(message.contains(field), "{field}: {message}");
    }
    assert_eq!(s.tree_size().await, size);

    // Only assessors record results.
    let (status, _) = s
        .post_raw(
            "/v1/controls/results",
            &s.producer,
            result("y", "3.1.1", "met").to_string(),
        )
        .await;
    assert_eq!(status, 403);
    assert!(s.audit().await.ok);
}

mod sprs_scenarios {
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
}
