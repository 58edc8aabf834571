//! The operator-facing configuration: one clap type per command, every field with an
//! environment fallback. The doc comments here are the operator documentation
//! (`threadlog serve --help`).

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Where the log lives; shared by every command that opens the store.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// Directory for the embedded database and key file (mode 0700); created by
    /// `threadlog init` or `serve --init`.
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
    /// RFC 7512 URIs name HSM keys too:
    /// `pkcs11:token=LABEL;object=KEYLABEL;id=%01?module-path=PATH&pin-source=file:PIN`.
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

    /// Create the log (data directory, database, key file, first checkpoint) when the
    /// database holds none. Without it `serve` refuses a database without a log, so a
    /// mistyped --data-dir never starts a new empty one; `threadlog init` does the same
    /// once, without serving.
    #[arg(long, env = "THREADLOG_INIT")]
    pub init: bool,
    #[command(flatten)]
    pub http: HttpLimits,
}

/// What one client, or all of them together, may hold of the server: connections, time
/// and request memory. Every limit answers with a JSON error or closes the connection;
/// none can make the server lose an acknowledged entry.
#[derive(Args, Debug, Clone)]
pub struct HttpLimits {
    /// Open client connections; beyond it, new connections wait in the kernel's accept
    /// queue until one closes.
    #[arg(long, env = "THREADLOG_MAX_CONNECTIONS", default_value_t = HttpLimits::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,

    /// Seconds a client has to send a request's headers, counted from when it connected
    /// or received its previous response; also how long an idle keep-alive connection is
    /// kept. Then the connection is closed.
    #[arg(long, env = "THREADLOG_HEADER_TIMEOUT_SECS", default_value_t = HttpLimits::DEFAULT_HEADER_TIMEOUT_SECS)]
    pub header_timeout_secs: u64,

    /// Seconds a request body may send nothing; then the request gets 408.
    #[arg(long, env = "THREADLOG_BODY_TIMEOUT_SECS", default_value_t = HttpLimits::DEFAULT_BODY_TIMEOUT_SECS)]
    pub body_timeout_secs: u64,

    /// Seconds open requests may take to finish after SIGTERM or Ctrl-C; then the process
    /// exits. Entries are acknowledged only once committed, so none acknowledged is lost.
    #[arg(long, env = "THREADLOG_SHUTDOWN_DEADLINE_SECS", default_value_t = HttpLimits::DEFAULT_SHUTDOWN_DEADLINE_SECS)]
    pub shutdown_deadline_secs: u64,

    /// Request body bytes all requests together may hold in memory (declared length, or
    /// THREADLOG_MAX_BODY_BYTES for a chunked body); a request beyond it gets 503 with
    /// Retry-After.
    #[arg(long, env = "THREADLOG_BODY_BUDGET_BYTES", default_value_t = HttpLimits::DEFAULT_BODY_BUDGET_BYTES)]
    pub body_budget_bytes: usize,

    /// SBOM documents received or validated at once (each is held whole in memory, up to
    /// THREADLOG_MAX_DOCUMENT_BYTES); beyond it an upload gets 503 with Retry-After before
    /// its body is read. Default: twice the available cores.
    #[arg(long, env = "THREADLOG_MAX_UPLOADS")]
    pub max_uploads: Option<usize>,
}

impl HttpLimits {
    pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
    pub const DEFAULT_HEADER_TIMEOUT_SECS: u64 = 10;
    pub const DEFAULT_BODY_TIMEOUT_SECS: u64 = 30;
    pub const DEFAULT_SHUTDOWN_DEADLINE_SECS: u64 = 30;
    pub const DEFAULT_BODY_BUDGET_BYTES: usize = 256 * 1024 * 1024;

    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_secs(self.shutdown_deadline_secs)
    }

    /// Validation is CPU-bound, so more documents at once than cores only hold memory.
    pub fn max_uploads(&self) -> usize {
        self.max_uploads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(4, |n| n.get() * 2))
            .max(1)
    }
}

impl Default for HttpLimits {
    fn default() -> Self {
        HttpLimits {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            header_timeout_secs: Self::DEFAULT_HEADER_TIMEOUT_SECS,
            body_timeout_secs: Self::DEFAULT_BODY_TIMEOUT_SECS,
            shutdown_deadline_secs: Self::DEFAULT_SHUTDOWN_DEADLINE_SECS,
            body_budget_bytes: Self::DEFAULT_BODY_BUDGET_BYTES,
            max_uploads: None,
        }
    }
}

pub const DEFAULT_ORIGIN: &str = "localhost/threadlog";
