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
mod evidence;
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
    evidence::required_evidence(&b)?;
    let (statement, subjects) = signed_content(&b, policy, artifact)?;
    let signer = check_signer(doc, &b, root, policy, artifact, statement.as_ref())?;
    let mut checks = vec![Check::Envelope, Check::Base64];
    checks.extend(&signer.checks);
    let log = evidence::check_log(&b, root)?;
    checks.extend(log.checks);
    if let Some(der) = &signer.certificate {
        evidence::check_signing_time(root, der, &log.times)?;
    }
    let predicate_schema = check_statement(policy, statement.as_ref(), &mut checks)?;
    let rules = check_rules(policy, statement.as_ref(), &subjects, &signer, &mut checks)?;
    let e = &b.entry;
    Ok(Verified {
        format: "sigstore-bundle",
        payload_type: match &b.content {
            Content::Dsse { payload_type, .. } => Some(payload_type.clone()),
            Content::Message { .. } => None,
        },
        statement_type: statement.as_ref().map(|s| s.statement_type.clone()),
        predicate_type: statement.as_ref().map(|s| s.predicate_type.clone()),
        subjects,
        signatures: signer.signatures,
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
            identity: signer.identity,
            certificate_sha256: signer.certificate.map(|d| Sha256::digest(d).into()),
            log_id: e.log_id.clone(),
            log_url: log.log.base_url.clone(),
            log_index: e.log_index,
            integrated_time: e.integrated_time,
            checkpoint: log.checkpoint,
            timestamps: log.timestamps,
            trusted_root_sha256: root.sha256,
        }),
    })
}

/// What was signed: a statement about subjects (DSSE), or the named artifact's digest
/// (message signature); returns the statement, if any, and the signed subjects.
fn signed_content(
    b: &Bundle,
    policy: &TrustPolicy,
    artifact: Option<&[u8; 32]>,
) -> Result<(Option<Statement>, Vec<Subject>), AttestationError> {
    match &b.content {
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
            Ok((Some(st), subjects))
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
            Ok((None, vec![Subject::sha256_only(hex::encode(named))]))
        }
    }
}

/// What the policy says about the statement's predicate, if there is a statement;
/// returns the schema it satisfied.
fn check_statement(
    policy: &TrustPolicy,
    statement: Option<&Statement>,
    checks: &mut Vec<Check>,
) -> Result<Option<(String, [u8; 32])>, AttestationError> {
    checks.push(Check::Subject);
    let mut predicate_schema = None;
    if let Some(st) = statement {
        checks.push(Check::Statement);
        predicate_schema = super::check_predicate(policy, st)?;
        checks.push(Check::PredicateType);
        if predicate_schema.is_some() {
            checks.push(Check::Predicate);
        }
    }
    Ok(predicate_schema)
}

/// The policy's subject rules, given who signed: its signers by id, its certificate
/// identities by name; returns the names of the rules that applied.
fn check_rules(
    policy: &TrustPolicy,
    statement: Option<&Statement>,
    subjects: &[Subject],
    signer: &Signer,
    checks: &mut Vec<Check>,
) -> Result<Vec<String>, AttestationError> {
    let mut signer_ids: Vec<String> = signer
        .signatures
        .iter()
        .map(|s| s.signer_id.clone())
        .collect();
    signer_ids.extend(signer.identity.iter().map(|m| m.policy_name.clone()));
    let rules = super::check_rules(
        policy,
        subjects,
        statement.map(|s| s.predicate_type.as_str()),
        &signer_ids,
    )?;
    checks.push(Check::Rule);
    Ok(rules)
}

/// Who signed: a certificate the sigstore crate verified, or a policy signer's key.
struct Signer {
    /// The checks passed, in order.
    checks: Vec<Check>,
    /// The policy signer, for a public-key bundle.
    signatures: Vec<VerifiedSignature>,
    /// The policy identity the certificate matched, for a certificate bundle.
    identity: Option<identity::Matched>,
    /// The signing certificate's DER, for a certificate bundle.
    certificate: Option<Vec<u8>>,
}

/// Checks who signed, by the bundle's verification material: certificate or public key.
fn check_signer(
    doc: &[u8],
    b: &Bundle,
    root: &TrustedRoot,
    policy: &TrustPolicy,
    artifact: Option<&[u8; 32]>,
    statement: Option<&Statement>,
) -> Result<Signer, AttestationError> {
    match &b.material {
        Material::Certificate(der) => {
            let identity = certificate_identity(doc, b.version, root, policy, artifact, statement)?;
            Ok(Signer {
                checks: vec![
                    Check::Certificate,
                    Check::Sct,
                    Check::Identity,
                    Check::Signature,
                    Check::LogEntry,
                ],
                signatures: Vec::new(),
                identity,
                certificate: Some(der.clone()),
            })
        }
        Material::PublicKey(hint) => key_signer(b, hint, policy),
    }
}

/// Has the sigstore crate verify the certificate bundle (chain, SCT, identity policy,
/// signature, log-entry body); returns the policy identity it matched.
fn certificate_identity(
    doc: &[u8],
    version: Version,
    root: &TrustedRoot,
    policy: &TrustPolicy,
    artifact: Option<&[u8; 32]>,
    statement: Option<&Statement>,
) -> Result<Option<identity::Matched>, AttestationError> {
    let crate_bundle: sigstore::bundle::Bundle = serde_json::from_slice(doc)
        .map_err(|e| fail(Check::Envelope, format!("not a Sigstore bundle: {e}")))?;
    let mut crate_bundle = crate_bundle;
    // The crate knows v0.3 by one of its two media types only.
    if version == Version::V03 {
        crate_bundle.media_type = Version::V03_MEDIA_TYPE.to_string();
    }
    let policy_hook = identity::IdentityPolicy::new(&policy.sigstore.identities);
    root.verifier
        .verify_digest_with(
            crate_digest(artifact, statement)?,
            crate_bundle,
            &policy_hook,
            true,
        )
        .now_or_never()
        .ok_or_else(|| fail(Check::Envelope, "verification did not complete offline"))?
        .map_err(crate_error)?;
    Ok(policy_hook.matched())
}

/// A public-key bundle: the policy signer whose key verifies the signature, which the
/// log entry's body must state.
fn key_signer(b: &Bundle, hint: &str, policy: &TrustPolicy) -> Result<Signer, AttestationError> {
    let (signer, algorithm) = publickey::find_signer(b, hint, policy).ok_or_else(|| {
        fail(
            Check::Signer,
            "the bundle's signature verifies with no signer key of the trust policy",
        )
    })?;
    if !publickey::body_matches(b, &signer.key) {
        return Err(fail(
            Check::LogEntry,
            "the log entry's body does not state this signature, key and artifact",
        ));
    }
    Ok(Signer {
        checks: vec![Check::Signature, Check::Signer, Check::LogEntry],
        signatures: vec![VerifiedSignature {
            keyid: hint.to_string(),
            signer_id: signer.id.clone(),
            signer_name: signer.name.clone(),
            algorithm,
        }],
        identity: None,
        certificate: None,
    })
}
