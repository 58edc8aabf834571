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
use std::collections::HashMap;

mod corrections;
mod walk;

pub use corrections::Corrections;
pub use walk::{End, Step, Walk, Walked};

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
