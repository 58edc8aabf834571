//! Crash test: the real binary, killed with SIGKILL during sustained concurrent ingest,
//! several times. After each restart every acknowledged receipt must still be provable,
//! no event is logged twice, and the whole log verifies (over HTTP and from the file).

use crate::common;

use common::proc::{self, Serve};
use common::qc_event;

use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use threadlog::merkle::{self, Hash};
use threadlog::note::{self, VerifierKey};

const ORIGIN: &str = "crash.example/log";

fn env(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        ("THREADLOG_DATA_DIR", dir.to_string_lossy().into_owned()),
        ("THREADLOG_ORIGIN", ORIGIN.into()),
    ]
}

/// Starts `threadlog serve` on the data directory.
fn start(dir: &std::path::Path) -> Serve {
    let env = env(dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    Serve::start(&env)
}

fn token(dir: &std::path::Path, role: &str) -> String {
    let env = env(dir);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    proc::token(role, &env)
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let resp = client.get(url).bearer_auth(token).send().await.unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_ingest_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let producer = token(dir.path(), "producer");
    let auditor = token(dir.path(), "auditor");
    let acked: Arc<Mutex<HashMap<u64, (String, String)>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut key = String::new();
    let mut submitted = 0u64;

    for round in 0..4 {
        let server = start(dir.path());
        let url = server.url.clone();
        key = server.key.clone();
        let stop_at = Instant::now() + Duration::from_millis(800 + 300 * round);
        let mut tasks = vec![];
        for worker in 0..8 {
            let (client, url, producer, acked) =
                (client.clone(), url.clone(), producer.clone(), acked.clone());
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                let mut sent = 0u64;
                while Instant::now() < stop_at + Duration::from_millis(500) {
                    let ids: Vec<String> = (0..10)
                        .map(|i| format!("r{round}-w{worker}-{n}-{i}"))
                        .collect();
                    n += 1;
                    let body = Value::Array(ids.iter().map(|id| qc_event(id)).collect());
                    sent += 10;
                    let resp = client
                        .post(format!("{url}/v1/events"))
                        .bearer_auth(&producer)
                        .json(&body)
                        .send()
                        .await;
                    let Ok(resp) = resp else { break };
                    if resp.status() != 201 {
                        break;
                    }
                    let receipts: Vec<Value> = resp.json().await.unwrap();
                    let mut acked = acked.lock().unwrap();
                    for (id, r) in ids.iter().zip(receipts) {
                        let index = r["index"].as_u64().unwrap();
                        let prev = acked
                            .insert(index, (id.clone(), r["leaf_hash"].as_str().unwrap().into()));
                        assert!(prev.is_none(), "index {index} acknowledged twice");
                    }
                }
                sent
            }));
        }
        tokio::time::sleep_until(stop_at.into()).await;
        server.kill();
        for t in tasks {
            submitted += t.await.unwrap();
        }
    }
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() > 100,
        "too little ingest to be meaningful: {}",
        acked.len()
    );

    let server = start(dir.path());
    let url = server.url.clone();
    assert_eq!(server.key, key, "the key survives restarts");
    let verifier: VerifierKey = key.parse().unwrap();
    let cp_text = client
        .get(format!("{url}/v1/checkpoint"))
        .bearer_auth(&auditor)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (cp, _) = note::open_checkpoint(&cp_text, &[verifier], "crash.example/log").unwrap();
    let root = Hash(cp.root_hash);

    // Walk the whole log once: no event twice, and every acknowledged receipt's entry is
    // at its index with the same leaf hash.
    let walk = proc::walk(&url, &auditor).await;
    walk.holds(&acked);
    // Receipts stay provable against the latest checkpoint (a sample here; the full
    // verification below rebuilds the whole tree).
    for (index, (_, leaf_hash)) in acked.iter().step_by((acked.len() / 200).max(1)) {
        let p = get_json(
            &client,
            &format!(
                "{url}/v1/proofs/inclusion?index={index}&tree_size={}",
                cp.tree_size
            ),
            &auditor,
        )
        .await;
        let proof: Vec<Hash> = common::hashes(&p);
        merkle::verify_inclusion(
            &proof,
            *index,
            cp.tree_size,
            &Hash::from_base64(leaf_hash).unwrap(),
            &root,
        )
        .unwrap();
    }
    assert_eq!(walk.entries.len() as u64, cp.tree_size);
    assert!(cp.tree_size >= acked.len() as u64 && cp.tree_size <= submitted);
    eprintln!(
        "{} acknowledged of {submitted} submitted; tree size {}",
        acked.len(),
        cp.tree_size
    );

    // The auditor's CLI, over HTTP and on the file.
    let state = dir.path().join("audit-state.json");
    let state = state.to_string_lossy();
    let (code, _, out) = tokio::task::block_in_place(|| {
        proc::cli(
            &["verify", "--url", &url, "--key", &key, "--state", &state],
            &[("THREADLOG_TOKEN", &auditor)],
        )
    });
    assert_eq!(code, 0, "{out}");
    server.kill();
    let db = format!("sqlite://{}", dir.path().join("threadlog.db").display());
    let (code, _, out) =
        tokio::task::block_in_place(|| proc::cli(&["verify", "--database", &db], &[]));
    assert_eq!(code, 0, "{out}");
}
