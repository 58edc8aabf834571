//! Accepting and serving HTTP/1.1 connections: the cap on open connections, the
//! header-read (and idle keep-alive) timeout, the request-body timeout, the open-files
//! limit and the shutdown deadline. It owns connections, not requests: it must not know
//! routes or hold log logic.

use super::limits::{BodyBudget, MAX_HEADERS, MAX_HEADER_BYTES, MAX_URI_BYTES};
use super::AppState;
use crate::config::HttpLimits;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tower_http::timeout::RequestBodyTimeout;

/// Pause after an accept error (out of file descriptors, mostly) before accepting again,
/// so the loop does not spin while connections close.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// File descriptors the process needs beside its connections (database, logs, tiles).
const SPARE_FILES: u64 = 256;

/// Serves the API on `listener` until `shutdown` resolves; then stops accepting, lets
/// open requests finish until the shutdown deadline, and returns (dropping whatever is
/// still open: an entry is acknowledged only after it is committed).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    raise_open_files_limit(limits.max_connections);
    let budget = Arc::new(BodyBudget::new(
        limits.body_budget_bytes,
        state.body_limit,
        state.body_limit.max(state.document_limit),
        limits.max_connections,
        limits.max_uploads(),
    ));
    let app = RequestBodyTimeout::new(super::router(state, budget.clone()), limits.body_timeout());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout())
        // Beyond these hyper answers a bare 431; below them our own limits answer in JSON.
        .max_headers(MAX_HEADERS * 2)
        .max_buf_size(4 * (MAX_HEADER_BYTES + MAX_URI_BYTES));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // A connection slot first: at the cap, new clients wait in the accept queue.
        let slot = tokio::select! {
            slot = budget.connections.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            // Timeouts and resets are the client's business; nothing to report.
            let _ = conn.await;
            drop(slot);
        });
    }
    drop(listener);
    let open = budget.open_connections();
    if tokio::time::timeout(limits.shutdown_deadline(), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            deadline_secs = limits.shutdown_deadline_secs,
            "shutdown deadline reached; closing the connections still open"
        );
    } else {
        tracing::info!(connections = open, "all connections closed");
    }
    Ok(())
}

/// Raises the soft open-files limit to the hard limit, so the connection cap, not the
/// default of 1,024 descriptors, is what bounds clients; warns when even the hard limit
/// is below what the cap needs.
fn raise_open_files_limit(max_connections: usize) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct passed by pointer.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if got != 0 {
        tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open-files limit");
        return;
    }
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        } else {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot raise the open-files limit");
        }
    }
    let needed = (max_connections as u64).saturating_add(SPARE_FILES);
    if lim.rlim_cur < needed {
        tracing::warn!(
            open_files = lim.rlim_cur,
            max_connections,
            "the open-files limit is below THREADLOG_MAX_CONNECTIONS plus {SPARE_FILES}; \
             lower the cap or raise the limit (ulimit -n, LimitNOFILE=)"
        );
    }
}
