//! C2SP tlog-tiles grouping: the hashes of the tree stored as tiles of 256 hashes.
//!
//! A tile at level `L` holds up to 256 consecutive node hashes of tree level `8·L`; the
//! levels in between are recomputed from them. Full tiles never change; the rightmost tile
//! of each level (the *edge*) grows until it is full.

use super::hash::Hash;
use std::collections::BTreeMap;
use tlog_tiles::{HashReader, Tile};

/// Tile height: each tile spans 8 tree levels.
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
const HASH_LEN: usize = 32;

/// Coordinates of a tile: its level and its index within that level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TileId {
    pub level: u8,
    pub index: u64,
}

/// The partial tiles at the right edge of a tree of `tree_size` leaves, with the width
/// each must have. These are all an append needs to read.
pub fn edge_tiles(tree_size: u64) -> Vec<(TileId, u64)> {
    let mut out = Vec::new();
    let mut level = 0u8;
    let mut count = tree_size;
    while count > 0 {
        let width = count % TILE_WIDTH;
        if width != 0 {
            out.push((
                TileId {
                    level,
                    index: count / TILE_WIDTH,
                },
                width,
            ));
        }
        count /= TILE_WIDTH;
        level += 1;
    }
    out
}

/// An in-memory set of tiles (id → concatenated hashes), readable as stored hashes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TileSet {
    tiles: BTreeMap<TileId, Vec<u8>>,
}

impl TileSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, id: TileId, data: Vec<u8>) {
        self.tiles.insert(id, data);
    }

    pub fn get(&self, id: &TileId) -> Option<&[u8]> {
        self.tiles.get(id).map(Vec::as_slice)
    }

    pub fn contains(&self, id: &TileId) -> bool {
        self.tiles.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.tiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tiles.is_empty()
    }

    /// Appends one hash at the end of a tile; the caller guarantees `position` is the
    /// tile's current width, so a tile can only grow by one hash at its end.
    pub(crate) fn push_hash(&mut self, id: TileId, position: u64, hash: &Hash) -> bool {
        let data = self.tiles.entry(id).or_default();
        if data.len() as u64 != position * HASH_LEN as u64 {
            return false;
        }
        data.extend_from_slice(&hash.0);
        true
    }

    pub fn into_inner(self) -> BTreeMap<TileId, Vec<u8>> {
        self.tiles
    }
}

/// The tile holding stored hash `index` (see `tlog_tiles::stored_hash_index`).
pub(crate) fn tile_of(index: u64) -> TileId {
    let t = Tile::from_index(TILE_HEIGHT, index);
    TileId {
        level: t.level(),
        index: t.level_index(),
    }
}

impl HashReader for TileSet {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                let id = tile_of(index);
                let data = self
                    .tiles
                    .get(&id)
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)?;
                let width = u32::try_from(data.len() / HASH_LEN)
                    .map_err(|_| tlog_tiles::Error::InvalidTile)?;
                if width == 0 || data.len() % HASH_LEN != 0 || u64::from(width) > TILE_WIDTH {
                    return Err(tlog_tiles::Error::InvalidTile);
                }
                // A tile narrower than the hash needs fails here, so a reader never
                // answers with hashes the tiles do not hold.
                Tile::new(TILE_HEIGHT, id.level, id.index, width, false)
                    .hash_at_index(data, index)
                    .map_err(|_| tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_of_small_and_aligned_trees() {
        assert!(edge_tiles(0).is_empty());
        assert_eq!(edge_tiles(1), vec![(TileId { level: 0, index: 0 }, 1)]);
        assert_eq!(edge_tiles(256), vec![(TileId { level: 1, index: 0 }, 1)]);
        assert_eq!(
            edge_tiles(256 * 256 + 257),
            vec![
                (
                    TileId {
                        level: 0,
                        index: 257
                    },
                    1
                ),
                (TileId { level: 1, index: 1 }, 1),
                (TileId { level: 2, index: 0 }, 1),
            ]
        );
    }
}
