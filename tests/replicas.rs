//! Three real `threadlog serve` processes on one PostgreSQL database, ingesting
//! concurrently through all of them while one replica is killed with SIGKILL and while
//! PostgreSQL itself restarts. Afterwards every acknowledged receipt is in the log at its
//! index, no event is there twice, the tree size is the number of distinct acknowledged
//! events, and the whole log verifies. Replicas configured with another origin or key
//! refuse to start.

mod common;

use common::pg::Cluster;
use common::proc::{self, Serve};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ORIGIN: &str = "replicas.example/log";

fn event(id: &str) -> Value {
    json!({
        "event_id": id,
        "event_type": "qc_result",
        "effective_time": "2026-12-01T09:00:00Z",
        "hierarchy_scope": { "site": "plant-2" },
        "source": "qc-station-1",
        "material": [{ "definition": "bracket-B", "serial": id, "use": "produced" }],
        "quality": { "test_spec": "CMM-7", "result": "pass" }
    })
}

/// event_id → (index, leaf hash) of every acknowledged event.
type Acks = Arc<Mutex<HashMap<String, (u64, String)>>>;

/// Posts batches of 20 new events round-robin over the replicas until `stop`, retrying a
/// failed batch (same event ids) on the next replica until it is acknowledged.
async fn worker(
    id: usize,
    urls: Arc<Mutex<Vec<String>>>,
    token: String,
    stop: Arc<AtomicBool>,
    acks: Acks,
    statuses: Arc<Mutex<HashMap<u16, u64>>>,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut turn = id;
    for batch in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let ids: Vec<String> = (0..20).map(|i| format!("w{id}-b{batch}-{i}")).collect();
        let body = Value::Array(ids.iter().map(|i| event(i)).collect());
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            turn += 1;
            let url = {
                let u = urls.lock().unwrap();
                u[turn % u.len()].clone()
            };
            let resp = client
                .post(format!("{url}/v1/events"))
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await;
            let status = resp.as_ref().map_or(0, |r| r.status().as_u16());
            *statuses.lock().unwrap().entry(status).or_default() += 1;
            if let Some(r) = resp.ok().filter(|r| r.status() == 201) {
                let receipts: Vec<Value> = r.json().await.unwrap();
                let mut acks = acks.lock().unwrap();
                for (eid, r) in ids.iter().zip(receipts) {
                    let ack = (
                        r["index"].as_u64().unwrap(),
                        r["leaf_hash"].as_str().unwrap().to_string(),
                    );
                    if let Some(prev) = acks.insert(eid.clone(), ack.clone()) {
                        assert_eq!(prev, ack, "{eid} acknowledged at two places");
                    }
                }
                break;
            }
            assert!(
                status == 0 || status == 503,
                "only outages may fail a request, got {status}"
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "batch {batch} of worker {id} never acknowledged"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_survive_a_killed_replica_and_a_database_restart() {
    let pg = tokio::task::spawn_blocking(|| Cluster::start(false))
        .await
        .unwrap();
    common::pg::create_database(&pg.url("postgres"), "plant").await;
    let db = pg.url("plant");
    let dir = tempfile::tempdir().unwrap();
    let signer = format!("file:{}", dir.path().join("log.key").display());
    let data_dir = dir.path().to_string_lossy().into_owned();
    let env: Vec<(&str, &str)> = vec![
        ("DATABASE_URL", &db),
        ("THREADLOG_DATA_DIR", &data_dir),
        ("THREADLOG_SIGNER", &signer),
        ("THREADLOG_ORIGIN", ORIGIN),
    ];
    let (code, v, out) = proc::cli(&["migrate"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["migrated"], true);

    // The first start creates the key; the others share it, as replicas behind a load
    // balancer share an HSM key.
    let mut servers = vec![Serve::start(&env)];
    for _ in 0..2 {
        servers.push(Serve::start(&env));
    }
    let key = servers[0].key.clone();
    assert!(servers.iter().all(|s| s.key == key));
    let producer = proc::token("producer", &env);
    let auditor = proc::token("auditor", &env);

    let urls = Arc::new(Mutex::new(
        servers.iter().map(|s| s.url.clone()).collect::<Vec<_>>(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let acks: Acks = Arc::default();
    let statuses: Arc<Mutex<HashMap<u16, u64>>> = Arc::default();
    let workers: Vec<_> = (0..6)
        .map(|i| {
            tokio::spawn(worker(
                i,
                urls.clone(),
                producer.clone(),
                stop.clone(),
                acks.clone(),
                statuses.clone(),
            ))
        })
        .collect();

    // Fault 1: SIGKILL one replica mid-ingest, then bring it back on a new port.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    servers.remove(1).kill();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let back = tokio::task::block_in_place(|| Serve::start(&env));
    urls.lock().unwrap()[1] = back.url.clone();
    servers.insert(1, back);
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Fault 2: PostgreSQL goes down (immediate stop, as in a crash) and comes back. While
    // it is down, appends and readiness answer 503; nobody restarts threadlog.
    let before = acks.lock().unwrap().len();
    let pg = tokio::task::spawn_blocking(move || {
        pg.ctl("stop");
        pg
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = servers[0].url.clone();
    let resp = client
        .post(format!("{url}/v1/events"))
        .bearer_auth(&producer)
        .json(&event("during-outage"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503, "append while the database is down");
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].is_string(), "a JSON error: {body}");
    let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.ctl("start");
        pg
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        acks.lock().unwrap().len() > before,
        "ingest resumed after the database returned"
    );

    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    // The request refused during the outage may be retried: it is not in the log yet.
    let acks = acks.lock().unwrap().clone();
    let statuses = statuses.lock().unwrap().clone();
    eprintln!("{} events acknowledged; statuses {statuses:?}", acks.len());
    assert!(acks.len() > 500, "too little ingest: {}", acks.len());

    // The log as every replica serves it.
    let client = reqwest::Client::new();
    let by_index: HashMap<u64, (String, String)> = acks
        .iter()
        .map(|(id, (i, h))| (*i, (id.clone(), h.clone())))
        .collect();
    assert_eq!(
        by_index.len(),
        acks.len(),
        "two events acknowledged at one index"
    );
    let mut sizes = vec![];
    for s in &servers {
        let walk = proc::walk(&client, &s.url, &auditor).await;
        walk.holds(&by_index);
        sizes.push(walk.entries.len());
        let log: Value = client
            .get(format!("{}/v1/log", s.url))
            .bearer_auth(&auditor)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(log["tree_size"].as_u64(), Some(acks.len() as u64));
    }
    assert!(sizes.iter().all(|&n| n == acks.len()), "{sizes:?}");

    // The auditor's CLI over HTTP and on the database.
    let state = dir.path().join("audit.json");
    let state = state.to_string_lossy();
    let (code, v, out) = tokio::task::block_in_place(|| {
        proc::cli(
            &[
                "verify",
                "--url",
                &servers[2].url,
                "--key",
                &key,
                "--state",
                &state,
            ],
            &[("THREADLOG_TOKEN", &auditor)],
        )
    });
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["tree_size"].as_u64(), Some(acks.len() as u64), "{v}");
    let (code, _, out) =
        tokio::task::block_in_place(|| proc::cli(&["verify", "--database", &db], &[]));
    assert_eq!(code, 0, "{out}");

    // Misconfigured replicas refuse to start, saying why.
    let other_origin: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| {
            (
                k,
                if k == "THREADLOG_ORIGIN" {
                    "elsewhere/log"
                } else {
                    v
                },
            )
        })
        .collect();
    let err = Serve::try_start(&other_origin).err().expect("refused");
    assert!(err.contains("origin") && err.contains(ORIGIN), "{err}");
    let other_key = format!("file:{}", dir.path().join("other.key").display());
    let other_signer: Vec<(&str, &str)> = env
        .iter()
        .map(|&(k, v)| {
            (
                k,
                if k == "THREADLOG_SIGNER" {
                    &other_key
                } else {
                    v
                },
            )
        })
        .collect();
    let err = Serve::try_start(&other_signer).err().expect("refused");
    assert!(err.contains(&key), "{err}");
    drop(servers);
    drop(pg);
}
