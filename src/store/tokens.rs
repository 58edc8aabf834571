//! API tokens in SQL: one query text for SQLite and PostgreSQL (both read `$1`-style
//! placeholders), run on whichever pool the backend passes. It owns the `tokens` table's
//! statements; which pool a read goes to (and so how fresh it is) is the backend's choice.

use super::rows::{self, db_err};
use super::{StoreError, TokenRecord};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};

pub(super) async fn insert<DB>(
    pool: &Pool<DB>,
    name: &str,
    role: &str,
    token_sha256: &[u8; 32],
    expires_at: Option<&str>,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    sqlx::query(
        "INSERT INTO tokens (name, role, token_sha256, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(name)
    .bind(role)
    .bind(token_sha256.as_slice())
    .bind(crate::time::now())
    .bind(expires_at)
    .execute(pool)
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(super) async fn by_hash<DB>(
    pool: &Pool<DB>,
    token_sha256: &[u8; 32],
) -> Result<Option<TokenRecord>, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
{
    sqlx::query(&format!(
        "SELECT {} FROM tokens WHERE token_sha256 = $1",
        rows::TOKEN_COLUMNS
    ))
    .bind(token_sha256.as_slice())
    .fetch_optional(pool)
    .await
    .map_err(db_err)?
    .map(|r| rows::token(&r))
    .transpose()
}

pub(super) async fn all<DB>(pool: &Pool<DB>) -> Result<Vec<TokenRecord>, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'r> String: Decode<'r, DB> + Type<DB>,
    for<'r> Option<String>: Decode<'r, DB> + Type<DB>,
{
    sqlx::query(&format!(
        "SELECT {} FROM tokens ORDER BY id",
        rows::TOKEN_COLUMNS
    ))
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(rows::token)
    .collect()
}

pub(super) async fn revoke<DB>(pool: &Pool<DB>, name: &str, at: &str) -> Result<u64, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
{
    // The revoked rows themselves, counted: the affected-row count is not a common API.
    let revoked = sqlx::query(
        "UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL RETURNING id",
    )
    .bind(at)
    .bind(name)
    .fetch_all(pool)
    .await
    .map_err(db_err)?;
    Ok(revoked.len() as u64)
}

pub(super) async fn touch<DB>(
    pool: &Pool<DB>,
    token_sha256: &[u8; 32],
    at: &str,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c Pool<DB>: Executor<'c, Database = DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
{
    sqlx::query("UPDATE tokens SET last_used_at = $1 WHERE token_sha256 = $2")
        .bind(at)
        .bind(token_sha256.as_slice())
        .execute(pool)
        .await
        .map_err(db_err)?;
    Ok(())
}
