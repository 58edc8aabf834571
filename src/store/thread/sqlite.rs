//! Thread rows on SQLite: nodes interned chunk by chunk, edges and corrections in
//! multi-row INSERTs in key order.

use super::*;
use crate::store::rows::db_err;
use sqlx::{Sqlite, SqliteConnection};
use std::collections::HashMap;

/// Six bound parameters per edge row: 3,000 per statement.
const EDGE_CHUNK: usize = 500;

/// Writes the thread rows of some entries in the open transaction.
pub(in crate::store) async fn write(
    conn: &mut SqliteConnection,
    rows: &[(i64, &EntryThread)],
) -> Result<(), StoreError> {
    let names = node_names(rows);
    let mut ids: HashMap<&str, i64> = HashMap::with_capacity(names.len());
    for chunk in names.chunks(NODE_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("SELECT id, name FROM nodes WHERE name IN (");
        let mut sep = q.separated(", ");
        for n in chunk {
            sep.push_bind(*n);
        }
        q.push(")");
        let mut known = HashMap::new();
        for row in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
            let name: String = row.col("name")?;
            known.insert(name, row.col::<i64>("id")?);
        }
        let missing: Vec<&str> = chunk
            .iter()
            .copied()
            .filter(|n| !known.contains_key(*n))
            .collect();
        for n in chunk {
            if let Some(id) = known.get(*n) {
                ids.insert(n, *id);
            }
        }
        if missing.is_empty() {
            continue;
        }
        let asked: std::collections::HashSet<&str> = missing.iter().copied().collect();
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO nodes (name) ");
        q.push_values(&missing, |mut b, n| {
            b.push_bind(*n);
        });
        q.push(" RETURNING id, name");
        for row in q.build().fetch_all(&mut *conn).await.map_err(db_err)? {
            let name: String = row.col("name")?;
            let id: i64 = row.col("id")?;
            let n = asked
                .get(name.as_str())
                .ok_or_else(|| StoreError::Corrupt(format!("node {name:?} came back unasked")))?;
            ids.insert(n, id);
        }
    }
    let id = |n: &str| {
        ids.get(n)
            .copied()
            .ok_or_else(|| StoreError::Corrupt(format!("node {n:?} was not interned")))
    };
    let mut edges = Vec::new();
    for (idx, t) in rows {
        for e in &t.edges {
            edges.push((
                id(&e.from)?,
                *idx,
                id(&e.to)?,
                e.kind.as_str(),
                e.at,
                e.label.as_deref(),
            ));
        }
    }
    // In key order the primary key fills page by page.
    edges.sort_unstable_by_key(|e| (e.0, e.1, e.2, e.3));
    for chunk in edges.chunks(EDGE_CHUNK) {
        let mut q =
            QueryBuilder::<Sqlite>::new("INSERT INTO edges (src, idx, dst, kind, at, label) ");
        q.push_values(chunk, |mut b, e| {
            b.push_bind(e.0)
                .push_bind(e.1)
                .push_bind(e.2)
                .push_bind(e.3)
                .push_bind(e.4)
                .push_bind(e.5);
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
    }
    let corrections: Vec<(i64, i64)> = rows
        .iter()
        .filter_map(|(idx, t)| t.corrects.map(|c| to_sql(c).map(|c| (c, *idx))))
        .collect::<Result<_, _>>()?;
    for chunk in corrections.chunks(EDGE_CHUNK) {
        let mut q = QueryBuilder::<Sqlite>::new("INSERT INTO corrections (corrected, idx) ");
        q.push_values(chunk, |mut b, (c, i)| {
            b.push_bind(*c).push_bind(*i);
        });
        q.build().execute(&mut *conn).await.map_err(db_err)?;
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
