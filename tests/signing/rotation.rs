//! Key rotation end to end with the real binary: a chain of keys A → B → C verified by an
//! auditor who pinned only A (from the database and over HTTP), exactly two signatures on
//! each rotation's checkpoint and one on the others, servers with a rotated-away key
//! refusing to start and to append, a key swapped behind the log's back caught at its
//! first checkpoint, and a rotated log moved through export and import.

use crate::common;

use common::proc::{cli, token, Serve};
use serde_json::{json, Value};
use std::path::Path;
use std::sync::Arc;
use threadlog::audit::{self, StoreSource};
use threadlog::note::VerifierKey;
use threadlog::store::{SqliteStore, Store};

const ORIGIN: &str = "rotation.example/log";

fn env_for(dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("THREADLOG_DATA_DIR", dir.display().to_string()),
        ("THREADLOG_ORIGIN", ORIGIN.to_string()),
    ]
}

fn with<'a>(
    base: &'a [(&'static str, String)],
    extra: &'a [(&'static str, String)],
) -> Vec<(&'a str, &'a str)> {
    base.iter()
        .chain(extra.iter())
        .map(|(k, v)| (*k, v.as_str()))
        .collect()
}

async fn append(
    client: &reqwest::Client,
    url: &str,
    producer: &str,
    prefix: &str,
    n: usize,
) -> (u16, Value) {
    let batch: Vec<Value> = (0..n)
        .map(|i| common::event(&format!("{prefix}-{i}")))
        .collect();
    let resp = client
        .post(format!("{url}/v1/events"))
        .bearer_auth(producer)
        .json(&Value::Array(batch))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn open_store(dir: &Path) -> Arc<dyn Store> {
    Arc::new(
        SqliteStore::open(&format!("sqlite://{}", dir.join("threadlog.db").display()))
            .await
            .unwrap(),
    )
}

/// Signature lines of a signed note.
fn signatures(note: &str) -> usize {
    note.lines().filter(|l| l.starts_with("\u{2014} ")).count()
}

fn rotate(env: &[(&str, &str)], signer: Option<&str>, new: &str, retire: bool) -> Value {
    let mut args = vec!["keys", "rotate", "--new-signer", new];
    if let Some(s) = signer {
        args.extend(["--signer", s]);
    }
    if retire {
        args.push("--retire");
    }
    let (code, out, text) = cli(&args, env);
    assert_eq!(code, 0, "{text}");
    out
}

/// Runs the binary without `--json`; returns what it printed, requiring success.
fn text_of(args: &[&str]) -> String {
    let out = std::process::Command::new(common::proc::BIN)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn verify_url(url: &str, key: &str, auditor: &str) -> (i32, Value, String) {
    cli(
        &["verify", "--url", url, "--key", key, "--no-state"],
        &[("THREADLOG_TOKEN", auditor)],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_rotations_verifies_from_the_first_key_alone() {
    let dir = tempfile::tempdir().unwrap();
    let base = env_for(dir.path());
    let env = with(&base, &[]);
    let client = reqwest::Client::new();

    // Key A: the default key file, created on first start.
    let server = Serve::start(&env);
    let key_a = server.key.clone();
    let producer = token("producer", &env);
    let auditor = token("auditor", &env);
    let admin = token("admin", &env);
    assert_eq!(append(&client, &server.url, &producer, "a", 5).await.0, 201);

    // A → B while the A server runs.
    let b_spec = format!("file:{}", dir.path().join("b.key").display());
    let rot_b = rotate(&env, None, &b_spec, false);
    assert_eq!(rot_b["event"], "rotated");
    assert_eq!(rot_b["previous_key"], key_a.as_str());
    assert_eq!(rot_b["entry_index"], 5);
    assert_eq!(rot_b["tree_size"], 6);
    assert_eq!(rot_b["new_key_created"], true);
    let key_b = rot_b["verifier_key"].as_str().unwrap().to_string();
    assert_ne!(key_b, key_a);

    // The running A server refuses to append, says why, and is no longer ready.
    let ready = client
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert!(
        ready["reason"]
            .as_str()
            .unwrap()
            .contains("restart with the new key"),
        "{ready}"
    );
    let (status, err) = append(&client, &server.url, &producer, "late", 1).await;
    assert_eq!(status, 503, "{err}");
    assert_eq!(err["error"], "key_rotated", "{err}");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the log's key was rotated; restart with the new key"),
        "{err}"
    );
    server.kill();
    // Restarted with A, it refuses to start; a second rotation from A is refused too.
    let refused = Serve::try_start(&env)
        .err()
        .expect("a server with the old key must not start");
    assert!(refused.contains("rotated"), "{refused}");
    let c_spec = format!("file:{}", dir.path().join("c.key").display());
    let (code, _, text) = cli(&["keys", "rotate", "--new-signer", &c_spec], &env);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("current key"), "{text}");

    // Serve with B, then B → C (retiring B) and serve with C.
    let b_env_extra = [("THREADLOG_SIGNER", b_spec.clone())];
    let env_b = with(&base, &b_env_extra);
    let server = Serve::start(&env_b);
    assert_eq!(server.key, key_b);
    assert_eq!(append(&client, &server.url, &producer, "b", 3).await.0, 201);
    let rot_c = rotate(&env, Some(&b_spec), &c_spec, true);
    assert_eq!(rot_c["event"], "retired");
    assert_eq!(rot_c["entry_index"], 9);
    let key_c = rot_c["verifier_key"].as_str().unwrap().to_string();
    let (status, err) = append(&client, &server.url, &producer, "x", 1).await;
    assert_eq!(status, 503, "{err}");
    assert_eq!(err["error"], "key_rotated", "{err}");
    server.kill();
    let c_env_extra = [("THREADLOG_SIGNER", c_spec.clone())];
    let env_c = with(&base, &c_env_extra);
    let server = Serve::start(&env_c);
    assert_eq!(append(&client, &server.url, &producer, "c", 4).await.0, 201);
    assert_eq!(append(&client, &server.url, &producer, "d", 2).await.0, 201);

    // Over HTTP with only A pinned: the binary follows A → B → C.
    let (code, report, text) = verify_url(&server.url, &key_a, &auditor);
    assert_eq!(code, 0, "{report} {text}");
    assert_eq!(report["tree_size"], 16);
    let followed: Vec<&str> = report["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["verifier_key"].as_str().unwrap())
        .collect();
    assert_eq!(
        followed,
        vec![key_a.as_str(), key_b.as_str(), key_c.as_str()]
    );
    // Pinning a later key is no shortcut: the log did not begin with it.
    let (code, report, _) = verify_url(&server.url, &key_c, &auditor);
    assert_eq!(code, 1, "{report}");

    // The history the server reports.
    let keys: Value = client
        .get(format!("{}/v1/keys", server.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let history = keys["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{keys}");
    assert_eq!(history[1]["entry_index"], 5);
    assert_eq!(history[1]["event"], "rotated");
    assert_eq!(history[2]["entry_index"], 9);
    assert_eq!(history[2]["event"], "retired");
    assert_eq!(history[2]["introduced_at_tree_size"], 10);
    assert!(history[2]["introduced_at"].is_string(), "{keys}");
    let current: Vec<bool> = history.iter().map(|h| h["current"] == true).collect();
    assert_eq!(current, vec![false, false, true]);
    let status = text_of(&["keys", "status", "--url", &server.url, "--token", &admin]);
    assert!(status.contains("rotated by key entry 5"), "{status}");
    assert!(status.contains("retired by key entry 9"), "{status}");
    server.kill();

    // From the database: two signatures on each rotation's checkpoint, one elsewhere.
    let store = open_store(dir.path()).await;
    let mut counts = Vec::new();
    for cp in store.checkpoints(None, 100).await.unwrap() {
        counts.push((cp.tree_size, signatures(&cp.note)));
    }
    assert_eq!(
        counts,
        vec![(0, 1), (5, 1), (6, 2), (9, 1), (10, 2), (14, 1), (16, 1)]
            .into_iter()
            .map(|(s, n)| (s as u64, n))
            .collect::<Vec<_>>()
    );
    let pinned: VerifierKey = key_a.parse().unwrap();
    let report = audit::verify(&StoreSource::new(store.clone()), &pinned, None, &|_, _| {})
        .await
        .unwrap();
    assert!(report.ok, "{:?}", report.failure);
    assert_eq!(report.checkpoints_checked, 7);
    assert_eq!(store.meta().await.unwrap().unwrap().verifier_key, key_c);
    // `verify --database` defaults to the log's first key.
    let db = format!("sqlite://{}", dir.path().join("threadlog.db").display());
    let (code, report, text) = cli(&["verify", "--database", &db], &[]);
    assert_eq!(code, 0, "{report} {text}");
    let printed = text_of(&["verify", "--database", &db, "--key", &key_a]);
    assert!(
        printed.contains(&format!("(retired by key entry 9): {key_c}")),
        "{printed}"
    );

    // Export and import into a new store: the history round-trips and verifies.
    let out = dir.path().join("dump");
    let (code, _, text) = cli(
        &[
            "export",
            "--database-url",
            &db,
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["keys"],
        json!([
            {"verifier_key": key_a, "from_tree_size": 0},
            {"verifier_key": key_b, "from_tree_size": 6},
            {"verifier_key": key_c, "from_tree_size": 10},
        ])
    );
    assert_eq!(manifest["verifier_key"], key_c.as_str());
    let target = tempfile::tempdir().unwrap();
    let target_db = format!("sqlite://{}", target.path().join("t.db").display());
    let (code, imported, text) = cli(
        &[
            "import",
            "--database-url",
            &target_db,
            "--from",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(imported["tree_size"], 16);
    let moved: Arc<dyn Store> = Arc::new(SqliteStore::open(&target_db).await.unwrap());
    assert_eq!(moved.meta().await.unwrap().unwrap().verifier_key, key_c);
    let report = audit::verify(&StoreSource::new(moved.clone()), &pinned, None, &|_, _| {})
        .await
        .unwrap();
    assert!(report.ok, "{:?}", report.failure);
    // A server with C serves the imported log.
    let target_base = vec![
        ("THREADLOG_DATA_DIR", target.path().display().to_string()),
        ("DATABASE_URL", target_db.clone()),
        ("THREADLOG_SIGNER", c_spec.clone()),
    ];
    let served = Serve::try_start(&with(&target_base, &[]));
    assert!(served.is_ok(), "{:?}", served.err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_whose_key_history_the_entries_do_not_prove_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let base = env_for(dir.path());
    let env = with(&base, &[]);
    let server = Serve::start(&env);
    let producer = token("producer", &env);
    let client = reqwest::Client::new();
    assert_eq!(append(&client, &server.url, &producer, "a", 2).await.0, 201);
    let b_spec = format!("file:{}", dir.path().join("b.key").display());
    rotate(&env, None, &b_spec, false);
    server.kill();
    let db = format!("sqlite://{}", dir.path().join("threadlog.db").display());
    let out = dir.path().join("dump");
    let (code, _, text) = cli(
        &[
            "export",
            "--database-url",
            &db,
            "--out",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{text}");
    // Claim B took over later than its key entry says.
    let path = out.join("manifest.json");
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    manifest["keys"][1]["from_tree_size"] = 2.into();
    std::fs::write(&path, manifest.to_string()).unwrap();
    let target = tempfile::tempdir().unwrap();
    let target_db = format!("sqlite://{}", target.path().join("t.db").display());
    let (code, _, text) = cli(
        &[
            "import",
            "--database-url",
            &target_db,
            "--from",
            out.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("key history"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_swapped_behind_the_log_signs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let base = env_for(dir.path());
    let env = with(&base, &[]);
    let server = Serve::start(&env);
    let key_a = server.key.clone();
    let producer = token("producer", &env);
    let auditor = token("auditor", &env);
    let client = reqwest::Client::new();
    assert_eq!(append(&client, &server.url, &producer, "a", 4).await.0, 201);
    server.kill();

    // Someone with database access swaps the key instead of rotating.
    let x_path = dir.path().join("x.key");
    let (x, _) = threadlog::signer::FileSigner::open_or_create(&x_path, ORIGIN).unwrap();
    let key_x = threadlog::signer::Signer::verifier_key(&x).to_string();
    let db = format!("sqlite://{}", dir.path().join("threadlog.db").display());
    let pool = sqlx::SqlitePool::connect(&db).await.unwrap();
    sqlx::query("UPDATE meta SET verifier_key = ? WHERE id = 1")
        .bind(&key_x)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let x_extra = [("THREADLOG_SIGNER", format!("file:{}", x_path.display()))];
    let server = Serve::start(&with(&base, &x_extra));
    // The latest checkpoint does not verify with X: the server signs nothing with it.
    let (status, body) = append(&client, &server.url, &producer, "x", 3).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "halted", "{body}");
    let message = body["message"].as_str().unwrap();
    assert!(
        message.contains("tree size 4 does not verify with the log's key"),
        "{message}"
    );
    let ready = client
        .get(format!("{}/readyz", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);

    // Nothing was signed by X: the log still verifies from key A.
    let store = open_store(dir.path()).await;
    assert_eq!(
        store.latest_checkpoint().await.unwrap().unwrap().tree_size,
        4
    );
    let (code, report, text) = verify_url(&server.url, &key_a, &auditor);
    assert_eq!(code, 0, "{report} {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotations_through_hsm_keys_verify_from_the_first_key() {
    // Sets SOFTHSM2_CONF and the PIN for the child processes.
    common::softhsm::tokens();
    let dir = tempfile::tempdir().unwrap();
    let base = env_for(dir.path());
    let env = with(&base, &[]);
    let client = reqwest::Client::new();
    let server = Serve::start(&env);
    let key_a = server.key.clone();
    let producer = token("producer", &env);
    let auditor = token("auditor", &env);
    assert_eq!(append(&client, &server.url, &producer, "a", 3).await.0, 201);

    // A (file) → B (SoftHSM key made with `keys init`).
    let (code, init, text) = cli(
        &[
            "keys",
            "init",
            "--pkcs11-module",
            common::softhsm::MODULE,
            "--token-label",
            "rotation",
            "--label",
            "log-b",
        ],
        &env,
    );
    assert_eq!(code, 0, "{text}");
    let b_spec = init["signer"].as_str().unwrap().to_string();
    let rot_b = rotate(&env, None, &b_spec, false);
    assert_eq!(rot_b["verifier_key"], init["verifier_key"]);
    assert_eq!(rot_b["new_key_created"], false);
    server.kill();

    // B signs in the HSM and hands over to D, another key of the same token; D hands
    // over to C (file), retiring itself.
    let b_extra = [("THREADLOG_SIGNER", b_spec.clone())];
    let server = Serve::start(&with(&base, &b_extra));
    assert_eq!(server.key, init["verifier_key"].as_str().unwrap());
    assert_eq!(append(&client, &server.url, &producer, "b", 2).await.0, 201);
    server.kill();
    let (code, init_d, text) = cli(
        &[
            "keys",
            "init",
            "--pkcs11-module",
            common::softhsm::MODULE,
            "--token-label",
            "rotation",
            "--label",
            "log-d",
        ],
        &env,
    );
    assert_eq!(code, 0, "{text}");
    let d_spec = init_d["signer"].as_str().unwrap().to_string();
    let rot_d = rotate(&env, Some(&b_spec), &d_spec, false);
    assert_eq!(rot_d["verifier_key"], init_d["verifier_key"]);
    let d_extra = [("THREADLOG_SIGNER", d_spec.clone())];
    let server = Serve::start(&with(&base, &d_extra));
    assert_eq!(append(&client, &server.url, &producer, "d", 1).await.0, 201);
    let c_spec = format!("file:{}", dir.path().join("c.key").display());
    let rot_c = rotate(&env, Some(&d_spec), &c_spec, true);
    assert_eq!(rot_c["previous_key"], init_d["verifier_key"]);
    server.kill();
    let c_extra = [("THREADLOG_SIGNER", c_spec.clone())];
    let server = Serve::start(&with(&base, &c_extra));
    assert_eq!(append(&client, &server.url, &producer, "c", 2).await.0, 201);

    let (code, report, text) = verify_url(&server.url, &key_a, &auditor);
    assert_eq!(code, 0, "{report} {text}");
    assert_eq!(report["keys"].as_array().unwrap().len(), 4, "{report}");
    server.kill();
    let store = open_store(dir.path()).await;
    let counts: Vec<(u64, usize)> = store
        .checkpoints(None, 100)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.tree_size, signatures(&c.note)))
        .collect();
    assert_eq!(
        counts,
        vec![
            (0, 1),
            (3, 1),
            (4, 2),
            (6, 1),
            (7, 2),
            (8, 1),
            (9, 2),
            (11, 1)
        ]
    );
}

/// On PostgreSQL, with appends streaming into a running server while the key rotates:
/// every append either lands before the rotation or is refused after it, so no checkpoint
/// after the rotation carries the old key alone; and keys cannot be reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_under_load_on_postgres_leaves_no_old_key_checkpoint_behind() {
    use threadlog::entry::KeyEvent;
    use threadlog::ledger::{self, RotateError};
    use threadlog::signer::FileSigner;

    let s = common::TestServer::start_pg().await;
    let origin = s.origin.clone();
    let old = FileSigner::open(&s.dir.path().join("log.key"), &origin).unwrap();
    let (new, _) = FileSigner::open_or_create(&s.dir.path().join("b.key"), &origin).unwrap();
    assert_eq!(s.post_events(&json!([common::event("first")])).await.0, 201);

    let url = s.url.clone();
    let producer = s.producer.clone();
    let load = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut codes = Vec::new();
        for i in 0..400 {
            let (status, body) = append(&client, &url, &producer, &format!("load-{i}"), 1).await;
            if status == 503 {
                assert_eq!(body["error"], "key_rotated", "{body}");
            }
            codes.push(status);
            if codes.iter().filter(|c| **c == 503).count() >= 3 {
                break;
            }
        }
        codes
    });
    // Rotate mid-load: once the load has appended, not after a guessed delay.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while s
        .store
        .latest_checkpoint()
        .await
        .unwrap()
        .unwrap()
        .tree_size
        < 11
    {
        assert!(!load.is_finished(), "the load ended before appending");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load never appended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let done = ledger::rotate(s.store.as_ref(), &old, &new, KeyEvent::Rotated)
        .await
        .unwrap();
    let codes = load.await.unwrap();
    assert!(
        codes.contains(&503),
        "appends after the rotation are refused: {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 201 || *c == 503), "{codes:?}");
    // Refusals are final: once one is seen, nothing more is accepted.
    let first_refusal = codes.iter().position(|c| *c == 503).unwrap();
    assert!(
        codes[first_refusal..].iter().all(|c| *c == 503),
        "{codes:?}"
    );

    let latest = s.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.tree_size, done.tree_size);
    assert_eq!(signatures(&latest.note), 2);
    let report = s.audit().await;
    assert!(report.ok, "{:?}", report.failure);
    assert_eq!(report.keys.len(), 2);
    assert_eq!(report.keys[1].from_tree_size, done.tree_size);

    // Neither key can come back, nor can the old key rotate again.
    let again = ledger::rotate(s.store.as_ref(), &new, &old, KeyEvent::Rotated).await;
    assert!(
        matches!(again, Err(RotateError::AlreadyIntroduced { .. })),
        "{again:?}"
    );
    let (other, _) = FileSigner::open_or_create(&s.dir.path().join("c.key"), &origin).unwrap();
    let stale = ledger::rotate(s.store.as_ref(), &old, &other, KeyEvent::Rotated).await;
    assert!(
        matches!(stale, Err(RotateError::NotCurrent { .. })),
        "{stale:?}"
    );
    s.stop().await;
}
