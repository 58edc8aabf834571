//! Errors of every kind in the documented JSON shape: repeated JSON keys, a recall impact of
//! an unknown node, and `verify --json` on every exit code.

use super::*;

/// The status and JSON body of an error answer, checking it is JSON.
fn check(
    what: &str,
    status: u16,
    headers: &reqwest::header::HeaderMap,
    body: &str,
) -> (u16, Value) {
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
}

/// Sends `req`: its status, headers and body.
async fn send(req: reqwest::RequestBuilder) -> (u16, reqwest::header::HeaderMap, String) {
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.text().await.unwrap())
}

/// An unknown route, a method not allowed, an undecodable path segment, a bad query.
async fn routes_and_queries(s: &TestServer) {
    let c = &s.client;
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
}

/// Bodies that are not JSON, of the wrong type, or too large.
async fn bodies(s: &TestServer) {
    let c = &s.client;
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
}

/// A URI, a header or too many header fields beyond the limits.
async fn sizes(s: &TestServer) {
    let c = &s.client;
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
}

#[tokio::test]
async fn every_error_is_json_in_the_documented_shape() {
    let s = TestServer::start().await;
    routes_and_queries(&s).await;
    bodies(&s).await;
    sizes(&s).await;
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
