//! The walk from a start node as a step machine: [`Walk`] asks one [`Step`] per level
//! (and one probe past the depth bound), whoever drives it answers with the edges found,
//! and [`Walked`] is what it collected.

use super::{Direction, LoggedEdge, Query};
use crate::entry::edges::EdgeKind;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Which end of an edge the walked nodes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Edges leaving the nodes (a downstream step).
    From,
    /// Edges arriving at the nodes (an upstream step).
    To,
}

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
