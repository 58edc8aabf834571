//! Inclusion and consistency proofs (RFC 9162 §2.1.3, §2.1.4) and the root of a tree,
//! computed from tiles.
//!
//! Generation is two-phase so the caller can fetch tiles asynchronously: `needed_tiles_*`
//! names the tiles a computation reads (the indexes do not depend on hash values), the
//! caller loads them into a [`TileSet`], then the proof is computed from that set.
//!
//! Proofs are defined for `0 < m ≤ n`. Policy for `m = 0`: every tree extends the empty
//! tree, so the consistency proof from size 0 is the empty list, and it verifies only when
//! it is empty and the claimed old root is the empty-tree hash. An inclusion proof needs
//! `index < tree_size`.

use super::hash::{Hash, EMPTY_ROOT};
use super::tiles::{tile_of, TileId, TileSet};
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use tlog_tiles::{check_record, check_tree, prove_record, prove_tree, tree_hash, HashReader};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is not below tree size {tree_size}")]
    IndexOutOfRange { index: u64, tree_size: u64 },
    #[error("tree size {first} is larger than tree size {second}")]
    SizesOutOfOrder { first: u64, second: u64 },
    #[error("the proof does not verify")]
    Invalid,
    #[error("tiles do not hold the hashes the computation needs")]
    MissingTiles,
    #[error("edge tiles disagree with the tree size: {0}")]
    BadEdge(String),
}

/// Records which stored hashes a computation asks for, answering with placeholders.
#[derive(Default)]
struct Recorder(RefCell<Vec<u64>>);

impl HashReader for Recorder {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![tlog_tiles::Hash([0; 32]); indexes.len()])
    }
}

impl Recorder {
    fn tiles(self) -> Vec<TileId> {
        let set: BTreeSet<TileId> = self.0.into_inner().into_iter().map(tile_of).collect();
        set.into_iter().collect()
    }
}

fn to_hashes(p: Vec<tlog_tiles::Hash>) -> Vec<Hash> {
    p.into_iter().map(Hash::from_tlog).collect()
}

fn to_tlog(p: &[Hash]) -> Vec<tlog_tiles::Hash> {
    p.iter().map(|h| h.to_tlog()).collect()
}

fn read_error(e: tlog_tiles::Error) -> ProofError {
    match e {
        tlog_tiles::Error::InvalidProof => ProofError::Invalid,
        _ => ProofError::MissingTiles,
    }
}

fn check_index(index: u64, tree_size: u64) -> Result<(), ProofError> {
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange { index, tree_size });
    }
    Ok(())
}

fn check_sizes(first: u64, second: u64) -> Result<(), ProofError> {
    if first > second {
        return Err(ProofError::SizesOutOfOrder { first, second });
    }
    Ok(())
}

/// Tiles needed to compute the root of a tree of `tree_size` leaves.
pub fn needed_tiles_for_root(tree_size: u64) -> Vec<TileId> {
    let r = Recorder::default();
    let _ = tree_hash(tree_size, &r);
    r.tiles()
}

/// The root hash of the tree of `tree_size` leaves.
pub fn tree_root(tiles: &TileSet, tree_size: u64) -> Result<Hash, ProofError> {
    tree_hash(tree_size, tiles)
        .map(Hash::from_tlog)
        .map_err(read_error)
}

/// Tiles needed for the inclusion proof of `index` in the tree of `tree_size` leaves.
pub fn needed_tiles_for_inclusion(index: u64, tree_size: u64) -> Result<Vec<TileId>, ProofError> {
    check_index(index, tree_size)?;
    let r = Recorder::default();
    let _ = prove_record(tree_size, index, &r);
    Ok(r.tiles())
}

/// The audit path proving leaf `index` is in the tree of `tree_size` leaves.
pub fn inclusion_proof(
    tiles: &TileSet,
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_index(index, tree_size)?;
    prove_record(tree_size, index, tiles)
        .map(to_hashes)
        .map_err(read_error)
}

/// Inclusion proofs of many leaves in one tree. Hashes recomputed from tiles are
/// remembered across the proofs, so proving a batch of neighbouring leaves costs little
/// more than proving one.
pub fn inclusion_proofs(
    tiles: &TileSet,
    indexes: &[u64],
    tree_size: u64,
) -> Result<Vec<Vec<Hash>>, ProofError> {
    let memo = Memo {
        tiles,
        seen: RefCell::new(HashMap::new()),
    };
    indexes
        .iter()
        .map(|&index| {
            check_index(index, tree_size)?;
            prove_record(tree_size, index, &memo)
                .map(to_hashes)
                .map_err(read_error)
        })
        .collect()
}

struct Memo<'a> {
    tiles: &'a TileSet,
    seen: RefCell<HashMap<u64, tlog_tiles::Hash>>,
}

impl HashReader for Memo<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        let mut seen = self.seen.borrow_mut();
        let missing: Vec<u64> = indexes
            .iter()
            .copied()
            .filter(|i| !seen.contains_key(i))
            .collect();
        if !missing.is_empty() {
            for (i, h) in missing.iter().zip(self.tiles.read_hashes(&missing)?) {
                seen.insert(*i, h);
            }
        }
        Ok(indexes.iter().map(|i| seen[i]).collect())
    }
}

/// Checks that `proof` proves `leaf_hash` at `index` in the tree with root `root`.
pub fn verify_inclusion(
    proof: &[Hash],
    index: u64,
    tree_size: u64,
    leaf_hash: &Hash,
    root: &Hash,
) -> Result<(), ProofError> {
    check_index(index, tree_size)?;
    check_record(
        &to_tlog(proof),
        tree_size,
        root.to_tlog(),
        index,
        leaf_hash.to_tlog(),
    )
    .map_err(|_| ProofError::Invalid)
}

/// Tiles needed for the consistency proof between sizes `first` and `second`.
pub fn needed_tiles_for_consistency(first: u64, second: u64) -> Result<Vec<TileId>, ProofError> {
    check_sizes(first, second)?;
    if first == 0 {
        return Ok(Vec::new());
    }
    let r = Recorder::default();
    let _ = prove_tree(second, first, &r);
    Ok(r.tiles())
}

/// The proof that the tree of `second` leaves extends the tree of `first` leaves.
pub fn consistency_proof(
    tiles: &TileSet,
    first: u64,
    second: u64,
) -> Result<Vec<Hash>, ProofError> {
    check_sizes(first, second)?;
    if first == 0 {
        return Ok(Vec::new());
    }
    prove_tree(second, first, tiles)
        .map(to_hashes)
        .map_err(read_error)
}

/// Checks that `proof` shows the tree (`second`, `second_root`) extends (`first`, `first_root`).
pub fn verify_consistency(
    proof: &[Hash],
    first: u64,
    first_root: &Hash,
    second: u64,
    second_root: &Hash,
) -> Result<(), ProofError> {
    check_sizes(first, second)?;
    if first == 0 {
        return if proof.is_empty() && *first_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(ProofError::Invalid)
        };
    }
    check_tree(
        &to_tlog(proof),
        second,
        second_root.to_tlog(),
        first,
        first_root.to_tlog(),
    )
    .map_err(|_| ProofError::Invalid)
}
