//! An Ed25519 key in a PKCS#8 PEM file, created with mode 0600 on first start.
//! A key file that group or others can read is refused: a copied key forges the log.

use super::{KeyLocation, Signer, SignerError};
use crate::note::{Ed25519Signer, NoteError, NoteSigner, VerifierKey};
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

pub struct FileSigner {
    key: Ed25519Signer,
    path: PathBuf,
    last_signature: Mutex<Option<SystemTime>>,
}

fn key_err(path: &Path, reason: impl ToString) -> SignerError {
    SignerError::KeyFile {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

impl FileSigner {
    /// Opens the key at `path`, creating a new random key there if the file does not exist.
    /// Returns the signer and whether it was created.
    pub fn open_or_create(path: &Path, name: &str) -> Result<(Self, bool), SignerError> {
        if path.exists() {
            return Ok((Self::open(path, name)?, false));
        }
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let pem = key
            .to_pkcs8_pem(Default::default())
            .map_err(|e| key_err(path, e))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| key_err(path, e))?;
        f.write_all(pem.as_bytes()).map_err(|e| key_err(path, e))?;
        f.sync_all().map_err(|e| key_err(path, e))?;
        Ok((Self::from_key(key, name, path)?, true))
    }

    /// Opens an existing key file, refusing one that group or others may read.
    pub fn open(path: &Path, name: &str) -> Result<Self, SignerError> {
        let meta = std::fs::metadata(path).map_err(|e| key_err(path, e))?;
        let mode = meta.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(key_err(
                path,
                format!(
                    "mode is {:o}; it must not be readable by group or others: run \
                     `chmod 600 {}`",
                    mode & 0o777,
                    path.display()
                ),
            ));
        }
        let pem = std::fs::read_to_string(path).map_err(|e| key_err(path, e))?;
        let key = SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| key_err(path, format!("not an Ed25519 PKCS#8 PEM key: {e}")))?;
        Self::from_key(key, name, path)
    }

    fn from_key(key: SigningKey, name: &str, path: &Path) -> Result<Self, SignerError> {
        Ok(FileSigner {
            key: Ed25519Signer::new(name, key).map_err(|e| key_err(path, e))?,
            path: path.to_path_buf(),
            last_signature: Mutex::new(None),
        })
    }
}

impl NoteSigner for FileSigner {
    fn name(&self) -> &str {
        self.key.name()
    }

    fn key_id(&self) -> u32 {
        self.key.key_id()
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, NoteError> {
        let sig = self.key.sign(msg)?;
        *self
            .last_signature
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(SystemTime::now());
        Ok(sig)
    }
}

impl Signer for FileSigner {
    fn kind(&self) -> &'static str {
        "file"
    }

    fn verifier_key(&self) -> &VerifierKey {
        self.key.verifier_key()
    }

    fn location(&self) -> KeyLocation {
        KeyLocation::File {
            path: self.path.display().to_string(),
        }
    }

    /// Signs in process and verifies with the verifier key: catches a key file swapped
    /// or damaged under a running server only on restart, but keeps `/readyz` and
    /// `/v1/keys` uniform across signers.
    fn probe(&self) -> Result<(), SignerError> {
        super::probe_note(self, self.key.verifier_key())
    }

    fn last_signature_at(&self) -> Option<SystemTime> {
        *self
            .last_signature
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_with_0600_reopened_with_same_key_refused_when_readable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        let (a, created) = FileSigner::open_or_create(&path, "origin").unwrap();
        assert!(created);
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let (b, created) = FileSigner::open_or_create(&path, "origin").unwrap();
        assert!(!created);
        assert_eq!(a.verifier_key(), b.verifier_key());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileSigner::open(&path, "origin").err().unwrap().to_string();
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn garbage_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.key");
        std::fs::write(&path, "not a key").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(FileSigner::open(&path, "origin").is_err());
    }
}
