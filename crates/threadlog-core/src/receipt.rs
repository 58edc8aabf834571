//! Receipts: what `POST /v1/events` (and every other append) answers for each entry, and
//! their offline check. A receipt holds the entry's index and leaf hash, the signed
//! checkpoint of the tree it was integrated into, and the inclusion proof against that
//! tree, so whoever holds it can prove, with the log's public key alone, that the log
//! committed to the entry.
//!
//! This module owns the receipt's JSON form and its verification; it reads nothing.

use crate::merkle::{self, Hash};
use crate::note::{self, VerifierKey};
use serde::{Deserialize, Serialize};

/// One entry's receipt, as the server sends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub index: u64,
    /// Base64 of the RFC 9162 leaf hash.
    pub leaf_hash: String,
    pub integrated_at: String,
    /// The signed checkpoint note the proof is against.
    pub checkpoint: String,
    pub inclusion_proof: InclusionProof,
}

/// An RFC 9162 inclusion proof of a receipt's leaf in the tree of `tree_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    pub tree_size: u64,
    /// Base64 hashes, from the leaf up.
    pub hashes: Vec<String>,
}

/// What a verified receipt proves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptReport {
    pub origin: String,
    pub index: u64,
    pub tree_size: u64,
    /// Base64 root hash of the signed tree that holds the entry.
    pub root_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct ReceiptFailure {
    /// What failed: `receipt`, `checkpoint`, `leaf` or `inclusion_proof`.
    pub at: &'static str,
    pub reason: String,
}

fn fail(at: &'static str, reason: impl Into<String>) -> ReceiptFailure {
    ReceiptFailure {
        at,
        reason: reason.into(),
    }
}

impl Receipt {
    /// Checks the receipt against the log key `key` (the key in force when it was
    /// issued). With `leaf`, also that the receipt is for exactly these leaf bytes.
    pub fn verify(
        &self,
        key: &VerifierKey,
        leaf: Option<&[u8]>,
    ) -> Result<ReceiptReport, ReceiptFailure> {
        let (cp, _) =
            note::open_checkpoint(&self.checkpoint, std::slice::from_ref(key), key.name())
                .map_err(|e| fail("checkpoint", format!("not signed by {key}: {e}")))?;
        if cp.tree_size != self.inclusion_proof.tree_size {
            return Err(fail(
                "inclusion_proof",
                format!(
                    "it is for tree size {}, the checkpoint signs {}",
                    self.inclusion_proof.tree_size, cp.tree_size
                ),
            ));
        }
        let leaf_hash = Hash::from_base64(&self.leaf_hash)
            .map_err(|_| fail("receipt", "leaf_hash is not base64 of 32 bytes"))?;
        if let Some(leaf) = leaf {
            if merkle::leaf_hash(leaf) != leaf_hash {
                return Err(fail(
                    "leaf",
                    "these bytes are not the leaf the receipt names",
                ));
            }
        }
        let proof = self
            .inclusion_proof
            .hashes
            .iter()
            .enumerate()
            .map(|(n, h)| {
                Hash::from_base64(h).map_err(|_| {
                    fail(
                        "inclusion_proof",
                        format!("hash {n} is not base64 of 32 bytes"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let root = Hash(cp.root_hash);
        merkle::verify_inclusion(&proof, self.index, cp.tree_size, &leaf_hash, &root)
            .map_err(|_| fail("inclusion_proof", "the entry is not in the signed tree"))?;
        Ok(ReceiptReport {
            origin: cp.origin,
            index: self.index,
            tree_size: cp.tree_size,
            root_hash: root.to_base64(),
        })
    }
}
