//! Entry kinds: validation of what clients submit and the canonical leaf envelope.
//!
//! Owns the exact bytes that become leaves (RFC 8785 canonical JSON) and the rules each
//! kind's body must follow. Pure: no I/O, no storage, no clock (the sequencer passes the
//! integration time in).

mod attestation;
mod blob;
mod control;
pub mod edges;
mod envelope;
mod event;
pub mod key;
mod sbom;
mod validate;

pub use attestation::{prepare_attestation, DSSE_MEDIA_TYPE};
pub use blob::{document_ref, parse_hex_digest, Blob, DocumentRef};
pub use control::{parse_results, Evidence, PARTIALS};
pub use edges::{Edge, EdgeKind, EventThread, NodeType};
pub use envelope::{
    derive, parse_leaf, CanonicalLeaf, Derived, Envelope, Kind, PreparedEntry, LEAF_MAX_BYTES,
};
pub use event::{dedup_key as event_key, parse_event, parse_events, MAX_BATCH};
pub use key::{KeyChange, KeyEvent};
pub use sbom::{parse_subject, prepare_sbom};

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
