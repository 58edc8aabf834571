//! SBOMs over a real socket on SQLite and PostgreSQL, with documents made by real
//! generators (`tests/data/sbom/README.md`): validation against the official CycloneDX
//! schemas, the original bytes served back, diffs between logged SBOMs, and everything
//! known about an artifact. Invalid documents are refused with their violations and leave
//! the log as it was.

use crate::common;

use common::TestServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use threadlog::merkle::{self, Hash};
use threadlog::note;

mod artifacts;
mod diffs;
mod documents;
mod invalid;
mod limits;

pub(super) const JSON: &str = "application/vnd.cyclonedx+json";
pub(super) const XML: &str = "application/vnd.cyclonedx+xml";

pub(super) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/sbom/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub(super) fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// An image digest standing for the artifact an SBOM describes.
pub(super) fn image(n: u8) -> String {
    format!("sha256:{}", hex::encode([n; 32]))
}

pub(super) async fn post_sbom(
    s: &TestServer,
    subject: &str,
    ct: &str,
    doc: Vec<u8>,
) -> (u16, Value) {
    s.post_bytes(&format!("/v1/sboms?subject={subject}"), &s.ci, ct, doc)
        .await
}

/// A JSON fixture with `f` applied.
pub(super) fn edited(name: &str, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&fixture(name)).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}
