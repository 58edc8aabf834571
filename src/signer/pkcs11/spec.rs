//! The `THREADLOG_SIGNER=pkcs11:…` spec and where the PIN comes from.
//!
//! Owns parsing only: which module, which token (label or slot) and which key label. It
//! never loads a module or talks to a token, and the PIN is never part of the spec (a
//! spec ends up in logs and process listings; the PIN must not).

use secrecy::SecretString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Environment variable holding the token's user PIN.
pub const PIN_ENV: &str = "THREADLOG_PKCS11_PIN";
/// Environment variable naming a file whose first line is the user PIN.
pub const PIN_FILE_ENV: &str = "THREADLOG_PKCS11_PIN_FILE";
/// The slot to use when the spec names neither a token label nor a slot, as the
/// deployment guide sets it.
pub const SLOT_ENV: &str = "HSM_SLOT";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error(
        "signer spec {0:?} is not a pkcs11 spec; use \
         pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=LABEL;key=KEYLABEL"
    )]
    NotPkcs11(String),
    #[error("signer spec: {field} {problem}")]
    Field { field: String, problem: String },
    #[error("signer spec: {0} is missing; e.g. pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=LABEL;key=KEYLABEL")]
    Missing(&'static str),
    #[error("signer spec: give either token=LABEL or slot=N, not both")]
    TokenAndSlot,
    #[error("{SLOT_ENV}={0:?} is not a slot number")]
    BadSlotEnv(String),
}

/// How to find the token. Labels are preferred: slot ids change when a token is
/// initialised (SoftHSM derives them from the token serial).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRef {
    Label(String),
    Slot(u64),
}

impl fmt::Display for TokenRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenRef::Label(l) => write!(f, "token {l:?}"),
            TokenRef::Slot(s) => write!(f, "slot {s}"),
        }
    }
}

/// A parsed `pkcs11:` signer spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Spec {
    pub module: PathBuf,
    pub token: TokenRef,
    pub key_label: String,
}

impl Pkcs11Spec {
    /// Parses a spec; without `token=` or `slot=`, the slot comes from `hsm_slot` (the
    /// value of `HSM_SLOT`, passed in so parsing stays independent of the environment).
    pub fn parse(spec: &str, hsm_slot: Option<&str>) -> Result<Self, SpecError> {
        let rest = spec
            .strip_prefix("pkcs11:")
            .ok_or_else(|| SpecError::NotPkcs11(spec.to_string()))?;
        let (mut module, mut label, mut slot, mut key) = (None, None, None, None);
        for part in rest.split(';').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| SpecError::Field {
                field: part.to_string(),
                problem: "must be name=value".into(),
            })?;
            if value.is_empty() {
                return Err(SpecError::Field {
                    field: name.to_string(),
                    problem: "is empty".into(),
                });
            }
            let target = match name {
                "module" => &mut module,
                "token" => &mut label,
                "slot" => &mut slot,
                "key" => &mut key,
                other => {
                    return Err(SpecError::Field {
                        field: other.to_string(),
                        problem: "is not known; use module=, token= or slot=, and key=".into(),
                    })
                }
            };
            if target.replace(value.to_string()).is_some() {
                return Err(SpecError::Field {
                    field: name.to_string(),
                    problem: "is given twice".into(),
                });
            }
        }
        let token = match (label, slot, hsm_slot) {
            (Some(_), Some(_), _) => return Err(SpecError::TokenAndSlot),
            (Some(l), None, _) => TokenRef::Label(l),
            (None, Some(s), _) => TokenRef::Slot(s.parse().map_err(|_| SpecError::Field {
                field: "slot".into(),
                problem: format!("{s:?} is not a slot number"),
            })?),
            (None, None, Some(s)) => TokenRef::Slot(
                s.trim()
                    .parse()
                    .map_err(|_| SpecError::BadSlotEnv(s.to_string()))?,
            ),
            (None, None, None) => {
                return Err(SpecError::Missing("token=LABEL (or slot=N, or HSM_SLOT)"))
            }
        };
        Ok(Pkcs11Spec {
            module: PathBuf::from(module.ok_or(SpecError::Missing("module=PATH"))?),
            token,
            key_label: key.ok_or(SpecError::Missing("key=KEYLABEL"))?,
        })
    }

    /// Parses a spec, taking the default slot from `HSM_SLOT`.
    pub fn from_env(spec: &str) -> Result<Self, SpecError> {
        Self::parse(spec, std::env::var(SLOT_ENV).ok().as_deref())
    }
}

impl FromStr for Pkcs11Spec {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        Self::from_env(s)
    }
}

impl fmt::Display for Pkcs11Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = match &self.token {
            TokenRef::Label(l) => format!("token={l}"),
            TokenRef::Slot(s) => format!("slot={s}"),
        };
        write!(
            f,
            "pkcs11:module={};{token};key={}",
            self.module.display(),
            self.key_label
        )
    }
}

/// Where a PIN could not be read from.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PinError {
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
    let path = file.ok_or(PinError::Missing)?;
    let err = |reason: String| PinError::File {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
    let pin = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if pin.is_empty() {
        return Err(err("is empty; its first line must be the PIN".into()));
    }
    Ok(SecretString::from(pin.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

    #[test]
    fn token_label_slot_and_hsm_slot() {
        let s = Pkcs11Spec::parse(
            &format!("pkcs11:module={MODULE};token=log;key=k1"),
            Some("9"),
        )
        .unwrap();
        assert_eq!(s.token, TokenRef::Label("log".into()));
        assert_eq!(s.key_label, "k1");
        assert_eq!(s.module, PathBuf::from(MODULE));
        assert_eq!(s.to_string().parse::<Pkcs11Spec>().unwrap(), s);
        let s = Pkcs11Spec::parse(&format!("pkcs11:module={MODULE};slot=3;key=k1"), None).unwrap();
        assert_eq!(s.token, TokenRef::Slot(3));
        let s = Pkcs11Spec::parse(&format!("pkcs11:module={MODULE};key=k1"), Some("7")).unwrap();
        assert_eq!(s.token, TokenRef::Slot(7));
    }

    #[test]
    fn refusals_name_the_problem() {
        let cases = [
            ("file:/x", "not a pkcs11 spec"),
            ("pkcs11:token=a;key=k", "module=PATH is missing"),
            ("pkcs11:module=/m;key=k", "token=LABEL"),
            ("pkcs11:module=/m;token=a", "key=KEYLABEL is missing"),
            ("pkcs11:module=/m;token=a;slot=1;key=k", "not both"),
            ("pkcs11:module=/m;slot=x;key=k", "not a slot number"),
            (
                "pkcs11:module=/m;token=a;key=k;pin=1234",
                "pin is not known",
            ),
            ("pkcs11:module=/m;token=a;token=b;key=k", "given twice"),
            ("pkcs11:module=/m;token=;key=k", "token is empty"),
        ];
        for (spec, want) in cases {
            let err = Pkcs11Spec::parse(spec, None).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
        let err = Pkcs11Spec::parse("pkcs11:module=/m;key=k", Some("one")).unwrap_err();
        assert_eq!(err, SpecError::BadSlotEnv("one".into()));
    }

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
        assert_eq!(
            pin_from(None, Some(path.clone())).unwrap().expose_secret(),
            "5678"
        );
        std::fs::write(&path, "\n").unwrap();
        assert!(pin_from(None, Some(path))
            .unwrap_err()
            .to_string()
            .contains("is empty"));
    }
}
