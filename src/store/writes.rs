//! The parts of an append batch's write that both backends share: the rows each table
//! gets, in the order they are inserted, and the statements that are one SQL text on
//! SQLite and PostgreSQL (both read `$1`-style placeholders): documents and the
//! checkpoint. The multi-row inserts stay with each backend, in its own idiom.

use super::rows::db_err;
use super::{
    batch_blobs, to_sql, AppendBatch, EntryThread, StoreError, StoredCheckpoint, StoredEntry,
};
use sqlx::{Database, Encode, Executor, IntoArguments, Type};
use std::future::Future;

/// The entries of a batch with their indexes as SQL integers.
pub(super) fn entry_rows(batch: &AppendBatch) -> Result<Vec<(i64, &StoredEntry)>, StoreError> {
    batch
        .entries
        .iter()
        .map(|e| Ok((to_sql(e.entry.index)?, &e.entry)))
        .collect()
}

/// The subject index rows of a batch, in key order: so the index is filled page by page
/// instead of all over. No conflict check is needed, since an entry's subjects are
/// distinct and its index new.
pub(super) fn subject_rows(batch: &AppendBatch) -> Result<Vec<(&str, i64)>, StoreError> {
    let mut rows = Vec::new();
    for e in &batch.entries {
        let i = to_sql(e.entry.index)?;
        rows.extend(e.subjects.iter().map(|s| (s.as_str(), i)));
    }
    rows.sort_unstable();
    Ok(rows)
}

/// The thread rows of a batch, by entry index.
pub(super) fn thread_rows(batch: &AppendBatch) -> Result<Vec<(i64, &EntryThread)>, StoreError> {
    batch
        .entries
        .iter()
        .map(|e| Ok((to_sql(e.entry.index)?, &e.thread)))
        .collect()
}

/// One idempotency key row: key, entry index and content digest.
pub(super) type DedupRow<'a> = (&'a str, i64, &'a [u8]);

/// The idempotency keys a batch records.
pub(super) fn dedup_rows(batch: &AppendBatch) -> Result<Vec<DedupRow<'_>>, StoreError> {
    let mut rows = Vec::new();
    for e in &batch.entries {
        if let Some(k) = &e.dedup_key {
            rows.push((
                k.as_str(),
                to_sql(e.entry.index)?,
                e.content_sha256.as_slice(),
            ));
        }
    }
    Ok(rows)
}

/// A backend that runs the statements both share; its bounds are stated once, here.
pub(super) trait SharedWrites: Database
where
    for<'q> <Self as Database>::Arguments<'q>: IntoArguments<'q, Self>,
    for<'c> &'c mut <Self as Database>::Connection: Executor<'c, Database = Self>,
    for<'q> &'q str: Encode<'q, Self> + Type<Self>,
    for<'q> &'q [u8]: Encode<'q, Self> + Type<Self>,
    for<'q> i64: Encode<'q, Self> + Type<Self>,
{
    /// Writes the documents a batch introduces. One row at a time: documents are large,
    /// and an existing digest keeps its row.
    fn write_blobs<'a>(
        conn: &'a mut Self::Connection,
        batch: &'a AppendBatch,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        async move {
            for (blob, idx) in batch_blobs(batch) {
                sqlx::query(
                    "INSERT INTO blobs (sha256, media_type, size, idx, data) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (sha256) DO NOTHING",
                )
                .bind(blob.sha256().as_slice())
                .bind(blob.media_type())
                .bind(blob.data().len() as i64)
                .bind(idx)
                .bind(blob.data().as_ref())
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
            }
            Ok(())
        }
    }

    /// Writes a batch's signed checkpoint, the last row of the batch.
    fn write_checkpoint<'a>(
        conn: &'a mut Self::Connection,
        cp: &'a StoredCheckpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send + 'a {
        async move {
            sqlx::query(
                "INSERT INTO checkpoints (tree_size, root_hash, note, created_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(to_sql(cp.tree_size)?)
            .bind(cp.root_hash.0.as_slice())
            .bind(cp.note.as_str())
            .bind(cp.created_at.as_str())
            .execute(conn)
            .await
            .map_err(db_err)?;
            Ok(())
        }
    }
}

impl SharedWrites for sqlx::Sqlite {}
impl SharedWrites for sqlx::Postgres {}
