//! What the log-reading endpoints and appends send, defined once: the server builds its
//! answers from these types and clients parse them back. Hashes and leaves are base64
//! (standard alphabet, padded); tree sizes and indices are JSON integers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// An append's receipt: the core's type, since the core also verifies it.
pub use threadlog_core::receipt::{InclusionProof as ReceiptProof, Receipt};

/// `GET /v1/log`: the log's identity and its latest signed tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogInfo {
    pub origin: String,
    pub verifier_key: String,
    pub tree_size: u64,
    pub root_hash: String,
}

/// One logged entry, `GET /v1/entries/{index}` and each item of a page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub index: u64,
    pub kind: String,
    pub leaf_hash: String,
    /// The exact leaf bytes, base64.
    pub leaf: String,
    /// The leaf parsed, for reading; the leaf bytes are what is proved.
    pub entry: Value,
}

/// `GET /v1/entries`: a page in index order; `next` is the `after` of the next page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntryPage {
    pub entries: Vec<Entry>,
    pub next: Option<u64>,
}

/// An entry with its inclusion proof in the tree of `inclusion_proof.tree_size`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProvedEntry {
    #[serde(flatten)]
    pub entry: Entry,
    pub inclusion_proof: ReceiptProof,
}

/// `GET /v1/artifacts/{subject}`: the entries naming an artifact, each proved against
/// one signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactEntries {
    pub subject: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub checkpoint: String,
    pub entries: Vec<ProvedEntry>,
    pub next: Option<u64>,
}

/// `GET /v1/proofs/inclusion`: the RFC 9162 inclusion proof of `index` in `tree_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub index: u64,
    pub tree_size: u64,
    pub hashes: Vec<String>,
}

/// `GET /v1/proofs/consistency`: the RFC 9162 proof that `first` is a prefix of `second`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub first: u64,
    pub second: u64,
    pub hashes: Vec<String>,
}

/// Every error answer: a stable code (`not_found`, `invalid`, `halted`, …) and a message
/// for people; invalid documents add their violations, refused attestations the check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violations: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
}
