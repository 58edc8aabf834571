//! The rebuild of the tree from the leaves a source serves, with every check due as it
//! grows: stored checkpoints and their signatures, key rotations, batch ends, bound
//! documents, stored tiles, and entries beyond the latest checkpoint.

use super::source::{Source, SourceError};
use super::verify::{fail, Failure, Report};
use super::{ChainError, KeyChain};
use crate::merkle::{self, Hash, Rebuilder, TileId};
use crate::note;
use serde::Deserialize;
use std::collections::{HashSet, VecDeque};

const PAGE: u32 = 1000;

/// Rebuilds the tree up to the latest checkpoint (`latest_note`, of `size` and `root`),
/// checking everything on the way, and the previous run's tree if given. `Ok(None)`
/// means the log verified.
#[allow(clippy::too_many_arguments)]
pub(super) async fn run(
    source: &dyn Source,
    chain: &mut KeyChain,
    latest_note: &str,
    size: u64,
    root: Hash,
    previous: Option<(u64, Hash)>,
    report: &mut Report,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Option<Failure>, SourceError> {
    let mut r = Rebuild {
        source,
        chain,
        report,
        latest_note,
        size,
        root,
        previous,
        tree: Rebuilder::new(),
        checks: VecDeque::new(),
        stored_after: None,
        stored_done: false,
        boundaries: vec![(0, merkle::EMPTY_ROOT)],
        documents: HashSet::new(),
        checked_at: None,
        previous_time: None,
    };
    loop {
        if let Some(f) = r.fill_checks().await? {
            return Ok(Some(f));
        }
        let at = r.tree.size();
        let current = r
            .boundaries
            .last()
            .map(|b| b.1)
            .unwrap_or(merkle::EMPTY_ROOT);
        if let Some(f) = r.rotation_checkpoint(at).await? {
            return Ok(Some(f));
        }
        if let Some(f) = r.due_checkpoints(at, current).await? {
            return Ok(Some(f));
        }
        if let Some(f) = r.fork(at, current) {
            return Ok(Some(f));
        }
        if at == size {
            return r.finish(current).await;
        }
        if let Some(f) = r.read_page(at).await? {
            return Ok(Some(f));
        }
        progress(r.tree.size(), size);
    }
}

/// The state of one rebuild.
struct Rebuild<'a> {
    source: &'a dyn Source,
    chain: &'a mut KeyChain,
    report: &'a mut Report,
    latest_note: &'a str,
    size: u64,
    root: Hash,
    previous: Option<(u64, Hash)>,
    tree: Rebuilder,
    /// Checkpoints whose roots are compared (and signatures checked against the keys in
    /// force there) when the rebuild reaches their size.
    checks: VecDeque<(u64, String, Hash)>,
    stored_after: Option<u64>,
    stored_done: bool,
    /// Roots at page ends, for bisecting a mismatch down to an entry.
    boundaries: Vec<(u64, Hash)>,
    documents: HashSet<[u8; 32]>,
    /// Each batch's entries carry its one `integrated_at` and commit with its checkpoint,
    /// so where the time changes between two entries a checkpoint must be stored at that
    /// size; a deleted checkpoint row (whose proofs the server can then no longer serve)
    /// shows only here. Checked where the source lists its checkpoints.
    checked_at: Option<u64>,
    previous_time: Option<String>,
}

impl Rebuild<'_> {
    /// Keeps the queue of checks filled with stored checkpoints ahead of the rebuild.
    async fn fill_checks(&mut self) -> Result<Option<Failure>, SourceError> {
        while !self.stored_done && self.checks.len() < 64 {
            let page = self.source.checkpoints(self.stored_after, PAGE).await?;
            if page.len() < PAGE as usize {
                self.stored_done = true;
            }
            for (cp_size, text) in page {
                self.stored_after = Some(cp_size);
                if cp_size > self.size {
                    self.stored_done = true;
                    break;
                }
                match peek(&text, cp_size) {
                    Ok(root) => self.checks.push_back((cp_size, text, root)),
                    Err(f) => return Ok(Some(f)),
                }
            }
        }
        Ok(None)
    }

    /// A rotation's own checkpoint is checked before any later entry is read, also
    /// where the source lists no checkpoints (a server): it is asked for that one.
    async fn rotation_checkpoint(&mut self, at: u64) -> Result<Option<Failure>, SourceError> {
        if self.chain.pending_checkpoint() != Some(at)
            || self.checks.front().is_some_and(|c| c.0 == at)
        {
            return Ok(None);
        }
        let Some(text) = self.source.checkpoint(at).await? else {
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
            Ok(root) => self.checks.push_front((at, text, root)),
            Err(f) => return Ok(Some(f)),
        }
        Ok(None)
    }

    /// Checks every checkpoint due at the current size before reading further.
    async fn due_checkpoints(
        &mut self,
        at: u64,
        current: Hash,
    ) -> Result<Option<Failure>, SourceError> {
        while self.checks.front().is_some_and(|c| c.0 <= at) {
            let Some((cp_size, text, expected)) = self.checks.pop_front() else {
                break;
            };
            if cp_size < at {
                continue;
            }
            if let Err(e) = self.chain.check_checkpoint(cp_size, &text) {
                return Ok(Some(chain_failure(e)));
            }
            self.report.checkpoints_checked += 1;
            self.checked_at = Some(cp_size);
            if current != expected {
                return Ok(Some(
                    bisect(
                        self.source,
                        &self.boundaries,
                        cp_size,
                        expected,
                        "checkpoint",
                    )
                    .await?,
                ));
            }
        }
        Ok(None)
    }

    /// At the previous run's size, the rebuilt root must be the one that run saw.
    fn fork(&self, at: u64, current: Hash) -> Option<Failure> {
        let (p, proot) = self.previous?;
        (p == at && current != proot).then(|| {
            fail(
                None,
                Some(p),
                None,
                format!(
                    "fork: the log's tree at size {p} has root {}, but the previous run saw {}",
                    current.to_base64(),
                    proot.to_base64()
                ),
            )
        })
    }

    /// At the latest checkpoint's size, with the whole key history read: its
    /// signatures, its root, the edge tiles, and no stored entry beyond it.
    async fn finish(&mut self, current: Hash) -> Result<Option<Failure>, SourceError> {
        if let Err(e) = self.chain.check_checkpoint(self.size, self.latest_note) {
            let mut f = chain_failure(e);
            f.reason = format!("latest {}", f.reason);
            return Ok(Some(f));
        }
        if current != self.root {
            return Ok(Some(
                bisect(
                    self.source,
                    &self.boundaries,
                    self.size,
                    self.root,
                    "latest checkpoint",
                )
                .await?,
            ));
        }
        let edge: Vec<(TileId, Vec<u8>)> =
            self.tree.edge().clone().into_inner().into_iter().collect();
        if let Some(f) = compare_tiles(self.source, edge, self.report).await? {
            return Ok(Some(f));
        }
        uncovered_entries(self.source, self.latest_note, self.size).await
    }

    /// The next size after `start` where a root must be compared.
    fn next_stop(&self, start: u64) -> u64 {
        [
            Some(self.size),
            self.checks.front().map(|c| c.0),
            self.previous.map(|(p, _)| p),
        ]
        .into_iter()
        .flatten()
        .filter(|t| *t > start)
        .min()
        .unwrap_or(self.size) // `at < size` here, so there is always a next stop.
    }

    /// Reads up to the next size where a root must be compared, checking each entry,
    /// and adds the page to the tree.
    async fn read_page(&mut self, start: u64) -> Result<Option<Failure>, SourceError> {
        let want = (self.next_stop(start) - start).min(u64::from(PAGE)) as u32;
        let page = self.source.entries(start, want).await?;
        if page.is_empty() {
            return Ok(Some(fail(
                Some(start),
                None,
                None,
                format!(
                    "entry {start} is missing but the checkpoint covers {} entries",
                    self.size
                ),
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
            if let Some(f) = self.batch_end(*index, leaf) {
                return Ok(Some(f));
            }
            hashes.push(merkle::leaf_hash(leaf));
            let documents = &mut self.documents;
            if let Some(f) = super::documents::check(self.source, *index, leaf, documents).await? {
                return Ok(Some(f));
            }
            self.report.documents_checked = self.documents.len() as u64;
            match self.chain.observe(*index, leaf) {
                Err(e) => return Ok(Some(chain_failure(e))),
                // Its rotation's checkpoint comes next: read no further before it.
                Ok(true) => break,
                Ok(false) => {}
            }
        }
        let step = self
            .tree
            .push(&hashes)
            .map_err(|e| SourceError::Malformed(e.to_string()))?;
        self.report.entries_checked += hashes.len() as u64;
        self.boundaries.push((self.tree.size(), step.root));
        compare_tiles(self.source, step.completed, self.report).await
    }

    /// Where the `integrated_at` time changes between two entries, a batch ends: a
    /// checkpoint must be stored at that size.
    fn batch_end(&mut self, index: u64, leaf: &[u8]) -> Option<Failure> {
        let time = integrated_at(leaf);
        if self.source.lists_checkpoints() && self.checked_at != Some(index) {
            if let (Some(before), Some(now)) = (&self.previous_time, &time) {
                if before != now {
                    return Some(fail(
                        None,
                        Some(index),
                        None,
                        format!(
                            "no checkpoint is stored at tree size {index}, where a batch \
                             ends: entry {} was integrated at {before}, entry {index} at {now}",
                            index - 1
                        ),
                    ));
                }
            }
        }
        self.previous_time = time;
        None
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
