//! The PostgreSQL store: many stateless servers on one primary, optional streaming
//! replicas for reads. PostgreSQL is the only coordination between servers: appends are
//! serialized by a transaction-scoped advisory lock taken first in every append
//! transaction, and the frontier is re-read under it, so no server ever signs a checkpoint
//! that forks from another's. The lock is released by commit or rollback, and by the
//! server when a client dies, so a killed replica never leaves the log locked.

use super::rows::{self, db_err, LogRow};
use super::writes::{self, SharedWrites};
use super::*;
use super::{reads, tokens};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::PgConnection;
use sqlx::{Postgres, QueryBuilder, Transaction};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

/// The advisory lock key of the log ("tlog" in ASCII); one log per database.
const LOG_LOCK: i64 = 0x746c_6f67;

pub struct PostgresStore {
    /// The primary: appends, tokens and the identity row.
    writer: PgPool,
    /// Reads; the primary again, or a streaming replica for a read-only store.
    reader: PgPool,
}

async fn pool(url: &str, max: u32, read_only: bool) -> Result<PgPool, StoreError> {
    // A commit is our acknowledgement, so it must wait for the WAL flush (and for
    // synchronous standbys, where configured) whatever the server's default says.
    let mut opts = PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::Config(format!("DATABASE_URL: {e}")))?
        .application_name("threadlog")
        .options([("synchronous_commit", "on")]);
    if read_only {
        // Every transaction READ ONLY: PostgreSQL itself refuses any write, whatever
        // the role may do.
        opts = opts.options([("default_transaction_read_only", "on")]);
    }
    // A short acquire timeout turns a database outage into a prompt 503 instead of
    // requests piling up; the pool reconnects on its own when the server returns.
    PgPoolOptions::new()
        .max_connections(max)
        .acquire_timeout(Duration::from_secs(3))
        .connect_with(opts)
        .await
        .map_err(db_err)
}

impl PostgresStore {
    /// Connects to the primary at `url` and applies migrations (under sqlx's own
    /// advisory lock, so replicas starting together migrate once).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let writer = pool(url, 4, false).await?;
        sqlx::migrate!("migrations/postgres")
            .run(&writer)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))?;
        let reader = pool(url, 8, false).await?;
        Ok(PostgresStore { writer, reader })
    }

    /// Connects to a read replica (or any database holding the log) for reads only;
    /// never migrates, and every transaction is READ ONLY, so appends through it fail
    /// and a role with only SELECT privileges suffices.
    pub async fn open_reader(url: &str) -> Result<Self, StoreError> {
        let reader = pool(url, 8, true).await?;
        Ok(PostgresStore {
            writer: reader.clone(),
            reader,
        })
    }
}

struct PgAppend {
    tx: Transaction<'static, Postgres>,
}

#[async_trait]
impl AppendTx for PgAppend {
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
        let wanted = crate::merkle::edge_tiles(tree_size);
        let ids: Vec<TileId> = wanted.iter().map(|(id, _)| *id).collect();
        let mut found = fetch_tiles(&mut self.tx, &ids).await?;
        let mut edge = Vec::with_capacity(wanted.len());
        for (id, width) in wanted {
            edge.push((id, edge_tile(tree_size, id, width, found.remove(&id))?));
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
        sqlx::query("SELECT key, idx, content_sha256 FROM dedup WHERE key = ANY($1)")
            .bind(keys)
            .fetch_all(&mut *self.tx)
            .await
            .map_err(db_err)?
            .iter()
            .map(rows::dedup)
            .collect()
    }

    async fn init_meta(&mut self, meta: &LogMeta) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO meta (id, origin, verifier_key, created_at) VALUES (1, $1, $2, $3)",
        )
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
            sqlx::query("UPDATE meta SET verifier_key = $1 WHERE id = 1 AND verifier_key = $2")
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
        // One statement per table: arrays are one bind parameter each, whatever the
        // batch size, and a round trip costs more than the rows.
        let conn = &mut *self.tx;
        insert_entries(conn, batch).await?;
        insert_subjects(conn, batch).await?;
        super::thread::postgres::write(conn, &writes::thread_rows(batch)?).await?;
        insert_dedup(conn, batch).await?;
        Postgres::write_blobs(conn, batch).await?;
        insert_tiles(conn, &batch.tiles).await?;
        Postgres::write_checkpoint(conn, &batch.checkpoint).await
    }

    async fn thread_backlog(&mut self) -> Result<Backlog, StoreError> {
        super::thread::backlog::<Postgres>(&mut self.tx).await
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
        super::thread::postgres::write(&mut self.tx, &rows).await?;
        super::thread::advance::<Postgres>(&mut self.tx, from, to).await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(db_err)
    }
}

/// A batch's entries, in one statement.
async fn insert_entries(conn: &mut PgConnection, batch: &AppendBatch) -> Result<(), StoreError> {
    let rows = writes::entry_rows(batch)?;
    if rows.is_empty() {
        return Ok(());
    }
    let n = rows.len();
    let (mut idx, mut kind, mut time, mut leaf) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (i, e) in rows {
        idx.push(i);
        kind.push(e.kind.as_str());
        time.push(e.integrated_at.as_str());
        leaf.push(e.leaf.as_slice());
    }
    sqlx::query(
        "INSERT INTO entries (idx, kind, integrated_at, leaf) \
         SELECT * FROM UNNEST($1::bigint[], $2::text[], $3::text[], $4::bytea[])",
    )
    .bind(&idx)
    .bind(&kind)
    .bind(&time)
    .bind(&leaf)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A batch's subject index rows, in one statement.
async fn insert_subjects(conn: &mut PgConnection, batch: &AppendBatch) -> Result<(), StoreError> {
    let rows = writes::subject_rows(batch)?;
    if rows.is_empty() {
        return Ok(());
    }
    let (subject, idx): (Vec<&str>, Vec<i64>) = rows.into_iter().unzip();
    sqlx::query(
        "INSERT INTO subjects (subject, idx) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[])",
    )
    .bind(&subject)
    .bind(&idx)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A batch's idempotency keys, in one statement.
async fn insert_dedup(conn: &mut PgConnection, batch: &AppendBatch) -> Result<(), StoreError> {
    let rows = writes::dedup_rows(batch)?;
    if rows.is_empty() {
        return Ok(());
    }
    let (mut key, mut idx, mut content) = (Vec::new(), Vec::new(), Vec::new());
    for (k, i, c) in rows {
        key.push(k);
        idx.push(i);
        content.push(c);
    }
    sqlx::query(
        "INSERT INTO dedup (key, idx, content_sha256) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bytea[])",
    )
    .bind(&key)
    .bind(&idx)
    .bind(&content)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// A batch's changed tiles, in one statement; a tile already stored is replaced.
async fn insert_tiles(
    conn: &mut PgConnection,
    tiles: &[(TileId, Vec<u8>)],
) -> Result<(), StoreError> {
    if tiles.is_empty() {
        return Ok(());
    }
    let mut level = Vec::with_capacity(tiles.len());
    let mut idx = Vec::with_capacity(tiles.len());
    let mut data = Vec::with_capacity(tiles.len());
    for (id, d) in tiles {
        level.push(i16::from(id.level));
        idx.push(to_sql(id.index)?);
        data.push(d.as_slice());
    }
    sqlx::query(
        "INSERT INTO tiles (level, idx, data) \
         SELECT * FROM UNNEST($1::smallint[], $2::bigint[], $3::bytea[]) \
         ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data",
    )
    .bind(&level)
    .bind(&idx)
    .bind(&data)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Tiles by id in one round trip; absent ids are absent from the map.
async fn fetch_tiles(
    conn: &mut sqlx::PgConnection,
    ids: &[TileId],
) -> Result<HashMap<TileId, Vec<u8>>, StoreError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let level: Vec<i16> = ids.iter().map(|id| i16::from(id.level)).collect();
    let idx = ids
        .iter()
        .map(|id| to_sql(id.index))
        .collect::<Result<Vec<_>, _>>()?;
    let rows = sqlx::query(
        "SELECT t.level, t.idx, t.data \
         FROM UNNEST($1::smallint[], $2::bigint[]) AS q(level, idx) \
         JOIN tiles t ON t.level = q.level AND t.idx = q.idx",
    )
    .bind(&level)
    .bind(&idx)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    let mut out = HashMap::with_capacity(rows.len());
    for r in rows {
        let level: i16 = r.col("level")?;
        let id = TileId {
            level: u8::try_from(level)
                .map_err(|_| StoreError::Corrupt(format!("tile level {level} out of range")))?,
            index: from_sql(r.col("idx")?)?,
        };
        out.insert(id, r.col("data")?);
    }
    Ok(out)
}

#[async_trait]
impl Store for PostgresStore {
    async fn begin_append(&self) -> Result<Box<dyn AppendTx>, StoreError> {
        let mut tx = self.writer.begin().await.map_err(db_err)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(LOG_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        Ok(Box::new(PgAppend { tx }))
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
        sqlx::query("SELECT * FROM checkpoints WHERE tree_size = $1")
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
        let after = after.map(to_sql).transpose()?.unwrap_or(-1);
        sqlx::query("SELECT * FROM checkpoints WHERE tree_size > $1 ORDER BY tree_size LIMIT $2")
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
        let mut found = fetch_tiles(&mut conn, ids).await?;
        Ok(ids.iter().map(|id| found.remove(id)).collect())
    }

    async fn entry(&self, index: u64) -> Result<Option<StoredEntry>, StoreError> {
        reads::entry(&self.reader, index).await
    }

    async fn entries(&self, q: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError> {
        let mut b = QueryBuilder::<Postgres>::new("");
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
        reads::dedup(&self.writer, key).await
    }

    async fn edges(&self, q: &EdgeQuery) -> Result<Vec<LoggedEdge>, StoreError> {
        super::thread::postgres::edges(&self.reader, q).await
    }

    async fn corrections(
        &self,
        indexes: &[u64],
        below: u64,
    ) -> Result<Vec<Correction>, StoreError> {
        super::thread::postgres::corrections(&self.reader, indexes, below).await
    }

    async fn thread_backlog(&self) -> Result<Backlog, StoreError> {
        let mut conn = self.reader.acquire().await.map_err(db_err)?;
        super::thread::backlog::<Postgres>(&mut conn).await
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
        // The primary, so a token created or revoked a moment ago counts at once.
        tokens::by_hash(&self.writer, token_sha256).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        tokens::all(&self.writer).await
    }

    async fn revoke_tokens(&self, name: &str, at: &str) -> Result<u64, StoreError> {
        tokens::revoke(&self.writer, name, at).await
    }

    async fn touch_token(&self, token_sha256: &[u8; 32], at: &str) -> Result<(), StoreError> {
        tokens::touch(&self.writer, token_sha256, at).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.writer)
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
