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
        let size = c.checkpoint.tree_size;
        let root = c.checkpoint.root_hash;
        let slots: Vec<Slot> = c
            .outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .flatten()
            .copied()
            .collect();
        let mut existing: HashMap<u64, (StoredEntry, Hash)> = HashMap::new();
        for slot in &slots {
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
        self.metrics.duplicates.fetch_add(
            slots
                .iter()
                .filter(|s| matches!(s, Slot::Existing(_)))
                .count() as u64,
            Ordering::Relaxed,
        );
        let lookup = |slot: &Slot| -> (&StoredEntry, Hash, bool) {
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
        let by_index: HashMap<u64, Vec<Hash>> = indexes.into_iter().zip(proofs).collect();

        let mut out = Vec::with_capacity(c.outcomes.len());
        for outcome in &c.outcomes {
            let slots = match outcome {
                Ok(slots) => slots,
                Err(conflict) => {
                    out.push(Err(clone_err(conflict)));
                    continue;
                }
            };
            let mut receipts = Vec::with_capacity(slots.len());
            for slot in slots {
                let (e, leaf_hash, duplicate) = lookup(slot);
                let proof = by_index[&e.index].clone();
                merkle::verify_inclusion(&proof, e.index, size, &leaf_hash, &root).map_err(
                    |err| {
                        StoreError::Corrupt(format!(
                            "receipt for {} does not verify: {err}",
                            e.index
                        ))
                    },
                )?;
                receipts.push(Receipt {
                    index: e.index,
                    leaf_hash,
                    integrated_at: e.integrated_at.clone(),
                    checkpoint: c.checkpoint.note.clone(),
                    tree_size: size,
                    inclusion_proof: proof,
                    duplicate,
                });
            }
            out.push(Ok(receipts));
        }
        Ok(out)
    }
}
