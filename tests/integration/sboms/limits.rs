//! Uploads beyond the in-flight limit are refused until one finishes.

use super::*;

/// Waits until `/metrics` shows `n` documents in flight.
async fn await_uploads_in_flight(s: &TestServer, n: usize) {
    let want = format!("threadlog_http_uploads_in_flight {n}\n");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let metrics = s
            .client
            .get(format!("{}/metrics", s.url))
            .send()
            .await
            .unwrap();
        if metrics.text().await.unwrap().contains(&want) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {n} uploads in flight"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// Documents are held whole while received and validated, so only so many are taken at
/// once (THREADLOG_MAX_UPLOADS): beyond that, `503` with `Retry-After` before the body is
/// read, and `/metrics` shows how many are in flight.
#[tokio::test]
async fn uploads_beyond_the_in_flight_limit_are_refused_until_one_finishes() {
    use tokio::io::AsyncWriteExt;
    let limit = 2;
    let s = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.http.max_uploads = Some(limit);
        c
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..limit {
        // Headers and half a body, then nothing: the upload holds its place.
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let head = format!(
            "POST /v1/sboms?subject={} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {}\r\n\
             content-type: {JSON}\r\ncontent-length: 1000\r\n\r\n{{\"bomFormat\"",
            image(1),
            s.ci
        );
        c.write_all(head.as_bytes()).await.unwrap();
        slow.push(c);
    }
    await_uploads_in_flight(&s, limit).await;
    let (status, r) = post_sbom(&s, &image(2), JSON, fixture("py-env-1.5.json")).await;
    assert_eq!(status, 503, "{r}");
    assert_eq!(r["error"], "overloaded");
    drop(slow);
    await_uploads_in_flight(&s, 0).await;
    let (status, r) = post_sbom(&s, &image(2), JSON, fixture("py-env-1.5.json")).await;
    assert_eq!(status, 201, "{r}");
    s.stop().await;
}
