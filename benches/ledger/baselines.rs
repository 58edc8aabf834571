//! The plain-SQLite baselines the ledger's appends are measured against: the same leaf
//! bytes, and the same rows, written with plain multi-row INSERTs at the same
//! durability.

use crate::support::{plain_sqlite, EdgeRow, Interner};
use sqlx::SqliteConnection;
use std::time::Instant;
use threadlog::entry::PreparedEntry;
use threadlog::store::SqliteStore;

/// The same leaf bytes inserted with plain multi-row INSERTs, same durability, in
/// transactions of the size the sequencer commits.
pub async fn append_plain(leaves: &[Vec<u8>], batch: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let pool = plain_sqlite(&format!(
        "sqlite://{}",
        dir.path().join("plain.db").display()
    ))
    .await;
    sqlx::query("CREATE TABLE leaves (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let start = Instant::now();
    let mut idx = 0i64;
    for chunk in leaves.chunks(batch) {
        let mut tx = pool.begin().await.unwrap();
        for part in chunk.chunks(500) {
            let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO leaves (idx, leaf) ");
            q.push_values(part, |mut b, leaf| {
                b.push_bind(idx).push_bind(leaf.as_slice());
                idx += 1;
            });
            q.build().execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    leaves.len() as f64 / start.elapsed().as_secs_f64()
}

/// The rows the ledger writes for the same entries (leaves, subject rows, idempotency
/// keys) with plain multi-row INSERTs into the ledger's own schema and indexes, same
/// durability: what the storage alone costs, without locking, tree, signatures,
/// duplicate checks or receipts.
pub async fn append_plain_rows(entries: &[PreparedEntry], leaves: &[Vec<u8>], batch: usize) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rows.db").display());
    drop(SqliteStore::open(&url).await.unwrap()); // the same migrations
    let pool = plain_sqlite(&url).await;
    let mut interner = Interner::default();
    let start = Instant::now();
    for (n, chunk) in entries.chunks(batch).enumerate() {
        let first = (n * batch) as i64;
        let mut tx = pool.begin().await.unwrap();
        let rows: Vec<(i64, &PreparedEntry, &[u8])> = chunk
            .iter()
            .enumerate()
            .map(|(i, e)| (first + i as i64, e, leaves[n * batch + i].as_slice()))
            .collect();
        insert_entries(&mut tx, &rows).await;
        insert_subjects(&mut tx, &rows).await;
        let (nodes, edges) = interner.rows(first, chunk);
        insert_thread(&mut tx, &nodes, &edges).await;
        tx.commit().await.unwrap();
    }
    entries.len() as f64 / start.elapsed().as_secs_f64()
}

/// The entry rows and their idempotency keys, 500 rows per INSERT.
async fn insert_entries(tx: &mut SqliteConnection, rows: &[(i64, &PreparedEntry, &[u8])]) {
    let time = "2026-12-01T00:00:00.000000Z";
    for part in rows.chunks(500) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO entries (idx, kind, integrated_at, leaf) ",
        );
        q.push_values(part, |mut b, (i, e, leaf)| {
            b.push_bind(*i)
                .push_bind(e.kind.as_str())
                .push_bind(time)
                .push_bind(*leaf);
        });
        q.build().execute(&mut *tx).await.unwrap();
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO dedup (key, idx, content_sha256) ",
        );
        q.push_values(part, |mut b, (i, e, _)| {
            b.push_bind(e.dedup_key.as_str())
                .push_bind(*i)
                .push_bind(e.content_sha256.as_slice());
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
}

/// The subject rows, in key order, 500 rows per INSERT.
async fn insert_subjects(tx: &mut SqliteConnection, rows: &[(i64, &PreparedEntry, &[u8])]) {
    let mut subjects: Vec<(&str, i64)> = rows
        .iter()
        .flat_map(|(i, e, _)| e.subjects.iter().map(move |s| (s.as_str(), *i)))
        .collect();
    subjects.sort_unstable();
    for part in subjects.chunks(500) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO subjects (subject, idx) ");
        q.push_values(part, |mut b, (s, i)| {
            b.push_bind(*s).push_bind(*i);
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
}

/// The thread's new nodes and edges, 500 rows per INSERT.
async fn insert_thread(tx: &mut SqliteConnection, nodes: &[(i64, String)], edges: &[EdgeRow<'_>]) {
    for part in nodes.chunks(500) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new("INSERT INTO nodes (id, name) ");
        q.push_values(part, |mut b, (id, name)| {
            b.push_bind(*id).push_bind(name.as_str());
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
    for part in edges.chunks(500) {
        let mut q = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO edges (src, idx, dst, kind, at, label) ",
        );
        q.push_values(part, |mut b, e| {
            b.push_bind(e.0)
                .push_bind(e.1)
                .push_bind(e.2)
                .push_bind(e.3)
                .push_bind(e.4)
                .push_bind(e.5);
        });
        q.build().execute(&mut *tx).await.unwrap();
    }
}
