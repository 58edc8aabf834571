//! The edges appends create: corrections that must follow what they correct, an older
//! log that gets the same edges afterwards, and a log moved to another store.

use super::*;

both!(corrections_must_follow_the_event_they_correct);
async fn corrections_must_follow_the_event_they_correct(s: TestServer) {
    let (status, first) = s.post_events(&print("p-1", "FIL-1-S1", "P-1")).await;
    assert_eq!(status, 201, "{first}");

    let mut fix = print("p-1-fix", "FIL-1-S2", "P-1");
    fix["event_type"] = json!("correction");
    fix["corrects"] = json!({"event_id": "p-9", "reason": "wrong spool scanned"});
    let (status, err) = s.post_events(&fix).await;
    assert_eq!(status, 422, "{err}");
    let message = err["message"].as_str().unwrap();
    assert!(
        message.contains("\"p-9\"") && message.contains("must follow"),
        "{message}"
    );

    fix["corrects"] = json!({"event_id": "p-1", "reason": "wrong spool scanned"});
    let (status, r) = s.post_events(&fix).await;
    assert_eq!(status, 201, "{r}");
    let (status, again) = s.post_events(&fix).await;
    assert_eq!(
        status, 200,
        "a resubmitted correction is a duplicate: {again}"
    );

    // An event and its correction in one request: the correction follows it.
    let mut later = print("p-2-fix", "FIL-1-S2", "P-2");
    later["corrects"] = json!({"event_id": "p-2"});
    let (status, rs) = s
        .post_events(&json!([print("p-2", "FIL-1-S1", "P-2"), later]))
        .await;
    assert_eq!(status, 201, "{rs}");
    // ...but not before it.
    let mut early = print("p-3-fix", "FIL-1-S2", "P-3");
    early["corrects"] = json!({"event_id": "p-3"});
    let (status, err) = s
        .post_events(&json!([early, print("p-3", "FIL-1-S1", "P-3")]))
        .await;
    assert_eq!(status, 422, "{err}");
    assert!(err["message"].as_str().unwrap().starts_with("event 0 "));

    let c = s.store.corrections(&[0, 2], 4).await.unwrap();
    let pairs: Vec<(u64, u64)> = c.iter().map(|c| (c.corrected, c.by)).collect();
    assert_eq!(pairs, vec![(0, 1), (2, 3)]);
    assert_eq!(
        rs[1]["index"], 3,
        "the correction's receipt is for the entry after the event"
    );

    // Both the corrected edge and its correction are there: nothing is replaced.
    let edges = all_edges(&s.database_url).await;
    let into_p1: Vec<(&str, i64)> = edges
        .iter()
        .filter(|e| e.1 == "serial:P-1" && e.2 == "material")
        .map(|e| (e.0.as_str(), e.3))
        .collect();
    assert_eq!(
        into_p1,
        vec![("sublot:FIL-1-S1", 0), ("sublot:FIL-1-S2", 1)]
    );
    assert!(s.audit().await.ok);
    s.stop().await;
}

both!(an_older_log_gets_the_same_edges_afterwards);
async fn an_older_log_gets_the_same_edges_afterwards(s: TestServer) {
    let mut events: Vec<Value> = (0..300)
        .map(|i| {
            print(
                &format!("p-{i}"),
                &format!("FIL-1-S{}", i % 4),
                &format!("P-{i}"),
            )
        })
        .collect();
    events[250]["corrects"] = json!({"event_id": "p-7"});
    events[250]["event_type"] = json!("correction");
    assert_eq!(s.post_events(&Value::Array(events)).await.0, 201);
    let mut ship = print("ship-1", "FIL-1-S0", "P-0");
    ship["material"] = json!([{"definition": "bracket-A", "serial": "P-0", "use": "consumed"}]);
    ship["customer"] = json!({"id": "ACME", "order": "PO-1"});
    assert_eq!(s.post_events(&ship).await.0, 201);
    let written = all_edges(&s.database_url).await;
    // Four edges per print (contains, material, equipment, work order); three for the
    // shipment (equipment, work order, customer).
    assert_eq!(written.len(), 300 * 4 + 3);

    // As if the log had been written before the thread existed: no rows, a back-log.
    execute(
        &s.database_url,
        &[
            "DELETE FROM edges",
            "DELETE FROM corrections",
            "DELETE FROM nodes",
            "UPDATE thread_backfill SET next_idx = 0, end_idx = 301",
        ],
    )
    .await;
    let backlog = s.store.thread_backlog().await.unwrap();
    assert_eq!((backlog.next, backlog.end), (0, 301));

    let seen = std::sync::Mutex::new(Vec::new());
    let done = threadlog::thread::backfill(s.store.as_ref(), &|d, e| {
        seen.lock().unwrap().push((d, e));
    })
    .await
    .unwrap();
    assert!(done.done());
    assert_eq!(seen.into_inner().unwrap().last(), Some(&(301, 301)));
    assert_eq!(all_edges(&s.database_url).await, written);
    let c = s.store.corrections(&[7], 301).await.unwrap();
    assert_eq!((c[0].corrected, c[0].by), (7, 250));
    // Running it again finds nothing to do.
    threadlog::thread::backfill(s.store.as_ref(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(all_edges(&s.database_url).await, written);
    s.stop().await;
}

both!(a_moved_log_keeps_its_edges);
async fn a_moved_log_keeps_its_edges(s: TestServer) {
    let mut events: Vec<Value> = (0..40)
        .map(|i| {
            print(
                &format!("p-{i}"),
                &format!("FIL-1-S{}", i % 4),
                &format!("P-{i}"),
            )
        })
        .collect();
    events[30]["corrects"] = json!({"event_id": "p-3"});
    assert_eq!(s.post_events(&Value::Array(events)).await.0, 201);
    let mut fix = print("p-5-fix", "FIL-1-S3", "P-5");
    fix["corrects"] = json!({"event_id": "p-5"});
    assert_eq!(s.post_events(&fix).await.0, 201);
    let written = all_edges(&s.database_url).await;

    let out = s.dir.path().join("dump");
    threadlog::dump::export(s.store.as_ref(), &out, &|_, _| {})
        .await
        .unwrap();
    let target = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", target.path().join("moved.db").display());
    let moved = threadlog::store::open(&url).await.unwrap();
    threadlog::dump::import(&out, moved.clone(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(all_edges(&url).await, written);
    let pairs: Vec<(u64, u64)> = moved
        .corrections(&[3, 5], 100)
        .await
        .unwrap()
        .iter()
        .map(|c| (c.corrected, c.by))
        .collect();
    assert_eq!(pairs, vec![(3, 30), (5, 40)]);
    s.stop().await;
}
