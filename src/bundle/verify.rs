//! Checking a bundle offline: with the key the auditor pinned, through the `merkle` and
//! `note` code only. Each failure names what failed (an entry by index, the checkpoint,
//! a key handover, an edge or a correction of the thread answer) and why.
//!
//! What it proves: every entry in the bundle is, byte for byte, in the log whose
//! checkpoint the pinned key (or a key it handed over to) signed, and every edge and
//! correction the thread answer shows is stated by such an entry. What it cannot prove
//! is that nothing was left out: for that, ask the log the same question at the same
//! tree size.

use super::{Bundle, BundleEntry, FORMAT};
use crate::merkle::{self, Hash};
use crate::note::{self, VerifierKey};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{at}: {reason}")]
pub struct BundleFailure {
    /// What failed: `bundle`, `checkpoint`, `entry N`, `key handover N (entry I)`,
    /// `edge N (…)`, `correction (entry J corrects I)` or `thread`.
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

fn fail(at: impl Into<String>, reason: impl Into<String>) -> BundleFailure {
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

/// Verifies a bundle's bytes against the pinned verifier key.
pub fn verify(bytes: &[u8], pinned: &VerifierKey) -> Result<BundleReport, BundleFailure> {
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

    // Keys: from the pinned one through each handover it (or its successor) made.
    let mut current = pinned.clone();
    let mut started = false;
    let mut prefixes = Vec::new();
    for (n, h) in b.key_history.iter().enumerate() {
        let at = format!("key handover {n} (entry {})", h.entry.index);
        if h.previous_key != current.as_str() {
            if started {
                return Err(fail(
                    at,
                    format!(
                        "it hands over from {}, but the key in force is {current}",
                        h.previous_key
                    ),
                ));
            }
            continue; // before the pinned key took over
        }
        started = true;
        let new: VerifierKey = h
            .verifier_key
            .parse()
            .map_err(|e| fail(&at, format!("the new key: {e}")))?;
        let (cp, _) =
            note::open_checkpoint(&h.checkpoint, std::slice::from_ref(&current), &b.origin)
                .map_err(|e| {
                    fail(
                        &at,
                        format!("its checkpoint is not signed by {current}: {e}"),
                    )
                })?;
        note::open_checkpoint(&h.checkpoint, std::slice::from_ref(&new), &b.origin)
            .map_err(|e| fail(&at, format!("its checkpoint is not signed by {new}: {e}")))?;
        if cp.tree_size != h.entry.index + 1 {
            return Err(fail(
                &at,
                format!(
                    "its checkpoint is at tree size {}, not just past the key entry",
                    cp.tree_size
                ),
            ));
        }
        let root = Hash(cp.root_hash);
        let leaf = check_entry(&h.entry, cp.tree_size, &root).map_err(|r| fail(&at, r))?;
        let v: Value = serde_json::from_slice(&leaf)
            .map_err(|e| fail(&at, format!("the key entry is not JSON: {e}")))?;
        if v["kind"] != "key"
            || v["body"]["previous_key"] != h.previous_key.as_str()
            || v["body"]["verifier_key"] != h.verifier_key.as_str()
        {
            return Err(fail(
                &at,
                "the entry is not a key entry handing over between these two keys",
            ));
        }
        prefixes.push((at, cp.tree_size, root, &h.consistency_proof));
        current = new;
    }

    // The checkpoint every entry is proved against.
    let (cp, _) = note::open_checkpoint(&b.checkpoint, std::slice::from_ref(&current), &b.origin)
        .map_err(|e| fail("checkpoint", format!("not signed by {current}: {e}")))?;
    if cp.tree_size != b.tree_size {
        return Err(fail(
            "checkpoint",
            format!(
                "it signs tree size {}, the bundle says {}",
                cp.tree_size, b.tree_size
            ),
        ));
    }
    if b.verifier_key != current.as_str() {
        return Err(fail(
            "verifier_key",
            format!("{} is named, but {current} signed", b.verifier_key),
        ));
    }
    let root = Hash(cp.root_hash);
    let followed = prefixes.len();
    for (at, size, prefix_root, proof) in prefixes {
        let proof = hashes(&at, proof)?;
        merkle::verify_consistency(&proof, size, &prefix_root, cp.tree_size, &root).map_err(
            |_| {
                fail(
                    &at,
                    "its checkpoint's tree is not a prefix of the bundle's tree",
                )
            },
        )?;
    }

    // The entries.
    let mut leaves: HashMap<u64, Value> = HashMap::with_capacity(b.entries.len());
    for e in &b.entries {
        let at = format!("entry {}", e.index);
        if leaves.contains_key(&e.index) {
            return Err(fail(at, "listed twice"));
        }
        let leaf = check_entry(e, cp.tree_size, &root).map_err(|r| fail(&at, r))?;
        let v: Value = serde_json::from_slice(&leaf)
            .map_err(|err| fail(&at, format!("the leaf is not JSON: {err}")))?;
        leaves.insert(e.index, v);
    }

    // The thread answer: computed at this checkpoint, every claim stated by an entry.
    let t = &b.thread;
    if t["node"] != b.subject.as_str() {
        return Err(fail("thread", "it is not about the bundle's subject"));
    }
    if t["checkpoint"]["tree_size"] != cp.tree_size
        || t["checkpoint"]["root_hash"] != root.to_base64().as_str()
    {
        return Err(fail("thread", "it was computed at another checkpoint"));
    }
    let empty = Vec::new();
    let edges = t["edges"].as_array().unwrap_or(&empty);
    for (k, e) in edges.iter().enumerate() {
        let (from, to) = (e["from"].as_str(), e["to"].as_str());
        let (Some(from), Some(to), Some(entry)) = (from, to, e["entry"].as_u64()) else {
            return Err(fail(format!("edge {k}"), "from, to or entry is missing"));
        };
        let at = format!("edge {k} ({from} -> {to}, entry {entry})");
        let leaf = leaves
            .get(&entry)
            .ok_or_else(|| fail(&at, "its entry is not in the bundle"))?;
        let subjects = leaf["subjects"].as_array().unwrap_or(&empty);
        for n in [from, to] {
            if !subjects.iter().any(|s| s == n) {
                return Err(fail(&at, format!("entry {entry} does not name {n}")));
            }
        }
    }
    let corrections = t["corrections"].as_array().unwrap_or(&empty);
    for c in corrections {
        let (Some(by), Some(corrected)) = (c["entry"].as_u64(), c["corrects"].as_u64()) else {
            return Err(fail("thread", "a correction without entry or corrects"));
        };
        let at = format!("correction (entry {by} corrects {corrected})");
        let (Some(fix), Some(old)) = (leaves.get(&by), leaves.get(&corrected)) else {
            return Err(fail(&at, "both entries must be in the bundle"));
        };
        let named = &fix["body"]["corrects"]["event_id"];
        if named.is_null() || *named != old["body"]["event_id"] {
            return Err(fail(
                &at,
                format!(
                    "entry {by} does not name entry {corrected}'s event as the one it corrects"
                ),
            ));
        }
    }
    Ok(BundleReport {
        origin: b.origin,
        subject: b.subject,
        tree_size: cp.tree_size,
        root_hash: root.to_base64(),
        verifier_key: current.to_string(),
        entries: leaves.len(),
        edges: edges.len(),
        corrections: corrections.len(),
        key_handovers: followed,
    })
}
