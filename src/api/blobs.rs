//! `GET /v1/blobs/{sha256}`: an uploaded document (an SBOM), byte for byte as it was
//! received, with the media type its entry records (role `auditor` or `admin`). `ci` is a
//! write-only role: a token leaked from a pipeline must not read the plant's evidence.
//!
//! Blobs are written in the transaction of the entry that binds them, so whatever is
//! served here is bound by a committed, signed leaf (`X-Threadlog-Index` names the first).

use super::auth::Caller;
use super::error::ApiError;
use super::log::READERS;
use super::AppState;
use crate::entry;
use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/blobs/{digest}", get(one))
}

/// `sha256:<hex>` or bare hex, lowercase, as bytes.
pub(super) fn parse_digest(what: &str, s: &str) -> Result<[u8; 32], ApiError> {
    entry::parse_hex_digest(s.strip_prefix("sha256:").unwrap_or(s)).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "{what}: {s:?} is not a digest of the form sha256:<64 lowercase hex digits>"
        ))
    })
}

async fn one(
    State(state): State<AppState>,
    caller: Caller,
    Path(digest): Path<String>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let sha = parse_digest("digest", &digest)?;
    let blob = state.reads.blob(&sha).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "no document with SHA-256 {} is stored",
            hex::encode(sha)
        ))
    })?;
    let content_type = HeaderValue::from_str(&blob.media_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let etag = HeaderValue::from_str(&format!("\"sha256:{}\"", hex::encode(sha)))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let mut resp = blob.data.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, content_type);
    h.insert(header::ETAG, etag);
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert("x-threadlog-index", HeaderValue::from(blob.index));
    Ok(resp)
}
