//! Attestations move with a dump to another store.

use super::*;

/// A dump carries the envelopes, and the store it is imported into knows them again by
/// their bytes: the idempotency rows are derived from the leaves alone.
#[tokio::test]
async fn attestations_move_with_a_dump() {
    use threadlog::store::Store;
    let s = with_policy(false).await;
    let names = ["ed25519-slsa-v1.dsse.json", "rsa-pss-vuln-v1.dsse.json"];
    for name in names {
        assert_eq!(post(&s, fixture(name)).await.0, 201);
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dump");
    threadlog::dump::export(s.store.as_ref(), &out, &|_, _| {})
        .await
        .unwrap();
    let target = std::sync::Arc::new(
        threadlog::store::SqliteStore::open(&format!(
            "sqlite://{}",
            work.path().join("t.db").display()
        ))
        .await
        .unwrap(),
    );
    let report = threadlog::dump::import(&out, target.clone(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(report.log.blobs, 2);
    for (i, name) in names.iter().enumerate() {
        let doc = fixture(name);
        let sha: [u8; 32] = Sha256::digest(&doc).into();
        assert_eq!(target.blob(&sha).await.unwrap().unwrap().data, doc);
        let hit = target
            .find_dedup(&format!("attestation:{}", hex::encode(sha)))
            .await
            .unwrap()
            .expect("idempotency row");
        assert_eq!((hit.index, hit.content_sha256), (i as u64, sha));
    }
    s.stop().await;
}
