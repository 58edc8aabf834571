//! Bundles signed with a plain key instead of a Fulcio certificate (`cosign sign --key`):
//! the sigstore crate refuses them, so the signature is checked here against the trust
//! policy's signers, and the log entry's body against the signature, key and artifact.
//! Pure.

use super::super::keys::PublicKey;
use super::super::policy::{AllowedSigner, TrustPolicy};
use super::super::{dsse, Algorithm};
use super::bundle::{Bundle, Content};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Which policy signer made the bundle's signature, and how.
pub fn find_signer<'a>(
    b: &Bundle,
    hint: &str,
    policy: &'a TrustPolicy,
) -> Option<(&'a AllowedSigner, Algorithm)> {
    // A hint naming a signer pins that key; otherwise every key is tried.
    let pinned: Vec<&AllowedSigner> = policy.signers.iter().filter(|s| s.id == hint).collect();
    let candidates: Vec<&AllowedSigner> = if pinned.is_empty() {
        policy.signers.iter().collect()
    } else {
        pinned
    };
    candidates.into_iter().find_map(|s| {
        let alg = match &b.content {
            Content::Message { sha256, signature } => s.key.verify_prehash(sha256, signature),
            Content::Dsse {
                payload_type,
                payload,
                signature,
                ..
            } => s.key.verify(&dsse::pae(payload_type, payload), signature),
        }?;
        Some((s, alg))
    })
}

fn pem_key(b64_pem: &str) -> Option<Vec<u8>> {
    let pem = String::from_utf8(STANDARD.decode(b64_pem).ok()?).ok()?;
    PublicKey::from_pem(&pem, super::super::keys::RsaPadding::Either)
        .ok()?
        .spki_der()
}

fn field<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// The log entry states this signature by this key over this artifact (the check the
/// crate makes for certificate bundles, CVE-2022-36056).
pub fn body_matches(b: &Bundle, key: &PublicKey) -> bool {
    let Ok(body) = serde_json::from_slice::<Value>(&b.entry.body) else {
        return false;
    };
    let Some(spki) = key.spki_der() else {
        return false;
    };
    let sig_b64 = STANDARD.encode(b.content.signature());
    match &b.content {
        Content::Message { sha256, .. } => {
            body["kind"] == "hashedrekord"
                && body["apiVersion"] == "0.0.1"
                && field(&body, &["spec", "data", "hash", "algorithm"]) == Some("sha256")
                && field(&body, &["spec", "data", "hash", "value"])
                    == Some(hex::encode(sha256).as_str())
                && field(&body, &["spec", "signature", "content"]) == Some(sig_b64.as_str())
                && field(&body, &["spec", "signature", "publicKey", "content"])
                    .and_then(pem_key)
                    .is_some_and(|k| k == spki)
        }
        Content::Dsse { payload, .. } => {
            let first = &body["spec"]["signatures"][0];
            body["kind"] == "dsse"
                && body["apiVersion"] == "0.0.1"
                && field(&body, &["spec", "payloadHash", "algorithm"]) == Some("sha256")
                && field(&body, &["spec", "payloadHash", "value"])
                    == Some(hex::encode(Sha256::digest(payload)).as_str())
                && first["signature"].as_str() == Some(sig_b64.as_str())
                && first["verifier"]
                    .as_str()
                    .and_then(pem_key)
                    .is_some_and(|k| k == spki)
        }
    }
}
