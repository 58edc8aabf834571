//! The HTTP edge under hostile or careless clients: positions at or above 2^63, errors
//! of every kind in the documented JSON shape, duplicate JSON keys, and the connection,
//! time and memory limits (idle half-sent headers, a stalled body at shutdown, the body
//! budget). Each runs over real sockets against a real server.

mod common;

use common::proc::{self, Serve};
use common::{event, TestServer};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a test waits for a state before failing (a guard, not a measurement).
const GUARD: Duration = Duration::from_secs(60);

/// Error-level log lines of this test binary's servers.
fn error_log() -> Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::ERROR)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

async fn get(s: &TestServer, path: &str) -> (u16, Value) {
    let (status, body) = s.get(path, &s.auditor).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

fn assert_error(what: &str, got: (u16, Value), status: u16, code: &str, message: &str) {
    let (s, v) = got;
    assert_eq!(s, status, "{what}: {v}");
    assert_eq!(v["error"], code, "{what}: {v}");
    let text = v["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{what}: {message:?} not in {v}");
}

const TOO_LARGE: [&str; 3] = [
    "9223372036854775808",  // 2^63
    "18446744073709551615", // 2^64 - 1
    "18446744073709551616", // 2^64: overflows u64
];
const MALFORMED: [&str; 2] = ["-1", "abc"];

#[tokio::test]
async fn positions_at_or_above_2_63_are_bad_requests_and_beyond_the_tree_not_found() {
    let log = error_log();
    let s = TestServer::start().await;
    let (status, _) = s.post_events(&event("pos-1")).await;
    assert_eq!(status, 201);
    let lot = "lot:FIL-2026-118";
    let subject = "serial:SN-pos-1";
    let routes = |v: &str| {
        vec![
            format!("/v1/entries/{v}"),
            format!("/v1/entries?after={v}"),
            format!("/v1/checkpoints/{v}"),
            format!("/v1/proofs/inclusion?index={v}&tree_size=1"),
            format!("/v1/proofs/inclusion?index=0&tree_size={v}"),
            format!("/v1/proofs/consistency?first={v}&second=1"),
            format!("/v1/proofs/consistency?first=0&second={v}"),
            format!("/v1/thread/{lot}?tree_size={v}"),
            format!("/v1/artifacts/{subject}?after={v}"),
            format!("/v1/compliance/report?framework=nist-800-171r2&at={v}"),
        ]
    };
    for v in TOO_LARGE {
        for path in routes(v) {
            assert_error(
                &path,
                get(&s, &path).await,
                400,
                "bad_request",
                "beyond the largest tree",
            );
        }
        let body = format!(r#"{{"suspects": [{{"node": "{lot}"}}], "tree_size": {v}}}"#);
        let (status, resp) = s
            .post_raw("/v1/thread/recall-impact", &s.auditor, body)
            .await;
        assert_eq!(
            (status, resp["error"].as_str()),
            (400, Some("bad_request")),
            "{v}: {resp}"
        );
    }
    for v in MALFORMED {
        for path in routes(v) {
            let got = get(&s, &path).await;
            assert_eq!(
                (got.0, got.1["error"].as_str()),
                (400, Some("bad_request")),
                "{path}: {}",
                got.1
            );
        }
    }
    for (path, what) in [
        (
            "/v1/entries/-1",
            "index \"-1\" is not a non-negative integer",
        ),
        (
            "/v1/checkpoints/abc",
            "tree size \"abc\" is not a non-negative integer",
        ),
    ] {
        assert_error(path, get(&s, path).await, 400, "bad_request", what);
    }

    // Within range but beyond the tree: not found.
    let beyond = "9223372036854775807";
    for path in [
        "/v1/entries/1".to_string(),
        "/v1/entries/9223372036854775806".to_string(),
        format!("/v1/checkpoints/{beyond}"),
        format!("/v1/proofs/inclusion?index=0&tree_size={beyond}"),
        format!("/v1/proofs/consistency?first=1&second={beyond}"),
        format!("/v1/thread/{lot}?tree_size={beyond}"),
        format!("/v1/compliance/report?framework=nist-800-171r2&at={beyond}"),
    ] {
        let got = get(&s, &path).await;
        assert_eq!(
            (got.0, got.1["error"].as_str()),
            (404, Some("not_found")),
            "{path}: {}",
            got.1
        );
    }
    let body = format!(r#"{{"suspects": [{{"node": "{lot}"}}], "tree_size": {beyond}}}"#);
    let (status, resp) = s
        .post_raw("/v1/thread/recall-impact", &s.auditor, body)
        .await;
    assert_eq!(
        (status, resp["error"].as_str()),
        (404, Some("not_found")),
        "{resp}"
    );
    // The entries page after the last index is empty, not an error.
    let (status, page) = get(&s, "/v1/entries?after=9223372036854775806").await;
    assert_eq!(
        (status, page["entries"].as_array().map(Vec::len)),
        (200, Some(0))
    );

    let logged = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    assert!(!logged.contains("inconsistent"), "{logged}");
    s.stop().await;
}

/// `tree_size` on the command line is parsed the same way.
#[test]
fn cli_tree_size_at_or_above_2_63_is_a_usage_error() {
    for v in TOO_LARGE {
        let out = std::process::Command::new(proc::BIN)
            .args(["report", "--framework", "nist-800-171r2", "--at", v])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("beyond the largest tree"), "{err}");
    }
}

#[tokio::test]
async fn every_error_is_json_in_the_documented_shape() {
    let s = TestServer::start().await;
    let c = &s.client;
    let check = |what: &str, status: u16, headers: &reqwest::header::HeaderMap, body: &str| {
        let ct = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(
            ct.starts_with("application/json"),
            "{what}: {status} {ct} {body:?}"
        );
        let v: Value = serde_json::from_str(body).unwrap();
        (status, v)
    };
    let send = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        (status, headers, r.text().await.unwrap())
    };

    let (st, h, b) = send(c.get(format!("{}/v1/no-such-thing", s.url))).await;
    assert_error(
        "unknown route",
        check("404", st, &h, &b),
        404,
        "not_found",
        "no such endpoint",
    );

    let (st, h, b) = send(
        c.delete(format!("{}/v1/events", s.url))
            .bearer_auth(&s.producer),
    )
    .await;
    assert_eq!(h.get("allow").map(|v| v.to_str().unwrap()), Some("POST"));
    assert_error(
        "405",
        check("405", st, &h, &b),
        405,
        "method_not_allowed",
        "method not allowed",
    );

    // An undecodable path segment: the extractor's rejection, in JSON.
    let (st, h, b) = send(
        c.get(format!("{}/v1/blobs/%FF", s.url))
            .bearer_auth(&s.auditor),
    )
    .await;
    let got = check("bad path", st, &h, &b);
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (400, Some("bad_request")),
        "{}",
        got.1
    );

    let (st, h, b) = send(
        c.get(format!("{}/v1/entries?limit=abc", s.url))
            .bearer_auth(&s.auditor),
    )
    .await;
    assert_error(
        "bad query",
        check("bad query", st, &h, &b),
        400,
        "bad_request",
        "limit",
    );

    let post = |body: String, ct: &str| {
        c.post(format!("{}/v1/events", s.url))
            .bearer_auth(&s.producer)
            .header("content-type", ct)
            .body(body)
    };
    let (st, h, b) = send(post("{".into(), "application/json")).await;
    let got = check("bad json", st, &h, &b);
    assert_eq!(
        (got.0, got.1["error"].as_str()),
        (400, Some("bad_request")),
        "{}",
        got.1
    );
    let (st, h, b) = send(post(event("e-ct").to_string(), "text/plain")).await;
    assert_error(
        "content type",
        check("415", st, &h, &b),
        415,
        "unsupported_media_type",
        "application/json",
    );
    let (st, h, b) = send(post("x".repeat(1024 * 1024 + 1), "application/json")).await;
    assert_error("413", check("413", st, &h, &b), 413, "too_large", "limit");

    let long = format!(
        "{}/v1/entries?subject={}",
        s.url,
        "x".repeat(threadlog::api::MAX_URI_BYTES)
    );
    let (st, h, b) = send(c.get(long).bearer_auth(&s.auditor)).await;
    assert_error(
        "414",
        check("414", st, &h, &b),
        414,
        "uri_too_long",
        "the limit is 8192",
    );

    let big = "y".repeat(threadlog::api::MAX_HEADER_BYTES);
    let (st, h, b) = send(
        c.get(format!("{}/v1/log", s.url))
            .bearer_auth(&s.auditor)
            .header("x-big", big),
    )
    .await;
    assert_error(
        "431",
        check("431", st, &h, &b),
        431,
        "headers_too_large",
        "the limit is 65536",
    );
    let mut many = c.get(format!("{}/v1/log", s.url)).bearer_auth(&s.auditor);
    for i in 0..threadlog::api::MAX_HEADERS {
        many = many.header(format!("x-h{i}"), "1");
    }
    let (st, h, b) = send(many).await;
    assert_error(
        "431 count",
        check("431", st, &h, &b),
        431,
        "headers_too_large",
        "header fields",
    );

    // Nothing above was logged.
    assert_eq!(s.tree_size().await, 0);
    s.stop().await;
}

#[tokio::test]
async fn json_with_a_repeated_key_is_refused_and_nothing_is_logged() {
    let s = TestServer::start().await;
    let one = event("dup-1").to_string();
    let repeated = format!("{{\"event_id\":\"dup-2\",{}", &one[1..]);
    let (status, v) = s.post_raw("/v1/events", &s.producer, repeated).await;
    assert_error(
        "events",
        (status, v),
        422,
        "invalid",
        "duplicate key \"event_id\"",
    );
    // Nested, and inside a batch.
    let nested = format!(
        "[{}]",
        one.replacen("\"site\":", "\"site\":\"x\",\"site\":", 1)
    );
    let (status, v) = s.post_raw("/v1/events", &s.producer, nested).await;
    assert_error(
        "nested",
        (status, v),
        422,
        "invalid",
        "duplicate key \"site\"",
    );
    let recall = r#"{"suspects": [{"node": "lot:FIL-2026-118"}], "depth": 2, "depth": 3}"#;
    let (status, v) = s
        .post_raw("/v1/thread/recall-impact", &s.auditor, recall.into())
        .await;
    assert_error(
        "recall",
        (status, v),
        422,
        "invalid",
        "duplicate key \"depth\"",
    );
    assert_eq!(s.tree_size().await, 0);
    // The same event without the repeat is logged.
    let (status, _) = s.post_raw("/v1/events", &s.producer, one).await;
    assert_eq!(status, 201);
    s.stop().await;
}

#[tokio::test]
async fn recall_impact_of_a_node_never_seen_is_not_found() {
    let s = TestServer::start().await;
    assert_eq!(s.post_events(&event("r-1")).await.0, 201);
    let known = json!({"suspects": [{"node": "lot:FIL-2026-118"}]});
    let (status, v) = s
        .post_raw("/v1/thread/recall-impact", &s.auditor, known.to_string())
        .await;
    assert_eq!(status, 200, "{v}");
    let unknown = json!({"suspects": [{"node": "lot:FIL-2026-118"}, {"node": "lot:NEVER-SEEN"}]});
    let (status, v) = s
        .post_raw("/v1/thread/recall-impact", &s.auditor, unknown.to_string())
        .await;
    assert_error(
        "recall",
        (status, v),
        404,
        "not_found",
        "lot:NEVER-SEEN appears in no entry below tree size 1",
    );
    s.stop().await;
}

#[tokio::test]
async fn verify_json_prints_json_on_every_exit_code() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(proc::BIN)
            .args(args)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let v: Value = serde_json::from_str(stdout.trim())
            .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {stdout:?}"));
        (out.status.code().unwrap(), v)
    };
    // A usage error clap reports.
    let (code, v) = run(&["verify", "--json", "--no-such-flag"]);
    assert_eq!((code, &v["ok"]), (2, &json!(false)), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("--no-such-flag"),
        "{v}"
    );
    // A usage error the command reports.
    let (code, v) = run(&["verify", "--json"]);
    assert_eq!((code, &v["ok"]), (2, &json!(false)), "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("give --url URL"),
        "{v}"
    );
    // A network error keeps its causes down to the refused connection.
    let s = TestServer::start().await;
    let key = s.verifier_key.to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let (code, v) = run(&[
        "verify",
        "--json",
        "--no-state",
        "--url",
        &url,
        "--key",
        &key,
        "--token",
        "t",
    ]);
    assert_eq!((code, &v["ok"]), (2, &json!(false)), "{v}");
    let causes: Vec<&str> = v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(causes[0].contains(&url), "{v}");
    assert!(causes.len() >= 2, "{v}");
    assert!(
        causes.iter().any(|c| c.to_lowercase().contains("refused")),
        "{v}"
    );
    s.stop().await;
}

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
