//! `POST /v1/controls/results`: NIST SP 800-171 assessment results from assessors (role
//! `assessor`). Results are checked against the catalogs, and every evidence reference
//! must already be in the log (an entry index below the current tree size, or an
//! artifact digest some entry names as a subject) before anything is appended.

use super::auth::{Caller, Role};
use super::error::ApiError;
use super::events::{is_single, receipts_response};
use super::json::JsonBody;
use super::AppState;
use crate::entry::{self, Evidence};
use crate::store::EntryQuery;
use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/controls/results", post(post_results))
}

async fn post_results(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Assessor])?;
    let single = is_single(&body);
    let parsed = entry::parse_results(&body, &caller.name)?;
    let size = state
        .store
        .latest_checkpoint()
        .await?
        .map_or(0, |c| c.tree_size);
    for (_, evidence) in &parsed {
        for e in evidence {
            match e {
                Evidence::Entry { path, index } if *index >= size => {
                    return Err(ApiError::Invalid(format!(
                        "{path}: entry {index} is not in the log (tree size {size})"
                    )))
                }
                Evidence::Entry { .. } => {}
                Evidence::Digest { path, digest } => {
                    let found = state
                        .store
                        .entries(&EntryQuery {
                            subject: Some(digest.clone()),
                            limit: 1,
                            ..EntryQuery::default()
                        })
                        .await?;
                    if found.is_empty() {
                        return Err(ApiError::Invalid(format!(
                            "{path}: no entry of the log names the artifact {digest}; \
                             log it first"
                        )));
                    }
                }
            }
        }
    }
    let entries = parsed.into_iter().map(|(e, _)| e).collect();
    let receipts = state.sequencer.submit(entries).await?;
    receipts_response(&receipts, single)
}
