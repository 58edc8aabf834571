//! Signing keys for checkpoints: the [`Signer`] trait and its implementations.
//!
//! Owns key material and its protection (file permissions, or an HSM through PKCS#11).
//! Signs only what `note` hands it; knows nothing of trees, entries or storage.

mod file;
pub mod pkcs11;

pub use file::FileSigner;
pub use pkcs11::{Pkcs11Error, Pkcs11Signer};

use crate::note::{NoteSigner, VerifierKey};

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    #[error("PKCS#11 signer: {0}")]
    Pkcs11(#[from] Pkcs11Error),
}

/// A log signing key. Contract: `sign` returns an Ed25519 signature that verifies under
/// `verifier_key()`, or an error; it never returns a signature by another key. Calls may
/// block for milliseconds (an HSM round trip), so callers run them off the async executor
/// when that matters.
pub trait Signer: NoteSigner {
    /// `file` or `pkcs11`.
    fn kind(&self) -> &'static str;
    /// The note-format verifier key auditors pin.
    fn verifier_key(&self) -> &VerifierKey;
    /// Where the key lives, for status pages and logs (never secret material).
    fn location(&self) -> String;
}
