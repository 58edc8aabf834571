//! CycloneDX SBOMs from CI: `POST /v1/sboms?subject=…` (role `ci`) validates the document
//! against the official schema of its spec version and logs an `sbom` entry binding its
//! bytes; `GET /v1/sboms/diff` (role `auditor` or `admin`) compares two logged SBOMs.
//! Invalid documents are answered `422` with every violation and never reach the log.

use super::auth::{Caller, Role};
use super::blobs::parse_digest;
use super::error::ApiError;
use super::events::receipts_response;
use super::limits::BodyBudget;
use super::log::READERS;
use super::AppState;
use crate::entry::{self, Blob, Envelope};
use crate::store::{EntryQuery, StoredEntry};
use crate::supplychain::cyclonedx::{self, Encoding};
use crate::supplychain::diff;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Extension;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

/// `document_limit`: the largest document accepted, in bytes (it replaces the general
/// body limit on this route only).
pub fn router(document_limit: usize) -> Router<AppState> {
    Router::new()
        .route(
            "/v1/sboms",
            post(post_sbom)
                .layer::<_, std::convert::Infallible>(DefaultBodyLimit::max(document_limit)),
        )
        .route("/v1/sboms/diff", get(get_diff))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PostParams {
    subject: Option<String>,
}

async fn post_sbom(
    State(state): State<AppState>,
    caller: Caller,
    Extension(limits): Extension<Arc<BodyBudget>>,
    params: Result<Query<PostParams>, QueryRejection>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Ci])?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let encoding = Encoding::from_content_type(ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "an SBOM must be sent as application/vnd.cyclonedx+json (or application/json) or \
             application/vnd.cyclonedx+xml (or application/xml), not {ct:?}"
        ))
    })?;
    let subject = p.subject.ok_or_else(|| {
        ApiError::Invalid(
            "subject: required; the artifact the SBOM describes, ?subject=sha256:<image \
             digest> or ?subject=pkg:…"
                .into(),
        )
    })?;
    let subject = entry::parse_subject(&subject)?;
    // Taken before the body is read: it bounds the memory documents occupy.
    let _permit = limits.uploads.clone().try_acquire_owned().map_err(|_| {
        ApiError::Overloaded(
            "too many documents are being received; retry after the Retry-After delay".into(),
        )
    })?;
    let body: Result<Bytes, BytesRejection> = Bytes::from_request(request, &state).await;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "the document exceeds the {}-byte limit (THREADLOG_MAX_DOCUMENT_BYTES)",
                state.document_limit
            ))
        } else {
            ApiError::BadRequest(format!("could not read the request body: {e}"))
        }
    })?;
    if matches!(encoding, Encoding::Json) {
        super::json::reject_duplicate_keys(&body)?;
    }
    let doc = body.clone();
    let validated = tokio::task::spawn_blocking(move || cyclonedx::validate(&doc, encoding))
        .await
        .map_err(|e| ApiError::Internal(format!("validation task failed: {e}")))??;
    let blob = Blob::new(body, validated.media_type());
    let prepared = entry::prepare_sbom(&subject, &validated.facts, blob, &caller.name)?;
    let receipts = state.sequencer.submit(vec![prepared]).await?;
    receipts_response(&receipts, true)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DiffParams {
    from: String,
    to: String,
    format: Option<String>,
}

/// A logged SBOM with its parsed leaf.
struct Logged {
    entry: StoredEntry,
    envelope: Envelope,
    document: entry::DocumentRef,
}

impl Logged {
    fn summary(&self) -> serde_json::Value {
        let body = self.envelope.body.clone().unwrap_or_default();
        json!({
            "index": self.entry.index,
            "subject": body.get("subject"),
            "document": format!("sha256:{}", hex::encode(self.document.sha256)),
            "spec_version": body.get("spec_version"),
            "components": body.get("components"),
            "integrated_at": self.envelope.integrated_at,
        })
    }

    fn encoding(&self) -> Result<Encoding, ApiError> {
        match self
            .envelope
            .body
            .as_ref()
            .and_then(|b| b.get("encoding"))
            .and_then(|e| e.as_str())
        {
            Some("json") => Ok(Encoding::Json),
            Some("xml") => Ok(Encoding::Xml),
            other => Err(ApiError::Internal(format!(
                "entry {} has encoding {other:?}",
                self.entry.index
            ))),
        }
    }
}

/// The SBOM named by `reference`: the one whose document has that digest, or else the
/// latest SBOM logged for that subject.
async fn resolve(state: &AppState, what: &str, reference: &str) -> Result<Logged, ApiError> {
    let subject = entry::parse_subject(reference).map_err(|e| {
        ApiError::BadRequest(format!(
            "{what}: {}",
            e.to_string().trim_start_matches("subject: ")
        ))
    })?;
    let doc_digest = subject
        .starts_with("sha256:")
        .then(|| parse_digest(what, &subject))
        .transpose()?;
    let mut latest = None;
    let mut after = None;
    loop {
        let page = state
            .reads
            .entries(&EntryQuery {
                kind: Some("sbom".into()),
                subject: Some(subject.clone()),
                after,
                limit: 1000,
                ..EntryQuery::default()
            })
            .await?;
        let full = page.len() == 1000;
        for e in page {
            after = Some(e.index);
            let envelope = entry::parse_leaf(&e.leaf)?;
            let document = entry::document_ref(envelope.body.as_ref())?.ok_or_else(|| {
                ApiError::Internal(format!("sbom entry {} binds no document", e.index))
            })?;
            let logged = Logged {
                entry: e,
                envelope,
                document,
            };
            if Some(logged.document.sha256) == doc_digest {
                return Ok(logged);
            }
            latest = Some(logged);
        }
        if !full {
            break;
        }
    }
    latest.ok_or_else(|| {
        ApiError::NotFound(format!(
            "{what}: no SBOM is logged with document or subject {reference}"
        ))
    })
}

async fn components(
    state: &AppState,
    logged: &Logged,
) -> Result<Vec<cyclonedx::Component>, ApiError> {
    let blob = state
        .reads
        .blob(&logged.document.sha256)
        .await?
        .ok_or_else(|| {
            ApiError::Internal(format!(
                "entry {} binds a document the store does not hold",
                logged.entry.index
            ))
        })?;
    let encoding = logged.encoding()?;
    tokio::task::spawn_blocking(move || cyclonedx::components(&blob.data, encoding))
        .await
        .map_err(|e| ApiError::Internal(format!("reading components failed: {e}")))?
        .map_err(|e| ApiError::Internal(format!("a logged document does not parse: {e}")))
}

async fn get_diff(
    State(state): State<AppState>,
    caller: Caller,
    params: Result<Query<DiffParams>, QueryRejection>,
) -> Result<Response, ApiError> {
    caller.require(READERS)?;
    let Query(p) = params.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let markdown = match p.format.as_deref() {
        None | Some("json") => false,
        Some("md") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "format: {other:?}; expected json or md"
            )))
        }
    };
    let from = resolve(&state, "from", &p.from).await?;
    let to = resolve(&state, "to", &p.to).await?;
    let d = diff::diff(
        &components(&state, &from).await?,
        &components(&state, &to).await?,
    );
    if markdown {
        let name = |l: &Logged| {
            format!(
                "{} (entry {}, sha256:{})",
                l.envelope
                    .body
                    .as_ref()
                    .and_then(|b| b.get("subject"))
                    .and_then(|s| s.as_str())
                    .unwrap_or_default(),
                l.entry.index,
                hex::encode(l.document.sha256)
            )
        };
        let text = diff::markdown(&d, &name(&from), &name(&to));
        return Ok((
            [
                (header::CONTENT_TYPE, "text/markdown; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            text,
        )
            .into_response());
    }
    Ok(Json(json!({
        "from": from.summary(),
        "to": to.summary(),
        "added": d.added,
        "removed": d.removed,
        "changed": d.changed,
        "unchanged": d.unchanged,
    }))
    .into_response())
}
