//! The operator-facing configuration: one clap type per command, every field with an
//! environment fallback. The doc comments here are the operator documentation
//! (`threadlog serve --help`).

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the log lives; shared by every command that opens the store.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database and key file; created on first start.
    #[arg(long, env = "THREADLOG_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL. Default: sqlite://<data dir>/threadlog.db
    #[arg(long = "database-url", env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    pub fn url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("threadlog.db").display()))
    }
}

#[derive(Args, Debug, Clone)]
pub struct ServeConfig {
    #[command(flatten)]
    pub store: StoreArgs,

    /// A PostgreSQL read replica for auditor reads (entries, checkpoints, proofs).
    /// Default: read from DATABASE_URL.
    #[arg(long = "read-database-url", env = "THREADLOG_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,

    /// Address to listen on.
    #[arg(long, env = "THREADLOG_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Checkpoint origin (and signing key name), e.g. `plant.example.com/threadlog`.
    /// Default: the origin the database remembers, or `localhost/threadlog` for a new log.
    #[arg(long, env = "THREADLOG_ORIGIN")]
    pub origin: Option<String>,

    /// Signing key: `file:PATH` for an Ed25519 PKCS#8 key file (created if missing), or
    /// `pkcs11:module=PATH;token=LABEL;key=KEYLABEL` (or `slot=N`, default `HSM_SLOT`) for
    /// an HSM key; its PIN comes from THREADLOG_PKCS11_PIN or THREADLOG_PKCS11_PIN_FILE.
    /// Default: file:<data dir>/log.key
    #[arg(long, env = "THREADLOG_SIGNER")]
    pub signer: Option<String>,

    /// Largest request body accepted, in bytes; larger requests get 413.
    #[arg(long, env = "THREADLOG_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Largest document (an SBOM) accepted, in bytes; larger uploads get 413.
    #[arg(long, env = "THREADLOG_MAX_DOCUMENT_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub max_document_bytes: usize,

    /// Append requests that may wait for the sequencer; beyond it, 503 with Retry-After.
    #[arg(long, env = "THREADLOG_QUEUE_DEPTH", default_value_t = 1024)]
    pub queue_depth: usize,

    /// Most entries committed under one checkpoint.
    #[arg(long, env = "THREADLOG_MAX_BATCH", default_value_t = 4096)]
    pub max_batch: usize,

    /// Milliseconds to wait for more requests to fill a batch (0: take what is queued).
    #[arg(long, env = "THREADLOG_BATCH_LINGER_MS", default_value_t = 0)]
    pub batch_linger_ms: u64,

    /// Full tiles (8 KiB each) kept in memory for proofs.
    #[arg(long, env = "THREADLOG_TILE_CACHE", default_value_t = 4096)]
    pub tile_cache: usize,

    /// Trust policy for attestations (TOML; see attestations/README.md): allowed signers,
    /// accepted predicate types, per-subject rules. Checked at start; an invalid policy
    /// stops the server. Without one, POST /v1/attestations answers 501.
    #[arg(long, env = "THREADLOG_TRUST_POLICY")]
    pub trust_policy: Option<PathBuf>,
}

pub const DEFAULT_ORIGIN: &str = "localhost/threadlog";
