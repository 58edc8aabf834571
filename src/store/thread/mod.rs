//! The thread's rows in the store: interned nodes, edges indexed from both ends, the
//! corrections between entries, and the back-fill state of a log older than them.
//! Each backend writes and reads in its own idiom: multi-row INSERTs and IN lists on
//! SQLite (with the shared SQL here), UNNEST and ANY arrays on PostgreSQL; the back-fill
//! state is one SQL text for both.

mod batch;
pub(super) mod postgres;
pub(super) mod sqlite;

use super::rows::{db_err, LogRow};
use super::{from_sql, to_sql, StoreError};
use crate::entry::{Edge, EdgeKind};
use crate::thread::graph::LoggedEdge;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Type};

/// What one entry adds to the thread: its edges and the entry it corrects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryThread {
    pub edges: Vec<Edge>,
    pub corrects: Option<u64>,
}

/// Which end of an edge the queried nodes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EdgeEnd {
    /// Edges leaving the nodes (a forward, downstream step).
    From,
    /// Edges arriving at the nodes (a backward, upstream step).
    To,
}

/// Edges at some nodes, created by entries below a tree size. Filters combine with AND.
#[derive(Debug, Clone)]
pub struct EdgeQuery {
    pub nodes: Vec<String>,
    pub end: EdgeEnd,
    /// Only edges created by entries with an index below this (a checkpoint's tree size).
    pub below: u64,
    /// Only these kinds; empty for all.
    pub kinds: Vec<EdgeKind>,
    /// Only edges whose event happened at or after this (microseconds since the epoch).
    pub at_from: Option<i64>,
    /// Only edges whose event happened before this.
    pub at_until: Option<i64>,
    /// At most this many edges (lowest entry index first); `None` for all.
    pub limit: Option<u32>,
}

impl EdgeQuery {
    pub fn new(nodes: Vec<String>, end: EdgeEnd, below: u64) -> Self {
        EdgeQuery {
            nodes,
            end,
            below,
            kinds: Vec::new(),
            at_from: None,
            at_until: None,
            limit: None,
        }
    }
}

/// `corrected` was corrected by entry `by`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Correction {
    pub corrected: u64,
    pub by: u64,
}

/// Entries `[next, end)` were logged before the thread existed and have no rows yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    pub next: u64,
    pub end: u64,
}

impl Backlog {
    pub fn done(&self) -> bool {
        self.next >= self.end
    }
}

/// Nodes per statement on SQLite: far below its bound-parameter limit.
pub(super) const NODE_CHUNK: usize = 500;

/// The edges at the nodes `q` names: the queried end is `q` itself, so only the other
/// end's name is looked up.
pub(super) fn select_edges(end: EdgeEnd) -> &'static str {
    match end {
        EdgeEnd::From => {
            "SELECT q.name AS src, o.name AS dst, e.kind, e.idx, e.at, e.label \
             FROM nodes q JOIN edges e ON e.src = q.id JOIN nodes o ON o.id = e.dst"
        }
        EdgeEnd::To => {
            "SELECT o.name AS src, q.name AS dst, e.kind, e.idx, e.at, e.label \
             FROM nodes q JOIN edges e ON e.dst = q.id JOIN nodes o ON o.id = e.src"
        }
    }
}

/// One chunk of an edge query on SQLite.
pub(super) fn edges_sql<'a, DB>(
    b: &mut QueryBuilder<'a, DB>,
    q: &EdgeQuery,
    nodes: &[String],
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + Type<DB>,
    i64: sqlx::Encode<'a, DB> + Type<DB>,
{
    b.push(select_edges(q.end));
    b.push(" WHERE q.name IN (");
    let mut sep = b.separated(", ");
    for n in nodes {
        sep.push_bind(n.clone());
    }
    b.push(") AND e.idx < ").push_bind(to_sql(q.below)?);
    if !q.kinds.is_empty() {
        b.push(" AND e.kind IN (");
        let mut sep = b.separated(", ");
        for k in &q.kinds {
            sep.push_bind(k.as_str().to_string());
        }
        b.push(")");
    }
    if let Some(t) = q.at_from {
        b.push(" AND e.at >= ").push_bind(t);
    }
    if let Some(t) = q.at_until {
        b.push(" AND e.at < ").push_bind(t);
    }
    if let Some(l) = q.limit {
        b.push(" ORDER BY e.idx LIMIT ").push_bind(i64::from(l));
    }
    Ok(())
}

pub(super) fn edge<R: LogRow>(row: &R) -> Result<LoggedEdge, StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
{
    let kind: String = row.col("kind")?;
    Ok(LoggedEdge {
        from: row.col("src")?,
        to: row.col("dst")?,
        kind: EdgeKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown edge kind {kind:?} in store")))?,
        index: from_sql(row.col("idx")?)?,
        at: row.col("at")?,
        label: row.col("label")?,
    })
}

/// The corrections touching `indexes` (either side) below a tree size, on SQLite. A
/// correction always comes after what it corrects, so bounding the correcting entry
/// bounds both.
pub(super) fn corrections_sql<'a, DB>(
    b: &mut QueryBuilder<'a, DB>,
    indexes: &[u64],
    below: u64,
) -> Result<(), StoreError>
where
    DB: sqlx::Database,
    i64: sqlx::Encode<'a, DB> + Type<DB>,
{
    for (n, column) in ["corrected", "idx"].into_iter().enumerate() {
        if n > 0 {
            b.push(" UNION ");
        }
        b.push("SELECT corrected, idx FROM corrections WHERE ");
        b.push(column);
        b.push(" IN (");
        let mut sep = b.separated(", ");
        for i in indexes {
            sep.push_bind(to_sql(*i)?);
        }
        b.push(") AND idx < ").push_bind(to_sql(below)?);
    }
    Ok(())
}

pub(super) fn correction<R: LogRow>(row: &R) -> Result<Correction, StoreError>
where
    for<'r> &'r str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(Correction {
        corrected: from_sql(row.col("corrected")?)?,
        by: from_sql(row.col("idx")?)?,
    })
}

/// The distinct node names of some entries' edges, sorted.
pub(super) fn node_names<'a>(rows: &[(i64, &'a EntryThread)]) -> Vec<&'a str> {
    let mut names: Vec<&str> = rows
        .iter()
        .flat_map(|(_, t)| t.edges.iter())
        .flat_map(|e| [e.from.as_str(), e.to.as_str()])
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Where the back-fill of a log older than the thread rows stands (one SQL text for both
/// backends).
pub(super) async fn backlog<DB>(conn: &mut DB::Connection) -> Result<Backlog, StoreError>
where
    DB: Database,
    for<'r> &'r str: ColumnIndex<DB::Row>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'r> i64: Decode<'r, DB> + Type<DB>,
{
    let row = sqlx::query("SELECT next_idx, end_idx FROM thread_backfill WHERE id = 1")
        .fetch_optional(conn)
        .await
        .map_err(db_err)?;
    match row {
        Some(r) => Ok(Backlog {
            next: from_sql(r.col("next_idx")?)?,
            end: from_sql(r.col("end_idx")?)?,
        }),
        None => Ok(Backlog::default()),
    }
}

/// Moves the back-fill from `from` to `to`; `Conflict` if another writer moved it.
pub(super) async fn advance<DB>(
    conn: &mut DB::Connection,
    from: u64,
    to: u64,
) -> Result<(), StoreError>
where
    DB: Database,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
{
    let moved = sqlx::query(
        "UPDATE thread_backfill SET next_idx = $1 WHERE id = 1 AND next_idx = $2 RETURNING id",
    )
    .bind(to_sql(to)?)
    .bind(to_sql(from)?)
    .fetch_all(conn)
    .await
    .map_err(db_err)?;
    if moved.len() != 1 {
        return Err(StoreError::Conflict(format!(
            "the thread back-fill is no longer at entry {from}"
        )));
    }
    Ok(())
}
