//! Positions at or above 2^63: bad requests over HTTP, past the tree not found, and a usage
//! error on the command line.

use super::*;

const TOO_LARGE: [&str; 3] = [
    "9223372036854775808",  // 2^63
    "18446744073709551615", // 2^64 - 1
    "18446744073709551616", // 2^64: overflows u64
];
const MALFORMED: [&str; 2] = ["-1", "abc"];

/// Every route that takes a position, with `v` as that position.
fn routes(v: &str, lot: &str, subject: &str) -> Vec<String> {
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
}

/// Positions at or above 2^63, and malformed ones, are bad requests on every route.
async fn bad_requests(s: &TestServer, lot: &str, subject: &str) {
    for v in TOO_LARGE {
        for path in routes(v, lot, subject) {
            assert_error(
                &path,
                get(s, &path).await,
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
        for path in routes(v, lot, subject) {
            let got = get(s, &path).await;
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
        assert_error(path, get(s, path).await, 400, "bad_request", what);
    }
}

/// Positions within range but beyond the tree are not found.
async fn not_found(s: &TestServer, lot: &str) {
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
        let got = get(s, &path).await;
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
    let (status, page) = get(s, "/v1/entries?after=9223372036854775806").await;
    assert_eq!(
        (status, page["entries"].as_array().map(Vec::len)),
        (200, Some(0))
    );
}

#[tokio::test]
async fn positions_at_or_above_2_63_are_bad_requests_and_beyond_the_tree_not_found() {
    let log = error_log();
    let s = TestServer::start().await;
    let (status, _) = s.post_events(&event("pos-1")).await;
    assert_eq!(status, 201);
    let lot = "lot:FIL-2026-118";
    let subject = "serial:SN-pos-1";
    bad_requests(&s, lot, subject).await;
    not_found(&s, lot).await;
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
