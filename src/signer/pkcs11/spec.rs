//! The `THREADLOG_SIGNER=pkcs11:…` spec. Reading the PIN, from the environment or from
//! where a URI says, is the `pin` module's; its items are re-exported here.
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

use super::attrs::{percent_decode, text, Attrs};
pub use super::pin::{pin_from_env, PinError, PinSource, PIN_ENV, PIN_FILE_ENV};
use secrecy::SecretString;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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

/// The token, by label or slot; without either, the slot comes from `hsm_slot`.
fn token_ref(
    label: Option<String>,
    slot: Option<String>,
    hsm_slot: Option<&str>,
) -> Result<TokenRef, SpecError> {
    match (label, slot, hsm_slot) {
        (Some(_), Some(_), _) => Err(SpecError::TokenAndSlot),
        (Some(l), None, _) => Ok(TokenRef::Label(l)),
        (None, Some(s), _) => Ok(TokenRef::Slot(s.parse().map_err(|_| SpecError::Field {
            field: "slot".into(),
            problem: format!("{s:?} is not a slot number"),
        })?)),
        (None, None, Some(s)) => Ok(TokenRef::Slot(
            s.trim()
                .parse()
                .map_err(|_| SpecError::BadSlotEnv(s.to_string()))?,
        )),
        (None, None, None) => Err(SpecError::Missing("token=LABEL (or slot=N, or HSM_SLOT)")),
    }
}

/// The PIN the URI names, by value or file; `None` when it names none.
fn pin_source(
    value: Option<String>,
    source: Option<String>,
) -> Result<Option<PinSource>, SpecError> {
    match (value, source) {
        (Some(_), Some(_)) => Err(SpecError::Field {
            field: "pin-value".into(),
            problem: "and pin-source are both given; give one".into(),
        }),
        (Some(v), None) => Ok(Some(PinSource::Value(SecretString::from(v)))),
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
            Ok(Some(PinSource::File(PathBuf::from(path))))
        }
        (None, None) => Ok(None),
    }
}

impl Pkcs11Spec {
    /// Parses a spec (either form); without `token=` or `slot=`, the slot comes from
    /// `hsm_slot` (the value of `HSM_SLOT`, passed in so parsing stays independent of
    /// the environment).
    pub fn parse(spec: &str, hsm_slot: Option<&str>) -> Result<Self, SpecError> {
        let rest = spec
            .strip_prefix("pkcs11:")
            .ok_or_else(|| SpecError::NotPkcs11(spec.to_string()))?;
        let a = Attrs::read(rest)?;
        if let Some(kind) = text(a.kind)? {
            if kind != "private" {
                return Err(SpecError::Field {
                    field: "type".into(),
                    problem: format!("is {kind:?}; the signing key is type=private"),
                });
            }
        }
        let token = token_ref(text(a.label)?, text(a.slot)?, hsm_slot)?;
        let pin = pin_source(text(a.pin_value)?, text(a.pin_source)?)?;
        Ok(Pkcs11Spec {
            module: PathBuf::from(text(a.module)?.ok_or(SpecError::Missing("module=PATH"))?),
            token,
            key_label: text(a.key)?.ok_or(SpecError::Missing("key=KEYLABEL"))?,
            key_id: a.id.map(|(n, v)| percent_decode(n, v)).transpose()?,
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
