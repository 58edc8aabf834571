//! The attestation trust policy: without one nothing is accepted, an invalid one stops the
//! server, and subjects without a SHA-256 are indexed unless the policy requires one.

use super::*;

#[tokio::test]
async fn without_a_policy_attestations_are_not_accepted() {
    let s = TestServer::start().await;
    let (status, r) = post(&s, fixture("ed25519-slsa-v1.dsse.json")).await;
    assert_eq!(status, 501, "{r}");
    assert_eq!(r["error"], "not_configured");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("THREADLOG_TRUST_POLICY"),
        "{r}"
    );
    assert_eq!(s.tree_size().await, 0);
    s.stop().await;
}

#[tokio::test]
async fn an_invalid_policy_stops_the_server_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(data("policy.toml")).unwrap();
    let broken = dir.path().join("policy.toml");
    std::fs::write(
        &broken,
        text.replace("subject_name = '^", "subject_name = '(^"),
    )
    .unwrap();
    let mut cfg = common::config(dir.path().join("data"));
    cfg.trust_policy = Some(broken);
    let e = threadlog::server::start(&cfg).await.err().expect("refused");
    let msg = e.to_string();
    assert!(msg.contains("rules[0].subject_name"), "{msg}");
    cfg.trust_policy = Some(dir.path().join("missing.toml"));
    let e = threadlog::server::start(&cfg).await.err().expect("refused");
    assert!(e.to_string().contains("missing.toml"), "{e}");
    // Nothing was created for a server that did not start.
    assert!(!dir.path().join("data").exists());
}

/// A subject is indexed by whatever digests it carries: the statement whose only subject
/// has a SHA-512 is logged and found by it; a policy that sets `require_sha256` refuses it
/// by name and logs nothing.
#[tokio::test]
async fn subjects_without_sha256_are_indexed_unless_the_policy_requires_sha256() {
    let doc = fixture("bad-no-sha256-subject.dsse.json");
    let sha512 = format!("sha512:{}", "12".repeat(64));
    let s = with_policy(false).await;
    let (status, r) = post(&s, doc.clone()).await;
    assert_eq!(status, 201, "{r}");
    let index = s.check_receipt(&r);
    let (status, a) = s.get_json(&format!("/v1/artifacts/{sha512}")).await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"][0]["index"], index, "{a}");
    s.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let text = String::from_utf8(fixture("policy.toml")).unwrap();
    let s = with_policy_file(&dir, &format!("require_sha256 = true\n{text}")).await;
    let size = s.tree_size().await;
    let (status, r) = post(&s, doc).await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["error"], "invalid");
    assert_eq!(r["check"], "subject", "{r}");
    let message = r["message"].as_str().unwrap();
    assert!(
        message.contains("subject[0] (only-sha512) has no sha256 digest")
            && message.contains("require_sha256"),
        "{message}"
    );
    assert_eq!(s.tree_size().await, size);
    s.stop().await;
}
