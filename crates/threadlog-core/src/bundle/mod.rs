//! Self-verifying evidence bundles (format `threadlog-bundle/1`): the entries behind a
//! thread answer with their exact leaf bytes and inclusion proofs, the signed checkpoint
//! they are proved against, and the key handovers from an auditor's pinned key to the
//! key that signed it. `threadlog export --subject` writes one; `threadlog verify
//! --bundle` checks one offline.
//!
//! This module owns the format and its verification, and is usable without the server:
//! it reads nothing, and trusts only the `merkle` and `note` code, the pure thread
//! derivation (`thread::graph`, with the edge rules of `entry::edges`) and the pinned key
//! (`tests/integration/architecture.rs` keeps it that way). Building a bundle from a store is
//! `thread::bundle`'s job. `docs/thread.md` documents the format for third-party verifiers.

mod compare;
mod verify;

pub use verify::{verify, BundleFailure, BundleReport};

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "threadlog-bundle/1";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    /// The log's origin: the checkpoint's first line and every key's name.
    pub origin: String,
    /// The key that signed `checkpoint`.
    pub verifier_key: String,
    pub tree_size: u64,
    /// The C2SP signed checkpoint (tlog-checkpoint in a signed note) at `tree_size`.
    pub checkpoint: String,
    /// The node the bundle is about.
    pub subject: String,
    /// Every entry the thread answer is derived from and every entry naming the
    /// subject, by index.
    pub entries: Vec<BundleEntry>,
    /// The thread answer at `tree_size`, as `GET /v1/thread/{subject}` gives it; the
    /// verifier derives it again from `entries` and requires it to be exactly this.
    pub thread: serde_json::Value,
    /// From the log's first key to the one that signed `checkpoint`, in order.
    pub key_history: Vec<KeyHandover>,
    pub exported_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BundleEntry {
    pub index: u64,
    /// Base64 of the exact leaf bytes.
    pub leaf: String,
    /// Base64 hashes of the RFC 9162 inclusion proof of the leaf at `index` in the tree
    /// the proving checkpoint names.
    pub inclusion_proof: Vec<String>,
}

/// One key rotation: the key entry, proved in the checkpoint both keys signed, and that
/// checkpoint's tree proved a prefix of the bundle's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyHandover {
    pub previous_key: String,
    pub verifier_key: String,
    /// The `key` entry, proved against `checkpoint`.
    pub entry: BundleEntry,
    /// The checkpoint at `entry.index + 1`, signed by both keys.
    pub checkpoint: String,
    /// Base64 hashes of the consistency proof from `checkpoint` to the bundle's.
    pub consistency_proof: Vec<String>,
}
