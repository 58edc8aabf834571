//! DSSE attestations over a real socket on SQLite and PostgreSQL, with envelopes signed by
//! securesystemslib (`tests/data/attestations/README.md`): each accepted envelope is
//! logged with its verification outcome and found by its subjects' digests; each refused
//! one names the failed check and leaves the log as it was.

mod common;

use common::TestServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use threadlog::merkle::{self, Hash};
use threadlog::note;

const IMAGE: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const TOOL: &str = "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";
const DSSE: &str = "application/vnd.dsse.envelope.v1+json";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/attestations")
        .join(name)
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

fn keyid(name: &str) -> String {
    let ids: Value = serde_json::from_slice(&fixture("keyids.json")).unwrap();
    ids[name].as_str().unwrap().to_string()
}

fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

async fn with_policy(pg: bool) -> TestServer {
    let url = if pg {
        Some(common::pg::fresh_database().await)
    } else {
        None
    };
    TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.trust_policy = Some(data("policy.toml"));
        if url.is_some() {
            c.store.database_url = url;
        }
        c
    })
    .await
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name(super::with_policy(false).await).await
            }
            #[tokio::test]
            async fn postgres() {
                super::$name(super::with_policy(true).await).await
            }
        }
    };
}

async fn post(s: &TestServer, doc: Vec<u8>) -> (u16, Value) {
    s.post_bytes("/v1/attestations", &s.ci, "application/json", doc)
        .await
}

fn check_receipt(s: &TestServer, r: &Value) -> u64 {
    let (cp, _) = note::open_checkpoint(
        r["checkpoint"].as_str().unwrap(),
        std::slice::from_ref(&s.verifier_key),
        &s.origin,
    )
    .expect("receipt checkpoint verifies");
    let index = r["index"].as_u64().unwrap();
    merkle::verify_inclusion(
        &common::hashes(&r["inclusion_proof"]),
        index,
        cp.tree_size,
        &Hash::from_base64(r["leaf_hash"].as_str().unwrap()).unwrap(),
        &Hash(cp.root_hash),
    )
    .expect("inclusion verifies");
    index
}

both!(accepted_envelopes_are_logged_with_their_verification);
async fn accepted_envelopes_are_logged_with_their_verification(s: TestServer) {
    // (fixture, statement version, predicate type, signer key, algorithm)
    let cases = [
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
    for (i, (name, version, predicate, signer, algorithm)) in cases.iter().enumerate() {
        let doc = fixture(name);
        let (status, r) = post(&s, doc.clone()).await;
        assert_eq!(status, 201, "{name}: {r}");
        assert_eq!(check_receipt(&s, &r), i as u64);
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
            let d = format!("sha256:{}", sub["sha256"].as_str().unwrap());
            assert!(subjects.contains(&json!(d)), "{name}: {d}");
        }
        // The exact bytes, served back.
        let (status, ct, served) = s
            .get_bytes(&format!("/v1/blobs/{}", digest(&doc)), &s.auditor)
            .await;
        assert_eq!(status, 200);
        assert_eq!(ct, DSSE);
        assert_eq!(served, doc, "{name}");
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
    assert_eq!(check_receipt(&s, &again), 3);
    assert_eq!(s.tree_size().await, cases.len() as u64);
    s.stop().await;
}

both!(refused_envelopes_name_the_failed_check);
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
            "bad-no-sha256-subject.dsse.json",
            "subject",
            "subject[0]: has no sha256 digest",
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

/// A dump carries the envelopes, and the store it is imported into knows them again by
/// their bytes: the idempotency rows are derived from the leaves alone.
#[tokio::test]
async fn attestations_move_with_a_dump() {
    use threadlog::store::Store;
    let s = with_policy(false).await;
    let names = ["ed25519-slsa-v1.dsse.json", "rsa-pss-vuln-v1.dsse.json"];
    for name in names {
        assert_eq!(post(&s, fixture(name)).await.0, 201);
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dump");
    threadlog::dump::export(s.store.as_ref(), &out, &|_, _| {})
        .await
        .unwrap();
    let target = std::sync::Arc::new(
        threadlog::store::SqliteStore::open(&format!(
            "sqlite://{}",
            work.path().join("t.db").display()
        ))
        .await
        .unwrap(),
    );
    let report = threadlog::dump::import(&out, target.clone(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.blobs, 2);
    for (i, name) in names.iter().enumerate() {
        let doc = fixture(name);
        let sha: [u8; 32] = Sha256::digest(&doc).into();
        assert_eq!(target.blob(&sha).await.unwrap().unwrap().data, doc);
        let hit = target
            .find_dedup(&format!("attestation:{}", hex::encode(sha)))
            .await
            .unwrap()
            .expect("idempotency row");
        assert_eq!((hit.index, hit.content_sha256), (i as u64, sha));
    }
    s.stop().await;
}

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
                    "../attestations/schemas/slsa-provenance-v1.schema.json"
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
        assert_eq!(check_receipt(&s, &r), i as u64);
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
