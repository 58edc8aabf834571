//! Key history that the log does not prove: a dump whose entries do not prove its key
//! history is refused, and a key swapped behind the log signs nothing.

use super::*;

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
    let ((code, _, text), _, _target) = import_fresh(&out);
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
