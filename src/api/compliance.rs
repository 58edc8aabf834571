//! `GET /v1/compliance/report` (role `auditor` or `admin`): the NIST SP 800-171 report
//! of the log as of a signed checkpoint, in JSON, Markdown, HTML or OSCAL. Reads go to
//! the read store, so a report at a replayed checkpoint is the same on a replica.

use super::auth::Caller;
use super::error::ApiError;
use super::log::READERS;
use super::AppState;
use crate::compliance::gather;
use crate::compliance::render::{render, Format};
use crate::controls::Framework;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/compliance/report", get(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    framework: Option<String>,
    /// A checkpointed tree size; default: the latest checkpoint.
    at: Option<u64>,
    format: Option<String>,
}

async fn report(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let framework: Framework = p
        .framework
        .as_deref()
        .ok_or_else(|| {
            ApiError::Invalid("framework: required: nist-800-171r2 or nist-800-171r3".into())
        })?
        .parse()
        .map_err(|e| ApiError::Invalid(format!("framework: {e}")))?;
    let format: Format = p
        .format
        .as_deref()
        .unwrap_or("json")
        .parse()
        .map_err(|e| ApiError::Invalid(format!("format: {e}")))?;
    let report = gather::report(state.reads.as_ref(), &state.tiles, framework, p.at).await?;
    Ok((
        [(header::CONTENT_TYPE, format.content_type())],
        render(&report, format),
    )
        .into_response())
}
