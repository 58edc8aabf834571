//! Row decoding and error mapping shared by the SQL backends: both keep the same
//! columns, so a stored checkpoint, entry or idempotency key reads the same way from
//! either. No SQL text here.

use super::{
    from_sql, DedupHit, StoreError, StoredBlob, StoredCheckpoint, StoredEntry, TokenRecord,
};
use crate::merkle::Hash;
use sqlx::{ColumnIndex, Decode, Row, Type};

pub(super) fn db_err(e: sqlx::Error) -> StoreError {
    match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_) => StoreError::Corrupt(e.to_string()),
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(d.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

/// A row of either backend carrying our column types.
pub(super) trait LogRow: Row
where
    for<'r> &'r str: ColumnIndex<Self>,
{
    fn col<'r, T>(&'r self, col: &'r str) -> Result<T, StoreError>
    where
        T: Decode<'r, Self::Database> + Type<Self::Database>,
    {
        self.try_get(col).map_err(db_err)
    }
}

impl<R: Row> LogRow for R where for<'r> &'r str: ColumnIndex<R> {}

fn bytes32(v: Vec<u8>, what: &str) -> Result<[u8; 32], StoreError> {
    v.try_into()
        .map_err(|_| StoreError::Corrupt(format!("stored {what} is not 32 bytes")))
}

pub(super) fn checkpoint<R: LogRow>(row: &R) -> Result<StoredCheckpoint, StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredCheckpoint {
        tree_size: from_sql(row.col("tree_size")?)?,
        root_hash: Hash(bytes32(row.col("root_hash")?, "root hash")?),
        note: row.col("note")?,
        created_at: row.col("created_at")?,
    })
}

pub(super) fn entry<R: LogRow>(row: &R) -> Result<StoredEntry, StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredEntry {
        index: from_sql(row.col("idx")?)?,
        kind: row.col("kind")?,
        integrated_at: row.col("integrated_at")?,
        leaf: row.col("leaf")?,
    })
}

pub(super) fn dedup<R: LogRow>(row: &R) -> Result<(String, DedupHit), StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok((
        row.col("key")?,
        DedupHit {
            index: from_sql(row.col("idx")?)?,
            content_sha256: bytes32(row.col("content_sha256")?, "dedup digest")?,
        },
    ))
}

pub(super) fn blob<R: LogRow>(row: &R) -> Result<StoredBlob, StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StoredBlob {
        media_type: row.col("media_type")?,
        index: from_sql(row.col("idx")?)?,
        data: row.col("data")?,
    })
}

/// The token columns `token` decodes, in the SELECT lists of both backends.
pub(super) const TOKEN_COLUMNS: &str =
    "name, role, created_at, expires_at, revoked_at, last_used_at";

pub(super) fn token<R: LogRow>(row: &R) -> Result<TokenRecord, StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(TokenRecord {
        name: row.col("name")?,
        role: row.col("role")?,
        created_at: row.col("created_at")?,
        expires_at: row.col("expires_at")?,
        revoked_at: row.col("revoked_at")?,
        last_used_at: row.col("last_used_at")?,
    })
}
