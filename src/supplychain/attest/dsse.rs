//! DSSE envelopes (<https://github.com/secure-systems-lab/dsse/blob/master/protocol.md>):
//! decoding, the pre-authentication encoding (PAE) and checking each signature against the
//! trust policy's keys. Pure: bytes and policy in, verified signatures or the failed check
//! out.

use super::keys::Algorithm;
use super::policy::{AllowedSigner, TrustPolicy};
use super::{fail, AttestationError, Check};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde::Deserialize;

/// The payload type of in-toto Statements.
pub const INTOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// More signatures than any real envelope carries; each one without keyid costs a
/// verification per policy key, so the count is bounded before any is checked.
pub const MAX_SIGNATURES: usize = 16;

/// DSSE allows standard or URL-safe base64, with or without padding.
const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn b64(s: &str) -> Option<Vec<u8>> {
    STANDARD.decode(s).or_else(|_| URL_SAFE.decode(s)).ok()
}

/// `PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, LEN being the
/// byte length in ASCII decimal without leading zeros.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload_type.len() + payload.len() + 32);
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(payload_type.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload_type.as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

#[derive(Deserialize)]
struct RawEnvelope {
    payload: Option<String>,
    #[serde(rename = "payloadType")]
    payload_type: Option<String>,
    signatures: Option<Vec<RawSignature>>,
}

#[derive(Deserialize)]
struct RawSignature {
    #[serde(default)]
    keyid: Option<String>,
    sig: Option<String>,
}

/// What became of one signature of the envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureOutcome {
    /// Verified with the policy signer `signer_id` (named `signer_name`).
    Verified {
        signer_id: String,
        signer_name: String,
        algorithm: Algorithm,
    },
    /// Its keyid names no policy signer (or, without keyid, no policy key verifies it):
    /// not counted, not fatal.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub keyid: String,
    pub outcome: SignatureOutcome,
}

/// A DSSE envelope whose signatures were checked: the payload is authentic.
#[derive(Debug, Clone)]
pub struct VerifiedEnvelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<SignatureReport>,
}

/// Decodes an envelope and checks every signature. A signature whose keyid names a policy
/// signer must verify with that key; one without keyid is tried with every key. At least
/// one signature must verify. The payload type is checked after the signatures, so a
/// refusal for it is about an authentic envelope.
pub fn verify_envelope(
    doc: &[u8],
    policy: &TrustPolicy,
) -> Result<VerifiedEnvelope, AttestationError> {
    let (payload_type, payload_b64, raw_sigs) = decode(doc)?;
    let payload = b64(&payload_b64).ok_or_else(|| fail(Check::Base64, "payload is not base64"))?;
    let message = pae(&payload_type, &payload);
    let mut signatures = Vec::with_capacity(raw_sigs.len());
    for (i, s) in raw_sigs.into_iter().enumerate() {
        signatures.push(check_signature(i, s, &message, policy)?);
    }
    if !signatures
        .iter()
        .any(|s| matches!(s.outcome, SignatureOutcome::Verified { .. }))
    {
        let keyids: Vec<&str> = signatures.iter().map(|s| s.keyid.as_str()).collect();
        return Err(fail(
            Check::Signer,
            format!("no signature is from a signer the trust policy allows (keyids {keyids:?})"),
        ));
    }
    if payload_type != INTOTO_PAYLOAD_TYPE {
        return Err(fail(
            Check::PayloadType,
            format!("payloadType {payload_type:?}; expected {INTOTO_PAYLOAD_TYPE}"),
        ));
    }
    Ok(VerifiedEnvelope {
        payload_type,
        payload,
        signatures,
    })
}

/// The envelope's payload type, base64 payload and signatures, each required, and the
/// signature count bounded before any is decoded.
fn decode(doc: &[u8]) -> Result<(String, String, Vec<RawSignature>), AttestationError> {
    let raw: RawEnvelope = serde_json::from_slice(doc).map_err(|e| {
        fail(
            Check::Envelope,
            format!("not a DSSE envelope (JSON with payload, payloadType, signatures): {e}"),
        )
    })?;
    let payload_b64 = raw
        .payload
        .ok_or_else(|| fail(Check::Envelope, "payload is missing"))?;
    let payload_type = raw
        .payload_type
        .ok_or_else(|| fail(Check::Envelope, "payloadType is missing"))?;
    let raw_sigs = raw
        .signatures
        .filter(|s| !s.is_empty())
        .ok_or_else(|| fail(Check::Envelope, "the envelope has no signatures"))?;
    if raw_sigs.len() > MAX_SIGNATURES {
        return Err(fail(
            Check::Envelope,
            format!(
                "{} signatures; at most {MAX_SIGNATURES} are accepted",
                raw_sigs.len()
            ),
        ));
    }
    Ok((payload_type, payload_b64, raw_sigs))
}

/// Checks signature `i` over the PAE `message`: one whose keyid names a policy signer must
/// verify with that key; one without keyid counts if any policy key verifies it.
fn check_signature(
    i: usize,
    s: RawSignature,
    message: &[u8],
    policy: &TrustPolicy,
) -> Result<SignatureReport, AttestationError> {
    let keyid = s.keyid.unwrap_or_default();
    let sig = s
        .sig
        .as_deref()
        .ok_or_else(|| fail(Check::Envelope, format!("signatures[{i}].sig is missing")))?;
    let sig = b64(sig)
        .ok_or_else(|| fail(Check::Base64, format!("signatures[{i}].sig is not base64")))?;
    let outcome = if keyid.is_empty() {
        policy
            .signers
            .iter()
            .find_map(|k| k.key.verify(message, &sig).map(|a| verified_by(k, a)))
            .unwrap_or(SignatureOutcome::Unknown)
    } else if let Some(k) = policy.signers.iter().find(|k| k.id == keyid) {
        let algorithm = k.key.verify(message, &sig).ok_or_else(|| {
            fail(
                Check::Signature,
                format!(
                    "signatures[{i}] (keyid {keyid:?}, {}) does not verify over the \
                     DSSE PAE of payloadType and payload: the payload or the \
                     signature was altered, or another key signed",
                    k.key.family()
                ),
            )
        })?;
        verified_by(k, algorithm)
    } else {
        SignatureOutcome::Unknown
    };
    Ok(SignatureReport { keyid, outcome })
}

fn verified_by(k: &AllowedSigner, algorithm: Algorithm) -> SignatureOutcome {
    SignatureOutcome::Verified {
        signer_id: k.id.clone(),
        signer_name: k.name.clone(),
        algorithm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_v1_encoding() {
        // The example from the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
        assert_eq!(pae("", b""), b"DSSEv1 0  0 ".to_vec());
    }

    #[test]
    fn base64_may_be_standard_or_url_safe_padded_or_not() {
        for s in ["+/8=", "+/8", "-_8=", "-_8"] {
            assert_eq!(b64(s).unwrap(), vec![0xfb, 0xff], "{s}");
        }
        assert!(b64("a b").is_none());
    }
}
