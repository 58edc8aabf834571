//! The log's identity and its signed checkpoints (role `auditor` or `admin`).

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::AppState;
use crate::merkle::TreeSize;
use crate::store::StoredCheckpoint;
use axum::extract::{rejection::PathRejection, Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use threadlog_client::wire;

pub const READERS: &[Role] = &[Role::Auditor, Role::Admin];

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/log", get(log_info))
        .route("/v1/checkpoint", get(latest))
        .route("/v1/checkpoints/{tree_size}", get(by_size))
}

async fn log_info(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(READERS)?;
    let cp = latest_checkpoint(&state).await?;
    Ok(Json(wire::LogInfo {
        origin: state.origin.clone(),
        verifier_key: state.verifier_key.to_string(),
        tree_size: cp.tree_size,
        root_hash: cp.root_hash.to_base64(),
    }))
}

async fn latest_checkpoint(state: &AppState) -> Result<StoredCheckpoint, ApiError> {
    // Start-up signs the size-0 checkpoint, so its absence means the store is unusable.
    state
        .reads
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::Unavailable("the log has no checkpoint yet".into()))
}

fn note_response(note: String) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], note)
}

async fn latest(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(READERS)?;
    let cp = latest_checkpoint(&state).await?;
    Ok(note_response(cp.note))
}

async fn by_size(
    State(state): State<AppState>,
    caller: Caller,
    size: Result<Path<String>, PathRejection>,
) -> Result<impl IntoResponse, ApiError> {
    caller.require(READERS)?;
    let Path(size) = size.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let size: TreeSize = size.parse()?;
    let cp = state.reads.checkpoint(size.get()).await?.ok_or_else(|| {
        ApiError::NotFound(format!("no checkpoint was issued at tree size {size}"))
    })?;
    Ok(note_response(cp.note))
}
