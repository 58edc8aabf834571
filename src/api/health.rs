//! Unauthenticated endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.
//! Readiness means appends could succeed now: the sequencer runs, the store answers, the
//! log's key is still this server's, and the signer signs (a probe at most
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

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.sequencer.metrics;
    let mut out = String::new();
    for (name, kind, help, value) in [
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}
