//! The Sigstore bundle document (protobuf-JSON, media types v0.1, v0.2 and v0.3) as far as
//! threadlog reads it, decoded into bytes. Owns the shape checks of the `envelope` and
//! `base64` stages; verifies nothing.

use super::super::{fail, AttestationError, Check};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::Deserialize;

/// The bundle format versions, by media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V01,
    V02,
    V03,
}

impl Version {
    /// The v0.3 media type as the specification writes it (and as threadlog stores a v0.3
    /// bundle); `application/vnd.dev.sigstore.bundle+json;version=0.3` is accepted beside it.
    pub const V03_MEDIA_TYPE: &'static str = "application/vnd.dev.sigstore.bundle.v0.3+json";

    pub fn from_media_type(m: &str) -> Option<Self> {
        match m {
            "application/vnd.dev.sigstore.bundle+json;version=0.1" => Some(Version::V01),
            "application/vnd.dev.sigstore.bundle+json;version=0.2" => Some(Version::V02),
            "application/vnd.dev.sigstore.bundle+json;version=0.3" | Self::V03_MEDIA_TYPE => {
                Some(Version::V03)
            }
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Version::V01 => "0.1",
            Version::V02 => "0.2",
            Version::V03 => "0.3",
        }
    }
}

/// How the signer is named: a Fulcio certificate, or a key the policy must know.
#[derive(Debug, Clone)]
pub enum Material {
    /// DER of the signing (leaf) certificate.
    Certificate(Vec<u8>),
    /// The bundle's key hint (may be empty).
    PublicKey(String),
}

#[derive(Debug, Clone)]
pub enum Content {
    /// A signature over the SHA-256 of an artifact (cosign `sign-blob`, legacy image
    /// signatures).
    Message {
        sha256: [u8; 32],
        signature: Vec<u8>,
    },
    /// A DSSE envelope with exactly one signature.
    Dsse {
        payload_type: String,
        payload: Vec<u8>,
        keyid: String,
        signature: Vec<u8>,
    },
}

impl Content {
    pub fn signature(&self) -> &[u8] {
        match self {
            Content::Message { signature, .. } | Content::Dsse { signature, .. } => signature,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Proof {
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    pub hashes: Vec<[u8; 32]>,
    pub checkpoint: Option<String>,
}

/// The bundle's one transparency-log entry.
#[derive(Debug, Clone)]
pub struct LogEntry {
    pub log_index: u64,
    pub log_id: Vec<u8>,
    pub kind: String,
    pub kind_version: String,
    pub integrated_time: i64,
    pub body: Vec<u8>,
    pub set: Option<Vec<u8>>,
    pub proof: Option<Proof>,
}

#[derive(Debug, Clone)]
pub struct Bundle {
    pub version: Version,
    pub material: Material,
    pub content: Content,
    pub entry: LogEntry,
    /// DER `TimeStampToken`s (CMS ContentInfo).
    pub timestamps: Vec<Vec<u8>>,
}

fn b64(field: &str, s: &str) -> Result<Vec<u8>, AttestationError> {
    STANDARD
        .decode(s)
        .map_err(|e| fail(Check::Base64, format!("{field} is not base64: {e}")))
}

fn hash32(field: &str, s: &str) -> Result<[u8; 32], AttestationError> {
    b64(field, s)?
        .try_into()
        .map_err(|_| fail(Check::Envelope, format!("{field} is not a 32-byte hash")))
}

/// protobuf-JSON writes int64 as a string; some producers write a number.
fn int(field: &str, v: &Option<serde_json::Value>) -> Result<i64, AttestationError> {
    let parsed = match v {
        Some(serde_json::Value::String(s)) => s.parse::<i64>().ok(),
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        None => Some(0),
        _ => None,
    };
    parsed.ok_or_else(|| fail(Check::Envelope, format!("{field} is not an integer")))
}

fn uint(field: &str, v: &Option<serde_json::Value>) -> Result<u64, AttestationError> {
    u64::try_from(int(field, v)?).map_err(|_| fail(Check::Envelope, format!("{field} is negative")))
}

impl Bundle {
    /// Reads a bundle, naming the first field that is missing, malformed or unsupported.
    pub fn parse(doc: &[u8]) -> Result<Bundle, AttestationError> {
        let j: Json = serde_json::from_slice(doc)
            .map_err(|e| fail(Check::Envelope, format!("not a Sigstore bundle: {e}")))?;
        let version = Version::from_media_type(&j.media_type).ok_or_else(|| {
            fail(
                Check::Envelope,
                format!(
                    "bundle media type {:?} is not supported; expected a Sigstore bundle \
                     v0.1, v0.2 or v0.3",
                    j.media_type
                ),
            )
        })?;
        let m = j
            .verification_material
            .ok_or_else(|| fail(Check::Envelope, "the bundle has no verificationMaterial"))?;
        let material = m.material()?;
        let content = match (j.message_signature, j.dsse_envelope) {
            (Some(ms), None) => ms.content()?,
            (None, Some(env)) => env.content()?,
            _ => {
                return Err(fail(
                    Check::Envelope,
                    "the bundle needs exactly one of messageSignature and dsseEnvelope",
                ))
            }
        };
        let entry = log_entry(m.tlog_entries)?;
        let timestamps = m
            .timestamp_verification_data
            .map(|t| t.rfc3161_timestamps)
            .unwrap_or_default()
            .iter()
            .map(|t| b64("rfc3161Timestamps[].signedTimestamp", &t.signed_timestamp))
            .collect::<Result<_, _>>()?;
        Ok(Bundle {
            version,
            material,
            content,
            entry,
            timestamps,
        })
    }
}

impl MaterialJson {
    /// The signer's certificate or key hint, of which the bundle must name exactly one.
    fn material(&self) -> Result<Material, AttestationError> {
        match (
            &self.certificate,
            &self.x509_certificate_chain,
            &self.public_key,
        ) {
            (Some(c), None, None) => Ok(Material::Certificate(b64("certificate", &c.raw_bytes)?)),
            (None, Some(chain), None) => {
                let leaf = chain.certificates.first().ok_or_else(|| {
                    fail(Check::Envelope, "x509CertificateChain has no certificate")
                })?;
                Ok(Material::Certificate(b64(
                    "x509CertificateChain",
                    &leaf.raw_bytes,
                )?))
            }
            (None, None, Some(k)) => Ok(Material::PublicKey(k.hint.clone().unwrap_or_default())),
            _ => Err(fail(
                Check::Envelope,
                "verificationMaterial needs exactly one of certificate, \
                 x509CertificateChain and publicKey",
            )),
        }
    }
}

impl MessageJson {
    /// A signature over an artifact's SHA-256, the one digest threadlog names artifacts by.
    fn content(self) -> Result<Content, AttestationError> {
        let d = self
            .message_digest
            .ok_or_else(|| fail(Check::Envelope, "messageSignature has no messageDigest"))?;
        if d.algorithm != "SHA2_256" {
            return Err(fail(
                Check::Envelope,
                format!(
                    "messageDigest algorithm {:?} is not supported; expected SHA2_256",
                    d.algorithm
                ),
            ));
        }
        Ok(Content::Message {
            sha256: hash32("messageDigest.digest", &d.digest)?,
            signature: b64("messageSignature.signature", &self.signature)?,
        })
    }
}

impl EnvelopeJson {
    /// A DSSE envelope, which a bundle carries with exactly one signature.
    fn content(self) -> Result<Content, AttestationError> {
        if self.signatures.len() != 1 {
            return Err(fail(
                Check::Envelope,
                format!(
                    "a bundle's DSSE envelope carries exactly one signature, not {}",
                    self.signatures.len()
                ),
            ));
        }
        let s = &self.signatures[0];
        Ok(Content::Dsse {
            payload: b64("dsseEnvelope.payload", &self.payload)?,
            keyid: s.keyid.clone().unwrap_or_default(),
            signature: b64("dsseEnvelope.signatures[0].sig", &s.sig)?,
            payload_type: self.payload_type,
        })
    }
}

/// The bundle's one transparency-log entry, decoded.
fn log_entry(entries: Vec<EntryJson>) -> Result<LogEntry, AttestationError> {
    if entries.len() != 1 {
        return Err(fail(
            Check::Envelope,
            format!(
                "the bundle needs exactly one transparency-log entry, not {}",
                entries.len()
            ),
        ));
    }
    let t = entries.into_iter().next().expect("one entry");
    let kv = t
        .kind_version
        .ok_or_else(|| fail(Check::Envelope, "tlogEntries[0] has no kindVersion"))?;
    let proof = t.inclusion_proof.map(ProofJson::proof).transpose()?;
    Ok(LogEntry {
        log_index: uint("tlogEntries[0].logIndex", &t.log_index)?,
        log_id: b64(
            "tlogEntries[0].logId.keyId",
            &t.log_id
                .ok_or_else(|| fail(Check::Envelope, "tlogEntries[0] has no logId"))?
                .key_id,
        )?,
        kind: kv.kind,
        kind_version: kv.version,
        integrated_time: int("tlogEntries[0].integratedTime", &t.integrated_time)?,
        body: b64("tlogEntries[0].canonicalizedBody", &t.canonicalized_body)?,
        set: t
            .inclusion_promise
            .map(|p| {
                b64(
                    "inclusionPromise.signedEntryTimestamp",
                    &p.signed_entry_timestamp,
                )
            })
            .transpose()?,
        proof,
    })
}

impl ProofJson {
    fn proof(self) -> Result<Proof, AttestationError> {
        Ok(Proof {
            log_index: uint("inclusionProof.logIndex", &self.log_index)?,
            tree_size: uint("inclusionProof.treeSize", &self.tree_size)?,
            root_hash: hash32("inclusionProof.rootHash", &self.root_hash)?,
            hashes: self
                .hashes
                .iter()
                .map(|h| hash32("inclusionProof.hashes[]", h))
                .collect::<Result<_, _>>()?,
            checkpoint: self.checkpoint.map(|c| c.envelope),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Json {
    media_type: String,
    verification_material: Option<MaterialJson>,
    message_signature: Option<MessageJson>,
    dsse_envelope: Option<EnvelopeJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MaterialJson {
    certificate: Option<RawBytes>,
    x509_certificate_chain: Option<ChainJson>,
    public_key: Option<HintJson>,
    #[serde(default)]
    tlog_entries: Vec<EntryJson>,
    timestamp_verification_data: Option<TimestampsJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawBytes {
    raw_bytes: String,
}

#[derive(Deserialize)]
struct ChainJson {
    certificates: Vec<RawBytes>,
}

#[derive(Deserialize)]
struct HintJson {
    hint: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TimestampsJson {
    #[serde(default)]
    rfc3161_timestamps: Vec<SignedTimestampJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedTimestampJson {
    signed_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryJson {
    log_index: Option<serde_json::Value>,
    log_id: Option<LogIdJson>,
    kind_version: Option<KindVersionJson>,
    integrated_time: Option<serde_json::Value>,
    inclusion_promise: Option<PromiseJson>,
    inclusion_proof: Option<ProofJson>,
    canonicalized_body: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LogIdJson {
    key_id: String,
}

#[derive(Deserialize)]
struct KindVersionJson {
    kind: String,
    version: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromiseJson {
    signed_entry_timestamp: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProofJson {
    log_index: Option<serde_json::Value>,
    root_hash: String,
    tree_size: Option<serde_json::Value>,
    #[serde(default)]
    hashes: Vec<String>,
    checkpoint: Option<CheckpointJson>,
}

#[derive(Deserialize)]
struct CheckpointJson {
    envelope: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageJson {
    message_digest: Option<DigestJson>,
    signature: String,
}

#[derive(Deserialize)]
struct DigestJson {
    algorithm: String,
    digest: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeJson {
    payload: String,
    payload_type: String,
    #[serde(default)]
    signatures: Vec<DsseSignatureJson>,
}

#[derive(Deserialize)]
struct DsseSignatureJson {
    sig: String,
    keyid: Option<String>,
}
