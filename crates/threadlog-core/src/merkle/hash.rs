//! The 32-byte SHA-256 hash of a tree node and the RFC 9162 §2.1 domain-separated hashes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt;

/// A node hash of the tree (leaf, interior or root). Wire form: standard base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash(pub [u8; 32]);

/// The root hash of the empty tree: SHA-256 of the empty string (RFC 9162 §2.1.1).
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("not a base64-encoded 32-byte hash")]
pub struct HashParseError;

/// `SHA-256(0x00 || leaf)`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    Hash(h.finalize().into())
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

impl Hash {
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    pub fn from_base64(s: &str) -> Result<Self, HashParseError> {
        let bytes = STANDARD.decode(s).map_err(|_| HashParseError)?;
        Self::from_slice(&bytes)
    }

    pub fn from_slice(bytes: &[u8]) -> Result<Self, HashParseError> {
        Ok(Hash(bytes.try_into().map_err(|_| HashParseError)?))
    }

    pub(crate) fn to_tlog(self) -> tlog_tiles::Hash {
        tlog_tiles::Hash(self.0)
    }

    pub(crate) fn from_tlog(h: tlog_tiles::Hash) -> Self {
        Hash(h.0)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_base64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
    }

    #[test]
    fn domain_separation_matches_rfc9162() {
        // A leaf of one byte 0x01 || 64 bytes must not collide with an interior node.
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut concat = vec![0x01];
        concat.extend_from_slice(&a.0);
        concat.extend_from_slice(&b.0);
        assert_eq!(
            node_hash(&a, &b).0,
            <[u8; 32]>::from(Sha256::digest(&concat))
        );
        assert_ne!(leaf_hash(&concat[1..]), node_hash(&a, &b));
    }

    #[test]
    fn base64_round_trip_and_rejects_wrong_length() {
        let h = leaf_hash(b"x");
        assert_eq!(Hash::from_base64(&h.to_base64()), Ok(h));
        assert_eq!(Hash::from_base64("AAAA"), Err(HashParseError));
        assert_eq!(Hash::from_base64("not base64!"), Err(HashParseError));
    }
}
