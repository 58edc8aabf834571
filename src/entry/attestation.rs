//! The `attestation` kind: a signed statement about artifacts that CI uploaded, verified
//! against the trust policy before it was prepared. The leaf binds the SHA-256 of the
//! uploaded document (the bytes are a [`Blob`]) and records what verification found.
//! Pure: verifying is `supplychain::attest`'s work.
//!
//! ```json
//! {"format": "dsse", "payload_type": "application/vnd.in-toto+json",
//!  "statement_type": "https://in-toto.io/Statement/v1",
//!  "predicate_type": "https://slsa.dev/provenance/v1",
//!  "subjects": [{"name": "…", "digest": {"sha256": "<hex>", "sha1": "<hex>", …}}],
//!  "signatures": [{"keyid": "…", "signer": "<policy id>", "name": "…", "algorithm": "ed25519"}],
//!  "unknown_keyids": ["…"],
//!  "verification": {"checks": ["envelope", …], "rules": ["<rule name>"], "policy_sha256": "<hex>",
//!                   "predicate_schema": {"name": "builtin:slsa-provenance-v1.schema.json", "sha256": "<hex>"}},
//!  "document": {"sha256": "<hex>", "media_type": "application/vnd.dsse.envelope.v1+json", "size": N}}
//! ```
//! A link's `statement_type` is `link` and its products are its subjects. Subjects:
//! `<algorithm>:<hex>` for every digest of every statement subject (`sha256:…`, `sha1:…`,
//! …), subject names that are package URLs, and `sha256:<document digest>`.

use super::Blob;
use super::EntryError;
use super::{Kind, PreparedEntry};
use crate::supplychain::attest::Verified;
use serde_json::{json, Value};

/// The media type the stored envelope is served with.
pub const DSSE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// Prepares the entry for an attestation document `blob` that verified as `v`.
pub fn prepare_attestation(
    v: &Verified,
    blob: Blob,
    submitter: &str,
) -> Result<PreparedEntry, EntryError> {
    let doc_hex = hex::encode(blob.sha256());
    let mut subjects = vec![format!("sha256:{doc_hex}")];
    for s in &v.subjects {
        subjects.extend(s.artifact_ids());
        if let Some(purl) = s
            .name
            .as_deref()
            .filter(|n| n.starts_with("pkg:"))
            .and_then(|n| super::parse_subject(n).ok())
        {
            subjects.push(purl);
        }
    }
    let mut body = json!({
        "format": v.format,
        "payload_type": v.payload_type,
        "statement_type": v.statement_type,
        "predicate_type": v.predicate_type,
        "subjects": v.subjects.iter().map(|s| {
            let mut o = json!({"digest": s.digests});
            if let Some(n) = &s.name {
                o["name"] = json!(n);
            }
            o
        }).collect::<Vec<_>>(),
        "signatures": v.signatures.iter().map(|s| json!({
            "keyid": s.keyid,
            "signer": s.signer_id,
            "name": s.signer_name,
            "algorithm": s.algorithm.as_str(),
        })).collect::<Vec<_>>(),
        "unknown_keyids": v.unknown_keyids,
        "verification": {
            "checks": v.checks.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "rules": v.rules,
            "policy_sha256": hex::encode(v.policy_sha256),
        },
        "document": blob.reference(),
    });
    if let Some((name, sha256)) = &v.predicate_schema {
        body["verification"]["predicate_schema"] =
            json!({"name": name, "sha256": hex::encode(sha256)});
    }
    if let Some(o) = &v.sigstore {
        body["sigstore"] = sigstore_outcome(o);
    }
    let mut e = PreparedEntry::new(
        Kind::Attestation,
        submitter,
        subjects,
        body,
        super::dedup::attestation_key(&doc_hex),
    )?;
    // The same bytes are the same attestation, even when verified again under a changed
    // policy: a resubmission returns the first receipt rather than a conflict.
    e.content_sha256 = *blob.sha256();
    Ok(e.with_blob(blob))
}

/// How a Sigstore bundle was verified: who (identity or key), where it is logged, when.
fn sigstore_outcome(o: &crate::supplychain::attest::sigstore::Outcome) -> Value {
    let mut out = json!({
        "bundle_version": o.bundle_version,
        "content": o.content,
        "log": {
            "id": hex::encode(&o.log_id),
            "url": o.log_url,
            "index": o.log_index,
            "integrated_time": o.integrated_time,
        },
        "timestamps": o.timestamps.iter().map(|(t, a)| json!({
            "time": t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "authority": a,
        })).collect::<Vec<_>>(),
        "trusted_root_sha256": hex::encode(o.trusted_root_sha256),
    });
    if let Some((origin, size)) = &o.checkpoint {
        out["log"]["checkpoint"] = json!({"origin": origin, "tree_size": size});
    }
    if let Some(m) = &o.identity {
        out["identity"] = json!({
            "policy_name": m.policy_name,
            "subject": m.subject,
            "issuer": m.issuer,
        });
    }
    if let Some(c) = &o.certificate_sha256 {
        out["certificate_sha256"] = json!(hex::encode(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supplychain::attest::intoto::Subject;
    use crate::supplychain::attest::{Algorithm, Check, VerifiedSignature};
    use bytes::Bytes;

    fn verified() -> Verified {
        Verified {
            format: "dsse",
            payload_type: Some("application/vnd.in-toto+json".into()),
            statement_type: Some("https://in-toto.io/Statement/v1".into()),
            predicate_type: Some("https://slsa.dev/provenance/v1".into()),
            subjects: vec![
                Subject {
                    name: Some("registry.example/app".into()),
                    ..Subject::sha256_only("ab".repeat(32))
                },
                Subject {
                    name: Some("pkg:cargo/threadlog@0.1.0".into()),
                    digests: [
                        ("sha256".to_string(), "cd".repeat(32)),
                        ("sha1".to_string(), "ef".repeat(20)),
                    ]
                    .into(),
                },
            ],
            signatures: vec![VerifiedSignature {
                keyid: "k1".into(),
                signer_id: "k1".into(),
                signer_name: "release".into(),
                algorithm: Algorithm::Ed25519,
            }],
            unknown_keyids: vec!["stranger".into()],
            rules: vec![],
            checks: Check::dsse(false),
            predicate_schema: None,
            policy_sha256: [1; 32],
            sigstore: None,
        }
    }

    #[test]
    fn the_leaf_binds_document_subjects_and_outcome() {
        let blob = Blob::new(Bytes::from_static(b"{}"), DSSE_MEDIA_TYPE);
        let e = prepare_attestation(&verified(), blob.clone(), "ci").unwrap();
        assert_eq!(e.kind, Kind::Attestation);
        let doc = format!("sha256:{}", hex::encode(blob.sha256()));
        let mut want = vec![
            doc,
            format!("sha256:{}", "ab".repeat(32)),
            format!("sha256:{}", "cd".repeat(32)),
            format!("sha1:{}", "ef".repeat(20)),
            "pkg:cargo/threadlog@0.1.0".to_string(),
        ];
        want.sort();
        assert_eq!(e.subjects, want);
        assert_eq!(e.body["signatures"][0]["algorithm"], "ed25519");
        assert_eq!(e.body["subjects"][1]["digest"]["sha1"], "ef".repeat(20));
        assert_eq!(e.body["unknown_keyids"][0], "stranger");
        assert_eq!(e.body["verification"]["checks"][0], "envelope");
        assert_eq!(e.content_sha256, *blob.sha256());
        let d =
            crate::entry::derive(e.leaf(chrono::DateTime::UNIX_EPOCH).unwrap().as_bytes()).unwrap();
        assert_eq!(d.dedup_key.as_deref(), Some(e.dedup_key.as_str()));
        assert_eq!(d.content_sha256, e.content_sha256);
    }
}
