//! What operators do to a log and its files: creating it (`init`, `serve --init`), the
//! modes of what it writes to disk, key and PIN files others can read, the token
//! lifecycle (create with expiry, list, revoke, seen at once by every server) and
//! `verify --database`, which must not change a byte of what it audits.

use crate::common;

use common::proc::{self, Serve, BIN};
use common::{event, TestServer};
use serde_json::Value;
use sqlx::Connection;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use threadlog::api::auth::{new_token, token_hash};

const ORIGIN: &str = "ops.example/log";

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

fn cli(args: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    tokio::task::block_in_place(|| proc::cli(args, env))
}

fn serve(args: &[&str], env: &[(&str, &str)]) -> Result<Serve, String> {
    tokio::task::block_in_place(|| Serve::try_start_args(args, env))
}

async fn get(url: &str, token: Option<&str>) -> (u16, String) {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// A 401 answer's JSON body: the `unauthorized` code and its message.
fn unauthorized(status: u16, body: &str) -> String {
    assert_eq!(status, 401, "{body}");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["error"], "unauthorized", "{v}");
    v["message"].as_str().unwrap().to_string()
}

async fn append(url: &str, producer: &str, id: &str) {
    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/events"))
        .bearer_auth(producer)
        .json(&event(id))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", resp.text().await.unwrap());
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

/// Bytes and modification time of a file.
fn snapshot(p: &Path) -> (Vec<u8>, SystemTime) {
    (
        std::fs::read(p).unwrap(),
        std::fs::metadata(p).unwrap().modified().unwrap(),
    )
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_database_on_sqlite_changes_nothing_it_audits() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let env = [
        ("THREADLOG_DATA_DIR", data_s.as_str()),
        ("THREADLOG_ORIGIN", ORIGIN),
    ];
    let server = serve(&["--init"], &env).unwrap();
    let producer = tokio::task::block_in_place(|| proc::token("producer", &env));
    for i in 0..5 {
        append(&server.url, &producer, &format!("audit-{i}")).await;
    }
    // SIGKILL: the last commits are still in the -wal file, which verify must read.
    tokio::task::block_in_place(|| server.kill());
    let db = data.join("threadlog.db");
    let wal = data.join("threadlog.db-wal");
    let shm = data.join("threadlog.db-shm");
    let url = format!("sqlite://{}", db.display());
    assert!(wal.exists() && shm.exists());
    let files = listing(&data);
    let (db_before, wal_before) = (snapshot(&db), snapshot(&wal));
    let (code, report, out) = cli(&["verify", "--database", &url], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tree_size"], 5, "{report}");
    assert_eq!(listing(&data), files);
    assert!(
        snapshot(&db) == db_before,
        "verify changed the database file"
    );
    assert!(snapshot(&wal) == wal_before, "verify changed the -wal file");

    // After a clean shutdown (checkpointed, no -wal), verify creates no file at all.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert!(!wal.exists() && !shm.exists(), "{:?}", listing(&data));
    let files = listing(&data);
    let db_before = snapshot(&db);
    let (code, report, out) = cli(&["verify", "--database", &url], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tree_size"], 5, "{report}");
    assert_eq!(listing(&data), files, "verify created files");
    assert!(
        snapshot(&db) == db_before,
        "verify changed the database file"
    );
}

/// `url` with its user replaced.
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_database_on_postgres_needs_only_select() {
    let s = TestServer::start_pg().await;
    for i in 0..3 {
        let (status, body) = s.post_events(&event(&format!("pg-audit-{i}"))).await;
        assert_eq!(status, 201, "{body}");
    }
    let role = format!(
        "ro_{}_{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let db = s
        .database_url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut conn = sqlx::PgConnection::connect(&s.database_url).await.unwrap();
    for stmt in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT CONNECT ON DATABASE {db} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(&stmt).execute(&mut conn).await.unwrap();
    }
    let ro = with_user(&s.database_url, &role);
    let (code, report, out) = cli(&["verify", "--database", &ro], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tree_size"], 3, "{report}");
    s.stop().await;
    for stmt in [
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON DATABASE {db} FROM {role}"),
        format!("DROP ROLE {role}"),
    ] {
        sqlx::query(&stmt).execute(&mut conn).await.unwrap();
    }
}

/// The token named `name` in `token list --json`.
fn listed(env: &[(&str, &str)], name: &str) -> (Value, String) {
    let (code, v, out) = cli(&["token", "list"], env);
    assert_eq!(code, 0, "{out}");
    let t = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not listed: {v}"))
        .clone();
    (t, out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_anywhere_is_refused_at_once_by_every_server() {
    let a = TestServer::start_pg().await;
    let url = a.database_url.clone();
    let shared = url.clone();
    // Replicas share the log's key.
    let key = format!("file:{}", a.dir.path().join("log.key").display());
    let b = TestServer::start_with(tempfile::tempdir().unwrap(), move |mut c| {
        c.store.database_url = Some(shared);
        c.signer = Some(key);
        c
    })
    .await;
    let env = [("DATABASE_URL", url.as_str())];

    let (code, made, out) = cli(
        &[
            "token",
            "create",
            "--role",
            "auditor",
            "--name",
            "dcma-audit",
            "--expires",
            "90d",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}");
    let token = made["token"].as_str().unwrap().to_string();
    let expires = chrono::DateTime::parse_from_rfc3339(made["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert!(
        expires > chrono::Utc::now() + chrono::Duration::days(89),
        "{made}"
    );
    // One active token per name, so a revocation names exactly one.
    let (code, _, out) = cli(
        &["token", "create", "--role", "admin", "--name", "dcma-audit"],
        &env,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains(
            "a token named \"dcma-audit\" exists; revoke it first or choose another --name"
        ),
        "{out}"
    );

    // Both servers admit it (and would have remembered it, before).
    for s in [&a, &b] {
        let (status, body) = s.get("/v1/log", &token).await;
        assert_eq!(status, 200, "{body}");
    }
    // Listed with its lifecycle, never its secret; its last use is recorded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let listed_token = loop {
        let (t, out) = listed(&env, "dcma-audit");
        assert!(!out.contains(&token), "the secret is listed: {out}");
        if t["last_used_at"].is_string() || Instant::now() > deadline {
            break t;
        }
        tokio::task::yield_now().await;
    };
    assert_eq!(listed_token["role"], "auditor", "{listed_token}");
    assert_eq!(listed_token["status"], "active", "{listed_token}");
    assert_eq!(listed_token["expires_at"], made["expires_at"]);
    assert!(listed_token["created_at"].is_string(), "{listed_token}");
    assert!(listed_token["last_used_at"].is_string(), "{listed_token}");
    assert!(listed_token["revoked_at"].is_null(), "{listed_token}");
    let text = tokio::task::block_in_place(|| {
        std::process::Command::new(BIN)
            .args(["token", "list"])
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    });
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.starts_with("NAME") && text.contains("dcma-audit") && text.contains("active"),
        "{text}"
    );
    assert!(!text.contains(&token), "the secret is listed: {text}");

    // Revoked through the CLI: refused by both servers on the very next request.
    let (code, done, out) = cli(&["token", "revoke", "dcma-audit"], &env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(done["revoked"], 1, "{done}");
    let revoked_at = done["revoked_at"].as_str().unwrap().to_string();
    for s in [&b, &a] {
        let (status, body) = s.get("/v1/log", &token).await;
        assert_eq!(
            unauthorized(status, &body),
            format!("token \"dcma-audit\" was revoked at {revoked_at}")
        );
        let (_, metrics) = get(&format!("{}/metrics", s.url), None).await;
        assert!(
            metrics.contains("threadlog_auth_failures_total{reason=\"revoked\"} 1\n"),
            "{metrics}"
        );
    }
    let (t, _) = listed(&env, "dcma-audit");
    assert_eq!(t["status"], "revoked", "{t}");
    assert_eq!(t["revoked_at"], revoked_at.as_str(), "{t}");
    let (code, _, out) = cli(&["token", "revoke", "dcma-audit"], &env);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("no active token is named \"dcma-audit\""),
        "{out}"
    );
    // The name is free again.
    let (code, _, out) = cli(
        &[
            "token",
            "create",
            "--role",
            "auditor",
            "--name",
            "dcma-audit",
        ],
        &env,
    );
    assert_eq!(code, 0, "{out}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_and_counted() {
    let s = TestServer::start().await;
    let expired = new_token();
    s.store
        .insert_token(
            "old-audit",
            "auditor",
            &token_hash(&expired),
            Some("2026-01-01T00:00:00+00:00"),
        )
        .await
        .unwrap();
    let (status, body) = s.get("/v1/log", &expired).await;
    assert_eq!(
        unauthorized(status, &body),
        "token \"old-audit\" expired at 2026-01-01T00:00:00+00:00; create a new one with \
         `threadlog token create`"
    );
    let later = new_token();
    s.store
        .insert_token(
            "new-audit",
            "auditor",
            &token_hash(&later),
            Some("2999-01-01T00:00:00+00:00"),
        )
        .await
        .unwrap();
    let (status, body) = s.get("/v1/log", &later).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = get(&format!("{}/v1/log", s.url), None).await;
    assert_eq!(
        unauthorized(status, &body),
        "missing Authorization: Bearer <token> header"
    );
    let (_, metrics) = get(&format!("{}/metrics", s.url), None).await;
    for (reason, n) in [
        ("missing", 1),
        ("malformed", 0),
        ("unknown", 0),
        ("expired", 1),
        ("revoked", 0),
    ] {
        assert!(
            metrics.contains(&format!(
                "threadlog_auth_failures_total{{reason=\"{reason}\"}} {n}\n"
            )),
            "{reason}: {metrics}"
        );
    }
    s.stop().await;
}
