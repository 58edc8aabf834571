//! The idempotency keys of the kinds prepared outside the core (control results, SBOMs,
//! attestations): how a submission is found again, and how a stored leaf's key is derived.
//! Part of the leaf format, so an import or an auditor derives the same keys as the
//! sequencer that wrote them.

use super::{document_ref, EntryError};
use serde_json::Value;

/// A control result is keyed by its `result_id`.
pub fn control_key(result_id: &str) -> String {
    format!("control:{result_id}")
}

/// An SBOM is keyed by its subject and the document's digest (hex).
pub fn sbom_key(subject: &str, document_sha256: &str) -> String {
    format!("sbom:{subject}:{document_sha256}")
}

/// An attestation is keyed by its document's digest (hex).
pub fn attestation_key(document_sha256: &str) -> String {
    format!("attestation:{document_sha256}")
}

/// The idempotency key of a stored `sbom` body.
pub(super) fn sbom_key_of(body: Option<&Value>) -> Result<String, EntryError> {
    let subject = body
        .and_then(|b| b.get("subject"))
        .and_then(Value::as_str)
        .ok_or_else(|| EntryError::BadLeaf("an sbom without subject".into()))?;
    let doc = document_ref(body)?
        .ok_or_else(|| EntryError::BadLeaf("an sbom without document".into()))?;
    Ok(sbom_key(subject, &hex::encode(doc.sha256)))
}

/// The idempotency key and content digest of a stored `attestation` body.
pub(super) fn attestation_key_of(body: Option<&Value>) -> Result<(String, [u8; 32]), EntryError> {
    let doc = document_ref(body)?
        .ok_or_else(|| EntryError::BadLeaf("an attestation without document".into()))?;
    Ok((attestation_key(&hex::encode(doc.sha256)), doc.sha256))
}
