//! The SQLite store: the embedded default. One writer connection (appends) and a separate
//! reader pool, so auditor reads never queue behind the writer; WAL journal with
//! `synchronous=FULL`, so a committed batch survives power loss. The log lock is SQLite's
//! own write lock, taken up front with `BEGIN IMMEDIATE`.

use super::*;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool, Transaction};
use std::str::FromStr;
use std::time::Duration;

/// Rows per multi-row INSERT; far below SQLite's 32766 bound-parameter limit.
const INSERT_CHUNK: usize = 500;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
}

fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn hash_from(bytes: Vec<u8>) -> Result<Hash, StoreError> {
    Hash::from_slice(&bytes)
        .map_err(|_| StoreError::Corrupt("stored root hash is not 32 bytes".into()))
}

fn checkpoint_from(row: sqlx::sqlite::SqliteRow) -> Result<StoredCheckpoint, StoreError> {
    Ok(StoredCheckpoint {
        tree_size: from_sql(row.try_get("tree_size").map_err(db_err)?)?,
        root_hash: hash_from(row.try_get("root_hash").map_err(db_err)?)?,
        note: row.try_get("note").map_err(db_err)?,
        created_at: row.try_get("created_at").map_err(db_err)?,
    })
}

fn entry_from(row: sqlx::sqlite::SqliteRow) -> Result<StoredEntry, StoreError> {
    Ok(StoredEntry {
        index: from_sql(row.try_get("idx").map_err(db_err)?)?,
        kind: row.try_get("kind").map_err(db_err)?,
        integrated_at: row.try_get("integrated_at").map_err(db_err)?,
        leaf: row.try_get("leaf").map_err(db_err)?,
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and applies migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
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
}

struct SqliteAppend {
    tx: Transaction<'static, Sqlite>,
}

#[async_trait]
impl AppendTx for SqliteAppend {
    async fn tree_state(&mut self) -> Result<(u64, Vec<(TileId, Vec<u8>)>), StoreError> {
        let size: Option<i64> = sqlx::query_scalar("SELECT MAX(tree_size) FROM checkpoints")
            .fetch_one(&mut *self.tx)
            .await
            .map_err(db_err)?;
        let size = from_sql(size.unwrap_or(0))?;
        let mut edge = Vec::new();
        for (id, width) in crate::merkle::edge_tiles(size) {
            let data: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT data FROM tiles WHERE level = ? AND idx = ?")
                    .bind(i64::from(id.level))
                    .bind(to_sql(id.index)?)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(db_err)?;
            let data = data.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "edge tile {}/{} of tree size {size} is missing",
                    id.level, id.index
                ))
            })?;
            // A tile may be wider than the checkpoint if a crash hit between writes it
            // cannot (one transaction), so any other width is corruption.
            if data.len() as u64 != width * 32 {
                return Err(StoreError::Corrupt(format!(
                    "edge tile {}/{} holds {} bytes, tree size {size} needs {}",
                    id.level,
                    id.index,
                    data.len(),
                    width * 32
                )));
            }
            edge.push((id, data));
        }
        Ok((size, edge))
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
                out.push(dedup_from(&row)?);
            }
        }
        Ok(out)
    }

    async fn write(&mut self, batch: &AppendBatch) -> Result<(), StoreError> {
        for chunk in batch.entries.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new(
                "INSERT INTO entries (idx, kind, integrated_at, leaf) ",
            );
            let mut err = None;
            q.push_values(chunk, |mut b, e| {
                match to_sql(e.entry.index) {
                    Ok(i) => b.push_bind(i),
                    Err(x) => {
                        err = Some(x);
                        b.push_bind(0i64)
                    }
                };
                b.push_bind(&e.entry.kind)
                    .push_bind(&e.entry.integrated_at)
                    .push_bind(&e.entry.leaf);
            });
            if let Some(e) = err {
                return Err(e);
            }
            q.build().execute(&mut *self.tx).await.map_err(db_err)?;
        }
        let subjects: Vec<(&str, i64)> = batch
            .entries
            .iter()
            .flat_map(|e| {
                e.subjects
                    .iter()
                    .map(move |s| (s.as_str(), e.entry.index as i64))
            })
            .collect();
        for chunk in subjects.chunks(INSERT_CHUNK) {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT OR IGNORE INTO subjects (subject, idx) ");
            q.push_values(chunk, |mut b, (s, i)| {
                b.push_bind(*s).push_bind(*i);
            });
            q.build().execute(&mut *self.tx).await.map_err(db_err)?;
        }
        let dedup: Vec<(&str, i64, &[u8])> = batch
            .entries
            .iter()
            .filter_map(|e| {
                e.dedup_key
                    .as_deref()
                    .map(|k| (k, e.entry.index as i64, e.content_sha256.as_slice()))
            })
            .collect();
        for chunk in dedup.chunks(INSERT_CHUNK) {
            let mut q =
                QueryBuilder::<Sqlite>::new("INSERT INTO dedup (key, idx, content_sha256) ");
            q.push_values(chunk, |mut b, (k, i, c)| {
                b.push_bind(*k).push_bind(*i).push_bind(*c);
            });
            q.build().execute(&mut *self.tx).await.map_err(db_err)?;
        }
        for chunk in batch.tiles.chunks(INSERT_CHUNK) {
            let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO tiles (level, idx, data) ");
            q.push_values(chunk, |mut b, (id, data)| {
                b.push_bind(i64::from(id.level))
                    .push_bind(id.index as i64)
                    .push_bind(data);
            });
            q.push(" ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data");
            q.build().execute(&mut *self.tx).await.map_err(db_err)?;
        }
        let cp = &batch.checkpoint;
        sqlx::query(
            "INSERT INTO checkpoints (tree_size, root_hash, note, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(to_sql(cp.tree_size)?)
        .bind(cp.root_hash.0.as_slice())
        .bind(&cp.note)
        .bind(&cp.created_at)
        .execute(&mut *self.tx)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.tx.commit().await.map_err(db_err)
    }
}

fn dedup_from(row: &sqlx::sqlite::SqliteRow) -> Result<(String, DedupHit), StoreError> {
    let key: String = row.try_get("key").map_err(db_err)?;
    let content: Vec<u8> = row.try_get("content_sha256").map_err(db_err)?;
    Ok((
        key,
        DedupHit {
            index: from_sql(row.try_get("idx").map_err(db_err)?)?,
            content_sha256: content
                .try_into()
                .map_err(|_| StoreError::Corrupt("dedup digest is not 32 bytes".into()))?,
        },
    ))
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin_append(&self) -> Result<Box<dyn AppendTx>, StoreError> {
        let tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_err)?;
        Ok(Box::new(SqliteAppend { tx }))
    }

    async fn meta(&self) -> Result<Option<LogMeta>, StoreError> {
        let row = sqlx::query("SELECT origin, verifier_key FROM meta WHERE id = 1")
            .fetch_optional(&self.writer)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(LogMeta {
                origin: r.try_get("origin").map_err(db_err)?,
                verifier_key: r.try_get("verifier_key").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn init_meta(&self, meta: &LogMeta) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO meta (id, origin, verifier_key, created_at) VALUES (1, ?, ?, ?)")
            .bind(&meta.origin)
            .bind(&meta.verifier_key)
            .bind(chrono::Utc::now().to_rfc3339())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        sqlx::query("SELECT * FROM checkpoints ORDER BY tree_size DESC LIMIT 1")
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .map(checkpoint_from)
            .transpose()
    }

    async fn checkpoint(&self, tree_size: u64) -> Result<Option<StoredCheckpoint>, StoreError> {
        sqlx::query("SELECT * FROM checkpoints WHERE tree_size = ?")
            .bind(to_sql(tree_size)?)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .map(checkpoint_from)
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
            .map(checkpoint_from)
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
        sqlx::query("SELECT idx, kind, integrated_at, leaf FROM entries WHERE idx = ?")
            .bind(to_sql(index)?)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .map(entry_from)
            .transpose()
    }

    async fn entries(&self, q: &EntryQuery) -> Result<Vec<StoredEntry>, StoreError> {
        let mut b =
            QueryBuilder::<Sqlite>::new("SELECT e.idx, e.kind, e.integrated_at, e.leaf FROM ");
        if let Some(s) = &q.subject {
            b.push("subjects s JOIN entries e ON e.idx = s.idx WHERE s.subject = ");
            b.push_bind(s.clone());
        } else {
            b.push("entries e WHERE 1 = 1");
        }
        if let Some(k) = &q.kind {
            b.push(" AND e.kind = ").push_bind(k.clone());
        }
        if let Some(s) = &q.since {
            b.push(" AND e.integrated_at >= ").push_bind(s.clone());
        }
        if let Some(u) = &q.until {
            b.push(" AND e.integrated_at < ").push_bind(u.clone());
        }
        if let Some(a) = q.after {
            b.push(" AND e.idx > ").push_bind(to_sql(a)?);
        }
        if let Some(below) = q.below {
            b.push(" AND e.idx < ").push_bind(to_sql(below)?);
        }
        b.push(" ORDER BY e.idx LIMIT ")
            .push_bind(i64::from(q.limit));
        b.build()
            .fetch_all(&self.reader)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(entry_from)
            .collect()
    }

    async fn find_dedup(&self, key: &str) -> Result<Option<DedupHit>, StoreError> {
        sqlx::query("SELECT key, idx, content_sha256 FROM dedup WHERE key = ?")
            .bind(key)
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?
            .map(|r| dedup_from(&r).map(|(_, h)| h))
            .transpose()
    }

    async fn insert_token(
        &self,
        name: &str,
        role: &str,
        token_sha256: &[u8; 32],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO tokens (name, role, token_sha256, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(name)
        .bind(role)
        .bind(token_sha256.as_slice())
        .bind(chrono::Utc::now().to_rfc3339())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn token(&self, token_sha256: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT name, role FROM tokens WHERE token_sha256 = ?")
            .bind(token_sha256.as_slice())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.map(|r| {
            Ok(TokenRecord {
                name: r.try_get("name").map_err(db_err)?,
                role: r.try_get("role").map_err(db_err)?,
            })
        })
        .transpose()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
