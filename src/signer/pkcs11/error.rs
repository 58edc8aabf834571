//! What can go wrong reaching a PKCS#11 key, each message saying what to do about it.
//!
//! Owns the wording operators see at start-up and which errors mean a broken module; it
//! must not act on an error (retrying and restarting are the signer's).

use super::spec::{PinError, SpecError};
use cryptoki::error::Error;

/// Why a PKCS#11 key could not be used; each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum Pkcs11Error {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Pin(#[from] PinError),
    #[error(
        "cannot load PKCS#11 module {path}: {reason}; check module= (SoftHSM on Debian: \
         apt-get install softhsm2, module /usr/lib/softhsm/libsofthsm2.so)"
    )]
    Module { path: String, reason: String },
    #[error(
        "no initialised token in slot {slot} (tokens present: {present}); slot ids change \
         when a token is initialised, so prefer token=LABEL"
    )]
    NoSlot { slot: u64, present: String },
    #[error(
        "no token labelled {label:?} (tokens present: {present}); create it, e.g. \
         softhsm2-util --init-token --free --label {label}, or fix token="
    )]
    NoToken { label: String, present: String },
    #[error(
        "the PIN for token {token:?} is wrong; fix THREADLOG_PKCS11_PIN or \
         THREADLOG_PKCS11_PIN_FILE (repeated wrong PINs lock the token)"
    )]
    WrongPin { token: String },
    #[error("the user PIN of token {token:?} is locked; the security officer must reset it")]
    PinLocked { token: String },
    #[error(
        "no private key labelled {label:?} in the token; create it with \
         `threadlog keys init --label {label}` or fix key="
    )]
    KeyNotFound { label: String },
    #[error(
        "{count} private keys are labelled {label:?}; threadlog needs exactly one: give the \
         others another label or remove them"
    )]
    DuplicateKey { label: String, count: usize },
    #[error(
        "key {label:?} is {found}, not an Ed25519 key (CKK_EC_EDWARDS on edwards25519); \
         threadlog signs checkpoints with Ed25519: create one with `threadlog keys init` \
         under another label"
    )]
    WrongKeyType { label: String, found: String },
    #[error("public key of {label:?}: {reason}")]
    BadPublicKey { label: String, reason: String },
    #[error("the key name (log origin): {0}")]
    KeyName(String),
    #[error("{op}: {reason}")]
    Op { op: &'static str, reason: String },
    #[error("test signature by {label:?} does not verify with its public key: {reason}")]
    BadSignature { label: String, reason: String },
}

impl Pkcs11Error {
    /// Whether the module or token state looks broken rather than merely misconfigured,
    /// so that restarting the module may help.
    pub(super) fn module_broken(&self) -> bool {
        matches!(
            self,
            Pkcs11Error::Op { .. } | Pkcs11Error::NoToken { .. } | Pkcs11Error::NoSlot { .. }
        )
    }

    pub(crate) fn op(op: &'static str, e: Error) -> Self {
        Pkcs11Error::Op {
            op,
            reason: e.to_string(),
        }
    }
}
