//! Sigstore bundles: the real cosign image signature of the public-good instance, verified
//! offline against the real trusted root, and every piece of its evidence altered in turn
//! (`tests/data/sigstore/public/README.md`); each alteration is refused at the check it
//! breaks. The log's inclusion proofs are checked by threadlog's Merkle code and must agree
//! with the sigstore crate's.

use crate::common;

use serde_json::Value;
use std::path::PathBuf;
use threadlog::supplychain::attest::sigstore::{bundle::Bundle, tlog};
use threadlog::supplychain::attest::{self, AttestationError, TrustPolicy};

const COSIGN: &str = "public/cosign-sign-kubewarden-controller-v1.34.0.sigstore.json";
const NPM: &str = "public/npm-sigstore-5.0.0-provenance.sigstore.json";
const IMAGE: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sigstore")
        .join(name)
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

fn json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

/// The policy text with its trusted root attached, as the server loads it.
fn policy_from(text: &str, root: &str) -> TrustPolicy {
    TrustPolicy::from_toml(text)
        .unwrap()
        .with_trusted_root(&read(root))
        .unwrap()
}

fn public_policy() -> TrustPolicy {
    policy_from(
        &String::from_utf8(read("public/policy.toml")).unwrap(),
        "public/trusted_root.json",
    )
}

fn verify(doc: &Value, policy: &TrustPolicy) -> Result<attest::Verified, AttestationError> {
    attest::verify(&serde_json::to_vec(doc).unwrap(), policy)
}

fn refused(doc: &Value, policy: &TrustPolicy) -> (String, String) {
    let e = verify(doc, policy).expect_err("must be refused");
    (e.check.as_str().to_string(), e.reason)
}

#[test]
fn the_public_cosign_signature_verifies_offline_with_every_check() {
    let v = verify(&json(COSIGN), &public_policy()).unwrap();
    assert_eq!(v.format, "sigstore-bundle");
    assert_eq!(
        v.predicate_type.as_deref(),
        Some("https://sigstore.dev/cosign/sign/v1")
    );
    assert_eq!(v.subjects.len(), 1);
    assert_eq!(v.subjects[0].sha256(), Some(IMAGE));
    let checks: Vec<&str> = v.checks.iter().map(|c| c.as_str()).collect();
    for c in [
        "certificate",
        "sct",
        "identity",
        "signature",
        "log_entry",
        "log",
        "signed_entry_timestamp",
        "inclusion_proof",
        "checkpoint",
        "timestamp",
        "predicate_type",
    ] {
        assert!(checks.contains(&c), "{c} in {checks:?}");
    }
    let o = v.sigstore.unwrap();
    assert_eq!(o.bundle_version, "0.3");
    assert_eq!(o.content, "dsse");
    let id = o.identity.unwrap();
    assert_eq!(id.policy_name, "kubewarden release");
    assert_eq!(
        id.subject,
        "https://github.com/kubewarden/kubewarden-controller/.github/workflows/release.yml@refs/tags/v1.34.0"
    );
    assert_eq!(id.issuer, "https://token.actions.githubusercontent.com");
    assert_eq!(o.log_index, 1261105807);
    assert_eq!(o.log_url, "https://rekor.sigstore.dev");
    let (origin, size) = o.checkpoint.unwrap();
    assert_eq!(origin, "rekor.sigstore.dev - 1193050959916656506");
    assert_eq!(size, 1139201557);
    assert_eq!(o.timestamps.len(), 1);
    assert_eq!(o.timestamps[0].0.to_rfc3339(), "2026-04-09T07:23:29+00:00");
}

/// npm's provenance names its package by SHA-512 alone: it is verified (the sigstore crate
/// checks the signature against that digest) and indexed by it, unless the policy sets
/// `require_sha256`.
#[test]
fn a_statement_whose_subject_has_only_a_sha512_is_verified_by_it() {
    let v = verify(&json(NPM), &public_policy()).unwrap();
    assert_eq!(v.subjects.len(), 1);
    assert_eq!(v.subjects[0].sha256(), None);
    assert_eq!(v.subjects[0].digests["sha512"].len(), 128);
    assert_eq!(
        v.sigstore.unwrap().identity.unwrap().policy_name,
        "sigstore-js release"
    );
    let text = format!(
        "require_sha256 = true\n{}",
        String::from_utf8(read("public/policy.toml")).unwrap()
    );
    let (check, reason) = refused(&json(NPM), &policy_from(&text, "public/trusted_root.json"));
    assert_eq!(check, "subject", "{reason}");
    assert!(reason.contains("require_sha256"), "{reason}");
}

/// The real Sigstore staging trusted root, whose first CT log key is a PKCS#1 RSA key,
/// loads; its keys of every kind are usable.
#[test]
fn the_staging_trusted_root_with_a_pkcs1_rsa_ct_key_loads() {
    let root = json("public/staging_trusted_root.json");
    assert_eq!(
        root["ctlogs"][0]["publicKey"]["keyDetails"],
        "PKCS1_RSA_PKCS1V5"
    );
    let policy = policy_from(
        &String::from_utf8(read("public/policy.toml")).unwrap(),
        "public/staging_trusted_root.json",
    );
    let r = policy.sigstore.root.as_deref().unwrap();
    assert_eq!(r.tlogs.len(), 4);
    assert_eq!(r.tlogs[0].base_url, "https://rekor.sigstage.dev");
    // A bundle of the public-good instance is not one of staging's.
    let (check, reason) = refused(&json(COSIGN), &policy);
    assert_eq!(check, "certificate", "{reason}");
    // A PKCS#1 key whose bytes are not PKCS#1 is refused by name.
    let mut broken = root.clone();
    broken["ctlogs"][0]["publicKey"]["rawBytes"] =
        root["ctlogs"][1]["publicKey"]["rawBytes"].clone();
    let e = TrustPolicy::from_toml(&String::from_utf8(read("public/policy.toml")).unwrap())
        .unwrap()
        .with_trusted_root(&serde_json::to_vec(&broken).unwrap())
        .unwrap_err();
    assert!(
        e.reason
            .contains("ctlogs[0].publicKey: keyDetails says PKCS#1 RSA"),
        "{e}"
    );
}

/// Each change breaks one piece of evidence, and the refusal names that piece.
#[test]
fn every_altered_piece_of_evidence_is_refused_by_name() {
    let policy = public_policy();
    type Edit = fn(&mut Value);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "a proof hash",
            |b| {
                flip(
                    &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][3],
                    5,
                )
            },
            "inclusion_proof",
        ),
        (
            "the proof's root",
            |b| {
                flip(
                    &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"],
                    0,
                )
            },
            "inclusion_proof",
        ),
        (
            "the proof's leaf index",
            |b| {
                let p = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
                p["logIndex"] = Value::String("1139201544".into());
            },
            "inclusion_proof",
        ),
        (
            "the checkpoint's signature",
            |b| edit_checkpoint(b, "wNI9ajBFAiEA2Z", "wNI9ajBFAiEA2Y"),
            "checkpoint",
        ),
        (
            "the checkpoint's tree size",
            |b| edit_checkpoint(b, "\n1139201557\n", "\n1139201558\n"),
            "checkpoint",
        ),
        (
            "no checkpoint",
            |b| {
                let p = b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
                    .as_object_mut()
                    .unwrap();
                p.remove("checkpoint");
            },
            "checkpoint",
        ),
        (
            "no inclusion proof",
            |b| {
                let e = b["verificationMaterial"]["tlogEntries"][0]
                    .as_object_mut()
                    .unwrap();
                e.remove("inclusionProof");
            },
            "inclusion_proof",
        ),
        (
            "the signed entry timestamp",
            |b| {
                flip(
                    &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
                        ["signedEntryTimestamp"],
                    20,
                )
            },
            "signed_entry_timestamp",
        ),
        (
            "the integrated time",
            |b| {
                b["verificationMaterial"]["tlogEntries"][0]["integratedTime"] =
                    Value::String("1775719410".into())
            },
            "signed_entry_timestamp",
        ),
        (
            "the entry's log index",
            |b| {
                b["verificationMaterial"]["tlogEntries"][0]["logIndex"] =
                    Value::String("1261105808".into())
            },
            "signed_entry_timestamp",
        ),
        (
            "the RFC 3161 timestamp's signature",
            |b| {
                let t = &mut b["verificationMaterial"]["timestampVerificationData"]
                    ["rfc3161Timestamps"][0]["signedTimestamp"];
                let len = b64_len(t);
                flip(t, len - 10)
            },
            "timestamp",
        ),
        (
            "the DSSE payload, still a valid statement",
            |b| {
                use base64::Engine;
                let b64 = base64::engine::general_purpose::STANDARD;
                let p = &mut b["dsseEnvelope"]["payload"];
                let text = String::from_utf8(b64.decode(p.as_str().unwrap()).unwrap()).unwrap();
                let edited = text.replace("\"annotations\":{}", "\"annotations\":{\"a\":\"b\"}");
                assert_ne!(edited, text);
                *p = Value::String(b64.encode(edited));
            },
            "signature",
        ),
        (
            "the log entry's body",
            |b| {
                flip(
                    &mut b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"],
                    120,
                )
            },
            "log_entry",
        ),
        (
            "the log id",
            |b| {
                flip(
                    &mut b["verificationMaterial"]["tlogEntries"][0]["logId"]["keyId"],
                    31,
                )
            },
            "log",
        ),
        (
            "the certificate's signature",
            |b| {
                let c = &mut b["verificationMaterial"]["certificate"]["rawBytes"];
                let len = b64_len(c);
                flip(c, len - 5)
            },
            "certificate",
        ),
    ];
    let original = json(COSIGN);
    for (what, edit, want) in cases {
        let mut b = original.clone();
        edit(&mut b);
        assert_ne!(b, original, "{what}: the edit changed nothing");
        let (check, reason) = refused(&b, &policy);
        assert_eq!(check, want, "{what}: {reason}");
    }
}

/// Replaces `from` (which must occur) by `to` in the bundle's checkpoint note.
fn edit_checkpoint(b: &mut Value, from: &str, to: &str) {
    let c = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["checkpoint"]
        ["envelope"];
    let note = c.as_str().unwrap();
    assert!(note.contains(from), "{from:?} in {note:?}");
    *c = Value::String(note.replace(from, to));
}

/// The decoded length of a base64 value.
fn b64_len(v: &Value) -> usize {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
        .len()
}

/// Flips one bit of the base64 value at byte `at`.
fn flip(v: &mut Value, at: usize) {
    use base64::Engine;
    let e = base64::engine::general_purpose::STANDARD;
    let mut b = e.decode(v.as_str().unwrap()).unwrap();
    b[at] ^= 0x01;
    *v = Value::String(e.encode(b));
}

#[test]
fn an_identity_the_policy_does_not_name_is_refused() {
    let text = String::from_utf8(read("public/policy.toml"))
        .unwrap()
        .replace("kubewarden-controller", "kubewarden-other");
    let policy = policy_from(&text, "public/trusted_root.json");
    let (check, reason) = refused(&json(COSIGN), &policy);
    assert_eq!(check, "identity", "{reason}");
    assert!(reason.contains("kubewarden-controller"), "{reason}");
}

#[test]
fn a_trusted_root_without_the_timestamp_authority_refuses_its_timestamp() {
    let mut root = json("public/trusted_root.json");
    root["timestampAuthorities"] = Value::Array(vec![]);
    let policy = TrustPolicy::from_toml(&String::from_utf8(read("public/policy.toml")).unwrap())
        .unwrap()
        .with_trusted_root(&serde_json::to_vec(&root).unwrap())
        .unwrap();
    let (check, reason) = refused(&json(COSIGN), &policy);
    assert_eq!(check, "timestamp", "{reason}");
}

/// A certificate authority vouches only for what was signed inside its `validFor`: a root
/// that retired Fulcio before the signing time refuses the real bundle, and the same
/// root with the window still open accepts it.
#[test]
fn a_certificate_authority_retired_before_the_signing_time_is_refused() {
    let with_ca_end = |end: &str| {
        let mut root = json("public/trusted_root.json");
        for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
            ca["validFor"]["end"] = Value::String(end.into());
        }
        TrustPolicy::from_toml(&String::from_utf8(read("public/policy.toml")).unwrap())
            .unwrap()
            .with_trusted_root(&serde_json::to_vec(&root).unwrap())
            .unwrap()
    };
    // The bundle's log entry and timestamp date it to April 2026.
    let (check, reason) = refused(&json(COSIGN), &with_ca_end("2026-01-01T00:00:00Z"));
    assert_eq!(check, "certificate", "{reason}");
    assert!(
        reason.contains("validFor of the certificate authority"),
        "{reason}"
    );
    let doc = serde_json::to_vec(&json(COSIGN)).unwrap();
    attest::verify(&doc, &with_ca_end("2027-01-01T00:00:00Z")).unwrap();
}

#[test]
fn a_bundle_of_an_unsupported_version_or_shape_is_refused_at_the_envelope() {
    let policy = public_policy();
    let mut b = json(COSIGN);
    b["mediaType"] = Value::String("application/vnd.dev.sigstore.bundle.v0.4+json".into());
    let (check, reason) = refused(&b, &policy);
    assert_eq!(check, "envelope", "{reason}");
    assert!(reason.contains("v0.4"), "{reason}");
    let mut b = json(COSIGN);
    b["verificationMaterial"]["tlogEntries"] = Value::Array(vec![]);
    assert_eq!(refused(&b, &policy).0, "envelope");
    // A Rekor v2 entry is refused by name, not by whichever detail fails first.
    let mut b = json(COSIGN);
    b["verificationMaterial"]["tlogEntries"][0]["kindVersion"]["version"] =
        Value::String("0.0.2".into());
    let (check, reason) = refused(&b, &policy);
    assert_eq!(check, "log_entry", "{reason}");
    assert!(
        reason.contains("Rekor v2 entries are not verified yet"),
        "{reason}"
    );
}

/// threadlog's Merkle code and the sigstore crate's agree on the real proof and on every
/// single-bit change of it.
#[test]
fn our_inclusion_check_agrees_with_the_crate_on_the_real_proof_and_its_alterations() {
    let policy = public_policy();
    let root = policy.sigstore.root.as_deref().unwrap();
    let doc = serde_json::to_vec(&json(COSIGN)).unwrap();
    let b = Bundle::parse(&doc).unwrap();
    let log = root.tlog(&b.entry.log_id).unwrap();
    let proof = b.entry.proof.clone().unwrap();
    let note = proof.checkpoint.clone().unwrap();
    let ours = |p: &threadlog::supplychain::attest::sigstore::bundle::Proof, body: &[u8]| {
        tlog::verify_proof(body, p).is_ok() && tlog::verify_checkpoint(&note, p, log).is_ok()
    };
    assert!(ours(&proof, &b.entry.body));
    assert!(tlog::crate_agrees(&b.entry.body, &proof, &note, log));
    let mut disagreements = Vec::new();
    let mut tried = 0;
    for h in 0..proof.hashes.len() {
        for bit in [0u8, 3, 7] {
            let mut p = proof.clone();
            p.hashes[h][h % 32] ^= 1 << bit;
            tried += 1;
            let (a, c) = (
                ours(&p, &b.entry.body),
                tlog::crate_agrees(&b.entry.body, &p, &note, log),
            );
            if a || a != c {
                disagreements.push((h, bit, a, c));
            }
        }
    }
    for idx in [
        proof.log_index - 1,
        proof.log_index + 1,
        0,
        proof.tree_size - 1,
    ] {
        let mut p = proof.clone();
        p.log_index = idx;
        tried += 1;
        let (a, c) = (
            ours(&p, &b.entry.body),
            tlog::crate_agrees(&b.entry.body, &p, &note, log),
        );
        if a || a != c {
            disagreements.push((idx as usize, 0, a, c));
        }
    }
    let mut body = b.entry.body.clone();
    body[10] ^= 1;
    assert!(!ours(&proof, &body));
    assert!(!tlog::crate_agrees(&body, &proof, &note, log));
    assert!(tried > 40);
    assert!(disagreements.is_empty(), "{disagreements:?}");
}

fn private_policy() -> TrustPolicy {
    policy_from(
        &String::from_utf8(read("policy.toml")).unwrap(),
        "trusted_root.json",
    )
}

const ARTIFACT: &str = "3455b5107f40bd154a2a9d851a5ba33403198a4e8a61a899758c719508e099a1";

/// A private bundle verified as uploaded: a message signature with the artifact it signs
/// (`artifact.txt`) named, a DSSE bundle without.
fn verify_private(file: &str, policy: &TrustPolicy) -> Result<attest::Verified, AttestationError> {
    let doc = read(&format!("{file}.sigstore.json"));
    let artifact: [u8; 32] = hex::decode(ARTIFACT).unwrap().try_into().unwrap();
    let message = json(&format!("{file}.sigstore.json"))
        .get("messageSignature")
        .is_some();
    attest::verify_about(&doc, policy, message.then_some(&artifact))
}
const LINE_CONTROLLER: &str = "5b2f0a5e6d4c8a1f9e3b7d2c6a0f4e8b1d5c9a3e7f2b6d0c4a8e1f5b9d3c7a2e";

/// Every bundle version and content kind of the private trust root: who signed, what
/// about, and which evidence was there to check.
#[test]
fn private_bundles_of_every_version_verify_with_the_evidence_they_carry() {
    let policy = private_policy();
    // (file, version, subject, identity policy name or signer id, has SET, has checkpoint,
    // timestamps)
    let cases = [
        (
            "v0.1-message",
            "0.1",
            ARTIFACT,
            "release mailbox",
            true,
            false,
            0,
        ),
        (
            "v0.2-dsse",
            "0.2",
            LINE_CONTROLLER,
            "release mailbox",
            true,
            true,
            0,
        ),
        (
            "v0.3-message",
            "0.3",
            ARTIFACT,
            "release mailbox",
            true,
            true,
            1,
        ),
        (
            "v0.3-dsse-uri-identity",
            "0.3",
            LINE_CONTROLLER,
            "release workflow",
            false,
            true,
            1,
        ),
        (
            "v0.3-publickey",
            "0.3",
            ARTIFACT,
            "ci-signer",
            true,
            true,
            0,
        ),
    ];
    for (file, version, subject, signer, set, checkpoint, timestamps) in cases {
        let v = verify_private(file, &policy).unwrap_or_else(|e| panic!("{file}: {e}"));
        let o = v.sigstore.as_ref().unwrap();
        assert_eq!(o.bundle_version, version, "{file}");
        assert_eq!(v.subjects[0].sha256(), Some(subject), "{file}");
        match &o.identity {
            Some(id) => assert_eq!(id.policy_name, signer, "{file}"),
            None => assert_eq!(v.signatures[0].signer_id, signer, "{file}"),
        }
        let checks: Vec<&str> = v.checks.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            checks.contains(&"signed_entry_timestamp"),
            set,
            "{file}: {checks:?}"
        );
        assert_eq!(
            checks.contains(&"checkpoint"),
            checkpoint,
            "{file}: {checks:?}"
        );
        assert_eq!(o.checkpoint.is_some(), checkpoint, "{file}");
        assert_eq!(o.timestamps.len(), timestamps, "{file}");
        assert!(checks.contains(&"inclusion_proof"), "{file}: {checks:?}");
        assert_eq!(o.log_url, "https://rekor.plant.example", "{file}");
        if subject == LINE_CONTROLLER {
            // The rule for the line controller applied, and held.
            assert_eq!(v.rules.len(), 1, "{file}");
            assert_eq!(
                v.predicate_type.as_deref(),
                Some("https://slsa.dev/provenance/v1")
            );
        } else {
            assert_eq!(v.predicate_type, None, "{file}");
        }
    }
}

fn private_policy_with_root(root: &Value) -> TrustPolicy {
    TrustPolicy::from_toml(&String::from_utf8(read("policy.toml")).unwrap())
        .unwrap()
        .with_trusted_root(&serde_json::to_vec(root).unwrap())
        .unwrap()
}

/// A transparency log's `validFor.end` is inclusive: an entry integrated at that very
/// second is inside it, one a second later is not.
#[test]
fn a_log_key_is_valid_up_to_and_including_its_end() {
    // v0.3-publickey was integrated at 1778579101 (2026-05-12T09:45:01Z).
    let with_end = |end: &str| {
        let mut root = json("trusted_root.json");
        root["tlogs"][0]["publicKey"]["validFor"]["end"] = Value::String(end.into());
        private_policy_with_root(&root)
    };
    verify_private("v0.3-publickey", &with_end("2026-05-12T09:45:01Z")).unwrap();
    let e = verify_private("v0.3-publickey", &with_end("2026-05-12T09:45:00Z")).unwrap_err();
    assert_eq!(e.check.as_str(), "log", "{}", e.reason);
    assert!(
        e.reason
            .contains("not valid at the entry's time 2026-05-12 09:45:01"),
        "{}",
        e.reason
    );
}

/// The specification's two spellings of the v0.3 media type are both v0.3, for bundles the
/// sigstore crate checks (certificates) and those threadlog checks alone (public keys).
#[test]
fn both_v0_3_media_types_are_accepted() {
    let policy = private_policy();
    let artifact: [u8; 32] = hex::decode(ARTIFACT).unwrap().try_into().unwrap();
    for (file, artifact) in [
        ("v0.3-message", Some(&artifact)),
        ("v0.3-dsse-uri-identity", None),
        ("v0.3-publickey", Some(&artifact)),
    ] {
        let mut b = json(&format!("{file}.sigstore.json"));
        b["mediaType"] =
            Value::String("application/vnd.dev.sigstore.bundle+json;version=0.3".into());
        let v = attest::verify_about(&serde_json::to_vec(&b).unwrap(), &policy, artifact)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(v.sigstore.unwrap().bundle_version, "0.3", "{file}");
    }
}

/// A message signature signs a bare digest: without the artifact named by the upload it
/// proves nothing and is refused; a signature over another digest is refused.
#[test]
fn a_message_signature_is_verified_against_the_named_artifact_only() {
    let policy = private_policy();
    let other = [0x11u8; 32];
    for file in ["v0.1-message", "v0.3-message", "v0.3-publickey"] {
        let doc = read(&format!("{file}.sigstore.json"));
        let e = attest::verify(&doc, &policy).unwrap_err();
        assert_eq!(e.check.as_str(), "subject", "{file}: {}", e.reason);
        assert!(
            e.reason
                .contains("name the artifact it signs with ?subject=sha256:<hex>"),
            "{file}: {}",
            e.reason
        );
        let e = attest::verify_about(&doc, &policy, Some(&other)).unwrap_err();
        assert_eq!(e.check.as_str(), "subject", "{file}: {}", e.reason);
        assert_eq!(
            e.reason,
            format!(
                "the bundle signs sha256:{ARTIFACT}, not the named artifact sha256:{}",
                hex::encode(other)
            ),
            "{file}"
        );
        verify_private(file, &policy).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    // A statement names its subjects; an upload naming another artifact is refused.
    let doc = read("v0.2-dsse.sigstore.json");
    let e = attest::verify_about(&doc, &policy, Some(&other)).unwrap_err();
    assert_eq!(e.check.as_str(), "subject", "{}", e.reason);
    let image: [u8; 32] = hex::decode(LINE_CONTROLLER).unwrap().try_into().unwrap();
    attest::verify_about(&doc, &policy, Some(&image)).unwrap();
}

#[test]
fn private_bundles_altered_in_one_way_are_refused_at_that_check() {
    let policy = private_policy();
    for (file, want) in [
        ("bad-proof-hash", "inclusion_proof"),
        ("bad-proof-root", "inclusion_proof"),
        ("bad-checkpoint-signature", "checkpoint"),
        ("bad-checkpoint-root", "checkpoint"),
        ("bad-set", "signed_entry_timestamp"),
        ("bad-rfc3161", "timestamp"),
        ("bad-tampered-payload", "signature"),
        ("bad-body-mismatch", "log_entry"),
        ("bad-expired-cert", "certificate"),
        ("bad-untrusted-ca", "certificate"),
        ("bad-publickey-wrong-key", "signer"),
    ] {
        let e = verify_private(file, &policy).expect_err(file);
        assert_eq!(e.check.as_str(), want, "{file}: {}", e.reason);
    }
}

#[test]
fn a_rule_naming_an_identity_refuses_a_bundle_from_another() {
    let text = String::from_utf8(read("policy.toml")).unwrap().replace(
        r#"signers = ["release workflow", "release mailbox"]"#,
        r#"signers = ["release workflow"]"#,
    );
    let policy = policy_from(&text, "trusted_root.json");
    // The email identity is allowed to sign, but the rule asks for the workflow.
    let e = attest::verify(&read("v0.2-dsse.sigstore.json"), &policy).unwrap_err();
    assert_eq!(e.check.as_str(), "rule", "{}", e.reason);
    assert!(attest::verify(&read("v0.3-dsse-uri-identity.sigstore.json"), &policy).is_ok());
}

#[test]
fn the_public_bundle_is_refused_under_the_private_root_and_vice_versa() {
    let e = attest::verify(&read(COSIGN), &private_policy()).unwrap_err();
    assert_eq!(e.check.as_str(), "certificate", "{}", e.reason);
    let e = attest::verify(&read("v0.2-dsse.sigstore.json"), &public_policy()).unwrap_err();
    assert_eq!(e.check.as_str(), "certificate", "{}", e.reason);
}

#[test]
fn a_policy_whose_trusted_root_is_broken_is_refused_by_name() {
    let p = TrustPolicy::from_toml(&String::from_utf8(read("policy.toml")).unwrap()).unwrap();
    let e = p.with_trusted_root(b"{\"mediaType\": \"x\"}").unwrap_err();
    assert_eq!(e.path, "sigstore.trusted_root");
    assert!(e.reason.contains("mediaType"), "{}", e.reason);
}

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
