//! The digital thread (role `auditor` or `admin`): `GET /v1/thread/{node}` traces the
//! genealogy graph around a node (JSON, or Graphviz DOT with `format=dot`), and
//! `POST /v1/thread/recall-impact` finds everything finished downstream of suspect
//! nodes. Both answer at one checkpoint, named in the answer (and, for DOT, in the
//! `X-Threadlog-Tree-Size` header), and accept `tree_size` to answer again at it.

use super::auth::Caller;
use super::error::ApiError;
use super::json::JsonBody;
use super::log::READERS;
use super::AppState;
use crate::merkle::TreeSize;
use crate::thread::{self, dot, RecallOptions, Suspect, TraceOptions, MAX_DEPTH};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

/// The most nodes a trace may ask for.
const MAX_TRACE_NODES: usize = 100_000;
/// The most results a recall may list (counts always cover all).
const MAX_RECALL_LIST: usize = 100_000;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/thread/recall-impact", post(recall_impact))
        .route("/v1/thread/{node}", get(trace))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TraceParams {
    direction: Option<String>,
    depth: Option<u32>,
    format: Option<String>,
    max_nodes: Option<usize>,
    tree_size: Option<TreeSize>,
}

async fn trace(
    State(state): State<AppState>,
    caller: Caller,
    node: Result<Path<String>, PathRejection>,
    params: Result<Query<TraceParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let Path(node) = node.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let dot = match p.format.as_deref() {
        None | Some("json") => false,
        Some("dot") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?}; use json or dot"
            )))
        }
    };
    let max_nodes = p.max_nodes.unwrap_or(TraceOptions::default().max_nodes);
    if max_nodes == 0 || max_nodes > MAX_TRACE_NODES {
        return Err(ApiError::BadRequest(format!(
            "max_nodes must be between 1 and {MAX_TRACE_NODES}"
        )));
    }
    let opts = TraceOptions {
        direction: thread::parse_direction(p.direction.as_deref().unwrap_or("both"))?,
        depth: p.depth.unwrap_or(TraceOptions::default().depth),
        max_nodes,
        tree_size: p.tree_size.map(TreeSize::get),
    };
    let t = thread::trace(state.reads.as_ref(), &node, &opts).await?;
    if dot {
        let size = t.checkpoint.tree_size.to_string();
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "text/vnd.graphviz; charset=utf-8".to_string(),
                ),
                (
                    header::HeaderName::from_static("x-threadlog-tree-size"),
                    size,
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            ],
            dot::trace_dot(&t),
        )
            .into_response())
    } else {
        Ok(Json(t).into_response())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RecallRequest {
    suspects: Vec<Suspect>,
    depth: Option<u32>,
    limit: Option<usize>,
    tree_size: Option<TreeSize>,
}

async fn recall_impact(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let req: RecallRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!(
            "{e}; expected {{\"suspects\": [{{\"node\": \"lot:…\", \"from\"?: RFC 3339, \
             \"until\"?: RFC 3339}}], \"depth\"?: 1..{MAX_DEPTH}, \"limit\"?, \"tree_size\"?}}"
        ))
    })?;
    let defaults = RecallOptions::default();
    let limit = req.limit.unwrap_or(defaults.limit);
    if limit > MAX_RECALL_LIST {
        return Err(ApiError::BadRequest(format!(
            "limit must be at most {MAX_RECALL_LIST}"
        )));
    }
    let opts = RecallOptions {
        depth: req.depth.unwrap_or(defaults.depth),
        limit,
        tree_size: req.tree_size.map(TreeSize::get),
        ..defaults
    };
    let r = thread::recall_impact(state.reads.as_ref(), &req.suspects, &opts).await?;
    Ok(Json(r).into_response())
}
