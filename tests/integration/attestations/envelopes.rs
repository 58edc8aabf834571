//! DSSE envelopes under a trust policy: accepted ones are logged with their verification,
//! refused ones name the check that failed.

use super::*;

const IMAGE: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const TOOL: &str = "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

/// The accepted envelopes in the order they are posted: (fixture, statement version,
/// predicate type, signer key, algorithm).
const ACCEPTED: [(&str, &str, &str, &str, &str); 8] = [
    (
        "ed25519-slsa-v1.dsse.json",
        "v1",
        "https://slsa.dev/provenance/v1",
        "ed25519",
        "ed25519",
    ),
    (
        "ecdsa-der-cyclonedx-v0.1.dsse.json",
        "v0.1",
        "https://cyclonedx.org/bom",
        "ecdsa-p256",
        "ecdsa-p256-sha256-der",
    ),
    (
        "ecdsa-raw-spdx-v1.dsse.json",
        "v1",
        "https://spdx.dev/Document",
        "ecdsa-p256",
        "ecdsa-p256-sha256-raw",
    ),
    (
        "rsa-pss-vuln-v1.dsse.json",
        "v1",
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        "rsa-pss",
        "rsa-pss-sha256",
    ),
    (
        "rsa-pkcs1v15-slsa-v1.dsse.json",
        "v1",
        "https://slsa.dev/provenance/v1",
        "rsa-pkcs1v15",
        "rsa-pkcs1v15-sha256",
    ),
    (
        "two-signers-one-unknown.dsse.json",
        "v1",
        "https://slsa.dev/provenance/v1",
        "ed25519",
        "ed25519",
    ),
    (
        "no-keyid.dsse.json",
        "v1",
        "https://cyclonedx.org/bom",
        "ecdsa-p256",
        "ecdsa-p256-sha256-der",
    ),
    (
        "rsa-pss-max-salt-vuln-v1.dsse.json",
        "v1",
        "https://cosign.sigstore.dev/attestation/vuln/v1",
        "rsa-pss",
        "rsa-pss-sha256",
    ),
];

/// Envelope `i` of [`ACCEPTED`], posted and logged: its entry, its verification, its
/// subjects and its exact bytes served back.
async fn check_logged(s: &TestServer, i: usize, case: &(&str, &str, &str, &str, &str)) {
    let (name, version, predicate, signer, algorithm) = case;
    let doc = fixture(name);
    let (status, r) = post(s, doc.clone()).await;
    assert_eq!(status, 201, "{name}: {r}");
    assert_eq!(s.check_receipt(&r), i as u64);
    let (_, e) = s.get_json(&format!("/v1/entries/{i}")).await;
    let entry = &e["entry"];
    let body = &entry["body"];
    assert_eq!(entry["kind"], "attestation", "{name}");
    assert_eq!(entry["submitter"], "ci-1");
    assert_eq!(body["format"], "dsse");
    assert_eq!(body["payload_type"], "application/vnd.in-toto+json");
    assert_eq!(
        body["statement_type"],
        format!("https://in-toto.io/Statement/{version}")
    );
    assert_eq!(body["predicate_type"], *predicate, "{name}");
    let sigs = body["signatures"].as_array().unwrap();
    assert_eq!(sigs.len(), 1, "{name}: {body}");
    assert_eq!(sigs[0]["signer"], keyid(signer), "{name}");
    assert_eq!(sigs[0]["algorithm"], *algorithm, "{name}");
    // Every type here but SPDX has a built-in predicate schema.
    let schema = &body["verification"]["predicate_schema"];
    let checks = body["verification"]["checks"].as_array().unwrap();
    if predicate.starts_with("https://spdx.dev/") {
        assert_eq!(checks.len(), 9, "{name}: {checks:?}");
        assert!(schema.is_null(), "{name}: {schema}");
    } else {
        assert_eq!(checks.len(), 10, "{name}: {checks:?}");
        assert_eq!(checks[8], "predicate", "{name}");
        assert!(schema["name"].as_str().unwrap().starts_with("builtin:"));
    }
    assert_eq!(body["document"]["sha256"], digest(&doc)[7..]);
    // Every statement subject by digest, and the envelope itself.
    let subjects = entry["subjects"].as_array().unwrap();
    assert!(subjects.contains(&json!(digest(&doc))), "{name}");
    for sub in body["subjects"].as_array().unwrap() {
        for (alg, hex) in sub["digest"].as_object().unwrap() {
            let d = format!("{alg}:{}", hex.as_str().unwrap());
            assert!(subjects.contains(&json!(d)), "{name}: {d}");
        }
    }
    // The exact bytes, served back.
    let (status, ct, served) = s
        .get_bytes(&format!("/v1/blobs/{}", digest(&doc)), &s.auditor)
        .await;
    assert_eq!(status, 200);
    assert_eq!(ct, DSSE);
    assert_eq!(served, doc, "{name}");
}

both!(start = with_policy; accepted_envelopes_are_logged_with_their_verification);
async fn accepted_envelopes_are_logged_with_their_verification(s: TestServer) {
    for (i, case) in ACCEPTED.iter().enumerate() {
        check_logged(&s, i, case).await;
    }
    let body = |i: u64| {
        let s = &s;
        async move { s.get_json(&format!("/v1/entries/{i}")).await.1["entry"]["body"].clone() }
    };
    // The release-image rule applied to the image's provenance, and held.
    assert_eq!(
        body(0).await["verification"]["rules"],
        json!(["release images carry provenance from the release pipeline"])
    );
    assert_eq!(body(4).await["verification"]["rules"], json!([]));
    // The stranger's signature is reported, not counted; a keyid-less one is matched by key.
    assert_eq!(body(5).await["unknown_keyids"], json!([keyid("stranger")]));
    assert_eq!(body(6).await["signatures"][0]["keyid"], "");
    assert_eq!(
        body(0).await["signatures"][0]["name"],
        "release pipeline (Ed25519)"
    );

    // The image: its provenance, its CycloneDX attestation and its scan.
    let (status, a) = s.get_json(&format!("/v1/artifacts/{IMAGE}")).await;
    assert_eq!(status, 200, "{a}");
    let found: Vec<(u64, &str)> = a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["index"].as_u64().unwrap(), e["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [(0, "attestation"), (1, "attestation"), (3, "attestation")]
    );
    let (_, a) = s.get_json(&format!("/v1/artifacts/{TOOL}")).await;
    assert_eq!(a["entries"].as_array().unwrap().len(), 3, "{a}");

    // The same bytes again: the first receipt, nothing appended; also as the DSSE type.
    let (status, again) = s
        .post_bytes(
            "/v1/attestations",
            &s.ci,
            DSSE,
            fixture("rsa-pss-vuln-v1.dsse.json"),
        )
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(s.check_receipt(&again), 3);
    assert_eq!(s.tree_size().await, ACCEPTED.len() as u64);
    s.stop().await;
}

both!(start = with_policy; refused_envelopes_name_the_failed_check);
async fn refused_envelopes_name_the_failed_check(s: TestServer) {
    let cases = [
        (
            "bad-tampered-payload.dsse.json",
            "signature",
            "does not verify over the DSSE PAE",
        ),
        (
            "bad-tampered-signature.dsse.json",
            "signature",
            "does not verify over the DSSE PAE",
        ),
        (
            "bad-unknown-signer.dsse.json",
            "signer",
            "no signature is from a signer the trust policy allows",
        ),
        (
            "bad-predicate-not-accepted.dsse.json",
            "predicate_type",
            "\"https://example.com/custom-predicate/v1\" is not accepted",
        ),
        (
            "bad-payload-type.dsse.json",
            "payload_type",
            "\"application/json\"; expected application/vnd.in-toto+json",
        ),
        (
            "bad-rule-signer.dsse.json",
            "rule",
            "rule \"release images carry provenance from the release pipeline\"",
        ),
        (
            "bad-malformed.dsse.json",
            "envelope",
            "not well-formed JSON",
        ),
    ];
    for (name, check, says) in cases {
        let (status, r) = post(&s, fixture(name)).await;
        assert_eq!(status, 422, "{name}: {r}");
        assert_eq!(r["error"], "invalid", "{name}");
        assert_eq!(r["check"], check, "{name}: {r}");
        let message = r["message"].as_str().unwrap();
        assert!(message.contains(says), "{name}: {message}");
        assert!(message.ends_with("nothing was logged"), "{message}");
    }
    // Base64 that is not, and envelopes missing their parts.
    let mut v: Value = serde_json::from_slice(&fixture("ed25519-slsa-v1.dsse.json")).unwrap();
    let many: Vec<Value> = (0..17).map(|_| v["signatures"][0].clone()).collect();
    let edits: [(&str, Value, &str); 5] = [
        ("/signatures", Value::Array(many), "envelope"),
        ("/payload", json!("not base64!"), "base64"),
        ("/signatures/0/sig", json!("%%%"), "base64"),
        ("/signatures", json!([]), "envelope"),
        ("/payloadType", Value::Null, "envelope"),
    ];
    for (pointer, value, check) in edits {
        let mut e = v.clone();
        *e.pointer_mut(pointer).unwrap() = value;
        if e["payloadType"].is_null() {
            e.as_object_mut().unwrap().remove("payloadType");
        }
        let (status, r) = post(&s, e.to_string().into_bytes()).await;
        assert_eq!(
            (status, r["check"].as_str()),
            (422, Some(check)),
            "{pointer}: {r}"
        );
    }
    // A Sigstore bundle is named as such.
    v = json!({"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"});
    let (status, r) = post(&s, v.to_string().into_bytes()).await;
    assert_eq!(status, 422);
    assert!(
        r["message"].as_str().unwrap().contains("Sigstore bundles"),
        "{r}"
    );

    // Wrong media type, wrong role, too large.
    let good = fixture("ed25519-slsa-v1.dsse.json");
    let (status, _) = s
        .post_bytes("/v1/attestations", &s.ci, "text/plain", good.clone())
        .await;
    assert_eq!(status, 415);
    let (status, _) = s
        .post_bytes("/v1/attestations", &s.producer, "application/json", good)
        .await;
    assert_eq!(status, 403);
    let (status, _) = post(&s, vec![b' '; 5 << 20]).await;
    assert_eq!(status, 413);
    assert_eq!(s.tree_size().await, 0, "nothing was logged");
    s.stop().await;
}
