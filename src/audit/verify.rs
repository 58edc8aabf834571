//! The verification procedure itself; see the module doc of `audit`.

use super::source::{Source, SourceError};
use super::{ChainError, KeyChain, KeyEpoch};
use crate::merkle::{self, Hash, Rebuilder, TileId};
use crate::note::{self, VerifierKey};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

const PAGE: u32 = 1000;

/// The checkpoint an auditor saw on its previous run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Previous {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Failure {
    /// The first entry found bad, when one could be named.
    pub index: Option<u64>,
    /// The checkpoint (tree size) that failed, when the failure is about one.
    pub checkpoint: Option<u64>,
    /// The stored tile (`level/index`) that disagrees, when the source keeps tiles.
    pub tile: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    pub tiles_checked: u64,
    /// Documents (SBOMs) bound by leaves, each found with the digest its leaf states.
    pub documents_checked: u64,
    pub consistent_with_previous: Option<u64>,
    /// The keys followed from the pinned one, oldest first; the last signs today.
    pub keys: Vec<KeyEpoch>,
    pub failure: Option<Failure>,
}

fn fail(
    index: Option<u64>,
    checkpoint: Option<u64>,
    tile: Option<String>,
    reason: impl Into<String>,
) -> Failure {
    Failure {
        index,
        checkpoint,
        tile,
        reason: reason.into(),
    }
}

/// Verifies the whole log `source` serves against `key`, and its consistency with
/// `previous` if given. `Err` means the source could not be read; a log that fails
/// verification is an `Ok` report with `ok: false`.
pub async fn verify(
    source: &dyn Source,
    key: &VerifierKey,
    previous: Option<&Previous>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report, SourceError> {
    let origin = key.name().to_string();
    let mut report = Report {
        ok: false,
        origin: origin.clone(),
        tree_size: 0,
        root_hash: String::new(),
        entries_checked: 0,
        checkpoints_checked: 0,
        tiles_checked: 0,
        documents_checked: 0,
        consistent_with_previous: None,
        keys: Vec::new(),
        failure: None,
    };
    let latest_note = source.latest_checkpoint().await?;
    // Which keys may sign the latest checkpoint is known only after reading the key
    // entries below it: its body gives the size to read up to now, and its signatures
    // are checked against the whole key history when the rebuild reaches that size.
    let latest = match note::peek_checkpoint(&latest_note) {
        Ok(cp) if cp.origin == origin => cp,
        Ok(cp) => {
            report.failure = Some(fail(
                None,
                None,
                None,
                format!(
                    "latest checkpoint: origin {:?} is not the key's log {origin:?}",
                    cp.origin
                ),
            ));
            return Ok(report);
        }
        Err(e) => {
            report.failure = Some(fail(None, None, None, format!("latest checkpoint: {e}")));
            return Ok(report);
        }
    };
    let size = latest.tree_size;
    let root = Hash(latest.root_hash);
    report.tree_size = size;
    report.root_hash = root.to_base64();

    let previous_root = match previous {
        Some(p) if p.origin != origin => {
            report.failure = Some(fail(
                None,
                None,
                None,
                format!(
                    "the previous run audited origin {:?}, not {origin:?}",
                    p.origin
                ),
            ));
            return Ok(report);
        }
        Some(p) if p.tree_size > size => {
            report.failure = Some(fail(
                None,
                Some(size),
                None,
                format!(
                    "rollback: the log is at tree size {size}, but the previous run saw {}",
                    p.tree_size
                ),
            ));
            return Ok(report);
        }
        Some(p) => match Hash::from_base64(&p.root_hash) {
            Ok(h) => Some((p.tree_size, h)),
            Err(_) => {
                report.failure = Some(fail(
                    None,
                    None,
                    None,
                    "the state file's root hash is not base64 of 32 bytes",
                ));
                return Ok(report);
            }
        },
        None => None,
    };

    let mut chain = KeyChain::new(key.clone());
    let outcome = run(
        source,
        &mut chain,
        &latest_note,
        size,
        root,
        previous_root,
        &mut report,
        progress,
    )
    .await?;
    report.keys = chain.history().to_vec();
    match outcome {
        Some(f) => report.failure = Some(f),
        None => {
            if let Some((psize, proot)) = previous_root {
                // The rebuild already matched the old root; the server's own proof must agree.
                let proof = source.consistency_proof(psize, size).await?;
                if merkle::verify_consistency(&proof, psize, &proot, size, &root).is_err() {
                    report.failure = Some(fail(
                        None,
                        Some(size),
                        None,
                        format!("the server's consistency proof {psize} → {size} does not verify"),
                    ));
                    return Ok(report);
                }
                report.consistent_with_previous = Some(psize);
            }
            report.ok = true;
        }
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn run(
    source: &dyn Source,
    chain: &mut KeyChain,
    latest_note: &str,
    size: u64,
    root: Hash,
    previous: Option<(u64, Hash)>,
    report: &mut Report,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Option<Failure>, SourceError> {
    let mut tree = Rebuilder::new();
    // Checkpoints whose roots are compared (and signatures checked against the keys in
    // force there) when the rebuild reaches their size.
    let mut checks: VecDeque<(u64, String, Hash)> = VecDeque::new();
    let mut stored_after: Option<u64> = None;
    let mut stored_done = false;
    // Roots at page ends, for bisecting a mismatch down to an entry.
    let mut boundaries: Vec<(u64, Hash)> = vec![(0, merkle::EMPTY_ROOT)];
    let mut documents = std::collections::HashSet::new();
    // Each batch's entries carry its one `integrated_at` and commit with its checkpoint,
    // so where the time changes between two entries a checkpoint must be stored at that
    // size; a deleted checkpoint row (whose proofs the server can then no longer serve)
    // shows only here. Checked where the source lists its checkpoints.
    let mut checked_at: Option<u64> = None;
    let mut previous_time: Option<String> = None;

    loop {
        // Keep the queue of checks filled with stored checkpoints ahead of the rebuild.
        while !stored_done && checks.len() < 64 {
            let page = source.checkpoints(stored_after, PAGE).await?;
            if page.len() < PAGE as usize {
                stored_done = true;
            }
            for (cp_size, text) in page {
                stored_after = Some(cp_size);
                if cp_size > size {
                    stored_done = true;
                    break;
                }
                match peek(&text, cp_size) {
                    Ok(root) => checks.push_back((cp_size, text, root)),
                    Err(f) => return Ok(Some(f)),
                }
            }
        }
        let at = tree.size();
        let current = boundaries.last().map(|b| b.1).unwrap_or(merkle::EMPTY_ROOT);
        // A rotation's own checkpoint is checked before any later entry is read, also
        // where the source lists no checkpoints (a server): it is asked for that one.
        if chain.pending_checkpoint() == Some(at) && checks.front().is_none_or(|c| c.0 != at) {
            let Some(text) = source.checkpoint(at).await? else {
                return Ok(Some(fail(
                    None,
                    Some(at),
                    None,
                    format!(
                        "no checkpoint was issued at tree size {at}, the one that must carry \
                         the signatures of both keys of key entry {}",
                        at - 1
                    ),
                )));
            };
            match peek(&text, at) {
                Ok(root) => checks.push_front((at, text, root)),
                Err(f) => return Ok(Some(f)),
            }
        }
        // Check every checkpoint due at the current size before reading further.
        while checks.front().is_some_and(|c| c.0 <= at) {
            let Some((cp_size, text, expected)) = checks.pop_front() else {
                break;
            };
            if cp_size < at {
                continue;
            }
            if let Err(e) = chain.check_checkpoint(cp_size, &text) {
                return Ok(Some(chain_failure(e)));
            }
            report.checkpoints_checked += 1;
            checked_at = Some(cp_size);
            if current != expected {
                return Ok(Some(
                    bisect(source, &boundaries, cp_size, expected, "checkpoint").await?,
                ));
            }
        }
        if let Some((p, proot)) = previous {
            if p == at && current != proot {
                return Ok(Some(fail(
                    None,
                    Some(p),
                    None,
                    format!(
                        "fork: the log's tree at size {p} has root {}, but the previous run saw {}",
                        current.to_base64(),
                        proot.to_base64()
                    ),
                )));
            }
        }
        if at == size {
            // With the whole key history read, the latest checkpoint's signatures.
            if let Err(e) = chain.check_checkpoint(size, latest_note) {
                let mut f = chain_failure(e);
                f.reason = format!("latest {}", f.reason);
                return Ok(Some(f));
            }
            if current != root {
                return Ok(Some(
                    bisect(source, &boundaries, size, root, "latest checkpoint").await?,
                ));
            }
            let edge: Vec<(TileId, Vec<u8>)> =
                tree.edge().clone().into_inner().into_iter().collect();
            if let Some(f) = compare_tiles(source, edge, report).await? {
                return Ok(Some(f));
            }
            return uncovered_entries(source, latest_note, size).await;
        }

        // Read up to the next size where a root must be compared.
        let start = at;
        let stop = [
            Some(size),
            checks.front().map(|c| c.0),
            previous.map(|(p, _)| p),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > start)
        .min()
        .unwrap_or(size); // `at < size` here, so there is always a next stop.
        let want = (stop - start).min(u64::from(PAGE)) as u32;
        let page = source.entries(start, want).await?;
        if page.is_empty() {
            return Ok(Some(fail(
                Some(start),
                None,
                None,
                format!("entry {start} is missing but the checkpoint covers {size} entries"),
            )));
        }
        let mut hashes = Vec::with_capacity(page.len());
        for (i, (index, leaf)) in page.iter().enumerate() {
            let expect = start + i as u64;
            if *index != expect {
                return Ok(Some(fail(
                    Some(expect),
                    None,
                    None,
                    format!("entry {expect} is missing (the source skipped to {index})"),
                )));
            }
            let time = integrated_at(leaf);
            if source.lists_checkpoints() && checked_at != Some(*index) {
                if let (Some(before), Some(now)) = (&previous_time, &time) {
                    if before != now {
                        return Ok(Some(fail(
                            None,
                            Some(*index),
                            None,
                            format!(
                                "no checkpoint is stored at tree size {index}, where a batch \
                                 ends: entry {} was integrated at {before}, entry {index} at {now}",
                                index - 1
                            ),
                        )));
                    }
                }
            }
            previous_time = time;
            hashes.push(merkle::leaf_hash(leaf));
            if let Some(f) = super::documents::check(source, *index, leaf, &mut documents).await? {
                return Ok(Some(f));
            }
            report.documents_checked = documents.len() as u64;
            match chain.observe(*index, leaf) {
                Err(e) => return Ok(Some(chain_failure(e))),
                // Its rotation's checkpoint comes next: read no further before it.
                Ok(true) => break,
                Ok(false) => {}
            }
        }
        let step = tree
            .push(&hashes)
            .map_err(|e| SourceError::Malformed(e.to_string()))?;
        report.entries_checked += hashes.len() as u64;
        boundaries.push((tree.size(), step.root));
        if let Some(f) = compare_tiles(source, step.completed, report).await? {
            return Ok(Some(f));
        }
        progress(tree.size(), size);
    }
}

/// Entries stored beyond the latest checkpoint: every batch commits with its checkpoint,
/// so a stored entry no checkpoint covers means the latest checkpoint row was deleted
/// (the earlier-batch check above cannot see the last batch). A log that grew while it
/// was read shows a newer latest checkpoint on a second look and is not a failure.
async fn uncovered_entries(
    source: &dyn Source,
    latest_note: &str,
    size: u64,
) -> Result<Option<Failure>, SourceError> {
    if !source.lists_checkpoints() || source.entries(size, 1).await?.is_empty() {
        return Ok(None);
    }
    if source.latest_checkpoint().await? != latest_note {
        return Ok(None);
    }
    Ok(Some(fail(
        Some(size),
        Some(size),
        None,
        format!(
            "entry {size} is stored beyond the latest checkpoint (tree size {size}): the \
             checkpoint that covers it is missing"
        ),
    )))
}

/// A leaf's `integrated_at`, if it has one; whether the leaf is well-formed is the leaf
/// hash's concern, not this.
fn integrated_at(leaf: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Stamp {
        integrated_at: String,
    }
    serde_json::from_slice::<Stamp>(leaf)
        .ok()
        .map(|s| s.integrated_at)
}

/// The size and root a stored checkpoint claims; signatures are checked later.
fn peek(text: &str, cp_size: u64) -> Result<Hash, Failure> {
    match note::peek_checkpoint(text) {
        Ok(cp) if cp.tree_size == cp_size => Ok(Hash(cp.root_hash)),
        Ok(cp) => Err(fail(
            None,
            Some(cp_size),
            None,
            format!(
                "checkpoint stored at size {cp_size} says size {}",
                cp.tree_size
            ),
        )),
        Err(e) => Err(fail(
            None,
            Some(cp_size),
            None,
            format!("checkpoint at tree size {cp_size}: {e}"),
        )),
    }
}

fn chain_failure(e: ChainError) -> Failure {
    match &e {
        ChainError::Entry { index, .. } => fail(Some(*index), None, None, e.to_string()),
        ChainError::Checkpoint { tree_size, .. } => {
            fail(None, Some(*tree_size), None, e.to_string())
        }
    }
}

/// Compares rebuilt tiles with the source's stored ones, naming the first entry whose
/// stored hash differs when the tile is a leaf tile.
async fn compare_tiles(
    source: &dyn Source,
    tiles: Vec<(TileId, Vec<u8>)>,
    report: &mut Report,
) -> Result<Option<Failure>, SourceError> {
    if tiles.is_empty() {
        return Ok(None);
    }
    let ids: Vec<TileId> = tiles.iter().map(|t| t.0).collect();
    let Some(stored) = source.tiles(&ids).await? else {
        return Ok(None);
    };
    for ((id, rebuilt), stored) in tiles.into_iter().zip(stored) {
        report.tiles_checked += 1;
        let name = format!("{}/{}", id.level, id.index);
        let Some(stored) = stored else {
            return Ok(Some(fail(
                None,
                None,
                Some(name.clone()),
                format!("tile {name} is missing"),
            )));
        };
        if stored.len() < rebuilt.len() || stored[..rebuilt.len()] != rebuilt[..] {
            let pos = rebuilt
                .chunks(32)
                .zip(stored.chunks(32))
                .position(|(a, b)| a != b)
                .unwrap_or(stored.len() / 32) as u64;
            let index = (id.level == 0).then(|| id.index * merkle::TILE_WIDTH + pos);
            let reason = match index {
                Some(i) => format!("stored hash of entry {i} (tile {name}) differs from the hash of its leaf bytes"),
                None => format!("tile {name} differs from the tree rebuilt from the leaves at hash {pos}"),
            };
            return Ok(Some(fail(index, None, Some(name), reason)));
        }
    }
    Ok(None)
}

/// A root disagrees at `size`: find the first page whose prefix is not consistent with
/// the signed tree, then the first entry in it without a valid inclusion proof.
async fn bisect(
    source: &dyn Source,
    boundaries: &[(u64, Hash)],
    size: u64,
    signed_root: Hash,
    what: &str,
) -> Result<Failure, SourceError> {
    let reason =
        format!("the tree rebuilt from the leaves does not match the {what} at tree size {size}");
    let usable: Vec<(u64, Hash)> = boundaries.iter().copied().filter(|b| b.0 <= size).collect();
    // Invariant: prefix `usable[lo]` is consistent, prefix `usable[hi]` is not.
    let (mut lo, mut hi) = (0usize, usable.len() - 1);
    let consistent = |b: (u64, Hash), proof: &[Hash]| {
        merkle::verify_consistency(proof, b.0, &b.1, size, &signed_root).is_ok()
    };
    if usable[hi].0 != size {
        return Ok(fail(None, Some(size), None, reason));
    }
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let proof = source.consistency_proof(usable[mid].0, size).await?;
        if consistent(usable[mid], &proof) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let (from, to) = (usable[lo].0, usable[hi].0);
    let page = source.entries(from, (to - from) as u32).await?;
    for (index, leaf) in page {
        let proof = source.inclusion_proof(index, size).await?;
        if merkle::verify_inclusion(&proof, index, size, &merkle::leaf_hash(&leaf), &signed_root)
            .is_err()
        {
            return Ok(fail(
                Some(index),
                Some(size),
                None,
                format!("{reason}: entry {index} is not the leaf the signed tree holds"),
            ));
        }
    }
    Ok(fail(None, Some(size), None, reason))
}
