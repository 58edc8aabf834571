//! The log evidence of a bundle and the times it establishes: which evidence a bundle
//! must carry, the log entry's key, signed entry timestamp, inclusion proof and checkpoint,
//! the RFC 3161 timestamps, and that those times fall inside the signing certificate's
//! validity and its CA's `validFor`.

use super::super::{fail, AttestationError, Check};
use super::bundle::{Bundle, LogEntry, Proof, Version};
use super::trust_root::{LogKey, TrustedRoot, Validity};
use super::{timestamp, tlog};
use chrono::{DateTime, Utc};

/// The log evidence a bundle of its version must carry, required before anything is
/// verified so that a missing piece is refused by its own name: an entry kind threadlog
/// verifies, for a v0.1 bundle the signed entry timestamp, for later versions an
/// inclusion proof with the log's checkpoint.
pub(super) fn required_evidence(b: &Bundle) -> Result<(), AttestationError> {
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

/// What the log's evidence and the timestamps established.
pub(super) struct LogEvidence<'r> {
    /// The trusted root's log that holds the entry.
    pub log: &'r LogKey,
    /// The checks passed, in order.
    pub checks: Vec<Check>,
    /// Verified times of signing: the entry's integrated time (with a SET) and each
    /// timestamp's.
    pub times: Vec<DateTime<Utc>>,
    /// Origin and size of the checkpoint the inclusion proof ends in.
    pub checkpoint: Option<(String, u64)>,
    pub timestamps: Vec<(DateTime<Utc>, String)>,
}

/// Checks the entry's log, its signed entry timestamp, inclusion proof and checkpoint,
/// and the bundle's RFC 3161 timestamps, in that order.
pub(super) fn check_log<'r>(
    b: &Bundle,
    root: &'r TrustedRoot,
) -> Result<LogEvidence<'r>, AttestationError> {
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
    let mut checks = vec![Check::Log];
    let mut times = Vec::new();
    if let Some(set) = &e.set {
        tlog::verify_set(e, set, log).map_err(|r| fail(Check::SignedEntryTimestamp, r))?;
        checks.push(Check::SignedEntryTimestamp);
        times.push(integrated);
    }
    let mut checkpoint = None;
    if let Some(p) = &e.proof {
        checkpoint = check_proof(e, p, log, &mut checks)?;
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
    Ok(LogEvidence {
        log,
        checks,
        times,
        checkpoint,
        timestamps,
    })
}

/// The inclusion proof and, where it carries one, its checkpoint, which the sigstore
/// crate's own inclusion check must agree with; returns the checkpoint's origin and size.
fn check_proof(
    e: &LogEntry,
    p: &Proof,
    log: &LogKey,
    checks: &mut Vec<Check>,
) -> Result<Option<(String, u64)>, AttestationError> {
    tlog::verify_proof(&e.body, p).map_err(|r| fail(Check::InclusionProof, r))?;
    checks.push(Check::InclusionProof);
    let Some(note) = &p.checkpoint else {
        return Ok(None);
    };
    let cp = tlog::verify_checkpoint(note, p, log).map_err(|r| fail(Check::Checkpoint, r))?;
    if !tlog::crate_agrees(&e.body, p, note, log) {
        return Err(fail(
            Check::Checkpoint,
            "the sigstore crate's inclusion check disagrees with threadlog's",
        ));
    }
    checks.push(Check::Checkpoint);
    Ok(Some((cp.origin, cp.tree_size)))
}

/// A short-lived certificate proves nothing outside its validity: a trusted time (SET or
/// timestamp) must place the signature inside it, and inside its CA's `validFor`.
pub(super) fn check_signing_time(
    root: &TrustedRoot,
    der: &[u8],
    times: &[DateTime<Utc>],
) -> Result<(), AttestationError> {
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
    Ok(())
}
