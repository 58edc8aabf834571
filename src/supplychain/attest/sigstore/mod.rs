//! Sigstore bundles (v0.1, v0.2, v0.3), as `cosign sign`, `cosign attest` and
//! `cosign sign-blob` write them, verified offline against the policy's trusted root.
//!
//! Certificate bundles go through the sigstore crate (chain to a Fulcio CA at signing
//! time, embedded SCT, identity policy, signature, log-entry body); public-key bundles,
//! which the crate refuses, through the policy's signers (`publickey`). What the crate
//! leaves unchecked is checked here for both: the SET, the inclusion proof and its signed
//! checkpoint (`tlog`, with threadlog's own Merkle code, cross-checked by the crate's), RFC
//! 3161 timestamps (`timestamp`), and that the signing time they establish lies inside the
//! certificate's validity and its CA's `validFor`. Rekor v2 entries are refused as not yet
//! supported. Pure: bytes, policy and trusted root in; no I/O, no clock.

pub mod bundle;
pub mod identity;
pub mod publickey;
pub mod timestamp;
pub mod tlog;
pub mod trust_root;

use super::intoto::{Statement, Subject};
use super::policy::TrustPolicy;
use super::{fail, AttestationError, Check, Verified, VerifiedSignature};
use bundle::{Bundle, Content, Material, Version};
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use sha2::{Digest, Sha256};
use sigstore::bundle::verify::{
    ArtifactDigest, BundleErrorKind, CertificateErrorKind, SignatureErrorKind, VerificationError,
};
pub use trust_root::TrustedRoot;
use trust_root::Validity;

/// What the log entry and timestamps established, recorded in threadlog's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub bundle_version: &'static str,
    /// `message_signature` or `dsse`.
    pub content: &'static str,
    /// For certificate bundles: the policy identity, the certificate's subject and issuer.
    pub identity: Option<identity::Matched>,
    pub certificate_sha256: Option<[u8; 32]>,
    pub log_id: Vec<u8>,
    pub log_url: String,
    pub log_index: u64,
    pub integrated_time: i64,
    /// Size and origin of the log checkpoint the inclusion proof ends in.
    pub checkpoint: Option<(String, u64)>,
    pub timestamps: Vec<(DateTime<Utc>, String)>,
    pub trusted_root_sha256: [u8; 32],
}

/// The full reason, with the crate's error sources, which carry the detail.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

fn crate_error(e: VerificationError) -> AttestationError {
    let reason = chain(&e);
    let check = match &e {
        VerificationError::Bundle(BundleErrorKind::CertificatesMissing)
        | VerificationError::Bundle(BundleErrorKind::NoLeaf(_))
        | VerificationError::Bundle(BundleErrorKind::RootInChain)
        | VerificationError::Bundle(BundleErrorKind::CertificateMalformed(_)) => Check::Certificate,
        VerificationError::Bundle(_) | VerificationError::Input(_) => Check::Envelope,
        VerificationError::Certificate(CertificateErrorKind::Sct(_)) => Check::Sct,
        VerificationError::Certificate(_) => Check::Certificate,
        VerificationError::Policy(_) => Check::Identity,
        VerificationError::Signature(SignatureErrorKind::Transparency) => Check::LogEntry,
        VerificationError::Signature(SignatureErrorKind::SubjectDigestMismatch) => Check::Subject,
        VerificationError::Signature(_) => Check::Signature,
    };
    fail(check, reason)
}

/// The log evidence a bundle of its version must carry, required before anything is
/// verified so that a missing piece is refused by its own name: an entry kind threadlog
/// verifies, for a v0.1 bundle the signed entry timestamp, for later versions an
/// inclusion proof with the log's checkpoint.
fn required_evidence(b: &Bundle) -> Result<(), AttestationError> {
    let e = &b.entry;
    // Rekor v2 (entries of version 0.0.2) logs bodies of another shape, carries no signed
    // entry timestamp and signs checkpoints differently; neither the sigstore crate (0.15)
    // nor threadlog verifies those yet, so say so rather than fail on some detail.
    if !matches!(
        (e.kind.as_str(), e.kind_version.as_str()),
        ("hashedrekord" | "dsse", "0.0.1")
    ) {
        return Err(fail(
            Check::LogEntry,
            format!(
                "log entries of kind {} version {} are not supported: threadlog verifies \
                 hashedrekord and dsse 0.0.1 entries (Rekor v1); Rekor v2 entries are not \
                 verified yet",
                e.kind, e.kind_version
            ),
        ));
    }
    if b.version == Version::V01 {
        if e.set.is_none() {
            return Err(fail(
                Check::SignedEntryTimestamp,
                "a v0.1 bundle must carry the log's signed entry timestamp (inclusionPromise)",
            ));
        }
        return Ok(());
    }
    match &e.proof {
        None => Err(fail(
            Check::InclusionProof,
            "a v0.2 or v0.3 bundle must carry an inclusion proof",
        )),
        Some(p) if p.checkpoint.is_none() => Err(fail(
            Check::Checkpoint,
            "a v0.2 or v0.3 bundle's inclusion proof must carry the log's checkpoint",
        )),
        Some(_) => Ok(()),
    }
}

/// What the time checks need of the signing certificate: its validity and issuer.
struct LeafCert {
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    /// The issuer's distinguished name, DER.
    issuer: Vec<u8>,
}

fn parse_cert(der: &[u8]) -> Result<x509_cert_03::Certificate, String> {
    use x509_cert_03::der::Decode;
    x509_cert_03::Certificate::from_der(der).map_err(|e| format!("malformed certificate: {e}"))
}

fn leaf_cert(der: &[u8]) -> Result<LeafCert, AttestationError> {
    use x509_cert_03::der::Encode;
    let c = parse_cert(der).map_err(|e| fail(Check::Certificate, e))?;
    let v = c.tbs_certificate().validity();
    let t = |d: std::time::Duration| {
        DateTime::<Utc>::from_timestamp(d.as_secs() as i64, 0).unwrap_or_default()
    };
    Ok(LeafCert {
        not_before: t(v.not_before.to_unix_duration()),
        not_after: t(v.not_after.to_unix_duration()),
        issuer: c
            .tbs_certificate()
            .issuer()
            .to_der()
            .map_err(|e| fail(Check::Certificate, format!("malformed issuer: {e}")))?,
    })
}

/// The validity (`validFor`) of the trusted root's certificate authority whose chain holds
/// the certificate named `issuer`.
fn issuing_ca(root: &TrustedRoot, issuer: &[u8]) -> Option<Validity> {
    use x509_cert_03::der::Encode;
    root.certificate_authorities
        .iter()
        .find(|(chain, _)| {
            chain.iter().any(|der| {
                parse_cert(der).is_ok_and(|c| {
                    c.tbs_certificate()
                        .subject()
                        .to_der()
                        .is_ok_and(|s| s == issuer)
                })
            })
        })
        .map(|(_, valid)| *valid)
}

/// The digest the sigstore crate checks the signature (message) or a statement subject
/// (DSSE) against: the named artifact, else the first subject's SHA-256 or SHA-512, the
/// two it can compare.
fn crate_digest(
    artifact: Option<&[u8; 32]>,
    statement: Option<&Statement>,
) -> Result<ArtifactDigest, AttestationError> {
    if let Some(a) = artifact {
        return Ok(ArtifactDigest::Sha256(*a));
    }
    let subjects = statement.map_or(&[][..], |s| &s.subjects[..]);
    for s in subjects {
        if let Some(d) = s.sha256().and_then(|h| hex::decode(h).ok()) {
            if let Ok(d) = d.try_into() {
                return Ok(ArtifactDigest::Sha256(d));
            }
        }
        if let Some(d) = s.digests.get("sha512").and_then(|h| hex::decode(h).ok()) {
            if let Ok(d) = d.try_into() {
                return Ok(ArtifactDigest::Sha512(d));
            }
        }
    }
    Err(fail(
        Check::Subject,
        "a certificate-signed bundle's statement needs a subject with a sha256 or sha512 \
         digest for its signature to be checked",
    ))
}

/// Verifies a Sigstore bundle against `policy` and its trusted root. `artifact`: the
/// SHA-256 the upload names, required for a message signature (which signs that digest
/// and nothing else) and, for a statement, one of its subjects.
pub fn verify(
    doc: &[u8],
    policy: &TrustPolicy,
    artifact: Option<&[u8; 32]>,
) -> Result<Verified, AttestationError> {
    let root = policy.sigstore.root.as_deref().ok_or_else(|| {
        fail(
            Check::Envelope,
            "this server's trust policy names no Sigstore trusted root ([sigstore] \
             trusted_root), so it cannot verify Sigstore bundles",
        )
    })?;
    let b = Bundle::parse(doc)?;
    required_evidence(&b)?;

    // What was signed: a statement about subjects, or an artifact digest.
    let (statement, signed) = match &b.content {
        Content::Dsse {
            payload_type,
            payload,
            ..
        } => {
            if payload_type != super::dsse::INTOTO_PAYLOAD_TYPE {
                return Err(fail(
                    Check::PayloadType,
                    format!(
                        "payloadType {payload_type:?}; expected {:?}",
                        super::dsse::INTOTO_PAYLOAD_TYPE
                    ),
                ));
            }
            let st = super::statement(payload, policy, artifact)?;
            let subjects = st.subjects.clone();
            (Some(st), subjects)
        }
        Content::Message { sha256, .. } => {
            let named = artifact.ok_or_else(|| {
                fail(
                    Check::Subject,
                    "a message-signature bundle signs a bare artifact digest: name the artifact \
                     it signs with ?subject=sha256:<hex>",
                )
            })?;
            if named != sha256 {
                return Err(fail(
                    Check::Subject,
                    format!(
                        "the bundle signs sha256:{}, not the named artifact sha256:{}",
                        hex::encode(sha256),
                        hex::encode(named)
                    ),
                ));
            }
            (None, vec![Subject::sha256_only(hex::encode(named))])
        }
    };

    // Who signed.
    let mut checks = vec![Check::Envelope, Check::Base64];
    let mut signatures = Vec::new();
    let (identity, certificate) = match &b.material {
        Material::Certificate(der) => {
            let crate_bundle: sigstore::bundle::Bundle = serde_json::from_slice(doc)
                .map_err(|e| fail(Check::Envelope, format!("not a Sigstore bundle: {e}")))?;
            let mut crate_bundle = crate_bundle;
            // The crate knows v0.3 by one of its two media types only.
            if b.version == Version::V03 {
                crate_bundle.media_type = Version::V03_MEDIA_TYPE.to_string();
            }
            let policy_hook = identity::IdentityPolicy::new(&policy.sigstore.identities);
            root.verifier
                .verify_digest_with(
                    crate_digest(artifact, statement.as_ref())?,
                    crate_bundle,
                    &policy_hook,
                    true,
                )
                .now_or_never()
                .ok_or_else(|| fail(Check::Envelope, "verification did not complete offline"))?
                .map_err(crate_error)?;
            checks.extend([
                Check::Certificate,
                Check::Sct,
                Check::Identity,
                Check::Signature,
                Check::LogEntry,
            ]);
            (policy_hook.matched(), Some(der.clone()))
        }
        Material::PublicKey(hint) => {
            let (signer, algorithm) =
                publickey::find_signer(&b, hint, policy).ok_or_else(|| {
                    fail(
                        Check::Signer,
                        "the bundle's signature verifies with no signer key of the trust policy",
                    )
                })?;
            if !publickey::body_matches(&b, &signer.key) {
                return Err(fail(
                    Check::LogEntry,
                    "the log entry's body does not state this signature, key and artifact",
                ));
            }
            signatures.push(VerifiedSignature {
                keyid: hint.clone(),
                signer_id: signer.id.clone(),
                signer_name: signer.name.clone(),
                algorithm,
            });
            checks.extend([Check::Signature, Check::Signer, Check::LogEntry]);
            (None, None)
        }
    };

    // The log's evidence.
    let e = &b.entry;
    let log = root.tlog(&e.log_id).ok_or_else(|| {
        fail(
            Check::Log,
            format!(
                "the entry's log id {} is not a log of the trusted root",
                hex::encode(&e.log_id)
            ),
        )
    })?;
    let integrated = DateTime::<Utc>::from_timestamp(e.integrated_time, 0).unwrap_or_default();
    if !log.valid.contains(integrated) {
        return Err(fail(
            Check::Log,
            format!("the log's key is not valid at the entry's time {integrated}"),
        ));
    }
    checks.push(Check::Log);
    let mut times = Vec::new();
    if let Some(set) = &e.set {
        tlog::verify_set(e, set, log).map_err(|r| fail(Check::SignedEntryTimestamp, r))?;
        checks.push(Check::SignedEntryTimestamp);
        times.push(integrated);
    }
    let mut checkpoint = None;
    if let Some(p) = &e.proof {
        tlog::verify_proof(&e.body, p).map_err(|r| fail(Check::InclusionProof, r))?;
        checks.push(Check::InclusionProof);
        if let Some(note) = &p.checkpoint {
            let cp =
                tlog::verify_checkpoint(note, p, log).map_err(|r| fail(Check::Checkpoint, r))?;
            if !tlog::crate_agrees(&e.body, p, note, log) {
                return Err(fail(
                    Check::Checkpoint,
                    "the sigstore crate's inclusion check disagrees with threadlog's",
                ));
            }
            checks.push(Check::Checkpoint);
            checkpoint = Some((cp.origin, cp.tree_size));
        }
    }
    let mut timestamps = Vec::new();
    for t in &b.timestamps {
        let v = timestamp::verify(t, b.content.signature(), &root.timestamp_authorities)
            .map_err(|r| fail(Check::Timestamp, r))?;
        times.push(v.time);
        timestamps.push((v.time, v.authority));
    }
    if !timestamps.is_empty() {
        checks.push(Check::Timestamp);
    }

    // A short-lived certificate proves nothing outside its validity: a trusted time (SET
    // or timestamp) must place the signature inside it.
    if let Some(der) = &certificate {
        let LeafCert {
            not_before,
            not_after,
            issuer,
        } = leaf_cert(der)?;
        if times.is_empty() {
            return Err(fail(
                Check::Timestamp,
                "no verified time (signed entry timestamp or RFC 3161 timestamp) shows when \
                 the short-lived certificate signed",
            ));
        }
        if let Some(t) = times.iter().find(|t| **t < not_before || **t > not_after) {
            return Err(fail(
                Check::Certificate,
                format!(
                    "the signature was made at {t}, outside the certificate's validity \
                     {not_before} to {not_after}"
                ),
            ));
        }
        // The CA's validFor bounds when it may issue: a retired CA (or one whose key is
        // known compromised from some date) vouches for nothing signed afterwards.
        let ca = issuing_ca(root, &issuer).ok_or_else(|| {
            fail(
                Check::Certificate,
                "no certificate authority of the trusted root issued the certificate",
            )
        })?;
        if let Some(t) = times.iter().find(|t| !ca.contains(**t)) {
            return Err(fail(
                Check::Certificate,
                format!(
                    "the signature was made at {t}, outside the validFor of the certificate \
                     authority that issued the certificate ({} to {})",
                    ca.start,
                    ca.end.map_or("no end".into(), |e| e.to_string())
                ),
            ));
        }
    }

    // What the policy says about the statement.
    let subjects = signed;
    checks.push(Check::Subject);
    let mut predicate_schema = None;
    if let Some(st) = &statement {
        checks.push(Check::Statement);
        predicate_schema = super::check_predicate(policy, st)?;
        checks.push(Check::PredicateType);
        if predicate_schema.is_some() {
            checks.push(Check::Predicate);
        }
    }
    let mut signer_ids: Vec<String> = signatures.iter().map(|s| s.signer_id.clone()).collect();
    signer_ids.extend(identity.iter().map(|m| m.policy_name.clone()));
    let rules = super::check_rules(
        policy,
        &subjects,
        statement
            .as_ref()
            .map(|s: &Statement| s.predicate_type.as_str()),
        &signer_ids,
    )?;
    checks.push(Check::Rule);

    Ok(Verified {
        format: "sigstore-bundle",
        payload_type: match &b.content {
            Content::Dsse { payload_type, .. } => Some(payload_type.clone()),
            Content::Message { .. } => None,
        },
        statement_type: statement.as_ref().map(|s| s.statement_type.clone()),
        predicate_type: statement.as_ref().map(|s| s.predicate_type.clone()),
        subjects,
        signatures,
        unknown_keyids: Vec::new(),
        rules,
        checks,
        predicate_schema,
        policy_sha256: policy.sha256,
        sigstore: Some(Outcome {
            bundle_version: b.version.as_str(),
            content: match b.content {
                Content::Dsse { .. } => "dsse",
                Content::Message { .. } => "message_signature",
            },
            identity,
            certificate_sha256: certificate.map(|d| Sha256::digest(d).into()),
            log_id: e.log_id.clone(),
            log_url: log.base_url.clone(),
            log_index: e.log_index,
            integrated_time: e.integrated_time,
            checkpoint,
            timestamps,
            trusted_root_sha256: root.sha256,
        }),
    })
}
