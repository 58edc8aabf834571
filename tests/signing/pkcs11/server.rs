//! The server signs checkpoints in the HSM, and `keys init` and `keys status` on the command
//! line.

use super::*;

/// Runs `threadlog keys status` against the server, off the runtime's workers so the
/// in-process server keeps serving. Returns the exit code, stdout and stderr.
async fn keys_status(s: &TestServer, token: &str, json: bool) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_threadlog"));
    cmd.args(["keys", "status", "--url", &s.url])
        .env("THREADLOG_TOKEN", token);
    if json {
        cmd.arg("--json");
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_signs_checkpoints_in_the_hsm() {
    let done = init("server", "log-key", "test.example/log");
    let dir = tempfile::tempdir().unwrap();
    let signer = done.signer_spec.clone();
    let s = TestServer::start_with(dir, move |mut c| {
        c.signer = Some(signer);
        c
    })
    .await;
    assert_eq!(s.verifier_key, done.verifier_key);
    for i in 0..3 {
        let (status, receipt) = s.post_events(&event(&format!("hsm-{i}"))).await;
        assert_eq!(status, 201, "{receipt}");
        note::open_checkpoint(
            receipt["checkpoint"].as_str().unwrap(),
            std::slice::from_ref(&done.verifier_key),
            &s.origin,
        )
        .expect("the receipt's checkpoint is signed by the HSM key");
    }
    let report = s.audit().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.tree_size, 3);

    // The key status names the HSM key and a live probe through the token succeeds.
    let (status, body) = s.get("/v1/keys", &s.admin).await;
    assert_eq!(status, 200, "{body}");
    let keys: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(keys["kind"], "pkcs11", "{keys}");
    assert_eq!(keys["answering"], true, "{keys}");
    assert_eq!(keys["verifier_key"], done.verifier_key.to_string());
    let location = &keys["location"];
    assert_eq!(location["kind"], "pkcs11", "{keys}");
    assert_eq!(location["module"], MODULE, "{keys}");
    assert_eq!(location["token_label"], "server", "{keys}");
    assert_eq!(location["key_label"], "log-key", "{keys}");
    assert_eq!(location["cka_id"], done.info.key_id, "{keys}");
    assert!(keys["last_signature_at"].is_string(), "{keys}");
    assert_eq!(
        keys["history"][0]["verifier_key"],
        done.verifier_key.to_string()
    );
    assert!(!body.contains(PIN), "the PIN never appears: {body}");
    let (status, _) = s.get("/v1/keys", &s.auditor).await;
    assert_eq!(status, 403);
    let ready = s
        .client
        .get(format!("{}/readyz", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);

    // `threadlog keys status` shows the same through the server, for admins only.
    let (code, out, _) = keys_status(&s, &s.admin, true).await;
    assert_eq!(code, 0, "{out}");
    let cli: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli["kind"], "pkcs11", "{cli}");
    assert_eq!(cli["answering"], true, "{cli}");
    assert_eq!(cli["location"]["token_label"], "server", "{cli}");
    let (code, out, _) = keys_status(&s, &s.admin, false).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("signer:          pkcs11"), "{out}");
    assert!(out.contains("answering:       yes"), "{out}");
    assert!(out.contains(&done.verifier_key.to_string()), "{out}");
    let (code, _, err) = keys_status(&s, &s.auditor, false).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("403") && err.contains("admin"), "{err}");

    // A bad spec keeps the server from starting, with the reason.
    let other = tempfile::tempdir().unwrap();
    let cfg = common::config(other.path().to_path_buf());
    let err = threadlog::server::start(&threadlog::config::ServeConfig {
        signer: Some(softhsm::spec("server", "no-such-key")),
        ..cfg
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(
        err.contains("no private key labelled \"no-such-key\""),
        "{err}"
    );

    // A log begun with a key file does not silently switch to the HSM key.
    let file_log = threadlog::server::start(&common::config(other.path().to_path_buf()))
        .await
        .unwrap();
    drop(file_log);
    let err = threadlog::server::start(&threadlog::config::ServeConfig {
        signer: Some(done.signer_spec.clone()),
        ..common::config(other.path().to_path_buf())
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(err.contains("keys change only by rotation"), "{err}");
    s.stop().await;
}

#[test]
fn keys_init_command_generates_then_adopts() {
    let t = tokens();
    let run = |pin: Option<&str>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_threadlog"));
        cmd.args([
            "keys",
            "init",
            "--pkcs11-module",
            MODULE,
            "--token-label",
            "cli",
        ])
        .args(["--label", "log-key", "--origin", ORIGIN, "--json"])
        .env("SOFTHSM2_CONF", &t.conf)
        .env_remove("THREADLOG_PKCS11_PIN")
        .env_remove("THREADLOG_PKCS11_PIN_FILE")
        .env_remove("HSM_SLOT");
        if let Some(p) = pin {
            cmd.env("THREADLOG_PKCS11_PIN", p);
        }
        cmd.output().unwrap()
    };
    let out = run(None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("THREADLOG_PKCS11_PIN"), "{stderr}");

    let json = |out: std::process::Output| -> serde_json::Value {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let first = json(run(Some(PIN)));
    assert_eq!(first["created"], true);
    assert_eq!(first["signer"], softhsm::spec("cli", "log-key"));
    let second = json(run(Some(PIN)));
    assert_eq!(second["created"], false);
    assert_eq!(second["verifier_key"], first["verifier_key"]);
    let key: threadlog::note::VerifierKey =
        first["verifier_key"].as_str().unwrap().parse().unwrap();
    assert_eq!(key.name(), ORIGIN);
    // The key the command made is the one a signer in another process opens.
    let signer = Pkcs11Signer::open(&spec("cli", "log-key"), pin(), ORIGIN).unwrap();
    assert_eq!(signer.verifier_key(), &key);
}
