//! The digital thread at plant scale, on SQLite and on PostgreSQL: a generated plant of
//! about 1M events describing about 100k serials (filament lots → spools → printed
//! parts through ten process steps and QC → assemblies → test → shipments), ingested
//! through the sequencer; then, at the final checkpoint:
//! - backward traces of assembled serials and forward traces of filament lots (depth 10),
//! - recall impact of one filament lot,
//! - evidence-bundle export of an assembled serial's full history (and its verification),
//! - the sizes of the thread's tables and indexes beside the log's own.
//!
//! Run: `cargo bench --bench thread [-- sqlite|postgres]` (or `./scripts/bench.sh`).
//! Sizes via env: `BENCH_THREAD_SERIALS` (default 100000; about ten events per serial),
//! `BENCH_THREAD_QUERIES` (traces per kind, default 1000).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use common::pg::{create_database, Cluster};
use common::plant::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use threadlog::bundle;
use threadlog::entry::{parse_event, PreparedEntry};
use threadlog::note::VerifierKey;
use threadlog::sequencer::{Sequencer, SequencerConfig};
use threadlog::signer::{FileSigner, Signer};
use threadlog::store::{PostgresStore, SqliteStore, Store, TileCache};
use threadlog::thread::{self, Direction, RecallOptions, Suspect, TraceOptions};

const ORIGIN: &str = "bench.example/log";

/// The plant's events as request bodies, corrections apart (a correction must follow the
/// event it corrects): the JSON values are dropped as they are serialized, so memory
/// stays near the size of the bodies.
fn bodies(events: Vec<serde_json::Value>) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    for e in events {
        let into = if e.get("corrects").is_some() {
            &mut tail
        } else {
            &mut head
        };
        into.push(serde_json::to_vec(&e).unwrap());
    }
    (head, tail)
}

fn prepare(bodies: &[Vec<u8>]) -> Vec<PreparedEntry> {
    bodies
        .iter()
        .map(|b| parse_event(serde_json::from_slice(b).unwrap(), "mes").unwrap())
        .collect()
}

/// Ingests the plant through a sequencer as 64 producers posting batches of 100 would,
/// validation (and edge derivation) included; corrections last. Returns entries/s.
async fn ingest(
    store: Arc<dyn Store>,
    signer: Arc<dyn Signer>,
    head: Arc<Vec<Vec<u8>>>,
    tail: &[Vec<u8>],
) -> f64 {
    threadlog::ledger::open(store.as_ref(), signer.as_ref(), ORIGIN)
        .await
        .unwrap();
    let seq = Sequencer::start(
        store,
        signer,
        ORIGIN.into(),
        Arc::new(TileCache::new(1024)),
        SequencerConfig::default(),
    )
    .await;
    let next = Arc::new(AtomicUsize::new(0));
    let chunks = head.len().div_ceil(100);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..64 {
        let (seq, next, head) = (seq.clone(), next.clone(), head.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let c = next.fetch_add(1, Ordering::Relaxed);
                if c >= chunks {
                    break;
                }
                let batch = prepare(&head[c * 100..((c + 1) * 100).min(head.len())]);
                submit_until_taken(&seq, batch).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    seq.submit(prepare(tail)).await.unwrap();
    (head.len() + tail.len()) as f64 / start.elapsed().as_secs_f64()
}

struct Latency {
    p50: f64,
    p99: f64,
    max: f64,
}

fn latency(mut v: Vec<Duration>) -> Latency {
    v.sort();
    Latency {
        p50: pct(&v, 0.5),
        p99: pct(&v, 0.99),
        max: pct(&v, 1.0),
    }
}

/// A deterministic spread of `n` numbers below `below`.
fn sample(n: u64, below: usize) -> Vec<usize> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % below as u64) as usize
        })
        .collect()
}

async fn queries(label: &str, store: &dyn Store, plant: &Plant, n: u64, key: &VerifierKey) {
    let t = &plant.truth;
    let assemblies = t.assembly_parts.len();
    let lots = plant.spec.filament_lots;
    let backward = "backward trace of an assembled serial, depth 10";
    let at_assembly = sample(n, assemblies);
    trace_row(
        label,
        store,
        backward,
        Direction::Backward,
        assembly,
        &at_assembly,
    )
    .await;
    let forward = "forward trace of a filament lot, depth 10";
    trace_row(
        label,
        store,
        forward,
        Direction::Forward,
        lot,
        &sample(n, lots),
    )
    .await;
    let recalls = (n / 10).clamp(1, 50);
    recall_row(label, store, &sample(recalls, lots)).await;
    bundle_rows(label, store, key, &sample(recalls, assemblies)).await;
}

/// Times a depth-10 trace in `direction` from each node `name` gives for `starts`, and
/// prints the row `what`.
async fn trace_row(
    label: &str,
    store: &dyn Store,
    what: &str,
    direction: Direction,
    name: fn(usize) -> String,
    starts: &[usize],
) {
    let n = starts.len();
    let (mut lat, mut nodes, mut edges) = (Vec::new(), 0, 0);
    for &s in starts {
        let opts = TraceOptions {
            direction,
            depth: 10,
            ..TraceOptions::default()
        };
        let start = Instant::now();
        let tr = thread::trace(store, &name(s), &opts).await.unwrap();
        lat.push(start.elapsed());
        assert!(!tr.truncated, "{:?}", tr.truncation);
        nodes += tr.nodes.len();
        edges += tr.edges.len();
    }
    let l = latency(lat);
    println!(
        "| {label} | {what} | {n} | {:.2} | {:.2} | {:.2} | {} nodes, {} edges |",
        l.p50,
        l.p99,
        l.max,
        nodes / n,
        edges / n
    );
}

/// Times the recall impact of each filament lot in `lots`.
async fn recall_row(label: &str, store: &dyn Store, lots: &[usize]) {
    let recalls = lots.len();
    let (mut lat, mut finished, mut reached) = (Vec::new(), 0, 0);
    for &l in lots {
        let suspect = Suspect {
            node: lot(l),
            from: None,
            until: None,
        };
        let start = Instant::now();
        let r = thread::recall_impact(store, &[suspect], &RecallOptions::default())
            .await
            .unwrap();
        lat.push(start.elapsed());
        assert!(!r.truncated && r.counts.finished > 0);
        finished += r.counts.finished;
        reached += r.counts.downstream_nodes;
    }
    let rec = latency(lat);
    println!(
        "| {label} | recall impact of a filament lot | {recalls} | {:.1} | {:.1} | {:.1} | {} finished of {} downstream |",
        rec.p50,
        rec.p99,
        rec.max,
        finished / recalls,
        reached / recalls
    );
}

/// Times the bundle export of each assembled serial in `assemblies`, and the offline
/// verification of each bundle.
async fn bundle_rows(label: &str, store: &dyn Store, key: &VerifierKey, assemblies: &[usize]) {
    let recalls = assemblies.len();
    let tiles = TileCache::new(4096);
    let (mut lat, mut vlat, mut entries, mut bytes) = (Vec::new(), Vec::new(), 0, 0);
    for &a in assemblies {
        let start = Instant::now();
        let b = thread::build_bundle(
            store,
            &tiles,
            &assembly(a),
            &thread::BundleOptions::default(),
        )
        .await
        .unwrap();
        let json = serde_json::to_vec_pretty(&b).unwrap();
        lat.push(start.elapsed());
        entries += b.entries.len();
        bytes += json.len();
        let start = Instant::now();
        bundle::verify(&json, key).unwrap();
        vlat.push(start.elapsed());
    }
    let exp = latency(lat);
    let ver = latency(vlat);
    println!(
        "| {label} | bundle export of an assembled serial (both directions, depth 10) | {recalls} | {:.1} | {:.1} | {:.1} | {} entries, {} KiB |",
        exp.p50,
        exp.p99,
        exp.max,
        entries / recalls,
        bytes / recalls / 1024
    );
    println!(
        "| {label} | offline verification of that bundle | {recalls} | {:.1} | {:.1} | {:.1} | |",
        ver.p50, ver.p99, ver.max
    );
}

fn mib(bytes: i64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

const TABLES: &[&str] = &[
    "edges",
    "edges_dst",
    "nodes",
    "corrections",
    "entries",
    "subjects",
    "dedup",
    "tiles",
];

async fn sqlite_sizes(url: &str) {
    let pool = sqlx::SqlitePool::connect(url).await.unwrap();
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let count = |t: &str| format!("SELECT COUNT(*) FROM {t}");
    for name in TABLES {
        let size: i64 = rows
            .iter()
            .filter(|(n, _)| {
                n == name || (*name == "nodes" && n.starts_with("sqlite_autoindex_nodes"))
            })
            .map(|(_, s)| *s)
            .sum();
        let rows: Option<i64> = if name.contains('_') {
            None
        } else {
            Some(
                sqlx::query_scalar(&count(name))
                    .fetch_one(&pool)
                    .await
                    .unwrap(),
            )
        };
        println!(
            "| sqlite | {name} | {} | {} |",
            rows.map_or(String::new(), |r| r.to_string()),
            mib(size)
        );
    }
    pool.close().await;
}

async fn postgres_sizes(url: &str) {
    let pool = sqlx::PgPool::connect(url).await.unwrap();
    for name in [
        "edges",
        "edges_pkey",
        "edges_dst",
        "nodes",
        "nodes_name_key",
        "corrections",
        "entries",
        "subjects",
        "dedup",
        "tiles",
    ] {
        let size: i64 = sqlx::query_scalar("SELECT pg_relation_size($1::regclass)")
            .bind(name)
            .fetch_one(&pool)
            .await
            .unwrap();
        let rows: Option<i64> = if name.contains('_') {
            None
        } else {
            Some(
                sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {name}"))
                    .fetch_one(&pool)
                    .await
                    .unwrap(),
            )
        };
        println!(
            "| postgres | {name} | {} | {} |",
            rows.map_or(String::new(), |r| r.to_string()),
            mib(size)
        );
    }
    pool.close().await;
}

#[tokio::main]
async fn main() {
    let serials = env_u64("BENCH_THREAD_SERIALS", 100_000) as usize;
    let queries_n = env_u64("BENCH_THREAD_QUERIES", 1000);
    let dir = tempfile::tempdir().unwrap();
    let (signer, _) = FileSigner::open_or_create(&dir.path().join("k"), ORIGIN).unwrap();
    let key = signer.verifier_key().clone();
    let signer: Arc<dyn Signer> = Arc::new(signer);

    let started = Instant::now();
    let mut plant = Plant::generate(PlantSpec::scaled(serials));
    let serial_count = plant.truth.part_spool.len() + plant.truth.assembly_parts.len();
    println!(
        "plant: {} events, {} serials ({} parts, {} assemblies), {} filament lots; generated in {:.1} s",
        plant.events.len(),
        serial_count,
        plant.truth.part_spool.len(),
        plant.truth.assembly_parts.len(),
        plant.spec.filament_lots,
        started.elapsed().as_secs_f64()
    );
    let (head, tail) = bodies(std::mem::take(&mut plant.events));
    let head = Arc::new(head);

    let mut stores: Vec<(&str, Arc<dyn Store>, String)> = Vec::new();
    let _pg;
    if selected("sqlite") {
        let url = format!("sqlite://{}", dir.path().join("thread.db").display());
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
        let rate = ingest(store.clone(), signer.clone(), head.clone(), &tail).await;
        println!("sqlite: ingested at {rate:.0} entries/s (validation, edges, tree, signature)");
        stores.push(("sqlite", store, url));
    }
    if selected("postgres") {
        let pg = tokio::task::spawn_blocking(|| Cluster::start(true))
            .await
            .unwrap();
        create_database(&pg.url("postgres"), "thread").await;
        let url = pg.url("thread");
        let store: Arc<dyn Store> = Arc::new(PostgresStore::open(&url).await.unwrap());
        let rate = ingest(store.clone(), signer.clone(), head.clone(), &tail).await;
        println!("postgres: ingested at {rate:.0} entries/s (validation, edges, tree, signature)");
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query("VACUUM ANALYZE").execute(&pool).await.unwrap();
        pool.close().await;
        stores.push(("postgres", store, url));
        _pg = pg;
    }

    println!();
    println!("| store | query | runs | p50 ms | p99 ms | max ms | answer |");
    println!("|---|---|---|---|---|---|---|");
    for (label, store, _) in &stores {
        queries(label, store.as_ref(), &plant, queries_n, &key).await;
    }
    println!();
    println!("| store | table or index | rows | MiB |");
    println!("|---|---|---|---|");
    for (label, _, url) in &stores {
        if *label == "sqlite" {
            sqlite_sizes(url).await;
        } else {
            postgres_sizes(url).await;
        }
    }
    println!("RSS {:.0} MiB", rss_mib());
}
