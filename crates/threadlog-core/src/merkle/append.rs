//! The pure append: edge tiles and new leaf hashes in, changed tiles and new root out.
//! The caller does the I/O around it (read the edge, write the tiles) in one transaction.

use super::hash::Hash;
use super::proof::ProofError;
use super::tiles::{edge_tiles, TileId, TileSet, TILE_HEIGHT, TILE_WIDTH};
use tlog_tiles::{stored_hashes_for_record_hash, tree_hash};

/// What an append produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    pub tree_size: u64,
    pub root: Hash,
    /// Every tile that is new or grew, with its full contents after the append.
    pub tiles: Vec<(TileId, Vec<u8>)>,
}

/// Appends `leaf_hashes` to a tree of `old_size` leaves whose edge tiles are `edge`.
///
/// `edge` must hold exactly the tiles `edge_tiles(old_size)` names, at the widths it names;
/// anything else means the store and the tree size disagree, which is reported, never
/// papered over.
pub fn append(old_size: u64, edge: TileSet, leaf_hashes: &[Hash]) -> Result<Appended, ProofError> {
    let expected = edge_tiles(old_size);
    if edge.len() != expected.len() {
        return Err(ProofError::BadEdge(format!(
            "expected {} edge tiles for tree size {old_size}, got {}",
            expected.len(),
            edge.len()
        )));
    }
    for (id, width) in &expected {
        match edge.get(id) {
            Some(data) if data.len() as u64 == width * 32 => {}
            Some(data) => {
                return Err(ProofError::BadEdge(format!(
                    "tile {}/{} holds {} hashes, tree size {old_size} needs {width}",
                    id.level,
                    id.index,
                    data.len() / 32
                )))
            }
            None => {
                return Err(ProofError::BadEdge(format!(
                    "tile {}/{} is missing",
                    id.level, id.index
                )))
            }
        }
    }

    let mut set = edge;
    let mut changed = std::collections::BTreeSet::new();
    for (offset, leaf) in leaf_hashes.iter().enumerate() {
        let n = old_size + offset as u64;
        let stored = stored_hashes_for_record_hash(n, leaf.to_tlog(), &set)
            .map_err(|e| ProofError::BadEdge(e.to_string()))?;
        // stored[k] is the node at tree level k whose rightmost leaf is n; only levels
        // that are multiples of the tile height are kept, the rest are recomputed.
        for (k, h) in stored.iter().enumerate() {
            if k % TILE_HEIGHT as usize != 0 {
                continue;
            }
            let node = n >> k;
            let id = TileId {
                level: (k / TILE_HEIGHT as usize) as u8,
                index: node / TILE_WIDTH,
            };
            if !set.push_hash(id, node % TILE_WIDTH, &Hash::from_tlog(*h)) {
                return Err(ProofError::BadEdge(format!(
                    "tile {}/{} is not at the width leaf {n} needs",
                    id.level, id.index
                )));
            }
            changed.insert(id);
        }
    }

    let tree_size = old_size + leaf_hashes.len() as u64;
    let root = Hash::from_tlog(
        tree_hash(tree_size, &set).map_err(|e| ProofError::BadEdge(e.to_string()))?,
    );
    let mut all = set.into_inner();
    let tiles = changed
        .into_iter()
        .map(|id| (id, all.remove(&id).unwrap_or_default()))
        .collect();
    Ok(Appended {
        tree_size,
        root,
        tiles,
    })
}
