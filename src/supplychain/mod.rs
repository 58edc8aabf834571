//! Supply-chain documents CI uploads, verified before anything is logged: CycloneDX SBOMs
//! (`cyclonedx`) and what changed between two of them (`diff`). DSSE/in-toto and Sigstore
//! attestations belong here beside them, with the same shape: document bytes in, a
//! verdict with the facts the leaf records (or the exact violations) out.
//!
//! No I/O: no store, no network, no files. Schemas are compiled into the binary and every
//! reference between them resolves to those copies.

pub mod attest;
pub mod cyclonedx;
pub mod diff;
