//! The verification procedure itself; see the module doc of `audit`.

use super::rebuild::run;
use super::source::{Source, SourceError};
use super::{KeyChain, KeyEpoch};
use crate::merkle::{self, Hash};
use crate::note::{self, Checkpoint, VerifierKey};
use serde::{Deserialize, Serialize};

/// The checkpoint an auditor saw on its previous run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Previous {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Failure {
    /// The first entry found bad, when one could be named.
    pub index: Option<u64>,
    /// The checkpoint (tree size) that failed, when the failure is about one.
    pub checkpoint: Option<u64>,
    /// The stored tile (`level/index`) that disagrees, when the source keeps tiles.
    pub tile: Option<String>,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub entries_checked: u64,
    pub checkpoints_checked: u64,
    pub tiles_checked: u64,
    /// Documents (SBOMs) bound by leaves, each found with the digest its leaf states.
    pub documents_checked: u64,
    pub consistent_with_previous: Option<u64>,
    /// The keys followed from the pinned one, oldest first; the last signs today.
    pub keys: Vec<KeyEpoch>,
    pub failure: Option<Failure>,
}

pub(super) fn fail(
    index: Option<u64>,
    checkpoint: Option<u64>,
    tile: Option<String>,
    reason: impl Into<String>,
) -> Failure {
    Failure {
        index,
        checkpoint,
        tile,
        reason: reason.into(),
    }
}

/// Verifies the whole log `source` serves against `key`, and its consistency with
/// `previous` if given. `Err` means the source could not be read; a log that fails
/// verification is an `Ok` report with `ok: false`.
pub async fn verify(
    source: &dyn Source,
    key: &VerifierKey,
    previous: Option<&Previous>,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<Report, SourceError> {
    let origin = key.name().to_string();
    let mut report = unverified(origin.clone());
    let latest_note = source.latest_checkpoint().await?;
    // Which keys may sign the latest checkpoint is known only after reading the key
    // entries below it: its body gives the size to read up to now, and its signatures
    // are checked against the whole key history when the rebuild reaches that size.
    let latest = match latest_checkpoint(&latest_note, &origin) {
        Ok(cp) => cp,
        Err(f) => {
            report.failure = Some(f);
            return Ok(report);
        }
    };
    let size = latest.tree_size;
    let root = Hash(latest.root_hash);
    report.tree_size = size;
    report.root_hash = root.to_base64();

    let previous_root = match previous_root(previous, &origin, size) {
        Ok(p) => p,
        Err(f) => {
            report.failure = Some(f);
            return Ok(report);
        }
    };

    let mut chain = KeyChain::new(key.clone());
    let outcome = run(
        source,
        &mut chain,
        &latest_note,
        size,
        root,
        previous_root,
        &mut report,
        progress,
    )
    .await?;
    report.keys = chain.history().to_vec();
    match outcome {
        Some(f) => report.failure = Some(f),
        None => match previous_root {
            Some((psize, proot)) if !server_agrees(source, psize, &proot, size, &root).await? => {
                report.failure = Some(fail(
                    None,
                    Some(size),
                    None,
                    format!("the server's consistency proof {psize} → {size} does not verify"),
                ));
            }
            _ => {
                report.consistent_with_previous = previous_root.map(|(psize, _)| psize);
                report.ok = true;
            }
        },
    }
    Ok(report)
}

/// A report on `origin` before anything is verified.
fn unverified(origin: String) -> Report {
    Report {
        ok: false,
        origin,
        tree_size: 0,
        root_hash: String::new(),
        entries_checked: 0,
        checkpoints_checked: 0,
        tiles_checked: 0,
        documents_checked: 0,
        consistent_with_previous: None,
        keys: Vec::new(),
        failure: None,
    }
}

/// Whether the server's own consistency proof from the previous run's tree verifies;
/// the rebuild already matched the old root, and the server's proof must agree.
async fn server_agrees(
    source: &dyn Source,
    psize: u64,
    proot: &Hash,
    size: u64,
    root: &Hash,
) -> Result<bool, SourceError> {
    let proof = source.consistency_proof(psize, size).await?;
    Ok(merkle::verify_consistency(&proof, psize, proot, size, root).is_ok())
}

/// The latest checkpoint's body, which must be of the key's log.
fn latest_checkpoint(latest_note: &str, origin: &str) -> Result<Checkpoint, Failure> {
    match note::peek_checkpoint(latest_note) {
        Ok(cp) if cp.origin == origin => Ok(cp),
        Ok(cp) => Err(fail(
            None,
            None,
            None,
            format!(
                "latest checkpoint: origin {:?} is not the key's log {origin:?}",
                cp.origin
            ),
        )),
        Err(e) => Err(fail(None, None, None, format!("latest checkpoint: {e}"))),
    }
}

/// The previous run's size and root, which must be of the same log and no larger than
/// the latest checkpoint (else the log was rolled back).
fn previous_root(
    previous: Option<&Previous>,
    origin: &str,
    size: u64,
) -> Result<Option<(u64, Hash)>, Failure> {
    match previous {
        Some(p) if p.origin != origin => Err(fail(
            None,
            None,
            None,
            format!(
                "the previous run audited origin {:?}, not {origin:?}",
                p.origin
            ),
        )),
        Some(p) if p.tree_size > size => Err(fail(
            None,
            Some(size),
            None,
            format!(
                "rollback: the log is at tree size {size}, but the previous run saw {}",
                p.tree_size
            ),
        )),
        Some(p) => match Hash::from_base64(&p.root_hash) {
            Ok(h) => Ok(Some((p.tree_size, h))),
            Err(_) => Err(fail(
                None,
                None,
                None,
                "the state file's root hash is not base64 of 32 bytes",
            )),
        },
        None => Ok(None),
    }
}
