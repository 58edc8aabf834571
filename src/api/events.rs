//! `POST /v1/events`: manufacturing trace events from production services (role `producer`).
//! Answers `201` with a receipt per event once they are durable, or `200` when every
//! event was already logged (the first receipts, proved against the latest checkpoint).

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::json::JsonBody;
use super::AppState;
use crate::entry;
use crate::merkle::Hash;
use crate::receipt;
use crate::sequencer::Receipt;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(post_events))
}

pub fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

/// A sequencer's receipt in its one wire form, the core's (which also verifies it).
fn wire(r: &Receipt) -> receipt::Receipt {
    receipt::Receipt {
        index: r.index,
        leaf_hash: r.leaf_hash.to_base64(),
        integrated_at: r.integrated_at.clone(),
        checkpoint: r.checkpoint.clone(),
        inclusion_proof: receipt::InclusionProof {
            tree_size: r.tree_size,
            hashes: hashes_b64(&r.inclusion_proof),
        },
    }
}

/// Whether a JSON body is one object rather than an array of them.
pub(super) fn is_single(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'[')
}

async fn post_events(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Producer])?;
    let single = is_single(&body);
    let entries = entry::parse_events(&body, &caller.name)?;
    let receipts = state.sequencer.submit(entries).await?;
    receipts_response(&receipts, single)
}

/// `201` with a receipt per entry (one object for a single submission), or `200` when
/// every entry was logged before.
pub(super) fn receipts_response(receipts: &[Receipt], single: bool) -> Result<Response, ApiError> {
    let status = if receipts.iter().all(|r| r.duplicate) {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let json: Vec<receipt::Receipt> = receipts.iter().map(wire).collect();
    if single {
        let one = json
            .into_iter()
            .next()
            .ok_or_else(|| ApiError::Internal("no receipt for one event".into()))?;
        Ok((status, Json(one)).into_response())
    } else {
        Ok((status, Json(json)).into_response())
    }
}
