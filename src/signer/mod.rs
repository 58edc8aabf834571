//! Signing keys for checkpoints: the [`Signer`] trait and its implementations.
//!
//! Owns key material and its protection (file permissions, or an HSM through PKCS#11),
//! and the signer's health: a probe (a live signature checked with the public key) and a
//! cached probe result for readiness checks ([`SignerHealth`]).
//! Signs only what `note` hands it; knows nothing of trees, entries or storage.

mod file;
mod health;
pub mod pkcs11;

pub use file::FileSigner;
pub use health::{SignerHealth, PROBE_MAX_AGE};
pub use pkcs11::{Pkcs11Error, Pkcs11Signer};

use crate::note::{self, NoteSigner, VerifierKey};
use std::fmt;
use std::time::SystemTime;

#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    #[error("key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("signing key unavailable: {0}")]
    Unavailable(String),
    #[error("PKCS#11 signer: {0}")]
    Pkcs11(#[from] Pkcs11Error),
}

/// Where a key lives, for status pages and logs. Never secret material: no key bytes,
/// no PIN.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeyLocation {
    /// A PKCS#8 PEM file.
    File { path: String },
    /// A key pair in a PKCS#11 token.
    Pkcs11 {
        module: String,
        slot: u64,
        token_label: String,
        key_label: String,
        /// CKA_ID, hex (not the note key ID).
        cka_id: String,
    },
}

impl fmt::Display for KeyLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyLocation::File { path } => f.write_str(path),
            KeyLocation::Pkcs11 {
                module,
                slot,
                token_label,
                key_label,
                cka_id,
            } => write!(
                f,
                "module {module} token {token_label:?} (slot {slot}) key {key_label:?} id {cka_id}"
            ),
        }
    }
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
    /// Where the key lives (never secret material).
    fn location(&self) -> KeyLocation;
    /// A live test signature, verified with the public key: `Ok` means the key signs
    /// right now. Blocks like `sign`.
    fn probe(&self) -> Result<(), SignerError>;
    /// When this signer last produced a signature (checkpoint or probe), since the
    /// process started.
    fn last_signature_at(&self) -> Option<SystemTime>;
}

/// The note text a probe signs; it is no checkpoint (no tree size, no root), so a probe
/// signature can never be mistaken for one.
pub const PROBE_NOTE: &str = "threadlog signer probe\n";

/// A probe for any signer: signs [`PROBE_NOTE`] as a note and opens it with the verifier
/// key through the pure `note` code, exactly as an auditor checks a checkpoint.
pub fn probe_note(signer: &dyn NoteSigner, key: &VerifierKey) -> Result<(), SignerError> {
    let signed = note::sign_note(PROBE_NOTE, &[signer])
        .map_err(|e| SignerError::Unavailable(format!("probe signature failed: {e}")))?;
    note::open_note(&signed, std::slice::from_ref(key))
        .map(|_| ())
        .map_err(|e| {
            SignerError::Unavailable(format!("probe signature does not verify with {key}: {e}"))
        })
}
