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
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;

/// The HTML report loads nothing and runs nothing: its only style is inline.
const REPORT_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";
/// Documents holding uploaded text are read as what they say they are, never sniffed.
const NOSNIFF: &str = "nosniff";

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/compliance/report", get(report))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    framework: Option<String>,
    /// A checkpointed tree size; default: the latest checkpoint.
    at: Option<crate::merkle::TreeSize>,
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
    let report = gather::report(
        state.reads.as_ref(),
        &state.tiles,
        framework,
        p.at.map(u64::from),
    )
    .await?;
    let mut response = (
        [(header::CONTENT_TYPE, format.content_type())],
        render(&report, format),
    )
        .into_response();
    let headers = response.headers_mut();
    match format {
        Format::Html => {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(REPORT_CSP),
            );
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static(NOSNIFF),
            );
        }
        Format::Markdown => {
            headers.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static(NOSNIFF),
            );
        }
        Format::Json | Format::Oscal => {}
    }
    Ok(response)
}
