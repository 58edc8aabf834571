//! Moving a log between stores: `threadlog export` writes a self-describing dump and
//! `threadlog import` loads one into an empty store of either backend, re-verifying
//! everything on the way. Owns the dump format; must not change a byte of a leaf or a
//! checkpoint, and never trusts a dump further than its signatures prove.
//!
//! A dump is a directory of three files (format `threadlog-dump/1`):
//! - `entries.jsonl`: one line per entry in index order,
//!   `{"index":N,"leaf_hash":"<base64>","leaf":"<base64 of the exact leaf bytes>"}`;
//!   `leaf_hash` only helps name a damaged line: it is recomputed, never trusted.
//! - `checkpoints.jsonl`: every checkpoint the log signed, ascending,
//!   `{"tree_size":N,"created_at":"…","note":"<signed note text>"}`.
//! - `blobs/<hex SHA-256>`: the exact bytes of every document a leaf binds (an SBOM's
//!   `body.document`), once per digest. Import hashes each file and checks it against
//!   the digest, media type and size its first binding leaf states; a dump whose leaves
//!   bind no document has no `blobs/` (and reads as before blobs existed).
//! - `manifest.json`, written last: origin, verifier key, key history, tree size and
//!   root, the latest signed checkpoint, each file's line count and SHA-256, and the
//!   number and total size of the blobs (only when there are any).
//!
//! Index rows (subjects, idempotency keys) and tiles are not in the dump: they are
//! derived from the leaves again, exactly as the sequencer derived them. Tokens are not
//! either: credentials belong to a deployment, not to the log.

mod export;
mod import;
mod load;

pub use export::{export, ExportReport};
pub use import::{import, ImportReport};

use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "threadlog-dump/1";

/// What a dump holds, as export and import report it (flattened into their JSON).
#[derive(Debug, Clone, Serialize)]
pub struct DumpSummary {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: String,
    pub entries: u64,
    pub checkpoints: u64,
    pub blobs: u64,
}

impl std::fmt::Display for DumpSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} entries, {} checkpoints and {} documents of {} (tree size {}, root {})",
            self.entries, self.checkpoints, self.blobs, self.origin, self.tree_size, self.root_hash
        )
    }
}
pub const MANIFEST: &str = "manifest.json";
pub const ENTRIES: &str = "entries.jsonl";
pub const CHECKPOINTS: &str = "checkpoints.jsonl";
pub const BLOBS: &str = "blobs";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub origin: String,
    pub verifier_key: String,
    /// Every key that signed checkpoints of this log, oldest first.
    pub keys: Vec<KeyRecord>,
    pub tree_size: u64,
    /// Base64 root hash at `tree_size`.
    pub root_hash: String,
    /// The signed checkpoint at `tree_size`.
    pub checkpoint: String,
    pub entries: FileRecord,
    pub checkpoints: FileRecord,
    /// Absent when no leaf binds a document, so such dumps stay readable by importers
    /// that predate blobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blobs: Option<BlobsRecord>,
    pub exported_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct BlobsRecord {
    /// The directory holding one file per digest, named by its hex SHA-256.
    pub dir: String,
    pub count: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KeyRecord {
    pub verifier_key: String,
    /// The first tree size whose checkpoint this key signed.
    pub from_tree_size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub file: String,
    pub lines: u64,
    /// Hex SHA-256 of the file's bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryLine {
    index: u64,
    leaf_hash: String,
    leaf: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointLine {
    tree_size: u64,
    created_at: String,
    note: String,
}

#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The dump does not verify; `at` says where (a file and line, an entry or a
    /// checkpoint). Nothing was imported.
    #[error("the dump does not verify at {at}: {reason}")]
    Broken { at: String, reason: String },
    #[error("the target store already holds a log (origin {0:?}); import needs an empty one")]
    NotEmpty(String),
    #[error("{0} exists and is not empty; export into a new directory")]
    OutExists(String),
    #[error("the store holds no log to export")]
    NoLog,
}

fn io_err(path: &std::path::Path, e: impl std::fmt::Display) -> DumpError {
    DumpError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn broken(at: impl Into<String>, reason: impl Into<String>) -> DumpError {
    DumpError::Broken {
        at: at.into(),
        reason: reason.into(),
    }
}

/// A reader or writer that hashes every byte passing through it.
struct Hashed<T> {
    inner: T,
    sha: sha2::Sha256,
}

impl<T> Hashed<T> {
    fn new(inner: T) -> Self {
        Hashed {
            inner,
            sha: sha2::Digest::new(),
        }
    }

    fn hex(&self) -> String {
        hex::encode(sha2::Digest::finalize(self.sha.clone()))
    }
}

impl<W: std::io::Write> std::io::Write for Hashed<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        sha2::Digest::update(&mut self.sha, &buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: std::io::Read> std::io::Read for Hashed<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.sha, &buf[..n]);
        Ok(n)
    }
}
