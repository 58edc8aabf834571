//! Moving a log between stores: SQLite → PostgreSQL → SQLite through `threadlog export`
//! and `threadlog import` keeps every index, leaf byte, checkpoint and tile, the moved
//! log verifies and keeps deduplicating; a damaged dump is refused, saying where, and
//! leaves the target store empty.

use crate::common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{event, proc, TestServer};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use threadlog::dump::{self, DumpError};
use threadlog::merkle::{self, TileId, TILE_WIDTH};
use threadlog::store::{self, EntryQuery, SqliteStore, Store};

mod backups;
mod damaged;
mod round_trip;

/// A log of 10 batches of 40 events: 11 checkpoints, one full leaf tile.
pub(super) async fn build(s: &TestServer) {
    for b in 0..10 {
        let batch: Vec<Value> = (0..40).map(|i| event(&format!("b{b}-e{i}"))).collect();
        let (status, _) = s.post_events(&Value::Array(batch)).await;
        assert_eq!(status, 201);
    }
}

pub(super) async fn sqlite_at(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&format!("sqlite://{}", dir.join("t.db").display()))
            .await
            .unwrap(),
    )
}

/// Everything a log consists of, read back from a store.
pub(super) async fn contents(
    store: &dyn Store,
) -> (
    Vec<threadlog::store::StoredEntry>,
    Vec<threadlog::store::StoredCheckpoint>,
    Vec<Option<Vec<u8>>>,
) {
    let entries = store
        .entries(&EntryQuery {
            limit: 100_000,
            ..EntryQuery::default()
        })
        .await
        .unwrap();
    let checkpoints = store.checkpoints(None, 10_000).await.unwrap();
    let size = checkpoints.last().unwrap().tree_size;
    let mut ids: Vec<TileId> = (0..size / TILE_WIDTH)
        .map(|index| TileId { level: 0, index })
        .collect();
    ids.extend(merkle::edge_tiles(size).into_iter().map(|(id, _)| id));
    let tiles = store.read_tiles(&ids).await.unwrap();
    (entries, checkpoints, tiles)
}

pub(super) fn sbom_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/sbom/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Three SBOM entries binding two documents (one of them twice, for two images).
pub(super) async fn add_sboms(s: &TestServer) -> Vec<[u8; 32]> {
    let mut digests = Vec::new();
    for (img, name, ct) in [
        (1u8, "py-env-1.5.json", "application/vnd.cyclonedx+json"),
        (2, "py-env-1.6.xml", "application/vnd.cyclonedx+xml"),
        (3, "py-env-1.5.json", "application/vnd.cyclonedx+json"),
    ] {
        let doc = sbom_fixture(name);
        let path = format!("/v1/sboms?subject=sha256:{}", hex::encode([img; 32]));
        let (status, r) = s.post_bytes(&path, &s.ci, ct, doc.clone()).await;
        assert_eq!(status, 201, "{r}");
        digests.push(<[u8; 32]>::from(<sha2::Sha256 as sha2::Digest>::digest(
            &doc,
        )));
    }
    digests.sort();
    digests.dedup();
    digests
}

pub(super) fn env(db: &str) -> Vec<(&str, &str)> {
    vec![("DATABASE_URL", db)]
}

/// A copy of the whole dump directory, blobs included.
pub(super) fn copy_dump(src: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in [dump::MANIFEST, dump::ENTRIES, dump::CHECKPOINTS] {
        std::fs::copy(src.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::create_dir(dir.path().join(dump::BLOBS)).unwrap();
    for f in std::fs::read_dir(src.join(dump::BLOBS)).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(dump::BLOBS).join(f.file_name())).unwrap();
    }
    dir
}
