//! An Ed25519 log key inside an HSM, reached through PKCS#11 (`cryptoki`).
//!
//! Owns the session pool, recovery from lost sessions and the check that every signature
//! the HSM returns verifies under the key's public half before anyone sees it. It must not
//! hold private key material (the key never leaves the token) nor read the PIN from
//! anywhere but the caller (see [`spec::pin_from_env`]).
//!
//! Recovery: a PKCS#11 error that means the session or token went away (session handle
//! invalid or closed, token not present, device removed or failing, user not logged in,
//! key handle invalid) drops that session, opens and logs in a new one, finds the key
//! again and retries once. When not even a new session can be opened (the token is gone,
//! or the module answers only errors), the module is re-initialised first, at most once a
//! second (see [`token::Module`]). If the retry fails too the signer answers
//! [`SignerError::Unavailable`]; the next call tries again, so it heals by itself when
//! the HSM is back.
//!
//! PKCS#11 login state is per token and process: while one session of this process is
//! logged in to a token, a second login is not checked (CKR_USER_ALREADY_LOGGED_IN), so
//! a wrong PIN is only noticed by the first signer to open a token.

mod attrs;
mod error;
mod init;
mod pin;
mod spec;
mod token;

pub use error::Pkcs11Error;
pub use init::{init_key, KeyInit};
pub use spec::{pin_from_env, PinError, PinSource, Pkcs11Spec, SpecError, TokenRef};
pub use spec::{PIN_ENV, PIN_FILE_ENV, SLOT_ENV};
pub use token::{is_ed25519_params, parse_ec_point};

use super::{KeyLocation, Signer, SignerError};
use crate::note::{NoteError, NoteSigner, VerifierKey};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use ed25519_dalek::{Signature, VerifyingKey};
use secrecy::SecretString;
use std::sync::{Arc, Condvar, Mutex};
use std::time::SystemTime;

/// Sessions opened at start; enough for the sequencer and a health probe at once.
pub const POOL_SIZE: usize = 2;

/// The fixed message `probe` signs.
pub const PROBE_MESSAGE: &[u8] = b"threadlog pkcs11 health probe\n";

/// Errors of `C_Sign` after which a new session is worth a try.
fn is_session_lost(e: &Error) -> bool {
    matches!(
        e,
        Error::Pkcs11(
            RvError::SessionHandleInvalid
                | RvError::SessionClosed
                | RvError::TokenNotPresent
                | RvError::TokenNotRecognized
                | RvError::DeviceRemoved
                | RvError::DeviceError
                | RvError::UserNotLoggedIn
                | RvError::KeyHandleInvalid
                | RvError::ObjectHandleInvalid
                | RvError::GeneralError
                | RvError::CryptokiNotInitialized,
            _
        )
    )
}

/// A logged-in session with the key's handle in it (handles are per session in
/// principle, so each session finds its own), and the module generation it belongs to.
struct Pooled {
    session: Session,
    key: ObjectHandle,
    generation: u64,
}

impl Pooled {
    /// Drops a session that a module restart already killed. Closing it would send a dead
    /// handle to the new library instance, which may have given that number to another
    /// session, so it is left unclosed (a few bytes).
    fn abandon(self) {
        std::mem::forget(self.session);
    }
}

/// Idle sessions, and how many exist (idle or lent out).
struct Pool {
    idle: Vec<Pooled>,
    open: usize,
}

/// Where the key lives, for status pages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub module: String,
    pub slot: u64,
    pub token_label: String,
    pub key_label: String,
    /// CKA_ID, hex.
    pub key_id: String,
}

pub struct Pkcs11Signer {
    spec: Pkcs11Spec,
    module: Arc<token::Module>,
    pin: SecretString,
    public_key: VerifyingKey,
    verifier: VerifierKey,
    info: KeyInfo,
    pool: Mutex<Pool>,
    returned: Condvar,
    last_signature: Mutex<Option<SystemTime>>,
}

impl Pkcs11Signer {
    /// Loads the module, finds the token and key, opens the session pool and makes one
    /// verified test signature; any problem refuses with the reason and the fix.
    pub fn open(spec: &Pkcs11Spec, pin: SecretString, name: &str) -> Result<Self, Pkcs11Error> {
        let module = token::module(&spec.module)?;
        let (gate, generation) = module.enter();
        let (slot, token_label) = token::find_slot(&module.ctx, &spec.token)?;
        let session = token::open_session(&module.ctx, slot, &token_label, &pin, false)?;
        let key = token::find_key(&session, &spec.key_label, spec.key_id.as_deref())?;
        let public_key =
            VerifyingKey::from_bytes(&key.public_key).map_err(|e| Pkcs11Error::BadPublicKey {
                label: spec.key_label.clone(),
                reason: e.to_string(),
            })?;
        let verifier = VerifierKey::from_ed25519(name, &key.public_key)
            .map_err(|e| Pkcs11Error::KeyName(e.to_string()))?;
        let mut idle = vec![Pooled {
            session,
            key: key.private,
            generation,
        }];
        while idle.len() < POOL_SIZE {
            let session = token::open_session(&module.ctx, slot, &token_label, &pin, false)?;
            let key = token::find_key(&session, &spec.key_label, spec.key_id.as_deref())?.private;
            idle.push(Pooled {
                session,
                key,
                generation,
            });
        }
        drop(gate);
        let signer = Pkcs11Signer {
            info: KeyInfo {
                module: spec.module.display().to_string(),
                slot: slot.id(),
                token_label,
                key_label: spec.key_label.clone(),
                key_id: hex::encode(&key.id),
            },
            spec: spec.clone(),
            module,
            pin,
            public_key,
            verifier,
            pool: Mutex::new(Pool {
                open: idle.len(),
                idle,
            }),
            returned: Condvar::new(),
            last_signature: Mutex::new(None),
        };
        signer.probe().map_err(|e| Pkcs11Error::BadSignature {
            label: spec.key_label.clone(),
            reason: e.to_string(),
        })?;
        Ok(signer)
    }

    /// Opens the signer a `THREADLOG_SIGNER=pkcs11:…` spec names, with the PIN the URI
    /// names (`pin-value`, `pin-source`) or else the one from the environment.
    pub fn from_spec(spec: &str, name: &str) -> Result<Self, Pkcs11Error> {
        let spec = Pkcs11Spec::from_env(spec)?;
        let pin = match &spec.pin {
            Some(source) => source.read()?,
            None => pin_from_env()?,
        };
        Self::open(&spec, pin, name)
    }

    pub fn key_info(&self) -> &KeyInfo {
        &self.info
    }

    /// The Ed25519 public key read from the token.
    pub fn public_key(&self) -> [u8; 32] {
        self.public_key.to_bytes()
    }

    /// Signs through the HSM and returns only a signature that verifies under the public
    /// key read at start.
    fn sign_verified(&self, msg: &[u8]) -> Result<[u8; 64], SignerError> {
        let sig = self.sign_raw(msg)?;
        let signature = Signature::from_slice(&sig).map_err(|e| {
            SignerError::Unavailable(format!("the HSM returned a malformed signature: {e}"))
        })?;
        self.public_key
            .verify_strict(msg, &signature)
            .map_err(|e| {
                SignerError::Unavailable(format!(
                    "the HSM returned a signature that does not verify with key {:?}: {e}",
                    self.spec.key_label
                ))
            })?;
        *self
            .last_signature
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(SystemTime::now());
        Ok(signature.to_bytes())
    }

    /// Signs with a pooled session; when that session was lost, signs once more on a new
    /// one, restarting the module first if not even a new session can be opened.
    fn sign_raw(&self, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        // From here until the session is back in the pool (or its place given up), this
        // call holds one of the pool's places.
        let pooled = self.take();
        let seen = {
            let (_gate, generation) = self.module.enter();
            let first = match pooled {
                Some(p) if p.generation == generation => self.sign_with(p, msg),
                Some(stale) => {
                    stale.abandon();
                    Err(None)
                }
                None => Err(None),
            };
            match first {
                Ok(sig) => return Ok(sig),
                Err(Some(e)) if !is_session_lost(&e) => {
                    return Err(self.unavailable(format!("C_Sign: {e}")))
                }
                Err(_) => {}
            }
            match self.open_pooled(generation) {
                Ok(p) => return self.sign_again(p, msg),
                Err(e) if !e.module_broken() => return Err(self.unavailable(e.to_string())),
                Err(_) => generation,
            }
        };
        self.module
            .restart(seen)
            .map_err(|e| self.unavailable(e.to_string()))?;
        let (_gate, generation) = self.module.enter();
        let p = self
            .open_pooled(generation)
            .map_err(|e| self.unavailable(e.to_string()))?;
        self.sign_again(p, msg)
    }

    /// The retry: a failure now is final for this call.
    fn sign_again(&self, pooled: Pooled, msg: &[u8]) -> Result<Vec<u8>, SignerError> {
        self.sign_with(pooled, msg).map_err(|e| {
            let e = e.map(|e| e.to_string()).unwrap_or_default();
            self.unavailable(format!("C_Sign on a new session: {e}"))
        })
    }

    /// Gives up the caller's place in the pool and says why signing failed.
    fn unavailable(&self, reason: String) -> SignerError {
        self.give_back(None);
        SignerError::Unavailable(format!(
            "PKCS#11 token {:?}, key {:?}: {reason}",
            self.info.token_label, self.spec.key_label
        ))
    }

    /// Signs on `pooled`. On success the session goes back to the pool; on an error it is
    /// closed and the caller keeps its place in the pool.
    fn sign_with(&self, pooled: Pooled, msg: &[u8]) -> Result<Vec<u8>, Option<Error>> {
        let mechanism = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
        let result = pooled.session.sign(&mechanism, pooled.key, msg);
        match result {
            Ok(sig) => {
                self.give_back(Some(pooled));
                Ok(sig)
            }
            Err(e) => Err(Some(e)),
        }
    }

    /// Opens a new logged-in session and finds the key again; a different key under the
    /// same label is refused. Runs inside [`token::Module::enter`] of `generation`.
    fn open_pooled(&self, generation: u64) -> Result<Pooled, Pkcs11Error> {
        let ctx = &self.module.ctx;
        let (slot, label) = token::find_slot(ctx, &self.spec.token)?;
        let session = token::open_session(ctx, slot, &label, &self.pin, false)?;
        let key = token::find_key(&session, &self.spec.key_label, self.spec.key_id.as_deref())?;
        if key.public_key != self.public_key.to_bytes() {
            return Err(Pkcs11Error::BadPublicKey {
                label: self.spec.key_label.clone(),
                reason: "the token now holds a different key under this label".into(),
            });
        }
        Ok(Pooled {
            session,
            key: key.private,
            generation,
        })
    }

    /// An idle session, or `None` when there is room to open a new one (the place is then
    /// the caller's). Waits while every session is lent out.
    fn take(&self) -> Option<Pooled> {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(p) = pool.idle.pop() {
                return Some(p);
            }
            if pool.open < POOL_SIZE {
                pool.open += 1;
                return None;
            }
            pool = self.returned.wait(pool).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Returns a session to the pool, or with `None` gives up a place.
    fn give_back(&self, pooled: Option<Pooled>) {
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        match pooled {
            Some(p) => pool.idle.push(p),
            None => pool.open = pool.open.saturating_sub(1),
        }
        self.returned.notify_one();
    }
}

impl Drop for Pkcs11Signer {
    /// Closes the pooled sessions, except those a module restart already killed.
    fn drop(&mut self) {
        let (_gate, generation) = self.module.enter();
        let pool = self.pool.get_mut().unwrap_or_else(|e| e.into_inner());
        for p in pool.idle.drain(..) {
            if p.generation != generation {
                p.abandon();
            }
        }
    }
}

impl NoteSigner for Pkcs11Signer {
    fn name(&self) -> &str {
        self.verifier.name()
    }

    fn key_id(&self) -> u32 {
        self.verifier.key_id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, NoteError> {
        self.sign_verified(msg)
            .map(|s| s.to_vec())
            .map_err(|e| NoteError::Signing(e.to_string()))
    }
}

impl Signer for Pkcs11Signer {
    fn kind(&self) -> &'static str {
        "pkcs11"
    }

    fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }

    fn location(&self) -> KeyLocation {
        KeyLocation::Pkcs11 {
            module: self.info.module.clone(),
            slot: self.info.slot,
            token_label: self.info.token_label.clone(),
            key_label: self.info.key_label.clone(),
            cka_id: self.info.key_id.clone(),
        }
    }

    /// A live test signature over [`PROBE_MESSAGE`] through the HSM, verified with the
    /// public key read from the token (every HSM signature is; see `sign_verified`).
    fn probe(&self) -> Result<(), SignerError> {
        self.sign_verified(PROBE_MESSAGE).map(|_| ())
    }

    /// When the HSM last produced a signature that verified.
    fn last_signature_at(&self) -> Option<SystemTime> {
        *self
            .last_signature
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}
