//! `POST /v1/attestations[?subject=sha256:…]` (role `ci`): a DSSE envelope carrying an
//! in-toto Statement or link, or a Sigstore bundle, verified against the trust policy, then
//! logged as an `attestation` entry binding the document's exact bytes. `subject` names
//! the artifact: required for a Sigstore message signature (it signs that digest and
//! nothing else), and for a statement one of its subjects. A refusal is `422` naming the
//! check that failed; nothing is logged. Without a trust policy nothing can be verified:
//! `501`.

use super::auth::{Caller, Role};
use super::blobs::parse_digest;
use super::error::ApiError;
use super::events::receipts_response;
use super::AppState;
use crate::entry::{self, Blob};
use crate::supplychain::attest;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;

/// `document_limit`: the largest envelope accepted, in bytes.
pub fn router(document_limit: usize) -> Router<AppState> {
    Router::new().route(
        "/v1/attestations",
        post(post_attestation).layer(DefaultBodyLimit::max(document_limit)),
    )
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence == entry::DSSE_MEDIA_TYPE
        || essence.starts_with(SIGSTORE_BUNDLE_MEDIA_TYPES)
}

/// `application/vnd.dev.sigstore.bundle+json;version=0.1` (to 0.3) and
/// `application/vnd.dev.sigstore.bundle.v0.3+json`.
const SIGSTORE_BUNDLE_MEDIA_TYPES: &str = "application/vnd.dev.sigstore.bundle";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostParams {
    subject: Option<String>,
}

async fn post_attestation(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<PostParams>, QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Ci])?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let artifact = p.subject.map(|s| parse_digest("subject", &s)).transpose()?;
    let policy = state.trust_policy.clone().ok_or_else(|| {
        ApiError::NotConfigured(
            "this server has no trust policy (THREADLOG_TRUST_POLICY), so it cannot verify \
             attestations; nothing was logged"
                .into(),
        )
    })?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !is_json(ct) {
        return Err(ApiError::UnsupportedMediaType(format!(
            "an attestation must be sent as application/json (or {}, or a Sigstore bundle \
             media type), not {ct:?}",
            entry::DSSE_MEDIA_TYPE
        )));
    }
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the envelope exceeds the {}-byte limit (THREADLOG_MAX_DOCUMENT_BYTES)",
                state.document_limit
            ))
        } else {
            ApiError::BadRequest(format!("could not read the request body: {e}"))
        }
    })?;
    super::json::reject_duplicate_keys(&body)?;
    let doc = body.clone();
    // RSA and ECDSA verification take up to milliseconds: off the async workers.
    let verified =
        tokio::task::spawn_blocking(move || attest::verify_about(&doc, &policy, artifact.as_ref()))
            .await
            .map_err(|e| ApiError::Internal(format!("verification task failed: {e}")))??;
    let media_type = match &verified.sigstore {
        Some(o) if o.bundle_version == "0.3" => attest::sigstore::bundle::Version::V03_MEDIA_TYPE,
        Some(_) => "application/vnd.dev.sigstore.bundle+json",
        None => entry::DSSE_MEDIA_TYPE,
    };
    let blob = Blob::new(body, media_type);
    let prepared = entry::prepare_attestation(&verified, blob, &caller.name)?;
    let receipts = state.sequencer.submit(vec![prepared]).await?;
    receipts_response(&receipts, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn envelopes_come_as_json() {
        assert!(super::is_json("application/json"));
        assert!(super::is_json("Application/JSON; charset=utf-8"));
        assert!(super::is_json("application/vnd.dsse.envelope.v1+json"));
        assert!(super::is_json(
            "application/vnd.dev.sigstore.bundle.v0.3+json"
        ));
        assert!(super::is_json(
            "application/vnd.dev.sigstore.bundle+json;version=0.1"
        ));
        assert!(super::is_json(
            "application/vnd.dev.sigstore.bundle+json;version=0.3"
        ));
        assert!(!super::is_json("text/plain"));
        assert!(!super::is_json(""));
    }
}
