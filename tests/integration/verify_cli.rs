//! `threadlog verify --url` as an auditor runs it: remembers the checkpoint it saw,
//! catches rollbacks and forks between runs, and names the first altered entry.

use crate::common;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use common::{event, TestServer};
use serde_json::Value;
use std::process::Command;
use threadlog::merkle::Hash;
use threadlog::note::VerifierKey;

/// A freshly made Ed25519 verifier key named `origin`: well-formed, but not the log's.
fn foreign_key(origin: &str) -> VerifierKey {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    VerifierKey::from_ed25519(origin, &key.verifying_key().to_bytes()).unwrap()
}

/// A proxy in front of `upstream` that passes every GET through, except that it
/// replaces the first hash of every consistency proof: a server lying about how its
/// tree grew. Answers on the returned base URL until the runtime ends.
async fn lying_proxy(upstream: String) -> String {
    let client = reqwest::Client::new();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let (client, upstream) = (client.clone(), upstream.clone());
        async move {
            let path = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_string())
                .unwrap_or_default();
            let mut forward = client.get(format!("{upstream}{path}"));
            if let Some(auth) = req.headers().get("authorization") {
                forward = forward.header("authorization", auth.to_str().unwrap());
            }
            let resp = forward.send().await.unwrap();
            let status = resp.status().as_u16();
            let content_type = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            let mut body = resp.bytes().await.unwrap().to_vec();
            if path.starts_with("/v1/proofs/consistency") && status == 200 {
                let mut proof: Value = serde_json::from_slice(&body).unwrap();
                assert_ne!(proof["hashes"][0], Value::Null, "{proof}");
                proof["hashes"][0] = Hash([7; 32]).to_base64().into();
                body = serde_json::to_vec(&proof).unwrap();
            }
            axum::http::Response::builder()
                .status(status)
                .header("content-type", content_type)
                .body(axum::body::Body::from(body))
                .unwrap()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Runs the CLI off the runtime's workers, so the in-process server keeps serving.
async fn verify(
    s: &TestServer,
    key: &str,
    token: &str,
    state: &std::path::Path,
) -> (i32, Value, String) {
    verify_at(&s.url, key, token, state).await
}

async fn verify_at(
    url: &str,
    key: &str,
    token: &str,
    state: &std::path::Path,
) -> (i32, Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_threadlog"));
    cmd.args(["verify", "--json", "--url", url, "--key", key, "--state"])
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
    let root_350 = report["root_hash"].as_str().unwrap().to_string();

    // The auditor once saw a different tree at size 350: a fork.
    let mut forked = saved.clone();
    forked["tree_size"] = 350.into();
    forked["root_hash"] = saved["root_hash"].clone();
    std::fs::write(&state, forked.to_string()).unwrap();
    let (code, report, _) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["failure"]["checkpoint"], 350, "{report}");
    assert_eq!(
        report["failure"]["reason"],
        format!(
            "fork: the log's tree at size 350 has root {root_350}, but the previous run saw {}",
            saved["root_hash"].as_str().unwrap()
        ),
        "{report}"
    );

    // The auditor once saw a larger tree: a rollback.
    let mut ahead = saved.clone();
    ahead["tree_size"] = 10_000.into();
    std::fs::write(&state, ahead.to_string()).unwrap();
    let (code, report, _) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 1);
    assert_eq!(report["failure"]["checkpoint"], 350, "{report}");
    assert_eq!(
        report["failure"]["reason"],
        "rollback: the log is at tree size 350, but the previous run saw 10000",
        "{report}"
    );

    // A well-formed key of the same name that never signed this log does not pass.
    let foreign = foreign_key(&s.origin);
    let fresh = s.dir.path().join("foreign.json");
    let (code, report, err) = verify(&s, &foreign.to_string(), &s.auditor, &fresh).await;
    assert_eq!(code, 1, "{report} {err}");
    assert_eq!(report["failure"]["checkpoint"], 350, "{report}");
    assert_eq!(report["failure"]["index"], Value::Null, "{report}");
    assert_eq!(
        report["failure"]["reason"],
        format!(
            "latest checkpoint at tree size 350: not signed by the log's current key {foreign} \
             (no key the log introduced signed it)"
        ),
        "{report}"
    );
    assert!(!fresh.exists(), "a failed run must not write the state");
    // A token that may not read never passes.
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_consistency_proof_fails_and_keeps_the_state() {
    let s = TestServer::start().await;
    let key = s.verifier_key.to_string();
    let state = s.dir.path().join("auditor-state.json");
    append(&s, "a", 300).await;
    let (code, report, err) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 0, "{report} {err}");
    let saved = std::fs::read(&state).unwrap();

    append(&s, "b", 50).await;
    let proxy = lying_proxy(s.url.clone()).await;
    let (code, report, err) = verify_at(&proxy, &key, &s.auditor, &state).await;
    assert_eq!(code, 1, "{report} {err}");
    assert_eq!(report["failure"]["index"], Value::Null, "{report}");
    assert_eq!(report["failure"]["checkpoint"], 350, "{report}");
    assert_eq!(
        report["failure"]["reason"], "the server's consistency proof 300 → 350 does not verify",
        "{report}"
    );
    assert_eq!(
        std::fs::read(&state).unwrap(),
        saved,
        "the state must not advance"
    );

    // The honest server, asked the same, passes.
    let (code, report, err) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 0, "{report} {err}");
    assert_eq!(report["consistent_with_previous"], 300);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_file_of_another_origin_is_refused() {
    let s = TestServer::start().await;
    let key = s.verifier_key.to_string();
    let state = s.dir.path().join("auditor-state.json");
    append(&s, "a", 20).await;
    let (code, report, err) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 0, "{report} {err}");
    let mut saved: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    // The same tree and root, remembered for another log.
    saved["origin"] = "other.example/log".into();
    std::fs::write(&state, saved.to_string()).unwrap();
    let (code, report, err) = verify(&s, &key, &s.auditor, &state).await;
    assert_eq!(code, 1, "{report} {err}");
    assert_eq!(report["failure"]["index"], Value::Null, "{report}");
    assert_eq!(report["failure"]["checkpoint"], Value::Null, "{report}");
    assert_eq!(
        report["failure"]["reason"],
        "the previous run audited origin \"other.example/log\", not \"test.example/log\"",
        "{report}"
    );
    let kept: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(kept, saved, "the state must not be overwritten");
    s.stop().await;
}

/// `verify --receipt`: a receipt checks out offline with the log key alone (and with the
/// entry's leaf bytes); an altered receipt, a foreign key or other leaf bytes fail by name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_is_checked_offline_with_the_key_alone() {
    let s = TestServer::start().await;
    append(&s, "before", 5).await;
    let (status, receipt) = s.post_events(&event("the-one")).await;
    assert_eq!(status, 201, "{receipt}");
    append(&s, "after", 5).await;
    let (_, entry) = s
        .get_json(&format!("/v1/entries/{}", receipt["index"]))
        .await;
    let dir = s.dir.path();
    let leaf = dir.join("leaf.bin");
    std::fs::write(&leaf, B64.decode(entry["leaf"].as_str().unwrap()).unwrap()).unwrap();
    let key = s.verifier_key.to_string();
    let check = |name: &str, r: &Value, key: &str, with_leaf: bool| {
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, r.to_string()).unwrap();
        let path = path.display().to_string();
        let leaf = leaf.display().to_string();
        let mut args = vec!["verify", "--receipt", &path, "--key", key];
        if with_leaf {
            args.extend(["--leaf", &leaf]);
        }
        common::proc::cli(&args, &[])
    };

    let (code, v, out) = check("good", &receipt, &key, true);
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["report"]["index"], receipt["index"], "{v}");
    assert_eq!(
        v["report"]["tree_size"],
        receipt["inclusion_proof"]["tree_size"]
    );

    let mut moved = receipt.clone();
    moved["index"] = (receipt["index"].as_u64().unwrap() + 1).into();
    let (code, v, out) = check("moved", &moved, &key, false);
    assert_eq!(
        (code, &v["failure"]["at"]),
        (1, &"inclusion_proof".into()),
        "{out}"
    );

    let (code, v, out) = check(
        "foreign",
        &receipt,
        &foreign_key(&s.origin).to_string(),
        false,
    );
    assert_eq!(
        (code, &v["failure"]["at"]),
        (1, &"checkpoint".into()),
        "{out}"
    );

    let mut other = receipt.clone();
    other["leaf_hash"] = Hash([3; 32]).to_base64().into();
    let (code, v, out) = check("other-leaf", &other, &key, true);
    assert_eq!((code, &v["failure"]["at"]), (1, &"leaf".into()), "{out}");
    s.stop().await;
}
