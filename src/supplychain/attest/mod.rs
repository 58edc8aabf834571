//! Attestations CI uploads, verified against the operator's trust policy before anything
//! is logged. Each document format has its verifier beside the others and yields the same
//! [`Verified`] outcome: the statement's subjects and predicate type, who signed, and which
//! checks passed: DSSE envelopes carrying in-toto Statements (`dsse`, `intoto`) and
//! Sigstore bundles (`sigstore`), told apart by the bundle's `mediaType`.
//!
//! Pure: bytes and a policy in, outcome or the one failed check out; no I/O, no clock.

pub mod dsse;
pub mod intoto;
pub mod keys;
pub mod policy;
mod policy_toml;
pub mod predicate;
pub mod sigstore;

pub use keys::{Algorithm, PublicKey};
pub use policy::{PolicyError, TrustPolicy};

use dsse::SignatureOutcome;
use intoto::Subject;

/// The checks an attestation passes, in order; a refusal names the one that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The document is a well-formed envelope of a supported format.
    Envelope,
    /// Payload and signatures are valid base64.
    Base64,
    /// Every signature naming a policy key verifies over the PAE.
    Signature,
    /// At least one signature is from an allowed signer.
    Signer,
    PayloadType,
    /// The payload is an in-toto Statement v1 or v0.1, or in-toto link metadata.
    Statement,
    /// Every subject has a digest threadlog indexes (a SHA-256 where the policy requires
    /// one), and the artifact the upload names is among them.
    Subject,
    /// The policy accepts the predicate type.
    PredicateType,
    /// The predicate satisfies the schema for its type (built in or from the policy).
    Predicate,
    /// The policy's per-subject rules hold.
    Rule,
    /// The signing certificate chains to a Fulcio CA of the trusted root and was valid
    /// when it signed.
    Certificate,
    /// The certificate's embedded SCT is signed by a CT log of the trusted root.
    Sct,
    /// The certificate's subject and OIDC issuer match an identity of the policy.
    Identity,
    /// The transparency-log entry's body states this signature, signer and artifact.
    LogEntry,
    /// The entry's log is a log of the trusted root, its key valid at the entry's time.
    Log,
    /// The log's signed entry timestamp (SET) verifies.
    SignedEntryTimestamp,
    /// The inclusion proof proves the entry under the stated root.
    InclusionProof,
    /// The log's checkpoint is signed by its key and states that root and size.
    Checkpoint,
    /// Every RFC 3161 timestamp is signed by a timestamp authority of the trusted root.
    Timestamp,
}

impl Check {
    pub fn as_str(&self) -> &'static str {
        match self {
            Check::Envelope => "envelope",
            Check::Base64 => "base64",
            Check::Signature => "signature",
            Check::Signer => "signer",
            Check::PayloadType => "payload_type",
            Check::Statement => "statement",
            Check::Subject => "subject",
            Check::PredicateType => "predicate_type",
            Check::Predicate => "predicate",
            Check::Rule => "rule",
            Check::Certificate => "certificate",
            Check::Sct => "sct",
            Check::Identity => "identity",
            Check::LogEntry => "log_entry",
            Check::Log => "log",
            Check::SignedEntryTimestamp => "signed_entry_timestamp",
            Check::InclusionProof => "inclusion_proof",
            Check::Checkpoint => "checkpoint",
            Check::Timestamp => "timestamp",
        }
    }

    /// Every check a DSSE envelope passes when accepted; `predicate` only when its
    /// predicate type has a schema.
    pub fn dsse(predicate_schema: bool) -> Vec<Check> {
        let mut checks = vec![
            Check::Envelope,
            Check::Base64,
            Check::Signature,
            Check::Signer,
            Check::PayloadType,
            Check::Statement,
            Check::Subject,
            Check::PredicateType,
        ];
        if predicate_schema {
            checks.push(Check::Predicate);
        }
        checks.push(Check::Rule);
        checks
    }
}

/// Why an attestation was refused: the failed check and the detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", check.as_str())]
pub struct AttestationError {
    pub check: Check,
    pub reason: String,
}

/// A refusal at `check`.
fn fail(check: Check, reason: impl Into<String>) -> AttestationError {
    AttestationError {
        check,
        reason: reason.into(),
    }
}

/// A signature that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSignature {
    pub keyid: String,
    pub signer_id: String,
    pub signer_name: String,
    pub algorithm: Algorithm,
}

/// What an accepted attestation says and how it was verified; the leaf records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `dsse` or `sigstore-bundle`.
    pub format: &'static str,
    /// None for a Sigstore message signature, which signs an artifact digest, not a
    /// statement.
    pub payload_type: Option<String>,
    pub statement_type: Option<String>,
    pub predicate_type: Option<String>,
    pub subjects: Vec<Subject>,
    pub signatures: Vec<VerifiedSignature>,
    /// keyids of signatures from keys the policy does not know (reported, not counted).
    pub unknown_keyids: Vec<String>,
    /// Names of the policy rules that applied to a subject, and held.
    pub rules: Vec<String>,
    pub checks: Vec<Check>,
    /// SHA-256 of the policy text it was verified under.
    pub policy_sha256: [u8; 32],
    /// The schema the predicate satisfied: its name and the SHA-256 of its text.
    pub predicate_schema: Option<(String, [u8; 32])>,
    /// For Sigstore bundles: identity, log entry, checkpoint and timestamps.
    pub sigstore: Option<sigstore::Outcome>,
}

/// 64 lowercase hex digits: how in-toto writes a SHA-256 and how the log indexes one.
fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Verifies an uploaded attestation document against `policy`, without an artifact named
/// by the uploader (see [`verify_about`]).
pub fn verify(doc: &[u8], policy: &TrustPolicy) -> Result<Verified, AttestationError> {
    verify_about(doc, policy, None)
}

/// Verifies an uploaded attestation document against `policy`. `artifact` is the SHA-256
/// the uploader says the document is about: a Sigstore message signature signs a bare
/// digest and proves nothing without the artifact it is checked against, so it requires
/// one; a statement, when one is named, must list it among its subjects.
pub fn verify_about(
    doc: &[u8],
    policy: &TrustPolicy,
    artifact: Option<&[u8; 32]>,
) -> Result<Verified, AttestationError> {
    let probe: serde_json::Value = serde_json::from_slice(doc)
        .map_err(|e| fail(Check::Envelope, format!("not well-formed JSON: {e}")))?;
    if probe
        .get("mediaType")
        .and_then(|m| m.as_str())
        .is_some_and(|m| m.starts_with("application/vnd.dev.sigstore.bundle"))
    {
        return sigstore::verify(doc, policy, artifact);
    }
    let env = dsse::verify_envelope(doc, policy)?;
    let statement = statement(&env.payload, policy, artifact)?;
    let predicate_schema = check_predicate(policy, &statement)?;
    let mut signatures = Vec::new();
    let mut unknown_keyids = Vec::new();
    for s in env.signatures {
        match s.outcome {
            SignatureOutcome::Verified {
                signer_id,
                signer_name,
                algorithm,
            } => signatures.push(VerifiedSignature {
                keyid: s.keyid,
                signer_id,
                signer_name,
                algorithm,
            }),
            SignatureOutcome::Unknown => unknown_keyids.push(s.keyid),
        }
    }
    let signer_ids: Vec<String> = signatures.iter().map(|s| s.signer_id.clone()).collect();
    let rules = check_rules(
        policy,
        &statement.subjects,
        Some(&statement.predicate_type),
        &signer_ids,
    )?;
    Ok(Verified {
        format: "dsse",
        payload_type: Some(env.payload_type),
        statement_type: Some(statement.statement_type),
        predicate_type: Some(statement.predicate_type),
        subjects: statement.subjects,
        signatures,
        unknown_keyids,
        rules,
        checks: Check::dsse(predicate_schema.is_some()),
        predicate_schema,
        policy_sha256: policy.sha256,
        sigstore: None,
    })
}

/// The policy accepts the statement's predicate type, and its predicate satisfies the
/// type's schema where there is one; returns that schema's name and digest.
fn check_predicate(
    policy: &TrustPolicy,
    statement: &intoto::Statement,
) -> Result<Option<(String, [u8; 32])>, AttestationError> {
    if !policy.accepts_predicate(&statement.predicate_type) {
        return Err(fail(
            Check::PredicateType,
            format!(
                "predicateType {:?} is not accepted by the trust policy",
                statement.predicate_type
            ),
        ));
    }
    let Some(schema) = policy.predicate_schema(&statement.predicate_type) else {
        return Ok(None);
    };
    schema.check(statement.predicate.as_ref()).map(Some)
}

/// The payload's statement (or link), its subjects checked against the policy's
/// `require_sha256` and against the artifact the upload names.
fn statement(
    payload: &[u8],
    policy: &TrustPolicy,
    artifact: Option<&[u8; 32]>,
) -> Result<intoto::Statement, AttestationError> {
    let st = intoto::parse_statement(payload).map_err(|e| AttestationError {
        check: if e.check == "subject" {
            Check::Subject
        } else {
            Check::Statement
        },
        reason: e.reason,
    })?;
    if policy.require_sha256 {
        if let Some((i, s)) = st
            .subjects
            .iter()
            .enumerate()
            .find(|(_, s)| s.sha256().is_none())
        {
            let algs: Vec<&str> = s.digests.keys().map(String::as_str).collect();
            return Err(fail(
                Check::Subject,
                format!(
                    "subject[{i}] ({}) has no sha256 digest (digests: {algs:?}), and the trust \
                     policy sets require_sha256",
                    s.label()
                ),
            ));
        }
    }
    if let Some(a) = artifact {
        let want = hex::encode(a);
        if !st
            .subjects
            .iter()
            .any(|s| s.sha256() == Some(want.as_str()))
        {
            return Err(fail(
                Check::Subject,
                format!("the upload names sha256:{want}, which is not a subject of the statement"),
            ));
        }
    }
    Ok(st)
}

/// The names of the rules that applied, or the first one that does not hold. `signers`:
/// the policy signer ids and Sigstore identity names that verified; `predicate_type`:
/// None for a bare signature, which no rule requiring a predicate accepts.
fn check_rules(
    policy: &TrustPolicy,
    subjects: &[Subject],
    predicate_type: Option<&str>,
    signers: &[String],
) -> Result<Vec<String>, AttestationError> {
    let mut applied = Vec::new();
    for rule in &policy.rules {
        let Some(subject) = subjects.iter().find(|s| rule.matches(s)) else {
            continue;
        };
        let about = subject.label();
        if let Some(types) = &rule.predicates {
            if !predicate_type.is_some_and(|t| types.iter().any(|x| x == t)) {
                return Err(fail(
                    Check::Rule,
                    format!(
                        "rule {:?} for subject {about:?} requires predicate type {types:?}, \
                         not {}",
                        rule.name,
                        predicate_type.map_or("a bare signature".into(), |t| format!("{t:?}"))
                    ),
                ));
            }
        }
        if let Some(ids) = &rule.signers {
            if !signers.iter().any(|s| ids.contains(s)) {
                return Err(fail(
                    Check::Rule,
                    format!(
                        "rule {:?} for subject {about:?} requires a signature by one of \
                         {ids:?}",
                        rule.name
                    ),
                ));
            }
        }
        applied.push(rule.name.clone());
    }
    Ok(applied)
}
