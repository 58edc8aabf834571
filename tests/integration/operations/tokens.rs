//! Token lifecycle across servers: a token revoked anywhere is refused at once by every
//! server, and an expired one is refused and counted.

use super::*;

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
