//! Bundles from a private Sigstore instance of every bundle version: they verify with the
//! evidence they carry, and altered ones or ones from the other root are refused.

use super::*;

fn private_policy() -> TrustPolicy {
    policy_from(
        &String::from_utf8(read("policy.toml")).unwrap(),
        "trusted_root.json",
    )
}

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
