//! `verify --database` changes nothing it audits on SQLite and needs only SELECT on
//! PostgreSQL.

use super::*;

/// Bytes and modification time of a file.
fn snapshot(p: &Path) -> (Vec<u8>, SystemTime) {
    (
        std::fs::read(p).unwrap(),
        std::fs::metadata(p).unwrap().modified().unwrap(),
    )
}

fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_database_on_sqlite_changes_nothing_it_audits() {
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let data_s = data.to_string_lossy().into_owned();
    let env = [
        ("THREADLOG_DATA_DIR", data_s.as_str()),
        ("THREADLOG_ORIGIN", ORIGIN),
    ];
    let server = serve(&["--init"], &env).unwrap();
    let producer = tokio::task::block_in_place(|| proc::token("producer", &env));
    for i in 0..5 {
        append(&server.url, &producer, &format!("audit-{i}")).await;
    }
    // SIGKILL: the last commits are still in the -wal file, which verify must read.
    tokio::task::block_in_place(|| server.kill());
    let db = data.join("threadlog.db");
    let wal = data.join("threadlog.db-wal");
    let shm = data.join("threadlog.db-shm");
    let url = format!("sqlite://{}", db.display());
    assert!(wal.exists() && shm.exists());
    let files = listing(&data);
    let (db_before, wal_before) = (snapshot(&db), snapshot(&wal));
    let (code, report, out) = cli(&["verify", "--database", &url], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tree_size"], 5, "{report}");
    assert_eq!(listing(&data), files);
    assert!(
        snapshot(&db) == db_before,
        "verify changed the database file"
    );
    assert!(snapshot(&wal) == wal_before, "verify changed the -wal file");

    // After a clean shutdown (checkpointed, no -wal), verify creates no file at all.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    assert!(!wal.exists() && !shm.exists(), "{:?}", listing(&data));
    let files = listing(&data);
    let db_before = snapshot(&db);
    let (code, report, out) = cli(&["verify", "--database", &url], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tree_size"], 5, "{report}");
    assert_eq!(listing(&data), files, "verify created files");
    assert!(
        snapshot(&db) == db_before,
        "verify changed the database file"
    );
}

/// `url` with its user replaced.
fn with_user(url: &str, user: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    format!("{scheme}://{user}@{host}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_database_on_postgres_needs_only_select() {
    let s = TestServer::start_pg().await;
    for i in 0..3 {
        let (status, body) = s.post_events(&event(&format!("pg-audit-{i}"))).await;
        assert_eq!(status, 201, "{body}");
    }
    let role = format!(
        "ro_{}_{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let db = s
        .database_url
        .split('?')
        .next()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let mut conn = sqlx::PgConnection::connect(&s.database_url).await.unwrap();
    for stmt in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT CONNECT ON DATABASE {db} TO {role}"),
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
    ] {
        sqlx::query(&stmt).execute(&mut conn).await.unwrap();
    }
    let ro = with_user(&s.database_url, &role);
    let (code, report, out) = cli(&["verify", "--database", &ro], &[]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(report["tree_size"], 3, "{report}");
    s.stop().await;
    for stmt in [
        format!("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON SCHEMA public FROM {role}"),
        format!("REVOKE ALL ON DATABASE {db} FROM {role}"),
        format!("DROP ROLE {role}"),
    ] {
        sqlx::query(&stmt).execute(&mut conn).await.unwrap();
    }
}
