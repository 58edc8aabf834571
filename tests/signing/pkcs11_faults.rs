//! The HSM going away under a running server: appends answer 503 and nothing
//! unacknowledged is logged, reads keep working, `/readyz` says not ready and names the
//! signer, and the server heals by itself when the token is back. A binary of its own:
//! recovery re-initialises the PKCS#11 module, which is process-wide.

use crate::common;

use common::softhsm::{self, PIN};
use common::{event, TestServer};
use std::time::{Duration, Instant};
use threadlog::note;
use threadlog::signer::pkcs11::{init_key, Pkcs11Spec};

/// Polls `/readyz` until it answers `want` (within 20 s); returns the reason given.
async fn wait_ready(s: &TestServer, want: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = s
            .client
            .get(format!("{}/readyz", s.url))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap();
        if status == want {
            return body["reason"].as_str().unwrap_or_default().to_string();
        }
        assert!(Instant::now() < deadline, "/readyz stays {status}: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_lost_mid_run_gives_503_then_the_server_heals() {
    let tokens = softhsm::tokens();
    let spec = Pkcs11Spec::parse(&softhsm::spec("fault", "log-key"), None).unwrap();
    let done = init_key(&spec, PIN.to_string().into(), "test.example/log").unwrap();
    let signer = done.signer_spec.clone();
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), move |mut c| {
        c.signer = Some(signer);
        c
    })
    .await;
    for i in 0..2 {
        let (status, body) = s.post_events(&event(&format!("before-{i}"))).await;
        assert_eq!(status, 201, "{body}");
    }
    let size = s.tree_size().await;
    let (_, checkpoint_before) = s.get("/v1/checkpoint", &s.auditor).await;

    // The token disappears: its files move out of SoftHSM's token directory.
    let token_dir = tokens.dir("fault").to_path_buf();
    let away = tokens.tokendir.parent().unwrap().join("away");
    std::fs::rename(&token_dir, &away).unwrap();
    for i in 0..3 {
        let (status, body) = s.post_events(&event(&format!("during-{i}"))).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "unavailable", "{body}");
    }
    // Reads keep working, and nothing was appended.
    assert_eq!(s.tree_size().await, size);
    let (status, checkpoint) = s.get("/v1/checkpoint", &s.auditor).await;
    assert_eq!(status, 200);
    assert_eq!(checkpoint, checkpoint_before);
    let (status, _) = s.get("/v1/entries/0", &s.auditor).await;
    assert_eq!(status, 200);
    // Not ready, and the reason names the signer. A cached probe may predate the loss
    // by up to two seconds, so poll briefly.
    let reason = wait_ready(&s, 503).await;
    assert!(reason.contains("signer pkcs11"), "{reason}");
    assert!(reason.contains("\"fault\""), "names the token: {reason}");
    // The key status says so too, and `keys status` exits 1.
    let (status, body) = s.get("/v1/keys", &s.admin).await;
    assert_eq!(status, 200, "{body}");
    let keys: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(keys["answering"], false, "{keys}");
    assert!(
        keys["probe_error"].as_str().unwrap().contains("fault"),
        "{keys}"
    );
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_threadlog"));
    cmd.args(["keys", "status", "--url", &s.url])
        .env("THREADLOG_TOKEN", &s.admin);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("answering:       NO"), "{stdout}");

    // The token comes back; the next appends succeed without a restart.
    std::fs::rename(&away, &token_dir).unwrap();
    // Readiness returns by itself: the probe, not an append, finds the token again.
    wait_ready(&s, 200).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let receipt = loop {
        let (status, body) = s.post_events(&event("during-0")).await;
        if status == 201 {
            break body;
        }
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["error"], "unavailable", "{body}");
        assert!(Instant::now() < deadline, "no recovery: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // The failed attempts left nothing behind: the retried entry is the next index.
    assert_eq!(receipt["index"], size);
    note::open_checkpoint(
        receipt["checkpoint"].as_str().unwrap(),
        std::slice::from_ref(&done.verifier_key),
        &s.origin,
    )
    .expect("signed by the HSM key after recovery");
    for i in 1..3 {
        let (status, body) = s.post_events(&event(&format!("during-{i}"))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["index"], size + i);
    }
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.tree_size, size + 3);
    s.stop().await;
}
