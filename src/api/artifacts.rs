//! `GET /v1/artifacts/{subject}` (role `auditor` or `admin`): what the log knows about an
//! artifact (an image or file digest `sha256:…`, or a package URL `pkg:…`) — every entry
//! indexed under it (SBOMs, attestations, manufacturing events naming it in
//! `software_refs`), each with an inclusion proof against one signed checkpoint.

use super::auth::Caller;
use super::entries::entry_json;
use super::error::ApiError;
use super::events::hashes_b64;
use super::log::READERS;
use super::AppState;
use crate::entry;
use crate::merkle::{self, TileSet};
use crate::store::EntryQuery;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use threadlog_client::wire;

const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;

pub fn router() -> Router<AppState> {
    // A wildcard, so package URLs need not escape their slashes.
    Router::new().route("/v1/artifacts/{*subject}", get(artifact))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    kind: Option<String>,
    after: Option<crate::merkle::LeafIndex>,
    limit: Option<u32>,
}

async fn artifact(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject): Path<String>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Json<wire::ArtifactEntries>, ApiError> {
    caller.require(READERS)?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let subject =
        entry::parse_subject(&subject).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    if let Some(k) = &p.kind {
        k.parse::<entry::Kind>()
            .map_err(|_| ApiError::BadRequest(format!("kind: unknown kind {k:?}")))?;
    }
    let limit = p.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    // One checkpoint for the whole answer: entries beyond it are left for the next call.
    let cp = state
        .reads
        .latest_checkpoint()
        .await?
        .ok_or_else(|| ApiError::Unavailable("the log has no checkpoint".into()))?;
    let rows = state
        .reads
        .entries(&EntryQuery {
            kind: p.kind,
            subject: Some(subject.clone()),
            after: p.after.map(u64::from),
            below: Some(cp.tree_size),
            limit,
            ..EntryQuery::default()
        })
        .await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|e| e.index))
        .flatten();
    let mut entries = Vec::with_capacity(rows.len());
    for e in &rows {
        let ids = merkle::needed_tiles_for_inclusion(e.index, cp.tree_size)?;
        let mut tiles = TileSet::new();
        state
            .tiles
            .load(state.reads.as_ref(), &ids, &mut tiles)
            .await?;
        let proof = merkle::inclusion_proof(&tiles, e.index, cp.tree_size)?;
        entries.push(wire::ProvedEntry {
            entry: entry_json(e)?,
            inclusion_proof: wire::ReceiptProof {
                tree_size: cp.tree_size,
                hashes: hashes_b64(&proof),
            },
        });
    }
    Ok(Json(wire::ArtifactEntries {
        subject,
        tree_size: cp.tree_size,
        root_hash: cp.root_hash.to_base64(),
        checkpoint: cp.note,
        entries,
        next,
    }))
}
