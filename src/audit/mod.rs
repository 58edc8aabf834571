//! Full-chain verification: one code path used by `threadlog verify` (against a server or
//! a database), by the API's tests and by the crash and tamper tests.
//!
//! It trusts nothing it reads but the verifier key it is given, the log's first key: it
//! follows the logged key entries from there ([`KeyChain`]), so an auditor pinned to the
//! first key keeps verifying across any number of rotations. It recomputes every leaf
//! hash from the exact leaf bytes, rebuilds the tree, checks each checkpoint's signature and root, and,
//! where the source keeps tiles, compares every stored tile with the rebuilt one. On a
//! mismatch it names the first bad entry (bisecting with consistency proofs when only the
//! root disagrees). It must not write to the log.

mod documents;
mod rebuild;
mod remote;
mod source;
mod verify;

pub use remote::HttpSource;
pub use source::{Source, SourceError, StoreSource};
pub use threadlog_core::keychain::{ChainError, KeyChain, KeyEpoch};
pub use verify::{verify, Failure, Previous, Report};
