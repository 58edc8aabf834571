//! The store contract for the thread's rows: nodes, edges and corrections.

use super::*;

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

/// Edges leaving `nodes` in the log below `below`.
fn from(nodes: &[&str], below: u64) -> EdgeQuery {
    EdgeQuery::new(
        nodes.iter().map(|n| n.to_string()).collect(),
        EdgeEnd::From,
        below,
    )
}

/// Writes entries 0 to 2 with their edges: two materials and a piece of equipment into
/// `serial:s1` (the second entry correcting the first), then the serial to a customer.
async fn write_three_entries(store: &Arc<dyn Store>) {
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
}

/// Edges of the three entries by either end, below a size, by kind, time and limit.
async fn edge_queries(store: &Arc<dyn Store>) {
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
    assert!(store.edges(&from(&["lot:z"], 9)).await.unwrap().is_empty());

    write_three_entries(&store).await;
    edge_queries(&store).await;

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
