//! Three real `threadlog serve` processes on one PostgreSQL database, ingesting
//! concurrently through all of them while one replica is killed with SIGKILL and while
//! PostgreSQL itself restarts. Afterwards every acknowledged receipt is in the log at its
//! index, no event is there twice, the tree size is the number of distinct acknowledged
//! events, and the whole log verifies. Replicas configured with another origin or key
//! refuse to start.

use crate::common;

use common::pg::Cluster;
use common::proc::{self, Serve};
use common::qc_event;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ORIGIN: &str = "replicas.example/log";

/// Waits until `done` holds. The deadline only turns a hang into a failure; nothing here
/// depends on how fast the machine is.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
        let body = Value::Array(ids.iter().map(|i| qc_event(i)).collect());
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
            // 200: every event of the batch was already logged, by an attempt whose
            // answer was lost to the fault; the receipts are the original ones.
            if let Some(r) = resp.ok().filter(|r| r.status() == 201 || r.status() == 200) {
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

    let acked = |n: usize| {
        let acks = acks.clone();
        move || acks.lock().unwrap().len() >= n
    };
    // Fault 1: SIGKILL one replica mid-ingest, then bring it back on a new port.
    wait_until("ingest is under way", acked(100)).await;
    servers.remove(1).kill();
    let at_kill = acks.lock().unwrap().len();
    wait_until("the others ingest while one is down", acked(at_kill + 100)).await;
    let back = tokio::task::block_in_place(|| Serve::start(&env));
    urls.lock().unwrap()[1] = back.url.clone();
    servers.insert(1, back);
    let at_return = acks.lock().unwrap().len();
    wait_until(
        "ingest goes on with the replica back",
        acked(at_return + 100),
    )
    .await;

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
        .json(&qc_event("during-outage"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503, "append while the database is down");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unavailable", "{body}");
    let ready = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    let refused = |statuses: &HashMap<u16, u64>| statuses.get(&503).copied().unwrap_or(0);
    let refused_before = refused(&statuses.lock().unwrap().clone());
    wait_until("the workers meet the outage", || {
        refused(&statuses.lock().unwrap().clone()) > refused_before
    })
    .await;
    let pg = tokio::task::spawn_blocking(move || {
        pg.ctl("start");
        pg
    })
    .await
    .unwrap();
    wait_until(
        "ingest resumes after the database returned",
        acked(before + 100),
    )
    .await;

    stop.store(true, Ordering::SeqCst);
    for w in workers {
        w.await.unwrap();
    }
    // The request refused during the outage may be retried: it is not in the log yet.
    let acks = acks.lock().unwrap().clone();
    let statuses = statuses.lock().unwrap().clone();
    eprintln!("{} events acknowledged; statuses {statuses:?}", acks.len());

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
        let walk = proc::walk(&s.url, &auditor).await;
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

/// Polls the server's latest tree size (read from the replica) until it is `want`.
async fn await_size(s: &common::TestServer, want: u64) {
    for _ in 0..200 {
        if s.tree_size().await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the read replica never reached tree size {want}");
}

fn signed_root(s: &common::TestServer, note: &str) -> (u64, threadlog::merkle::Hash) {
    let (cp, _) =
        threadlog::note::open_checkpoint(note, std::slice::from_ref(&s.verifier_key), &s.origin)
            .expect("the served checkpoint verifies");
    (cp.tree_size, threadlog::merkle::Hash(cp.root_hash))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_read_replica_serves_an_older_checkpoint_never_an_inconsistent_one() {
    use sqlx::Connection;
    use threadlog::merkle;
    let pg = tokio::task::spawn_blocking(|| Cluster::start(false))
        .await
        .unwrap();
    common::pg::create_database(&pg.url("postgres"), "plant").await;
    let (pg, replica) = tokio::task::spawn_blocking(|| {
        let replica = pg.replica();
        (pg, replica)
    })
    .await
    .unwrap();
    let (primary_url, replica_url) = (pg.url("plant"), replica.url("plant"));
    let s = common::TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.store.database_url = Some(primary_url);
        c.read_database_url = Some(replica_url);
        c
    })
    .await;
    for b in 0..5 {
        let batch: Vec<Value> = (0..10).map(|i| qc_event(&format!("b{b}-{i}"))).collect();
        assert_eq!(s.post_events(&Value::Array(batch)).await.0, 201);
    }
    await_size(&s, 50).await;
    let (_, old_note) = s.get("/v1/checkpoint", &s.auditor).await;
    let (old_size, old_root) = signed_root(&s, &old_note);
    assert_eq!(old_size, 50);

    // Replay stops on the replica: appends go on through the primary, reads keep
    // answering from the replica's older, complete state.
    let mut standby = sqlx::PgConnection::connect(&replica.url("plant"))
        .await
        .unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()")
        .execute(&mut standby)
        .await
        .unwrap();
    // Requested is not yet done: wait until replay has actually stopped, so nothing
    // appended from here on can reach the replica.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let state: String = sqlx::query_scalar("SELECT pg_get_wal_replay_pause_state()")
            .fetch_one(&mut standby)
            .await
            .unwrap();
        if state == "paused" {
            break;
        }
        assert_eq!(state, "pause requested");
        assert!(
            tokio::time::Instant::now() < deadline,
            "replay never paused"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for b in 5..8 {
        let batch: Vec<Value> = (0..10).map(|i| qc_event(&format!("b{b}-{i}"))).collect();
        let (status, receipts) = s.post_events(&Value::Array(batch)).await;
        assert_eq!(status, 201, "appends never wait for the read replica");
        assert_eq!(receipts[9]["index"].as_u64(), Some(b * 10 + 9));
    }
    let primary = s.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(primary.tree_size, 80, "the primary has the new batches");
    let (_, note) = s.get("/v1/checkpoint", &s.auditor).await;
    assert_eq!(
        signed_root(&s, &note),
        (old_size, old_root),
        "an older checkpoint"
    );
    let (status, _) = s.get_json("/v1/entries/60").await;
    assert_eq!(status, 404, "not yet on the replica, and said so");
    let (status, body) = s
        .get_json("/v1/proofs/inclusion?index=3&tree_size=80")
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"], "not_found", "{body}");
    let (status, p) = s
        .get_json("/v1/proofs/inclusion?index=3&tree_size=50")
        .await;
    assert_eq!(status, 200);
    let (_, e) = s.get_json("/v1/entries/3").await;
    let leaf = threadlog::merkle::leaf_hash(
        &base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            e["leaf"].as_str().unwrap(),
        )
        .unwrap(),
    );
    merkle::verify_inclusion(&common::hashes(&p), 3, 50, &leaf, &old_root).unwrap();

    // Replay resumes: the replica catches up, and its history extends the old one.
    sqlx::query("SELECT pg_wal_replay_resume()")
        .execute(&mut standby)
        .await
        .unwrap();
    await_size(&s, 80).await;
    let (_, note) = s.get("/v1/checkpoint", &s.auditor).await;
    let (size, root) = signed_root(&s, &note);
    let (status, p) = s
        .get_json(&format!("/v1/proofs/consistency?first=50&second={size}"))
        .await;
    assert_eq!(status, 200);
    merkle::verify_consistency(&common::hashes(&p), 50, &old_root, size, &root).unwrap();
    assert!(s.audit().await.ok);
    s.stop().await;
    drop((replica, pg));
}
