//! The one mapping from errors to HTTP: status codes live here and nowhere else.
//! Every error is JSON `{"error": code, "message": text}`; a 5xx never shows internal
//! detail to the client (it is logged instead).

use crate::compliance::gather::GatherError;
use crate::entry::EntryError;
use crate::merkle::{PositionError, ProofError};
use crate::sequencer::SequencerError;
use crate::store::StoreError;
use crate::thread::ThreadError;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use threadlog_client::wire;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Invalid(String),
    /// A document that failed validation, with every violation (path and reason).
    #[error("{message}")]
    InvalidDocument {
        message: String,
        violations: Vec<crate::supplychain::cyclonedx::Violation>,
    },
    /// An attestation that failed verification: the check that failed, and why.
    #[error("{0}")]
    InvalidAttestation(crate::supplychain::attest::AttestationError),
    /// The server lacks the configuration this request needs (a trust policy).
    #[error("{0}")]
    NotConfigured(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The client sent nothing for too long (a stalled request body).
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    UriTooLong(String),
    #[error("{0}")]
    HeadersTooLarge(String),
    /// An error status raised below the handlers (by the router or a layer) that has no
    /// variant of its own; its text is kept as the message.
    #[error("{1}")]
    Status(StatusCode, String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Overloaded(String),
    /// A dependency (database, signer) failed; the detail is logged, not returned.
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
    /// A derived index (the thread) is still being built; the message says how far.
    #[error("{0}")]
    Indexing(String),
    /// Appends are halted because the store disagrees with what this server signed. The
    /// reason names a tile and a tree size, nothing secret: the operator needs it.
    #[error("appends are halted: {0}; reads of the last good checkpoint are still served; run threadlog verify")]
    Halted(String),
    /// This server's key was rotated away: the reason is for the operator and holds
    /// nothing secret (verifier keys are public), so it is returned as is.
    #[error("{0}")]
    KeyRotated(String),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::InvalidDocument { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            ApiError::InvalidAttestation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            // Not 503: retrying cannot help until an operator configures the server.
            ApiError::NotConfigured(_) => (StatusCode::NOT_IMPLEMENTED, "not_configured"),
            ApiError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Timeout(_) => (StatusCode::REQUEST_TIMEOUT, "timeout"),
            ApiError::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri_too_long"),
            ApiError::HeadersTooLarge(_) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            ApiError::Status(status, _) => (*status, "error"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ApiError::KeyRotated(_) => (StatusCode::SERVICE_UNAVAILABLE, "key_rotated"),
            ApiError::Halted(_) => (StatusCode::SERVICE_UNAVAILABLE, "halted"),
            ApiError::Indexing(_) => (StatusCode::SERVICE_UNAVAILABLE, "indexing"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            ApiError::Unavailable(detail) => {
                tracing::warn!(%detail, "dependency unavailable");
                "a dependency of the log is unavailable; nothing was appended, retry later"
                    .to_string()
            }
            ApiError::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error; nothing was appended".to_string()
            }
            ApiError::InvalidAttestation(e) => format!("{e}; nothing was logged"),
            other => other.to_string(),
        };
        let body = wire::ErrorBody {
            error: code.to_string(),
            message,
            violations: match &self {
                ApiError::InvalidDocument { violations, .. } => Some(serde_json::json!(violations)),
                _ => None,
            },
            check: match &self {
                ApiError::InvalidAttestation(e) => Some(e.check.as_str().to_string()),
                _ => None,
            },
        };
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

impl ApiError {
    /// The error for a status some layer below the handlers answered with, in text.
    fn from_status(status: StatusCode, text: String) -> ApiError {
        let text = if text.trim().is_empty() {
            status.canonical_reason().unwrap_or("error").to_lowercase()
        } else {
            text.trim().to_string()
        };
        match status {
            StatusCode::BAD_REQUEST => ApiError::BadRequest(text),
            StatusCode::NOT_FOUND => ApiError::NotFound(text),
            StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(text),
            StatusCode::REQUEST_TIMEOUT => ApiError::Timeout(text),
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(text),
            StatusCode::URI_TOO_LONG => ApiError::UriTooLong(text),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(text),
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::Invalid(text),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiError::HeadersTooLarge(text),
            StatusCode::SERVICE_UNAVAILABLE => ApiError::Overloaded(text),
            StatusCode::INTERNAL_SERVER_ERROR => ApiError::Internal(text),
            status => ApiError::Status(status, text),
        }
    }
}

/// The most of a non-JSON error body kept as the message (rejection texts are one line).
const MAX_ERROR_TEXT: usize = 4096;

/// Middleware: gives every error answered below the handlers (unknown method, extractor
/// rejections, body limits) the documented JSON shape, keeping its status, its headers
/// (`Allow` on a 405) and its text as the message. Handlers' own errors are JSON already.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut json = ApiError::from_status(status, text).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name.clone(), value.clone());
        }
    }
    json
}

impl From<PositionError> for ApiError {
    fn from(e: PositionError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::Unavailable(e.to_string()),
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<SequencerError> for ApiError {
    fn from(e: SequencerError) -> Self {
        match e {
            SequencerError::Overloaded => ApiError::Overloaded(
                "the append queue is full; retry after the Retry-After delay".into(),
            ),
            SequencerError::Conflict { key, index } => ApiError::Conflict(format!(
                "{key} is already logged at index {index} with different content; \
                 use a new idempotency key for a new entry"
            )),
            SequencerError::Store(s) => s.into(),
            SequencerError::KeyRotated { .. } => ApiError::KeyRotated(e.to_string()),
            SequencerError::UnknownCorrected { .. } => ApiError::Invalid(e.to_string()),
            SequencerError::Halted(reason) => ApiError::Halted(reason),
            SequencerError::Signing(_) | SequencerError::Stopped => {
                ApiError::Unavailable(e.to_string())
            }
        }
    }
}

impl From<EntryError> for ApiError {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::TooLarge { .. } => ApiError::TooLarge(e.to_string()),
            EntryError::BatchTooLarge(_) => ApiError::TooLarge(e.to_string()),
            EntryError::BadLeaf(_) => ApiError::Internal(e.to_string()),
            EntryError::Invalid { .. } => ApiError::Invalid(e.to_string()),
            EntryError::Malformed(_) => ApiError::BadRequest(e.to_string()),
        }
    }
}

impl From<ThreadError> for ApiError {
    fn from(e: ThreadError) -> Self {
        match e {
            ThreadError::BadRequest(_) => ApiError::BadRequest(e.to_string()),
            ThreadError::UnknownNode(..) | ThreadError::NoCheckpoint(_) => {
                ApiError::NotFound(e.to_string())
            }
            ThreadError::Indexing(_) => ApiError::Indexing(e.to_string()),
            ThreadError::Store(s) => s.into(),
        }
    }
}

impl From<crate::supplychain::attest::AttestationError> for ApiError {
    fn from(e: crate::supplychain::attest::AttestationError) -> Self {
        ApiError::InvalidAttestation(e)
    }
}

impl From<ProofError> for ApiError {
    fn from(e: ProofError) -> Self {
        match e {
            ProofError::IndexOutOfRange { .. } | ProofError::SizesOutOfOrder { .. } => {
                ApiError::BadRequest(e.to_string())
            }
            _ => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<GatherError> for ApiError {
    fn from(e: GatherError) -> Self {
        match e {
            GatherError::Store(s) => s.into(),
            GatherError::NoCheckpoint(_) => ApiError::NotFound(e.to_string()),
            // Stored leaves were checked when written: one that no longer reads is damage.
            GatherError::Result(_) | GatherError::Proof(_) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::supplychain::cyclonedx::CycloneDxError> for ApiError {
    fn from(e: crate::supplychain::cyclonedx::CycloneDxError) -> Self {
        ApiError::InvalidDocument {
            violations: e.violations(),
            message: format!("{e}; nothing was logged"),
        }
    }
}
