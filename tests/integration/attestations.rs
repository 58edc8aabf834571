//! DSSE attestations over a real socket on SQLite and PostgreSQL, with envelopes signed by
//! securesystemslib (`tests/data/attestations/README.md`): each accepted envelope is
//! logged with its verification outcome and found by its subjects' digests; each refused
//! one names the failed check and leaves the log as it was.

use crate::common;

use common::TestServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

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

async fn post(s: &TestServer, doc: Vec<u8>) -> (u16, Value) {
    s.post_bytes("/v1/attestations", &s.ci, "application/json", doc)
        .await
}

both!(start = with_policy; accepted_envelopes_are_logged_with_their_verification);
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
    assert_eq!(s.tree_size().await, cases.len() as u64);
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
                    "../../attestations/schemas/slsa-provenance-v1.schema.json"
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

async fn with_policy_file(dir: &tempfile::TempDir, text: &str) -> TestServer {
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).unwrap();
    TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.trust_policy = Some(path);
        c
    })
    .await
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

fn real(name: &str) -> Vec<u8> {
    fixture(&format!("real/{name}"))
}

/// Envelopes as in-toto-golang, witness and Chainloop write them (`real/README.md`): link
/// metadata indexed by its products, a subject with a SHA-1 commit digest only, and a
/// predicate type that is not a URI. Each is logged and found by every digest it names.
#[tokio::test]
async fn envelopes_of_in_toto_golang_witness_and_chainloop_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let policy = String::from_utf8(real("policy.toml")).unwrap();
    let s = with_policy_file(&dir, &policy).await;
    let cases = [
        (
            "in-toto-golang-package-dsse.2f89b927.link",
            "link",
            "https://in-toto.io/attestation/link/v0.3",
            vec!["sha256:0c5c56be1f4d8707fe981f07b0d35a4a1a50e898e3ebc8b1fa12c7c6f364bb7b"],
            "rsa-pss-sha256",
        ),
        (
            "witness-scorecard.attestation.json",
            "https://in-toto.io/Statement/v0.1",
            "https://witness.testifysec.com/attestation-collection/v0.1",
            vec![
                "sha256:d9e216fc15b7d7506e9357ca2623deb5447d159f24a93af97039fcba73accae4",
                "sha1:7c8b22ef3f0b277b949ad0510b6e843047a35592",
                "sha256:c3193f239e35effca04c006936f9aec7bc2a18714989ae159edd29cfcae33b43",
            ],
            "ed25519",
        ),
        (
            "chainloop-v0.2-resigned.dsse.json",
            "https://in-toto.io/Statement/v0.1",
            "chainloop.dev/attestation/v0.2",
            vec![
                "sha256:0407a2b01fbd898bcc11065f76108d16998620630ffc453d2162cf579b42de03",
                "sha256:747ef335ea27a2faf08aa292a5bc5491aff50c6a94ee4ebcbbcd43cdeccccaf1",
            ],
            "ed25519",
        ),
    ];
    let mut link = None;
    for (file, statement_type, predicate_type, ids, algorithm) in cases {
        let (status, r) = s
            .post_bytes("/v1/attestations", &s.ci, DSSE, real(file))
            .await;
        assert_eq!(status, 201, "{file}: {r}");
        let index = s.check_receipt(&r);
        link = link.or(Some(index));
        let (_, e) = s.get_json(&format!("/v1/entries/{index}")).await;
        let body = &e["entry"]["body"];
        assert_eq!(body["statement_type"], statement_type, "{file}");
        assert_eq!(body["predicate_type"], predicate_type, "{file}");
        assert_eq!(body["signatures"][0]["algorithm"], algorithm, "{file}");
        let subjects = e["entry"]["subjects"].as_array().unwrap();
        for id in ids {
            assert!(
                subjects.contains(&json!(id)),
                "{file}: {id} in {subjects:?}"
            );
            let (status, a) = s.get_json(&format!("/v1/artifacts/{id}")).await;
            assert_eq!(status, 200, "{file}: {a}");
            assert_eq!(a["entries"][0]["index"], index, "{file}: {id}: {a}");
        }
    }
    // The link's product by name and digest, its materials not (they are inputs).
    let (_, e) = s.get_json(&format!("/v1/entries/{}", link.unwrap())).await;
    assert_eq!(
        e["entry"]["body"]["subjects"][0]["name"],
        "demo-project.tar.gz"
    );
    let (status, a) = s
        .get_json(
            "/v1/artifacts/sha256:c2c0ea54fa94fac3a4e1575d6ed3bbd1b01a6d0b8deb39196bdc31c457ef731b",
        )
        .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["entries"], json!([]), "{a}");
    s.stop().await;
}

/// XML cannot arrive on the attestations path: an XML content type is refused before the
/// body is read, and XML bytes declared as JSON fail as JSON; neither reaches an XML parser
/// and nothing is logged.
#[tokio::test]
async fn xml_attacks_never_reach_a_parser_on_the_attestations_path() {
    let s = with_policy(false).await;
    let size = s.tree_size().await;
    let attacks = [
        "<?xml version=\"1.0\"?><!DOCTYPE bom [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><bom>&xxe;</bom>",
        "<!DOCTYPE bom [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/x.dtd\"> %p;]><bom/>",
        "<!DOCTYPE bom [<!ENTITY a \"lol\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]><bom>&b;</bom>",
        "<bom xmlns:xi=\"http://www.w3.org/2001/XInclude\"><xi:include href=\"file:///etc/passwd\"/></bom>",
    ];
    for doc in attacks {
        for ct in [
            "application/xml",
            "text/xml",
            "application/vnd.cyclonedx+xml",
        ] {
            let (status, r) = s
                .post_bytes("/v1/attestations", &s.ci, ct, doc.as_bytes().to_vec())
                .await;
            assert_eq!(status, 415, "{ct}: {r}");
            assert_eq!(r["error"], "unsupported_media_type", "{r}");
        }
        let (status, r) = post(&s, doc.as_bytes().to_vec()).await;
        assert_eq!(status, 422, "{r}");
        assert_eq!(r["check"], "envelope", "{r}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains("not well-formed JSON"),
            "{r}"
        );
    }
    assert_eq!(s.tree_size().await, size);
    s.stop().await;
}
