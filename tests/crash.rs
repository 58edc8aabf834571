//! Crash test: the real binary, killed with SIGKILL during sustained concurrent ingest,
//! several times. After each restart every acknowledged receipt must still be provable,
//! no event is logged twice, and the whole log verifies (over HTTP and from the file).

mod common;

use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use threadlog::merkle::{self, Hash};
use threadlog::note::{self, VerifierKey};

const BIN: &str = env!("CARGO_BIN_EXE_threadlog");

fn token(dir: &std::path::Path, role: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "create", "--json", "--role", role])
        .env("THREADLOG_DATA_DIR", dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// Starts `threadlog serve`; returns the child, its URL and its verifier key.
fn start(dir: &std::path::Path) -> (Child, String, String) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .env("THREADLOG_DATA_DIR", dir)
        .env("THREADLOG_LISTEN", "127.0.0.1:0")
        .env("THREADLOG_ORIGIN", "crash.example/log")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut url, mut key) = (None, None);
    while url.is_none() {
        let line = lines.next().expect("server printed its address").unwrap();
        if let Some(k) = line.strip_prefix("verifier key: ") {
            key = Some(k.to_string());
        }
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.to_string());
        }
    }
    (child, url.unwrap(), key.unwrap())
}

fn event(id: &str) -> Value {
    json!({
        "event_id": id,
        "event_type": "qc_result",
        "effective_time": "2026-11-24T09:00:00Z",
        "hierarchy_scope": { "site": "plant-1" },
        "source": "qc-station-3",
        "material": [{ "definition": "bracket-A", "serial": id, "use": "produced" }],
        "quality": { "test_spec": "CMM-42", "result": "pass" }
    })
}

async fn get_json(client: &reqwest::Client, url: &str, token: &str) -> Value {
    let resp = client.get(url).bearer_auth(token).send().await.unwrap();
    assert!(resp.status().is_success(), "GET {url}: {}", resp.status());
    resp.json().await.unwrap()
}

#[derive(Clone)]
struct Ack {
    leaf_hash: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_during_ingest_loses_no_acknowledged_entry() {
    let dir = tempfile::tempdir().unwrap();
    let producer = token(dir.path(), "producer");
    let auditor = token(dir.path(), "auditor");
    let acked: Arc<Mutex<HashMap<u64, (String, Ack)>>> = Arc::default();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut key = String::new();
    let mut submitted = 0u64;

    for round in 0..4 {
        let (mut child, url, k) = start(dir.path());
        key = k;
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
                    let body = Value::Array(ids.iter().map(|id| event(id)).collect());
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
                        let prev = acked.insert(
                            index,
                            (
                                id.clone(),
                                Ack {
                                    leaf_hash: r["leaf_hash"].as_str().unwrap().into(),
                                },
                            ),
                        );
                        assert!(prev.is_none(), "index {index} acknowledged twice");
                    }
                }
                sent
            }));
        }
        tokio::time::sleep_until(stop_at.into()).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
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

    let (mut child, url, k) = start(dir.path());
    assert_eq!(k, key, "the key survives restarts");
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
    let mut ids = HashSet::new();
    let mut logged: HashMap<u64, (String, String)> = HashMap::new();
    let mut after: Option<u64> = None;
    loop {
        let path = match after {
            Some(a) => format!("{url}/v1/entries?limit=1000&after={a}"),
            None => format!("{url}/v1/entries?limit=1000"),
        };
        let page = get_json(&client, &path, &auditor).await;
        for e in page["entries"].as_array().unwrap() {
            let id = e["entry"]["body"]["event_id"].as_str().unwrap().to_string();
            assert!(ids.insert(id.clone()), "duplicate event_id {id}");
            logged.insert(
                e["index"].as_u64().unwrap(),
                (id, e["leaf_hash"].as_str().unwrap().to_string()),
            );
        }
        match page["next"].as_u64() {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    for (index, (id, ack)) in &acked {
        let (logged_id, logged_hash) = logged
            .get(index)
            .unwrap_or_else(|| panic!("acknowledged entry {index} is gone"));
        assert_eq!(logged_id, id, "entry {index}");
        assert_eq!(logged_hash, &ack.leaf_hash, "entry {index}");
    }
    // Receipts stay provable against the latest checkpoint (a sample here; the full
    // verification below rebuilds the whole tree).
    for (index, (_, ack)) in acked.iter().step_by((acked.len() / 200).max(1)) {
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
            &Hash::from_base64(&ack.leaf_hash).unwrap(),
            &root,
        )
        .unwrap();
    }
    assert_eq!(ids.len() as u64, cp.tree_size);
    assert!(cp.tree_size >= acked.len() as u64 && cp.tree_size <= submitted);
    eprintln!(
        "{} acknowledged of {submitted} submitted; tree size {}",
        acked.len(),
        cp.tree_size
    );

    // The auditor's CLI, over HTTP and on the file.
    let state = dir.path().join("audit-state.json");
    let out = Command::new(BIN)
        .args(["verify", "--json", "--url", &url, "--key", &key, "--state"])
        .arg(&state)
        .env("THREADLOG_TOKEN", &auditor)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let out = Command::new(BIN)
        .args(["verify", "--json", "--database"])
        .arg(format!(
            "sqlite://{}",
            dir.path().join("threadlog.db").display()
        ))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
