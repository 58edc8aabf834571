//! Inclusion and consistency proofs (role `auditor` or `admin`). The tree size a proof
//! leads to must have a signed checkpoint, so every proof ends at a signature an auditor
//! can check; the smaller size of a consistency proof may be any size.

use super::auth::Caller;
use super::error::ApiError;
use super::events::hashes_b64;
use super::log::READERS;
use super::AppState;
use crate::merkle::{self, LeafIndex, TileId, TileSet, TreeSize};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use threadlog_client::wire;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/proofs/inclusion", get(inclusion))
        .route("/v1/proofs/consistency", get(consistency))
}

async fn require_checkpoint(state: &AppState, size: u64) -> Result<(), ApiError> {
    if size == 0 {
        return Ok(());
    }
    state
        .reads
        .checkpoint(size)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::NotFound(format!("no checkpoint was issued at tree size {size}")))
}

async fn load(state: &AppState, ids: &[TileId]) -> Result<TileSet, ApiError> {
    let mut set = TileSet::new();
    state
        .tiles
        .load(state.reads.as_ref(), ids, &mut set)
        .await?;
    Ok(set)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InclusionParams {
    index: LeafIndex,
    tree_size: TreeSize,
}

async fn inclusion(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<InclusionParams>, QueryRejection>,
) -> Result<Json<wire::InclusionProof>, ApiError> {
    caller.require(READERS)?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (index, tree_size) = (p.index.get(), p.tree_size.get());
    // The checkpoint first: no tree math runs on a size the log never reached.
    require_checkpoint(&state, tree_size).await?;
    let ids = merkle::needed_tiles_for_inclusion(index, tree_size)?;
    let tiles = load(&state, &ids).await?;
    let hashes = merkle::inclusion_proof(&tiles, index, tree_size)?;
    Ok(Json(wire::InclusionProof {
        index,
        tree_size,
        hashes: hashes_b64(&hashes),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsistencyParams {
    first: TreeSize,
    second: TreeSize,
}

async fn consistency(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<ConsistencyParams>, QueryRejection>,
) -> Result<Json<wire::ConsistencyProof>, ApiError> {
    caller.require(READERS)?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let (first, second) = (p.first.get(), p.second.get());
    // Only the larger tree must be signed: the caller brings its own root for `first`.
    require_checkpoint(&state, second).await?;
    let ids = merkle::needed_tiles_for_consistency(first, second)?;
    let tiles = load(&state, &ids).await?;
    let hashes = merkle::consistency_proof(&tiles, first, second)?;
    Ok(Json(wire::ConsistencyProof {
        first,
        second,
        hashes: hashes_b64(&hashes),
    }))
}
