//! Building an evidence bundle from the store: the thread answer around a node at one
//! checkpoint, every entry it is derived from (so a verifier can derive it again) and
//! every entry naming the node, each with its exact leaf bytes and inclusion proof, and the key handovers from the log's first key. The
//! bundle is verified with the log's first key before it is returned.

use super::trace::trace_with_leaves;
use super::{Direction, ThreadError, TraceOptions};
use crate::bundle::{self, Bundle, BundleEntry, KeyHandover, FORMAT};
use crate::ledger::LoggedKey;
use crate::merkle::{self, Hash, TileSet};
use crate::store::{EntryQuery, Store, StoreError, StoredEntry, TileCache};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy)]
pub struct BundleOptions {
    pub direction: Direction,
    pub depth: u32,
    pub tree_size: Option<u64>,
    /// Most entries in a bundle; a larger one is refused (ask a narrower question).
    pub max_entries: usize,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            direction: Direction::Both,
            depth: 10,
            tree_size: None,
            max_entries: 50_000,
        }
    }
}

fn too_many(n: usize, max: usize) -> ThreadError {
    ThreadError::BadRequest(format!(
        "the bundle would hold more than {max} entries ({n} so far); lower the depth or \
         choose one direction"
    ))
}

async fn proofs(
    store: &dyn Store,
    tiles: &TileCache,
    indexes: &[u64],
    size: u64,
) -> Result<Vec<Vec<Hash>>, ThreadError> {
    let mut needed = BTreeSet::new();
    for &i in indexes {
        needed.extend(
            merkle::needed_tiles_for_inclusion(i, size)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        );
    }
    let mut set = TileSet::new();
    let needed: Vec<_> = needed.into_iter().collect();
    tiles.load(store, &needed, &mut set).await?;
    Ok(merkle::inclusion_proofs(&set, indexes, size)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?)
}

fn b64_all(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

async fn entry(store: &dyn Store, index: u64) -> Result<StoredEntry, ThreadError> {
    Ok(store
        .entry(index)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("entry {index} is missing")))?)
}

/// The bundle about `node`, verified with the log's first key.
pub async fn build_bundle(
    store: &dyn Store,
    tiles: &TileCache,
    node: &str,
    opts: &BundleOptions,
) -> Result<Bundle, ThreadError> {
    let (thread, mut leaves) = trace_with_leaves(
        store,
        node,
        &TraceOptions {
            direction: opts.direction,
            depth: opts.depth,
            tree_size: opts.tree_size,
            ..TraceOptions::default()
        },
    )
    .await?;
    let size = thread.checkpoint.tree_size;
    if leaves.len() > opts.max_entries {
        return Err(too_many(leaves.len(), opts.max_entries));
    }

    // The entries: those the answer is derived from, and the node's own.
    add_subject_entries(store, node, size, &mut leaves, opts.max_entries).await?;
    let indexes: Vec<u64> = leaves.keys().copied().collect();
    let entries = indexes
        .iter()
        .zip(proofs(store, tiles, &indexes, size).await?)
        .map(|(i, proof)| BundleEntry {
            index: *i,
            leaf: B64.encode(&leaves[i]),
            inclusion_proof: b64_all(&proof),
        })
        .collect();

    let keys = crate::ledger::logged_keys(store).await?;
    let (key_history, signing) = key_history(store, tiles, &keys, size).await?;
    let origin = store
        .meta()
        .await?
        .ok_or_else(|| StoreError::Corrupt("the store holds no log".into()))?
        .origin;
    let b = Bundle {
        format: FORMAT.into(),
        origin,
        verifier_key: signing,
        tree_size: size,
        checkpoint: thread.checkpoint.note.clone(),
        subject: node.to_string(),
        entries,
        thread: serde_json::to_value(&thread)
            .map_err(|e| StoreError::Corrupt(format!("the thread answer: {e}")))?,
        key_history,
        exported_at: crate::time::now(),
    };
    check_own_work(&b, &keys[0])?;
    Ok(b)
}

/// Adds the leaves of every entry naming `node` below `size`, page by page, refusing
/// as soon as the bundle would grow past `max` entries.
async fn add_subject_entries(
    store: &dyn Store,
    node: &str,
    size: u64,
    leaves: &mut BTreeMap<u64, Vec<u8>>,
    max: usize,
) -> Result<(), ThreadError> {
    let mut after = None;
    loop {
        let page = store
            .entries(&EntryQuery {
                subject: Some(node.to_string()),
                after,
                below: Some(size),
                limit: 1000,
                ..EntryQuery::default()
            })
            .await?;
        let last = page.len() < 1000;
        for e in page {
            after = Some(e.index);
            leaves.insert(e.index, e.leaf);
        }
        if leaves.len() > max {
            return Err(too_many(leaves.len(), max));
        }
        if last {
            return Ok(());
        }
    }
}

/// The keys: every handover at or below this size, each proved in the checkpoint
/// both keys signed, that checkpoint proved a prefix of this one. Also returns the key
/// signing at `size`.
async fn key_history(
    store: &dyn Store,
    tiles: &TileCache,
    keys: &[LoggedKey],
    size: u64,
) -> Result<(Vec<KeyHandover>, String), ThreadError> {
    let mut key_history = Vec::new();
    let mut signing = keys[0].verifier_key.clone();
    for pair in keys.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let Some(i) = new.entry_index else { continue };
        if new.from_tree_size > size {
            break;
        }
        key_history.push(handover(store, tiles, old, new, i, size).await?);
        signing = new.verifier_key.clone();
    }
    Ok((key_history, signing))
}

/// The handover from `old` to `new`, whose key entry is `i`, proved up to `size`.
async fn handover(
    store: &dyn Store,
    tiles: &TileCache,
    old: &LoggedKey,
    new: &LoggedKey,
    i: u64,
    size: u64,
) -> Result<KeyHandover, ThreadError> {
    let at = new.from_tree_size;
    let cp = store
        .checkpoint(at)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("no checkpoint at key entry {i} + 1")))?;
    let proof = proofs(store, tiles, &[i], at).await?.remove(0);
    let mut set = TileSet::new();
    let ids = merkle::needed_tiles_for_consistency(at, size)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tiles.load(store, &ids, &mut set).await?;
    let consistency = merkle::consistency_proof(&set, at, size)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(KeyHandover {
        previous_key: old.verifier_key.clone(),
        verifier_key: new.verifier_key.clone(),
        entry: BundleEntry {
            index: i,
            leaf: B64.encode(entry(store, i).await?.leaf),
            inclusion_proof: b64_all(&proof),
        },
        checkpoint: cp.note,
        consistency_proof: b64_all(&consistency),
    })
}

/// Checks our own work: the bundle must verify from the log's first key.
fn check_own_work(b: &Bundle, first: &LoggedKey) -> Result<(), ThreadError> {
    let first = first
        .verifier_key
        .parse()
        .map_err(|e| StoreError::Corrupt(format!("the log's first key: {e}")))?;
    let bytes = serde_json::to_vec(b).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    bundle::verify(&bytes, &first)
        .map_err(|f| StoreError::Corrupt(format!("the bundle does not verify: {f}")))?;
    Ok(())
}
