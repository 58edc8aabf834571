//! Compliance reports: the figures of a hand-derived scenario, golden renderings with the
//! checkpoint fixed, OSCAL schema validation, the report endpoint over a real socket, and
//! re-deriving a saved report from the log (`verify --report`) and from an export.

use crate::common;

use common::proc::cli;
use common::{cell_pipes, event, TestServer, HOSTILE};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use threadlog::api::auth::{new_token, token_hash};
use threadlog::compliance::render::{render, Format};
use threadlog::compliance::{
    build, CheckpointRef, EvidenceRef, LoggedResult, PlanOfAction, Report,
};
use threadlog::controls::score::Status;
use threadlog::controls::{catalog, Framework};
use threadlog::merkle::{self, Hash};
use threadlog::note;

mod endpoint;
mod escaping;
mod rederive;
mod renderings;
mod scoring;

pub(super) fn logged(index: u64, target: &str, status: Status) -> LoggedResult {
    let cat = catalog(Framework::Rev2);
    let requirement = cat
        .requirement(target)
        .map(|r| r.id.clone())
        .unwrap_or_else(|| cat.objective(target).unwrap().0.id.clone());
    LoggedResult {
        index,
        framework: Framework::Rev2,
        requirement,
        target: target.to_string(),
        status,
        result_id: format!("r-{index}"),
        assessor: "j.doe".into(),
        assessed_on: "2026-11-20".into(),
        effective_on: "2026-11-20".into(),
        justification: None,
        odp: None,
        plan_of_action: None,
        evidence: Vec::new(),
    }
}

pub(super) fn plan(mut r: LoggedResult, milestone: &str) -> LoggedResult {
    r.plan_of_action = Some(PlanOfAction {
        milestone: milestone.into(),
        description: format!("fix {} by {milestone}", r.target),
    });
    r
}

/// Every requirement met at entries 100…209 (checkpoint 210); then 3.1.1 not met, one
/// of its objectives met, MFA only for privileged users, encryption not met and remote
/// access not permitted (checkpoint 300); then encryption met (checkpoint 320).
pub(super) fn scenario() -> (Vec<LoggedResult>, Vec<u64>, HashMap<String, u64>) {
    let digest = format!("sha256:{}", "ab".repeat(32));
    let mut results: Vec<LoggedResult> = catalog(Framework::Rev2)
        .requirements
        .iter()
        .zip(100..)
        .map(|(r, i)| logged(i, &r.id, Status::Met))
        .collect();
    let mut evidence = logged(290, "3.1.1", Status::NotMet);
    evidence.evidence = vec![EvidenceRef::Entry(3), EvidenceRef::Digest(digest.clone())];
    results.push(plan(evidence, "2027-01-31"));
    results.push(logged(291, "3.1.1[a]", Status::Met));
    results.push(plan(
        logged(
            292,
            "3.5.3",
            Status::PartiallyMet(Some("mfa_remote_and_privileged_only")),
        ),
        "2027-02-28",
    ));
    results.push(plan(logged(293, "3.13.11", Status::NotMet), "2027-03-31"));
    let mut na = logged(294, "3.1.12", Status::NotApplicable);
    na.justification = Some("remote access is not permitted".into());
    results.push(na);
    results.push(logged(310, "3.13.11", Status::Met));
    let digests = HashMap::from([(digest, 4)]);
    (results, vec![210, 300, 320], digests)
}

pub(super) fn fixed_checkpoint(tree_size: u64) -> CheckpointRef {
    CheckpointRef {
        tree_size,
        root_hash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
        note: format!(
            "test.example/log\n{tree_size}\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} test.example/log AAAAAAAA\n"
        ),
        as_of: Some("2026-11-24T10:00:00.000000Z".into()),
    }
}

pub(super) fn scenario_report() -> Report {
    let (results, sizes, digests) = scenario();
    build(
        Framework::Rev2,
        fixed_checkpoint(320),
        &results,
        &sizes,
        &digests,
    )
}

pub(super) async fn assessor_named(s: &TestServer, name: &str) -> String {
    let t = new_token();
    s.store
        .insert_token(name, "assessor", &token_hash(&t), None)
        .await
        .unwrap();
    t
}

pub(super) fn assert_valid_oscal(doc: &Value) {
    let v = oscal_validator();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OSCAL: {errors:#?}");
}

pub(super) fn oscal_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!(
        "../../../controls/oscal-schemas/oscal_assessment-results_schema-v1.1.3.json"
    ))
    .unwrap();
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("NIST's schema compiles")
}

pub(super) fn result(id: &str, requirement: &str, status: &str) -> Value {
    json!({
        "result_id": id, "framework": "nist-800-171r2", "requirement": requirement,
        "status": status, "assessor": "j.doe", "assessed_on": "2026-11-20",
        "effective_on": "2026-11-20"
    })
}

/// Every Rev. 2 requirement met, then MFA partial: the log's report, fetched over HTTP.
pub(super) async fn assess(s: &TestServer) -> (u64, u64) {
    let token = assessor_named(s, "assessor-1").await;
    assert_eq!(s.post_events(&event("e-1")).await.0, 201);
    let before = s.tree_size().await;
    let all: Vec<Value> = catalog(Framework::Rev2)
        .requirements
        .iter()
        .map(|r| {
            let mut v = result(&format!("a-{}", r.id), &r.id, "met");
            v["evidence"] = json!([{"entry": 0}]);
            v
        })
        .collect();
    let (status, body) = s
        .post_raw(
            "/v1/controls/results",
            &token,
            Value::Array(all).to_string(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut mfa = result("b-3.5.3", "3.5.3", "partially_met");
    mfa["partial"] = json!("mfa_remote_and_privileged_only");
    mfa["plan_of_action"] = json!({"milestone": "2027-02-28", "description": "MFA for all"});
    let (status, body) = s
        .post_raw("/v1/controls/results", &token, mfa.to_string())
        .await;
    assert_eq!(status, 201, "{body}");
    (before, s.tree_size().await)
}
