//! DSSE attestations over a real socket on SQLite and PostgreSQL, with envelopes signed by
//! securesystemslib (`tests/data/attestations/README.md`): each accepted envelope is
//! logged with its verification outcome and found by its subjects' digests; each refused
//! one names the failed check and leaves the log as it was.

use crate::common;

use common::TestServer;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::path::PathBuf;

mod dump;
mod envelopes;
mod formats;
mod policy;
mod predicates;

pub(super) fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/attestations")
        .join(name)
}

pub(super) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(data(name)).unwrap()
}

pub(super) fn keyid(name: &str) -> String {
    let ids: Value = serde_json::from_slice(&fixture("keyids.json")).unwrap();
    ids[name].as_str().unwrap().to_string()
}

pub(super) fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

pub(super) async fn with_policy(pg: bool) -> TestServer {
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

pub(super) async fn post(s: &TestServer, doc: Vec<u8>) -> (u16, Value) {
    s.post_bytes("/v1/attestations", &s.ci, "application/json", doc)
        .await
}

pub(super) async fn with_policy_file(dir: &tempfile::TempDir, text: &str) -> TestServer {
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).unwrap();
    TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.trust_policy = Some(path);
        c
    })
    .await
}

pub(super) const DSSE: &str = "application/vnd.dsse.envelope.v1+json";
