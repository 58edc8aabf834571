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

fn logged(index: u64, target: &str, status: Status) -> LoggedResult {
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

fn plan(mut r: LoggedResult, milestone: &str) -> LoggedResult {
    r.plan_of_action = Some(PlanOfAction {
        milestone: milestone.into(),
        description: format!("fix {} by {milestone}", r.target),
    });
    r
}

/// Every requirement met at entries 100…209 (checkpoint 210); then 3.1.1 not met, one
/// of its objectives met, MFA only for privileged users, encryption not met and remote
/// access not permitted (checkpoint 300); then encryption met (checkpoint 320).
fn scenario() -> (Vec<LoggedResult>, Vec<u64>, HashMap<String, u64>) {
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

fn fixed_checkpoint(tree_size: u64) -> CheckpointRef {
    CheckpointRef {
        tree_size,
        root_hash: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
        note: format!(
            "test.example/log\n{tree_size}\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n\u{2014} test.example/log AAAAAAAA\n"
        ),
        as_of: Some("2026-11-24T10:00:00.000000Z".into()),
    }
}

fn scenario_report() -> Report {
    let (results, sizes, digests) = scenario();
    build(
        Framework::Rev2,
        fixed_checkpoint(320),
        &results,
        &sizes,
        &digests,
    )
}

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

#[test]
fn golden_renderings_are_stable() {
    let r = scenario_report();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/compliance");
    for (format, file) in [
        (Format::Json, "report.json"),
        (Format::Markdown, "report.md"),
        (Format::Html, "report.html"),
        (Format::Oscal, "report.oscal.json"),
    ] {
        let got = render(&r, format);
        let path = dir.join(file);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            std::fs::write(&path, &got).unwrap();
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("{} is missing; run with UPDATE_GOLDEN=1", path.display()));
        assert!(got == want, "{file} differs from the golden file; if the change is intended, run with UPDATE_GOLDEN=1 and review the diff");
    }
    // The JSON form reads back as the same report.
    let back: Report = serde_json::from_str(&render(&r, Format::Json)).unwrap();
    assert_eq!(back, r);
}

fn oscal_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!(
        "../../controls/oscal-schemas/oscal_assessment-results_schema-v1.1.3.json"
    ))
    .unwrap();
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("NIST's schema compiles")
}

fn assert_valid_oscal(doc: &Value) {
    let v = oscal_validator();
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(10)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "not valid OSCAL: {errors:#?}");
}

#[test]
fn oscal_documents_validate_against_nists_schema_and_are_deterministic() {
    let r = scenario_report();
    let doc: Value = serde_json::from_str(&render(&r, Format::Oscal)).unwrap();
    assert_valid_oscal(&doc);
    let result = &doc["assessment-results"]["results"][0];
    assert_eq!(result["findings"].as_array().unwrap().len(), 110);
    assert_eq!(result["observations"].as_array().unwrap().len(), 116);
    let ac1 = result["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"]["target-id"] == "SP_800_171_3.1.1")
        .unwrap();
    assert_eq!(ac1["target"]["status"]["state"], "not-satisfied");
    assert_eq!(ac1["related-observations"].as_array().unwrap().len(), 2);
    // Same log, same document; another checkpoint, another document uuid.
    assert_eq!(
        render(&r, Format::Oscal),
        render(&scenario_report(), Format::Oscal)
    );
    let (results, _, digests) = scenario();
    let early = build(
        Framework::Rev2,
        fixed_checkpoint(300),
        &results,
        &[210, 300],
        &digests,
    );
    let early: Value = serde_json::from_str(&render(&early, Format::Oscal)).unwrap();
    assert_ne!(
        early["assessment-results"]["uuid"],
        doc["assessment-results"]["uuid"]
    );
    assert_eq!(
        early["assessment-results"]["results"][0]["observations"][0]["uuid"],
        result["observations"][0]["uuid"],
        "an entry's observation keeps its uuid"
    );
    // Rev. 3 and an empty log are valid too.
    let empty = build(
        Framework::Rev3,
        fixed_checkpoint(0),
        &[],
        &[0],
        &HashMap::new(),
    );
    assert_valid_oscal(&serde_json::from_str(&render(&empty, Format::Oscal)).unwrap());
    // The validator does catch a broken document.
    let mut broken = doc.clone();
    broken["assessment-results"]["results"][0]["findings"][0]["target"]["status"]["state"] =
        json!("fine");
    assert!(!oscal_validator().is_valid(&broken));
}

fn result(id: &str, requirement: &str, status: &str) -> Value {
    json!({
        "result_id": id, "framework": "nist-800-171r2", "requirement": requirement,
        "status": status, "assessor": "j.doe", "assessed_on": "2026-11-20",
        "effective_on": "2026-11-20"
    })
}

/// Every Rev. 2 requirement met, then MFA partial: the log's report, fetched over HTTP.
async fn assess(s: &TestServer) -> (u64, u64) {
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

async fn report_endpoint(s: TestServer) {
    let (before, size) = assess(&s).await;
    let (status, body) = s
        .get("/v1/compliance/report?framework=nist-800-171r2", &s.auditor)
        .await;
    assert_eq!(status, 200, "{body}");
    let r: Report = serde_json::from_str(&body).unwrap();
    assert_eq!(r.checkpoint.tree_size, size);
    assert_eq!(r.sprs.as_ref().unwrap().score, Some(107));
    let trend: Vec<(u64, Option<i32>)> = r.trend.iter().map(|t| (t.tree_size, t.score)).collect();
    assert_eq!(trend, [(size - 1, Some(110)), (size, Some(107))]);
    assert_eq!(r.poam.len(), 1);
    // The checkpoint is the log's own, signed; every proof holds against it.
    let (_, note) = s.get(&format!("/v1/checkpoints/{size}"), &s.auditor).await;
    assert_eq!(r.checkpoint.note, note);
    let (cp, _) =
        note::open_checkpoint(&note, std::slice::from_ref(&s.verifier_key), &s.origin).unwrap();
    let root = Hash(cp.root_hash);
    let mut proved = 0;
    for q in &r.requirements {
        for (index, proof) in q
            .results
            .iter()
            .map(|x| (x.index, &x.inclusion_proof))
            .chain(q.evidence.iter().map(|e| (e.entry, &e.inclusion_proof)))
        {
            let leaf = s.store.entry(index).await.unwrap().unwrap().leaf;
            let proof: Vec<Hash> = proof
                .iter()
                .map(|h| Hash::from_base64(h).unwrap())
                .collect();
            merkle::verify_inclusion(&proof, index, size, &merkle::leaf_hash(&leaf), &root)
                .unwrap_or_else(|e| panic!("entry {index}: {e}"));
            proved += 1;
        }
    }
    assert_eq!(
        proved, 219,
        "110 deciding results, 109 evidence citations (the MFA result cites none)"
    );

    // As of the checkpoint before the results: nothing assessed, no score.
    let (_, body) = s
        .get(
            &format!("/v1/compliance/report?framework=nist-800-171r2&at={before}"),
            &s.auditor,
        )
        .await;
    let early: Report = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (early.results_considered, early.totals.not_assessed),
        (0, 110)
    );
    assert!(early.sprs.unwrap().reason.unwrap().contains("3.12.4"));

    for (format, content_type, needle) in [
        ("md", "text/markdown", "SPRS score 107 of 110"),
        ("html", "text/html", "<svg"),
        ("oscal", "application/json", "assessment-results"),
    ] {
        let resp = s
            .client
            .get(format!(
                "{}/v1/compliance/report?framework=nist-800-171r2&format={format}",
                s.url
            ))
            .bearer_auth(&s.auditor)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(content_type), "{format}: {ct}");
        let text = resp.text().await.unwrap();
        assert!(text.contains(needle), "{format}");
        if format == "oscal" {
            assert_valid_oscal(&serde_json::from_str(&text).unwrap());
        }
    }

    let size_before_errors = s.tree_size().await;
    for (query, status, field) in [
        ("framework=nist-800-53", 422, "framework"),
        ("", 422, "framework"),
        ("framework=nist-800-171r2&format=pdf", 422, "format"),
        ("framework=nist-800-171r2&at=2", 404, "tree size 2"),
        ("framework=nist-800-171r2&at=-1", 400, "at"),
        ("framework=nist-800-171r2&colour=red", 400, "colour"),
    ] {
        let (got, body) = s
            .get(&format!("/v1/compliance/report?{query}"), &s.auditor)
            .await;
        assert_eq!(got, status, "{query}: {body}");
        let err: Value = serde_json::from_str(&body).unwrap();
        assert!(
            err["message"].as_str().unwrap().contains(field),
            "{query}: {body}"
        );
    }
    let (status, _) = s
        .get(
            "/v1/compliance/report?framework=nist-800-171r2",
            &s.producer,
        )
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        s.tree_size().await,
        size_before_errors,
        "reports append nothing"
    );
    assert!(s.audit().await.ok);
}

mod report_endpoint {
    use super::*;
    #[tokio::test]
    async fn sqlite() {
        report_endpoint(TestServer::start().await).await
    }
    #[tokio::test]
    async fn postgres() {
        report_endpoint(TestServer::start_pg().await).await
    }
}

// The CLI runs as a blocking child process while this runtime serves its requests.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_report_is_rederived_from_the_log_and_from_an_export() {
    let s = TestServer::start().await;
    let (_, size) = assess(&s).await;
    let db = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());
    let work = tempfile::tempdir().unwrap();
    let saved = work.path().join("report.json");
    let (code, saved_json, out) = cli(
        &[
            "report",
            "--database-url",
            &db,
            "--framework",
            "nist-800-171r2",
            "--out",
            saved.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(saved_json, Value::Null, "--out writes the file, not stdout");
    let text = std::fs::read_to_string(&saved).unwrap();
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["checkpoint"]["tree_size"], size);

    // More results after the report do not change a report bound to its checkpoint.
    let token = assessor_named(&s, "assessor-2").await;
    let (status, _) = s
        .post_raw(
            "/v1/controls/results",
            &token,
            result("c-3.1.1", "3.1.1", "not_assessed").to_string(),
        )
        .await;
    assert_eq!(status, 201);

    let key = s.verifier_key.to_string();
    let verify = |file: &Path| {
        cli(
            &[
                "verify",
                "--database",
                &db,
                "--key",
                &key,
                "--no-state",
                "--report",
                file.to_str().unwrap(),
            ],
            &[],
        )
    };
    let (code, v, out) = verify(&saved);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["compliance_report"]["ok"], true, "{v}");
    assert_eq!(v["compliance_report"]["proofs_checked"], 111);

    // Over HTTP, with the auditor's token, the same.
    let (code, v, out) = cli(
        &[
            "verify",
            "--url",
            &s.url,
            "--key",
            &key,
            "--token",
            &s.auditor,
            "--no-state",
            "--report",
            saved.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["compliance_report"]["ok"], true);

    // Any figure changed is named; so is a proof or a checkpoint changed.
    for (path, value, named) in [
        ("/sprs/score", json!(110), "sprs.score"),
        ("/totals/met", json!(110), "totals.met"),
        (
            "/requirements/0/status",
            json!("not_met"),
            "requirements[0].status",
        ),
        ("/trend/0/score", json!(107), "trend[0].score"),
        (
            "/requirements/0/evidence/0/inclusion_proof/0",
            json!(Hash([7; 32]).to_base64()),
            "inclusion proof of entry 0",
        ),
        (
            "/checkpoint/note",
            json!(report["checkpoint"]["note"]
                .as_str()
                .unwrap()
                .replace("\n\u{2014}", "\n\u{2014} ")),
            "checkpoint.note",
        ),
        ("/checkpoint/tree_size", json!(size - 1), "checkpoint"),
    ] {
        let mut bad = report.clone();
        *bad.pointer_mut(path).unwrap() = value;
        let file = work.path().join("bad.json");
        std::fs::write(&file, serde_json::to_vec(&bad).unwrap()).unwrap();
        let (code, v, out) = verify(&file);
        assert_eq!(code, 1, "{path}: {out}");
        let problems = v["compliance_report"]["problems"].to_string();
        assert!(problems.contains(named), "{path}: {problems}");
    }

    // An export of the log, imported elsewhere, gives the same report at that size.
    let dump = work.path().join("dump");
    let (code, _, out) = cli(
        &[
            "export",
            "--database-url",
            &db,
            "--out",
            dump.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let copy = format!("sqlite://{}", work.path().join("copy.db").display());
    let (code, _, out) = cli(
        &[
            "import",
            "--database-url",
            &copy,
            "--from",
            dump.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    let (code, again, out) = cli(
        &[
            "report",
            "--database-url",
            &copy,
            "--framework",
            "nist-800-171r2",
            "--at",
            &size.to_string(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}");
    assert_eq!(again, report);
}

async fn assessor_named(s: &TestServer, name: &str) -> String {
    let t = new_token();
    s.store
        .insert_token(name, "assessor", &token_hash(&t), None)
        .await
        .unwrap();
    t
}

/// Uploaded text comes back as text in the Markdown and HTML reports, never as markup:
/// no raw `<script>`, every table row keeps its cells, and the HTML page is served with a
/// policy that would not run a script anyway.
#[tokio::test]
async fn uploaded_text_is_escaped_in_the_markdown_and_html_reports() {
    let s = TestServer::start().await;
    let token = assessor_named(&s, "assessor-1").await;
    assert_eq!(s.post_events(&event("e-1")).await.0, 201);
    let mut r = result("x-3.1.1", "3.1.1", "not_met");
    r["assessor"] = json!(HOSTILE);
    r["plan_of_action"] = json!({"milestone": "2027-02-28", "description": HOSTILE});
    // A line break never gets into a result's text.
    let mut broken = r.clone();
    broken["plan_of_action"]["description"] = json!(format!("{HOSTILE}\nright"));
    let (status, body) = s
        .post_raw("/v1/controls/results", &token, broken.to_string())
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = s
        .post_raw("/v1/controls/results", &token, r.to_string())
        .await;
    assert_eq!(status, 201, "{body}");

    let get = |format: &'static str| {
        s.client
            .get(format!(
                "{}/v1/compliance/report?framework=nist-800-171r2&format={format}",
                s.url
            ))
            .bearer_auth(&s.auditor)
            .send()
    };

    let resp = get("md").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let md = resp.text().await.unwrap();
    assert!(!md.contains("<script>"), "{md}");
    let row = md
        .lines()
        .find(|l| l.contains("&lt;script&gt;"))
        .unwrap_or_else(|| panic!("the plan is not in the report: {md}"));
    assert!(
        row.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co \\| left |"),
        "{row}"
    );
    assert!(row.starts_with("| 3.1.1 "), "{row}");
    // Six columns: seven separators, as in the table's header row.
    let header = md
        .lines()
        .find(|l| l.starts_with("| requirement | status | points lost | milestone | plan"))
        .unwrap();
    assert_eq!(cell_pipes(header), 7, "{header}");
    assert_eq!(cell_pipes(row), 7, "{row}");

    let resp = get("html").await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script"), "{html}");
    let escaped = "<td>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co | left</td>";
    let at = html.find(escaped).unwrap_or_else(|| panic!("{html}"));
    // The row around it keeps its six cells.
    let start = html[..at].rfind("<tr>").unwrap();
    let end = at + html[at..].find("</tr>").unwrap();
    let tr = &html[start..end];
    assert_eq!(tr.matches("<td").count(), 6, "{tr}");
    assert_eq!(tr.matches("</td>").count(), 6, "{tr}");

    // JSON carries the text as it was uploaded; only the renderings escape it.
    let resp = get("json").await.unwrap();
    assert!(resp.headers().get("content-security-policy").is_none());
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["poam"][0]["description"], HOSTILE, "{v}");
    s.stop().await;
}
