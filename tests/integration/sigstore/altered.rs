//! Alterations of the public bundle: every changed piece of evidence is refused by name,
//! and our inclusion check agrees with the crate's on the real proof and its changes.

use super::*;

/// An edit to a bundle.
type Edit = fn(&mut Value);

/// The alterations of the public bundle: what is changed, the edit, and the check that
/// must refuse it.
fn alterations() -> Vec<(&'static str, Edit, &'static str)> {
    let mut all = proof_alterations();
    all.extend(entry_and_signature_alterations());
    all
}

/// Alterations of the inclusion proof, its checkpoint and the signed entry timestamp.
fn proof_alterations() -> Vec<(&'static str, Edit, &'static str)> {
    vec![
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
    ]
}

/// Alterations of what the timestamps sign, the RFC 3161 timestamp, the signed payload,
/// the log entry and the certificate.
fn entry_and_signature_alterations() -> Vec<(&'static str, Edit, &'static str)> {
    vec![
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
    ]
}

/// Each change breaks one piece of evidence, and the refusal names that piece.
#[test]
fn every_altered_piece_of_evidence_is_refused_by_name() {
    let policy = public_policy();
    let cases = alterations();
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
