//! The report endpoint over HTTP, on SQLite and on PostgreSQL, after assessments are
//! posted.

use super::*;

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
