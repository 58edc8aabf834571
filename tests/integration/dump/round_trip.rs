//! A dump from SQLite to PostgreSQL and back keeps every byte.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_keeps_every_byte() {
    let s = TestServer::start().await;
    build(&s).await;
    let docs = add_sboms(&s).await;
    let work = tempfile::tempdir().unwrap();
    let first = work.path().join("from-sqlite");
    let first_s = first.to_string_lossy().into_owned();
    let source_db = format!("sqlite://{}", s.dir.path().join("threadlog.db").display());

    // SQLite → PostgreSQL, through the CLI, while the source server keeps running.
    let (code, v, out) =
        tokio::task::block_in_place(|| proc::cli(&["export", "--out", &first_s], &env(&source_db)));
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["tree_size"], 403);
    assert_eq!(v["checkpoints"], 14);
    assert_eq!(v["blobs"], 2);
    let pg = common::pg::fresh_database().await;
    let (code, v, out) =
        tokio::task::block_in_place(|| proc::cli(&["import", "--from", &first_s], &env(&pg)));
    assert_eq!(code, 0, "{out}");
    assert_eq!(v["verified"]["ok"], true, "{v}");
    assert_eq!(v["verified"]["checkpoints_checked"], 14);
    assert_eq!(v["blobs"], 2);

    let original = contents(s.store.as_ref()).await;
    let moved_store = store::open(&pg).await.unwrap();
    let moved = contents(moved_store.as_ref()).await;
    assert_eq!(original.0, moved.0, "entries");
    assert_eq!(original.1, moved.1, "checkpoints");
    assert_eq!(original.2, moved.2, "tiles");
    assert!(original.2.iter().all(Option::is_some));
    for d in &docs {
        let blob = moved_store.blob(d).await.unwrap().expect("document moved");
        assert_eq!(Some(blob), s.store.blob(d).await.unwrap());
    }
    let by_subject = EntryQuery {
        subject: Some("lot:FIL-2026-118".into()),
        limit: 1000,
        ..EntryQuery::default()
    };
    assert_eq!(
        s.store.entries(&by_subject).await.unwrap().len(),
        moved_store.entries(&by_subject).await.unwrap().len()
    );
    let (code, _, out) = tokio::task::block_in_place(|| {
        proc::cli(&["verify", "--database", &pg, "--no-state"], &[])
    });
    assert_eq!(code, 0, "{out}");

    // PostgreSQL → a new SQLite file: the dump files come out byte for byte the same.
    let second = work.path().join("from-postgres");
    let second_s = second.to_string_lossy().into_owned();
    let (code, _, out) =
        tokio::task::block_in_place(|| proc::cli(&["export", "--out", &second_s], &env(&pg)));
    assert_eq!(code, 0, "{out}");
    let blob_files: Vec<String> = docs
        .iter()
        .map(|d| format!("{}/{}", dump::BLOBS, hex::encode(d)))
        .collect();
    for f in [dump::ENTRIES, dump::CHECKPOINTS]
        .into_iter()
        .chain(blob_files.iter().map(String::as_str))
    {
        assert_eq!(
            std::fs::read(first.join(f)).unwrap(),
            std::fs::read(second.join(f)).unwrap(),
            "{f}"
        );
    }
    let back = tempfile::tempdir().unwrap();
    let back_store = sqlite_at(back.path()).await;
    dump::import(&second, back_store.clone(), &|_, _| {})
        .await
        .unwrap();
    assert_eq!(contents(back_store.as_ref()).await, original);
    for d in &docs {
        assert_eq!(
            back_store.blob(d).await.unwrap(),
            s.store.blob(d).await.unwrap()
        );
    }

    // A server on the moved log: same key and origin, and resubmissions are still
    // recognised as the entries they duplicate.
    let key = format!("file:{}", s.dir.path().join("log.key").display());
    let index_of = |r: &Value| r[0]["index"].as_u64();
    let (_, first_receipt) = s.post_events(&json!([event("b3-e7")])).await;
    let moved = TestServer::start_with(tempfile::tempdir().unwrap(), |mut c| {
        c.store.database_url = Some(pg.clone());
        c.signer = Some(key);
        c
    })
    .await;
    let (status, receipt) = moved.post_events(&json!([event("b3-e7")])).await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt[0]["leaf_hash"], first_receipt[0]["leaf_hash"]);
    assert_eq!(index_of(&receipt), index_of(&first_receipt));
    let (status, _) = moved.post_events(&json!([event("after-the-move")])).await;
    assert_eq!(status, 201);
    assert!(moved.audit().await.ok);
}
