//! Connection, time and memory limits: idle half-sent headers, the body budget, and a stalled
//! body while the server stops.

use super::*;

/// Connections that never finish their headers are closed once the header timeout fires,
/// and, with the connection cap reached, a new client is served as soon as they are.
#[tokio::test]
async fn idle_half_sent_headers_are_closed_and_do_not_lock_out_clients() {
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.http.max_connections = 4;
        c.http.header_timeout_secs = 1;
        c
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let idle: Vec<TcpStream> = (0..5)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c.set_read_timeout(Some(GUARD)).unwrap();
            c
        })
        .collect();
    let resp = tokio::time::timeout(GUARD, s.client.get(format!("{}/healthz", s.url)).send())
        .await
        .expect("a new client is served once the idle connections time out")
        .unwrap();
    assert_eq!(resp.status(), 200);
    let closed = tokio::task::spawn_blocking(move || {
        idle.into_iter().all(|mut c| {
            let mut buf = [0u8; 1024];
            let start = Instant::now();
            loop {
                match c.read(&mut buf) {
                    Ok(0) | Err(_) => return start.elapsed() < GUARD,
                    Ok(_) => continue,
                }
            }
        })
    })
    .await
    .unwrap();
    assert!(
        closed,
        "every half-sent connection was closed by the server"
    );
    s.stop().await;
}

async fn reserved(s: &TestServer) -> u64 {
    let (_, body) = s.get("/metrics", "").await;
    body.lines()
        .find_map(|l| l.strip_prefix("threadlog_http_body_bytes_reserved "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn wait_reserved(s: &TestServer, want: impl Fn(u64) -> bool) {
    let start = Instant::now();
    while !want(reserved(s).await) {
        assert!(
            start.elapsed() < GUARD,
            "the body budget never reached the state"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn the_body_budget_answers_503_with_retry_after_once_spent() {
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.http.body_budget_bytes = 256 * 1024;
        c
    })
    .await;
    // A client that declares 200 KB and stalls holds that much of the budget.
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut stalled = TcpStream::connect(&addr).unwrap();
    write!(
        stalled,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 200000\r\n\r\n[",
        s.producer
    )
    .unwrap();
    wait_reserved(&s, |r| r >= 200_000).await;

    // Malformed, so that once admitted it is refused rather than logged.
    let big = format!("[{}", " ".repeat(199_999));
    let resp = s
        .client
        .post(format!("{}/v1/events", s.url))
        .bearer_auth(&s.producer)
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "overloaded", "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("THREADLOG_BODY_BUDGET_BYTES"),
        "{v}"
    );

    // What is left of the budget still serves small requests.
    assert_eq!(s.post_events(&event("budget-1")).await.0, 201);
    // A body over every per-request limit is 413 at once, whatever the budget.
    // (Async: the server runs on this test's thread.)
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut over = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        s.producer,
        64 * 1024 * 1024
    );
    over.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 512];
    let n = tokio::time::timeout(GUARD, over.read(&mut head))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&head[..n]).into_owned();
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");

    // Once the stalled client goes, its share returns.
    drop(stalled);
    wait_reserved(&s, |r| r == 0).await;
    let (status, v) = s.post_raw("/v1/events", &s.producer, big).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (400, Some("bad_request")),
        "{v}"
    );
    assert_eq!(s.tree_size().await, 1);
    s.stop().await;
}

/// SIGTERM with a client stalled mid-body: the server exits at its shutdown deadline,
/// and what it acknowledged before is in the log.
#[tokio::test]
async fn a_stalled_body_does_not_hold_a_stopping_server_past_its_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let env = [
        ("THREADLOG_DATA_DIR", data.as_str()),
        ("THREADLOG_SHUTDOWN_DEADLINE_SECS", "2"),
        ("THREADLOG_BODY_TIMEOUT_SECS", "3600"),
        ("THREADLOG_HEADER_TIMEOUT_SECS", "3600"),
    ];
    let producer = proc::token("producer", &env);
    let auditor = proc::token("auditor", &env);
    let mut serve = Serve::start(&env);
    let client = reqwest::Client::new();
    let resp = client
        .post(format!("{}/v1/events", serve.url))
        .bearer_auth(&producer)
        .json(&event("acked-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);

    let mut stalled = TcpStream::connect(serve.url.trim_start_matches("http://")).unwrap();
    write!(
        stalled,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {producer}\r\n\
         Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"event_id\""
    )
    .unwrap();
    // The stalled request has reached a handler once its body is budgeted.
    let start = Instant::now();
    loop {
        let metrics = client
            .get(format!("{}/metrics", serve.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if metrics.contains("threadlog_http_body_bytes_reserved 1024") {
            break;
        }
        assert!(start.elapsed() < GUARD, "{metrics}");
        tokio::task::yield_now().await;
    }

    let pid = serve.child.id() as i32;
    // SAFETY: signals our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = serve.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < GUARD,
            "the server is still running after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    drop(stalled);
    drop(serve);

    let serve = Serve::start(&env);
    let walk = proc::walk(&serve.url, &auditor).await;
    assert_eq!(walk.entries.len(), 1);
    assert_eq!(walk.entries[&0].0, "acked-1");
}
