//! Per-request limits applied before any handler runs: the size of the request head
//! (414, 431) and the budget of request body bytes all requests may hold at once (413
//! for a body declared over every limit, 503 with Retry-After while the budget is spent).
//! It must not read bodies or know routes; per-route body limits stay with the routes.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Longest request target (path and query) answered; longer gets 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names, values and separators) answered; more gets 431.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields answered; more gets 431.
pub const MAX_HEADERS: usize = 100;

/// The budget is counted in KiB so that any byte budget fits the semaphore's `u32`
/// permits per acquisition.
const UNIT: usize = 1024;

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

/// Request body bytes in flight, shared by every request of one server, and the
/// figures `/metrics` reports.
pub struct BodyBudget {
    permits: Semaphore,
    total_units: usize,
    /// The general per-request limit: what a chunked body (no length) is charged.
    body_limit: usize,
    /// The largest body any route accepts: a declared length beyond it is refused at once.
    largest_body: usize,
    /// Connections open now and the cap, for `/metrics`.
    pub connections: Arc<Semaphore>,
    pub max_connections: usize,
    /// Places for documents held whole while received and validated, and their number.
    pub uploads: Arc<Semaphore>,
    pub max_uploads: usize,
}

impl BodyBudget {
    pub fn new(
        budget_bytes: usize,
        body_limit: usize,
        largest_body: usize,
        max_connections: usize,
        max_uploads: usize,
    ) -> Self {
        let total_units = units(budget_bytes).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget {
            permits: Semaphore::new(total_units),
            total_units,
            body_limit,
            largest_body,
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            uploads: Arc::new(Semaphore::new(max_uploads)),
            max_uploads,
        }
    }

    /// Body bytes reserved by requests in flight.
    pub fn reserved_bytes(&self) -> usize {
        (self.total_units - self.permits.available_permits()) * UNIT
    }

    pub fn open_connections(&self) -> usize {
        self.max_connections - self.connections.available_permits()
    }

    pub fn uploads_in_flight(&self) -> usize {
        self.max_uploads - self.uploads.available_permits()
    }
}

/// Middleware: refuses an oversized request head, then reserves the request's body bytes
/// from the budget for as long as the request is served (its body is held in memory until
/// the answer). The budget is also made available to `/metrics`.
pub async fn admit(
    State(budget): State<Arc<BodyBudget>>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Err(e) = check_head(&request) {
        return e.into_response();
    }
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    let bytes = match declared {
        Some(n) if n > budget.largest_body => {
            return ApiError::TooLarge(format!(
                "the request body of {n} bytes exceeds the {}-byte limit \
                 (THREADLOG_MAX_BODY_BYTES, THREADLOG_MAX_DOCUMENT_BYTES for documents)",
                budget.largest_body
            ))
            .into_response()
        }
        Some(n) => n,
        None if chunked => budget.body_limit,
        None => 0,
    };
    // A body larger than the whole budget may still be served alone.
    let want = units(bytes).min(budget.total_units);
    let _permit = if want == 0 {
        None
    } else {
        match u32::try_from(want)
            .ok()
            .and_then(|n| budget.permits.try_acquire_many(n).ok())
        {
            Some(p) => Some(p),
            None => {
                return ApiError::Overloaded(
                    "request bodies in flight have spent the server's memory budget \
                     (THREADLOG_BODY_BUDGET_BYTES); retry after the Retry-After delay"
                        .into(),
                )
                .into_response()
            }
        }
    };
    request.extensions_mut().insert(budget.clone());
    next.run(request).await
}

fn check_head(request: &Request) -> Result<(), ApiError> {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return Err(ApiError::UriTooLong(format!(
            "the request target is {target} bytes; the limit is {MAX_URI_BYTES}"
        )));
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request has {} header fields; the limit is {MAX_HEADERS}",
            headers.len()
        )));
    }
    // Name, value, ": " and CRLF, as on the wire.
    let size: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum();
    if size > MAX_HEADER_BYTES {
        return Err(ApiError::HeadersTooLarge(format!(
            "the request headers are {size} bytes; the limit is {MAX_HEADER_BYTES}"
        )));
    }
    Ok(())
}
