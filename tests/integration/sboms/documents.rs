//! SBOM documents are logged and served back unchanged, and an altered or lost document
//! fails verification.

use super::*;

both!(documents_are_logged_and_served_back_unchanged);
async fn documents_are_logged_and_served_back_unchanged(s: TestServer) {
    let cases = [
        ("cargo-threadlog-1.5.json", JSON, "1.5", "json", image(1)),
        ("cargo-threadlog-1.4.xml", XML, "1.4", "xml", image(1)),
        (
            "py-env-1.6.xml",
            "application/xml",
            "1.6",
            "xml",
            "pkg:pypi/plant-tools@2.1.0".into(),
        ),
        (
            "py-env-1.4.json",
            "application/json",
            "1.4",
            "json",
            image(2),
        ),
    ];
    for (i, (name, ct, version, encoding, subject)) in cases.iter().enumerate() {
        let doc = fixture(name);
        let (status, r) = post_sbom(&s, subject, ct, doc.clone()).await;
        assert_eq!(status, 201, "{name}: {r}");
        assert_eq!(s.check_receipt(&r), i as u64);

        let (status, e) = s.get_json(&format!("/v1/entries/{i}")).await;
        assert_eq!(status, 200);
        let body = &e["entry"]["body"];
        assert_eq!(e["entry"]["kind"], "sbom");
        assert_eq!(e["entry"]["submitter"], "ci-1");
        assert_eq!(body["subject"], *subject);
        assert_eq!(body["spec_version"], *version);
        assert_eq!(body["encoding"], *encoding);
        assert_eq!(body["document"]["sha256"], digest(&doc)[7..]);
        assert_eq!(body["document"]["size"], doc.len());
        let mut subjects = vec![subject.clone(), digest(&doc)];
        subjects.sort();
        assert_eq!(e["entry"]["subjects"], json!(subjects));

        // The exact bytes, with the CycloneDX media type of what was validated.
        let (status, served_ct, served) = s
            .get_bytes(&format!("/v1/blobs/{}", digest(&doc)), &s.auditor)
            .await;
        assert_eq!(status, 200);
        assert_eq!(served, doc, "{name}");
        assert_eq!(
            served_ct,
            format!("application/vnd.cyclonedx+{encoding}; version={version}")
        );
    }
    // What the generators wrote: 276 crates in this repository's lock file, with the
    // serial number cargo-cyclonedx gave the document.
    let (_, e) = s.get_json("/v1/entries/0").await;
    assert_eq!(e["entry"]["body"]["components"], 276);
    assert_eq!(
        e["entry"]["body"]["serial_number"],
        "urn:uuid:eeb1e18c-f667-497c-bf8c-38d003899d6f"
    );

    // The same document for the same artifact again: the first receipt, nothing appended.
    let (status, again) = post_sbom(&s, &image(2), JSON, fixture("py-env-1.4.json")).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["index"], 3);
    // For another artifact it is another entry, and the document is still stored once.
    let (status, other) = post_sbom(&s, &image(3), JSON, fixture("py-env-1.4.json")).await;
    assert_eq!(status, 201, "{other}");
    assert_eq!(other["index"], 4);
    let (_, _, served) = s
        .get_bytes(
            &format!("/v1/blobs/{}", digest(&fixture("py-env-1.4.json"))),
            &s.admin,
        )
        .await;
    assert_eq!(served, fixture("py-env-1.4.json"));

    // ci writes; reading documents is for auditors and admins.
    let path = format!("/v1/blobs/{}", digest(&fixture("py-env-1.4.json")));
    assert_eq!(s.get_bytes(&path, &s.ci).await.0, 403);
    assert_eq!(s.get_bytes(&path, &s.producer).await.0, 403);
    assert_eq!(
        s.get_bytes(&format!("/v1/blobs/{}", image(9)), &s.auditor)
            .await
            .0,
        404
    );
    assert_eq!(s.get_bytes("/v1/blobs/sha256:xyz", &s.auditor).await.0, 400);

    assert_eq!(s.tree_size().await, 5);
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.documents_checked, 4);
    // An auditor over HTTP fetches and checks every document too.
    let remote = threadlog::audit::HttpSource::new(&s.url, &s.auditor).unwrap();
    let report = threadlog::audit::verify(&remote, &s.verifier_key, None, &|_, _| {})
        .await
        .unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(report.documents_checked, 4);
    s.stop().await;
}

/// A stored document changed or removed behind the log's back fails verification at the
/// first entry binding it.
#[tokio::test]
async fn an_altered_or_lost_document_fails_verification() {
    let s = TestServer::start().await;
    s.post_events(&common::event("e-0")).await;
    let doc = fixture("py-env-1.5.json");
    let (status, _) = post_sbom(&s, &image(1), JSON, doc.clone()).await;
    assert_eq!(status, 201);
    let sha = Sha256::digest(&doc).to_vec();
    let url = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();

    let mut altered = doc.clone();
    altered[100] ^= 1;
    sqlx::query("UPDATE blobs SET data = ? WHERE sha256 = ?")
        .bind(&altered)
        .bind(&sha)
        .execute(&pool)
        .await
        .unwrap();
    let report = s.audit().await;
    let f = report.failure.expect("altered document detected");
    assert_eq!(f.index, Some(1));
    assert!(f.reason.contains("but the log holds"), "{}", f.reason);

    sqlx::query("DELETE FROM blobs")
        .execute(&pool)
        .await
        .unwrap();
    let f = s.audit().await.failure.expect("lost document detected");
    assert_eq!(f.index, Some(1));
    assert!(f.reason.contains("does not hold"), "{}", f.reason);
    pool.close().await;
    s.stop().await;
}
