//! `POST /v1/events`: manufacturing trace events from production services (role `producer`).
//! Answers `201` with a receipt per event once they are durable, or `200` when every
//! event was already logged (the first receipts, proved against the latest checkpoint).

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::json::JsonBody;
use super::AppState;
use crate::entry;
use crate::merkle::Hash;
use crate::sequencer::Receipt;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Serialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/events", post(post_events))
}

#[derive(Serialize)]
pub struct ReceiptJson {
    pub index: u64,
    pub leaf_hash: String,
    pub integrated_at: String,
    pub checkpoint: String,
    pub inclusion_proof: ProofJson,
}

#[derive(Serialize)]
pub struct ProofJson {
    pub tree_size: u64,
    pub hashes: Vec<String>,
}

pub fn hashes_b64(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

impl From<&Receipt> for ReceiptJson {
    fn from(r: &Receipt) -> Self {
        ReceiptJson {
            index: r.index,
            leaf_hash: r.leaf_hash.to_base64(),
            integrated_at: r.integrated_at.clone(),
            checkpoint: r.checkpoint.clone(),
            inclusion_proof: ProofJson {
                tree_size: r.tree_size,
                hashes: hashes_b64(&r.inclusion_proof),
            },
        }
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
    let json: Vec<ReceiptJson> = receipts.iter().map(ReceiptJson::from).collect();
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
