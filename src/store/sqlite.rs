//! The SQLite store: the embedded default. One writer connection (appends) and a separate
//! reader pool, so auditor reads never queue behind the writer; WAL journal with
//! `synchronous=FULL`, so a committed batch survives power loss. The log lock is SQLite's
//! own write lock, taken up front with `BEGIN IMMEDIATE`.
//!
//! The database file is created with mode 0600 before SQLite opens it; SQLite gives its
//! `-wal` and `-shm` files the mode of the database file, so they are private too.

use super::rows::{self, db_err, LogRow};
use super::writes::{self, SharedWrites};
use super::*;
use super::{reads, tokens};
use sqlx::pool::PoolConnection;
use sqlx::query_builder::Separated;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

/// Rows per multi-row INSERT; far below SQLite's 32766 bound-parameter limit.
const INSERT_CHUNK: usize = 500;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if let Some(path) = super::sqlite_file(url)? {
            create_private(&path)?;
        }
        let opts = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Config(format!("{url}: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.clone())
            .await
            .map_err(db_err)?;
        sqlx::migrate!("migrations/sqlite")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts.read_only(true))
            .await
            .map_err(db_err)?;
        Ok(SqliteStore { writer, reader })
    }

    /// Opens an existing database to read it only, without migrations. Read-only
    /// connections still create `-wal` and `-shm` files, unless the file is opened as
    /// immutable; that is safe when no `-wal` exists (no writer has it open, and every
    /// commit is in the main file). With a `-wal` present, its commits must be read, so
    /// the file is opened read-only through the existing `-wal`/`-shm`.
    pub async fn open_read_only(url: &str) -> Result<Self, StoreError> {
        let path = super::sqlite_file(url)?
            .ok_or_else(|| StoreError::Config(format!("{url} names no database file")))?;
        if !path.exists() {
            return Err(StoreError::Config(format!(
                "{} does not exist",
                path.display()
            )));
        }
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let opts = SqliteConnectOptions::new()
            .filename(&path)
            .read_only(true)
            .immutable(!std::path::Path::new(&wal).exists())
            .busy_timeout(Duration::from_secs(5));
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(opts)
            .await
            .map_err(db_err)?;
        Ok(SqliteStore {
            writer: reader.clone(),
            reader,
        })
    }
}

/// Creates the database file with mode 0600 if it does not exist yet.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "cannot create {}: {e}",
            path.display()
        ))),
    }
}

/// An append transaction on the writer connection, begun and ended with plain SQL rather
/// than `sqlx::Transaction`: when a statement or the COMMIT fails with `SQLITE_FULL` or
/// `SQLITE_IOERR`, SQLite may already have rolled the transaction back, the ROLLBACK sqlx
/// then sends fails, and sqlx keeps counting the connection as inside a transaction, so
/// every later `BEGIN IMMEDIATE` is refused even after space returns. Here a transaction
/// that did not commit closes its connection instead (closing is SQLite's rollback), and
/// the pool opens a fresh one.
struct SqliteAppend {
    tx: PoolConnection<Sqlite>,
    committed: bool,
}

impl Drop for SqliteAppend {
    fn drop(&mut self) {
        if !self.committed {
            self.tx.close_on_drop();
        }
    }
}

#[async_trait]
impl AppendTx for SqliteAppend {
    async fn frontier(&mut self) -> Result<Frontier, StoreError> {
        let latest = sqlx::query(
            "SELECT tree_size, created_at FROM checkpoints ORDER BY tree_size DESC LIMIT 1",
        )
        .fetch_optional(&mut *self.tx)
        .await
        .map_err(db_err)?;
        let (tree_size, created_at) = match latest {
            Some(r) => (from_sql(r.col("tree_size")?)?, Some(r.col("created_at")?)),
            None => (0, None),
        };
        let mut edge = Vec::new();
        for (id, width) in crate::merkle::edge_tiles(tree_size) {
            let data: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT data FROM tiles WHERE level = ? AND idx = ?")
                    .bind(i64::from(id.level))
                    .bind(to_sql(id.index)?)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(db_err)?;
            edge.push((id, edge_tile(tree_size, id, width, data)?));
        }
        let verifier_key = sqlx::query_scalar("SELECT verifier_key FROM meta WHERE id = 1")
            .fetch_optional(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(Frontier {
            tree_size,
            created_at,
            edge,
            verifier_key,
        })
    }

    async fn find_dedup(&mut self, keys: &[&str]) -> Result<Vec<(String, DedupHit)>, StoreError> {
        let mut out = Vec::new();
        for chunk in keys.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "SELECT key, idx, content_sha256 FROM dedup WHERE key IN (",
            );
            let mut sep = q.separated(", ");
            for k in chunk {
                sep.push_bind(*k);
            }
            q.push(")");
            for row in q.build().fetch_all(&mut *self.tx).await.map_err(db_err)? {
                out.push(rows::dedup(&row)?);
            }
        }
        Ok(out)
    }

    async fn init_meta(&mut self, meta: &LogMeta) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO meta (id, origin, verifier_key, created_at) VALUES (1, ?, ?, ?)")
            .bind(&meta.origin)
            .bind(&meta.verifier_key)
            .bind(crate::time::now())
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn rotate_key(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let done =
            sqlx::query("UPDATE meta SET verifier_key = ? WHERE id = 1 AND verifier_key = ?")
                .bind(to)
                .bind(from)
                .execute(&mut *self.tx)
                .await
                .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Err(StoreError::Conflict(format!(
                "the log's current key is no longer {from}"
            )));
        }
        Ok(())
    }

    async fn write(&mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        check_times(batch)?;
        let conn = &mut *self.tx;
        insert_chunked(
            conn,
            "INSERT INTO entries (idx, kind, integrated_at, leaf) ",
            &writes::entry_rows(batch)?,
            INSERT_CHUNK,
            "",
            |mut b, (i, e)| {
                b.push_bind(*i)
                    .push_bind(&e.kind)
                    .push_bind(&e.integrated_at)
                    .push_bind(&e.leaf);
            },
        )
        .await?;
        insert_chunked(
            conn,
            "INSERT INTO subjects (subject, idx) ",
            &writes::subject_rows(batch)?,
            INSERT_CHUNK,
            "",
            |mut b, (s, i)| {
                b.push_bind(*s).push_bind(*i);
            },
        )
        .await?;
        super::thread::sqlite::write(conn, &writes::thread_rows(batch)?).await?;
        insert_chunked(
            conn,
            "INSERT INTO dedup (key, idx, content_sha256) ",
            &writes::dedup_rows(batch)?,
            INSERT_CHUNK,
            "",
            |mut b, (k, i, c)| {
                b.push_bind(*k).push_bind(*i).push_bind(*c);
            },
        )
        .await?;
        Sqlite::write_blobs(conn, batch).await?;
        insert_chunked(
            conn,
            "INSERT INTO tiles (level, idx, data) ",
            &batch.tiles,
            INSERT_CHUNK,
            " ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data",
            |mut b, (id, data)| {
                b.push_bind(i64::from(id.level))
                    .push_bind(id.index as i64)
                    .push_bind(data);
            },
        )
        .await?;
        Sqlite::write_checkpoint(conn, &batch.checkpoint).await
    }

    async fn thread_backlog(&mut self) -> Result<Backlog, StoreError> {
        super::thread::backlog::<Sqlite>(&mut self.tx).await
    }

    async fn backfill_thread(
        &mut self,
        rows: &[(u64, EntryThread)],
        from: u64,
        to: u64,
    ) -> Result<(), StoreError> {
        let rows = rows
            .iter()
            .map(|(i, t)| Ok((to_sql(*i)?, t)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        super::thread::sqlite::write(&mut self.tx, &rows).await?;
        super::thread::advance::<Sqlite>(&mut self.tx, from, to).await
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        sqlx::query("COMMIT")
            .execute(&mut *self.tx)
            .await
            .map_err(db_err)?;
        self.committed = true;
        Ok(())
    }
}

/// Inserts `rows` in multi-row INSERTs of at most `per_statement` rows each: `head` names
/// the table and columns, `push` binds one row, `tail` ends every statement.
pub(in crate::store) async fn insert_chunked<'a, T>(
    conn: &mut SqliteConnection,
    head: &str,
    rows: &'a [T],
    per_statement: usize,
    tail: &str,
    mut push: impl FnMut(Separated<'_, 'a, Sqlite, &'static str>, &'a T),
) -> Result<(), StoreError> {
    for chunk in rows.chunks(per_statement) {
        let mut q = QueryBuilder::<Sqlite>::new(head);
        q.push_values(chunk, &mut push);
        q.push(tail);
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_append(&self) -> Result<Box<dyn AppendTx>, StoreError> {
        let mut tx = self.writer.acquire().await.map_err(db_err)?;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(Box::new(SqliteAppend {
            tx,
            committed: false,
        }))
    }

    async fn meta(&self) -> Result<Option<LogMeta>, StoreError> {
        let row = sqlx::query("SELECT origin, verifier_key FROM meta WHERE id = 1")
            .fetch_optional(&self.writer)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(LogMeta {
                origin: r.col("origin")?,
                verifier_key: r.col("verifier_key")?,
            })
        })
        .transpose()
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        sqlx::query("SELECT * FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .map(|r| rows::checkpoint(&r))
            .transpose()
    }

    async fn checkpoint(&self, tree_size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        sqlx::query("SELECT * FROM checkpoints WHERE tree_size = ?")
            .bind(to_sql(tree_size)?)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .map(|r| rows::checkpoint(&r))
            .transpose()
    }

    async fn checkpoints(
        &self,
        after: Option<u64>,
        limit: u32,
    ) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let after = match after {
            Some(a) => to_sql(a)?,
            None => -1,
        };
        sqlx::query("SELECT * FROM checkpoints WHERE tree_size > ? ORDER BY tree_size LIMIT ?")
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|r| rows::checkpoint(&r))
            .collect()
    }

    async fn read_tiles(&self, ids: &[TileId]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let data: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT data FROM tiles WHERE level = ? AND idx = ?")
                    .bind(i64::from(id.level))
                    .bind(to_sql(id.index)?)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_err)?;
            out.push(data);
        }
        Ok(out)
    }

    async fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        reads::entry(&self.reader, index).await
    }

    async fn entries(&self, q: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError> {
        let mut b = QueryBuilder::<Sqlite>::new("");
        entries_sql(&mut b, q)?;
        b.build()
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|r| rows::entry(&r))
            .collect()
    }

    async fn find_dedup(&self, key: &str) -> Result<Option<DedupHit>, StoreError> {
        reads::dedup(&self.reader, key).await
    }

    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<LoggedEdge>, StoreError> {
        super::thread::sqlite::edges(&self.reader, q).await
    }

    async fn corrections(
        &self,
        indexes: &[u64],
        below: u64,
    ) -> Result<Vec<Correction>, StoreError> {
        super::thread::sqlite::corrections(&self.reader, indexes, below).await
    }

    async fn thread_backlog(&self) -> Result<Backlog, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        super::thread::backlog::<Sqlite>(&mut conn).await
    }

    async fn blob(&self, sha256: &[u8; 32]) -> Result<Option<StoredBlob>, StoreError> {
        reads::blob(&self.reader, sha256).await
    }

    async fn insert_token(
        &self,
        name: &str,
        role: &str,
        token_sha256: &[u8; 32],
        expires_at: Option<&str>,
    ) -> Result<(), StoreError> {
        tokens::insert(&self.writer, name, role, token_sha256, expires_at).await
    }

    async fn token(&self, token_sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        // Each read is its own transaction on the file: a revocation committed by any
        // process is seen by the next request.
        tokens::by_hash(&self.reader, token_sha256).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        tokens::all(&self.reader).await
    }

    async fn revoke_tokens(&self, name: &str, at: &str) -> Result<u64, StoreError> {
        tokens::revoke(&self.writer, name, at).await
    }

    async fn touch_token(&self, token_sha256: &[u8; 32], at: &str) -> Result<(), StoreError> {
        tokens::touch(&self.writer, token_sha256, at).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn probe_commit(&self) -> Result<(), StoreError> {
        // A write statement outside a transaction commits on its own.
        sqlx::query(PROBE_COMMIT_SQL)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
