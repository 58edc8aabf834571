//! threadlog-client: the HTTP API's wire types and the one HTTP client the CLI, the tests
//! and the benchmarks talk to a server with.
//!
//! `wire` is the single definition of what the log-reading endpoints and appends send
//! (the server serializes these same types); `Client` holds the base URL, the token and
//! one connection pool, and turns a refusal into a typed error carrying the server's
//! JSON error body. It checks nothing: verification is the core's (`threadlog_core`).

mod http;
pub mod wire;

pub use http::{Client, ClientError};
