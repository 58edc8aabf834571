//! The corrections touching a walk's edges: which entry corrects which, and the edges
//! collapsed per (from, to, kind) as the answer shows them.

use super::{CorrectionRef, LoggedEdge, TraceEdge};
use crate::entry::edges::EdgeKind;
use std::collections::{BTreeMap, HashMap, HashSet};

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
