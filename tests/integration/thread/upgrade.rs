//! The upgrade path: the thread's migration on a database the previous version wrote,
//! then the back-fill of its edges.

use super::*;

/// A database at the schema before the thread (migrations 0001 and 0002 only), holding
/// `events` written as the previous version wrote them: leaves, subjects, idempotency
/// keys and one checkpoint, no edges.
async fn old_database(url: &str, events: &[Value]) {
    let dir = tempfile::tempdir().unwrap();
    let backend = if url.starts_with("sqlite:") {
        "sqlite"
    } else {
        "postgres"
    };
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    for f in ["0001_log.sql", "0002_time_by_checkpoint.sql"] {
        std::fs::copy(src.join(f), dir.path().join(f)).unwrap();
    }
    let migrator = sqlx::migrate::Migrator::new(dir.path()).await.unwrap();
    let time = "2026-11-24T12:00:00.000000Z";
    let t = chrono::DateTime::parse_from_rfc3339(time).unwrap().to_utc();
    let rows: Vec<(i64, Vec<u8>, Vec<String>, String)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = threadlog::entry::parse_event(e.clone(), "mes").unwrap();
            let leaf = p.leaf(t).unwrap().into_bytes();
            (i as i64, leaf, p.subjects.clone(), p.dedup_key.clone())
        })
        .collect();
    let size = rows.len() as i64;
    macro_rules! fill {
        ($pool:expr, $p:literal) => {{
            let pool = $pool;
            migrator.run(&pool).await.unwrap();
            let mut tx = pool.begin().await.unwrap();
            for (i, leaf, subjects, key) in &rows {
                sqlx::query(concat!(
                    "INSERT INTO entries (idx, kind, integrated_at, leaf) VALUES (",
                    $p,
                    "1, 'event', ",
                    $p,
                    "2, ",
                    $p,
                    "3)"
                ))
                .bind(i)
                .bind(time)
                .bind(leaf)
                .execute(&mut *tx)
                .await
                .unwrap();
                for s in subjects {
                    sqlx::query(concat!(
                        "INSERT INTO subjects (subject, idx) VALUES (",
                        $p,
                        "1, ",
                        $p,
                        "2)"
                    ))
                    .bind(s)
                    .bind(i)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                }
                sqlx::query(concat!(
                    "INSERT INTO dedup (key, idx, content_sha256) VALUES (",
                    $p,
                    "1, ",
                    $p,
                    "2, ",
                    $p,
                    "3)"
                ))
                .bind(key)
                .bind(i)
                .bind(vec![0u8; 32])
                .execute(&mut *tx)
                .await
                .unwrap();
            }
            sqlx::query(concat!(
                "INSERT INTO checkpoints (tree_size, root_hash, note, created_at) VALUES (",
                $p,
                "1, ",
                $p,
                "2, 'note', ",
                $p,
                "3)"
            ))
            .bind(size)
            .bind(vec![0u8; 32])
            .bind(time)
            .execute(&mut *tx)
            .await
            .unwrap();
            tx.commit().await.unwrap();
            pool.close().await;
        }};
    }
    if backend == "sqlite" {
        let opts: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        fill!(
            sqlx::SqlitePool::connect_with(opts.create_if_missing(true))
                .await
                .unwrap(),
            "?"
        )
    } else {
        fill!(sqlx::PgPool::connect(url).await.unwrap(), "$")
    }
}

/// The upgrade path for real: the new migration on a database the previous version
/// wrote, then the back-fill.
async fn upgrade_backfills(url: String) {
    let plant = Plant::generate(PlantSpec::small());
    let events: Vec<Value> = plant.events[..plant.phases[0] + plant.phases[1]].to_vec();
    old_database(&url, &events).await;
    let store = threadlog::store::open(&url).await.unwrap();
    let backlog = store.thread_backlog().await.unwrap();
    assert_eq!(
        (backlog.next, backlog.end),
        (0, events.len() as u64),
        "the migration records what predates it"
    );
    assert!(all_edges(&url).await.is_empty());
    threadlog::thread::backfill(store.as_ref(), &|_, _| {})
        .await
        .unwrap();
    let mut want: Vec<EdgeRow> = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let body = threadlog::entry::parse_event(e.clone(), "mes").unwrap();
        for x in body.thread.edges {
            want.push((
                x.from,
                x.to,
                x.kind.as_str().into(),
                i as i64,
                x.at,
                x.label,
            ));
        }
    }
    want.sort_by(|a, b| (a.3, &a.0, &a.1, &a.2).cmp(&(b.3, &b.0, &b.1, &b.2)));
    assert_eq!(all_edges(&url).await, want);
}

#[tokio::test]
async fn sqlite_upgrade_backfills_an_older_log() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_backfills(format!("sqlite://{}", dir.path().join("old.db").display())).await;
}

#[tokio::test]
async fn postgres_upgrade_backfills_an_older_log() {
    upgrade_backfills(common::pg::fresh_database().await).await;
}
