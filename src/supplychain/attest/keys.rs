//! Public keys of allowed signers, read from PEM SubjectPublicKeyInfo, and the one place
//! that checks a signature with them: Ed25519, ECDSA P-256 with SHA-256 (DER or raw
//! `r||s`), RSA with SHA-256 (PSS or PKCS#1 v1.5). Pure: bytes in, verdict out.

use p256::ecdsa::signature::Verifier;
use p256::pkcs8::der::{Decode, Document};
use p256::pkcs8::spki::SubjectPublicKeyInfoRef;
use p256::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use sha2::Sha256;

const OID_ED25519: &str = "1.3.101.112";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_PRIME256V1: &str = "1.2.840.10045.3.1.7";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// Smaller RSA moduli are refused: NIST SP 800-131A disallows them for signatures.
const RSA_MIN_BITS: usize = 2048;

/// Which RSA padding a key may sign with. securesystemslib signs with PSS, cosign and
/// most PKI tooling with PKCS#1 v1.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RsaPadding {
    Pss,
    Pkcs1v15,
    Either,
}

#[derive(Clone)]
pub enum PublicKey {
    Ed25519(ed25519_dalek::VerifyingKey),
    EcdsaP256(p256::ecdsa::VerifyingKey),
    Rsa(rsa::RsaPublicKey, RsaPadding),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PublicKey::Ed25519(_) => "PublicKey::Ed25519",
            PublicKey::EcdsaP256(_) => "PublicKey::EcdsaP256",
            PublicKey::Rsa(..) => "PublicKey::Rsa",
        })
    }
}

/// The algorithm and encoding a signature verified with, as recorded in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Ed25519,
    /// ECDSA P-256 with SHA-256, the signature ASN.1 DER encoded.
    EcdsaP256Sha256Der,
    /// ECDSA P-256 with SHA-256, the signature as 64 raw bytes `r||s`.
    EcdsaP256Sha256Raw,
    RsaPssSha256,
    RsaPkcs1v15Sha256,
}

impl Algorithm {
    pub fn as_str(&self) -> &'static str {
        match self {
            Algorithm::Ed25519 => "ed25519",
            Algorithm::EcdsaP256Sha256Der => "ecdsa-p256-sha256-der",
            Algorithm::EcdsaP256Sha256Raw => "ecdsa-p256-sha256-raw",
            Algorithm::RsaPssSha256 => "rsa-pss-sha256",
            Algorithm::RsaPkcs1v15Sha256 => "rsa-pkcs1v15-sha256",
        }
    }
}

impl PublicKey {
    /// Reads a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), naming what is wrong with it.
    pub fn from_pem(pem: &str, rsa_padding: RsaPadding) -> Result<Self, String> {
        let label = p256::pkcs8::der::pem::decode_label(pem.trim().as_bytes())
            .map_err(|e| format!("not a PEM document: {e}"))?;
        if label != "PUBLIC KEY" {
            return Err(format!(
                "a PEM \"{label}\"; expected \"PUBLIC KEY\" (SubjectPublicKeyInfo), never a \
                 private key"
            ));
        }
        let (_, doc) =
            Document::from_pem(pem.trim()).map_err(|e| format!("not a PEM document: {e}"))?;
        let der = doc.as_bytes();
        let spki = SubjectPublicKeyInfoRef::from_der(der)
            .map_err(|e| format!("not a SubjectPublicKeyInfo: {e}"))?;
        let bad = |e: &dyn std::fmt::Display| format!("malformed key: {e}");
        match spki.algorithm.oid.to_string().as_str() {
            OID_ED25519 => ed25519_dalek::VerifyingKey::from_public_key_der(der)
                .map(PublicKey::Ed25519)
                .map_err(|e| bad(&e)),
            OID_EC_PUBLIC_KEY => {
                let curve = spki
                    .algorithm
                    .parameters_oid()
                    .map(|o| o.to_string())
                    .unwrap_or_default();
                if curve != OID_PRIME256V1 {
                    return Err(format!(
                        "an EC key on curve {curve}; only P-256 (prime256v1) is supported"
                    ));
                }
                p256::ecdsa::VerifyingKey::from_public_key_der(der)
                    .map(PublicKey::EcdsaP256)
                    .map_err(|e| bad(&e))
            }
            OID_RSA => {
                let key = rsa::RsaPublicKey::from_public_key_der(der).map_err(|e| bad(&e))?;
                let bits = key.n().bits();
                if bits < RSA_MIN_BITS {
                    return Err(format!(
                        "a {bits}-bit RSA key; at least {RSA_MIN_BITS} bits are required"
                    ));
                }
                Ok(PublicKey::Rsa(key, rsa_padding))
            }
            other => Err(format!(
                "key algorithm {other} is not supported; use Ed25519, ECDSA P-256 or RSA"
            )),
        }
    }

    /// The key's family, for messages and the policy's documentation.
    pub fn family(&self) -> &'static str {
        match self {
            PublicKey::Ed25519(_) => "ed25519",
            PublicKey::EcdsaP256(_) => "ecdsa-p256",
            PublicKey::Rsa(..) => "rsa",
        }
    }

    /// Checks `sig` over `message`; the algorithm (and encoding) that verified, if any.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> Option<Algorithm> {
        match self {
            PublicKey::Ed25519(k) => {
                let sig = ed25519_dalek::Signature::from_slice(sig).ok()?;
                k.verify_strict(message, &sig).ok()?;
                Some(Algorithm::Ed25519)
            }
            PublicKey::EcdsaP256(k) => {
                // DER first (what OpenSSL, Go and securesystemslib write); 64 bytes that
                // are not DER are r||s (what KMS-backed and WebCrypto signers write).
                if let Ok(s) = p256::ecdsa::Signature::from_der(sig) {
                    if k.verify(message, &s).is_ok() {
                        return Some(Algorithm::EcdsaP256Sha256Der);
                    }
                }
                if sig.len() == 64 {
                    let s = p256::ecdsa::Signature::from_slice(sig).ok()?;
                    if k.verify(message, &s).is_ok() {
                        return Some(Algorithm::EcdsaP256Sha256Raw);
                    }
                }
                None
            }
            PublicKey::Rsa(k, padding) => {
                // Each attempt costs one RSA public operation, so the likeliest go first:
                // PSS with a hash-long salt (securesystemslib), PKCS#1 v1.5 (cosign), then
                // PSS with the longest salt (Go's and OpenSSL's default). Pinning
                // `rsa_padding` in the policy skips the other padding.
                let pss = *padding != RsaPadding::Pkcs1v15;
                if pss && verify_pss(k, message, sig, PSS_HASH_SALT) {
                    return Some(Algorithm::RsaPssSha256);
                }
                if *padding != RsaPadding::Pss {
                    let vk = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(k.clone());
                    if rsa::pkcs1v15::Signature::try_from(sig)
                        .is_ok_and(|s| vk.verify(message, &s).is_ok())
                    {
                        return Some(Algorithm::RsaPkcs1v15Sha256);
                    }
                }
                let max_salt = k.size().saturating_sub(PSS_HASH_SALT + 2);
                (pss && verify_pss(k, message, sig, max_salt)).then_some(Algorithm::RsaPssSha256)
            }
        }
    }
}

impl PublicKey {
    /// Checks `sig` over a message given only by its SHA-256 (how Sigstore message
    /// signatures are made). Ed25519 signs the message itself, so it cannot verify here.
    pub fn verify_prehash(&self, sha256: &[u8; 32], sig: &[u8]) -> Option<Algorithm> {
        use p256::ecdsa::signature::hazmat::PrehashVerifier;
        match self {
            PublicKey::Ed25519(_) => None,
            PublicKey::EcdsaP256(k) => {
                if let Ok(s) = p256::ecdsa::Signature::from_der(sig) {
                    if k.verify_prehash(sha256, &s).is_ok() {
                        return Some(Algorithm::EcdsaP256Sha256Der);
                    }
                }
                let s = p256::ecdsa::Signature::from_slice(sig).ok()?;
                k.verify_prehash(sha256, &s)
                    .is_ok()
                    .then_some(Algorithm::EcdsaP256Sha256Raw)
            }
            PublicKey::Rsa(k, padding) => {
                if *padding != RsaPadding::Pss
                    && k.verify(rsa::Pkcs1v15Sign::new::<Sha256>(), sha256, sig)
                        .is_ok()
                {
                    return Some(Algorithm::RsaPkcs1v15Sha256);
                }
                let max_salt = k.size().saturating_sub(PSS_HASH_SALT + 2);
                (*padding != RsaPadding::Pkcs1v15
                    && [PSS_HASH_SALT, max_salt].iter().any(|salt| {
                        k.verify(rsa::Pss::new_with_salt::<Sha256>(*salt), sha256, sig)
                            .is_ok()
                    }))
                .then_some(Algorithm::RsaPssSha256)
            }
        }
    }

    /// The key's SubjectPublicKeyInfo DER, to compare with a key named elsewhere.
    pub fn spki_der(&self) -> Option<Vec<u8>> {
        use p256::pkcs8::EncodePublicKey;
        let doc = match self {
            PublicKey::Ed25519(k) => k.to_public_key_der().ok()?,
            PublicKey::EcdsaP256(k) => k.to_public_key_der().ok()?,
            PublicKey::Rsa(k, _) => rsa::pkcs8::EncodePublicKey::to_public_key_der(k).ok()?,
        };
        Some(doc.as_bytes().to_vec())
    }
}

/// The salt length of PSS signatures made with `PSSSaltLengthEqualsHash` (SHA-256).
const PSS_HASH_SALT: usize = 32;

/// PSS with MGF1-SHA-256 and a salt of `salt` bytes.
fn verify_pss(k: &rsa::RsaPublicKey, message: &[u8], sig: &[u8], salt: usize) -> bool {
    rsa::pss::Signature::try_from(sig).is_ok_and(|s| {
        rsa::pss::VerifyingKey::<Sha256>::new_with_salt_len(k.clone(), salt)
            .verify(message, &s)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::pkcs8::EncodePublicKey;
    use ed25519_dalek::Signer;

    #[test]
    fn ed25519_keys_round_trip_through_pem_and_verify() {
        let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let pem = sk
            .verifying_key()
            .to_public_key_pem(p256::pkcs8::LineEnding::LF)
            .unwrap();
        let k = PublicKey::from_pem(&pem, RsaPadding::Either).unwrap();
        assert_eq!(k.family(), "ed25519");
        let sig = sk.sign(b"msg").to_bytes();
        assert_eq!(k.verify(b"msg", &sig), Some(Algorithm::Ed25519));
        assert_eq!(k.verify(b"msh", &sig), None);
        assert_eq!(k.verify(b"msg", &sig[..63]), None);
    }

    #[test]
    fn ecdsa_signatures_verify_in_der_and_raw_encodings() {
        use p256::ecdsa::signature::Signer as _;
        let sk = p256::ecdsa::SigningKey::from_slice(&[9; 32]).unwrap();
        let k = PublicKey::EcdsaP256(*sk.verifying_key());
        let sig: p256::ecdsa::Signature = sk.sign(b"payload");
        assert_eq!(
            k.verify(b"payload", sig.to_der().as_bytes()),
            Some(Algorithm::EcdsaP256Sha256Der)
        );
        assert_eq!(
            k.verify(b"payload", &sig.to_bytes()),
            Some(Algorithm::EcdsaP256Sha256Raw)
        );
        assert_eq!(k.verify(b"payloaf", &sig.to_bytes()), None);
    }

    #[test]
    fn unsupported_and_private_keys_are_refused_by_name() {
        // A P-384 key (secp384r1).
        let p384 = "-----BEGIN PUBLIC KEY-----\n\
            MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEAU3ORqnRCgzDFnfLWUlRWUbhhCxhCkgt\n\
            mTJHwIdjhsff68CXMGqS75Am+t+0WVgMY/je5WqAvSQVlbo0pH22Y/Hl4pyUT5+N\n\
            nUIhw2cZR3k99EDstkjB8MoEkmgLPkwI\n\
            -----END PUBLIC KEY-----\n";
        let e = PublicKey::from_pem(p384, RsaPadding::Either).unwrap_err();
        assert!(e.contains("only P-256"), "{e}");
        let e = PublicKey::from_pem(
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
            RsaPadding::Either,
        )
        .unwrap_err();
        assert!(e.contains("never a private key"), "{e}");
        assert!(PublicKey::from_pem("hello", RsaPadding::Either).is_err());
    }
}
