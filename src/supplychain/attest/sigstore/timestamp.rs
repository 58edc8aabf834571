//! RFC 3161 timestamps in bundles: a timestamp authority of the trusted root signed, at
//! `genTime`, a hash of the bundle's signature. Parses the CMS SignedData and TSTInfo and
//! checks the imprint, the signed attributes and the authority's signature. Pure.

use super::trust_root::TimestampAuthority;
use chrono::{DateTime, Utc};
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerInfo};
use der::asn1::OctetString;
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_tsp::{TimeStampResp, TstInfo};

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
const OID_ECDSA_SHA384: &str = "1.2.840.10045.4.3.3";
const OID_ECDSA_SHA512: &str = "1.2.840.10045.4.3.4";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// A timestamp that verified: when, and by which authority.
#[derive(Debug, Clone)]
pub struct Verified {
    pub time: DateTime<Utc>,
    pub authority: String,
}

fn hash(oid: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match oid {
        OID_SHA256 => Sha256::digest(data).to_vec(),
        OID_SHA384 => Sha384::digest(data).to_vec(),
        OID_SHA512 => Sha512::digest(data).to_vec(),
        o => return Err(format!("hash algorithm {o} is not supported")),
    })
}

/// The token inside: bundles carry either a whole TimeStampResp or the bare token.
fn token(der_bytes: &[u8]) -> Result<ContentInfo, String> {
    if let Ok(resp) = TimeStampResp::from_der(der_bytes) {
        return resp
            .time_stamp_token
            .ok_or_else(|| "the timestamp response carries no token".to_string());
    }
    ContentInfo::from_der(der_bytes).map_err(|e| format!("not an RFC 3161 timestamp: {e}"))
}

/// Checks one timestamp over `signature` against the trusted authorities.
pub fn verify(
    der_bytes: &[u8],
    signature: &[u8],
    authorities: &[TimestampAuthority],
) -> Result<Verified, String> {
    let ci = token(der_bytes)?;
    if ci.content_type.to_string() != OID_SIGNED_DATA {
        return Err("the timestamp token is not CMS SignedData".into());
    }
    let sd: SignedData = ci
        .content
        .decode_as()
        .map_err(|e| format!("the timestamp's SignedData is malformed: {e}"))?;
    if sd.encap_content_info.econtent_type.to_string() != OID_TST_INFO {
        return Err("the timestamp's content is not a TSTInfo".into());
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or("the timestamp carries no TSTInfo")?;
    let tst_der = econtent
        .decode_as::<OctetString>()
        .map_err(|e| format!("the TSTInfo is malformed: {e}"))?;
    let tst = TstInfo::from_der(tst_der.as_bytes())
        .map_err(|e| format!("the TSTInfo is malformed: {e}"))?;
    let imprint_alg = tst.message_imprint.hash_algorithm.oid.to_string();
    if hash(&imprint_alg, signature)? != tst.message_imprint.hashed_message.as_bytes() {
        return Err(
            "the timestamp's message imprint is not the hash of the bundle's signature".into(),
        );
    }
    let si = sd
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or("the timestamp has no signer")?;
    check_signed_attributes(si, tst_der.as_bytes())?;
    let signed = si
        .signed_attrs
        .as_ref()
        .ok_or("the timestamp has no signed attributes")?
        .to_der()
        .map_err(|e| e.to_string())?;
    let time = DateTime::<Utc>::from(tst.gen_time.to_system_time());
    for ta in authorities {
        let leaf = Certificate::from_der(&ta.chain[0])
            .map_err(|e| format!("timestamp authority {}: bad certificate: {e}", ta.name))?;
        if verify_signature(&leaf, si, &signed).is_ok() {
            if !ta.valid.contains(time) {
                return Err(format!(
                    "the timestamp {time} is outside the validity of timestamp authority {}",
                    ta.name
                ));
            }
            let v = &leaf.tbs_certificate.validity;
            let (nb, na) = (
                DateTime::<Utc>::from(v.not_before.to_system_time()),
                DateTime::<Utc>::from(v.not_after.to_system_time()),
            );
            if time < nb || time > na {
                return Err(format!(
                    "the timestamp {time} is outside the authority certificate's validity"
                ));
            }
            return Ok(Verified {
                time,
                authority: ta.name.clone(),
            });
        }
    }
    Err("the timestamp is not signed by a timestamp authority of the trusted root".into())
}

fn check_signed_attributes(si: &SignerInfo, tst_der: &[u8]) -> Result<(), String> {
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or("the timestamp has no signed attributes")?;
    let value = |oid: &str| {
        attrs
            .iter()
            .find(|a| a.oid.to_string() == oid)
            .and_then(|a| a.values.iter().next())
    };
    let ct = value(OID_CONTENT_TYPE).ok_or("the timestamp has no content-type attribute")?;
    let ct: der::asn1::ObjectIdentifier = ct.decode_as().map_err(|e| e.to_string())?;
    if ct.to_string() != OID_TST_INFO {
        return Err("the timestamp's content-type attribute is not TSTInfo".into());
    }
    let md = value(OID_MESSAGE_DIGEST).ok_or("the timestamp has no message-digest attribute")?;
    let md: OctetString = md.decode_as().map_err(|e| e.to_string())?;
    if hash(&si.digest_alg.oid.to_string(), tst_der)? != md.as_bytes() {
        return Err("the timestamp's message-digest attribute does not match its TSTInfo".into());
    }
    Ok(())
}

fn verify_signature(leaf: &Certificate, si: &SignerInfo, signed: &[u8]) -> Result<(), String> {
    let spki = &leaf.tbs_certificate.subject_public_key_info;
    if spki.algorithm.oid.to_string() != OID_EC_PUBLIC_KEY {
        return Err("only ECDSA timestamp authorities are supported".into());
    }
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .and_then(|p| p.decode_as::<der::asn1::ObjectIdentifier>().ok())
        .map(|o| o.to_string())
        .unwrap_or_default();
    let digest = match si.signature_algorithm.oid.to_string().as_str() {
        OID_ECDSA_SHA256 => Sha256::digest(signed).to_vec(),
        OID_ECDSA_SHA384 => Sha384::digest(signed).to_vec(),
        OID_ECDSA_SHA512 => Sha512::digest(signed).to_vec(),
        o => return Err(format!("signature algorithm {o} is not supported")),
    };
    let point = spki.subject_public_key.raw_bytes();
    let sig = si.signature.as_bytes();
    use p256::ecdsa::signature::hazmat::PrehashVerifier;
    match curve.as_str() {
        OID_P256 => {
            let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|e| e.to_string())?;
            let s = p256::ecdsa::Signature::from_der(sig).map_err(|e| e.to_string())?;
            k.verify_prehash(&digest, &s).map_err(|e| e.to_string())
        }
        OID_P384 => {
            let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|e| e.to_string())?;
            let s = p384::ecdsa::Signature::from_der(sig).map_err(|e| e.to_string())?;
            k.verify_prehash(&digest, &s).map_err(|e| e.to_string())
        }
        c => Err(format!("curve {c} is not supported")),
    }
}
