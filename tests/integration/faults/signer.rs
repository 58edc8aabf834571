//! A signer that fails or lies: the append gets 503 or is caught before anything is
//! committed, and the log recovers.

use super::*;

#[tokio::test]
async fn a_failing_signer_gets_503_appends_nothing_and_recovers() {
    let r = rig(SequencerConfig::default()).await;
    assert_eq!(r.post(&event("a")).await.status(), 201);
    r.signer.fail.store(true, Ordering::SeqCst);
    let resp = r.post(&event("b")).await;
    assert_eq!(resp.status(), 503);
    assert_eq!(resp.headers()["retry-after"], "1");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "unavailable");
    assert!(
        !body["message"].as_str().unwrap().contains("token removed"),
        "no internal detail: {body}"
    );
    assert_eq!(r.size().await, 1);
    let (status, reason) = r.ready().await;
    assert_eq!(status, 503);
    assert!(reason.contains("signer file"), "{reason}");
    assert!(reason.contains("token removed"), "{reason}");
    r.signer.fail.store(false, Ordering::SeqCst);
    assert_eq!(r.ready().await.0, 200);
    let resp = r.post(&event("b")).await;
    assert_eq!(resp.status(), 201);
    assert_eq!(r.size().await, 2);
    r.audit_ok().await;
}

#[tokio::test]
async fn a_signer_that_lies_is_caught_before_anything_is_committed() {
    let r = rig(SequencerConfig::default()).await;
    assert_eq!(r.post(&event("a")).await.status(), 201);
    for (i, lie) in [Lie::Garbled, Lie::OtherKey, Lie::Truncated]
        .into_iter()
        .enumerate()
    {
        r.signer.lie.store(lie as u8, Ordering::SeqCst);
        let resp = r.post(&event(&format!("lie{i}"))).await;
        assert_eq!(resp.status(), 503, "{lie:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "unavailable", "{lie:?}: {body}");
        assert_eq!(r.size().await, 1, "{lie:?}: nothing committed");
        r.audit_ok().await;
    }
    r.signer.lie.store(Lie::Truthful as u8, Ordering::SeqCst);
    assert_eq!(r.post(&event("lie0")).await.status(), 201);
    assert_eq!(r.size().await, 2);
    r.audit_ok().await;
}
