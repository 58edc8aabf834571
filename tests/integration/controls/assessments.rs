//! Assessment results are checked against the catalogs and against the log.

use super::*;

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

/// Five good results: evidence, a partial one with its plan, one not applicable, one of
/// rev. 3 with an ODP, and r-5 naming an objective instead of a requirement.
fn good_results(digest: &str) -> Value {
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
    let mut good = good;
    good[4].as_object_mut().unwrap().remove("requirement");
    good
}

/// Bad results, each with the field its refusal must name.
fn bad_results() -> Vec<(Value, &'static str)> {
    let not_met = result("x", "3.1.2", "not_met");
    vec![
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
    ]
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

    let good = good_results(&digest);
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
    for (body, field) in bad_results() {
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
