//! Rebuilding a tree from its leaves with bounded memory: only the edge tiles are kept.
//! Auditors and imports use it to recompute what a log claims.

use super::{append, edge_tiles, Hash, ProofError, TileId, TileSet, TILE_WIDTH};

pub struct Rebuilder {
    size: u64,
    edge: TileSet,
}

/// What one step of the rebuild produced.
pub struct Step {
    pub root: Hash,
    /// Tiles that became full during the step: they never change again.
    pub completed: Vec<(TileId, Vec<u8>)>,
}

impl Default for Rebuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl Rebuilder {
    pub fn new() -> Self {
        Rebuilder {
            size: 0,
            edge: TileSet::new(),
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// The current edge tiles (partial tiles at the right of each level).
    pub fn edge(&self) -> &TileSet {
        &self.edge
    }

    pub fn push(&mut self, leaf_hashes: &[Hash]) -> Result<Step, ProofError> {
        // The edge is a few tiles at most; a copy keeps the untouched ones for the next step.
        let out = append(self.size, self.edge.clone(), leaf_hashes)?;
        self.size = out.tree_size;
        let mut completed = Vec::new();
        let mut changed = TileSet::new();
        for (id, data) in out.tiles {
            if data.len() as u64 == TILE_WIDTH * 32 {
                completed.push((id, data));
            } else {
                changed.insert(id, data);
            }
        }
        let mut edge = TileSet::new();
        for (id, _) in edge_tiles(self.size) {
            if let Some(data) = changed.get(&id).or_else(|| self.edge.get(&id)) {
                edge.insert(id, data.to_vec());
            }
        }
        self.edge = edge;
        Ok(Step {
            root: out.root,
            completed,
        })
    }
}
