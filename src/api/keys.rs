//! `GET /v1/keys` (role `admin`): the signing key's status for operators.
//!
//! Reports what signs (kind, location, verifier key), whether it signs right now (a live
//! probe, verified with the public key), when it last signed, and the log's key history.
//! It must never show secret material (key bytes, PIN) and never change a key: rotation
//! goes through the log itself.

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::AppState;
use crate::sequencer::format_time;
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
        .map(|t| format_time(&chrono::DateTime::<chrono::Utc>::from(t)));
    let meta = state
        .store
        .meta()
        .await?
        .ok_or_else(|| ApiError::Unavailable("the log has no identity yet".into()))?;
    // The meta row records the key the log began with; the empty checkpoint was its
    // first signature. Rotations will extend this list from the logged `key` entries.
    let first = state.store.checkpoint(0).await?;
    let history = vec![json!({
        "verifier_key": meta.verifier_key,
        "key_id": key_id_of(&meta.verifier_key),
        "introduced_at_tree_size": 0,
        "introduced_at": first.map(|c| c.created_at),
        "current": meta.verifier_key == signer.verifier_key().to_string(),
    })];
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
