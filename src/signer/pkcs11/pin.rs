//! Where the token's user PIN comes from: the environment (`THREADLOG_PKCS11_PIN`, else
//! the file named by `THREADLOG_PKCS11_PIN_FILE`) or, for an RFC 7512 URI, the value or
//! file the URI names. A PIN file must be readable by its owner only. Never prints a PIN.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;
use std::path::PathBuf;

/// Environment variable holding the token's user PIN.
pub const PIN_ENV: &str = "THREADLOG_PKCS11_PIN";
/// Environment variable naming a file whose first line is the user PIN.
pub const PIN_FILE_ENV: &str = "THREADLOG_PKCS11_PIN_FILE";

/// Where the PIN comes from when an RFC 7512 URI names it.
#[derive(Clone)]
pub enum PinSource {
    /// `pin-value=`: the PIN itself.
    Value(SecretString),
    /// `pin-source=file:PATH`: a file whose first line is the PIN.
    File(PathBuf),
}

impl fmt::Debug for PinSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinSource::Value(_) => f.write_str("Value(<redacted>)"),
            PinSource::File(p) => f.debug_tuple("File").field(p).finish(),
        }
    }
}

impl PartialEq for PinSource {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (PinSource::Value(a), PinSource::Value(b)) => a.expose_secret() == b.expose_secret(),
            (PinSource::File(a), PinSource::File(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for PinSource {}

impl PinSource {
    /// The PIN, reading (and checking) the file if it is one.
    pub fn read(&self) -> Result<SecretString, PinError> {
        match self {
            PinSource::Value(v) => Ok(v.clone()),
            PinSource::File(p) => read_pin_file(p),
        }
    }
}

/// Where a PIN could not be read from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
    #[error(
        "PIN file {path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    Exposed { path: String, mode: u32 },
    #[error(
        "no PKCS#11 PIN: set {PIN_ENV} or {PIN_FILE_ENV} (the PIN is never a command-line flag)"
    )]
    Missing,
    #[error("PIN file {path}: {reason}")]
    File { path: String, reason: String },
}

/// The user PIN: `THREADLOG_PKCS11_PIN`, else the first line of the file named by
/// `THREADLOG_PKCS11_PIN_FILE`.
pub fn pin_from_env() -> Result<SecretString, PinError> {
    pin_from(
        std::env::var(PIN_ENV).ok(),
        std::env::var_os(PIN_FILE_ENV).map(PathBuf::from),
    )
}

fn pin_from(pin: Option<String>, file: Option<PathBuf>) -> Result<SecretString, PinError> {
    if let Some(pin) = pin.filter(|p| !p.is_empty()) {
        return Ok(SecretString::from(pin));
    }
    read_pin_file(&file.ok_or(PinError::Missing)?)
}

/// The first line of a PIN file that only its owner may read.
fn read_pin_file(path: &std::path::Path) -> Result<SecretString, PinError> {
    use std::os::unix::fs::PermissionsExt;
    let err = |reason: String| PinError::File {
        path: path.display().to_string(),
        reason,
    };
    let mode = std::fs::metadata(path)
        .map_err(|e| err(e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(PinError::Exposed {
            path: path.display().to_string(),
            mode: mode & 0o777,
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    let pin = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if pin.is_empty() {
        return Err(err("is empty; its first line must be the PIN".into()));
    }
    Ok(SecretString::from(pin.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn pin_from_env_or_file() {
        assert_eq!(
            pin_from(Some("1234".into()), None).unwrap().expose_secret(),
            "1234"
        );
        assert_eq!(pin_from(None, None).unwrap_err(), PinError::Missing);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, "5678\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            pin_from(None, Some(path.clone())).unwrap().expose_secret(),
            "5678"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(pin_from(None, Some(path.clone()))
            .unwrap_err()
            .to_string()
            .contains("is empty"));
    }

    #[test]
    fn a_pin_file_others_can_read_is_refused_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, "5678\n").unwrap();
        for mode in [0o640, 0o604, 0o644] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = pin_from(None, Some(path.clone())).unwrap_err();
            assert_eq!(
                err,
                PinError::Exposed {
                    path: path.display().to_string(),
                    mode
                }
            );
            assert_eq!(
                err.to_string(),
                format!(
                    "PIN file {p} is readable by group or others (mode {mode:o}); run `chmod 600 {p}`",
                    p = path.display()
                )
            );
            // The same file named by an RFC 7512 URI is refused the same way.
            let source = PinSource::File(path.clone());
            assert!(matches!(source.read(), Err(PinError::Exposed { .. })));
        }
    }
}
