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

mod altered;
mod http;
mod private;
mod public;

pub(super) const COSIGN: &str = "public/cosign-sign-kubewarden-controller-v1.34.0.sigstore.json";
pub(super) const NPM: &str = "public/npm-sigstore-5.0.0-provenance.sigstore.json";
pub(super) const IMAGE: &str = "c811d58de79c92f03214e63aa339484e488d694ae8a6283b5f3f17a9faf50172";

pub(super) fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sigstore")
        .join(name)
}

pub(super) fn read(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

pub(super) fn json(name: &str) -> Value {
    serde_json::from_slice(&read(name)).unwrap()
}

/// The policy text with its trusted root attached, as the server loads it.
pub(super) fn policy_from(text: &str, root: &str) -> TrustPolicy {
    TrustPolicy::from_toml(text)
        .unwrap()
        .with_trusted_root(&read(root))
        .unwrap()
}

pub(super) fn public_policy() -> TrustPolicy {
    policy_from(
        &String::from_utf8(read("public/policy.toml")).unwrap(),
        "public/trusted_root.json",
    )
}

pub(super) fn verify(
    doc: &Value,
    policy: &TrustPolicy,
) -> Result<attest::Verified, AttestationError> {
    attest::verify(&serde_json::to_vec(doc).unwrap(), policy)
}

pub(super) fn refused(doc: &Value, policy: &TrustPolicy) -> (String, String) {
    let e = verify(doc, policy).expect_err("must be refused");
    (e.check.as_str().to_string(), e.reason)
}

pub(super) const LINE_CONTROLLER: &str =
    "5b2f0a5e6d4c8a1f9e3b7d2c6a0f4e8b1d5c9a3e7f2b6d0c4a8e1f5b9d3c7a2e";

pub(super) const ARTIFACT: &str =
    "3455b5107f40bd154a2a9d851a5ba33403198a4e8a61a899758c719508e099a1";
