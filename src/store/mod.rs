//! Durable storage of the log behind the [`Store`] trait; SQL lives in the backends and
//! in `migrations/`, nowhere else.
//!
//! The trait is shaped after its callers: the sequencer begins an append transaction,
//! reads the tree state under the log lock and writes one batch; readers fetch tiles,
//! entries and checkpoints. Stores never compute hashes or sign: they keep bytes.
//!
//! Guarantees every implementation gives (checked by one contract test suite):
//! - *Atomicity*: everything written through one [`AppendTx`] becomes visible at once on
//!   `commit`, or not at all (dropping the transaction rolls it back).
//! - *Durability*: when `commit` returns `Ok`, the batch survives a crash or power loss.
//! - *Serialization*: between `begin_append` and `commit`, no other appender (in this
//!   process or another) can write; the state read inside the transaction is current.
//! - Readers never see a tree size without its entries, tiles and checkpoint.

mod postgres;
mod reads;
mod rows;
mod sqlite;
mod thread;
mod tiles;
mod tokens;
mod writes;

pub use crate::thread::graph::LoggedEdge;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use thread::{Backlog, Correction, EdgeEnd, EdgeQuery, EntryThread};
pub use tiles::TileCache;

use crate::merkle::{Hash, TileId};
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or refused the operation; retrying later may work.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Stored data breaks an invariant of the log.
    #[error("store is inconsistent: {0}")]
    Corrupt(String),
    /// The request conflicts with what is stored (e.g. a token hash collision).
    #[error("{0}")]
    Conflict(String),
    #[error("bad configuration: {0}")]
    Config(String),
}

/// The log identity the database remembers, so a misconfigured server cannot split it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMeta {
    pub origin: String,
    pub verifier_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub tree_size: u64,
    pub root_hash: Hash,
    /// The signed note text, exactly as issued.
    pub note: String,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub index: u64,
    pub kind: String,
    pub integrated_at: String,
    pub leaf: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub entry: StoredEntry,
    pub subjects: Vec<String>,
    pub dedup_key: Option<String>,
    pub content_sha256: [u8; 32],
    /// The genealogy edges the entry creates and the entry it corrects, if any.
    pub thread: EntryThread,
    /// The document the leaf binds; written with the entry unless that digest is stored
    /// already (stored bytes are never rewritten).
    pub blob: Option<crate::entry::Blob>,
}

/// A stored document, exactly as uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub media_type: String,
    /// The first entry that bound it.
    pub index: u64,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DedupHit {
    pub index: u64,
    pub content_sha256: [u8; 32],
}

/// One batch: new leaves, the tiles that changed and the checkpoint that covers them.
/// Every entry carries the checkpoint's time as its `integrated_at`, and checkpoint
/// times never decrease: time filters rely on it (see [`entries_sql`]).
#[derive(Debug, Clone)]
pub struct AppendBatch {
    pub entries: Vec<NewEntry>,
    pub tiles: Vec<(TileId, Vec<u8>)>,
    pub checkpoint: StoredCheckpoint,
}

/// A page request over entries; all filters are optional and combine with AND.
#[derive(Debug, Clone, Default)]
pub struct EntryQuery {
    pub kind: Option<String>,
    pub subject: Option<String>,
    /// Inclusive lower bound on `integrated_at` (same fixed-width RFC 3339 form).
    pub since: Option<String>,
    /// Exclusive upper bound on `integrated_at`.
    pub until: Option<String>,
    /// Only entries with an index greater than this (the page cursor).
    pub after: Option<u64>,
    /// Only entries with an index below this (e.g. a checkpoint's tree size).
    pub below: Option<u64>,
    pub limit: u32,
}

/// An API token as stored: never the secret, only who holds it and its lifecycle. Times
/// are RFC 3339 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub name: String,
    pub role: String,
    pub created_at: String,
    /// After this instant the token is refused; `None`: it does not expire.
    pub expires_at: Option<String>,
    /// When `token revoke` ended it; a revoked token is refused from the next request on.
    pub revoked_at: Option<String>,
    /// Updated at most once a minute per server, so it may lag by that much.
    pub last_used_at: Option<String>,
}

/// The right edge of the log as the append transaction sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    /// The tree size of the latest checkpoint.
    pub tree_size: u64,
    /// When the latest checkpoint was made: the floor for the next integration time,
    /// whichever server made it.
    pub created_at: Option<String>,
    /// The edge tiles of `tree_size`, at exactly the width it needs.
    pub edge: Vec<(TileId, Vec<u8>)>,
    /// The log's current verifier key as of the log lock (`None` before the identity is
    /// recorded): a server whose key was rotated away must see it before it signs.
    pub verifier_key: Option<String>,
}

/// An open append transaction holding the log lock.
#[async_trait]
pub trait AppendTx: Send {
    /// The frontier as of the log lock: current even when other servers append.
    async fn frontier(&mut self) -> Result<Frontier, StoreError>;
    /// The entries already logged under any of `keys`.
    async fn find_dedup(&mut self, keys: &[&str]) -> Result<Vec<(String, DedupHit)>, StoreError>;
    /// Records the log identity, once: `Conflict` if one is already recorded. In the
    /// transaction, so a log never exists without its first checkpoint.
    async fn init_meta(&mut self, meta: &LogMeta) -> Result<(), StoreError>;
    /// Replaces the log's current verifier key `from` by `to` (a key rotation, logged in
    /// the same transaction). `Conflict` if the current key is no longer `from`: another
    /// rotation got there first.
    async fn rotate_key(&mut self, from: &str, to: &str) -> Result<(), StoreError>;
    /// Writes a batch; visible only after `commit`. May be called several times.
    /// Writes each entry's thread rows (nodes, edges, corrections) with it.
    async fn write(&mut self, batch: &AppendBatch) -> Result<(), StoreError>;
    /// The entries logged before the thread existed that still have no thread rows.
    async fn thread_backlog(&mut self) -> Result<Backlog, StoreError>;
    /// Writes the thread rows of back-log entries and moves the back-log's start from
    /// `from` to `to`; `Conflict` if it is no longer at `from` (another process did it).
    async fn backfill_thread(
        &mut self,
        rows: &[(u64, EntryThread)],
        from: u64,
        to: u64,
    ) -> Result<(), StoreError>;
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Begins an append transaction, taking the log lock.
    async fn begin_append(&self) -> Result<Box<dyn AppendTx>, StoreError>;
    async fn meta(&self) -> Result<Option<LogMeta>, StoreError>;
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;
    async fn checkpoint(&self, tree_size: u64) -> Result<Option<StoredCheckpoint>, StoreError>;
    /// Checkpoints with a tree size above `after`, ascending, at most `limit`.
    async fn checkpoints(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError>;
    /// Tiles by id; a missing tile is `None`.
    async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Option<Vec<u8>>>, StoreError>;
    async fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError>;
    async fn entries(&self, q: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError>;
    async fn find_dedup(&self, key: &str) -> Result<Option<DedupHit>, StoreError>;
    /// Edges at the query's nodes, in no particular order (lowest index first with a
    /// limit).
    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<LoggedEdge>, StoreError>;
    /// Corrections where either side is one of `indexes`, made below `below`, sorted.
    async fn corrections(&self, indexes: &[u64], below: u64)
        -> Result<Vec<Correction>, StoreError>;
    /// The entries that still wait for their thread rows (see `AppendTx::thread_backlog`).
    async fn thread_backlog(&self) -> Result<Backlog, StoreError>;
    /// The document with this SHA-256. Every stored blob is bound by a committed entry:
    /// both are written in one transaction.
    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<StoredBlob>, StoreError>;
    /// Records a new token (its hash only); `expires_at` is RFC 3339 or `None` for never.
    async fn insert_token(
        &self,
        name: &str,
        role: &str,
        token_sha256: &[u8; 32],
        expires_at: Option<&str>,
    ) -> Result<(), StoreError>;
    /// The token with this hash, revoked and expired ones included (the caller refuses
    /// them). Read from the primary on every request: a revocation made through any
    /// server or the CLI counts from the next request.
    async fn token(&self, token_sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
    /// Every token ever created, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes every unrevoked token named `name` as of `at`; returns how many.
    async fn revoke_tokens(&self, name: &str, at: &str) -> Result<u64, StoreError>;
    /// Records that the token was used at `at`.
    async fn touch_token(&self, token_sha256: &[u8; 32], at: &str) -> Result<(), StoreError>;
    /// A cheap round trip, for readiness probes.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Commits a write that changes no data (the meta row set to itself), to learn
    /// whether the store can commit now: after a full disk, a read-only file system or a
    /// lost primary, reads may answer while every commit fails.
    async fn probe_commit(&self) -> Result<(), StoreError>;
}

/// The no-op write of [`Store::probe_commit`], in the SQL both backends share.
pub(crate) const PROBE_COMMIT_SQL: &str = "UPDATE meta SET origin = origin WHERE id = 1";

/// Index and size conversions to SQL integers, in one place.
pub(crate) fn to_sql(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} exceeds the SQL integer range")))
}

pub(crate) fn from_sql(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative index {v} in store")))
}

/// The page query over entries, in the SQL both backends share; placeholders come from
/// the builder.
pub(crate) fn entries_sql<'a, DB>(
    b: &mut sqlx::QueryBuilder<'a, DB>,
    q: &EntryQuery,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    b.push("SELECT e.idx, e.kind, e.integrated_at, e.leaf FROM ");
    if let Some(s) = &q.subject {
        b.push("subjects s JOIN entries e ON e.idx = s.idx WHERE s.subject = ");
        b.push_bind(s.clone());
    } else {
        b.push("entries e WHERE 1 = 1");
    }
    if let Some(k) = &q.kind {
        b.push(" AND e.kind = ").push_bind(k.clone());
    }
    // Entries integrated before T are exactly those below the largest checkpoint made
    // before T (see migrations/*/0002): the time bounds become index bounds.
    const SIZE_BEFORE: &str =
        "(SELECT COALESCE(MAX(tree_size), 0) FROM checkpoints WHERE created_at < ";
    if let Some(s) = &q.since {
        b.push(" AND e.idx >= ")
            .push(SIZE_BEFORE)
            .push_bind(s.clone())
            .push(")");
    }
    if let Some(u) = &q.until {
        b.push(" AND e.idx < ")
            .push(SIZE_BEFORE)
            .push_bind(u.clone())
            .push(")");
    }
    if let Some(a) = q.after {
        b.push(" AND e.idx > ").push_bind(to_sql(a)?);
    }
    if let Some(below) = q.below {
        b.push(" AND e.idx < ").push_bind(to_sql(below)?);
    }
    b.push(" ORDER BY e.idx LIMIT ")
        .push_bind(i64::from(q.limit));
    Ok(())
}

/// The blobs a batch introduces, each once (two entries of a batch may bind one).
pub(crate) fn batch_blobs(batch: &AppendBatch) -> Vec<(&crate::entry::Blob, i64)> {
    let mut seen = std::collections::HashSet::new();
    batch
        .entries
        .iter()
        .filter_map(|e| e.blob.as_ref().map(|b| (b, e.entry.index as i64)))
        .filter(|(b, _)| seen.insert(*b.sha256()))
        .collect()
}

/// Refuses a batch whose entries do not carry its checkpoint's time: the time filters
/// would silently answer wrong.
pub(crate) fn check_times(batch: &AppendBatch) -> Result<(), StoreError> {
    let cp = &batch.checkpoint;
    match batch
        .entries
        .iter()
        .find(|e| e.entry.integrated_at != cp.created_at)
    {
        Some(e) => Err(StoreError::Corrupt(format!(
            "entry {} is stamped {} but its checkpoint {} was made at {}",
            e.entry.index, e.entry.integrated_at, cp.tree_size, cp.created_at
        ))),
        None => Ok(()),
    }
}

/// Checks an edge tile read inside an append transaction. Entries, tiles and checkpoint
/// commit together, so a missing tile or one of another width than the tree size needs
/// is corruption, never a torn write.
pub(crate) fn edge_tile(
    tree_size: u64,
    id: TileId,
    width: u64,
    data: Option<Vec<u8>>,
) -> Result<Vec<u8>, StoreError> {
    let data = data.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "edge tile {}/{} of tree size {tree_size} is missing",
            id.level, id.index
        ))
    })?;
    if data.len() as u64 != width * 32 {
        return Err(StoreError::Corrupt(format!(
            "edge tile {}/{} holds {} bytes, tree size {tree_size} needs {}",
            id.level,
            id.index,
            data.len(),
            width * 32
        )));
    }
    Ok(data)
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Opens the store named by a database URL, applying migrations.
pub async fn open(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open(url).await?))
    } else if is_postgres(url) {
        Ok(std::sync::Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL scheme in {:?}; use sqlite://PATH or postgres://…",
            redact(url)
        )))
    }
}

/// Opens a store only to read it, changing nothing of what it reads: no migrations, no
/// created files. SQLite opens the file read-only (immutable when no `-wal` file exists,
/// so not even `-wal`/`-shm` appear); PostgreSQL runs every statement in a READ ONLY
/// transaction, so a role with SELECT privileges suffices. For `verify --database`.
pub async fn open_read_only(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(std::sync::Arc::new(SqliteStore::open_read_only(url).await?))
    } else if is_postgres(url) {
        Ok(std::sync::Arc::new(PostgresStore::open_reader(url).await?))
    } else {
        Err(StoreError::Config(format!(
            "unsupported database URL scheme in {:?}; use sqlite://PATH or postgres://…",
            redact(url)
        )))
    }
}

/// The file of a SQLite database URL (`None` for other URLs and in-memory databases).
pub fn sqlite_file(url: &str) -> Result<Option<std::path::PathBuf>, StoreError> {
    if !url.starts_with("sqlite:") || url.contains(":memory:") || url.contains("mode=memory") {
        return Ok(None);
    }
    let opts = <sqlx::sqlite::SqliteConnectOptions as std::str::FromStr>::from_str(url)
        .map_err(|e| StoreError::Config(format!("{url}: {e}")))?;
    let path = opts.get_filename();
    Ok((!path.as_os_str().is_empty()).then(|| path.to_path_buf()))
}

/// Creates a data directory (and missing parents) readable by the owner only: it holds
/// the database and the signing key.
pub fn create_data_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
}

/// Opens a read-only view for auditor reads (`THREADLOG_READ_DATABASE_URL`): a
/// PostgreSQL streaming replica of the log's database.
pub async fn open_reader(url: &str) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    if is_postgres(url) {
        Ok(std::sync::Arc::new(PostgresStore::open_reader(url).await?))
    } else {
        Err(StoreError::Config(format!(
            "a read database must be a PostgreSQL replica (postgres://…), not {:?}",
            redact(url)
        )))
    }
}

/// A database URL without its credentials, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}
