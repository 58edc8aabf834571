//! The PostgreSQL store under load, each figure beside its baseline in the same run, on
//! a private durable cluster (fsync and synchronous_commit on):
//! - ingest through the sequencer vs plain batched INSERTs of the same leaves into the
//!   same server, in transactions of the same size;
//! - aggregate ingest with one and with three replicas (separate pools and sequencers on
//!   one database, serialized by the advisory lock);
//! - inclusion-proof latency read from PostgreSQL tiles at large tree sizes;
//! - export and import rates of the ingested log (import includes its verification).
//!
//! Run: `cargo bench --bench postgres` (or `./scripts/bench.sh`). Sizes via env:
//! `BENCH_PG_APPEND` (default 1000000), `BENCH_PG_REPLICA_APPEND` (default 200000),
//! `BENCH_PG_PROOF_SIZES` (default "10000000").

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use common::pg::{create_database, Cluster};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use support::*;
use threadlog::dump;
use threadlog::entry::PreparedEntry;
use threadlog::sequencer::{Sequencer, SequencerConfig};
use threadlog::signer::{FileSigner, Signer};
use threadlog::store::{PostgresStore, SqliteStore, Store, TileCache};

const ORIGIN: &str = "bench.example/log";

struct Bench {
    pg: Cluster,
    dir: tempfile::TempDir,
    signer: Arc<dyn Signer>,
}

impl Bench {
    async fn database(&self, name: &str) -> String {
        create_database(&self.pg.url("postgres"), name).await;
        self.pg.url(name)
    }

    /// `replicas` stores and sequencers on one new database, as separate servers.
    async fn log(&self, name: &str, replicas: usize) -> (Arc<dyn Store>, Vec<Sequencer>) {
        let url = self.database(name).await;
        let mut stores: Vec<Arc<dyn Store>> = vec![];
        for _ in 0..replicas {
            stores.push(Arc::new(PostgresStore::open(&url).await.unwrap()));
        }
        threadlog::ledger::open(stores[0].as_ref(), self.signer.as_ref(), ORIGIN)
            .await
            .unwrap();
        let mut seqs = Vec::with_capacity(stores.len());
        for s in &stores {
            seqs.push(
                Sequencer::start(
                    s.clone(),
                    self.signer.clone(),
                    ORIGIN.into(),
                    Arc::new(TileCache::new(1024)),
                    SequencerConfig::default(),
                )
                .await,
            );
        }
        (stores[0].clone(), seqs)
    }
}

/// The same leaves with plain INSERT … UNNEST, `batch` rows per transaction.
async fn plain_inserts(url: &str, leaves: &[Vec<u8>], batch: usize) -> f64 {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    sqlx::query("CREATE TABLE leaves (idx BIGINT PRIMARY KEY, leaf BYTEA NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();
    let start = Instant::now();
    for (n, chunk) in leaves.chunks(batch).enumerate() {
        let first = (n * batch) as i64;
        let idx: Vec<i64> = (first..first + chunk.len() as i64).collect();
        let rows: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO leaves SELECT * FROM UNNEST($1::bigint[], $2::bytea[])")
            .bind(&idx)
            .bind(&rows)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    leaves.len() as f64 / start.elapsed().as_secs_f64()
}

/// The rows the ledger writes for the same entries (leaves, subject rows, idempotency
/// keys, thread nodes and edges) with plain INSERT … UNNEST into the ledger's own schema and indexes: what the
/// storage alone costs, without locking, tree, signatures, duplicate checks or receipts.
async fn plain_rows(url: &str, entries: &[PreparedEntry], leaves: &[Vec<u8>], batch: usize) -> f64 {
    drop(PostgresStore::open(url).await.unwrap()); // the same migrations
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    let mut interner = Interner::default();
    let start = Instant::now();
    for (n, chunk) in entries.chunks(batch).enumerate() {
        let first = (n * batch) as i64;
        let idx: Vec<i64> = (first..first + chunk.len() as i64).collect();
        let rows: Vec<&[u8]> = leaves[n * batch..n * batch + chunk.len()]
            .iter()
            .map(Vec::as_slice)
            .collect();
        let mut tx = pool.begin().await.unwrap();
        insert_entries(&mut tx, chunk, &idx, &rows).await;
        let (nodes, edges) = interner.rows(first, chunk);
        insert_thread(&mut tx, nodes, &edges).await;
        tx.commit().await.unwrap();
    }
    entries.len() as f64 / start.elapsed().as_secs_f64()
}

/// The entry rows (numbered `idx`, with leaves `rows`), their subject rows and their
/// idempotency keys, one INSERT … UNNEST per table.
async fn insert_entries(
    tx: &mut sqlx::PgConnection,
    chunk: &[PreparedEntry],
    idx: &[i64],
    rows: &[&[u8]],
) {
    let time = "2026-12-01T00:00:00.000000Z";
    let kind: Vec<&str> = chunk.iter().map(|e| e.kind.as_str()).collect();
    let times = vec![time; chunk.len()];
    let mut subjects: Vec<(&str, i64)> = chunk
        .iter()
        .zip(idx)
        .flat_map(|(e, i)| e.subjects.iter().map(move |s| (s.as_str(), *i)))
        .collect();
    subjects.sort_unstable();
    let (subject, subject_idx): (Vec<&str>, Vec<i64>) = subjects.into_iter().unzip();
    let keys: Vec<&str> = chunk.iter().map(|e| e.dedup_key.as_str()).collect();
    let digests: Vec<&[u8]> = chunk.iter().map(|e| e.content_sha256.as_slice()).collect();
    sqlx::query(
        "INSERT INTO entries (idx, kind, integrated_at, leaf) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bytea[])",
    )
    .bind(idx)
    .bind(&kind)
    .bind(&times)
    .bind(rows)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO subjects SELECT * FROM UNNEST($1::text[], $2::bigint[])")
        .bind(&subject)
        .bind(&subject_idx)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO dedup SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[])")
        .bind(&keys)
        .bind(idx)
        .bind(&digests)
        .execute(&mut *tx)
        .await
        .unwrap();
}

/// The thread's new nodes and edges, one INSERT … UNNEST per table.
async fn insert_thread(
    tx: &mut sqlx::PgConnection,
    nodes: Vec<(i64, String)>,
    edges: &[EdgeRow<'_>],
) {
    let (node_id, node_name): (Vec<i64>, Vec<String>) = nodes.into_iter().unzip();
    sqlx::query(
        "INSERT INTO nodes (id, name) OVERRIDING SYSTEM VALUE \
         SELECT * FROM UNNEST($1::bigint[], $2::text[])",
    )
    .bind(&node_id)
    .bind(&node_name)
    .execute(&mut *tx)
    .await
    .unwrap();
    let src: Vec<i64> = edges.iter().map(|e| e.0).collect();
    let eidx: Vec<i64> = edges.iter().map(|e| e.1).collect();
    let dst: Vec<i64> = edges.iter().map(|e| e.2).collect();
    let kind: Vec<&str> = edges.iter().map(|e| e.3).collect();
    let at: Vec<i64> = edges.iter().map(|e| e.4).collect();
    let label: Vec<Option<&str>> = edges.iter().map(|e| e.5).collect();
    sqlx::query(
        "INSERT INTO edges (src, idx, dst, kind, at, label) SELECT * FROM UNNEST(\
         $1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bigint[], $6::text[])",
    )
    .bind(&src)
    .bind(&eidx)
    .bind(&dst)
    .bind(&kind)
    .bind(&at)
    .bind(&label)
    .execute(&mut *tx)
    .await
    .unwrap();
}

async fn size_and_batches(store: &dyn Store) -> (u64, u64) {
    let size = store.latest_checkpoint().await.unwrap().unwrap().tree_size;
    let batches = store.checkpoints(None, u32::MAX).await.unwrap().len() as u64;
    (size, batches)
}

async fn bench_ingest_and_dump(b: &Bench) {
    let n = env_u64("BENCH_PG_APPEND", 1_000_000);
    let (store, seqs) = b.log("ingest", 1).await;
    let entries = prepared(n, "a");
    let t = chrono::Utc::now();
    let leaves: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| e.leaf(t).unwrap().into_bytes())
        .collect();
    let lib = append_through(&seqs, entries.clone()).await;
    let (size, batches) = size_and_batches(store.as_ref()).await;
    let avg = (size / batches.max(1)).max(1) as usize;
    let plain = plain_inserts(&b.database("plain").await, &leaves, avg).await;
    let rows = plain_rows(&b.database("rows").await, &entries, &leaves, avg).await;
    drop((leaves, entries));
    println!("## appends on PostgreSQL (library path, durable)  n={n}");
    println!("| path | entries/s |");
    println!("|---|---|");
    println!("| sequencer + PostgreSQL (64 tasks × batches of 100; avg {avg} entries/checkpoint) | {lib:.0} |");
    println!("| plain INSERT … UNNEST of the same leaves into a one-column table, {avg} per tx | {plain:.0} |");
    println!("| plain INSERT … UNNEST of the same rows (leaves, subjects, idempotency keys, nodes, edges) into the ledger's schema, {avg} per tx | {rows:.0} |");
    println!("| ratio to leaves only | {:.2} |", lib / plain);
    println!("| ratio to the same rows | {:.2} |", lib / rows);
    println!(
        "{}",
        json!({"bench": "pg_append", "n": n, "library_per_s": lib, "plain_per_s": plain, "rows_per_s": rows, "ratio": lib / plain, "ratio_rows": lib / rows, "avg_batch": avg})
    );

    let out = b.dir.path().join("dump");
    let start = Instant::now();
    dump::export(store.as_ref(), &out, &|_, _| {})
        .await
        .unwrap();
    let export = size as f64 / start.elapsed().as_secs_f64();
    let target = b.database("imported").await;
    let target: Arc<dyn Store> = Arc::new(PostgresStore::open(&target).await.unwrap());
    let start = Instant::now();
    dump::import(&out, target, &|_, _| {}).await.unwrap();
    let import_pg = size as f64 / start.elapsed().as_secs_f64();
    let sqlite: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&format!(
            "sqlite://{}",
            b.dir.path().join("imported.db").display()
        ))
        .await
        .unwrap(),
    );
    let start = Instant::now();
    dump::import(&out, sqlite, &|_, _| {}).await.unwrap();
    let import_sqlite = size as f64 / start.elapsed().as_secs_f64();
    println!("## export and import  tree size {size}");
    println!("| step | entries/s |");
    println!("|---|---|");
    println!("| export from PostgreSQL | {export:.0} |");
    println!("| import into PostgreSQL, then full verification | {import_pg:.0} |");
    println!("| import into SQLite, then full verification | {import_sqlite:.0} |");
    println!(
        "{}",
        json!({"bench": "dump", "n": size, "export_per_s": export, "import_pg_per_s": import_pg, "import_sqlite_per_s": import_sqlite})
    );
}

async fn bench_replicas(b: &Bench) {
    let n = env_u64("BENCH_PG_REPLICA_APPEND", 200_000);
    println!("## aggregate ingest, replicas on one PostgreSQL database  n={n}");
    println!("| replicas | entries/s | avg entries/checkpoint |");
    println!("|---|---|---|");
    for replicas in [1, 3] {
        let (store, seqs) = b.log(&format!("replicas{replicas}"), replicas).await;
        let rate = append_through(&seqs, prepared(n, "r")).await;
        let (size, batches) = size_and_batches(store.as_ref()).await;
        assert_eq!(size, n);
        println!("| {replicas} | {rate:.0} | {} |", size / batches.max(1));
        println!(
            "{}",
            json!({"bench": "pg_replicas", "replicas": replicas, "n": n, "per_s": rate})
        );
    }
}

async fn bench_proofs(b: &Bench) {
    let sizes: Vec<u64> = if smoke() {
        vec![5000]
    } else {
        std::env::var("BENCH_PG_PROOF_SIZES")
            .unwrap_or_else(|_| "10000000".into())
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect()
    };
    println!("## inclusion proofs read from PostgreSQL tiles (cache of 64 full tiles)");
    println!("| tree size | p50 ms | p99 ms | proofs/s |");
    println!("|---|---|---|---|");
    for n in sizes {
        let url = b.database(&format!("proofs{n}")).await;
        let store = PostgresStore::open(&url).await.unwrap();
        let root = fill_tiles(&store, n).await;
        let (p50, p99, rate) = prove(&store, n, root, env_u64("BENCH_PROOFS", 20_000)).await;
        println!("| {n} | {p50:.3} | {p99:.3} | {rate:.0} |");
        println!(
            "{}",
            json!({"bench": "pg_proofs", "n": n, "p50_ms": p50, "p99_ms": p99})
        );
    }
}

#[tokio::main]
async fn main() {
    let run = selected;
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = FileSigner::open_or_create(&dir.path().join("k"), ORIGIN).unwrap();
    let b = Bench {
        pg: tokio::task::spawn_blocking(|| Cluster::start(true))
            .await
            .unwrap(),
        dir,
        signer: Arc::new(signer),
    };
    if run("ingest") {
        bench_ingest_and_dump(&b).await;
    }
    if run("replicas") {
        bench_replicas(&b).await;
    }
    if run("proofs") {
        bench_proofs(&b).await;
    }
}
