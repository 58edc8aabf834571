//! The public cosign bundle and the public trusted root: the signature verifies offline
//! with every check; identities, timestamp authorities, retired CAs and unsupported
//! versions are refused.

use super::*;

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
