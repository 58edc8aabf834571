//! Sigstore bundles posted over HTTP: logged when they verify, refused by name otherwise.

use super::*;

/// Over a real socket: an accepted bundle is logged with its verification and found by its
/// subject; a refused one answers 422 naming the check and appends nothing.
#[tokio::test]
async fn bundles_over_http_are_logged_or_refused_by_name() {
    let s = common::TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.trust_policy = Some(data("policy.toml"));
        c
    })
    .await;
    let post = |doc: Vec<u8>, ct: &'static str| {
        let s = &s;
        async move { s.post_bytes("/v1/attestations", &s.ci, ct, doc).await }
    };
    let doc = read("v0.3-dsse-uri-identity.sigstore.json");
    let (status, r) = post(doc.clone(), "application/vnd.dev.sigstore.bundle.v0.3+json").await;
    assert_eq!(status, 201, "{r}");
    let index = r["index"].as_u64().unwrap();
    let (_, e) = s.get_json(&format!("/v1/entries/{index}")).await;
    let body = &e["entry"]["body"];
    assert_eq!(body["format"], "sigstore-bundle");
    assert_eq!(body["sigstore"]["bundle_version"], "0.3");
    assert_eq!(
        body["sigstore"]["identity"]["policy_name"],
        "release workflow"
    );
    assert_eq!(
        body["sigstore"]["identity"]["subject"],
        "https://git.plant.example/mes/line-controller/.ci/release.yml@refs/heads/main"
    );
    assert_eq!(body["sigstore"]["log"]["checkpoint"]["tree_size"], 21);
    assert_eq!(body["sigstore"]["timestamps"].as_array().unwrap().len(), 1);
    let checks = body["verification"]["checks"].as_array().unwrap();
    assert!(checks.contains(&Value::from("timestamp")), "{body}");
    let (status, a) = s
        .get_json(&format!("/v1/artifacts/sha256:{LINE_CONTROLLER}"))
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"][0]["index"], index, "{a}");
    let (status, _, served) = s
        .get_bytes(
            &format!(
                "/v1/blobs/sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&doc))
            ),
            &s.auditor,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(served, doc);

    // A message signature is logged only with the artifact it signs named, under either
    // v0.3 media type.
    let size = s.tree_size().await;
    let mut message = json("v0.3-message.sigstore.json");
    message["mediaType"] =
        Value::String("application/vnd.dev.sigstore.bundle+json;version=0.3".into());
    let message = serde_json::to_vec(&message).unwrap();
    let ct = "application/vnd.dev.sigstore.bundle+json;version=0.3";
    let (status, r) = post(message.clone(), ct).await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["error"], "invalid", "{r}");
    assert_eq!(r["check"], "subject", "{r}");
    let (status, r) = s
        .post_bytes(
            &format!("/v1/attestations?subject=sha256:{}", "11".repeat(32)),
            &s.ci,
            ct,
            message.clone(),
        )
        .await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["check"], "subject", "{r}");
    assert!(
        r["message"].as_str().unwrap().contains(&format!(
            "the bundle signs sha256:{ARTIFACT}, not the named artifact"
        )),
        "{r}"
    );
    let (status, r) = s
        .post_bytes(
            "/v1/attestations?subject=sha256:xyz",
            &s.ci,
            ct,
            message.clone(),
        )
        .await;
    assert_eq!(status, 400, "{r}");
    assert_eq!(r["error"], "bad_request", "{r}");
    assert_eq!(s.tree_size().await, size);
    let (status, r) = s
        .post_bytes(
            &format!("/v1/attestations?subject=sha256:{ARTIFACT}"),
            &s.ci,
            ct,
            message.clone(),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let (_, e) = s.get_json(&format!("/v1/entries/{}", r["index"])).await;
    assert_eq!(
        e["entry"]["body"]["sigstore"]["content"],
        "message_signature"
    );
    assert_eq!(
        e["entry"]["body"]["document"]["media_type"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    let (status, a) = s
        .get_json(&format!("/v1/artifacts/sha256:{ARTIFACT}"))
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"][0]["index"], r["index"], "{a}");

    let size = s.tree_size().await;
    let (status, r) = post(read("bad-proof-hash.sigstore.json"), "application/json").await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["check"], "subject", "{r}");
    let (status, r) = s
        .post_bytes(
            &format!("/v1/attestations?subject=sha256:{ARTIFACT}"),
            &s.ci,
            "application/json",
            read("bad-proof-hash.sigstore.json"),
        )
        .await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["check"], "inclusion_proof", "{r}");
    let (status, r) = post(read(COSIGN), "application/json").await;
    assert_eq!(status, 422, "{r}");
    assert_eq!(r["check"], "certificate", "{r}");
    assert_eq!(s.tree_size().await, size);
    s.stop().await;
}
