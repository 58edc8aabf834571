//! Tamper tests: change stored bytes in the SQLite file itself, or delete, reorder and
//! truncate its rows, and expect `threadlog verify --database` to exit 1 naming exactly
//! what was changed.

use crate::common;

use common::{event, TestServer};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

async fn build_log() -> (tempfile::TempDir, String) {
    let s = TestServer::start().await;
    for round in 0..6 {
        let batch: Vec<Value> = (0..100)
            .map(|i| event(&format!("tamper-{:04}", round * 100 + i)))
            .collect();
        let (status, _) = s.post_events(&Value::Array(batch)).await;
        assert_eq!(status, 201);
    }
    let key = s.verifier_key.to_string();
    let dir = s.stop().await;
    // Fold the WAL into the main file so the bytes below are where the test looks.
    let url = format!("sqlite://{}", dir.path().join("threadlog.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    // Rewritten edge tiles leave old copies in free pages; VACUUM drops them. VACUUM goes
    // through the WAL too, so fold the WAL into the file afterwards and check it is empty.
    sqlx::query("VACUUM").execute(&pool).await.unwrap();
    let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(busy, 0, "WAL checkpoint blocked");
    pool.close().await;
    (dir, key)
}

fn db(dir: &Path) -> std::path::PathBuf {
    dir.join("threadlog.db")
}

fn flip_at(path: &Path, needle: &[u8], offset_in_needle: usize, new_byte: u8) {
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("pattern is in the file");
    assert!(
        bytes[at + needle.len()..]
            .windows(needle.len())
            .all(|w| w != needle),
        "pattern must be unique"
    );
    assert_ne!(bytes[at + offset_in_needle], new_byte);
    bytes[at + offset_in_needle] = new_byte;
    std::fs::write(path, bytes).unwrap();
}

fn verify_db(dir: &Path, key: &str) -> (i32, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_threadlog"))
        .args(["verify", "--json", "--key", key, "--database"])
        .arg(format!("sqlite://{}", db(dir).display()))
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), report)
}

#[tokio::test]
async fn untouched_log_verifies() {
    let (dir, key) = build_log().await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["entries_checked"], 600);
    assert!(report["checkpoints_checked"].as_u64().unwrap() >= 7);
    assert!(report["tiles_checked"].as_u64().unwrap() >= 3);
}

#[tokio::test]
async fn a_changed_leaf_byte_names_the_entry() {
    let (dir, key) = build_log().await;
    // Turn event id "tamper-0421" into "tamper-0521" inside the leaf: still canonical JSON.
    flip_at(&db(dir.path()), b"\"event_id\":\"tamper-0421\"", 20, b'5');
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["index"], 421, "{report}");
}

#[tokio::test]
async fn a_changed_tile_hash_is_caught() {
    let (dir, key) = build_log().await;
    let url = format!("sqlite://{}", db(dir.path()).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let tile: Vec<u8> = sqlx::query_scalar("SELECT data FROM tiles WHERE level = 0 AND idx = 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    // Hash 10 of tile 0/1 is entry 266's stored leaf hash.
    let needle = &tile[10 * 32..11 * 32];
    let original = needle[5];
    flip_at(&db(dir.path()), needle, 5, original ^ 0x01);
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["tile"], "0/1", "{report}");
    assert_eq!(report["failure"]["index"], 266, "{report}");
}

#[tokio::test]
async fn a_changed_checkpoint_signature_is_caught() {
    let (dir, key) = build_log().await;
    let url = format!("sqlite://{}", db(dir.path()).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let note: String = sqlx::query_scalar("SELECT note FROM checkpoints WHERE tree_size = 300")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sig_line = note.lines().last().unwrap().as_bytes().to_vec();
    let pos = sig_line.len() - 10;
    let replacement = if sig_line[pos] == b'A' { b'B' } else { b'A' };
    flip_at(&db(dir.path()), &sig_line, pos, replacement);
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["checkpoint"], 300, "{report}");
}

/// Runs SQL against the stopped log's database, as someone with write access to the file.
async fn tamper(dir: &Path, statements: &[&str]) {
    let url = format!("sqlite://{}", db(dir).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    for statement in statements {
        let done = sqlx::query(statement).execute(&pool).await.unwrap();
        assert!(done.rows_affected() > 0, "{statement} changed nothing");
    }
    pool.close().await;
}

/// Exchanges two rows' contents, keeping their keys: the rows swap places.
async fn swap_rows(dir: &Path, table: &str, key: &str, a: i64, b: i64) {
    let url = format!("sqlite://{}", db(dir).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    // Park row a at an unused key, move b to a, then the parked row to b.
    let park = -1_000_000;
    for (from, to) in [(a, park), (b, a), (park, b)] {
        let done = sqlx::query(&format!("UPDATE {table} SET {key} = ? WHERE {key} = ?"))
            .bind(to)
            .bind(from)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(done.rows_affected(), 1, "{table} {from} -> {to}");
    }
    tx.commit().await.unwrap();
    pool.close().await;
}

fn failure(report: &Value) -> (Value, Value, Value, String) {
    let f = &report["failure"];
    (
        f["index"].clone(),
        f["checkpoint"].clone(),
        f["tile"].clone(),
        f["reason"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_deleted_entry_row_names_the_entry() {
    let (dir, key) = build_log().await;
    tamper(dir.path(), &["DELETE FROM entries WHERE idx = 421"]).await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        failure(&report),
        (
            421.into(),
            Value::Null,
            Value::Null,
            "entry 421 is missing (the source skipped to 422)".into()
        ),
        "{report}"
    );
}

#[tokio::test]
async fn swapped_entry_rows_name_the_first_moved_entry() {
    let (dir, key) = build_log().await;
    // Both rows keep valid, canonical leaves: only their order in the log changes.
    swap_rows(dir.path(), "entries", "idx", 421, 422).await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        failure(&report),
        (
            421.into(),
            500.into(),
            Value::Null,
            "the tree rebuilt from the leaves does not match the checkpoint at tree size 500: \
             entry 421 is not the leaf the signed tree holds"
                .into()
        ),
        "{report}"
    );
}

#[tokio::test]
async fn a_log_truncated_below_its_checkpoint_names_the_first_missing_entry() {
    let (dir, key) = build_log().await;
    tamper(dir.path(), &["DELETE FROM entries WHERE idx >= 550"]).await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        failure(&report),
        (
            550.into(),
            Value::Null,
            Value::Null,
            "entry 550 is missing but the checkpoint covers 600 entries".into()
        ),
        "{report}"
    );
}

#[tokio::test]
async fn a_deleted_checkpoint_row_is_named() {
    let (dir, key) = build_log().await;
    let url = format!("sqlite://{}", db(dir.path()).display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let times: Vec<String> = sqlx::query_scalar(
        "SELECT integrated_at FROM entries WHERE idx IN (299, 300) ORDER BY idx",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    assert_ne!(times[0], times[1], "entries 299 and 300 are two batches");
    tamper(
        dir.path(),
        &["DELETE FROM checkpoints WHERE tree_size = 300"],
    )
    .await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        failure(&report),
        (
            Value::Null,
            300.into(),
            Value::Null,
            format!(
                "no checkpoint is stored at tree size 300, where a batch ends: entry 299 was \
                 integrated at {}, entry 300 at {}",
                times[0], times[1]
            )
        ),
        "{report}"
    );
}

#[tokio::test]
async fn a_deleted_latest_checkpoint_row_is_named() {
    let (dir, key) = build_log().await;
    tamper(
        dir.path(),
        &["DELETE FROM checkpoints WHERE tree_size = 600"],
    )
    .await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        failure(&report),
        (
            500.into(),
            500.into(),
            Value::Null,
            "entry 500 is stored beyond the latest checkpoint (tree size 500): the checkpoint \
             that covers it is missing"
                .into()
        ),
        "{report}"
    );
}

#[tokio::test]
async fn swapped_checkpoint_rows_are_named() {
    let (dir, key) = build_log().await;
    swap_rows(dir.path(), "checkpoints", "tree_size", 200, 300).await;
    let (code, report) = verify_db(dir.path(), &key);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        failure(&report),
        (
            Value::Null,
            200.into(),
            Value::Null,
            "checkpoint stored at size 200 says size 300".into()
        ),
        "{report}"
    );
}
