//! The store contract for entries, checkpoints, tiles and subjects, run against SQLite and
//! PostgreSQL alike.

use super::*;

/// Meta is recorded once; the frontier carries the current key, which rotates only from
/// itself and only with its transaction.
async fn meta_and_key_rotation(store: &Arc<dyn Store>) {
    // Meta is recorded once.
    assert_eq!(store.meta().await.unwrap(), None);
    let meta = LogMeta {
        origin: "o".into(),
        verifier_key: "k".into(),
    };
    let mut tx = store.begin_append().await.unwrap();
    tx.init_meta(&meta).await.unwrap();
    drop(tx);
    assert_eq!(
        store.meta().await.unwrap(),
        None,
        "rolled back with its transaction"
    );
    let mut tx = store.begin_append().await.unwrap();
    tx.init_meta(&meta).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = store.begin_append().await.unwrap();
    assert!(matches!(
        tx.init_meta(&meta).await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    assert_eq!(store.meta().await.unwrap(), Some(meta));

    // Empty log; the frontier carries the current key.
    let mut tx = store.begin_append().await.unwrap();
    assert_eq!(
        tx.frontier().await.unwrap(),
        Frontier {
            verifier_key: Some("k".into()),
            ..Frontier::default()
        }
    );
    drop(tx);

    // Rotating the key: only from the current one, and only with its transaction.
    let mut tx = store.begin_append().await.unwrap();
    tx.rotate_key("k", "k2").await.unwrap();
    drop(tx);
    assert_eq!(store.meta().await.unwrap().unwrap().verifier_key, "k");
    let mut tx = store.begin_append().await.unwrap();
    assert!(matches!(
        tx.rotate_key("not-current", "k2").await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    let mut tx = store.begin_append().await.unwrap();
    tx.rotate_key("k", "k2").await.unwrap();
    assert_eq!(
        tx.frontier().await.unwrap().verifier_key.as_deref(),
        Some("k2"),
        "the transaction sees its own rotation"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        store.meta().await.unwrap(),
        Some(LogMeta {
            origin: "o".into(),
            verifier_key: "k2".into()
        })
    );
    let mut tx = store.begin_append().await.unwrap();
    assert!(
        matches!(tx.rotate_key("k", "k3").await, Err(StoreError::Conflict(_))),
        "a rotation from a key already rotated away is refused"
    );
    drop(tx);
}

/// A batch is visible as a whole once committed and not at all before; edge tiles grow in
/// place, and one wider than the tree is corruption.
async fn batches_and_tiles(store: &Arc<dyn Store>) {
    // A transaction dropped without commit leaves nothing behind.
    let t0 = TileId { level: 0, index: 0 };
    write(
        store.as_ref(),
        vec![entry(0, 1, "event", &["lot:a"], "event:a")],
        vec![(t0, vec![1; 32])],
        1,
        false,
    )
    .await;
    assert!(store.latest_checkpoint().await.unwrap().is_none());
    assert!(store.entry(0).await.unwrap().is_none());
    assert!(store.find_dedup("event:a").await.unwrap().is_none());

    // A committed batch is visible as a whole.
    write(
        store.as_ref(),
        vec![
            entry(0, 2, "event", &["lot:a", "serial:s1"], "event:a"),
            entry(1, 2, "sbom", &["lot:a"], "sbom:b"),
        ],
        vec![(t0, vec![1; 64])],
        2,
        true,
    )
    .await;
    let mut tx = store.begin_append().await.unwrap();
    assert_eq!(
        tx.frontier().await.unwrap(),
        Frontier {
            tree_size: 2,
            created_at: Some(checkpoint(2).created_at),
            edge: vec![(t0, vec![1; 64])],
            verifier_key: Some("k2".into()),
        }
    );
    let hits = tx.find_dedup(&["event:a", "event:zzz"]).await.unwrap();
    assert_eq!(
        hits,
        vec![(
            "event:a".to_string(),
            DedupHit {
                index: 0,
                content_sha256: [0; 32]
            }
        )]
    );
    drop(tx);
    assert_eq!(
        store.latest_checkpoint().await.unwrap(),
        Some(checkpoint(2))
    );
    assert_eq!(store.entry(1).await.unwrap().unwrap().leaf, b"leaf 1");

    // Edge tiles grow in place; a tile wider than the tree is corruption, not data.
    write(
        store.as_ref(),
        vec![entry(2, 3, "event", &[], "event:c")],
        vec![(t0, vec![1; 96])],
        3,
        true,
    )
    .await;
    assert_eq!(
        store
            .read_tiles(&[t0, TileId { level: 1, index: 0 }])
            .await
            .unwrap(),
        vec![Some(vec![1; 96]), None]
    );
    write(store.as_ref(), vec![], vec![(t0, vec![1; 160])], 4, true).await;
    let mut tx = store.begin_append().await.unwrap();
    assert!(matches!(tx.frontier().await, Err(StoreError::Corrupt(_))));
    drop(tx);
}

/// Entry queries by subject, kind, position and time, with a limit.
async fn queries(store: &Arc<dyn Store>) {
    // Queries.
    let q = |f: fn(&mut EntryQuery)| {
        let mut q = EntryQuery {
            limit: 100,
            ..EntryQuery::default()
        };
        f(&mut q);
        q
    };
    let idx = |v: Vec<StoredEntry>| v.into_iter().map(|e| e.index).collect::<Vec<_>>();
    assert_eq!(idx(store.entries(&q(|_| {})).await.unwrap()), vec![0, 1, 2]);
    assert_eq!(
        idx(store
            .entries(&q(|q| q.subject = Some("lot:a".into())))
            .await
            .unwrap()),
        vec![0, 1]
    );
    assert_eq!(
        idx(store
            .entries(&q(|q| q.kind = Some("sbom".into())))
            .await
            .unwrap()),
        vec![1]
    );
    assert_eq!(
        idx(store.entries(&q(|q| q.after = Some(0))).await.unwrap()),
        vec![1, 2]
    );
    assert_eq!(
        idx(store.entries(&q(|q| q.below = Some(2))).await.unwrap()),
        vec![0, 1]
    );
    assert_eq!(
        idx(store
            .entries(&q(|q| q.since = Some(time(3))))
            .await
            .unwrap()),
        vec![2]
    );
    assert_eq!(
        idx(store
            .entries(&q(|q| q.until = Some(time(3))))
            .await
            .unwrap()),
        vec![0, 1]
    );
    assert_eq!(
        idx(store.entries(&q(|q| q.limit = 1)).await.unwrap()),
        vec![0]
    );
}

/// Checkpoints page in order, and neither a checkpoint nor an entry can be written twice.
async fn checkpoints(store: &Arc<dyn Store>) {
    // Checkpoints page in order.
    let sizes = |v: Vec<StoredCheckpoint>| v.into_iter().map(|c| c.tree_size).collect::<Vec<_>>();
    assert_eq!(
        sizes(store.checkpoints(None, 10).await.unwrap()),
        vec![2, 3, 4]
    );
    assert_eq!(sizes(store.checkpoints(Some(2), 1).await.unwrap()), vec![3]);
    assert_eq!(store.checkpoint(3).await.unwrap(), Some(checkpoint(3)));
    assert_eq!(store.checkpoint(7).await.unwrap(), None);

    // A second checkpoint at the same size is refused: history cannot be rewritten.
    let mut tx = store.begin_append().await.unwrap();
    assert!(matches!(
        tx.write(&AppendBatch {
            entries: vec![],
            tiles: vec![],
            checkpoint: checkpoint(3)
        })
        .await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
    // So is a second entry at an index.
    let mut tx = store.begin_append().await.unwrap();
    assert!(matches!(
        tx.write(&AppendBatch {
            entries: vec![entry(1, 9, "event", &[], "event:new")],
            tiles: vec![],
            checkpoint: checkpoint(9)
        })
        .await,
        Err(StoreError::Conflict(_))
    ));
    drop(tx);
}

/// Tokens: unique hashes, and their lifecycle (expiry, last use, revocation by name).
async fn tokens(store: &Arc<dyn Store>) {
    // Tokens.
    store
        .insert_token("mes", "producer", &[7; 32], None)
        .await
        .unwrap();
    assert!(matches!(
        store
            .insert_token("mes-2", "producer", &[7; 32], None)
            .await,
        Err(StoreError::Conflict(_))
    ));
    let record: TokenRecord = store.token(&[7; 32]).await.unwrap().unwrap();
    assert_eq!(
        (record.name.as_str(), record.role.as_str()),
        ("mes", "producer")
    );
    assert_eq!(
        (record.expires_at, record.revoked_at, record.last_used_at),
        (None, None, None)
    );
    assert_eq!(store.token(&[8; 32]).await.unwrap(), None);
    // The lifecycle: expiry kept as given, last use recorded, revocation by name.
    store
        .insert_token("ci", "ci", &[9; 32], Some("2027-03-01T00:00:00+00:00"))
        .await
        .unwrap();
    store
        .touch_token(&[9; 32], "2026-12-05T08:00:00+00:00")
        .await
        .unwrap();
    let listed = store.tokens().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["mes", "ci"]);
    assert_eq!(
        listed[1].expires_at.as_deref(),
        Some("2027-03-01T00:00:00+00:00")
    );
    assert_eq!(
        listed[1].last_used_at.as_deref(),
        Some("2026-12-05T08:00:00+00:00")
    );
    assert_eq!(
        store
            .revoke_tokens("ci", "2026-12-05T09:00:00+00:00")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .revoke_tokens("ci", "2026-12-05T10:00:00+00:00")
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.revoke_tokens("nobody", "x").await.unwrap(), 0);
    let ci = store.token(&[9; 32]).await.unwrap().unwrap();
    assert_eq!(ci.revoked_at.as_deref(), Some("2026-12-05T09:00:00+00:00"));
    assert_eq!(
        store.token(&[7; 32]).await.unwrap().unwrap().revoked_at,
        None
    );
}

async fn contract(store: Arc<dyn Store>) {
    meta_and_key_rotation(&store).await;
    batches_and_tiles(&store).await;
    queries(&store).await;
    checkpoints(&store).await;
    tokens(&store).await;
    store.ping().await.unwrap();
}

#[tokio::test]
async fn sqlite_store_meets_the_contract() {
    let (_dir, store) = sqlite().await;
    contract(store).await;
}

#[tokio::test]
async fn postgres_store_meets_the_contract() {
    contract(postgres().await).await;
}
