//! The HTTP edge under hostile or careless clients: positions at or above 2^63, errors
//! of every kind in the documented JSON shape, duplicate JSON keys, and the connection,
//! time and memory limits (idle half-sent headers, a stalled body at shutdown, the body
//! budget). Each runs over real sockets against a real server.

#[path = "../common/mod.rs"]
mod common;

use common::proc::{self, Serve};
use common::{event, TestServer};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

mod errors;
mod limits;
mod positions;

/// How long a test waits for a state before failing (a guard, not a measurement).
pub(crate) const GUARD: Duration = Duration::from_secs(60);

/// Error-level log lines of this test binary's servers.
pub(crate) fn error_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

pub(crate) struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub(crate) async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let (status, body) = s.get(path, &s.auditor).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

pub(crate) fn assert_error(what: &str, got: (u16, Value), status: u16, code: &str, message: &str) {
    let (s, v) = got;
    assert_eq!(s, status, "{what}: {v}");
    assert_eq!(v["error"], code, "{what}: {v}");
    let text = v["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{what}: {message:?} not in {v}");
}
