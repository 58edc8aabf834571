//! A rotation under load on PostgreSQL leaves no checkpoint of the old key behind.

use super::*;

/// On PostgreSQL, with appends streaming into a running server while the key rotates:
/// every append either lands before the rotation or is refused after it, so no checkpoint
/// after the rotation carries the old key alone; and keys cannot be reused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_under_load_on_postgres_leaves_no_old_key_checkpoint_behind() {
    use threadlog::entry::KeyEvent;
    use threadlog::ledger::{self, RotateError};
    use threadlog::signer::FileSigner;

    let s = common::TestServer::start_pg().await;
    let origin = s.origin.clone();
    let old = FileSigner::open(&s.dir.path().join("log.key"), &origin).unwrap();
    let (new, _) = FileSigner::open_or_create(&s.dir.path().join("b.key"), &origin).unwrap();
    assert_eq!(s.post_events(&json!([common::event("first")])).await.0, 201);

    let url = s.url.clone();
    let producer = s.producer.clone();
    let load = tokio::spawn(async move {
        let client = reqwest::Client::new();
        let mut codes = Vec::new();
        for i in 0..400 {
            let (status, body) = append(&client, &url, &producer, &format!("load-{i}"), 1).await;
            if status == 503 {
                assert_eq!(body["error"], "key_rotated", "{body}");
            }
            codes.push(status);
            if codes.iter().filter(|c| **c == 503).count() >= 3 {
                break;
            }
        }
        codes
    });
    // Rotate mid-load: once the load has appended, not after a guessed delay.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    while s
        .store
        .latest_checkpoint()
        .await
        .unwrap()
        .unwrap()
        .tree_size
        < 11
    {
        assert!(!load.is_finished(), "the load ended before appending");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the load never appended"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let done = ledger::rotate(s.store.as_ref(), &old, &new, KeyEvent::Rotated)
        .await
        .unwrap();
    let codes = load.await.unwrap();
    assert!(
        codes.contains(&503),
        "appends after the rotation are refused: {codes:?}"
    );
    assert!(codes.iter().all(|c| *c == 201 || *c == 503), "{codes:?}");
    // Refusals are final: once one is seen, nothing more is accepted.
    let first_refusal = codes.iter().position(|c| *c == 503).unwrap();
    assert!(
        codes[first_refusal..].iter().all(|c| *c == 503),
        "{codes:?}"
    );

    let latest = s.store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.tree_size, done.tree_size);
    assert_eq!(signatures(&latest.note), 2);
    let report = s.audit().await;
    assert!(report.ok, "{:?}", report.failure);
    assert_eq!(report.keys.len(), 2);
    assert_eq!(report.keys[1].from_tree_size, done.tree_size);

    // Neither key can come back, nor can the old key rotate again.
    let again = ledger::rotate(s.store.as_ref(), &new, &old, KeyEvent::Rotated).await;
    assert!(
        matches!(again, Err(RotateError::AlreadyIntroduced { .. })),
        "{again:?}"
    );
    let (other, _) = FileSigner::open_or_create(&s.dir.path().join("c.key"), &origin).unwrap();
    let stale = ledger::rotate(s.store.as_ref(), &old, &other, KeyEvent::Rotated).await;
    assert!(
        matches!(stale, Err(RotateError::NotCurrent { .. })),
        "{stale:?}"
    );
    s.stop().await;
}
