//! The thread answer as a pure function of logged entries: the walk from a start node,
//! the edges collapsed per (from, to, kind), the corrections that touch them, and why
//! the walk was cut short.
//!
//! Owns the one derivation of `GET /v1/thread/{node}`. The server gathers the entries a
//! walk meets from the store's edge index and hands their leaves to [`derive`]; the
//! bundle verifier hands it the proved leaves of a bundle. Both get the same answer from
//! the same entries, so a bundle's `thread` is checked by deriving it again.
//!
//! Pure: decoded leaves in, an answer out; no store, no clock, no I/O. It uses only the
//! edge rules of `entry::edges` (`tests/integration/architecture.rs` keeps it that way). The walk
//! itself is [`Walk`], a step machine: whoever drives it answers each [`Step`] with the
//! edges found, from the store or from memory.

use crate::entry::edges::{event_thread, EdgeKind, NodeType};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Deepest trace or recall, in edges from the start.
pub const MAX_DEPTH: u32 = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Backward,
    Forward,
    Both,
}

impl Direction {
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "backward" => Some(Direction::Backward),
            "forward" => Some(Direction::Forward),
            "both" => Some(Direction::Both),
            _ => None,
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

/// Which end of an edge the walked nodes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Edges leaving the nodes (a downstream step).
    From,
    /// Edges arriving at the nodes (an upstream step).
    To,
}

/// The question a thread answer answers.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub node: &'a str,
    pub direction: Direction,
    /// Edges from the start node, 1 to `MAX_DEPTH`.
    pub depth: u32,
    /// Most nodes in the answer, the start included.
    pub max_nodes: usize,
    /// Only entries with an index below this (the checkpoint's tree size) count.
    pub below: u64,
}

/// An edge with the index of the entry that states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEdge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    pub index: u64,
    /// The event's effective time, microseconds since the epoch.
    pub at: i64,
    pub label: Option<String>,
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

/// The checkpoint an answer is computed at, as the answer carries it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CheckpointRef {
    pub tree_size: u64,
    /// Base64 root hash.
    pub root_hash: String,
    /// The signed checkpoint note, to check the answer's tree size and root offline.
    pub note: String,
}

/// The graph part of a thread answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Graph {
    pub nodes: Vec<TraceNode>,
    pub edges: Vec<TraceEdge>,
    /// Every correction touching an entry that states an edge above, both sides named.
    pub corrections: Vec<CorrectionRef>,
    /// Why the graph was cut short: the depth bound, the node bound, or both.
    pub truncation: Vec<String>,
}

/// The answer of `GET /v1/thread/{node}`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Trace {
    pub node: String,
    pub direction: &'static str,
    pub depth: u32,
    pub max_nodes: usize,
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

impl Trace {
    pub fn new(q: &Query<'_>, checkpoint: CheckpointRef, g: Graph) -> Self {
        Trace {
            node: q.node.to_string(),
            direction: q.direction.as_str(),
            depth: q.depth,
            max_nodes: q.max_nodes,
            checkpoint,
            nodes: g.nodes,
            edges: g.edges,
            corrections: g.corrections,
            truncated: !g.truncation.is_empty(),
            truncation: g.truncation,
        }
    }
}

/// The start node appears in no entry below the tree size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0} appears in no entry below tree size {1}")]
pub struct UnknownNode(pub String, pub u64);

/// One lookup the walk needs: every edge at `nodes` from `end`, stated by an entry below
/// the tree size; for a `probe`, only whether there is any (one is enough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub nodes: Vec<String>,
    pub end: End,
    pub probe: bool,
}

type EdgeKey = (u64, String, String, EdgeKind);

/// One side of a walk: breadth-first along one end, with its own visited set (a cycle
/// through the start node shows on both sides).
struct Side {
    end: End,
    /// The level the frontier is at; past the depth bound it is only probed.
    level: u32,
    frontier: Vec<String>,
    nodes: HashMap<String, (u32, &'static str)>,
}

/// A breadth-first walk from a start node, one [`Step`] per level and one probe past
/// the depth bound, with a node bound. Upstream first, then downstream.
pub struct Walk {
    start: String,
    depth: u32,
    max_nodes: usize,
    pending: Vec<End>,
    side: Option<Side>,
    nodes: HashMap<String, (u32, &'static str)>,
    edges: BTreeMap<EdgeKey, LoggedEdge>,
    truncation: Vec<String>,
    met: BTreeSet<u64>,
}

/// What a walk collected.
pub struct Walked {
    pub nodes: HashMap<String, (u32, &'static str)>,
    /// The edges kept, by (entry, from, to, kind).
    pub edges: Vec<LoggedEdge>,
    pub truncation: Vec<String>,
    /// Every entry stating an edge any step found, kept or not: what the answer is
    /// derived from.
    pub met: BTreeSet<u64>,
}

impl Walk {
    pub fn new(q: &Query<'_>) -> Self {
        let mut pending = Vec::new();
        // Popped from the back: upstream first.
        if q.direction != Direction::Backward {
            pending.push(End::From);
        }
        if q.direction != Direction::Forward {
            pending.push(End::To);
        }
        let mut w = Walk {
            start: q.node.to_string(),
            depth: q.depth,
            max_nodes: q.max_nodes,
            pending,
            side: None,
            nodes: HashMap::new(),
            edges: BTreeMap::new(),
            truncation: Vec::new(),
            met: BTreeSet::new(),
        };
        w.next_side();
        w
    }

    fn note(&mut self, why: String) {
        if !self.truncation.contains(&why) {
            self.truncation.push(why);
        }
    }

    /// Ends the current side, if any, and starts the next.
    fn next_side(&mut self) {
        if let Some(s) = self.side.take() {
            for (id, at) in s.nodes {
                self.nodes.entry(id).or_insert(at);
            }
        }
        if let Some(end) = self.pending.pop() {
            let mut nodes = HashMap::new();
            nodes.insert(self.start.clone(), (0, "start"));
            self.side = Some(Side {
                end,
                level: 1,
                frontier: vec![self.start.clone()],
                nodes,
            });
        }
    }

    /// The next lookup, or `None` when the walk is done.
    pub fn step(&self) -> Option<Step> {
        self.side.as_ref().map(|s| Step {
            nodes: s.frontier.clone(),
            end: s.end,
            probe: s.level > self.depth,
        })
    }

    /// The edges found for the last step.
    pub fn feed(&mut self, mut found: Vec<LoggedEdge>) {
        let Some(mut s) = self.side.take() else {
            return;
        };
        self.met.extend(found.iter().map(|e| e.index));
        if s.level > self.depth {
            if !found.is_empty() {
                self.note(format!("depth limit of {} reached", self.depth));
            }
            self.side = Some(s);
            self.next_side();
            return;
        }
        let side = match s.end {
            End::From => "downstream",
            End::To => "upstream",
        };
        found.sort_by(|a, b| (a.index, &a.from, &a.to).cmp(&(b.index, &b.from, &b.to)));
        let mut next = Vec::new();
        for e in found {
            let other = match s.end {
                End::From => &e.to,
                End::To => &e.from,
            };
            if !s.nodes.contains_key(other) {
                if s.nodes.len() >= self.max_nodes {
                    self.note(format!("node limit of {} reached", self.max_nodes));
                    continue;
                }
                s.nodes.insert(other.clone(), (s.level, side));
                next.push(other.clone());
            }
            self.edges
                .insert((e.index, e.from.clone(), e.to.clone(), e.kind), e);
        }
        s.frontier = next;
        s.level += 1;
        let done = s.frontier.is_empty();
        self.side = Some(s);
        if done {
            self.next_side();
        }
    }

    pub fn finish(mut self) -> Walked {
        while self.side.is_some() {
            self.next_side();
        }
        self.nodes.insert(self.start.clone(), (0, "start"));
        Walked {
            nodes: self.nodes,
            edges: self.edges.into_values().collect(),
            truncation: self.truncation,
            met: self.met,
        }
    }
}

/// The corrections touching a set of edges, to annotate them.
#[derive(Default)]
pub struct Corrections {
    corrected_by: HashMap<u64, Vec<u64>>,
    corrects: HashMap<u64, u64>,
    all: Vec<CorrectionRef>,
}

impl Corrections {
    /// From (correcting entry, corrected entry) pairs, in any order.
    pub fn new(pairs: impl IntoIterator<Item = (u64, u64)>) -> Self {
        let mut pairs: Vec<(u64, u64)> = pairs.into_iter().map(|(b, c)| (c, b)).collect();
        pairs.sort_unstable();
        pairs.dedup();
        let mut c = Corrections::default();
        for (corrected, by) in pairs {
            c.corrected_by.entry(corrected).or_default().push(by);
            c.corrects.insert(by, corrected);
            c.all.push(CorrectionRef {
                entry: by,
                corrects: corrected,
            });
        }
        c
    }

    /// Whether a later entry corrects entry `index`.
    pub fn is_corrected(&self, index: u64) -> bool {
        self.corrected_by.contains_key(&index)
    }

    /// Edges as answered: one per (from, to, kind), stated by the first entry no
    /// correction touches (else the first), with the count of the others; by entry.
    /// And the corrections touching the entries that state them.
    pub fn collapse(&self, edges: &[LoggedEdge]) -> (Vec<TraceEdge>, Vec<CorrectionRef>) {
        let mut groups: BTreeMap<(&str, &str, EdgeKind), Vec<&LoggedEdge>> = BTreeMap::new();
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
    pub fn edge(&self, e: &LoggedEdge) -> TraceEdge {
        TraceEdge {
            corrected_by: self.corrected_by.get(&e.index).cloned().unwrap_or_default(),
            corrects: self.corrects.get(&e.index).copied(),
            from: e.from.clone(),
            to: e.to.clone(),
            kind: e.kind.as_str(),
            entry: e.index,
            effective_time: crate::time::format_micros(e.at),
            label: e.label.clone(),
            also_stated_by: 0,
        }
    }
}

/// What the entries given to [`derive`] state: their edges, indexed from both ends, and
/// the corrections between them.
struct Stated {
    edges: Vec<LoggedEdge>,
    from: HashMap<String, Vec<usize>>,
    to: HashMap<String, Vec<usize>>,
    /// (correcting entry, corrected entry).
    corrections: Vec<(u64, u64)>,
    /// Whether an entry names the start node among its subjects.
    start_named: bool,
}

impl Stated {
    /// `leaves` are decoded leaves by index; those at or past `q.below` do not count.
    /// The edges are what `entry::edges` derives from each event's body; a correction
    /// points to the earlier entry whose event has the `event_id` it names.
    fn new(leaves: &[(u64, &Value)], q: &Query<'_>) -> Self {
        let mut leaves: Vec<&(u64, &Value)> = leaves.iter().filter(|(i, _)| *i < q.below).collect();
        leaves.sort_by_key(|(i, _)| *i);
        let mut s = Stated {
            edges: Vec::new(),
            from: HashMap::new(),
            to: HashMap::new(),
            corrections: Vec::new(),
            start_named: false,
        };
        let mut events: HashMap<&str, u64> = HashMap::new();
        let mut corrects: Vec<(u64, String)> = Vec::new();
        for &&(index, leaf) in &leaves {
            s.start_named |= leaf["subjects"]
                .as_array()
                .is_some_and(|subjects| subjects.iter().any(|n| n == q.node));
            let body = &leaf["body"];
            if leaf["kind"] != "event" || !body.is_object() {
                continue;
            }
            if let Some(id) = body["event_id"].as_str() {
                events.entry(id).or_insert(index);
            }
            let t = event_thread(body);
            if let Some(id) = t.corrects {
                corrects.push((index, id));
            }
            for e in t.edges {
                s.edges.push(LoggedEdge {
                    from: e.from,
                    to: e.to,
                    kind: e.kind,
                    index,
                    at: e.at,
                    label: e.label,
                });
            }
        }
        for (n, e) in s.edges.iter().enumerate() {
            s.from.entry(e.from.clone()).or_default().push(n);
            s.to.entry(e.to.clone()).or_default().push(n);
        }
        s.corrections = corrects
            .into_iter()
            .filter_map(|(by, id)| {
                events
                    .get(id.as_str())
                    .filter(|c| **c < by)
                    .map(|c| (by, *c))
            })
            .collect();
        s
    }

    fn answer(&self, step: &Step) -> Vec<LoggedEdge> {
        let index = match step.end {
            End::From => &self.from,
            End::To => &self.to,
        };
        let mut found: Vec<LoggedEdge> = step
            .nodes
            .iter()
            .filter_map(|n| index.get(n))
            .flatten()
            .map(|&k| self.edges[k].clone())
            .collect();
        if step.probe {
            found.truncate(1);
        }
        found
    }
}

/// The thread answer's graph for `q`, derived from decoded leaves alone. Given every
/// entry a walk meets (and those correcting them or corrected by them), any further
/// entries of the same log below `q.below` change nothing.
pub fn derive(leaves: &[(u64, &Value)], q: &Query<'_>) -> Result<Graph, UnknownNode> {
    let stated = Stated::new(leaves, q);
    let mut walk = Walk::new(q);
    while let Some(step) = walk.step() {
        let found = stated.answer(&step);
        walk.feed(found);
    }
    let walked = walk.finish();
    if walked.edges.is_empty() && !stated.start_named {
        return Err(UnknownNode(q.node.to_string(), q.below));
    }
    let corrections = Corrections::new(stated.corrections.iter().copied());
    Ok(graph(walked, &corrections, q))
}

/// The answer's graph from a finished walk and the corrections touching its entries.
fn graph(w: Walked, c: &Corrections, q: &Query<'_>) -> Graph {
    let start_type = NodeType::of(q.node);
    let (edges, corrections) = c.collapse(&w.edges);
    let mut nodes: Vec<TraceNode> = w
        .nodes
        .into_iter()
        .map(|(id, (depth, side))| TraceNode {
            node_type: NodeType::of(&id)
                .or(start_type)
                .map_or("unknown", |t| t.as_str()),
            id,
            depth,
            side,
        })
        .collect();
    nodes.sort_by(|a, b| (a.depth, &a.id).cmp(&(b.depth, &b.id)));
    Graph {
        nodes,
        edges,
        corrections,
        truncation: w.truncation,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(id: &str, body: Value) -> Value {
        let mut body = body;
        body["event_id"] = json!(id);
        body["effective_time"] = json!("2026-11-24T08:00:00Z");
        json!({"kind": "event", "subjects": [], "body": body})
    }

    fn made(from: &str, to: &str) -> Value {
        json!({"material": [
            {"lot": from, "use": "consumed"},
            {"lot": to, "use": "produced"}
        ]})
    }

    fn q(node: &str, direction: Direction, depth: u32) -> Query<'_> {
        Query {
            node,
            direction,
            depth,
            max_nodes: 100,
            below: 100,
        }
    }

    #[test]
    fn a_chain_is_walked_both_ways_and_cut_at_the_depth() {
        let leaves = [
            event("a", made("A", "B")),
            event("b", made("B", "C")),
            event("c", made("C", "D")),
        ];
        let refs: Vec<(u64, &Value)> = leaves
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect();
        let g = derive(&refs, &q("lot:B", Direction::Both, 1)).unwrap();
        let ids: Vec<(&str, u32, &str)> = g
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.depth, n.side))
            .collect();
        assert_eq!(
            ids,
            vec![
                ("lot:B", 0, "start"),
                ("lot:A", 1, "upstream"),
                ("lot:C", 1, "downstream")
            ]
        );
        assert_eq!(g.edges.len(), 2);
        assert_eq!(g.truncation, vec!["depth limit of 1 reached".to_string()]);
        let g = derive(&refs, &q("lot:B", Direction::Forward, 2)).unwrap();
        assert!(g.truncation.is_empty());
        assert_eq!(g.nodes.len(), 3);
        // Entries at or past the tree size do not count.
        let mut early = q("lot:B", Direction::Forward, 2);
        early.below = 2;
        assert_eq!(derive(&refs, &early).unwrap().nodes.len(), 2);
        assert_eq!(
            derive(&refs, &q("lot:Z", Direction::Both, 2)).unwrap_err(),
            UnknownNode("lot:Z".into(), 100)
        );
    }

    #[test]
    fn corrections_name_both_entries() {
        let mut fix = made("A", "B");
        fix["corrects"] = json!({"event_id": "a"});
        let leaves = [event("a", made("A", "B")), event("fix", fix)];
        let refs: Vec<(u64, &Value)> = leaves
            .iter()
            .enumerate()
            .map(|(i, v)| (i as u64, v))
            .collect();
        let g = derive(&refs, &q("lot:A", Direction::Forward, 3)).unwrap();
        assert_eq!(
            g.corrections,
            vec![CorrectionRef {
                entry: 1,
                corrects: 0
            }]
        );
        assert_eq!(g.edges.len(), 1);
        assert_eq!(g.edges[0].entry, 1);
        assert_eq!(g.edges[0].corrects, Some(0));
        assert_eq!(g.edges[0].also_stated_by, 1);
    }
}
