//! Data at rest is private, a pin file others can read keeps the server from starting, and
//! `serve` never begins a log by mistake.

use super::*;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_at_rest_is_private_and_serve_never_begins_a_log_by_mistake() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let env = [
        ("THREADLOG_DATA_DIR", data_s.as_str()),
        ("THREADLOG_ORIGIN", ORIGIN),
    ];

    // A mistyped data directory is refused, and nothing is created there.
    let typo = root.path().join("dtaa");
    let typo_s = typo.to_string_lossy().into_owned();
    let err = serve(&[], &[("THREADLOG_DATA_DIR", typo_s.as_str())])
        .err()
        .expect("refused");
    assert!(
        err.contains(&format!(
            "sqlite://{typo_s}/threadlog.db holds no log; create it with `threadlog init` \
             (with the same --data-dir or --database-url), or start with `threadlog serve --init`"
        )),
        "{err}"
    );
    assert!(!typo.exists(), "a refused start created {typo_s}");

    // `threadlog init` creates the log, readable by its owner only.
    let (code, made, out) = cli(&["init"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(made["created"], true, "{made}");
    assert_eq!(made["key_created"], true, "{made}");
    assert_eq!(made["origin"], ORIGIN, "{made}");
    assert_eq!(made["tree_size"], 0, "{made}");
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("threadlog.db")), 0o600);
    assert_eq!(mode(&data.join("log.key")), 0o600);
    // Again: the log is there, nothing changes.
    let (code, again, out) = cli(&["init"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(again["key_created"], false, "{again}");
    assert_eq!(again["verifier_key"], made["verifier_key"]);

    // `serve` without --init starts on it; the SQLite side files are private too.
    let server = serve(&[], &env).unwrap();
    assert_eq!(made["verifier_key"], server.key.as_str());
    let producer = tokio::task::block_in_place(|| proc::token("producer", &env));
    append(&server.url, &producer, "ops-1").await;
    for file in ["threadlog.db", "threadlog.db-wal", "threadlog.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }

    // A failed authentication is counted and logged, never with the token.
    let secret = "tl_not-a-token-but-it-must-not-be-logged";
    let (status, body) = get(&format!("{}/v1/log", server.url), Some(secret)).await;
    assert_eq!(
        unauthorized(status, &body),
        "unknown token; create one with `threadlog token create`"
    );
    let log = server.log_text();
    assert!(
        log.contains("authentication failed")
            && log.contains("\"unknown\"")
            && log.contains("\"no such token\""),
        "{log}"
    );
    assert!(!log.contains(secret), "the token was logged: {log}");
    let (_, metrics) = get(&format!("{}/metrics", server.url), None).await;
    assert!(
        metrics.contains("threadlog_auth_failures_total{reason=\"unknown\"} 1\n"),
        "{metrics}"
    );
    drop(server);

    // A database without a log (here made by `token create` in a new directory) is
    // refused too; `serve --init` begins the log in it.
    let other = root.path().join("other");
    let other_s = other.to_string_lossy().into_owned();
    let other_env = [("THREADLOG_DATA_DIR", other_s.as_str())];
    tokio::task::block_in_place(|| proc::token("admin", &other_env));
    assert_eq!(mode(&other), 0o700);
    assert_eq!(mode(&other.join("threadlog.db")), 0o600);
    let err = serve(&[], &other_env).err().expect("refused");
    assert!(err.contains("threadlog.db holds no log"), "{err}");
    assert!(
        !other.join("log.key").exists(),
        "a refused start made a key"
    );
    let started = serve(&["--init"], &other_env).unwrap();
    drop(started);
    assert_eq!(mode(&other.join("log.key")), 0o600);

    // A key file others can read is refused, naming the file and the fix.
    let key = data.join("log.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = serve(&[], &env).err().expect("refused");
    assert!(
        err.contains(&format!(
            "key file {k}: mode is 644; it must not be readable by group or others: run \
             `chmod 600 {k}`",
            k = key.display()
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_file_others_can_read_keeps_the_server_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    let pin = dir.path().join("pin");
    std::fs::write(&pin, "1234\n").unwrap();
    std::fs::set_permissions(&pin, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut cfg = common::config(dir.path().join("data"));
    cfg.signer = Some(format!(
        "pkcs11:token=log;object=key?module-path=/nonexistent/module.so&pin-source=file:{}",
        pin.display()
    ));
    let err = threadlog::server::start(&cfg)
        .await
        .err()
        .expect("refused")
        .to_string();
    assert_eq!(
        err,
        format!(
            "PKCS#11 signer: PIN file {p} is readable by group or others (mode 640); run \
             `chmod 600 {p}`",
            p = pin.display()
        )
    );
}
