//! Entry kinds: the canonical leaf envelope and the rules of the kinds an auditor checks
//! without outside libraries (events, key changes, the blobs a leaf binds).
//!
//! Owns the exact bytes that become leaves (RFC 8785 canonical JSON). The kinds whose
//! checks need the server's libraries (SBOMs against the CycloneDX schemas, attestations
//! against a trust policy, control results against the NIST catalogs) are prepared in the
//! `threadlog` crate and built on [`PreparedEntry`] here. Pure: no I/O, no storage, no
//! clock (the sequencer passes the integration time in).

mod blob;
pub mod dedup;
pub mod edges;
mod envelope;
mod event;
mod event_fields;
pub mod key;
pub mod validate;

pub use blob::{document_ref, parse_hex_digest, Blob, DocumentRef};
pub use edges::{Edge, EdgeKind, EventThread, NodeType};
pub use envelope::{
    derive, parse_leaf, CanonicalLeaf, Derived, Envelope, Kind, PreparedEntry, LEAF_MAX_BYTES,
};
pub use event::{dedup_key as event_key, parse_event, parse_events, MAX_BATCH};
pub use key::{KeyChange, KeyEvent};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EntryError {
    /// Client input is invalid; `path` names the element and field, e.g. `[3].material[0].use`.
    #[error("{path}: {reason}")]
    Invalid { path: String, reason: String },
    /// The body is not JSON at all.
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("the entry's leaf would be {size} bytes, over the {max}-byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("a batch of {0} events exceeds the limit of {MAX_BATCH}")]
    BatchTooLarge(usize),
    #[error("stored leaf is not a valid envelope: {0}")]
    BadLeaf(String),
}
