//! The sequencer never signs a tree it has not proved consistent with the last one it
//! signed: a stored edge hash changed under a running server, before a start, or under a
//! second server taking the writer lock halts appends (503 naming the tile and the tree
//! size, `/readyz` not ready, an error-level log line), while reads and proofs of the
//! last good checkpoint are still served. Both backends.

#[macro_use]
mod common;

use common::{event, hashes, TestServer};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use threadlog::merkle::{self, Hash};
use threadlog::note;

/// Everything the tests' servers log, to look for the operator's error line.
fn logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .with_writer(move || Sink(sink.clone()))
            .init();
        buf
    })
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn error_lines_naming(needle: &str) -> Vec<String> {
    let logs = logs().lock().unwrap();
    String::from_utf8_lossy(&logs)
        .lines()
        .filter(|l| l.contains("ERROR") && l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Flips one bit of hash `hash` in the stored tile `level/index`.
async fn flip_tile_bit(database_url: &str, level: i64, index: i64, hash: usize) {
    let flip = |mut data: Vec<u8>| {
        data[hash * 32 + 7] ^= 0x01;
        data
    };
    let select = "SELECT data FROM tiles WHERE level = $1 AND idx = $2";
    let update = "UPDATE tiles SET data = $1 WHERE level = $2 AND idx = $3";
    if database_url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(database_url).await.unwrap();
        let data: Vec<u8> = sqlx::query_scalar(select)
            .bind(level)
            .bind(index)
            .fetch_one(&pool)
            .await
            .unwrap();
        let n = sqlx::query(update)
            .bind(flip(data))
            .bind(level)
            .bind(index)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(database_url).await.unwrap();
        let data: Vec<u8> = sqlx::query_scalar(select)
            .bind(level as i16)
            .bind(index)
            .fetch_one(&pool)
            .await
            .unwrap();
        let n = sqlx::query(update)
            .bind(flip(data))
            .bind(level as i16)
            .bind(index)
            .execute(&pool)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 1);
        pool.close().await;
    }
}

/// 300 events: tile 0/1 is the level-0 edge (44 hashes), tile 1/0 the level-1 edge.
async fn log_300(s: &TestServer, prefix: &str) {
    for chunk in 0..3 {
        let batch: Vec<Value> = (0..100)
            .map(|i| event(&format!("{prefix}-{}", chunk * 100 + i)))
            .collect();
        assert_eq!(s.post_events(&json!(batch)).await.0, 201);
    }
    assert_eq!(s.tree_size().await, 300);
}

/// A refused append: 503, code `halted`, naming the tile and the tree size.
async fn assert_halted(s: &TestServer, id: &str, tile: &str) -> String {
    let (status, body) = s.post_events(&event(id)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "halted", "{body}");
    let message = body["message"].as_str().unwrap().to_string();
    assert!(message.contains(tile), "{message}");
    assert!(message.contains("tree size 300"), "{message}");
    let (ready, reason) = s.get("/readyz", "").await;
    assert_eq!(ready, 503, "{reason}");
    assert!(reason.contains(tile), "{reason}");
    assert_eq!(s.tree_size().await, 300, "nothing appended");
    message
}

/// The last good checkpoint is still served, and a proof against it still verifies.
async fn assert_last_good_served(s: &TestServer, checkpoint: &str, index: u64) {
    let (status, served) = s.get("/v1/checkpoint", &s.auditor).await;
    assert_eq!(status, 200);
    assert_eq!(served, checkpoint);
    let (cp, _) =
        note::open_checkpoint(checkpoint, std::slice::from_ref(&s.verifier_key), &s.origin)
            .unwrap();
    let (status, entry) = s.get_json(&format!("/v1/entries/{index}")).await;
    assert_eq!(status, 200, "{entry}");
    let leaf_hash = Hash::from_base64(entry["leaf_hash"].as_str().unwrap()).unwrap();
    let (status, proof) = s
        .get_json(&format!("/v1/proofs/inclusion?index={index}&tree_size=300"))
        .await;
    assert_eq!(status, 200, "{proof}");
    merkle::verify_inclusion(&hashes(&proof), index, 300, &leaf_hash, &Hash(cp.root_hash))
        .expect("the proof verifies against the last good checkpoint");
}

async fn checkpoint_text(s: &TestServer) -> String {
    let (status, text) = s.get("/v1/checkpoint", &s.auditor).await;
    assert_eq!(status, 200);
    text
}

both!(
    a_changed_edge_tile_halts_a_running_server,
    a_changed_edge_tile_halts_the_next_start,
);

async fn a_changed_edge_tile_halts_a_running_server(s: TestServer) {
    logs();
    log_300(&s, "run").await;
    let checkpoint = checkpoint_text(&s).await;
    flip_tile_bit(&s.database_url, 0, 1, 1).await;

    let message = assert_halted(&s, "run-after", "tile 0/1 (44 hashes)").await;
    assert!(message.contains("node 257"), "{message}");
    // Halted for good, not for one batch.
    assert_halted(&s, "run-after-2", "tile 0/1").await;
    assert_last_good_served(&s, &checkpoint, 290).await;
    assert_eq!(checkpoint_text(&s).await, checkpoint);
    assert!(
        !error_lines_naming("tile 0/1 (44 hashes)").is_empty(),
        "an error-level log line names the tile"
    );
}

async fn a_changed_edge_tile_halts_the_next_start(s: TestServer) {
    logs();
    log_300(&s, "start").await;
    let checkpoint = checkpoint_text(&s).await;
    let database_url = s.database_url.clone();
    let dir = s.stop().await;
    flip_tile_bit(&database_url, 0, 1, 1).await;

    let s = TestServer::start_with(dir, |mut c| {
        c.store.database_url = Some(database_url.clone());
        c
    })
    .await;
    let message = assert_halted(&s, "start-after", "tile 0/1 (44 hashes)").await;
    assert!(message.contains("leaf at index 257"), "{message}");
    assert_eq!(checkpoint_text(&s).await, checkpoint);
    let (status, entry) = s.get_json("/v1/entries/3").await;
    assert_eq!(status, 200, "{entry}");
}

/// Two servers share one PostgreSQL log. A hash changed behind the back of the server
/// that last wrote is caught by the one that takes the writer lock next, and by the
/// first one when it writes again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_taking_the_writer_lock_checks_what_another_signed() {
    logs();
    let a = TestServer::start_pg().await;
    let url = a.database_url.clone();
    let key = format!("file:{}", a.dir.path().join("log.key").display());
    let b = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.store.database_url = Some(url.clone());
        c.signer = Some(key);
        c
    })
    .await;
    assert_eq!(b.post_events(&event("b-first")).await.0, 201);
    let batch: Vec<Value> = (0..299).map(|i| event(&format!("a-{i}"))).collect();
    assert_eq!(a.post_events(&json!(batch)).await.0, 201);
    assert_eq!(a.tree_size().await, 300);
    flip_tile_bit(&url, 1, 0, 0).await;

    // B last saw tree size 1: the stored edge of 300 must hash to A's signed root.
    let (status, body) = b.post_events(&event("b-second")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "halted", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("tree size 300"), "{message}");
    assert!(message.contains("tile 1/0"), "{message}");
    // A signed 300 itself and sees the changed level-1 edge tile.
    assert_halted(&a, "a-more", "tile 1/0 (1 hashes)").await;
    assert_eq!(b.tree_size().await, 300);
}

/// A stored full tile that no longer matches is never turned into a receipt: the
/// self-check of every inclusion proof refuses to answer with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_is_checked_before_it_is_sent() {
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.tile_cache = 1;
        c
    })
    .await;
    log_300(&s, "r").await;
    let database_url = s.database_url.clone();
    let dir = s.stop().await;
    flip_tile_bit(&database_url, 0, 0, 5).await;
    let s = TestServer::start_with(dir, |mut c| {
        c.store.database_url = Some(database_url.clone());
        c.tile_cache = 1;
        c
    })
    .await;
    // A duplicate of entry 4 is answered with its first receipt, proved from tile 0/0.
    let (status, body) = s.post_events(&event("r-4")).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "internal", "{body}");
    assert_eq!(s.tree_size().await, 300);
}
