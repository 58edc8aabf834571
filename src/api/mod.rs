//! The HTTP API v1 (see DESIGN.md): one router per resource, the bearer-token extractor,
//! and the single error-to-status mapping. Handlers parse and validate at the edge, then
//! call the sequencer (appends) or the store (reads); they hold no log logic themselves.

mod artifacts;
mod attestations;
pub mod auth;
mod blobs;
mod compliance;
mod controls;
mod entries;
pub mod error;
mod events;
mod health;
mod json;
mod keys;
mod limits;
mod listen;
mod log;
mod proofs;
mod sboms;
mod thread;

use crate::note::VerifierKey;
use crate::sequencer::Sequencer;
use crate::signer::SignerHealth;
use crate::store::{Store, TileCache};
use crate::supplychain::attest::TrustPolicy;
use axum::Router;
use std::future::Future;
use std::sync::Arc;

pub use limits::{MAX_HEADERS, MAX_HEADER_BYTES, MAX_URI_BYTES};
pub use listen::serve_with;

/// Everything a request handler may use. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The primary: appends, tokens, readiness.
    pub store: Arc<dyn Store>,
    /// Auditor reads: the primary, or a read replica that may lag but is never
    /// inconsistent (a checkpoint commits with its entries and tiles).
    pub reads: Arc<dyn Store>,
    pub sequencer: Sequencer,
    pub tiles: Arc<TileCache>,
    pub origin: String,
    pub verifier_key: VerifierKey,
    /// The signing key, with the cached probe `/readyz` uses.
    pub signer: Arc<SignerHealth>,
    /// Authentication failure counters and last-use bookkeeping.
    pub tokens: Arc<auth::AuthState>,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    /// Largest accepted document (an SBOM), in bytes.
    pub document_limit: usize,
    /// The policy attestations are verified against; none configured: none accepted.
    pub trust_policy: Option<Arc<TrustPolicy>>,
}

/// The whole API, with the request limits every route shares.
fn router(state: AppState, budget: Arc<limits::BodyBudget>) -> Router {
    Router::new()
        .merge(events::router())
        .merge(controls::router())
        .merge(compliance::router())
        .merge(log::router())
        .merge(keys::router())
        .merge(entries::router())
        .merge(blobs::router())
        .merge(sboms::router(state.document_limit))
        .merge(attestations::router(state.document_limit))
        .merge(artifacts::router())
        .merge(proofs::router())
        .merge(thread::router())
        .merge(health::router())
        .fallback(|| async {
            error::ApiError::NotFound("no such endpoint; see /openapi.json".into())
        })
        .layer(axum::extract::DefaultBodyLimit::max(state.body_limit))
        .layer(axum::middleware::from_fn_with_state(budget, limits::admit))
        .layer(axum::middleware::from_fn(error::json_errors))
        .with_state(state)
}

/// Serves the API on `listener` with the default limits (see [`serve_with`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(
        listener,
        state,
        crate::config::HttpLimits::default(),
        shutdown,
    )
    .await
}
