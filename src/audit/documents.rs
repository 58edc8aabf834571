//! The documents leaves bind (an SBOM's `body.document`): each must be held by the log,
//! with exactly the SHA-256 and size its leaf states. A log that lost or altered an
//! acknowledged document fails verification at the first entry binding it.

use super::source::{Source, SourceError};
use super::verify::Failure;
use crate::entry;
use sha2::{Digest, Sha256};
use std::collections::HashSet;

/// Checks the document `leaf` binds, if it binds one not checked yet; `None` when all is
/// well. Only `sbom` and `attestation` leaves are parsed.
pub(super) async fn check(
    source: &dyn Source,
    index: u64,
    leaf: &[u8],
    seen: &mut HashSet<[u8; 32]>,
) -> Result<Option<Failure>, SourceError> {
    // Canonical leaves spell their kind exactly so; anything else binds no document.
    let binds = |k: &[u8]| leaf.windows(k.len()).any(|w| w == k);
    if !binds(br#""kind":"sbom""#) && !binds(br#""kind":"attestation""#) {
        return Ok(None);
    }
    let fail = |reason: String| {
        Ok(Some(Failure {
            index: Some(index),
            checkpoint: None,
            tile: None,
            reason,
        }))
    };
    let doc = match entry::parse_leaf(leaf).and_then(|env| entry::document_ref(env.body.as_ref())) {
        Ok(Some(doc)) => doc,
        Ok(None) => return Ok(None),
        Err(e) => return fail(format!("entry {index}: {e}")),
    };
    if !seen.insert(doc.sha256) {
        return Ok(None);
    }
    let name = hex::encode(doc.sha256);
    match source.blob(&doc.sha256).await? {
        None => fail(format!(
            "entry {index} binds document sha256:{name}, which the log does not hold"
        )),
        Some(bytes) => {
            let actual: [u8; 32] = Sha256::digest(&bytes).into();
            if actual != doc.sha256 || bytes.len() as u64 != doc.size {
                fail(format!(
                    "entry {index} binds document sha256:{name} ({} bytes), but the log holds \
                     {} bytes hashing to sha256:{}",
                    doc.size,
                    bytes.len(),
                    hex::encode(actual)
                ))
            } else {
                Ok(None)
            }
        }
    }
}
