//! Checking a bundle offline: with the key the auditor pinned, through the `merkle` and
//! `note` code, the key-history rules of `keychain` and the pure thread derivation only. Each failure names what failed (an
//! entry by index, the checkpoint, a key handover, an edge, node or correction of the
//! thread answer, or its truncation) and why.
//!
//! What it proves: every entry in the bundle is, byte for byte, in the log whose
//! checkpoint the pinned key (or a key it handed over to) signed, and the thread answer
//! is exactly the one `thread::graph::derive` (the function the server answers with)
//! derives from those entries: every node, edge (kind, direction, time, label, entry),
//! correction and truncation. What it cannot prove is that no entry was left out: for
//! that, ask the log the same question at the same tree size.

use super::compare::compare;
use super::{Bundle, BundleEntry, FORMAT};
use crate::graph::{self, CheckpointRef, Direction, Query, Trace, MAX_DEPTH};
use crate::keychain::{ChainError, KeyChain};
use crate::merkle::{self, Hash, LeafIndex};
use crate::note::VerifierKey;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct BundleFailure {
    /// What failed: `bundle`, `checkpoint`, `entry N`, `key handover N (entry I)`,
    /// `edge N (FROM -> TO, KIND, entry I)`, `node ID`, `correction (entry J corrects I)`,
    /// `truncated` or `thread`.
    pub at: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleReport {
    pub origin: String,
    pub subject: String,
    pub tree_size: u64,
    pub root_hash: String,
    /// The key that signed the checkpoint, reached from the pinned one.
    pub verifier_key: String,
    pub entries: usize,
    pub edges: usize,
    pub corrections: usize,
    /// Key handovers followed from the pinned key.
    pub key_handovers: usize,
}

pub(super) fn fail(at: impl Into<String>, reason: impl Into<String>) -> BundleFailure {
    BundleFailure {
        at: at.into(),
        reason: reason.into(),
    }
}

/// The leaf bytes of an entry, once its inclusion proof leads to `root`.
fn check_entry(e: &BundleEntry, size: u64, root: &Hash) -> Result<Vec<u8>, String> {
    if e.index >= size {
        return Err(format!("index beyond the tree size {size}"));
    }
    let leaf = B64
        .decode(&e.leaf)
        .map_err(|err| format!("the leaf is not base64: {err}"))?;
    let proof = e
        .inclusion_proof
        .iter()
        .enumerate()
        .map(|(n, h)| {
            Hash::from_base64(h)
                .map_err(|_| format!("inclusion proof hash {n} is not base64 of 32 bytes"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    merkle::verify_inclusion(&proof, e.index, size, &merkle::leaf_hash(&leaf), root).map_err(
        |_| {
            "its leaf is not in the signed tree (the inclusion proof fails): the leaf bytes \
             or the proof were altered"
                .to_string()
        },
    )?;
    Ok(leaf)
}

fn hashes(at: &str, list: &[String]) -> Result<Vec<Hash>, BundleFailure> {
    list.iter()
        .enumerate()
        .map(|(n, h)| {
            Hash::from_base64(h)
                .map_err(|_| fail(at, format!("proof hash {n} is not base64 of 32 bytes")))
        })
        .collect()
}

/// A handover's checkpoint, proved later to be a prefix of the bundle's tree.
type Prefix<'a> = (String, u64, Hash, &'a [String]);

/// What a key-history rule said, without the position the caller names itself.
fn chain_reason(e: ChainError) -> String {
    match e {
        ChainError::Entry { reason, .. } | ChainError::Checkpoint { reason, .. } => reason,
    }
}

/// Follows the bundle's key handovers from the pinned key with the core's key-history
/// rules ([`KeyChain`]): each key entry must hand over from the key in force, its
/// checkpoint must carry both keys' signatures, and the entry must be in that
/// checkpoint's tree. Handovers before the pinned key took over are skipped.
fn follow_handovers<'a>(
    b: &'a Bundle,
    pinned: &VerifierKey,
) -> Result<(KeyChain, Vec<Prefix<'a>>), BundleFailure> {
    let mut chain = KeyChain::new(pinned.clone());
    let mut prefixes = Vec::new();
    for (n, h) in b.key_history.iter().enumerate() {
        let at = format!("key handover {n} (entry {})", h.entry.index);
        if h.previous_key != chain.current().as_str() {
            if prefixes.is_empty() {
                continue; // before the pinned key took over
            }
            return Err(fail(
                at,
                format!(
                    "it hands over from {}, but the key in force is {}",
                    h.previous_key,
                    chain.current()
                ),
            ));
        }
        // A leaf index is below the largest tree a log can hold, so the size after it is too.
        let index = LeafIndex::try_from(h.entry.index).map_err(|e| fail(&at, e.to_string()))?;
        let leaf = B64
            .decode(&h.entry.leaf)
            .map_err(|e| fail(&at, format!("the leaf is not base64: {e}")))?;
        let bad = |e: ChainError| fail(&at, chain_reason(e));
        if !chain.observe(index.get(), &leaf).map_err(bad)? {
            return Err(fail(&at, "the entry is not a key entry"));
        }
        if chain.current().as_str() != h.verifier_key {
            return Err(fail(
                &at,
                format!(
                    "the entry hands over to {}, the bundle says {}",
                    chain.current(),
                    h.verifier_key
                ),
            ));
        }
        let cp = chain
            .check_checkpoint(index.get() + 1, &h.checkpoint)
            .map_err(bad)?;
        let root = Hash(cp.root_hash);
        check_entry(&h.entry, cp.tree_size, &root).map_err(|r| fail(&at, r))?;
        prefixes.push((at, cp.tree_size, root, h.consistency_proof.as_slice()));
    }
    Ok((chain, prefixes))
}

/// Verifies a bundle's bytes against the pinned verifier key.
pub fn verify(bytes: &[u8], pinned: &VerifierKey) -> Result<BundleReport, BundleFailure> {
    let b = read_bundle(bytes, pinned)?;
    let (mut chain, prefixes) = follow_handovers(&b, pinned)?;
    // The checkpoint every entry is proved against, signed by the key in force.
    let cp = chain
        .check_checkpoint(b.tree_size, &b.checkpoint)
        .map_err(|e| fail("checkpoint", chain_reason(e)))?;
    let current = chain.current().clone();
    if b.verifier_key != current.as_str() {
        return Err(fail(
            "verifier_key",
            format!("{} is named, but {current} signed", b.verifier_key),
        ));
    }
    let root = Hash(cp.root_hash);
    let followed = prefixes.len();
    check_prefixes(prefixes, cp.tree_size, &root)?;
    let leaves = prove_entries(&b.entries, cp.tree_size, &root)?;

    // The thread answer: derived again from the proved leaves, and exactly the same.
    let q = thread_query(&b, cp.tree_size, &root)?;
    let derived = derive_thread(&b, &q, &leaves, &root)?;
    let (edges, corrections) = (derived.edges.len(), derived.corrections.len());
    let derived = serde_json::to_value(&derived)
        .map_err(|e| fail("thread", format!("the derived answer: {e}")))?;
    compare(&b.thread, &derived, &leaves)?;
    Ok(BundleReport {
        origin: b.origin,
        subject: b.subject,
        tree_size: cp.tree_size,
        root_hash: root.to_base64(),
        verifier_key: current.to_string(),
        entries: leaves.len(),
        edges,
        corrections,
        key_handovers: followed,
    })
}

/// The bundle in `bytes`, once its format is this verifier's and it is from the log the
/// pinned key is for.
fn read_bundle(bytes: &[u8], pinned: &VerifierKey) -> Result<Bundle, BundleFailure> {
    let b: Bundle = serde_json::from_slice(bytes)
        .map_err(|e| fail("bundle", format!("not a threadlog bundle: {e}")))?;
    if b.format != FORMAT {
        return Err(fail(
            "bundle",
            format!("format {:?}; this verifier reads {FORMAT:?}", b.format),
        ));
    }
    if pinned.name() != b.origin {
        return Err(fail(
            "key",
            format!(
                "the pinned key is for the log {:?}, the bundle is from {:?}",
                pinned.name(),
                b.origin
            ),
        ));
    }
    Ok(b)
}

/// Each handover's checkpoint tree is a prefix of the bundle's tree of `size` and `root`.
fn check_prefixes(prefixes: Vec<Prefix<'_>>, size: u64, root: &Hash) -> Result<(), BundleFailure> {
    for (at, prefix_size, prefix_root, proof) in prefixes {
        let proof = hashes(&at, proof)?;
        merkle::verify_consistency(&proof, prefix_size, &prefix_root, size, root).map_err(
            |_| {
                fail(
                    &at,
                    "its checkpoint's tree is not a prefix of the bundle's tree",
                )
            },
        )?;
    }
    Ok(())
}

/// The bundle's entries, each proved in the tree of `size` and `root`, decoded by index.
fn prove_entries(
    entries: &[BundleEntry],
    size: u64,
    root: &Hash,
) -> Result<HashMap<u64, Value>, BundleFailure> {
    let mut leaves: HashMap<u64, Value> = HashMap::with_capacity(entries.len());
    for e in entries {
        let at = format!("entry {}", e.index);
        if leaves.contains_key(&e.index) {
            return Err(fail(at, "listed twice"));
        }
        let leaf = check_entry(e, size, root).map_err(|r| fail(&at, r))?;
        let v: Value = serde_json::from_slice(&leaf)
            .map_err(|err| fail(&at, format!("the leaf is not JSON: {err}")))?;
        leaves.insert(e.index, v);
    }
    Ok(leaves)
}

/// The question the bundle's thread answer says it answers, once it is about the
/// bundle's subject at its checkpoint and its bounds are ones the server allows.
fn thread_query<'a>(b: &'a Bundle, size: u64, root: &Hash) -> Result<Query<'a>, BundleFailure> {
    let t = &b.thread;
    if t["node"] != b.subject.as_str() {
        return Err(fail("thread", "it is not about the bundle's subject"));
    }
    if t["checkpoint"]["tree_size"] != size
        || t["checkpoint"]["root_hash"] != root.to_base64().as_str()
    {
        return Err(fail("thread", "it was computed at another checkpoint"));
    }
    let direction = t["direction"]
        .as_str()
        .and_then(Direction::from_name)
        .ok_or_else(|| fail("thread", "direction is not backward, forward or both"))?;
    let depth = t["depth"]
        .as_u64()
        .and_then(|d| u32::try_from(d).ok())
        .filter(|d| (1..=MAX_DEPTH).contains(d))
        .ok_or_else(|| fail("thread", format!("depth is not between 1 and {MAX_DEPTH}")))?;
    let max_nodes = t["max_nodes"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n >= 1)
        .ok_or_else(|| fail("thread", "max_nodes is not a positive integer"))?;
    Ok(Query {
        node: &b.subject,
        direction,
        depth,
        max_nodes,
        below: size,
    })
}

/// The answer to `q` derived from the proved leaves, at the bundle's checkpoint (tree
/// size `q.below`, root `root`).
fn derive_thread(
    b: &Bundle,
    q: &Query<'_>,
    leaves: &HashMap<u64, Value>,
    root: &Hash,
) -> Result<Trace, BundleFailure> {
    let mut decoded: Vec<(u64, &Value)> = leaves.iter().map(|(i, v)| (*i, v)).collect();
    decoded.sort_by_key(|(i, _)| *i);
    let graph = graph::derive(&decoded, q).map_err(|e| {
        fail(
            "thread",
            format!("{e}: no entry in the bundle states an edge at it or names it"),
        )
    })?;
    let checkpoint = CheckpointRef {
        tree_size: q.below,
        root_hash: root.to_base64(),
        note: b.checkpoint.clone(),
    };
    Ok(Trace::new(q, checkpoint, graph))
}
