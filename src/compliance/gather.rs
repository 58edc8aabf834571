//! Reads a report's inputs from a store: the checkpoint, the framework's results below
//! it, the checkpoints where results were added, the entries that prove cited digests,
//! and the inclusion proofs. Must not compute a figure: that is `build`'s alone.

use super::{build, CheckpointRef, DigestEntries, EvidenceRef, LoggedResult, Report, ResultError};
use crate::controls::Framework;
use crate::merkle::{self, ProofError, TileSet};
use crate::store::{EntryQuery, Store, StoreError, StoredCheckpoint, TileCache};
use std::collections::{BTreeSet, HashMap};

const PAGE: u32 = 1000;

#[derive(Debug, thiserror::Error)]
pub enum GatherError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no checkpoint was issued at tree size {0}")]
    NoCheckpoint(u64),
    #[error(transparent)]
    Result(#[from] ResultError),
    #[error("cannot prove entry inclusion: {0}")]
    Proof(#[from] ProofError),
}

/// The framework's results below `tree_size`, in log order.
pub async fn results(
    store: &dyn Store,
    framework: Framework,
    tree_size: u64,
) -> Result<Vec<LoggedResult>, GatherError> {
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .entries(&EntryQuery {
                kind: Some("control".into()),
                after,
                below: Some(tree_size),
                limit: PAGE,
                ..EntryQuery::default()
            })
            .await?;
        for e in &page {
            if let Some(r) = LoggedResult::from_leaf(e.index, &e.leaf)? {
                if r.framework == framework {
                    out.push(r);
                }
            }
        }
        match page.last() {
            Some(last) if page.len() == PAGE as usize => after = Some(last.index),
            _ => return Ok(out),
        }
    }
}

/// The checkpoints that first include each result: where the figures changed.
async fn trend_sizes(
    store: &dyn Store,
    results: &[LoggedResult],
    tree_size: u64,
) -> Result<Vec<u64>, GatherError> {
    let mut sizes: Vec<u64> = Vec::new();
    for r in results {
        if sizes.last().is_some_and(|s| r.index < *s) {
            continue;
        }
        let first = store.checkpoints(Some(r.index), 1).await?;
        let size = first
            .first()
            .map_or(tree_size, |c| c.tree_size.min(tree_size));
        sizes.push(size);
    }
    if sizes.last() != Some(&tree_size) {
        sizes.push(tree_size);
    }
    Ok(sizes)
}

async fn digest_entries(
    store: &dyn Store,
    results: &[LoggedResult],
    tree_size: u64,
) -> Result<DigestEntries, GatherError> {
    let digests: BTreeSet<&str> = results
        .iter()
        .flat_map(|r| &r.evidence)
        .filter_map(|e| match e {
            EvidenceRef::Digest(d) => Some(d.as_str()),
            EvidenceRef::Entry(_) => None,
        })
        .collect();
    let mut out = HashMap::new();
    for d in digests {
        let first = store
            .entries(&EntryQuery {
                subject: Some(d.to_string()),
                below: Some(tree_size),
                limit: 1,
                ..EntryQuery::default()
            })
            .await?;
        if let Some(e) = first.first() {
            out.insert(d.to_string(), e.index);
        }
    }
    Ok(out)
}

/// Inclusion proofs of `indexes` in the tree of `tree_size`, as base64 hashes.
pub async fn proofs(
    store: &dyn Store,
    tiles: &TileCache,
    indexes: &[u64],
    tree_size: u64,
) -> Result<HashMap<u64, Vec<String>>, GatherError> {
    let mut ids = BTreeSet::new();
    for &i in indexes {
        ids.extend(merkle::needed_tiles_for_inclusion(i, tree_size)?);
    }
    let ids: Vec<_> = ids.into_iter().collect();
    let mut set = TileSet::new();
    tiles.load(store, &ids, &mut set).await?;
    let hashes = merkle::inclusion_proofs(&set, indexes, tree_size)?;
    Ok(indexes
        .iter()
        .zip(hashes)
        .map(|(i, h)| (*i, h.iter().map(|x| x.to_base64()).collect()))
        .collect())
}

/// The checkpoint at `at`, or the latest.
pub async fn checkpoint(
    store: &dyn Store,
    at: Option<u64>,
) -> Result<StoredCheckpoint, GatherError> {
    match at {
        Some(size) => store
            .checkpoint(size)
            .await?
            .ok_or(GatherError::NoCheckpoint(size)),
        None => store
            .latest_checkpoint()
            .await?
            .ok_or(GatherError::NoCheckpoint(0)),
    }
}

/// The whole report of `framework` at checkpoint `at` (default: the latest).
pub async fn report(
    store: &dyn Store,
    tiles: &TileCache,
    framework: Framework,
    at: Option<u64>,
) -> Result<Report, GatherError> {
    let cp = checkpoint(store, at).await?;
    let n = cp.tree_size;
    let results = results(store, framework, n).await?;
    let sizes = trend_sizes(store, &results, n).await?;
    let digests = digest_entries(store, &results, n).await?;
    let checkpoint = CheckpointRef {
        tree_size: n,
        root_hash: cp.root_hash.to_base64(),
        note: cp.note,
        as_of: (n > 0).then_some(cp.created_at),
    };
    let mut report = build(framework, checkpoint, &results, &sizes, &digests);
    let proofs = proofs(store, tiles, &report.proof_indexes(), n).await?;
    report.attach_proofs(&proofs);
    Ok(report)
}
