//! The transparency-log evidence of a bundle, checked against the log key of the trusted
//! root: the signed entry timestamp (SET), the inclusion proof (with threadlog's own
//! RFC 9162 `merkle` code) and the signed checkpoint it ends in. The sigstore crate's
//! bundle verifier leaves all three unchecked. Pure.

use super::bundle::{LogEntry, Proof};
use super::trust_root::LogKey;
use crate::merkle::{leaf_hash, verify_inclusion, Hash};
use crate::note::Checkpoint;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sigstore::crypto::Signature;

/// The SET: the log's signature over the canonical JSON of body, time, log id and index.
pub fn verify_set(entry: &LogEntry, set: &[u8], log: &LogKey) -> Result<(), String> {
    let payload = serde_json::json!({
        "body": STANDARD.encode(&entry.body),
        "integratedTime": entry.integrated_time,
        "logID": hex::encode(&entry.log_id),
        "logIndex": entry.log_index,
    });
    let bytes = serde_json_canonicalizer::to_vec(&payload).map_err(|e| e.to_string())?;
    log.key
        .verify_signature(Signature::Raw(set), &bytes)
        .map_err(|_| {
            "the signed entry timestamp does not verify with the log's key over this entry \
             (body, integrated time, log id and index)"
                .to_string()
        })
}

/// The entry's body is the leaf at `proof.log_index` of the tree with `proof.root_hash`.
pub fn verify_proof(body: &[u8], proof: &Proof) -> Result<(), String> {
    let hashes: Vec<Hash> = proof.hashes.iter().map(|h| Hash(*h)).collect();
    verify_inclusion(
        &hashes,
        proof.log_index,
        proof.tree_size,
        &leaf_hash(body),
        &Hash(proof.root_hash),
    )
    .map_err(|e| {
        format!(
            "the inclusion proof does not prove the entry at index {} of a tree of {} \
             leaves with the stated root: {e}",
            proof.log_index, proof.tree_size
        )
    })
}

/// Verifies a Rekor checkpoint: a signed note whose body is a tlog checkpoint (origin,
/// size, base64 root, extension lines). The signature line's key hint is the first 4
/// bytes of the log id (SHA-256 of the key), and its name need not be the origin, so the
/// signature lines are matched by hint here; the body is read by threadlog's `note`.
pub fn verify_checkpoint(note: &str, proof: &Proof, log: &LogKey) -> Result<Checkpoint, String> {
    let split = note
        .find("\n\n")
        .ok_or("the checkpoint is not a signed note (no blank line before signatures)")?;
    let (text, sigs) = (&note[..split + 1], &note[split + 2..]);
    let cp = Checkpoint::parse_body(text)
        .map_err(|e| format!("the checkpoint's body is not a tlog checkpoint: {e}"))?;
    let hint = log
        .log_id
        .get(..4)
        .ok_or("the log id is shorter than 4 bytes")?;
    let signed = sigs.lines().any(|line| {
        let Some(rest) = line.strip_prefix("\u{2014} ") else {
            return false;
        };
        let Some(sig) = rest
            .rsplit_once(' ')
            .and_then(|(_, b)| STANDARD.decode(b).ok())
        else {
            return false;
        };
        sig.len() > 4
            && &sig[..4] == hint
            && log
                .key
                .verify_signature(Signature::Raw(&sig[4..]), text.as_bytes())
                .is_ok()
    });
    if !signed {
        return Err("the checkpoint is not signed by the log's key".into());
    }
    if cp.tree_size != proof.tree_size || cp.root_hash != proof.root_hash {
        return Err(format!(
            "the checkpoint (size {}) does not state the inclusion proof's tree (size {}) \
             and root",
            cp.tree_size, proof.tree_size
        ));
    }
    Ok(cp)
}

/// The same inclusion and checkpoint check by the sigstore crate, which must agree with
/// ours: a second, independent implementation of the tree math.
pub fn crate_agrees(body: &[u8], proof: &Proof, note: &str, log: &LogKey) -> bool {
    let Ok(checkpoint) = serde_json::from_value(serde_json::Value::String(note.to_string())) else {
        return false;
    };
    sigstore::rekor::models::InclusionProof::new(
        proof.log_index as i64,
        proof.root_hash,
        proof.tree_size,
        proof.hashes.clone(),
        Some(checkpoint),
    )
    .verify(body, &log.key)
    .is_ok()
}
