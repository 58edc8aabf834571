//! The `Store` contract, as one suite every implementation must pass: SQLite and
//! PostgreSQL run the same cases with the same expectations.

use crate::common;

use std::sync::Arc;
use threadlog::entry::{Edge, EdgeKind};
use threadlog::merkle::{Hash, TileId};
use threadlog::store::*;

mod appenders;
mod blobs;
mod entries;
mod thread;

pub(super) async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    (dir, Arc::new(store))
}

pub(super) async fn postgres() -> Arc<dyn Store> {
    let url = common::pg::fresh_database().await;
    Arc::new(PostgresStore::open(&url).await.unwrap())
}

/// Entries carry the time of the checkpoint that covers them, as the sequencer writes.
pub(super) fn time(size: u64) -> String {
    format!("2026-11-24T12:00:{size:02}.000000Z")
}

pub(super) fn entry(index: u64, size: u64, kind: &str, subjects: &[&str], key: &str) -> NewEntry {
    NewEntry {
        entry: StoredEntry {
            index,
            kind: kind.into(),
            integrated_at: time(size),
            leaf: format!("leaf {index}").into_bytes(),
        },
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        dedup_key: Some(key.into()),
        content_sha256: [index as u8; 32],
        thread: Default::default(),
        blob: None,
    }
}

pub(super) fn checkpoint(size: u64) -> StoredCheckpoint {
    StoredCheckpoint {
        tree_size: size,
        root_hash: Hash([size as u8; 32]),
        note: format!("note {size}\n"),
        created_at: time(size),
    }
}

pub(super) async fn write(
    store: &dyn Store,
    entries: Vec<NewEntry>,
    tiles: Vec<(TileId, Vec<u8>)>,
    size: u64,
    commit: bool,
) {
    let mut tx = store.begin_append().await.unwrap();
    tx.write(&AppendBatch {
        entries,
        tiles,
        checkpoint: checkpoint(size),
    })
    .await
    .unwrap();
    if commit {
        tx.commit().await.unwrap();
    }
}
