//! Step 8 of the commit protocol: a verified inclusion proof for every acknowledged entry.

use super::resolve::Slot;
use super::{clone_err, Committed, Receipt, SequencerError, SequencerMetrics};
use crate::merkle::{self, Hash};
use crate::store::{Store, StoreError, StoredEntry, TileCache};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What step 8 needs, owned, so it can run on its own task.
pub(crate) struct Provers {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) tiles: Arc<TileCache>,
    pub(crate) metrics: Arc<SequencerMetrics>,
}

impl Provers {
    /// Step 8: a verified inclusion proof for every slot, against the batch's checkpoint.
    #[allow(clippy::type_complexity)]
    pub(crate) async fn receipts(
        &self,
        c: &Committed,
    ) -> Result<Vec<Result<Vec<Receipt>, SequencerError>>, SequencerError> {
        let slots: Vec<Slot> = c
            .outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .flatten()
            .copied()
            .collect();
        let existing = self.existing(&slots).await?;
        self.metrics.duplicates.fetch_add(
            slots
                .iter()
                .filter(|s| matches!(s, Slot::Existing(_)))
                .count() as u64,
            Ordering::Relaxed,
        );
        let lookup = |slot: &Slot| -> Logged<'_> {
            match slot {
                Slot::New(pos) => (&c.new_entries[*pos].0, c.new_entries[*pos].1, false),
                Slot::Existing(i) => {
                    let (e, h) = &existing[i];
                    (e, *h, true)
                }
            }
        };
        let mut indexes: Vec<u64> = slots.iter().map(|s| lookup(s).0.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let by_index = self.proofs(c, indexes).await?;

        let mut out = Vec::with_capacity(c.outcomes.len());
        for outcome in &c.outcomes {
            let slots = match outcome {
                Ok(slots) => slots,
                Err(conflict) => {
                    out.push(Err(clone_err(conflict)));
                    continue;
                }
            };
            let receipts = slots
                .iter()
                .map(|slot| {
                    let logged = lookup(slot);
                    receipt(c, logged, by_index[&logged.0.index].clone())
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            out.push(Ok(receipts));
        }
        Ok(out)
    }

    /// The logged entries that duplicates point at, each read once, with leaf hashes.
    async fn existing(
        &self,
        slots: &[Slot],
    ) -> Result<HashMap<u64, (StoredEntry, Hash)>, StoreError> {
        let mut existing = HashMap::new();
        for slot in slots {
            if let Slot::Existing(i) = *slot {
                if let std::collections::hash_map::Entry::Vacant(v) = existing.entry(i) {
                    let e = self.store.entry(i).await?.ok_or_else(|| {
                        StoreError::Corrupt(format!("logged entry {i} is missing"))
                    })?;
                    let h = merkle::leaf_hash(&e.leaf);
                    v.insert((e, h));
                }
            }
        }
        Ok(existing)
    }

    /// Inclusion proofs of `indexes` in the batch's tree, from its own tiles and the
    /// cached or stored others.
    async fn proofs(
        &self,
        c: &Committed,
        indexes: Vec<u64>,
    ) -> Result<HashMap<u64, Vec<Hash>>, StoreError> {
        let size = c.checkpoint.tree_size;
        let mut needed = std::collections::BTreeSet::new();
        for &i in &indexes {
            needed.extend(
                merkle::needed_tiles_for_inclusion(i, size)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        let mut tiles = c.tiles.clone();
        let needed: Vec<_> = needed.into_iter().collect();
        self.tiles
            .load(self.store.as_ref(), &needed, &mut tiles)
            .await?;
        let proofs = merkle::inclusion_proofs(&tiles, &indexes, size)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(indexes.into_iter().zip(proofs).collect())
    }
}

/// An entry a receipt is for: the entry, its leaf hash, and whether it was logged before.
type Logged<'a> = (&'a StoredEntry, Hash, bool);

/// One entry's receipt, its inclusion proof verified against the checkpoint first.
fn receipt(c: &Committed, logged: Logged<'_>, proof: Vec<Hash>) -> Result<Receipt, StoreError> {
    let (e, leaf_hash, duplicate) = logged;
    let size = c.checkpoint.tree_size;
    merkle::verify_inclusion(&proof, e.index, size, &leaf_hash, &c.checkpoint.root_hash).map_err(
        |err| StoreError::Corrupt(format!("receipt for {} does not verify: {err}", e.index)),
    )?;
    Ok(Receipt {
        index: e.index,
        leaf_hash,
        integrated_at: e.integrated_at.clone(),
        checkpoint: c.checkpoint.note.clone(),
        tree_size: size,
        inclusion_proof: proof,
        duplicate,
    })
}
