//! `threadlog verify --url` as an auditor runs it: remembers the checkpoint it saw,
//! catches rollbacks and forks between runs, and names the first altered entry.

mod common;

use common::{event, TestServer};
use serde_json::Value;
use std::process::Command;

/// Runs the CLI off the runtime's workers, so the in-process server keeps serving.
async fn verify(
    s: &TestServer,
    key: &str,
    token: &str,
    state: &std::path::Path,
) -> (i32, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_threadlog"));
    cmd.args(["verify", "--json", "--url", &s.url, "--key", key, "--state"])
        .arg(state)
        .env("THREADLOG_TOKEN", token);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn append(s: &TestServer, prefix: &str, n: usize) {
    let batch: Vec<Value> = (0..n).map(|i| event(&format!("{prefix}-{i}"))).collect();
    assert_eq!(s.post_events(&Value::Array(batch)).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remembers_the_last_checkpoint_and_catches_rollback_and_fork() {
    let s = TestServer::start().await;
    let key = s.verifier_key.to_string();
    let state = s.dir.path().join("auditor-state.json");
    append(&s, "a", 300).await;

    let (code, report, err) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 0, "{report} {err}");
    assert_eq!(report["entries_checked"], 300);
    let saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(saved["tree_size"], 300);

    append(&s, "b", 50).await;
    let (code, report, _) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["consistent_with_previous"], 300);
    assert_eq!(report["tree_size"], 350);

    // The auditor once saw a different tree at size 350: a fork.
    let mut forked = saved.clone();
    forked["tree_size"] = 350.into();
    forked["root_hash"] = saved["root_hash"].clone();
    std::fs::write(&state, forked.to_string()).unwrap();
    let (code, report, _) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 1, "{report}");
    assert!(
        report["failure"]["reason"]
            .as_str()
            .unwrap()
            .contains("fork"),
        "{report}"
    );

    // The auditor once saw a larger tree: a rollback.
    let mut ahead = saved.clone();
    ahead["tree_size"] = 10_000.into();
    std::fs::write(&state, ahead.to_string()).unwrap();
    let (code, report, _) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 1);
    assert!(
        report["failure"]["reason"]
            .as_str()
            .unwrap()
            .contains("rollback"),
        "{report}"
    );

    // Another key, or a token that may not read, never passes.
    let other = "other.example/log+00000000+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let (code, _, err) = verify(&s, other, &s.auditor, &state).await;
    assert_ne!(code, 0, "{err}");
    let stranger = threadlog::api::auth::new_token();
    let (code, _, err) = verify(&s, &key, &stranger, &s.dir.path().join("fresh.json")).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("401"), "{err}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_leaf_behind_the_server_is_named() {
    let s = TestServer::start().await;
    append(&s, "x", 700).await;
    append(&s, "y", 100).await;
    // Change entry 523's leaf bytes in the database the running server reads from,
    // keeping it canonical JSON so only the hash comparison can catch it.
    let url = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let leaf: Vec<u8> = sqlx::query_scalar("SELECT leaf FROM entries WHERE idx = 523")
        .fetch_one(&pool)
        .await
        .unwrap();
    let altered = String::from_utf8(leaf).unwrap().replace("x-523", "x-999");
    sqlx::query("UPDATE entries SET leaf = ? WHERE idx = 523")
        .bind(altered.as_bytes())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;

    let (code, report, err) = verify(
        &s,
        &s.verifier_key.to_string(),
        &s.auditor,
        &s.dir.path().join("st.json"),
    )
    .await;
    assert_eq!(code, 1, "{report} {err}");
    assert_eq!(report["failure"]["index"], 523, "{report}");
    assert!(
        !s.dir.path().join("st.json").exists(),
        "a failed run must not advance the state"
    );
    s.stop().await;
}
