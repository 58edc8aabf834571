//! Thread rows on PostgreSQL: nodes interned in one statement, edges and corrections
//! as UNNEST arrays (one bind parameter per column, whatever the batch size).

use super::*;
use crate::store::rows::db_err;
use sqlx::{PgConnection, Postgres};
use std::collections::HashMap;

/// Writes the thread rows of some entries in the open transaction (which holds the log
/// lock, so no other server interns a node at the same time).
pub(in crate::store) async fn write(
    conn: &mut PgConnection,
    rows: &[(i64, &EntryThread)],
) -> Result<(), StoreError> {
    let ids = intern(conn, &node_names(rows)).await?;
    let edges = batch::edge_rows(rows, |n| ids.get(n).copied())?;
    insert_edges(conn, edges).await?;
    let (corrected, by): (Vec<i64>, Vec<i64>) = batch::correction_rows(rows)?.into_iter().unzip();
    if !corrected.is_empty() {
        sqlx::query(
            "INSERT INTO corrections (corrected, idx) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[])",
        )
        .bind(&corrected)
        .bind(&by)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
    }
    Ok(())
}

/// The ids of some node names, the missing ones inserted, in one statement.
async fn intern(
    conn: &mut PgConnection,
    names: &[&str],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut ids = HashMap::with_capacity(names.len());
    if names.is_empty() {
        return Ok(ids);
    }
    // The CTE's SELECT does not see the rows its INSERT adds (one snapshot), so
    // the two halves of the UNION are disjoint: new nodes and known ones.
    let found = sqlx::query(
        "WITH wanted AS (SELECT n FROM UNNEST($1::text[]) AS w(n)), \
         added AS ( \
            INSERT INTO nodes (name) \
            SELECT n FROM wanted WHERE NOT EXISTS (SELECT 1 FROM nodes WHERE name = n) \
            RETURNING id, name) \
         SELECT id, name FROM added \
         UNION ALL SELECT nodes.id, nodes.name FROM nodes JOIN wanted ON nodes.name = wanted.n",
    )
    .bind(names)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    for row in found {
        ids.insert(row.col("name")?, row.col("id")?);
    }
    Ok(ids)
}

/// Edge rows as one UNNEST statement: one array per column.
async fn insert_edges(
    conn: &mut PgConnection,
    edges: Vec<batch::EdgeRow<'_>>,
) -> Result<(), StoreError> {
    if edges.is_empty() {
        return Ok(());
    }
    let n = edges.len();
    let (mut src, mut idx, mut dst, mut kind, mut at, mut label) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for e in edges {
        src.push(e.0);
        idx.push(e.1);
        dst.push(e.2);
        kind.push(e.3);
        at.push(e.4);
        label.push(e.5);
    }
    sqlx::query(
        "INSERT INTO edges (src, idx, dst, kind, at, label) \
         SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], \
                              $5::bigint[], $6::text[])",
    )
    .bind(&src)
    .bind(&idx)
    .bind(&dst)
    .bind(&kind)
    .bind(&at)
    .bind(&label)
    .execute(conn)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// One statement whatever the number of nodes (the arrays are one parameter each),
/// written so that PostgreSQL looks each node up by index. Left to itself, the planner
/// estimates the edges of a node from the whole table, where a few nodes (a station, a
/// printer) have tens of thousands, and then prefers scanning every edge to join a few
/// hundred serials; the `OFFSET 0` fences keep each lateral lookup an index probe.
pub(in crate::store) async fn edges(
    pool: &sqlx::PgPool,
    q: &EdgeQuery,
) -> Result<Vec<LoggedEdge>, StoreError> {
    let (near, far, columns) = match q.end {
        EdgeEnd::From => ("e.src", "e.dst", "w.name AS src, x.name AS dst"),
        EdgeEnd::To => ("e.dst", "e.src", "x.name AS src, w.name AS dst"),
    };
    let mut b = QueryBuilder::<Postgres>::new("SELECT ");
    b.push(columns);
    b.push(", x.kind, x.idx, x.at, x.label FROM UNNEST(");
    b.push_bind(q.nodes.clone());
    b.push(
        "::text[]) AS w(name) \
         CROSS JOIN LATERAL (SELECT id FROM nodes WHERE nodes.name = w.name OFFSET 0) n \
         CROSS JOIN LATERAL (SELECT (SELECT o.name FROM nodes o WHERE o.id = ",
    );
    b.push(far);
    b.push(") AS name, e.kind, e.idx, e.at, e.label FROM edges e WHERE ");
    b.push(near);
    b.push(" = n.id AND e.idx < ").push_bind(to_sql(q.below)?);
    if !q.kinds.is_empty() {
        let kinds: Vec<String> = q.kinds.iter().map(|k| k.as_str().to_string()).collect();
        b.push(" AND e.kind = ANY(").push_bind(kinds).push(")");
    }
    if let Some(t) = q.at_from {
        b.push(" AND e.at >= ").push_bind(t);
    }
    if let Some(t) = q.at_until {
        b.push(" AND e.at < ").push_bind(t);
    }
    b.push(" OFFSET 0) x");
    if let Some(l) = q.limit {
        b.push(" ORDER BY x.idx LIMIT ").push_bind(i64::from(l));
    }
    b.build()
        .fetch_all(pool)
        .await
        .map_err(db_err)?
        .iter()
        .map(edge)
        .collect()
}

pub(in crate::store) async fn corrections(
    pool: &sqlx::PgPool,
    indexes: &[u64],
    below: u64,
) -> Result<Vec<Correction>, StoreError> {
    let indexes = indexes
        .iter()
        .map(|i| to_sql(*i))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = sqlx::query(
        "SELECT corrected, idx FROM corrections WHERE corrected = ANY($1) AND idx < $2 \
         UNION SELECT corrected, idx FROM corrections WHERE idx = ANY($1) AND idx < $2",
    )
    .bind(&indexes)
    .bind(to_sql(below)?)
    .fetch_all(pool)
    .await
    .map_err(db_err)?
    .iter()
    .map(correction)
    .collect::<Result<Vec<_>, _>>()?;
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
