//! A chain of rotations verifies from the first key alone.

use super::*;

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
    let ((code, imported, text), target_db, target) = import_fresh(&out);
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
