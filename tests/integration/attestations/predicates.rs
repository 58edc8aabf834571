//! Predicates checked against their schemas before an attestation is logged.

use super::*;

/// A DSSE envelope over `statement`, signed by `key` with keyid `keyid`.
fn sign_envelope(key: &ed25519_dalek::SigningKey, keyid: &str, statement: &Value) -> Vec<u8> {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let payload = serde_json::to_vec(statement).unwrap();
    let kind = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {kind} {} ", kind.len(), payload.len()).into_bytes();
    pae.extend_from_slice(&payload);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    serde_json::to_vec(&json!({
        "payloadType": kind,
        "payload": b64(&payload),
        "signatures": [{"keyid": keyid, "sig": b64(&key.sign(&pae).to_bytes())}],
    }))
    .unwrap()
}

/// Predicates are checked against the built-in schema of their type or the operator's
/// schema file; a predicate that breaks its schema is refused with the path of each
/// violation, and the entry records which schema an accepted one satisfied.
#[tokio::test]
async fn predicates_must_satisfy_their_schemas() {
    use ed25519_dalek::pkcs8::EncodePublicKey;
    let dir = tempfile::tempdir().unwrap();
    let key = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    const TORQUE: &str = "https://plant.example/attestations/torque-audit/v1";
    let schema = br#"{"$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object", "required": ["newton_metres", "tool"],
        "properties": {"newton_metres": {"type": "number", "exclusiveMinimum": 0},
                       "tool": {"type": "string"}}}"#;
    std::fs::create_dir(dir.path().join("schemas")).unwrap();
    std::fs::write(dir.path().join("schemas/torque.json"), schema).unwrap();
    let policy = format!(
        "version = 1\n\n[[signers]]\nid = \"line-3\"\nname = \"line 3 test key\"\n\
         public_key = \"\"\"\n{pem}\"\"\"\n\n\
         [[predicates]]\ntype = \"https://slsa.dev/provenance/v1\"\n\n\
         [[predicates]]\ntype = \"https://spdx.dev/Document\"\nmatch = \"prefix\"\n\n\
         [[predicates]]\ntype = \"{TORQUE}\"\nschema = \"schemas/torque.json\"\n"
    );
    let policy_path = dir.path().join("policy.toml");
    std::fs::write(&policy_path, &policy).unwrap();
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.trust_policy = Some(policy_path.clone());
        c
    })
    .await;
    let statement = |n: u8, predicate_type: &str, predicate: Value| {
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": format!("registry.plant.example/app:{n}"),
                         "digest": {"sha256": hex::encode([n; 32])}}],
            "predicateType": predicate_type,
            "predicate": predicate,
        })
    };
    let slsa = json!({
        "buildDefinition": {"buildType": "https://git.plant.example/build/v1",
                            "externalParameters": {"ref": "refs/tags/v3.0.0"}},
        "runDetails": {"builder": {"id": "https://git.plant.example/runners/release"}},
    });

    // Refusals first: each names the predicate check and the path, and logs nothing.
    let mut no_builder = slsa.clone();
    no_builder["runDetails"]["builder"] = json!({"version": {"runner": "3"}});
    let mut bad_time = slsa.clone();
    bad_time["runDetails"]["metadata"] = json!({"startedOn": "30/11/2026"});
    let refusals = [
        (
            statement(1, "https://slsa.dev/provenance/v1", no_builder),
            "/predicate/runDetails/builder: \"id\" is a required property",
        ),
        (
            statement(1, "https://slsa.dev/provenance/v1", bad_time),
            "/predicate/runDetails/metadata/startedOn",
        ),
        (
            statement(2, TORQUE, json!({"newton_metres": -4, "tool": "wrench 7"})),
            "/predicate/newton_metres",
        ),
        (
            statement(2, TORQUE, json!({"newton_metres": 12})),
            "schemas/torque.json",
        ),
    ];
    for (st, expect) in &refusals {
        let (status, r) = post(&s, sign_envelope(&key, "line-3", st)).await;
        assert_eq!(status, 422, "{r}");
        assert_eq!(r["check"], "predicate", "{r}");
        let msg = r["message"].as_str().unwrap();
        assert!(msg.contains(expect), "{expect:?} in {msg}");
    }
    assert_eq!(s.tree_size().await, 0);

    // Accepted: the built-in schema, the operator's schema, and a type without one.
    let accepted = [
        (
            statement(1, "https://slsa.dev/provenance/v1", slsa),
            Some((
                "builtin:slsa-provenance-v1.schema.json".to_string(),
                hex::encode(Sha256::digest(include_bytes!(
                    "../../../attestations/schemas/slsa-provenance-v1.schema.json"
                ))),
            )),
        ),
        (
            statement(
                2,
                TORQUE,
                json!({"newton_metres": 12.5, "tool": "wrench 7"}),
            ),
            Some((
                "schemas/torque.json".to_string(),
                hex::encode(Sha256::digest(schema)),
            )),
        ),
        (
            statement(
                3,
                "https://spdx.dev/Document/v2.3",
                json!({"anything": true}),
            ),
            None,
        ),
    ];
    for (i, (st, expect)) in accepted.iter().enumerate() {
        let (status, r) = post(&s, sign_envelope(&key, "line-3", st)).await;
        assert_eq!(status, 201, "{r}");
        assert_eq!(s.check_receipt(&r), i as u64);
        let (_, e) = s.get_json(&format!("/v1/entries/{i}")).await;
        let v = &e["entry"]["body"]["verification"];
        let checks = v["checks"].as_array().unwrap();
        match expect {
            Some((name, sha256)) => {
                assert_eq!(v["predicate_schema"]["name"], *name);
                assert_eq!(v["predicate_schema"]["sha256"], *sha256);
                assert!(checks.contains(&json!("predicate")), "{v}");
            }
            None => {
                assert!(v["predicate_schema"].is_null(), "{v}");
                assert!(!checks.contains(&json!("predicate")), "{v}");
            }
        }
    }
    s.stop().await;

    // A schema file that is missing or is not a schema stops the server, naming the entry.
    let mut cfg = common::config(dir.path().join("data"));
    cfg.trust_policy = Some(policy_path.clone());
    std::fs::write(dir.path().join("schemas/torque.json"), br#"{"type": 12}"#).unwrap();
    let e = threadlog::server::start(&cfg).await.err().expect("refused");
    assert!(e.to_string().contains("predicates[2].schema"), "{e}");
    assert!(e.to_string().contains("not a usable JSON Schema"), "{e}");
    std::fs::remove_file(dir.path().join("schemas/torque.json")).unwrap();
    let e = threadlog::server::start(&cfg).await.err().expect("refused");
    assert!(e.to_string().contains("cannot read"), "{e}");
    assert!(!dir.path().join("data").exists());
}
