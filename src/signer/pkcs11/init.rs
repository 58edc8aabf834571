//! `keys init`: generating an Ed25519 key pair in a token, or adopting the one there.
//!
//! Owns the generate-or-adopt decision; the object templates live in `token`. It must
//! never replace or delete a key: an existing key under the label is adopted as is.

use super::spec::{Pkcs11Spec, TokenRef};
use super::{token, KeyInfo, Pkcs11Error, Pkcs11Signer};
use crate::note::VerifierKey;
use secrecy::SecretString;

/// What `keys init` did.
pub struct KeyInit {
    /// True when the key pair was generated now, false when an existing key was adopted.
    pub created: bool,
    pub verifier_key: VerifierKey,
    pub info: KeyInfo,
    /// The `THREADLOG_SIGNER` value for this key (by token label: slot ids can change).
    pub signer_spec: String,
}

/// Generates an Ed25519 key pair labelled `spec.key_label` in the token, or adopts the one
/// already there, then opens it as a signer (one verified test signature) to prove it works.
pub fn init_key(spec: &Pkcs11Spec, pin: SecretString, name: &str) -> Result<KeyInit, Pkcs11Error> {
    let module = token::module(&spec.module)?;
    let (created, token_label) = {
        let (_gate, _) = module.enter();
        let (slot, token_label) = token::find_slot(&module.ctx, &spec.token)?;
        let session = token::open_session(&module.ctx, slot, &token_label, &pin, true)?;
        let created = match token::find_key(&session, &spec.key_label, spec.key_id.as_deref()) {
            Ok(_) => false,
            Err(Pkcs11Error::KeyNotFound { .. }) => {
                token::generate_key(&session, &spec.key_label)?;
                true
            }
            Err(e) => return Err(e),
        };
        (created, token_label)
    };
    let by_label = Pkcs11Spec {
        module: spec.module.clone(),
        token: TokenRef::Label(token_label),
        key_label: spec.key_label.clone(),
        key_id: spec.key_id.clone(),
        pin: None,
    };
    let signer = Pkcs11Signer::open(&by_label, pin, name)?;
    Ok(KeyInit {
        created,
        verifier_key: signer.verifier.clone(),
        info: signer.info.clone(),
        signer_spec: by_label.to_string(),
    })
}
