//! Talking to a token: loading the module once per process, finding the token by label
//! or slot, logging in, and finding, checking or generating the Ed25519 key pair.
//!
//! Owns the PKCS#11 object conventions (templates, attribute encodings, SoftHSM quirks).
//! It must not sign for callers or keep sessions: the signer's pool does that.

use super::spec::TokenRef;
use super::Pkcs11Error;
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use secrecy::SecretString;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

/// DER of the Ed25519 OID 1.3.101.112 (RFC 8410), the standard CKA_EC_PARAMS.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// DER PrintableString "edwards25519": what SoftHSM 2.6 and older PKCS#11 3.0 drafts use.
const ED25519_NAME: &[u8] = b"\x13\x0cedwards25519";

/// A loaded, initialised module, shared by every signer (and `keys init`) in the process:
/// C_Initialize is once per process per module.
///
/// Some failures only a fresh C_Initialize clears (SoftHSM marks a token invalid for good
/// once its directory vanished, even after it is back; network HSM clients behave alike
/// after losing their connection). [`Module::restart`] does that. Every PKCS#11 call runs
/// under [`Module::enter`], so a restart never pulls the library out from under a call,
/// and the generation tells sessions opened before a restart (now dead) from new ones.
pub(crate) struct Module {
    pub ctx: Pkcs11,
    path: PathBuf,
    gate: RwLock<Gate>,
}

pub(crate) struct Gate {
    generation: u64,
    restarted_at: Option<Instant>,
}

/// Fewest seconds between two restarts of a module, so a dead HSM is not hammered.
const RESTART_INTERVAL: Duration = Duration::from_secs(1);

fn modules() -> &'static Mutex<HashMap<PathBuf, Arc<Module>>> {
    static MODULES: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    MODULES.get_or_init(|| Mutex::new(HashMap::new()))
}

fn initialize(ctx: &Pkcs11, path: &Path) -> Result<(), Pkcs11Error> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        Err(e) => Err(Pkcs11Error::Module {
            path: path.display().to_string(),
            reason: format!("C_Initialize failed: {e}"),
        }),
    }
}

/// Loads and initialises the module at `path`, or returns the one already open.
pub(crate) fn module(path: &Path) -> Result<Arc<Module>, Pkcs11Error> {
    let mut open = modules().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(m) = open.get(path) {
        return Ok(m.clone());
    }
    let ctx = Pkcs11::new(path).map_err(|e| Pkcs11Error::Module {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    initialize(&ctx, path)?;
    let m = Arc::new(Module {
        ctx,
        path: path.to_path_buf(),
        gate: RwLock::new(Gate {
            generation: 0,
            restarted_at: None,
        }),
    });
    open.insert(path.to_path_buf(), m.clone());
    Ok(m)
}

impl Module {
    /// Holds off restarts while the caller talks to the module; returns the generation.
    pub fn enter(&self) -> (RwLockReadGuard<'_, Gate>, u64) {
        let gate = self.gate.read().unwrap_or_else(|e| e.into_inner());
        let generation = gate.generation;
        (gate, generation)
    }

    /// Finalizes and initialises the module again, unless that happened since the caller
    /// saw generation `seen` or less than [`RESTART_INTERVAL`] ago. Sessions of earlier
    /// generations are dead afterwards.
    pub fn restart(&self, seen: u64) -> Result<(), Pkcs11Error> {
        let mut gate = self.gate.write().unwrap_or_else(|e| e.into_inner());
        if gate.generation != seen
            || gate
                .restarted_at
                .is_some_and(|t| t.elapsed() < RESTART_INTERVAL)
        {
            return Ok(());
        }
        // C_Finalize failing (e.g. not initialised) is no reason not to initialise again.
        let _ = self.ctx.clone().finalize();
        gate.generation += 1;
        gate.restarted_at = Some(Instant::now());
        initialize(&self.ctx, &self.path)
    }
}

/// Finds the slot holding the token; returns it with the token's label.
pub(crate) fn find_slot(ctx: &Pkcs11, token: &TokenRef) -> Result<(Slot, String), Pkcs11Error> {
    let slots = ctx
        .get_slots_with_token()
        .map_err(|e| Pkcs11Error::op("C_GetSlotList", e))?;
    let mut present = Vec::new();
    for slot in slots {
        let info = ctx
            .get_token_info(slot)
            .map_err(|e| Pkcs11Error::op("C_GetTokenInfo", e))?;
        let label = info.label().trim_end().to_string();
        let wanted = match token {
            TokenRef::Label(l) => *l == label,
            TokenRef::Slot(s) => *s == slot.id(),
        };
        if wanted && info.token_initialized() {
            return Ok((slot, label));
        }
        if info.token_initialized() {
            present.push(format!("slot {} {label:?}", slot.id()));
        }
    }
    let present = if present.is_empty() {
        "none".to_string()
    } else {
        present.join(", ")
    };
    Err(match token {
        TokenRef::Label(label) => Pkcs11Error::NoToken {
            label: label.clone(),
            present,
        },
        TokenRef::Slot(slot) => Pkcs11Error::NoSlot {
            slot: *slot,
            present,
        },
    })
}

/// Opens a session on `slot` and logs the user in. Login state is per token and process,
/// so a session opened while another is logged in is already logged in.
pub(crate) fn open_session(
    ctx: &Pkcs11,
    slot: Slot,
    token_label: &str,
    pin: &SecretString,
    read_write: bool,
) -> Result<Session, Pkcs11Error> {
    let session = if read_write {
        ctx.open_rw_session(slot)
    } else {
        ctx.open_ro_session(slot)
    }
    .map_err(|e| Pkcs11Error::op("C_OpenSession", e))?;
    match session.login(UserType::User, Some(pin)) {
        Ok(()) | Err(Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(session),
        Err(Error::Pkcs11(RvError::PinIncorrect | RvError::PinLenRange, _)) => {
            Err(Pkcs11Error::WrongPin {
                token: token_label.to_string(),
            })
        }
        Err(Error::Pkcs11(RvError::PinLocked, _)) => Err(Pkcs11Error::PinLocked {
            token: token_label.to_string(),
        }),
        Err(e) => Err(Pkcs11Error::op("C_Login", e)),
    }
}

/// An Ed25519 key pair in the token.
pub(crate) struct KeyPair {
    pub private: ObjectHandle,
    pub public_key: [u8; 32],
    pub id: Vec<u8>,
}

/// Finds the one Ed25519 private key labelled `label` and its public key.
pub(crate) fn find_key(
    session: &Session,
    label: &str,
    id: Option<&[u8]>,
) -> Result<KeyPair, Pkcs11Error> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    // An RFC 7512 `id=` narrows the label's match to the key with that CKA_ID.
    if let Some(id) = id {
        template.push(Attribute::Id(id.to_vec()));
    }
    let found = session
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::op("C_FindObjects", e))?;
    let private = match found.as_slice() {
        [] => {
            return Err(Pkcs11Error::KeyNotFound {
                label: label.to_string(),
            })
        }
        [one] => *one,
        many => {
            return Err(Pkcs11Error::DuplicateKey {
                label: label.to_string(),
                count: many.len(),
            })
        }
    };
    let attrs = session
        .get_attributes(private, &[AttributeType::KeyType, AttributeType::Id])
        .map_err(|e| Pkcs11Error::op("C_GetAttributeValue", e))?;
    let (mut key_type, mut id) = (None, Vec::new());
    for a in attrs {
        match a {
            Attribute::KeyType(t) => key_type = Some(t),
            Attribute::Id(v) => id = v,
            _ => {}
        }
    }
    let wrong = |found: String| Pkcs11Error::WrongKeyType {
        label: label.to_string(),
        found,
    };
    match key_type {
        Some(t) if t == KeyType::EC_EDWARDS => {}
        Some(t) => return Err(wrong(format!("{t}"))),
        None => return Err(wrong("a key of unknown type".into())),
    }
    let public = find_public(session, label, &id)?;
    let public_key = ed25519_public_key(session, label, public)?;
    Ok(KeyPair {
        private,
        public_key,
        id,
    })
}

/// The 32-byte Ed25519 key of the public key object `public`, refused when its curve is
/// not Ed25519 or its point is malformed.
fn ed25519_public_key(
    session: &Session,
    label: &str,
    public: ObjectHandle,
) -> Result<[u8; 32], Pkcs11Error> {
    let wrong = |found: String| Pkcs11Error::WrongKeyType {
        label: label.to_string(),
        found,
    };
    let attrs = session
        .get_attributes(public, &[AttributeType::EcParams, AttributeType::EcPoint])
        .map_err(|e| Pkcs11Error::op("C_GetAttributeValue", e))?;
    let (mut params, mut point) = (None, None);
    for a in attrs {
        match a {
            Attribute::EcParams(v) => params = Some(v),
            Attribute::EcPoint(v) => point = Some(v),
            _ => {}
        }
    }
    if !params.as_deref().is_some_and(is_ed25519_params) {
        return Err(wrong(format!(
            "CKK_EC_EDWARDS with CKA_EC_PARAMS {} (not Ed25519; Ed448 is not supported)",
            hex::encode(params.unwrap_or_default())
        )));
    }
    point
        .as_deref()
        .ok_or_else(|| "no CKA_EC_POINT".to_string())
        .and_then(parse_ec_point)
        .map_err(|reason| Pkcs11Error::BadPublicKey {
            label: label.to_string(),
            reason,
        })
}

/// The public key object of the pair: same label, and the same CKA_ID when several share
/// the label.
fn find_public(session: &Session, label: &str, id: &[u8]) -> Result<ObjectHandle, Pkcs11Error> {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    let found = session
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::op("C_FindObjects", e))?;
    if found.len() == 1 {
        return Ok(found[0]);
    }
    template.push(Attribute::Id(id.to_vec()));
    let found = session
        .find_objects(&template)
        .map_err(|e| Pkcs11Error::op("C_FindObjects", e))?;
    match found.as_slice() {
        [one] => Ok(*one),
        _ => Err(Pkcs11Error::BadPublicKey {
            label: label.to_string(),
            reason: format!(
                "{} public keys match; threadlog needs exactly one to check signatures",
                found.len()
            ),
        }),
    }
}

/// Generates an Ed25519 key pair labelled `label`: the private key is a token object,
/// sensitive and never extractable, usable only for signing.
pub(crate) fn generate_key(session: &Session, label: &str) -> Result<KeyPair, Pkcs11Error> {
    let mut id = vec![0u8; 16];
    session
        .generate_random_slice(&mut id)
        .map_err(|e| Pkcs11Error::op("C_GenerateRandom", e))?;
    let private_template = [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Sign(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Id(id.clone()),
    ];
    // The OID is the PKCS#11 3.0 encoding; SoftHSM 2.6 builds may want the curve name.
    let mut last = None;
    for params in [ED25519_OID, ED25519_NAME] {
        let public_template = [
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Verify(true),
            Attribute::EcParams(params.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
            Attribute::Id(id.clone()),
        ];
        match session.generate_key_pair(
            &Mechanism::EccEdwardsKeyPairGen,
            &public_template,
            &private_template,
        ) {
            Ok(_) => return find_key(session, label, Some(id.as_slice())),
            Err(
                e @ Error::Pkcs11(
                    RvError::AttributeValueInvalid
                    | RvError::CurveNotSupported
                    | RvError::DomainParamsInvalid,
                    _,
                ),
            ) => last = Some(e),
            Err(e) => return Err(Pkcs11Error::op("C_GenerateKeyPair", e)),
        }
    }
    Err(Pkcs11Error::op(
        "C_GenerateKeyPair (Ed25519)",
        last.expect("one attempt was made"),
    ))
}

/// CKA_EC_PARAMS naming Ed25519: the OID or the PrintableString "edwards25519".
pub fn is_ed25519_params(params: &[u8]) -> bool {
    params == ED25519_OID || params == ED25519_NAME
}

/// CKA_EC_POINT of an Ed25519 key: the raw 32 bytes (PKCS#11 3.0) or DER OCTET STRING
/// wrapped (`04 20` + 32 bytes, as SoftHSM 2.6 returns it).
pub fn parse_ec_point(point: &[u8]) -> Result<[u8; 32], String> {
    let raw = match point {
        [0x04, 0x20, rest @ ..] if rest.len() == 32 => rest,
        raw if raw.len() == 32 => raw,
        other => {
            return Err(format!(
                "CKA_EC_POINT of {} bytes is neither 32 raw bytes nor 04 20 + 32 bytes",
                other.len()
            ))
        }
    };
    let mut key = [0u8; 32];
    key.copy_from_slice(raw);
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ec_point_raw_and_der_wrapped() {
        let key = [7u8; 32];
        assert_eq!(parse_ec_point(&key).unwrap(), key);
        let mut wrapped = vec![0x04, 0x20];
        wrapped.extend_from_slice(&key);
        assert_eq!(parse_ec_point(&wrapped).unwrap(), key);
        assert!(parse_ec_point(&wrapped[..33]).is_err());
        assert!(parse_ec_point(&[0x04; 65]).is_err());
    }

    #[test]
    fn ed25519_params_oid_or_name_only() {
        assert!(is_ed25519_params(ED25519_OID));
        assert!(is_ed25519_params(ED25519_NAME));
        // Ed448 OID 1.3.101.113 and P-256 are refused.
        assert!(!is_ed25519_params(&[0x06, 0x03, 0x2b, 0x65, 0x71]));
        assert!(!is_ed25519_params(&[
            0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07
        ]));
    }
}
