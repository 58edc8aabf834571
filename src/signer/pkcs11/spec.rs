//! The `THREADLOG_SIGNER=pkcs11:…` spec and where the PIN comes from.
//!
//! Owns parsing only: which module, which token (label or slot), which key (label, and
//! CKA_ID if given) and, for RFC 7512 URIs, where the PIN is. It never loads a module or
//! talks to a token. Two forms are accepted:
//! - threadlog's own, `pkcs11:module=PATH;token=LABEL;key=KEYLABEL` (or `slot=N`);
//! - RFC 7512 URIs as p11-kit, OpenSSL and cosign write them,
//!   `pkcs11:token=LABEL;object=KEYLABEL;id=%01?module-path=PATH&pin-source=file:PIN`,
//!   percent-encoded, with `pin-value=` also accepted.
//!
//! A PIN given in the URI is kept as a secret and never printed back: the spec's
//! `Display` leaves it out (a spec ends up in logs and process listings).

use secrecy::{ExposeSecret, SecretString};
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
        "signer spec: {0} is not valid percent-encoding (RFC 7512 values escape bytes as %XX)"
    )]
    Encoding(String),
    #[error(
        "signer spec {0:?} is not a pkcs11 spec; use \
         pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=LABEL;key=KEYLABEL"
    )]
    NotPkcs11(String),
    #[error("signer spec: {field} {problem}")]
    Field { field: String, problem: String },
    #[error(
        "signer spec: {0} is missing; e.g. \
         pkcs11:module=/usr/lib/softhsm/libsofthsm2.so;token=LABEL;key=KEYLABEL or \
         pkcs11:token=LABEL;object=KEYLABEL?module-path=/usr/lib/softhsm/libsofthsm2.so"
    )]
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

/// A parsed `pkcs11:` signer spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pkcs11Spec {
    pub module: PathBuf,
    pub token: TokenRef,
    /// CKA_LABEL of the private key (`key=`, or `object=` in a URI).
    pub key_label: String,
    /// CKA_ID of the key (`id=` in a URI); when given, the key must carry it too.
    pub key_id: Option<Vec<u8>>,
    /// The PIN named by the URI; `None`: from the environment ([`pin_from_env`]).
    pub pin: Option<PinSource>,
}

/// Strict RFC 3986 percent-decoding: every `%` starts an escape of two hex digits.
fn percent_decode(field: &str, value: &str) -> Result<Vec<u8>, SpecError> {
    let bad = || SpecError::Encoding(format!("{field}={value}"));
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3).ok_or_else(bad)?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn percent_decode_text(field: &str, value: &str) -> Result<String, SpecError> {
    String::from_utf8(percent_decode(field, value)?).map_err(|_| SpecError::Field {
        field: field.to_string(),
        problem: "is not UTF-8 once decoded".into(),
    })
}

/// Escapes what RFC 7512 does not allow unescaped in a value.
fn percent_encode(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~:[]@!$'()*+,=/".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl Pkcs11Spec {
    /// Parses a spec (either form); without `token=` or `slot=`, the slot comes from
    /// `hsm_slot` (the value of `HSM_SLOT`, passed in so parsing stays independent of
    /// the environment).
    pub fn parse(spec: &str, hsm_slot: Option<&str>) -> Result<Self, SpecError> {
        let rest = spec
            .strip_prefix("pkcs11:")
            .ok_or_else(|| SpecError::NotPkcs11(spec.to_string()))?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let attrs = path
            .split(';')
            .map(|p| (p, false))
            .chain(query.split('&').map(|p| (p, true)))
            .filter(|(p, _)| !p.is_empty());
        let (mut module, mut label, mut slot, mut key) = (None, None, None, None);
        let (mut id, mut pin_value, mut pin_source, mut kind) = (None, None, None, None);
        for (part, in_query) in attrs {
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
            // Synonyms share a target: `key` and `object` both name the key's label.
            let target = match (name, in_query) {
                ("module", false) | ("module-path", true) => &mut module,
                ("token", false) => &mut label,
                ("slot", false) | ("slot-id", false) => &mut slot,
                ("key", false) | ("object", false) => &mut key,
                ("id", false) => &mut id,
                ("type", false) => &mut kind,
                ("pin-value", true) => &mut pin_value,
                ("pin-source", true) => &mut pin_source,
                (other, _) => {
                    return Err(SpecError::Field {
                        field: other.to_string(),
                        problem: "is not known; use module=, token= or slot=, and key= \
                                  (or an RFC 7512 URI with token=, slot-id=, object=, id=, \
                                  type=private and module-path=, pin-source= or pin-value=)"
                            .into(),
                    })
                }
            };
            if target.replace((name, value)).is_some() {
                return Err(SpecError::Field {
                    field: name.to_string(),
                    problem: "is given twice".into(),
                });
            }
        }
        let text = |v: Option<(&str, &str)>| v.map(|(n, v)| percent_decode_text(n, v)).transpose();
        if let Some(kind) = text(kind)? {
            if kind != "private" {
                return Err(SpecError::Field {
                    field: "type".into(),
                    problem: format!("is {kind:?}; the signing key is type=private"),
                });
            }
        }
        let token = match (text(label)?, text(slot)?, hsm_slot) {
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
        let pin = match (text(pin_value)?, text(pin_source)?) {
            (Some(_), Some(_)) => {
                return Err(SpecError::Field {
                    field: "pin-value".into(),
                    problem: "and pin-source are both given; give one".into(),
                })
            }
            (Some(v), None) => Some(PinSource::Value(SecretString::from(v))),
            (None, Some(source)) => {
                // RFC 7512 makes pin-source a URI; file: is the one that names a PIN file.
                let path = source
                    .strip_prefix("file://")
                    .or_else(|| source.strip_prefix("file:"))
                    .or_else(|| source.starts_with('/').then_some(source.as_str()))
                    .filter(|p| p.starts_with('/'))
                    .ok_or_else(|| SpecError::Field {
                        field: "pin-source".into(),
                        problem: format!("{source:?} is not file:/ABSOLUTE/PATH"),
                    })?;
                Some(PinSource::File(PathBuf::from(path)))
            }
            (None, None) => None,
        };
        Ok(Pkcs11Spec {
            module: PathBuf::from(text(module)?.ok_or(SpecError::Missing("module=PATH"))?),
            token,
            key_label: text(key)?.ok_or(SpecError::Missing("key=KEYLABEL"))?,
            key_id: id.map(|(n, v)| percent_decode(n, v)).transpose()?,
            pin,
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

/// threadlog's own form when it can say everything, else an RFC 7512 URI; a PIN value
/// is never written.
impl fmt::Display for Pkcs11Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key_id.is_none() && self.pin.is_none() {
            let token = match &self.token {
                TokenRef::Label(l) => format!("token={l}"),
                TokenRef::Slot(s) => format!("slot={s}"),
            };
            return write!(
                f,
                "pkcs11:module={};{token};key={}",
                self.module.display(),
                self.key_label
            );
        }
        let token = match &self.token {
            TokenRef::Label(l) => format!("token={}", percent_encode(l.as_bytes())),
            TokenRef::Slot(s) => format!("slot-id={s}"),
        };
        write!(
            f,
            "pkcs11:{token};object={}",
            percent_encode(self.key_label.as_bytes())
        )?;
        if let Some(id) = &self.key_id {
            let hex: String = id.iter().map(|b| format!("%{b:02X}")).collect();
            write!(f, ";id={hex}")?;
        }
        write!(
            f,
            "?module-path={}",
            percent_encode(self.module.to_string_lossy().as_bytes())
        )?;
        if let Some(PinSource::File(p)) = &self.pin {
            write!(
                f,
                "&pin-source=file:{}",
                percent_encode(p.to_string_lossy().as_bytes())
            )?;
        }
        Ok(())
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

    #[test]
    fn rfc7512_uris_with_percent_encoding() {
        let s = Pkcs11Spec::parse(
            "pkcs11:token=My%20Token;object=log%2Dkey;id=%01%a0;type=private\
             ?module-path=%2Fusr%2Flib%2Fsofthsm%2Flibsofthsm2.so&pin-source=file:/run/secrets/pin",
            None,
        )
        .unwrap();
        assert_eq!(s.token, TokenRef::Label("My Token".into()));
        assert_eq!(s.key_label, "log-key");
        assert_eq!(s.key_id, Some(vec![0x01, 0xa0]));
        assert_eq!(s.module, PathBuf::from(MODULE));
        assert_eq!(s.pin, Some(PinSource::File("/run/secrets/pin".into())));
        assert_eq!(
            s.to_string(),
            "pkcs11:token=My%20Token;object=log-key;id=%01%A0\
             ?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/run/secrets/pin"
        );
        assert_eq!(s.to_string().parse::<Pkcs11Spec>().unwrap(), s);

        // pin-value is kept as a secret and never printed back.
        let s = Pkcs11Spec::parse(
            "pkcs11:slot-id=3;object=k?module-path=/m&pin-value=12%2034",
            None,
        )
        .unwrap();
        assert_eq!(s.token, TokenRef::Slot(3));
        assert_eq!(s.module, PathBuf::from("/m"));
        assert_eq!(
            s.pin.as_ref().unwrap().read().unwrap().expose_secret(),
            "12 34"
        );
        assert_eq!(s.to_string(), "pkcs11:slot-id=3;object=k?module-path=/m");
        assert!(!format!("{s:?}").contains("12 34"), "{s:?}");

        // file:// URIs name the same file; the slot may come from HSM_SLOT as before.
        let s = Pkcs11Spec::parse(
            "pkcs11:object=k?module-path=/m&pin-source=file:///run/pin",
            Some("4"),
        )
        .unwrap();
        assert_eq!(s.pin, Some(PinSource::File("/run/pin".into())));
        assert_eq!(s.token, TokenRef::Slot(4));
        // today's form keeps parsing as it did, and prints the same way.
        let old = format!("pkcs11:module={MODULE};token=log;key=k1");
        let s = Pkcs11Spec::parse(&old, None).unwrap();
        assert_eq!((s.key_id.clone(), s.pin.clone()), (None, None));
        assert_eq!(s.to_string(), old);
    }

    #[test]
    fn rfc7512_refusals_name_the_problem() {
        let cases = [
            (
                "pkcs11:token=a;object=k;id=%zz?module-path=/m",
                "id=%zz is not valid percent-encoding",
            ),
            (
                "pkcs11:token=a;object=k;id=%0?module-path=/m",
                "id=%0 is not valid percent-encoding",
            ),
            (
                "pkcs11:token=%FF;object=k?module-path=/m",
                "token is not UTF-8",
            ),
            (
                "pkcs11:token=a;object=k;type=cert?module-path=/m",
                "type=private",
            ),
            (
                "pkcs11:token=a;object=k?module-path=/m&pin-value=1&pin-source=file:/p",
                "give one",
            ),
            (
                "pkcs11:token=a;object=k?module-path=/m&pin-source=https://x/pin",
                "is not file:/ABSOLUTE/PATH",
            ),
            (
                "pkcs11:token=a;object=k?module-path=/m&pin-source=file:pin",
                "is not file:/ABSOLUTE/PATH",
            ),
            (
                "pkcs11:token=a;object=k?module-name=softhsm2",
                "module-name is not known",
            ),
            (
                "pkcs11:token=a;object=k;module-path=/m",
                "module-path is not known",
            ),
            (
                "pkcs11:token=a;object=k;key=j?module-path=/m",
                "key is given twice",
            ),
            (
                "pkcs11:token=a;object=k;serial=42?module-path=/m",
                "serial is not known",
            ),
            ("pkcs11:token=a;object=k", "module=PATH is missing"),
            ("pkcs11:token=a?module-path=/m", "key=KEYLABEL is missing"),
            (
                "pkcs11:token=a;slot-id=1;object=k?module-path=/m",
                "not both",
            ),
        ];
        for (spec, want) in cases {
            let err = Pkcs11Spec::parse(spec, None).unwrap_err().to_string();
            assert!(err.contains(want), "{spec}: {err}");
        }
    }
}
