//! Entry kinds: the core's leaf envelope and kinds (`threadlog_core::entry`), plus the
//! kinds whose checks need the server's libraries: SBOMs (CycloneDX schemas), attestations
//! (the trust policy's verdict) and control results (the NIST catalogs).
//!
//! Pure: no I/O, no storage, no clock; each kind here only turns checked input into a
//! [`PreparedEntry`].

mod attestation;
mod control;
mod sbom;

pub use attestation::{prepare_attestation, DSSE_MEDIA_TYPE};
pub use control::{parse_results, Evidence, PARTIALS};
pub use sbom::{parse_subject, prepare_sbom};
pub use threadlog_core::entry::*;
