//! Compliance reports at scale, beside the floor they stand on: 10,000 assessment
//! results citing 100,000 evidence entries, reported from a SQLite log (reading the
//! results, finding the trend's checkpoints, proving every cited entry) and rendered in
//! every format; the baseline is reading the same result entries with no report at all.
//!
//! Run: `cargo bench --bench compliance`. Sizes via env: `BENCH_REPORT_RESULTS` (default
//! 10000), `BENCH_REPORT_LINKS` (evidence entries per result, default 10),
//! `BENCH_REPORT_EVENTS` (entries evidence points at, default 5000).

#[path = "../tests/common/mod.rs"]
mod common;
mod support;

use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;
use threadlog::compliance::gather;
use threadlog::compliance::render::{render, Format};
use threadlog::compliance::Report;
use threadlog::controls::{catalog, Catalog, Framework};
use threadlog::entry::parse_results;
use threadlog::sequencer::{Sequencer, SequencerConfig};
use threadlog::signer::{FileSigner, Signer};
use threadlog::store::{EntryQuery, SqliteStore, Store, TileCache};

const ORIGIN: &str = "bench.example/log";

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() {
    let results = env_u64("BENCH_REPORT_RESULTS", 10_000);
    let links = env_u64("BENCH_REPORT_LINKS", 10);
    let events = env_u64("BENCH_REPORT_EVENTS", 5_000).max(1);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
    let (signer, _) = FileSigner::open_or_create(&dir.path().join("k"), ORIGIN).unwrap();
    let signer: Arc<dyn Signer> = Arc::new(signer);
    threadlog::ledger::open(store.as_ref(), signer.as_ref(), ORIGIN)
        .await
        .unwrap();
    let seq = Sequencer::start(
        store.clone(),
        signer,
        ORIGIN.into(),
        Arc::new(TileCache::new(1024)),
        SequencerConfig::default(),
    )
    .await;
    append_through(std::slice::from_ref(&seq), prepared(events, "ev")).await;
    submit_results(&seq, results, links, events).await;
    let size = store.latest_checkpoint().await.unwrap().unwrap().tree_size;
    println!(
        "compliance report: {results} results citing {} evidence entries ({links} each), log of {size} entries",
        results * links
    );

    let runs = if smoke() { 1 } else { 5 };
    let (t, r) = measure(store.as_ref(), results, runs).await;
    println!(
        "  report: {} results considered, {} trend points, {} proofs",
        r.results_considered,
        r.trend.len(),
        r.proof_indexes().len()
    );
    println!("  | step | median ms ({runs} runs) |");
    println!("  |---|---|");
    println!(
        "  | baseline: read the {results} result entries | {:.1} |",
        median(t.read)
    );
    let g = median(t.gathered);
    println!("  | report computed from the log (results, trend, proofs) | {g:.1} |");
    for (format, times) in t.rendered {
        let ms = median(times);
        let bytes = render(&r, format).len();
        println!(
            "  | + render {format:?} ({} kB) | {ms:.1} (total {:.1}) |",
            bytes / 1000,
            g + ms
        );
    }
}

/// Results arrive as assessors send them: 100 per request, each its own checkpoint,
/// so the trend has results/100 points. Statuses cycle so every bucket is used.
async fn submit_results(seq: &Sequencer, results: u64, links: u64, events: u64) {
    let cat = catalog(Framework::Rev2);
    for chunk in (0..results).collect::<Vec<_>>().chunks(100) {
        let body: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&i| result(cat, i, links, events))
            .collect();
        let parsed = parse_results(serde_json::to_vec(&body).unwrap().as_slice(), "bench").unwrap();
        seq.submit(parsed.into_iter().map(|(e, _)| e).collect())
            .await
            .unwrap();
    }
}

/// Assessment result `i`, citing `links` of the first `events` entries.
fn result(cat: &Catalog, i: u64, links: u64, events: u64) -> serde_json::Value {
    let statuses = ["met", "met", "met", "not_met", "not_applicable"];
    let req = &cat.requirements[(i as usize) % cat.requirements.len()];
    let status = statuses[(i as usize / cat.requirements.len()) % statuses.len()];
    let mut r = json!({
        "result_id": format!("r-{i}"), "framework": "nist-800-171r2",
        "requirement": req.id, "status": status, "assessor": "bench",
        "assessed_on": "2026-11-20", "effective_on": "2026-11-20",
        "evidence": (0..links).map(|k| json!({"entry": (i * links + k) % events})).collect::<Vec<_>>(),
    });
    match status {
        "not_met" => {
            r["plan_of_action"] = json!({"milestone": "2027-06-30", "description": "remediate"})
        }
        "not_applicable" => r["justification"] = json!("not in the enclave"),
        _ => {}
    }
    r
}

/// The times of each run's steps.
struct Timings {
    read: Vec<Duration>,
    gathered: Vec<Duration>,
    rendered: Vec<(Format, Vec<Duration>)>,
}

/// Times `runs` runs of the baseline read, the report and its rendering in every
/// format; returns the times and the last report.
async fn measure(store: &dyn Store, results: u64, runs: u32) -> (Timings, Report) {
    let mut t = Timings {
        read: Vec::new(),
        gathered: Vec::new(),
        rendered: [Format::Json, Format::Markdown, Format::Html, Format::Oscal]
            .into_iter()
            .map(|f| (f, Vec::new()))
            .collect(),
    };
    let mut report = None;
    for _ in 0..runs {
        let start = Instant::now();
        let n = read_results(store).await;
        t.read.push(start.elapsed());
        assert_eq!(n as u64, results);

        let tiles = TileCache::new(1024);
        let start = Instant::now();
        let r = gather::report(store, &tiles, Framework::Rev2, None)
            .await
            .unwrap();
        t.gathered.push(start.elapsed());
        for (format, times) in &mut t.rendered {
            let start = Instant::now();
            let text = render(&r, *format);
            times.push(start.elapsed());
            assert!(!text.is_empty());
        }
        report = Some(r);
    }
    (t, report.unwrap())
}

/// Baseline: the result entries read page by page, nothing computed; returns how many.
async fn read_results(store: &dyn Store) -> usize {
    let mut after = None;
    let mut n = 0;
    loop {
        let page = store
            .entries(&EntryQuery {
                kind: Some("control".into()),
                after,
                limit: 1000,
                ..EntryQuery::default()
            })
            .await
            .unwrap();
        n += page.len();
        match page.last() {
            Some(l) if page.len() == 1000 => after = Some(l.index),
            _ => break,
        }
    }
    n
}
