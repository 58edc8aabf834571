//! Steps 1–7 of the commit protocol: a batch of requests becomes one append transaction
//! and one signed checkpoint, committed before anything is acknowledged.

use super::guard::SignedTree;
use super::resolve::{resolve, NewRef, Slot};
use super::{set, SequencerError, Worker};
use crate::entry::PreparedEntry;
use crate::merkle::{self, Hash, TileSet};
use crate::note::{self, Checkpoint};
use crate::store::{
    AppendBatch, AppendTx, DedupHit, EntryThread, NewEntry, StoreError, StoredCheckpoint,
    StoredEntry,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::atomic::Ordering;

/// Per request: the slot of each entry, or the conflict that failed the request.
pub(crate) type Outcomes = Vec<Result<Vec<Slot>, SequencerError>>;

/// A committed batch, ready to be turned into receipts.
pub(crate) struct Committed {
    pub(crate) outcomes: Outcomes,
    /// New entries with their leaf hashes, in index order.
    pub(crate) new_entries: Vec<(StoredEntry, Hash)>,
    pub(crate) checkpoint: StoredCheckpoint,
    pub(crate) tiles: TileSet,
}

impl Worker {
    /// Steps 1–7.
    pub(super) async fn commit(
        &mut self,
        requests: &[Vec<PreparedEntry>],
    ) -> Result<Committed, SequencerError> {
        let mut tx = self.store.begin_append().await?;
        let base = self.check_base(tx.as_mut()).await?;
        let size = base.size;
        let known = known_keys(tx.as_mut(), requests).await?;

        // Step 3.
        let mut in_batch = HashMap::new();
        let mut new_refs = Vec::new();
        let outcomes: Vec<_> = requests
            .iter()
            .enumerate()
            .map(|(no, entries)| resolve(no, entries, &known, &mut in_batch, &mut new_refs, size))
            .collect();

        if new_refs.is_empty() {
            // Only duplicates: nothing to write; answer against the latest checkpoint.
            drop(tx);
            return self.duplicates_only(outcomes).await;
        }

        // Step 4.
        let clock = (self.config.clock)();
        let now = self.last_time.map_or(clock, |last| last.max(clock));
        let integrated_at = crate::time::format(&now);
        let (entries, hashes) = build_entries(requests, &new_refs, size, now, &integrated_at)?;

        // Step 5.
        let appended = merkle::append(size, base.edge.clone(), &hashes)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let next = base.extend(appended.tree_size, appended.root, &appended.tiles)?;

        // Step 6.
        let signed = self.sign(appended.tree_size, appended.root).await?;

        // Step 7.
        let batch = AppendBatch {
            entries,
            tiles: appended.tiles,
            checkpoint: StoredCheckpoint {
                tree_size: appended.tree_size,
                root_hash: appended.root,
                note: signed,
                created_at: integrated_at,
            },
        };
        tx.write(&batch).await?;
        tx.commit().await?;
        set(&self.commit_failure, None);

        self.signed = Some(next);
        self.last_time = Some(now);
        Ok(self.committed(batch, hashes, outcomes))
    }

    /// Step 2: the frontier under the log lock, checked against the key and the last tree
    /// this server signed; the tree the batch extends.
    async fn check_base(&mut self, tx: &mut dyn AppendTx) -> Result<SignedTree, SequencerError> {
        let frontier = tx.frontier().await?;
        // Checked under the log lock: once a rotation committed, this key signs no more.
        if frontier.verifier_key.as_deref() != Some(self.verifier.as_str()) {
            return Err(SequencerError::KeyRotated {
                current: frontier.verifier_key.unwrap_or_default(),
            });
        }
        let base = SignedTree::check_frontier(
            self.signed.as_ref(),
            &frontier,
            self.store.as_ref(),
            &self.tiles,
            &self.key(),
        )
        .await?;
        // Remembered even if this batch fails: it was proved to extend what we knew.
        self.signed = Some(base.clone());
        // Another server may have appended since our last batch: its time is the floor.
        if let Some(t) = frontier.created_at.as_deref().and_then(crate::time::parse) {
            self.last_time = Some(self.last_time.map_or(t, |l| l.max(t)));
        }
        Ok(base)
    }

    /// A batch of duplicates only, answered against the latest checkpoint.
    async fn duplicates_only(&self, outcomes: Outcomes) -> Result<Committed, SequencerError> {
        let checkpoint = self
            .store
            .latest_checkpoint()
            .await?
            .ok_or_else(|| StoreError::Corrupt("duplicates found in an empty log".into()))?;
        Ok(Committed {
            outcomes,
            new_entries: Vec::new(),
            checkpoint,
            tiles: TileSet::new(),
        })
    }

    /// Step 6: the checkpoint of the new tree, signed and then verified with the verifier
    /// key before anything is written.
    async fn sign(&self, tree_size: u64, root: Hash) -> Result<String, SequencerError> {
        let cp = Checkpoint {
            origin: self.origin.clone(),
            tree_size,
            root_hash: root.0,
            extensions: Vec::new(),
        };
        let signer = self.signer.clone();
        let signed =
            tokio::task::spawn_blocking(move || note::sign_checkpoint(&cp, &[signer.as_ref()]))
                .await
                .map_err(|e| SequencerError::Signing(e.to_string()))?
                .map_err(|e| SequencerError::Signing(e.to_string()))?;
        note::open_checkpoint(&signed, std::slice::from_ref(&self.verifier), &self.origin)
            .map_err(|e| SequencerError::Signing(format!("new checkpoint does not verify: {e}")))?;
        Ok(signed)
    }

    /// Counts a committed batch and caches its tiles; what step 8 needs of it.
    fn committed(&self, batch: AppendBatch, hashes: Vec<Hash>, outcomes: Outcomes) -> Committed {
        self.metrics
            .batches_committed
            .fetch_add(1, Ordering::Relaxed);
        self.metrics
            .entries_appended
            .fetch_add(batch.entries.len() as u64, Ordering::Relaxed);
        self.metrics
            .tree_size
            .store(batch.checkpoint.tree_size, Ordering::Relaxed);
        let mut tiles = TileSet::new();
        for (id, data) in batch.tiles {
            self.tiles.remember(id, &data);
            tiles.insert(id, data);
        }
        Committed {
            outcomes,
            new_entries: batch
                .entries
                .into_iter()
                .map(|e| e.entry)
                .zip(hashes)
                .collect(),
            checkpoint: batch.checkpoint,
            tiles,
        }
    }
}

/// The logged entries the batch's keys name: its own idempotency keys and the events
/// its corrections name, looked up in the same query.
async fn known_keys(
    tx: &mut dyn AppendTx,
    requests: &[Vec<PreparedEntry>],
) -> Result<HashMap<String, DedupHit>, StoreError> {
    let corrected: Vec<String> = requests
        .iter()
        .flatten()
        .filter_map(|e| e.thread.corrects.as_deref().map(crate::entry::event_key))
        .collect();
    let keys: Vec<&str> = requests
        .iter()
        .flatten()
        .map(|e| e.dedup_key.as_str())
        .chain(corrected.iter().map(String::as_str))
        .collect();
    Ok(tx.find_dedup(&keys).await?.into_iter().collect())
}

/// Step 4: the new entries' leaves, stamped `now`, with their leaf hashes.
fn build_entries(
    requests: &[Vec<PreparedEntry>],
    new_refs: &[NewRef],
    size: u64,
    now: DateTime<Utc>,
    integrated_at: &str,
) -> Result<(Vec<NewEntry>, Vec<Hash>), StoreError> {
    let mut entries = Vec::with_capacity(new_refs.len());
    let mut hashes = Vec::with_capacity(new_refs.len());
    for (i, r) in new_refs.iter().enumerate() {
        let e = &requests[r.request][r.pos];
        let leaf = e
            .leaf(now)
            .map_err(|err| {
                StoreError::Corrupt(format!("leaf build failed after validation: {err}"))
            })?
            .into_bytes();
        hashes.push(merkle::leaf_hash(&leaf));
        entries.push(NewEntry {
            entry: StoredEntry {
                index: size + i as u64,
                kind: e.kind.as_str().to_string(),
                integrated_at: integrated_at.to_string(),
                leaf,
            },
            subjects: e.subjects.clone(),
            dedup_key: Some(e.dedup_key.clone()),
            content_sha256: e.content_sha256,
            thread: EntryThread {
                edges: e.thread.edges.clone(),
                corrects: r.corrects,
            },
            blob: e.blob.clone(),
        });
    }
    Ok((entries, hashes))
}
