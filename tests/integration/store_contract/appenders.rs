//! Appenders are serialized: two writers on the same store never interleave an append.

use super::*;

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
