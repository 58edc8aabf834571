//! Unauthenticated endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.
//! Readiness means appends could succeed now: the sequencer runs, the store answers and
//! its last commit (or the probe after a failed one) succeeded, the log's key is still
//! this server's, and the signer signs (a probe at most
//! `signer::PROBE_MAX_AGE` old).

use super::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use std::sync::atomic::Ordering;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let reason = if let Some(h) = state.sequencer.halted() {
        Some(format!("appends halted: {h}"))
    } else if let Some(e) = state.sequencer.cannot_commit() {
        Some(format!("the store cannot commit: {e}"))
    } else if let Some(r) = match state.store.meta().await {
        // One round trip both pings the database and catches a rotation made elsewhere.
        Err(e) => Some(e.to_string()),
        Ok(Some(m)) if m.verifier_key != state.verifier_key.to_string() => Some(format!(
            "the log's key was rotated to {}; restart with the new key",
            m.verifier_key
        )),
        Ok(_) => None,
    } {
        Some(r)
    } else {
        // Probing blocks (an HSM round trip, or a module restart while the token is
        // gone), so it runs off the executor; the result is cached for PROBE_MAX_AGE.
        let health = state.signer.clone();
        match tokio::task::spawn_blocking(move || health.cached()).await {
            Ok(outcome) => outcome.err(),
            Err(e) => Some(format!("signer probe did not finish: {e}")),
        }
    };
    match reason {
        None => (
            StatusCode::OK,
            Json(serde_json::json!({ "status": "ready" })),
        ),
        Some(r) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not_ready", "reason": r })),
        ),
    }
}

async fn metrics(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
) -> impl IntoResponse {
    let m = &state.sequencer.metrics;
    let http = extensions.get::<std::sync::Arc<super::limits::BodyBudget>>();
    let mut out = String::new();
    for (name, kind, help, value) in [
        (
            "threadlog_http_connections_open",
            "gauge",
            "Client connections open (THREADLOG_MAX_CONNECTIONS caps them).",
            http.map_or(0, |h| h.open_connections() as u64),
        ),
        (
            "threadlog_http_body_bytes_reserved",
            "gauge",
            "Request body bytes reserved by requests in flight (THREADLOG_BODY_BUDGET_BYTES caps them).",
            http.map_or(0, |h| h.reserved_bytes() as u64),
        ),
        (
            "threadlog_http_uploads_in_flight",
            "gauge",
            "SBOM documents being received or validated (THREADLOG_MAX_UPLOADS caps them).",
            http.map_or(0, |h| h.uploads_in_flight() as u64),
        ),
        (
            "threadlog_tree_size",
            "gauge",
            "Leaves in the tree as of the last checkpoint this process issued.",
            m.tree_size.load(Ordering::Relaxed),
        ),
        (
            "threadlog_entries_appended_total",
            "counter",
            "Entries appended by this process.",
            m.entries_appended.load(Ordering::Relaxed),
        ),
        (
            "threadlog_duplicates_total",
            "counter",
            "Submitted entries answered with an earlier receipt.",
            m.duplicates.load(Ordering::Relaxed),
        ),
        (
            "threadlog_batches_committed_total",
            "counter",
            "Append batches committed (one checkpoint each).",
            m.batches_committed.load(Ordering::Relaxed),
        ),
        (
            "threadlog_batches_failed_total",
            "counter",
            "Append batches that failed as a whole.",
            m.batches_failed.load(Ordering::Relaxed),
        ),
        (
            "threadlog_append_overloaded_total",
            "counter",
            "Append requests refused because the queue was full.",
            m.overloaded.load(Ordering::Relaxed),
        ),
    ] {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    }
    let name = "threadlog_auth_failures_total";
    out.push_str(&format!(
        "# HELP {name} Requests refused as unauthenticated, by reason.\n# TYPE {name} counter\n"
    ));
    for (reason, value) in state.tokens.failures() {
        out.push_str(&format!(
            "{name}{{reason=\"{}\"}} {value}\n",
            reason.as_str()
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}
