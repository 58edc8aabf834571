//! The digital thread: genealogy traces, recall impact and evidence bundles, read from
//! the edges event entries create (the derivation rules are `entry::edges`).
//!
//! Owns the traversals and what their answers mean; it reads the store and never writes
//! to it, except to back-fill the edges of entries logged before the thread existed.
//! Every answer is computed at one signed checkpoint and counts only entries below its
//! tree size, so it can be recomputed later at the same size and give the same result.

pub mod backfill;
mod bundle;
pub mod dot;
mod downstream;
mod recall;
mod trace;

pub use backfill::backfill;
pub use bundle::{build_bundle, BundleOptions};
pub use recall::{recall_impact, Recall, RecallOptions, Suspect};
pub use threadlog_core::graph::{self, CheckpointRef, MAX_DEPTH};
pub use trace::{parse_direction, trace, Direction, Trace, TraceOptions};

use crate::entry::NodeType;
use crate::store::{Backlog, Store, StoreError, StoredCheckpoint};

#[derive(Debug, thiserror::Error)]
pub enum ThreadError {
    /// The caller asked for something malformed; the message says what and how to fix it.
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} appears in no entry below tree size {1}")]
    UnknownNode(String, u64),
    #[error("no checkpoint was issued at tree size {0}")]
    NoCheckpoint(u64),
    /// Entries logged before the thread existed are still being indexed.
    #[error(
        "the thread index is being built for entries logged before it existed ({} of {} \
         done); ask again shortly, or for a tree size up to {}",
        .0.next, .0.end, .0.next
    )]
    Indexing(Backlog),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks a node id: a known type prefix and an id.
pub fn parse_node(id: &str) -> Result<NodeType, ThreadError> {
    NodeType::of(id).ok_or_else(|| {
        ThreadError::BadRequest(format!(
            "{id:?} is not a node id; use one of lot:ID, sublot:ID, serial:ID, work_order:ID, \
             equipment:ID, sha256:HEX (program or software) or customer:ID"
        ))
    })
}

impl From<&StoredCheckpoint> for CheckpointRef {
    fn from(c: &StoredCheckpoint) -> Self {
        CheckpointRef {
            tree_size: c.tree_size,
            root_hash: c.root_hash.to_base64(),
            note: c.note.clone(),
        }
    }
}

/// The checkpoint to answer at: the one issued at `tree_size`, else the latest; refused
/// while entries below it still wait for their edges.
pub async fn checkpoint_at(
    store: &dyn Store,
    tree_size: Option<u64>,
) -> Result<StoredCheckpoint, ThreadError> {
    let cp = match tree_size {
        Some(size) => store
            .checkpoint(size)
            .await?
            .ok_or(ThreadError::NoCheckpoint(size))?,
        None => store
            .latest_checkpoint()
            .await?
            .ok_or_else(|| StoreError::Corrupt("the log has no checkpoint".into()))?,
    };
    let backlog = store.thread_backlog().await?;
    if !backlog.done() && cp.tree_size > backlog.next {
        return Err(ThreadError::Indexing(backlog));
    }
    Ok(cp)
}

/// An RFC 3339 time as microseconds since the epoch, for time windows.
pub fn parse_micros(name: &str, s: &str) -> Result<i64, ThreadError> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.timestamp_micros())
        .map_err(|e| {
            ThreadError::BadRequest(format!(
                "{name}: {s:?} is not an RFC 3339 timestamp with offset ({e})"
            ))
        })
}
