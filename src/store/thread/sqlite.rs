//! Thread rows on SQLite: nodes interned chunk by chunk, edges and corrections in
//! multi-row INSERTs in key order.

use super::*;
use crate::store::rows::db_err;
use crate::store::sqlite::insert_chunked;
use sqlx::{Sqlite, SqliteConnection};
use std::collections::{HashMap, HashSet};

/// Six bound parameters per edge row: 3,000 per statement.
const EDGE_CHUNK: usize = 500;

/// Writes the thread rows of some entries in the open transaction.
pub(in crate::store) async fn write(
    conn: &mut SqliteConnection,
    rows: &[(i64, &EntryThread)],
) -> Result<(), StoreError> {
    let ids = intern(conn, &node_names(rows)).await?;
    let edges = batch::edge_rows(rows, |n| ids.get(n).copied())?;
    insert_chunked(
        conn,
        "INSERT INTO edges (src, idx, dst, kind, at, label) ",
        &edges,
        EDGE_CHUNK,
        "",
        |mut b, e| {
            b.push_bind(e.0)
                .push_bind(e.1)
                .push_bind(e.2)
                .push_bind(e.3)
                .push_bind(e.4)
                .push_bind(e.5);
        },
    )
    .await?;
    insert_chunked(
        conn,
        "INSERT INTO corrections (corrected, idx) ",
        &batch::correction_rows(rows)?,
        EDGE_CHUNK,
        "",
        |mut b, (c, i)| {
            b.push_bind(*c).push_bind(*i);
        },
    )
    .await
}

/// The ids of some node names, chunk by chunk: the known ones looked up, the others
/// inserted.
async fn intern<'n>(
    conn: &mut SqliteConnection,
    names: &[&'n str],
) -> Result<HashMap<&'n str, i64>, StoreError> {
    let mut ids = HashMap::with_capacity(names.len());
    for chunk in names.chunks(NODE_CHUNK) {
        let known = known_nodes(conn, chunk).await?;
        let missing: Vec<&str> = chunk
            .iter()
            .copied()
            .filter(|n| !known.contains_key(*n))
            .collect();
        for n in chunk {
            if let Some(id) = known.get(*n) {
                ids.insert(*n, *id);
            }
        }
        if !missing.is_empty() {
            add_nodes(conn, &missing, &mut ids).await?;
        }
    }
    Ok(ids)
}

/// The ids of those of `names` already in `nodes`.
async fn known_nodes(
    conn: &mut SqliteConnection,
    names: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut q = QueryBuilder::<Sqlite>::new("SELECT id, name FROM nodes WHERE name IN (");
    let mut sep = q.separated(", ");
    for n in names {
        sep.push_bind(*n);
    }
    q.push(")");
    let mut known = HashMap::new();
    for row in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
        let name: String = row.col("name")?;
        known.insert(name, row.col::<i64>("id")?);
    }
    Ok(known)
}

/// Inserts nodes not stored yet and records the ids they got in `ids`.
async fn add_nodes<'n>(
    conn: &mut SqliteConnection,
    missing: &[&'n str],
    ids: &mut HashMap<&'n str, i64>,
) -> Result<(), StoreError> {
    let asked: HashSet<&str> = missing.iter().copied().collect();
    let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO nodes (name) ");
    q.push_values(missing, |mut b, n| {
        b.push_bind(*n);
    });
    q.push(" RETURNING id, name");
    for row in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
        let name: String = row.col("name")?;
        let id: i64 = row.col("id")?;
        let n = asked
            .get(name.as_str())
            .ok_or_else(|| StoreError::Corrupt(format!("node {name:?} came back unasked")))?;
        ids.insert(*n, id);
    }
    Ok(())
}

pub(in crate::store) async fn edges(
    pool: &sqlx::SqlitePool,
    q: &EdgeQuery,
) -> Result<Vec<LoggedEdge>, StoreError> {
    let mut out = Vec::new();
    for chunk in q.nodes.chunks(NODE_CHUNK) {
        let mut b = QueryBuilder::<Sqlite>::new("");
        edges_sql(&mut b, q, chunk)?;
        for row in b.build().fetch_all(pool).await.map_err(db_err)? {
            out.push(edge(&row)?);
        }
    }
    if let Some(l) = q.limit {
        out.sort_by_key(|e| e.index);
        out.truncate(l as usize);
    }
    Ok(out)
}

pub(in crate::store) async fn corrections(
    pool: &sqlx::SqlitePool,
    indexes: &[u64],
    below: u64,
) -> Result<Vec<Correction>, StoreError> {
    let mut out = Vec::new();
    for chunk in indexes.chunks(NODE_CHUNK) {
        let mut b = QueryBuilder::<Sqlite>::new("");
        corrections_sql(&mut b, chunk, below)?;
        for row in b.build().fetch_all(pool).await.map_err(db_err)? {
            out.push(correction(&row)?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
