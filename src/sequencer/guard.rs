//! The sequencer's own memory of the last tree it signed, and the checks that keep it
//! from ever signing a fork.
//!
//! The sequencer keeps the right edge (the edge tiles) of the last tree it signed or
//! proved signed. Whatever it reads from the store under the log lock is checked
//! against that memory before it is built upon:
//! - the same tree size: every stored edge tile must equal the remembered one, byte for
//!   byte;
//! - a larger tree (another server appended, or our own commit succeeded after reporting
//!   an error): the stored latest checkpoint must verify with the log's key, the stored
//!   edge must hash to its root, and a consistency proof built from the stored tiles must
//!   prove it extends the remembered tree;
//! - a smaller tree: the store was rolled back.
//!
//! With no memory yet (at start-up), the latest stored checkpoint's signature is checked
//! and its root recomputed from the stored edge tiles. Every new tree is proved
//! consistent with the tree it extends before it is signed ([`SignedTree::extend`]).
//!
//! Any disagreement is [`StoreError::Corrupt`], which halts appends; the message names
//! the tile and the tree size. Nothing here writes.

use crate::merkle::{self, edge_tiles, Hash, TileId, TileSet, TILE_WIDTH};
use crate::note::{self, VerifierKey};
use crate::store::{EntryQuery, Frontier, Store, StoreError, TileCache};

/// The last tree this sequencer signed, or checked to be signed: its size, root and
/// edge tiles at exactly the widths the size needs.
#[derive(Debug, Clone)]
pub(crate) struct SignedTree {
    pub(crate) size: u64,
    pub(crate) root: Hash,
    pub(crate) edge: TileSet,
}

/// The log's identity, for checking stored checkpoints.
pub(crate) struct LogKey<'a> {
    pub(crate) verifier: &'a VerifierKey,
    pub(crate) origin: &'a str,
}

fn corrupt(msg: String) -> StoreError {
    StoreError::Corrupt(msg)
}

/// `tile L/N (W hashes)`: the coordinates an operator needs to find the stored row.
pub(crate) fn tile_name(id: &TileId, data: &[u8]) -> String {
    format!(
        "tile {}/{} ({} hashes)",
        id.level,
        id.index,
        data.len() / 32
    )
}

fn edge_set(frontier: &Frontier) -> TileSet {
    let mut set = TileSet::new();
    for (id, data) in &frontier.edge {
        set.insert(*id, data.clone());
    }
    set
}

impl SignedTree {
    /// The tree a new batch may extend, from the frontier read under the log lock,
    /// checked against `known` (this process's memory, if any).
    pub(crate) async fn check_frontier(
        known: Option<&SignedTree>,
        frontier: &Frontier,
        store: &dyn Store,
        tiles: &TileCache,
        key: &LogKey<'_>,
    ) -> Result<SignedTree, StoreError> {
        let size = frontier.tree_size;
        match known {
            Some(k) if size == k.size => {
                k.same_edge(frontier)?;
                Ok(k.clone())
            }
            Some(k) if size < k.size => Err(corrupt(format!(
                "the store's latest checkpoint has tree size {size}, below tree size {} \
                 which this server signed: the database was rolled back",
                k.size
            ))),
            _ => {
                let found = Self::from_store(frontier, store, key).await?;
                if let Some(k) = known {
                    k.prove_extended_by(&found, store, tiles).await?;
                }
                Ok(found)
            }
        }
    }

    /// Byte-for-byte comparison of the stored edge with the remembered one.
    fn same_edge(&self, frontier: &Frontier) -> Result<(), StoreError> {
        for (id, data) in &frontier.edge {
            let mine = self.edge.get(id).unwrap_or_default();
            if mine != data.as_slice() {
                let at = data
                    .chunks(32)
                    .zip(mine.chunks(32))
                    .position(|(a, b)| a != b)
                    .map_or(String::new(), |p| {
                        format!(
                            ", first at hash {p} (node {})",
                            id.index * TILE_WIDTH + p as u64
                        )
                    });
                return Err(corrupt(format!(
                    "stored {} differs from the edge of tree size {} that this server \
                     signed{at}",
                    tile_name(id, data),
                    self.size
                )));
            }
        }
        if frontier.edge.len() != self.edge.len() {
            return Err(corrupt(format!(
                "the store holds {} edge tiles for tree size {}, this server signed {}",
                frontier.edge.len(),
                self.size,
                self.edge.len()
            )));
        }
        Ok(())
    }

    /// The tree of the store's latest checkpoint, trusted only once its signature
    /// verifies and the stored edge tiles hash to its root.
    async fn from_store(
        frontier: &Frontier,
        store: &dyn Store,
        key: &LogKey<'_>,
    ) -> Result<SignedTree, StoreError> {
        let size = frontier.tree_size;
        let edge = edge_set(frontier);
        if size == 0 {
            return Ok(SignedTree {
                size,
                root: merkle::EMPTY_ROOT,
                edge,
            });
        }
        let stored = store
            .checkpoint(size)
            .await?
            .ok_or_else(|| corrupt(format!("the checkpoint of tree size {size} is missing")))?;
        let (cp, _) =
            note::open_checkpoint(&stored.note, std::slice::from_ref(key.verifier), key.origin)
                .map_err(|e| {
                    corrupt(format!(
                        "the stored checkpoint of tree size {size} does not verify with the \
                         log's key: {e}"
                    ))
                })?;
        if cp.tree_size != size || cp.root_hash != stored.root_hash.0 {
            return Err(corrupt(format!(
                "the stored checkpoint row of tree size {size} disagrees with its signed note \
                 (tree size {}, root {})",
                cp.tree_size,
                Hash(cp.root_hash).to_base64()
            )));
        }
        let root = Hash(cp.root_hash);
        let computed = merkle::tree_root(&edge, size).map_err(|e| corrupt(e.to_string()))?;
        if computed != root {
            return Err(corrupt(locate(frontier, store).await));
        }
        Ok(SignedTree { size, root, edge })
    }

    /// Proves from stored tiles that `newer` extends this tree; every remembered hash
    /// that the proof reads must also be unchanged.
    async fn prove_extended_by(
        &self,
        newer: &SignedTree,
        store: &dyn Store,
        tiles: &TileCache,
    ) -> Result<(), StoreError> {
        let needed = merkle::needed_tiles_for_consistency(self.size, newer.size)
            .map_err(|e| corrupt(e.to_string()))?;
        let mut set = newer.edge.clone();
        tiles.load(store, &needed, &mut set).await?;
        for (id, mine) in self.edge.clone().into_inner() {
            if let Some(stored) = set.get(&id) {
                if stored.get(..mine.len()) != Some(mine.as_slice()) {
                    return Err(corrupt(format!(
                        "stored {} no longer starts with the hashes of tree size {} that this \
                         server signed",
                        tile_name(&id, stored),
                        self.size
                    )));
                }
            }
        }
        let proof = merkle::consistency_proof(&set, self.size, newer.size)
            .map_err(|e| corrupt(e.to_string()))?;
        merkle::verify_consistency(&proof, self.size, &self.root, newer.size, &newer.root).map_err(
            |_| {
                corrupt(format!(
                    "the stored tree of size {} is not consistent with tree size {} that this \
                     server signed",
                    newer.size, self.size
                ))
            },
        )
    }

    /// The tree after appending `changed` (the planner's new and grown tiles) with root
    /// `root`, proved to extend this one before anything is signed.
    pub(crate) fn extend(
        &self,
        new_size: u64,
        root: Hash,
        changed: &[(TileId, Vec<u8>)],
    ) -> Result<SignedTree, StoreError> {
        let mut all = self.edge.clone();
        for (id, data) in changed {
            all.insert(*id, data.clone());
        }
        let proof = merkle::consistency_proof(&all, self.size, new_size)
            .map_err(|e| corrupt(format!("no consistency proof for the new tree: {e}")))?;
        merkle::verify_consistency(&proof, self.size, &self.root, new_size, &root).map_err(
            |_| {
                corrupt(format!(
                    "the planned tree of size {new_size} does not extend the signed tree of \
                     size {}",
                    self.size
                ))
            },
        )?;
        let mut edge = TileSet::new();
        for (id, width) in edge_tiles(new_size) {
            let data = all
                .get(&id)
                .filter(|d| d.len() as u64 == width * 32)
                .ok_or_else(|| {
                    corrupt(format!(
                        "the planner left edge tile {}/{} of tree size {new_size} incomplete",
                        id.level, id.index
                    ))
                })?;
            edge.insert(id, data.to_vec());
        }
        Ok(SignedTree {
            size: new_size,
            root,
            edge,
        })
    }
}

/// Says which stored edge tile breaks the signed root, as far as the store can tell: the
/// level-0 edge tile is recomputed from the stored leaves; if it matches, the fault is in
/// a higher edge tile.
async fn locate(frontier: &Frontier, store: &dyn Store) -> String {
    let size = frontier.tree_size;
    let names: Vec<String> = frontier
        .edge
        .iter()
        .map(|(id, data)| tile_name(id, data))
        .collect();
    let generic = format!(
        "the stored edge tiles of tree size {size} ({}) do not hash to its signed root",
        names.join(", ")
    );
    let Some((id, data)) = frontier.edge.iter().find(|(id, _)| id.level == 0) else {
        return generic;
    };
    let start = id.index * TILE_WIDTH;
    let query = EntryQuery {
        after: start.checked_sub(1),
        below: Some(size),
        limit: TILE_WIDTH as u32,
        ..EntryQuery::default()
    };
    let Ok(entries) = store.entries(&query).await else {
        return generic;
    };
    for (pos, stored) in data.chunks(32).enumerate() {
        let index = start + pos as u64;
        let leaf = entries.iter().find(|e| e.index == index);
        if leaf.map(|e| merkle::leaf_hash(&e.leaf).0.as_slice() != stored) != Some(false) {
            return format!(
                "stored {} does not match the leaf at index {index} (hash {pos}); the edge \
                 of tree size {size} does not hash to its signed root",
                tile_name(id, data)
            );
        }
    }
    let higher: Vec<String> = frontier
        .edge
        .iter()
        .filter(|(t, _)| t.level > 0)
        .map(|(t, d)| tile_name(t, d))
        .collect();
    format!(
        "the stored edge tiles of tree size {size} do not hash to its signed root; {} matches \
         the leaves, so the fault is in {}",
        tile_name(id, data),
        if higher.is_empty() {
            "the checkpoint".to_string()
        } else {
            higher.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn leaves(from: u64, n: u64) -> Vec<Hash> {
        (from..from + n)
            .map(|i| merkle::leaf_hash(&i.to_be_bytes()))
            .collect()
    }

    fn tree(size: u64) -> SignedTree {
        let empty = SignedTree {
            size: 0,
            root: merkle::EMPTY_ROOT,
            edge: TileSet::new(),
        };
        grow(&empty, size)
    }

    fn grow(t: &SignedTree, n: u64) -> SignedTree {
        let appended = merkle::append(t.size, t.edge.clone(), &leaves(t.size, n)).unwrap();
        t.extend(appended.tree_size, appended.root, &appended.tiles)
            .unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        // The planner's tiles always suffice to prove the new tree extends the old one,
        // and the remembered edge is exactly the edge of the new size.
        #[test]
        fn every_append_is_proved(size in 0u64..70_000, batch in 1u64..700) {
            let old = tree(size);
            let new = grow(&old, batch);
            prop_assert_eq!(new.size, size + batch);
            let fresh = tree(size + batch);
            prop_assert_eq!(new.root, fresh.root);
            prop_assert_eq!(merkle::tree_root(&new.edge, new.size).unwrap(), new.root);
            prop_assert_eq!(new.edge, fresh.edge);
        }
    }

    #[test]
    fn a_wrong_root_is_refused() {
        let old = tree(300);
        let appended = merkle::append(300, old.edge.clone(), &leaves(300, 5)).unwrap();
        let mut forged = appended.root;
        forged.0[0] ^= 1;
        let err = old.extend(305, forged, &appended.tiles).unwrap_err();
        assert!(
            matches!(&err, StoreError::Corrupt(m) if m.contains("does not extend")),
            "{err}"
        );
    }

    #[test]
    fn a_changed_edge_hash_is_named() {
        let known = tree(300);
        let mut edge: Vec<(TileId, Vec<u8>)> =
            known.edge.clone().into_inner().into_iter().collect();
        let (id, data) = edge.iter_mut().find(|(id, _)| id.level == 0).unwrap();
        data[40] ^= 1;
        let id = *id;
        let frontier = Frontier {
            tree_size: 300,
            edge,
            ..Frontier::default()
        };
        let err = known.same_edge(&frontier).unwrap_err();
        let StoreError::Corrupt(msg) = err else {
            panic!("not corrupt")
        };
        assert!(
            msg.contains(&format!("tile 0/{} (44 hashes)", id.index)),
            "{msg}"
        );
        assert!(msg.contains("tree size 300"), "{msg}");
        assert!(msg.contains("hash 1 (node 257)"), "{msg}");
    }
}
