//! The signed-note envelope: text, a blank line, then one `— name base64(keyid||sig)` line
//! per signature; and verifier keys `name+hexkeyid+base64(0x01||pubkey)`.

use signed_note::{Note, StandardVerifier, Verifier as _, VerifierList};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("malformed verifier key: {0}")]
    BadVerifierKey(String),
    #[error("signature by {0} does not verify")]
    BadSignature(String),
    #[error("no signature by a known key")]
    NoKnownSignature,
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Something that signs note text with an Ed25519 key: a key file or an HSM key.
pub trait NoteSigner: Send + Sync {
    /// The key name; for a log key it is the log's origin.
    fn name(&self) -> &str;
    /// The C2SP key ID: first 4 bytes of SHA-256(name || "\n" || 0x01 || pubkey).
    fn key_id(&self) -> u32;
    /// An Ed25519 signature over `msg`.
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, NoteError>;
}

/// An Ed25519 key held in memory that signs notes as `name`. Reading or making the key is
/// the caller's business (a key file, a test's seed): the core never touches the disk or
/// a random source.
pub struct Ed25519Signer {
    key: ed25519_dalek::SigningKey,
    verifier: VerifierKey,
}

impl Ed25519Signer {
    pub fn new(name: &str, key: ed25519_dalek::SigningKey) -> Result<Self, NoteError> {
        let verifier = VerifierKey::from_ed25519(name, &key.verifying_key().to_bytes())?;
        Ok(Ed25519Signer { key, verifier })
    }

    pub fn verifier_key(&self) -> &VerifierKey {
        &self.verifier
    }
}

impl NoteSigner for Ed25519Signer {
    fn name(&self) -> &str {
        self.verifier.name()
    }

    fn key_id(&self) -> u32 {
        self.verifier.key_id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, NoteError> {
        use ed25519_dalek::Signer as _;
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }
}

/// An Ed25519 verifier key in note format. Parsing checks the name, the algorithm byte,
/// the key length and that the key ID matches the key.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    text: String,
    name: String,
    id: u32,
}

/// Names one key: what a note signature carries.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRef {
    pub name: String,
    pub id: u32,
}

impl VerifierKey {
    pub fn from_ed25519(name: &str, public_key: &[u8; 32]) -> Result<Self, NoteError> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .map_err(|e| NoteError::BadVerifierKey(e.to_string()))?;
        if !signed_note::is_key_name_valid(name) {
            return Err(NoteError::BadVerifierKey(format!(
                "key name {name:?} must be non-empty, without spaces or '+'"
            )));
        }
        signed_note::new_ed25519_verifier_key(name, &key).parse()
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key_id(&self) -> u32 {
        self.id
    }

    pub fn key_ref(&self) -> KeyRef {
        KeyRef {
            name: self.name.clone(),
            id: self.id,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, NoteError> {
        // The crate checks the name, the algorithm, the key length and the key ID.
        let v = StandardVerifier::new(s).map_err(|e| NoteError::BadVerifierKey(e.to_string()))?;
        Ok(VerifierKey {
            text: s.to_string(),
            name: v.name().to_string(),
            id: v.key_id(),
        })
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifierKey({})", self.text)
    }
}

/// A note whose signatures were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedNote {
    pub text: String,
    /// Known keys whose signatures verified.
    pub verified_by: Vec<KeyRef>,
    /// Signatures by keys the caller did not name; ignored, as the spec requires.
    pub unknown_signatures: usize,
}

/// Signs `text` (which must end in a newline) with every signer, in order.
pub fn sign_note(text: &str, signers: &[&dyn NoteSigner]) -> Result<String, NoteError> {
    // Signatures are made here rather than through the crate's `Signer` trait so an HSM
    // error reaches the caller with its reason instead of an opaque signature error.
    let mut sigs = Vec::with_capacity(signers.len());
    for s in signers {
        let sig = s.sign(text.as_bytes())?;
        sigs.push(
            signed_note::Signature::new(s.name().to_string(), s.key_id(), sig)
                .map_err(|e| NoteError::Signing(e.to_string()))?,
        );
    }
    let note =
        Note::new(text.as_bytes(), &sigs).map_err(|e| NoteError::Malformed(e.to_string()))?;
    String::from_utf8(note.to_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))
}

/// Parses a signed note and checks it against `known` keys: signatures by unknown keys are
/// ignored, a bad signature by a known key is an error, and at least one known key must
/// have signed.
pub fn open_note(note: &str, known: &[VerifierKey]) -> Result<OpenedNote, NoteError> {
    let parsed =
        Note::from_bytes(note.as_bytes()).map_err(|e| NoteError::Malformed(e.to_string()))?;
    let list = VerifierList::new(
        known
            .iter()
            .map(|k| {
                StandardVerifier::new(k.as_str())
                    .map(|v| Box::new(v) as Box<dyn signed_note::Verifier>)
                    .map_err(|e| NoteError::BadVerifierKey(e.to_string()))
            })
            .collect::<Result<_, _>>()?,
    );
    match parsed.verify(&list) {
        Ok((verified, unverified)) => Ok(OpenedNote {
            text: String::from_utf8_lossy(parsed.text()).into_owned(),
            verified_by: verified
                .iter()
                .map(|s| KeyRef {
                    name: s.name().to_string(),
                    id: s.id(),
                })
                .collect(),
            unknown_signatures: unverified.len(),
        }),
        Err(signed_note::NoteError::InvalidSignature { name, id }) => {
            Err(NoteError::BadSignature(format!("{name}+{id:08x}")))
        }
        Err(signed_note::NoteError::UnverifiedNote) => Err(NoteError::NoKnownSignature),
        Err(e) => Err(NoteError::Malformed(e.to_string())),
    }
}
