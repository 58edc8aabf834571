//! The sequencer's queue and clock: a full queue is refused at once with Retry-After, and
//! integration time never goes backwards.

use super::*;

#[tokio::test]
async fn a_full_queue_is_refused_at_once_with_retry_after() {
    let r = rig(SequencerConfig {
        queue_depth: 1,
        max_batch: 1,
        ..SequencerConfig::default()
    })
    .await;
    r.signer.delay_ms.store(150, Ordering::SeqCst);
    let mut tasks = vec![];
    for i in 0..8 {
        let (client, url, token) = (r.client.clone(), r.url.clone(), r.token.clone());
        tasks.push(tokio::spawn(async move {
            let resp = client
                .post(format!("{url}/v1/events"))
                .bearer_auth(token)
                .json(&event(&format!("q{i}")))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let retry_after = resp.headers().get("retry-after").is_some();
            let body: Value = resp.json().await.unwrap();
            (status, retry_after, body["error"].clone())
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for t in tasks {
        match t.await.unwrap() {
            (201, _, _) => ok += 1,
            (503, true, code) if code == "overloaded" => refused += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(refused > 0, "some requests must be refused");
    assert!(ok > 0, "some requests must pass");
    assert_eq!(r.size().await, ok);
    r.audit_ok().await;
}

#[tokio::test]
async fn integration_time_never_goes_backwards() {
    let start = DateTime::parse_from_rfc3339("2099-01-01T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let calls = Arc::new(AtomicU64::new(0));
    let c = calls.clone();
    let clock = Arc::new(move || {
        start - chrono::Duration::seconds(c.fetch_add(1, Ordering::SeqCst) as i64)
    });
    let r = rig(SequencerConfig {
        clock,
        ..SequencerConfig::default()
    })
    .await;
    let mut times = vec![];
    for i in 0..3 {
        let receipt: Value = r.post(&event(&format!("t{i}"))).await.json().await.unwrap();
        times.push(receipt["integrated_at"].as_str().unwrap().to_string());
    }
    assert_eq!(times[0], "2099-01-01T12:00:00.000000Z");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    r.audit_ok().await;
}
