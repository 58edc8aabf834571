//! DSSE attestation verification beside its baseline, per signature algorithm: the whole
//! check `POST /v1/attestations` runs before logging (JSON, base64, PAE, signature, in-toto
//! Statement, predicate type, rules) against the bare signature verification over the same
//! PAE bytes with the same key. Envelopes are the securesystemslib fixtures of
//! `tests/data/attestations/`.
//!
//! Sigstore bundles beside the same kind of baseline: the real cosign image signature of
//! `tests/data/sigstore/public/` (v0.3 DSSE, Fulcio certificate, Rekor inclusion proof and
//! checkpoint, RFC 3161 timestamp) and a v0.1 message signature of the private test root,
//! against the one ECDSA P-256 check of the bundle's own signature with the leaf
//! certificate's key.
//!
//! Run: `cargo bench --bench dsse`. `BENCH_DSSE` sets verifications per measurement
//! (default 3000).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use base64::Engine;
use rsa::traits::PublicKeyParts;
use serde_json::Value;
use sha2::Digest;
use std::time::Instant;
use support::smoke;
use threadlog::supplychain::attest::{self, dsse, PublicKey, TrustPolicy};

/// A file under `tests/data/`.
fn data(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn read(name: &str) -> Vec<u8> {
    data(&format!("attestations/{name}"))
}

fn sigstore_data(name: &str) -> Vec<u8> {
    data(&format!("sigstore/{name}"))
}

/// Calls of `f` per second over `n` calls.
fn per_second(n: usize, mut f: impl FnMut()) -> f64 {
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

/// A policy of `tests/data/sigstore/` with its trusted root attached.
fn sigstore_policy(dir: &str) -> TrustPolicy {
    let text = String::from_utf8(sigstore_data(&format!("{dir}policy.toml"))).unwrap();
    TrustPolicy::from_toml(&text)
        .unwrap()
        .with_trusted_root(&sigstore_data(&format!("{dir}trusted_root.json")))
        .unwrap()
}

/// The signed bytes, the signature and the leaf certificate's P-256 key of a bundle.
fn bundle_signature(doc: &[u8]) -> (Vec<u8>, p256::ecdsa::Signature, p256::ecdsa::VerifyingKey) {
    use p256::pkcs8::DecodePublicKey;
    use x509_cert::der::{Decode, Encode};
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle: Value = serde_json::from_slice(doc).unwrap();
    let material = &bundle["verificationMaterial"];
    let cert = material["certificate"]["rawBytes"]
        .as_str()
        .or_else(|| material["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
        .unwrap();
    let cert = x509_cert::Certificate::from_der(&b64.decode(cert).unwrap()).unwrap();
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .unwrap();
    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki).unwrap();
    let (message, sig) = if let Some(env) = bundle.get("dsseEnvelope") {
        let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
        (
            dsse::pae(env["payloadType"].as_str().unwrap(), &payload),
            env["signatures"][0]["sig"].as_str().unwrap(),
        )
    } else {
        let artifact = sigstore_data("artifact.txt");
        (
            artifact,
            bundle["messageSignature"]["signature"].as_str().unwrap(),
        )
    };
    let sig = p256::ecdsa::Signature::from_der(&b64.decode(sig).unwrap()).unwrap();
    (message, sig, key)
}

fn sigstore_rows(n: usize) {
    use p256::ecdsa::signature::Verifier;
    println!();
    println!("## Sigstore bundle verification, {n} bundles per row");
    println!(
        "| bundle | bytes | bare signature check (baseline), /s | whole verification, /s | \
         ratio to baseline |"
    );
    println!("|---|---|---|---|---|");
    for (label, dir, name) in [
        (
            "cosign image signature, v0.3 DSSE, public-good root",
            "public/",
            "cosign-sign-kubewarden-controller-v1.34.0.sigstore.json",
        ),
        (
            "message signature, v0.1, private test root",
            "",
            "v0.1-message.sigstore.json",
        ),
    ] {
        let policy = sigstore_policy(dir);
        let doc = sigstore_data(&format!("{dir}{name}"));
        let (message, sig, key) = bundle_signature(&doc);
        let raw = per_second(n, || assert!(key.verify(&message, &sig).is_ok()));
        // A message signature is verified against the artifact it signs.
        let artifact: Option<[u8; 32]> = name
            .contains("message")
            .then(|| sha2::Sha256::digest(sigstore_data("artifact.txt")).into());
        let full = per_second(n, || {
            attest::verify_about(&doc, &policy, artifact.as_ref()).unwrap();
        });
        println!(
            "| {label} | {} | {raw:.0} | {full:.0} | {:.2} |",
            doc.len(),
            full / raw
        );
        println!(
            "{}",
            serde_json::json!({"bench": "sigstore", "bundle": label, "bytes": doc.len(),
                "signature_per_s": raw, "verify_per_s": full, "n": n})
        );
    }
}

/// The one primitive that verifies this signature, called directly: what any verifier
/// must at least spend.
fn bare(key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    use p256::ecdsa::signature::Verifier;
    match key {
        PublicKey::Ed25519(k) => k
            .verify_strict(message, &ed25519_dalek::Signature::from_slice(sig).unwrap())
            .is_ok(),
        PublicKey::EcdsaP256(k) => {
            let s = p256::ecdsa::Signature::from_der(sig)
                .or_else(|_| p256::ecdsa::Signature::from_slice(sig))
                .unwrap();
            k.verify(message, &s).is_ok()
        }
        PublicKey::Rsa(k, _) => {
            let pss = rsa::pss::VerifyingKey::<sha2::Sha256>::new(k.clone());
            let pkcs = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(k.clone());
            if k.n().bits() > 2048 {
                pss.verify(message, &rsa::pss::Signature::try_from(sig).unwrap())
                    .is_ok()
            } else {
                pkcs.verify(message, &rsa::pkcs1v15::Signature::try_from(sig).unwrap())
                    .is_ok()
            }
        }
    }
}

fn main() {
    let n: usize = if smoke() {
        5
    } else {
        std::env::var("BENCH_DSSE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000)
    };
    let policy = TrustPolicy::from_toml(&String::from_utf8(read("policy.toml")).unwrap()).unwrap();
    println!("## DSSE verification, {n} envelopes per row");
    println!(
        "| algorithm | envelope bytes | bare signature check (baseline), /s | \
         policy key check, /s | whole verification, /s | ratio to baseline |"
    );
    println!("|---|---|---|---|---|---|");
    for (label, name) in [
        ("Ed25519", "ed25519-slsa-v1.dsse.json"),
        ("ECDSA P-256, DER", "ecdsa-der-cyclonedx-v0.1.dsse.json"),
        ("ECDSA P-256, raw r‖s", "ecdsa-raw-spdx-v1.dsse.json"),
        ("RSA-3072 PSS", "rsa-pss-vuln-v1.dsse.json"),
        ("RSA-2048 PKCS#1 v1.5", "rsa-pkcs1v15-slsa-v1.dsse.json"),
    ] {
        let doc = read(name);
        let env: Value = serde_json::from_slice(&doc).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = b64.decode(env["payload"].as_str().unwrap()).unwrap();
        let message = dsse::pae(env["payloadType"].as_str().unwrap(), &payload);
        let sig = b64
            .decode(env["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let keyid = env["signatures"][0]["keyid"].as_str().unwrap();
        let key = &policy.signers.iter().find(|s| s.id == keyid).unwrap().key;

        let raw = per_second(n, || assert!(bare(key, &message, &sig)));
        let policy_key = per_second(n, || assert!(key.verify(&message, &sig).is_some()));
        let full = per_second(n, || {
            attest::verify(&doc, &policy).unwrap();
        });
        println!(
            "| {label} | {} | {raw:.0} | {policy_key:.0} | {full:.0} | {:.2} |",
            doc.len(),
            full / raw
        );
        println!(
            "{}",
            serde_json::json!({"bench": "dsse", "algorithm": label, "bytes": doc.len(),
                "signature_per_s": raw, "policy_key_per_s": policy_key,
                "verify_per_s": full, "n": n})
        );
    }
    sigstore_rows(n / 3);
}
