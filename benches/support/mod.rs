//! What every benchmark shares: smoke mode under `cargo test`, sizes from the
//! environment, percentiles, memory, and driving a sequencer the way many producers do.

#![allow(dead_code)]

// Measured with the allocator the server binary uses.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use crate::common::event;
use std::sync::Arc;
use std::time::{Duration, Instant};
use threadlog::entry::{parse_event, PreparedEntry};
use threadlog::merkle::{self, leaf_hash, Hash, Rebuilder, TileSet};
use threadlog::sequencer::{Sequencer, SequencerError};
use threadlog::store::{AppendBatch, Store, StoredCheckpoint, TileCache};

/// Whether the benchmark `name` was asked for (`cargo bench --bench B -- NAME…`; none
/// named: all).
pub fn selected(name: &str) -> bool {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    which.is_empty() || which.iter().any(|w| w == name)
}

/// `cargo bench` passes `--bench`; under `cargo test` the same code runs as a quick smoke
/// test at tiny sizes, so CI keeps the benchmarks working without spending minutes on them.
pub fn smoke() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

pub fn env_u64(name: &str, default: u64) -> u64 {
    if smoke() {
        return default.min(300);
    }
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
            })
        })
        .unwrap_or(0.0)
        / 1024.0
}

pub fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

pub fn prepared(n: u64, prefix: &str) -> Vec<PreparedEntry> {
    (0..n)
        .map(|i| parse_event(event(&format!("{prefix}-{i}")), "bench").unwrap())
        .collect()
}

/// Starts a server with `cfg` on a free local port, with a token of `role`: its base
/// URL and the token. It serves until the runtime ends.
pub async fn serve(cfg: &threadlog::config::ServeConfig, role: &str) -> (String, String) {
    let started = threadlog::server::start(cfg).await.unwrap();
    let token = threadlog::api::auth::new_token();
    let hash = threadlog::api::auth::token_hash(&token);
    let store = &started.state.store;
    store
        .insert_token("bench", role, &hash, None)
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(threadlog::api::serve(
        listener,
        started.state,
        std::future::pending(),
    ));
    (url, token)
}

/// Submits one batch, retrying while the sequencer's queue is full: the benchmarks
/// measure the commit rate, not how often a full queue turns a request away.
pub async fn submit_until_taken(seq: &Sequencer, batch: Vec<PreparedEntry>) {
    loop {
        match seq.submit(batch.clone()).await {
            Ok(_) => return,
            Err(SequencerError::Overloaded) => tokio::time::sleep(Duration::from_millis(1)).await,
            Err(e) => panic!("{e}"),
        }
    }
}

/// 64 tasks submitting batches of 100, spread over the sequencers (one per replica).
pub async fn append_through(seqs: &[Sequencer], entries: Vec<PreparedEntry>) -> f64 {
    let n = entries.len();
    // Moved into chunks, not copied: at a million entries a copy is gigabytes.
    let mut chunks: Vec<Vec<PreparedEntry>> = Vec::with_capacity(n.div_ceil(100));
    let mut rest = entries.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(100).collect());
    }
    let queue = Arc::new(std::sync::Mutex::new(chunks));
    let start = Instant::now();
    let mut tasks = vec![];
    for t in 0..64 {
        let (seq, queue) = (seqs[t % seqs.len()].clone(), queue.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some(batch) = next else { break };
                submit_until_taken(&seq, batch).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Fills `store` with the tiles of a tree of `n` synthetic leaves (the hash of each
/// index), one checkpoint per 65,536 leaves; returns the root.
pub async fn fill_tiles(store: &dyn Store, n: u64) -> Hash {
    let mut tree = Rebuilder::new();
    let mut root = merkle::EMPTY_ROOT;
    while tree.size() < n {
        let from = tree.size();
        let hashes: Vec<Hash> = (from..n.min(from + (1 << 16)))
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        let step = tree.push(&hashes).unwrap();
        root = step.root;
        let mut tiles = step.completed;
        tiles.extend(tree.edge().clone().into_inner());
        let mut tx = store.begin_append().await.unwrap();
        tx.write(&AppendBatch {
            entries: vec![],
            tiles,
            checkpoint: StoredCheckpoint {
                tree_size: tree.size(),
                root_hash: root,
                note: String::new(),
                created_at: String::new(),
            },
        })
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
    root
}

/// Inclusion proofs for random indexes through a cache of 64 full tiles, each verified:
/// (p50 ms, p99 ms, proofs/s).
pub async fn prove(store: &dyn Store, n: u64, root: Hash, proofs: u64) -> (f64, f64, f64) {
    let cache = TileCache::new(64);
    let mut lat = vec![];
    let mut x = 0x9E3779B97F4A7C15u64;
    let start = Instant::now();
    for _ in 0..proofs {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let index = x % n;
        let t = Instant::now();
        let ids = merkle::needed_tiles_for_inclusion(index, n).unwrap();
        let mut set = TileSet::new();
        cache.load(store, &ids, &mut set).await.unwrap();
        let proof = merkle::inclusion_proof(&set, index, n).unwrap();
        lat.push(t.elapsed());
        merkle::verify_inclusion(&proof, index, n, &leaf_hash(&index.to_be_bytes()), &root)
            .unwrap();
    }
    let rate = proofs as f64 / start.elapsed().as_secs_f64();
    lat.sort();
    (pct(&lat, 0.5), pct(&lat, 0.99), rate)
}

/// One edge row as the ledger stores it: (src id, entry, dst id, kind, at, label).
pub type EdgeRow<'a> = (i64, i64, i64, &'static str, i64, Option<&'a str>);

/// Node ids assigned in memory, for the baselines that write the ledger's thread rows
/// with plain INSERTs (the ledger looks them up in the transaction instead).
#[derive(Default)]
pub struct Interner {
    ids: std::collections::HashMap<String, i64>,
}

impl Interner {
    /// The new nodes and the edge rows of entries numbered from `first`, edges in key
    /// order.
    pub fn rows<'a>(
        &mut self,
        first: i64,
        entries: &'a [PreparedEntry],
    ) -> (Vec<(i64, String)>, Vec<EdgeRow<'a>>) {
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            for x in &e.thread.edges {
                let mut id = |name: &str| match self.ids.get(name) {
                    Some(id) => *id,
                    None => {
                        let id = self.ids.len() as i64 + 1;
                        self.ids.insert(name.to_string(), id);
                        nodes.push((id, name.to_string()));
                        id
                    }
                };
                let (src, dst) = (id(&x.from), id(&x.to));
                edges.push((
                    src,
                    first + i as i64,
                    dst,
                    x.kind.as_str(),
                    x.at,
                    x.label.as_deref(),
                ));
            }
        }
        edges.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3));
        (nodes, edges)
    }
}

/// A plain SQLite database with the ledger's durability (WAL, `synchronous=FULL`) and one
/// connection: where the baselines write.
pub async fn plain_sqlite(url: &str) -> sqlx::SqlitePool {
    use sqlx::sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
    };
    use std::str::FromStr;
    let opts = SqliteConnectOptions::from_str(url)
        .unwrap()
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await
        .unwrap()
}
