//! Throughput with side-by-side baselines, all in one run on the same machine:
//! library appends vs plain SQLite inserts of the same leaves, HTTP ingest, proof
//! generation at large sizes, full verification vs plain SHA-256 of the same bytes, and
//! Ed25519 signatures through SoftHSM (PKCS#11) vs ed25519-dalek in process.
//!
//! Run: `cargo bench --bench ledger` (or `./scripts/bench.sh`). Sizes via env:
//! `BENCH_APPEND` (entries, default 200000), `BENCH_PROOF_SIZES` (default "1000000,10000000"),
//! `BENCH_SIGNATURES` (default 20000).

#[path = "ledger/baselines.rs"]
mod baselines;
#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use baselines::{append_plain, append_plain_rows};
use common::{event, softhsm};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Instant;
use support::*;
use threadlog::note::NoteSigner;
use threadlog::sequencer::{Sequencer, SequencerConfig};
use threadlog::signer::pkcs11::{init_key, Pkcs11Spec};
use threadlog::signer::{FileSigner, Pkcs11Signer, Signer};
use threadlog::store::{SqliteStore, Store, TileCache};
use threadlog_client::Client;

struct Log {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
    signer: Arc<dyn Signer>,
    seq: Sequencer,
}

async fn new_log() -> Log {
    new_log_with(None).await
}

/// A log signed by `signer`, or by a new key file.
async fn new_log_with(signer: Option<Arc<dyn Signer>>) -> Log {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.db");
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap(),
    );
    let signer = signer.unwrap_or_else(|| {
        let (file, _) =
            FileSigner::open_or_create(&dir.path().join("k"), "bench.example/log").unwrap();
        Arc::new(file)
    });
    threadlog::ledger::open(store.as_ref(), signer.as_ref(), "bench.example/log")
        .await
        .unwrap();
    let seq = Sequencer::start(
        store.clone(),
        signer.clone(),
        "bench.example/log".into(),
        Arc::new(TileCache::new(1024)),
        SequencerConfig::default(),
    )
    .await;
    Log {
        _dir: dir,
        store,
        signer,
        seq,
    }
}

async fn bench_append() {
    let n = env_u64("BENCH_APPEND", 200_000);
    let log = new_log().await;
    let entries = prepared(n, "a");
    let rss_before = rss_mib();
    let lib = append_through(std::slice::from_ref(&log.seq), entries.clone()).await;
    let size = log
        .store
        .latest_checkpoint()
        .await
        .unwrap()
        .unwrap()
        .tree_size;
    let batches = log.store.checkpoints(None, u32::MAX).await.unwrap().len();
    let avg_batch = (size as usize / batches.max(1)).max(1);
    let t = chrono::Utc::now();
    let leaves: Vec<Vec<u8>> = entries
        .iter()
        .map(|e| e.leaf(t).unwrap().into_bytes())
        .collect();
    let plain = append_plain(&leaves, avg_batch).await;
    let rows = append_plain_rows(&entries, &leaves, avg_batch).await;
    println!("## appends (library path, durable)  n={n}");
    println!("| path | entries/s |");
    println!("|---|---|");
    println!("| sequencer + SQLite (64 tasks × batches of 100; avg {avg_batch} entries/checkpoint) | {lib:.0} |");
    println!("| plain SQLite multi-row INSERT, same leaves, same durability, {avg_batch} per tx | {plain:.0} |");
    println!("| plain SQLite multi-row INSERT of the same rows (leaves, subjects, idempotency keys, nodes, edges) into the ledger's schema, {avg_batch} per tx | {rows:.0} |");
    println!("| ratio to leaves only | {:.2} |", lib / plain);
    println!("| ratio to the same rows | {:.2} |", lib / rows);
    println!(
        "process RSS: {rss_before:.0} MiB before, {:.0} MiB after {n} appends",
        rss_mib()
    );
    println!(
        "{}",
        json!({"bench": "append", "n": n, "library_per_s": lib, "plain_per_s": plain, "rows_per_s": rows, "ratio": lib / plain, "ratio_rows": lib / rows, "avg_batch": avg_batch})
    );
    bench_verify(&log, size).await;
}

async fn bench_verify(log: &Log, size: u64) {
    let key = log.signer.verifier_key().clone();
    let source = threadlog::audit::StoreSource::new(log.store.clone());
    let start = Instant::now();
    let report = threadlog::audit::verify(&source, &key, None, &|_, _| {})
        .await
        .unwrap();
    let verify_s = start.elapsed().as_secs_f64();
    assert!(report.ok);
    // Baseline: read the same leaves from the same store and SHA-256 them.
    let start = Instant::now();
    let mut bytes = 0usize;
    let mut after = None;
    loop {
        let page = log
            .store
            .entries(&threadlog::store::EntryQuery {
                after,
                limit: 1000,
                ..Default::default()
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.index);
        for e in &page {
            bytes += e.leaf.len();
            std::hint::black_box(Sha256::digest(&e.leaf));
        }
    }
    let sha_s = start.elapsed().as_secs_f64();
    println!(
        "## verify (whole store: leaves, tiles, every checkpoint)  n={size}, {:.1} MiB of leaves",
        bytes as f64 / 1048576.0
    );
    println!("| path | entries/s | MiB/s |");
    println!("|---|---|---|");
    println!(
        "| threadlog verify (store) | {:.0} | {:.1} |",
        size as f64 / verify_s,
        bytes as f64 / 1048576.0 / verify_s
    );
    println!(
        "| read + SHA-256 of the same leaves | {:.0} | {:.1} |",
        size as f64 / sha_s,
        bytes as f64 / 1048576.0 / sha_s
    );
    println!("| ratio | {:.2} | |", sha_s / verify_s);
    println!(
        "{}",
        json!({"bench": "verify", "n": size, "verify_s": verify_s, "sha_s": sha_s, "ratio": sha_s / verify_s})
    );
}

async fn bench_http() {
    let dir = tempfile::tempdir().unwrap();
    let (url, token) = start_server(dir.path()).await;
    let client = Client::new(&url, Some(&token)).unwrap();

    println!("## HTTP ingest over 127.0.0.1 (64 concurrent clients, keep-alive)");
    println!("| workload | requests | events/s | requests/s | p50 ms | p99 ms |");
    println!("|---|---|---|---|---|---|");
    for (label, tag, per_request, requests) in [
        (
            "batches of 100",
            "b",
            100usize,
            env_u64("BENCH_HTTP_BATCHES", 3000) as usize,
        ),
        (
            "single events",
            "s",
            1,
            env_u64("BENCH_HTTP_SINGLE", 40_000) as usize,
        ),
    ] {
        let bodies = request_bodies(tag, per_request, requests);
        let start = Instant::now();
        let mut lat = post_all(&client, bodies).await;
        let secs = start.elapsed().as_secs_f64();
        lat.sort();
        let rps = requests as f64 / secs;
        println!(
            "| {label} | {requests} | {:.0} | {rps:.0} | {:.1} | {:.1} |",
            rps * per_request as f64,
            pct(&lat, 0.5),
            pct(&lat, 0.99)
        );
        println!(
            "{}",
            json!({"bench": "http", "workload": label, "events_per_s": rps * per_request as f64, "requests_per_s": rps, "p50_ms": pct(&lat, 0.5), "p99_ms": pct(&lat, 0.99)})
        );
    }
}

/// A server on a new log in `dir`, listening on a free local port: its base URL and a
/// producer token.
async fn start_server(dir: &std::path::Path) -> (String, String) {
    let mut cfg = common::config(dir.to_path_buf());
    cfg.origin = Some("bench.example/log".into());
    cfg.max_body_bytes = 4 << 20;
    cfg.queue_depth = 4096;
    cfg.tile_cache = 4096;
    serve(&cfg, "producer").await
}

/// `requests` request bodies of `per_request` events each (a lone event, not an array,
/// when one).
fn request_bodies(tag: &str, per_request: usize, requests: usize) -> Vec<String> {
    (0..requests)
        .map(|r| {
            if per_request == 1 {
                event(&format!("{tag}-{r}")).to_string()
            } else {
                Value::Array(
                    (0..per_request)
                        .map(|i| event(&format!("{tag}-{r}-{i}")))
                        .collect(),
                )
                .to_string()
            }
        })
        .collect()
}

/// Posts every body from 64 concurrent clients; the latency of each request.
async fn post_all(client: &Client, bodies: Vec<String>) -> Vec<std::time::Duration> {
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let mut tasks = vec![];
    for _ in 0..64 {
        let (client, queue) = (client.clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = vec![];
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(body) = next else { break };
                let t = Instant::now();
                let (status, _) = client
                    .post("/v1/events", "application/json", body)
                    .await
                    .unwrap();
                assert_eq!(status, 201);
                lat.push(t.elapsed());
            }
            lat
        }));
    }
    let mut lat = vec![];
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    lat
}

/// Builds a tree of `n` synthetic leaves in memory and stores its tiles in a real store,
/// then times proofs read through the store with a small cache.
async fn bench_proofs() {
    let default_sizes = if smoke() { "5000" } else { "1000000,10000000" };
    let sizes: Vec<u64> = std::env::var("BENCH_PROOF_SIZES")
        .ok()
        .filter(|_| !smoke())
        .unwrap_or_else(|| default_sizes.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!("## inclusion proofs read from SQLite tiles (cache of 64 full tiles, random indexes)");
    println!("| tree size | tiles on disk | p50 ms | p99 ms | proofs/s | RSS MiB |");
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("proofs.db");
        let store = SqliteStore::open(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        let root = fill_tiles(&store, n).await;
        let (p50, p99, rate) = prove(&store, n, root, env_u64("BENCH_PROOFS", 20_000)).await;
        let disk = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
            + std::fs::metadata(path.with_extension("db-wal"))
                .map(|m| m.len())
                .unwrap_or(0);
        println!(
            "| {n} | {:.0} MiB | {:.3} | {:.3} | {:.0} | {:.0} |",
            disk as f64 / 1048576.0,
            p50,
            p99,
            rate,
            rss_mib()
        );
        println!(
            "{}",
            json!({"bench": "proofs", "n": n, "p50_ms": p50, "p99_ms": p99})
        );
    }
}

#[tokio::main]
async fn main() {
    let run = selected;
    if run("append") {
        bench_append().await;
    }
    if run("http") {
        bench_http().await;
    }
    if run("proofs") {
        bench_proofs().await;
    }
    if run("hsm") {
        bench_hsm().await;
    }
}

/// Signs `n` checkpoint-sized messages on `threads` threads; signatures per second.
fn sign_rate(signer: Arc<dyn NoteSigner>, n: u64, threads: u64) -> f64 {
    let msg = b"bench.example/log\n1234567\nq1Lq8CKgcBkcqdWcXnNF3jBX5GU3rlmEPhsGsMEGeSk=\n";
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let signer = signer.clone();
            std::thread::spawn(move || {
                for _ in 0..n / threads {
                    signer.sign(msg).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    (n / threads * threads) as f64 / start.elapsed().as_secs_f64()
}

/// Checkpoint signatures through SoftHSM (PKCS#11, each verified before it is returned)
/// against ed25519-dalek in process, then ingest with the HSM signer beside the file
/// signer: one signature per batch should keep the HSM's cost out of the ingest rate.
async fn bench_hsm() {
    let n = env_u64("BENCH_SIGNATURES", 20_000);
    let tokens = softhsm::tokens();
    let spec = Pkcs11Spec::parse(&softhsm::spec("bench", "log-key"), None).unwrap();
    init_key(&spec, softhsm::PIN.to_string().into(), "bench.example/log").unwrap();
    let hsm: Arc<Pkcs11Signer> = Arc::new(
        Pkcs11Signer::open(&spec, softhsm::PIN.to_string().into(), "bench.example/log").unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = FileSigner::open_or_create(&dir.path().join("k"), "bench.example/log").unwrap();
    let file = Arc::new(file);
    let pool = threadlog::signer::pkcs11::POOL_SIZE as u64;
    let hsm_1 = sign_rate(hsm.clone(), n, 1);
    let hsm_pool = sign_rate(hsm.clone(), n, pool);
    let dalek_1 = sign_rate(file.clone(), n, 1);
    println!(
        "## Ed25519 checkpoint signatures  n={n}  (SoftHSM tokens in {})",
        tokens.tokendir.display()
    );
    println!("| signer | signatures/s |");
    println!("|---|---|");
    println!("| PKCS#11 SoftHSM, 1 thread (sign + verify) | {hsm_1:.0} |");
    println!("| PKCS#11 SoftHSM, {pool} threads (session pool) | {hsm_pool:.0} |");
    println!("| ed25519-dalek in process, 1 thread | {dalek_1:.0} |");
    println!(
        "{}",
        json!({"bench": "signatures", "n": n, "hsm_per_s": hsm_1, "hsm_pool_per_s": hsm_pool, "dalek_per_s": dalek_1})
    );

    let n = env_u64("BENCH_APPEND", 200_000) / 4;
    let file_log = new_log().await;
    let file_rate = append_through(std::slice::from_ref(&file_log.seq), prepared(n, "f")).await;
    let hsm_log = new_log_with(Some(hsm.clone())).await;
    let hsm_rate = append_through(std::slice::from_ref(&hsm_log.seq), prepared(n, "h")).await;
    println!("## ingest with the HSM signer  n={n}");
    println!("| signer | entries/s |");
    println!("|---|---|");
    println!("| file key (ed25519-dalek) | {file_rate:.0} |");
    println!("| PKCS#11 SoftHSM | {hsm_rate:.0} |");
    println!("| ratio | {:.2} |", hsm_rate / file_rate);
    println!(
        "{}",
        json!({"bench": "ingest_hsm", "n": n, "file_per_s": file_rate, "hsm_per_s": hsm_rate, "ratio": hsm_rate / file_rate})
    );
}
