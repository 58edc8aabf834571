//! The `Store` contract, as one suite every implementation must pass: SQLite and
//! PostgreSQL run the same cases with the same expectations.

use crate::common;

use std::sync::Arc;
use threadlog::entry::{Edge, EdgeKind};
use threadlog::merkle::{Hash, TileId};
use threadlog::store::*;

async fn sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&format!("sqlite://{}", dir.path().join("c.db").display()))
        .await
        .unwrap();
    (dir, Arc::new(store))
}

async fn postgres() -> Arc<dyn Store> {
    let url = common::pg::fresh_database().await;
    Arc::new(PostgresStore::open(&url).await.unwrap())
}

/// Entries carry the time of the checkpoint that covers them, as the sequencer writes.
fn time(size: u64) -> String {
    format!("2026-11-24T12:00:{size:02}.000000Z")
}

fn entry(index: u64, size: u64, kind: &str, subjects: &[&str], key: &str) -> NewEntry {
    NewEntry {
        entry: StoredEntry {
            index,
            kind: kind.into(),
            integrated_at: time(size),
            leaf: format!("leaf {index}").into_bytes(),
        },
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        dedup_key: Some(key.into()),
        content_sha256: [index as u8; 32],
        thread: Default::default(),
        blob: None,
    }
}

fn checkpoint(size: u64) -> StoredCheckpoint {
    StoredCheckpoint {
        tree_size: size,
        root_hash: Hash([size as u8; 32]),
        note: format!("note {size}\n"),
        created_at: time(size),
    }
}

async fn write(
    store: &dyn Store,
    entries: Vec<NewEntry>,
    tiles: Vec<(TileId, Vec<u8>)>,
    size: u64,
    commit: bool,
) {
    let mut tx = store.begin_append().await.unwrap();
    tx.write(&AppendBatch {
        entries,
        tiles,
        checkpoint: checkpoint(size),
    })
    .await
    .unwrap();
    if commit {
        tx.commit().await.unwrap();
    }
}

async fn contract(store: Arc<dyn Store>) {
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
    store.ping().await.unwrap();
}

fn edge(from: &str, to: &str, kind: EdgeKind, at: i64, label: Option<&str>) -> Edge {
    Edge {
        from: from.into(),
        to: to.into(),
        kind,
        at,
        label: label.map(str::to_string),
    }
}

fn with_thread(mut e: NewEntry, edges: Vec<Edge>, corrects: Option<u64>) -> NewEntry {
    e.thread = EntryThread { edges, corrects };
    e
}

/// Thread rows: written with their entries, read from either end, bounded by a tree
/// size, filtered by kind and time; corrections from either side.
async fn thread_contract(store: Arc<dyn Store>) {
    let mut tx = store.begin_append().await.unwrap();
    tx.init_meta(&LogMeta {
        origin: "o".into(),
        verifier_key: "k".into(),
    })
    .await
    .unwrap();
    assert_eq!(
        tx.thread_backlog().await.unwrap(),
        Backlog { next: 0, end: 0 }
    );
    tx.commit().await.unwrap();
    assert!(store.thread_backlog().await.unwrap().done());

    // Rolled back: no nodes, no edges.
    let mut tx = store.begin_append().await.unwrap();
    tx.write(&AppendBatch {
        entries: vec![with_thread(
            entry(0, 1, "event", &[], "event:z"),
            vec![edge("lot:z", "serial:z", EdgeKind::Material, 1, None)],
            None,
        )],
        tiles: vec![],
        checkpoint: checkpoint(1),
    })
    .await
    .unwrap();
    drop(tx);
    let from = |nodes: &[&str], below: u64| {
        EdgeQuery::new(
            nodes.iter().map(|n| n.to_string()).collect(),
            EdgeEnd::From,
            below,
        )
    };
    assert!(store.edges(&from(&["lot:z"], 9)).await.unwrap().is_empty());

    write(
        store.as_ref(),
        vec![
            with_thread(
                entry(0, 2, "event", &[], "event:a"),
                vec![
                    edge("lot:a", "serial:s1", EdgeKind::Material, 1_000, None),
                    edge(
                        "equipment:e",
                        "serial:s1",
                        EdgeKind::Equipment,
                        1_000,
                        Some("printer"),
                    ),
                ],
                None,
            ),
            with_thread(
                entry(1, 2, "event", &[], "event:b"),
                vec![edge("lot:b", "serial:s1", EdgeKind::Material, 2_000, None)],
                Some(0),
            ),
        ],
        vec![],
        2,
        true,
    )
    .await;
    write(
        store.as_ref(),
        vec![with_thread(
            entry(2, 3, "event", &[], "event:c"),
            vec![edge(
                "serial:s1",
                "customer:c",
                EdgeKind::Customer,
                3_000,
                Some("PO-1"),
            )],
            None,
        )],
        vec![],
        3,
        true,
    )
    .await;

    let sorted = |mut v: Vec<LoggedEdge>| {
        v.sort_by_key(|e| (e.index, e.from.clone()));
        v
    };
    assert_eq!(
        store
            .edges(&from(&["lot:a", "lot:b"], 3))
            .await
            .unwrap()
            .len(),
        2
    );
    let back = |below| EdgeQuery::new(vec!["serial:s1".into()], EdgeEnd::To, below);
    let all = sorted(store.edges(&back(3)).await.unwrap());
    assert_eq!(
        all.iter()
            .map(|e| (e.from.as_str(), e.index))
            .collect::<Vec<_>>(),
        vec![("equipment:e", 0), ("lot:a", 0), ("lot:b", 1)]
    );
    assert_eq!(
        all[0],
        LoggedEdge {
            from: "equipment:e".into(),
            to: "serial:s1".into(),
            kind: EdgeKind::Equipment,
            index: 0,
            at: 1_000,
            label: Some("printer".into()),
        }
    );
    assert_eq!(store.edges(&back(1)).await.unwrap().len(), 2, "below 1");
    let mut q = back(3);
    q.kinds = vec![EdgeKind::Equipment, EdgeKind::Customer];
    assert_eq!(store.edges(&q).await.unwrap().len(), 1);
    let mut q = back(3);
    q.at_from = Some(1_500);
    assert_eq!(store.edges(&q).await.unwrap()[0].from, "lot:b");
    let mut q = back(3);
    q.at_until = Some(1_500);
    assert_eq!(store.edges(&q).await.unwrap().len(), 2);
    let mut q = back(3);
    q.limit = Some(1);
    assert_eq!(store.edges(&q).await.unwrap()[0].index, 0);
    assert_eq!(
        store.edges(&from(&["serial:s1"], 3)).await.unwrap()[0]
            .label
            .as_deref(),
        Some("PO-1")
    );
    assert!(store
        .edges(&from(&["lot:none"], 3))
        .await
        .unwrap()
        .is_empty());

    let c = Correction {
        corrected: 0,
        by: 1,
    };
    assert_eq!(store.corrections(&[0], 3).await.unwrap(), vec![c]);
    assert_eq!(store.corrections(&[1, 2], 3).await.unwrap(), vec![c]);
    assert!(store.corrections(&[0], 1).await.unwrap().is_empty());

    // Back-fill moves only from where it is.
    let mut tx = store.begin_append().await.unwrap();
    assert!(matches!(
        tx.backfill_thread(&[], 5, 6).await,
        Err(StoreError::Conflict(_))
    ));
}

#[tokio::test]
async fn sqlite_thread_rows_meet_the_contract() {
    let (_dir, store) = sqlite().await;
    thread_contract(store).await;
}

#[tokio::test]
async fn postgres_thread_rows_meet_the_contract() {
    thread_contract(postgres().await).await;
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

fn with_blob(mut e: NewEntry, data: &'static [u8], media_type: &str) -> NewEntry {
    e.blob = Some(threadlog::entry::Blob::new(
        bytes::Bytes::from_static(data),
        media_type,
    ));
    e
}

/// Documents are written with the entry that binds them, once per digest, and never
/// rewritten.
async fn blob_contract(store: Arc<dyn Store>) {
    let a = with_blob(
        entry(0, 1, "sbom", &[], "a"),
        b"{\"doc\":\"a\"}",
        "application/json",
    );
    let sha_a = *a.blob.as_ref().unwrap().sha256();
    write(store.as_ref(), vec![a.clone()], vec![], 1, false).await;
    assert_eq!(
        store.blob(&sha_a).await.unwrap(),
        None,
        "rolled back with its entry"
    );
    write(store.as_ref(), vec![a], vec![], 1, true).await;
    let b1 = with_blob(entry(1, 3, "sbom", &[], "b1"), b"<bom/>", "application/xml");
    let b2 = with_blob(entry(2, 3, "sbom", &[], "b2"), b"<bom/>", "application/xml");
    let again = with_blob(
        entry(3, 4, "sbom", &[], "a2"),
        b"{\"doc\":\"a\"}",
        "text/plain",
    );
    let sha_b = *b1.blob.as_ref().unwrap().sha256();
    write(store.as_ref(), vec![b1, b2], vec![], 3, true).await;
    write(store.as_ref(), vec![again], vec![], 4, true).await;
    assert_eq!(
        store.blob(&sha_a).await.unwrap(),
        Some(StoredBlob {
            media_type: "application/json".into(),
            index: 0,
            data: b"{\"doc\":\"a\"}".to_vec(),
        }),
        "the first binding's row, unchanged"
    );
    let b = store.blob(&sha_b).await.unwrap().unwrap();
    assert_eq!((b.index, b.data.as_slice()), (1, &b"<bom/>"[..]));
    assert_eq!(store.blob(&[0; 32]).await.unwrap(), None);
}

#[tokio::test]
async fn sqlite_store_keeps_blobs_per_the_contract() {
    let (_dir, store) = sqlite().await;
    blob_contract(store).await;
}

#[tokio::test]
async fn postgres_store_keeps_blobs_per_the_contract() {
    blob_contract(postgres().await).await;
}

/// `postgres`: the database URL, where the waiting appender can be seen in `pg_locks`.
async fn appenders_are_serialized(a: Arc<dyn Store>, b: Arc<dyn Store>, postgres: Option<String>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let tx = a.begin_append().await.unwrap();
    let released = Arc::new(AtomicBool::new(false));
    let seen = released.clone();
    // The second appender records whether the first had let go when it got the lock.
    let second = tokio::spawn(async move {
        let tx = b.begin_append().await.map(|_| ());
        (seen.load(Ordering::SeqCst), tx)
    });
    match postgres {
        Some(url) => {
            let pool = sqlx::PgPool::connect(&url).await.unwrap();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
            loop {
                let waiting: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
                     AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                )
                .fetch_one(&pool)
                .await
                .unwrap();
                if waiting == 1 {
                    break;
                }
                assert!(!second.is_finished(), "the second appender did not wait");
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the second appender never waited for the lock"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
            pool.close().await;
        }
        // No outside view of an in-process wait: let the second appender run up to it.
        None => {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
    }
    released.store(true, Ordering::SeqCst);
    drop(tx);
    let (after_release, got) = second.await.unwrap();
    got.unwrap();
    assert!(
        after_release,
        "a second appender must wait for the log lock"
    );
}

#[tokio::test]
async fn sqlite_appenders_are_serialized() {
    let (_dir, store) = sqlite().await;
    appenders_are_serialized(store.clone(), store, None).await;
}

#[tokio::test]
async fn postgres_appenders_are_serialized_across_servers() {
    // Two stores on one database stand for two replicas: separate pools, one lock.
    let url = common::pg::fresh_database().await;
    let a: Arc<dyn Store> = Arc::new(PostgresStore::open(&url).await.unwrap());
    let b: Arc<dyn Store> = Arc::new(PostgresStore::open(&url).await.unwrap());
    appenders_are_serialized(a, b, Some(url)).await;
}
