//! `GET /v1/thread/{node}`: the genealogy graph around one node, upstream (what went
//! into it and acted on it), downstream (what it went into, where it went) or both.
//!
//! Breadth-first, one store query per level, with a visited set (cycles end there), a
//! depth bound and a node bound; the answer says when either cut it short. `both` is the
//! union of the upstream and the downstream graph of the start node, not the undirected
//! closure (which would reach the whole plant through any shared printer).
//!
//! The store's edge index only finds the entries the walk meets; the answer is derived
//! from their leaves by `graph::derive`, the same function that checks an evidence
//! bundle's thread offline.

use super::graph::{self, Corrections, End, LoggedEdge, Query, Walk};
use super::{checkpoint_at, parse_node, CheckpointRef, ThreadError, MAX_DEPTH};
use crate::store::{EdgeEnd, EdgeQuery, EntryQuery, Store, StoreError};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

pub use super::graph::{Direction, Trace};

/// A direction as a request names it.
pub fn parse_direction(s: &str) -> Result<Direction, ThreadError> {
    Direction::from_name(s).ok_or_else(|| {
        ThreadError::BadRequest(format!("direction: {s:?}; use backward, forward or both"))
    })
}

#[derive(Debug, Clone, Copy)]
pub struct TraceOptions {
    pub direction: Direction,
    /// Edges from the start node, 1 to `MAX_DEPTH`.
    pub depth: u32,
    /// Most nodes in the answer, the start included.
    pub max_nodes: usize,
    /// The checkpoint to answer at; the latest when `None`.
    pub tree_size: Option<u64>,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            direction: Direction::Both,
            depth: 10,
            max_nodes: 10_000,
            tree_size: None,
        }
    }
}

fn edge_end(end: End) -> EdgeEnd {
    match end {
        End::From => EdgeEnd::From,
        End::To => EdgeEnd::To,
    }
}

/// The corrections touching some entries (either side), below a tree size.
pub(super) async fn load_corrections(
    store: &dyn Store,
    indexes: &BTreeSet<u64>,
    below: u64,
) -> Result<Corrections, ThreadError> {
    let indexes: Vec<u64> = indexes.iter().copied().collect();
    let found = store.corrections(&indexes, below).await?;
    Ok(Corrections::new(
        found.into_iter().map(|c| (c.by, c.corrected)),
    ))
}

/// Index gaps read through rather than split into another query.
const GAP: u64 = 16;
/// Most entries one read of a run of indexes covers.
const RUN: u64 = 1000;

/// The leaves of some entries, by index: one ordered range read per run of nearby
/// indexes (the entries of one production step sit close together in the log).
async fn read_leaves(
    store: &dyn Store,
    indexes: &BTreeSet<u64>,
) -> Result<BTreeMap<u64, Vec<u8>>, ThreadError> {
    let mut out = BTreeMap::new();
    let mut wanted = indexes.iter().copied().peekable();
    while let Some(first) = wanted.next() {
        let mut last = first;
        while let Some(&next) = wanted.peek() {
            if next - last > GAP || next - first >= RUN {
                break;
            }
            last = next;
            wanted.next();
        }
        let span = u32::try_from(last - first + 1).unwrap_or(u32::MAX);
        for e in store
            .entries(&EntryQuery {
                after: first.checked_sub(1),
                below: Some(last + 1),
                limit: span,
                ..EntryQuery::default()
            })
            .await?
        {
            if indexes.contains(&e.index) {
                out.insert(e.index, e.leaf);
            }
        }
    }
    if let Some(i) = indexes.iter().find(|i| !out.contains_key(i)) {
        return Err(StoreError::Corrupt(format!("entry {i} is missing")).into());
    }
    Ok(out)
}

/// The graph around `node`, computed at one checkpoint.
pub async fn trace(
    store: &dyn Store,
    node: &str,
    opts: &TraceOptions,
) -> Result<Trace, ThreadError> {
    Ok(trace_with_leaves(store, node, opts).await?.0)
}

/// The graph around `node` and the leaves it was derived from, by index.
pub(super) async fn trace_with_leaves(
    store: &dyn Store,
    node: &str,
    opts: &TraceOptions,
) -> Result<(Trace, BTreeMap<u64, Vec<u8>>), ThreadError> {
    parse_node(node)?;
    if opts.depth == 0 || opts.depth > MAX_DEPTH {
        return Err(ThreadError::BadRequest(format!(
            "depth must be between 1 and {MAX_DEPTH}"
        )));
    }
    if opts.max_nodes == 0 {
        return Err(ThreadError::BadRequest(
            "max_nodes must be at least 1".into(),
        ));
    }
    let cp = checkpoint_at(store, opts.tree_size).await?;
    let q = Query {
        node,
        direction: opts.direction,
        depth: opts.depth,
        max_nodes: opts.max_nodes,
        below: cp.tree_size,
    };

    // The entries the walk meets, found through the edge index ...
    let mut walk = Walk::new(&q);
    while let Some(step) = walk.step() {
        let mut query = EdgeQuery::new(step.nodes, edge_end(step.end), q.below);
        if step.probe {
            query.limit = Some(1);
        }
        let found: Vec<LoggedEdge> = store.edges(&query).await?;
        walk.feed(found);
    }
    let walked = walk.finish();
    let mut indexes = walked.met.clone();
    // ... with those correcting them or corrected by them ...
    for c in store
        .corrections(&Vec::from_iter(walked.met), q.below)
        .await?
    {
        indexes.insert(c.by);
        indexes.insert(c.corrected);
    }
    // ... or, when no edge touches the node, one entry naming it.
    if walked.edges.is_empty() {
        let named = store
            .entries(&EntryQuery {
                subject: Some(node.to_string()),
                below: Some(q.below),
                limit: 1,
                ..EntryQuery::default()
            })
            .await?;
        match named.first() {
            Some(e) => indexes.insert(e.index),
            None => return Err(ThreadError::UnknownNode(node.to_string(), q.below)),
        };
    }

    // The answer: derived from those entries' leaves alone.
    let leaves = read_leaves(store, &indexes).await?;
    let decoded = leaves
        .iter()
        .map(|(i, leaf)| {
            serde_json::from_slice::<Value>(leaf)
                .map(|v| (*i, v))
                .map_err(|e| StoreError::Corrupt(format!("entry {i} is not JSON: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let refs: Vec<(u64, &Value)> = decoded.iter().map(|(i, v)| (*i, v)).collect();
    let g = graph::derive(&refs, &q).map_err(|e| ThreadError::UnknownNode(e.0, e.1))?;
    Ok((Trace::new(&q, CheckpointRef::from(&cp), g), leaves))
}
