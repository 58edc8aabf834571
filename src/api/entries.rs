//! Reading entries: one by index with its exact leaf bytes, or pages filtered by kind,
//! subject and integration time (role `auditor` or `admin`).

use super::auth::Caller;
use super::error::ApiError;
use super::log::READERS;
use super::AppState;
use crate::entry;
use crate::merkle::{leaf_hash, LeafIndex};
use crate::store::{EntryQuery, StoredEntry};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use threadlog_client::wire;

const MAX_PAGE: u32 = 1000;
const DEFAULT_PAGE: u32 = 100;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/entries/{index}", get(one))
        .route("/v1/entries", get(page))
}

pub fn entry_json(e: &StoredEntry) -> Result<wire::Entry, ApiError> {
    let parsed = entry::parse_leaf(&e.leaf)?;
    Ok(wire::Entry {
        index: e.index,
        kind: e.kind.clone(),
        leaf_hash: leaf_hash(&e.leaf).to_base64(),
        leaf: base64::engine::general_purpose::STANDARD.encode(&e.leaf),
        entry: serde_json::to_value(parsed).map_err(|e| ApiError::Internal(e.to_string()))?,
    })
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    index: Result<Path<String>, PathRejection>,
) -> Result<Json<wire::Entry>, ApiError> {
    caller.require(READERS)?;
    let Path(index) = index.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let index: LeafIndex = index.parse()?;
    let e = state
        .reads
        .entry(index.get())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no entry at index {index}")))?;
    Ok(Json(entry_json(&e)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageParams {
    kind: Option<String>,
    subject: Option<String>,
    since: Option<String>,
    until: Option<String>,
    after: Option<LeafIndex>,
    limit: Option<u32>,
}

/// Parses an RFC 3339 bound into the stored fixed-width UTC form, so string comparison
/// in the store is time comparison.
fn time_bound(name: &str, v: Option<String>) -> Result<Option<String>, ApiError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(&s)
            .map(|t| crate::time::format(&t.with_timezone(&chrono::Utc)))
            .map_err(|e| {
                ApiError::BadRequest(format!("{name}: {s:?} is not an RFC 3339 timestamp ({e})"))
            })
    })
    .transpose()
}

async fn page(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<wire::EntryPage>, ApiError> {
    caller.require(READERS)?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    if let Some(k) = &p.kind {
        k.parse::<entry::Kind>().map_err(|_| {
            ApiError::BadRequest(format!(
                "kind: unknown kind {k:?}; expected event, sbom, attestation, control or key"
            ))
        })?;
    }
    let limit = p.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    let q = EntryQuery {
        kind: p.kind,
        subject: p.subject,
        since: time_bound("since", p.since)?,
        until: time_bound("until", p.until)?,
        after: p.after.map(LeafIndex::get),
        below: None,
        limit,
    };
    let rows = state.reads.entries(&q).await?;
    let next = if rows.len() == limit as usize {
        rows.last().map(|e| e.index)
    } else {
        None
    };
    let entries = rows.iter().map(entry_json).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(wire::EntryPage { entries, next }))
}
