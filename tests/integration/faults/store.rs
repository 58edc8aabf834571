//! A store whose commit fails: the request gets 503, the retry lands once, and a conflict
//! inside a group commit fails only its own request.

use super::*;

#[tokio::test]
async fn a_failing_commit_gets_503_and_the_retry_lands_once() {
    let r = rig(SequencerConfig::default()).await;
    r.store_fails.store(true, Ordering::SeqCst);
    let batch = Value::Array((0..10).map(|i| event(&format!("c{i}"))).collect());
    let resp = r.post(&batch).await;
    assert_eq!(resp.status(), 503);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unavailable", "{body}");
    assert_eq!(r.size().await, 0);
    let (status, reason) = r.ready().await;
    assert_eq!(status, 503);
    assert!(reason.contains("cannot commit"), "{reason}");
    r.store_fails.store(false, Ordering::SeqCst);
    // Nothing is posted: the server's own probe finds the store writable again.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while r.ready().await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "/readyz never recovered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let resp = r.post(&batch).await;
    assert_eq!(resp.status(), 201);
    let receipts: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(receipts.len(), 10);
    assert_eq!(r.size().await, 10);
    // The client's retry of the same batch is idempotent.
    assert_eq!(r.post(&batch).await.status(), 200);
    assert_eq!(r.size().await, 10);
    r.audit_ok().await;
}

#[tokio::test]
async fn a_conflict_inside_a_group_commit_fails_only_its_own_request() {
    // The batch closes when all five requests are in, so they share one commit.
    let r = rig(SequencerConfig {
        max_batch: 5,
        linger: Duration::from_secs(60),
        ..SequencerConfig::default()
    })
    .await;
    // Five entries in one request fill a batch at once.
    let first: Vec<Value> = ["x", "f1", "f2", "f3", "f4"]
        .iter()
        .map(|id| event(id))
        .collect();
    let logged = r.post(&Value::Array(first)).await;
    assert_eq!(logged.status(), 201);
    let receipts: Vec<Value> = logged.json().await.unwrap();
    let x_index = receipts[0]["index"].as_u64().unwrap();
    let next = receipts[4]["index"].as_u64().unwrap() + 1;
    let mut changed_x = event("x");
    changed_x["job_order_id"] = "WO-9999".into();
    let mut changed_y = event("y");
    changed_y["job_order_id"] = "WO-9999".into();
    let bodies = [event("a"), changed_x, event("b"), event("y"), changed_y];
    let (a, xc, b, y, yc) = tokio::join!(
        r.answer(&bodies[0]),
        r.answer(&bodies[1]),
        r.answer(&bodies[2]),
        r.answer(&bodies[3]),
        r.answer(&bodies[4])
    );
    let answers = [a, xc, b, y, yc];
    let (accepted, refused): (Vec<_>, Vec<_>) = answers.iter().partition(|(s, _)| *s == 201);
    assert_eq!(refused.len(), 2, "{answers:?}");
    for (status, body) in &refused {
        assert_eq!(*status, 409, "{body}");
        assert_eq!(body["error"], "conflict", "{body}");
    }
    assert!(
        refused.iter().any(|(_, b)| b["message"]
            .as_str()
            .unwrap()
            .contains(&format!("index {x_index}"))),
        "the conflict with the logged event names its index: {refused:?}"
    );
    let mut indexes: Vec<u64> = accepted
        .iter()
        .map(|(_, b)| b["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    assert_eq!(indexes, vec![next, next + 1, next + 2]);
    let checkpoints: std::collections::BTreeSet<&str> = accepted
        .iter()
        .map(|(_, b)| b["checkpoint"].as_str().unwrap())
        .collect();
    assert_eq!(checkpoints.len(), 1, "one commit, one checkpoint");
    assert_eq!(r.size().await, next + 3);
    r.audit_ok().await;
}
