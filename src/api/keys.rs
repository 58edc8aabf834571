//! `GET /v1/keys` (role `admin`): the signing key's status for operators.
//!
//! Reports what signs (kind, location, verifier key), whether it signs right now (a live
//! probe, verified with the public key), when it last signed, and the log's key history
//! (each key with the key entry that introduced it: index, time, event).
//! It must never show secret material (key bytes, PIN) and never change a key: rotation
//! goes through the log itself.

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::AppState;
use crate::ledger;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/keys", get(keys))
}

async fn keys(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(&[Role::Admin])?;
    // A live probe, not the readiness cache: an operator asking wants the answer of now.
    // It blocks on the HSM, so it runs off the executor.
    let health = state.signer.clone();
    let probe = tokio::task::spawn_blocking(move || health.live())
        .await
        .map_err(|e| ApiError::Internal(format!("signer probe did not finish: {e}")))?;
    let signer = state.signer.signer();
    let last_signature_at = signer
        .last_signature_at()
        .map(|t| crate::time::format(&chrono::DateTime::<chrono::Utc>::from(t)));
    let meta = state
        .store
        .meta()
        .await?
        .ok_or_else(|| ApiError::Unavailable("the log has no identity yet".into()))?;
    // The history is what the logged key entries record: the first key from the empty
    // checkpoint (its first signature), then each rotation's new key from the tree size
    // just past its key entry. `current` is the log's key now (the meta row), which a
    // server started before a rotation no longer holds.
    let first = state.store.checkpoint(0).await?;
    let history: Vec<_> = ledger::logged_keys(state.store.as_ref())
        .await?
        .into_iter()
        .map(|k| {
            json!({
                "key_id": key_id_of(&k.verifier_key),
                "introduced_at_tree_size": k.from_tree_size,
                "introduced_at": k
                    .integrated_at
                    .clone()
                    .or_else(|| first.as_ref().map(|c| c.created_at.clone())),
                "entry_index": k.entry_index,
                "event": k.event,
                "current": k.verifier_key == meta.verifier_key,
                "verifier_key": k.verifier_key,
            })
        })
        .collect();
    Ok(Json(json!({
        "kind": signer.kind(),
        "location": signer.location(),
        "verifier_key": signer.verifier_key().to_string(),
        "key_id": format!("{:08x}", signer.verifier_key().key_id()),
        "answering": probe.is_ok(),
        "probe_error": probe.err(),
        "last_signature_at": last_signature_at,
        "history": history,
    })))
}

/// The note key ID of a stored verifier key, hex; `null` if the stored text does not parse
/// (the server would not have started with such a row, so this is only defensive).
fn key_id_of(verifier_key: &str) -> Option<String> {
    verifier_key
        .parse::<crate::note::VerifierKey>()
        .ok()
        .map(|k| format!("{:08x}", k.key_id()))
}
