//! `GET /v1/thread/{node}`: the genealogy graph around one node, upstream (what went
//! into it and acted on it), downstream (what it went into, where it went) or both.
//!
//! Breadth-first, one store query per level, with a visited set (cycles end there), a
//! depth bound and a node bound; the answer says when either cut it short. `both` is the
//! union of the upstream and the downstream graph of the start node, not the undirected
//! closure (which would reach the whole plant through any shared printer).

use super::{checkpoint_at, format_micros, parse_node, CheckpointRef, ThreadError, MAX_DEPTH};
use crate::entry::{EdgeKind, NodeType};
use crate::store::{EdgeEnd, EdgeQuery, EntryQuery, Store, StoredEdge};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Backward,
    Forward,
    Both,
}

impl Direction {
    pub fn parse(s: &str) -> Result<Self, ThreadError> {
        match s {
            "backward" => Ok(Direction::Backward),
            "forward" => Ok(Direction::Forward),
            "both" => Ok(Direction::Both),
            other => Err(ThreadError::BadRequest(format!(
                "direction: {other:?}; use backward, forward or both"
            ))),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Direction::Backward => "backward",
            Direction::Forward => "forward",
            Direction::Both => "both",
        }
    }
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

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TraceNode {
    pub id: String,
    #[serde(rename = "type")]
    pub node_type: &'static str,
    /// Edges from the start node.
    pub depth: u32,
    /// `start`, `upstream` or `downstream`.
    pub side: &'static str,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TraceEdge {
    pub from: String,
    pub to: String,
    pub kind: &'static str,
    /// The index of the entry that created the edge.
    pub entry: u64,
    /// The event's effective time, UTC.
    pub effective_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Later entries that correct the one that created this edge.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub corrected_by: Vec<u64>,
    /// The entry that the one creating this edge corrects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<u64>,
    /// How many other entries state the same edge (e.g. every print from one spool says
    /// the spool belongs to its lot); `entry` is the first of them no correction touches.
    #[serde(skip_serializing_if = "is_zero")]
    pub also_stated_by: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct CorrectionRef {
    /// The correcting entry.
    pub entry: u64,
    /// The entry it corrects.
    pub corrects: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Trace {
    pub node: String,
    pub direction: &'static str,
    pub depth: u32,
    pub checkpoint: CheckpointRef,
    pub nodes: Vec<TraceNode>,
    pub edges: Vec<TraceEdge>,
    /// Every correction touching an entry that states an edge above, both sides named.
    pub corrections: Vec<CorrectionRef>,
    pub truncated: bool,
    /// Why the graph was cut short: the depth bound, the node bound, or both.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncation: Vec<String>,
}

type EdgeKey = (u64, String, String, EdgeKind);

/// What a walk collected.
#[derive(Default)]
struct Walk {
    nodes: HashMap<String, (u32, &'static str)>,
    edges: BTreeMap<EdgeKey, StoredEdge>,
    truncation: Vec<String>,
}

impl Walk {
    fn note(&mut self, why: String) {
        if !self.truncation.contains(&why) {
            self.truncation.push(why);
        }
    }
}

/// Walks from `start` along `end` for up to `depth` levels.
async fn walk(
    store: &dyn Store,
    start: &str,
    end: EdgeEnd,
    below: u64,
    depth: u32,
    max_nodes: usize,
    w: &mut Walk,
) -> Result<(), ThreadError> {
    let side = match end {
        EdgeEnd::From => "downstream",
        EdgeEnd::To => "upstream",
    };
    let mut frontier = vec![start.to_string()];
    for level in 1..=depth {
        if frontier.is_empty() {
            return Ok(());
        }
        let mut found = store.edges(&EdgeQuery::new(frontier, end, below)).await?;
        found.sort_by(|a, b| (a.index, &a.from, &a.to).cmp(&(b.index, &b.from, &b.to)));
        let mut next = Vec::new();
        for e in found {
            let other = match end {
                EdgeEnd::From => &e.to,
                EdgeEnd::To => &e.from,
            };
            if !w.nodes.contains_key(other) {
                if w.nodes.len() >= max_nodes {
                    w.note(format!("node limit of {max_nodes} reached"));
                    continue;
                }
                w.nodes.insert(other.clone(), (level, side));
                next.push(other.clone());
            }
            w.edges
                .insert((e.index, e.from.clone(), e.to.clone(), e.kind), e);
        }
        frontier = next;
    }
    if !frontier.is_empty() {
        let mut more = EdgeQuery::new(frontier, end, below);
        more.limit = Some(1);
        if !store.edges(&more).await?.is_empty() {
            w.note(format!("depth limit of {depth} reached"));
        }
    }
    Ok(())
}

/// The graph around `node`, computed at one checkpoint.
pub async fn trace(
    store: &dyn Store,
    node: &str,
    opts: &TraceOptions,
) -> Result<Trace, ThreadError> {
    let start_type = parse_node(node)?;
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
    let below = cp.tree_size;
    // Each side has its own visited set: a cycle through the start node shows on both.
    let mut w = Walk::default();
    for (end, wanted) in [
        (EdgeEnd::To, opts.direction != Direction::Forward),
        (EdgeEnd::From, opts.direction != Direction::Backward),
    ] {
        if !wanted {
            continue;
        }
        let mut side = Walk::default();
        side.nodes.insert(node.to_string(), (0, "start"));
        walk(
            store,
            node,
            end,
            below,
            opts.depth,
            opts.max_nodes,
            &mut side,
        )
        .await?;
        for (id, at) in side.nodes {
            w.nodes.entry(id).or_insert(at);
        }
        w.edges.extend(side.edges);
        for why in side.truncation {
            w.note(why);
        }
    }
    w.nodes.insert(node.to_string(), (0, "start"));
    if w.edges.is_empty() {
        let named = store
            .entries(&EntryQuery {
                subject: Some(node.to_string()),
                below: Some(below),
                limit: 1,
                ..EntryQuery::default()
            })
            .await?;
        if named.is_empty() {
            return Err(ThreadError::UnknownNode(node.to_string(), below));
        }
    }
    let stored: Vec<StoredEdge> = w.edges.into_values().collect();
    let c = Corrections::load(store, &stored, below).await?;
    let (edges, corrections) = c.collapse(&stored);
    let mut nodes: Vec<TraceNode> = w
        .nodes
        .into_iter()
        .map(|(id, (depth, side))| TraceNode {
            node_type: NodeType::of(&id).unwrap_or(start_type).as_str(),
            id,
            depth,
            side,
        })
        .collect();
    nodes.sort_by(|a, b| (a.depth, &a.id).cmp(&(b.depth, &b.id)));
    Ok(Trace {
        node: node.to_string(),
        direction: opts.direction.as_str(),
        depth: opts.depth,
        checkpoint: CheckpointRef::from(&cp),
        nodes,
        edges,
        corrections,
        truncated: !w.truncation.is_empty(),
        truncation: w.truncation,
    })
}

/// The corrections touching a set of edges, to annotate them.
#[derive(Default)]
pub(super) struct Corrections {
    corrected_by: HashMap<u64, Vec<u64>>,
    corrects: HashMap<u64, u64>,
    pub(super) all: Vec<CorrectionRef>,
}

impl Corrections {
    pub(super) async fn load(
        store: &dyn Store,
        edges: &[StoredEdge],
        below: u64,
    ) -> Result<Self, ThreadError> {
        let mut indexes: Vec<u64> = edges.iter().map(|e| e.index).collect();
        indexes.sort_unstable();
        indexes.dedup();
        let mut c = Corrections::default();
        for x in store.corrections(&indexes, below).await? {
            c.corrected_by.entry(x.corrected).or_default().push(x.by);
            c.corrects.insert(x.by, x.corrected);
            c.all.push(CorrectionRef {
                entry: x.by,
                corrects: x.corrected,
            });
        }
        Ok(c)
    }

    /// Whether a later entry corrects entry `index`.
    pub(super) fn is_corrected(&self, index: u64) -> bool {
        self.corrected_by.contains_key(&index)
    }

    /// Edges as answered: one per (from, to, kind), stated by the first entry no
    /// correction touches (else the first), with the count of the others; by entry.
    /// And the corrections touching the entries that state them.
    pub(super) fn collapse(&self, edges: &[StoredEdge]) -> (Vec<TraceEdge>, Vec<CorrectionRef>) {
        let mut groups: BTreeMap<(&str, &str, EdgeKind), Vec<&StoredEdge>> = BTreeMap::new();
        for e in edges {
            groups
                .entry((e.from.as_str(), e.to.as_str(), e.kind))
                .or_default()
                .push(e);
        }
        let mut out: Vec<TraceEdge> = groups
            .into_values()
            .map(|mut g| {
                g.sort_by_key(|e| {
                    (
                        self.is_corrected(e.index),
                        self.corrects.contains_key(&e.index),
                        e.index,
                    )
                });
                let mut edge = self.edge(g[0]);
                edge.also_stated_by = g.len() - 1;
                edge
            })
            .collect();
        out.sort_by(|a, b| {
            (a.entry, &a.from, &a.to, a.kind).cmp(&(b.entry, &b.from, &b.to, b.kind))
        });
        let shown: HashSet<u64> = out.iter().map(|e| e.entry).collect();
        let corrections = self
            .all
            .iter()
            .filter(|c| shown.contains(&c.entry) || shown.contains(&c.corrects))
            .copied()
            .collect();
        (out, corrections)
    }

    /// An edge as answered, with the corrections of the entry that created it.
    pub(super) fn edge(&self, e: &StoredEdge) -> TraceEdge {
        TraceEdge {
            corrected_by: self.corrected_by.get(&e.index).cloned().unwrap_or_default(),
            corrects: self.corrects.get(&e.index).copied(),
            from: e.from.clone(),
            to: e.to.clone(),
            kind: e.kind.as_str(),
            entry: e.index,
            effective_time: format_micros(e.at),
            label: e.label.clone(),
            also_stated_by: 0,
        }
    }
}
