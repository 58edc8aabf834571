//! The operator's Sigstore `trusted_root.json`: the Fulcio certificate authorities, the
//! transparency logs' and CT logs' keys, and the RFC 3161 timestamp authorities, each with
//! the time range it is trusted for. Parsed once when the policy loads (the caller reads
//! the file); after that, bundles are verified offline against it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use sigstore::bundle::verify::Verifier;
use sigstore::crypto::CosignVerificationKey;
use sigstore::trust::ManualTrustRoot;
use std::collections::BTreeMap;

pub const MEDIA_TYPE: &str = "application/vnd.dev.sigstore.trustedroot+json;version=0.1";

/// When a key or authority may be used: `[start, end]`, both ends included (the Sigstore
/// `TimeRange` is closed), open-ended without `end`.
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
}

impl Validity {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        t >= self.start && self.end.is_none_or(|e| t <= e)
    }
}

/// A log (Rekor or CT) key: the id bundles name it by, its key and validity.
pub struct LogKey {
    /// SHA-256 of the key's SubjectPublicKeyInfo DER.
    pub log_id: Vec<u8>,
    pub base_url: String,
    pub key: CosignVerificationKey,
    pub valid: Validity,
}

/// A timestamp authority: its chain, leaf first, and validity.
pub struct TimestampAuthority {
    pub name: String,
    pub chain: Vec<Vec<u8>>,
    pub valid: Validity,
}

pub struct TrustedRoot {
    pub tlogs: Vec<LogKey>,
    pub timestamp_authorities: Vec<TimestampAuthority>,
    /// Fulcio CA certificates (DER) with their validity, for the record and time checks.
    pub certificate_authorities: Vec<(Vec<Vec<u8>>, Validity)>,
    /// The crate's verifier over the CAs and CT log keys (chain, SCT, identity, signature,
    /// log-entry body).
    pub verifier: Verifier,
    /// SHA-256 of the file, recorded with every bundle verified under it.
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for TrustedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedRoot")
            .field("tlogs", &self.tlogs.len())
            .field(
                "certificate_authorities",
                &self.certificate_authorities.len(),
            )
            .field("timestamp_authorities", &self.timestamp_authorities.len())
            .finish()
    }
}

impl TrustedRoot {
    pub fn tlog(&self, log_id: &[u8]) -> Option<&LogKey> {
        self.tlogs.iter().find(|l| l.log_id == log_id)
    }

    /// Parses a trusted root, naming the first field that is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<TrustedRoot, String> {
        let j: Json =
            serde_json::from_slice(bytes).map_err(|e| format!("not a trusted root: {e}"))?;
        if j.media_type != MEDIA_TYPE {
            return Err(format!(
                "mediaType {:?} is not supported; expected {MEDIA_TYPE:?}",
                j.media_type
            ));
        }
        let tlogs = j
            .tlogs
            .iter()
            .enumerate()
            .map(|(i, l)| log_key(l, &format!("tlogs[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        if tlogs.is_empty() {
            return Err("tlogs: at least one transparency log is required".into());
        }
        // CT log keys go to the crate's verifier; each is checked here first, by name.
        for (i, l) in j.ctlogs.iter().enumerate() {
            log_key(l, &format!("ctlogs[{i}]"))?;
        }
        let mut certificate_authorities = Vec::new();
        for (i, ca) in j.certificate_authorities.iter().enumerate() {
            let at = format!("certificateAuthorities[{i}]");
            certificate_authorities
                .push((chain(&ca.cert_chain, &at)?, validity(&ca.valid_for, &at)?));
        }
        if certificate_authorities.is_empty() {
            return Err("certificateAuthorities: at least one is required".into());
        }
        let mut timestamp_authorities = Vec::new();
        for (i, ta) in j.timestamp_authorities.iter().enumerate() {
            let at = format!("timestampAuthorities[{i}]");
            timestamp_authorities.push(TimestampAuthority {
                name: ta
                    .subject
                    .as_ref()
                    .and_then(|s| s.common_name.clone())
                    .unwrap_or_else(|| at.clone()),
                chain: chain(&ta.cert_chain, &at)?,
                valid: validity(&ta.valid_for, &at)?,
            });
        }
        let manual = ManualTrustRoot {
            fulcio_certs: certificate_authorities
                .iter()
                .flat_map(|(c, _)| c.iter().map(|d| d.clone().into()))
                .collect(),
            rekor_keys: raw_keys(&j.tlogs)?,
            ctfe_keys: raw_keys(&j.ctlogs)?,
        };
        let verifier = Verifier::new(Default::default(), manual)
            .map_err(|e| format!("the trusted root cannot be used: {e}"))?;
        Ok(TrustedRoot {
            tlogs,
            timestamp_authorities,
            certificate_authorities,
            verifier,
            sha256: Sha256::digest(bytes).into(),
        })
    }
}

fn b64(at: &str, s: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(s)
        .map_err(|e| format!("{at}: not base64: {e}"))
}

fn time(at: &str, s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{at}: not an RFC 3339 time: {e}"))
}

fn validity(v: &Option<ValidForJson>, at: &str) -> Result<Validity, String> {
    let v = v
        .as_ref()
        .ok_or_else(|| format!("{at}.validFor: required"))?;
    Ok(Validity {
        start: time(&format!("{at}.validFor.start"), &v.start)?,
        end: v
            .end
            .as_deref()
            .map(|e| time(&format!("{at}.validFor.end"), e))
            .transpose()?,
    })
}

fn chain(c: &ChainJson, at: &str) -> Result<Vec<Vec<u8>>, String> {
    let certs = c
        .certificates
        .iter()
        .enumerate()
        .map(|(i, r)| b64(&format!("{at}.certChain.certificates[{i}]"), &r.raw_bytes))
        .collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(format!("{at}.certChain: no certificate"));
    }
    Ok(certs)
}

/// A log key's SubjectPublicKeyInfo DER. `keyDetails` `PKCS1_RSA_*` keys are written as a
/// bare PKCS#1 `RSAPublicKey` (the Sigstore staging root's first CT log key is one); they
/// are wrapped into the SubjectPublicKeyInfo every verifier here reads.
fn spki_der(l: &PublicKeyJson, at: &str) -> Result<Vec<u8>, String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::EncodePublicKey;
    let der = b64(&format!("{at}.publicKey.rawBytes"), &l.raw_bytes)?;
    if !l
        .key_details
        .as_deref()
        .is_some_and(|d| d.starts_with("PKCS1_RSA_"))
    {
        return Ok(der);
    }
    let key = rsa::RsaPublicKey::from_pkcs1_der(&der).map_err(|e| {
        format!(
            "{at}.publicKey: keyDetails says PKCS#1 RSA, but rawBytes is not an RSAPublicKey: {e}"
        )
    })?;
    key.to_public_key_der()
        .map(|d| d.as_bytes().to_vec())
        .map_err(|e| format!("{at}.publicKey: {e}"))
}

fn log_key(l: &LogJson, at: &str) -> Result<LogKey, String> {
    let der = spki_der(&l.public_key, at)?;
    let log_id = b64(&format!("{at}.logId.keyId"), &l.log_id.key_id)?;
    let key =
        CosignVerificationKey::try_from_der(&der).map_err(|e| format!("{at}.publicKey: {e}"))?;
    Ok(LogKey {
        log_id,
        base_url: l.base_url.clone().unwrap_or_default(),
        key,
        valid: validity(&l.public_key.valid_for, &format!("{at}.publicKey"))?,
    })
}

fn raw_keys(logs: &[LogJson]) -> Result<BTreeMap<String, Vec<u8>>, String> {
    logs.iter()
        .map(|l| {
            Ok((
                l.log_id.key_id.clone(),
                spki_der(&l.public_key, "publicKey")?,
            ))
        })
        .collect()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Json {
    media_type: String,
    #[serde(default)]
    tlogs: Vec<LogJson>,
    #[serde(default)]
    certificate_authorities: Vec<AuthorityJson>,
    #[serde(default)]
    ctlogs: Vec<LogJson>,
    #[serde(default)]
    timestamp_authorities: Vec<AuthorityJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogJson {
    base_url: Option<String>,
    public_key: PublicKeyJson,
    log_id: LogIdJson,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyJson {
    raw_bytes: String,
    key_details: Option<String>,
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
struct ValidForJson {
    start: String,
    end: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthorityJson {
    subject: Option<SubjectJson>,
    cert_chain: ChainJson,
    valid_for: Option<ValidForJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubjectJson {
    common_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChainJson {
    certificates: Vec<RawBytesJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytesJson {
    raw_bytes: String,
}
