//! Loading a dump's checkpoints, each with the entries below it: every entry checked
//! against its exported hash and the checkpoint covering it, every checkpoint against the
//! keys in force and the root the entries rebuild, before the batch is written in the
//! import's transaction.

use super::import::{corrected_index, Reader};
use super::*;
use crate::audit::KeyChain;
use crate::entry;
use crate::merkle::{self, Hash, Rebuilder, TileId};
use crate::note;
use crate::store::{
    AppendBatch, AppendTx, EntryThread, NewEntry, StoreError, StoredCheckpoint, StoredEntry,
};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use std::collections::HashSet;
use std::path::Path;

/// The dump's checkpoints and entries as they are loaded: the tree rebuilt so far, the
/// keys the entries proved, and the documents already read.
pub(super) struct Load<'a> {
    pub(super) dir: &'a Path,
    pub(super) entries: Reader,
    pub(super) chain: KeyChain,
    pub(super) tree: Rebuilder,
    pub(super) root: Hash,
    pub(super) blobs_seen: HashSet<[u8; 32]>,
}

impl Load<'_> {
    /// Loads every checkpoint with the entries below it; returns how many there were.
    pub(super) async fn checkpoints(
        &mut self,
        tx: &mut dyn AppendTx,
        checkpoints: &mut Reader,
        m: &Manifest,
        progress: &(dyn Fn(u64, u64) + Sync),
    ) -> Result<u64, DumpError> {
        let mut last: Option<u64> = None;
        let mut count = 0u64;
        while let Some(line) = checkpoints.next::<CheckpointLine>()? {
            let at = checkpoints.at();
            last = Some(self.checkpoint(tx, line, &at, last, m.tree_size).await?);
            count += 1;
            progress(self.tree.size(), m.tree_size);
        }
        if last != Some(m.tree_size) {
            return Err(broken(
                CHECKPOINTS,
                format!(
                    "ends at tree size {last:?}, but the manifest's checkpoint is at {}",
                    m.tree_size
                ),
            ));
        }
        Ok(count)
    }

    /// One checkpoint: the entries below it read and checked, its signatures and root
    /// verified, then all of it written; returns its tree size.
    async fn checkpoint(
        &mut self,
        tx: &mut dyn AppendTx,
        line: CheckpointLine,
        at: &str,
        last: Option<u64>,
        manifest_size: u64,
    ) -> Result<u64, DumpError> {
        let cp = peek_in_order(&line, at, last, manifest_size)?;
        let from = self.tree.size();
        // Signatures are checked once the entries below it are read: they say which
        // keys may sign it.
        let (new, hashes) = self.entries_below(tx, &line).await?;
        let tiles = self.rebuild(&hashes)?;
        let here = || format!("checkpoint {} ({at})", cp.tree_size);
        self.chain
            .check_checkpoint(cp.tree_size, &line.note)
            .map_err(|e| broken(here(), e.to_string()))?;
        if self.root != Hash(cp.root_hash) {
            return Err(broken(
                here(),
                format!(
                    "entries {from}..{} do not rebuild to its signed root",
                    cp.tree_size
                ),
            ));
        }
        tx.write(&AppendBatch {
            entries: new,
            tiles,
            checkpoint: StoredCheckpoint {
                tree_size: cp.tree_size,
                root_hash: self.root,
                note: line.note,
                created_at: line.created_at,
            },
        })
        .await?;
        Ok(cp.tree_size)
    }

    /// The entries from the tree's size up to the checkpoint's, with their leaf hashes.
    async fn entries_below(
        &mut self,
        tx: &mut dyn AppendTx,
        line: &CheckpointLine,
    ) -> Result<(Vec<NewEntry>, Vec<Hash>), DumpError> {
        let from = self.tree.size();
        let mut new = Vec::new();
        let mut hashes = Vec::new();
        while from + (new.len() as u64) < line.tree_size {
            let index = from + new.len() as u64;
            let (leaf, hash) = self.next_leaf(index, line.tree_size)?;
            let entry = self.entry(tx, &new, index, leaf, line).await?;
            hashes.push(hash);
            new.push(entry);
        }
        Ok((new, hashes))
    }

    /// The leaf of entry `index` and its hash, checked against the exported hash.
    fn next_leaf(&mut self, index: u64, covered_by: u64) -> Result<(Vec<u8>, Hash), DumpError> {
        let e: EntryLine = self.entries.next()?.ok_or_else(|| {
            broken(
                format!("entry {index}"),
                format!("missing, but checkpoint {covered_by} covers it"),
            )
        })?;
        let here = || self.entries.entry_at(index);
        if e.index != index {
            return Err(broken(here(), format!("says index {}", e.index)));
        }
        let leaf = B64
            .decode(&e.leaf)
            .map_err(|err| broken(here(), format!("leaf: {err}")))?;
        let hash = merkle::leaf_hash(&leaf);
        if hash.to_base64() != e.leaf_hash {
            return Err(broken(
                here(),
                "the leaf bytes and the exported leaf hash disagree: one was altered",
            ));
        }
        Ok((leaf, hash))
    }

    /// Entry `index` as the store writes it: derived from its leaf, stamped with the time of
    /// the checkpoint covering it, its correction resolved and its document read.
    async fn entry(
        &mut self,
        tx: &mut dyn AppendTx,
        pending: &[NewEntry],
        index: u64,
        leaf: Vec<u8>,
        line: &CheckpointLine,
    ) -> Result<NewEntry, DumpError> {
        let here = || self.entries.entry_at(index);
        let d = entry::derive(&leaf).map_err(|err| broken(here(), err.to_string()))?;
        if d.envelope.integrated_at != line.created_at {
            return Err(broken(
                here(),
                format!(
                    "integrated at {}, but the checkpoint covering it ({}) was made at {}: \
                     a checkpoint is missing or altered",
                    d.envelope.integrated_at, line.tree_size, line.created_at
                ),
            ));
        }
        self.chain
            .observe(index, &leaf)
            .map_err(|err| broken(here(), err.to_string()))?;
        let corrects = match &d.thread.corrects {
            None => None,
            Some(id) => Some(corrected_index(tx, pending, id).await?.ok_or_else(|| {
                broken(
                    here(),
                    format!("corrects event_id {id:?}, which is not logged before it"),
                )
            })?),
        };
        let blob = match &d.document {
            Some(doc) if self.blobs_seen.insert(doc.sha256) => {
                Some(read_blob(self.dir, doc).map_err(|reason| broken(here(), reason))?)
            }
            _ => None,
        };
        Ok(NewEntry {
            entry: StoredEntry {
                index,
                kind: d.envelope.kind.as_str().into(),
                integrated_at: d.envelope.integrated_at,
                leaf,
            },
            subjects: d.envelope.subjects,
            dedup_key: d.dedup_key,
            content_sha256: d.content_sha256,
            thread: EntryThread {
                edges: d.thread.edges,
                corrects,
            },
            blob,
        })
    }

    /// Adds the leaf hashes to the tree; returns the tiles to write (those completed, and
    /// the new edge).
    fn rebuild(&mut self, hashes: &[Hash]) -> Result<Vec<(TileId, Vec<u8>)>, StoreError> {
        let mut tiles = Vec::new();
        if !hashes.is_empty() {
            let step = self
                .tree
                .push(hashes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            self.root = step.root;
            tiles = step.completed;
            tiles.extend(self.tree.edge().clone().into_inner());
        }
        Ok(tiles)
    }
}

/// A checkpoint line's note, which must name the line's size, come after the last one and
/// not go beyond the manifest's tree.
fn peek_in_order(
    line: &CheckpointLine,
    at: &str,
    last: Option<u64>,
    manifest_size: u64,
) -> Result<note::Checkpoint, DumpError> {
    let cp = note::peek_checkpoint(&line.note).map_err(|e| {
        broken(
            format!("checkpoint {} ({at})", line.tree_size),
            e.to_string(),
        )
    })?;
    if cp.tree_size != line.tree_size || last.is_some_and(|l| l >= cp.tree_size) {
        return Err(broken(
            at,
            format!(
                "a checkpoint of size {} out of order (after {last:?})",
                cp.tree_size
            ),
        ));
    }
    if cp.tree_size > manifest_size {
        return Err(broken(at, "a checkpoint beyond the manifest's tree size"));
    }
    Ok(cp)
}

/// The document a leaf binds, from `blobs/`, checked against what the leaf says.
fn read_blob(dir: &Path, doc: &entry::DocumentRef) -> Result<entry::Blob, String> {
    let name = hex::encode(doc.sha256);
    let path = dir.join(BLOBS).join(&name);
    let data = std::fs::read(&path)
        .map_err(|e| format!("the document {name} it binds cannot be read from {BLOBS}/: {e}"))?;
    if data.len() as u64 != doc.size {
        return Err(format!(
            "{BLOBS}/{name} holds {} bytes, the leaf says {}",
            data.len(),
            doc.size
        ));
    }
    entry::Blob::checked(data.into(), doc.media_type.clone(), &doc.sha256)
        .map_err(|e| format!("{BLOBS}/{name} was altered: {e}"))
}
