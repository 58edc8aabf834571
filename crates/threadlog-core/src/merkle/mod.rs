//! The RFC 9162 Merkle tree of the log, as pure functions: hashing, C2SP tlog-tiles
//! grouping, appending leaves, and building and checking inclusion and consistency proofs.
//!
//! This module is part of the auditor's trusted core. It performs no I/O and depends on
//! nothing else in the crate: storage reaches it only through tile data handed in by the
//! caller. The tree math itself comes from the `tlog_tiles` crate (a port of Go's
//! `x/mod/sumdb/tlog`); this module wraps it in our own types so the crate can be swapped
//! without touching callers.
//!
//! Specs: RFC 9162 §2.1 (hashes and proofs), <https://c2sp.org/tlog-tiles> (tiles).

mod append;
mod hash;
mod position;
mod proof;
mod rebuild;
mod tiles;

pub use append::{append, Appended};
pub use hash::{leaf_hash, node_hash, Hash, HashParseError, EMPTY_ROOT};
pub use position::{LeafIndex, PositionError, TreeSize, MAX_TREE_SIZE};
pub use proof::{
    consistency_proof, inclusion_proof, inclusion_proofs, needed_tiles_for_consistency,
    needed_tiles_for_inclusion, needed_tiles_for_root, tree_root, verify_consistency,
    verify_inclusion, ProofError,
};
pub use rebuild::{Rebuilder, Step};
pub use tiles::{edge_tiles, TileId, TileSet, TILE_HEIGHT, TILE_WIDTH};
