//! Point reads of the log in SQL: one query text for SQLite and PostgreSQL (both read
//! `$1`-style placeholders), run on whichever pool the backend passes. Which pool (and so
//! how fresh the answer is) stays the backend's choice; writes stay with each backend's
//! transaction.

use super::rows::{self, db_err};
use super::{to_sql, DedupHit, StoreError, StoredBlob, StoredEntry};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

pub(super) async fn entry<DB>(
    pool: &Pool<DB>,
    index: u64,
) -> Result<Option<StoredEntry>, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
{
    sqlx::query("SELECT idx, kind, integrated_at, leaf FROM entries WHERE idx = $1")
        .bind(to_sql(index)?)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .map(|r| rows::entry(&r))
        .transpose()
}

pub(super) async fn dedup<DB>(pool: &Pool<DB>, key: &str) -> Result<Option<DedupHit>, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
{
    sqlx::query("SELECT key, idx, content_sha256 FROM dedup WHERE key = $1")
        .bind(key)
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .map(|r| rows::dedup(&r).map(|(_, h)| h))
        .transpose()
}

pub(super) async fn blob<DB>(
    pool: &Pool<DB>,
    sha256: &[u8; 32],
) -> Result<Option<StoredBlob>, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
    for<'r> Vec<u8>: Decode<'r, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
{
    sqlx::query("SELECT media_type, idx, data FROM blobs WHERE sha256 = $1")
        .bind(sha256.as_slice())
        .fetch_optional(pool)
        .await
        .map_err(db_err)?
        .map(|r| rows::blob(&r))
        .transpose()
}
