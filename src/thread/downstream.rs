//! The downstream graph of a recall: collected from the store level by level from the
//! suspects, and the finished materials in it (the strongly connected components of
//! flow edges that no flow edge leaves).

use super::graph::LoggedEdge;
use super::recall::{RecallOptions, Suspect};
use super::ThreadError;
use crate::entry::NodeType;
use crate::store::{EdgeEnd, EdgeQuery, Store};
use std::collections::HashMap;

/// A suspect's time window, in microseconds; both ends open when absent.
pub(super) struct Window {
    pub(super) from: Option<i64>,
    pub(super) until: Option<i64>,
}

/// The downstream graph the store holds from the suspects.
#[derive(Default)]
pub(super) struct Graph {
    pub(super) edges: Vec<LoggedEdge>,
    /// Out-edges (positions in `edges`) of every node that was expanded.
    pub(super) out: HashMap<String, Vec<usize>>,
    /// Every node reached, with its level.
    pub(super) seen: HashMap<String, u32>,
    pub(super) truncation: Vec<String>,
}

impl Graph {
    fn add(&mut self, e: LoggedEdge) {
        self.out
            .entry(e.from.clone())
            .or_default()
            .push(self.edges.len());
        self.edges.push(e);
    }
}

/// Walks downstream from the suspects, one store query per level, within the depth and
/// node bounds (noting in `truncation` where one cut the walk short).
pub(super) async fn collect(
    store: &dyn Store,
    suspects: &[Suspect],
    windows: &[Window],
    below: u64,
    opts: &RecallOptions,
) -> Result<Graph, ThreadError> {
    let mut g = Graph::default();
    let mut found = first_level(store, suspects, windows, below, &mut g).await?;
    let mut level = 1;
    loop {
        let frontier = take_level(&mut g, found, level, opts.max_nodes);
        if frontier.is_empty() {
            break;
        }
        if level == opts.depth {
            let mut more = EdgeQuery::new(frontier, EdgeEnd::From, below);
            more.limit = Some(1);
            if !store.edges(&more).await?.is_empty() {
                g.truncation
                    .push(format!("depth limit of {} reached", opts.depth));
            }
            break;
        }
        for n in &frontier {
            g.out.entry(n.clone()).or_default();
        }
        found = store
            .edges(&EdgeQuery::new(frontier, EdgeEnd::From, below))
            .await?;
        level += 1;
    }
    Ok(g)
}

/// Level 1: each suspect's own out-edges, within its window; the suspects without a
/// window share one query.
async fn first_level(
    store: &dyn Store,
    suspects: &[Suspect],
    windows: &[Window],
    below: u64,
    g: &mut Graph,
) -> Result<Vec<LoggedEdge>, ThreadError> {
    let mut first = Vec::new();
    let mut plain = Vec::new();
    for (s, w) in suspects.iter().zip(windows) {
        g.seen.insert(s.node.clone(), 0);
        g.out.entry(s.node.clone()).or_default();
        if w.from.is_none() && w.until.is_none() {
            plain.push(s.node.clone());
        } else {
            let mut q = EdgeQuery::new(vec![s.node.clone()], EdgeEnd::From, below);
            q.at_from = w.from;
            q.at_until = w.until;
            first.extend(store.edges(&q).await?);
        }
    }
    plain.sort();
    plain.dedup();
    if !plain.is_empty() {
        first.extend(
            store
                .edges(&EdgeQuery::new(plain, EdgeEnd::From, below))
                .await?,
        );
    }
    Ok(first)
}

/// Adds one level's edges to the graph, in log order; the nodes new to it (up to the
/// node bound) are the next level's frontier.
fn take_level(
    g: &mut Graph,
    mut found: Vec<LoggedEdge>,
    level: u32,
    max_nodes: usize,
) -> Vec<String> {
    let mut frontier = Vec::new();
    found.sort_by(|a, b| (a.index, &a.from, &a.to).cmp(&(b.index, &b.from, &b.to)));
    for e in found {
        if !g.seen.contains_key(&e.to) {
            if g.seen.len() >= max_nodes {
                let why = format!("node limit of {max_nodes} reached");
                if !g.truncation.contains(&why) {
                    g.truncation.push(why);
                }
                continue;
            }
            g.seen.insert(e.to.clone(), level);
            frontier.push(e.to.clone());
        }
        g.add(e);
    }
    frontier
}

/// The finished materials of the collected graph, sorted: those in a strongly connected
/// component of flow edges that no flow edge leaves (a single node without flow
/// out-edges is such a component). A node not expanded (beyond the depth or node
/// bound) is not known to be finished, and neither is anything flowing into it.
pub(super) fn finished(g: &Graph) -> Vec<&str> {
    let names: Vec<&str> = g.out.keys().map(String::as_str).collect();
    let at: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let mut adj = vec![Vec::new(); names.len()];
    let mut leaks = vec![false; names.len()];
    for (v, n) in names.iter().enumerate() {
        for &i in &g.out[*n] {
            let e = &g.edges[i];
            if !e.kind.is_flow() {
                continue;
            }
            match at.get(e.to.as_str()) {
                Some(&w) => adj[v].push(w),
                None => leaks[v] = true,
            }
        }
    }
    let comp = components(&adj);
    let mut sink = vec![true; names.len()];
    for v in 0..names.len() {
        if leaks[v] || adj[v].iter().any(|&w| comp[w] != comp[v]) {
            sink[comp[v]] = false;
        }
    }
    let mut out: Vec<&str> = (0..names.len())
        .filter(|&v| sink[comp[v]] && NodeType::of(names[v]).is_some_and(|t| t.is_material()))
        .map(|v| names[v])
        .collect();
    out.sort_unstable();
    out
}

/// Strongly connected components (Tarjan's algorithm, iterative): the component number
/// of each node.
fn components(adj: &[Vec<usize>]) -> Vec<usize> {
    const NONE: usize = usize::MAX;
    let n = adj.len();
    let (mut index, mut low, mut on) = (vec![NONE; n], vec![0; n], vec![false; n]);
    let (mut comp, mut stack, mut next, mut count) = (vec![NONE; n], Vec::new(), 0, 0);
    for root in 0..n {
        if index[root] != NONE {
            continue;
        }
        let mut calls = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on[root] = true;
        while let Some(&(v, i)) = calls.last() {
            if let Some(&w) = adj[v].get(i) {
                if let Some(top) = calls.last_mut() {
                    top.1 += 1;
                }
                if index[w] == NONE {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on[w] = true;
                    calls.push((w, 0));
                } else if on[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(u, _)) = calls.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on[w] = false;
                    comp[w] = count;
                    if w == v {
                        break;
                    }
                }
                count += 1;
            }
        }
    }
    comp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::EdgeKind;

    fn edge(from: &str, to: &str, kind: EdgeKind) -> LoggedEdge {
        LoggedEdge {
            from: from.into(),
            to: to.into(),
            kind,
            index: 0,
            at: 0,
            label: None,
        }
    }

    fn graph(expanded: &[&str], edges: &[(&str, &str, EdgeKind)]) -> Graph {
        let mut g = Graph::default();
        for n in expanded {
            g.out.insert(n.to_string(), Vec::new());
        }
        for (f, t, k) in edges {
            g.add(edge(f, t, *k));
        }
        g
    }

    #[test]
    fn finished_means_nothing_flows_on_even_around_a_loop() {
        use EdgeKind::*;
        let g = graph(
            &[
                "lot:L",
                "serial:P",
                "serial:A",
                "serial:Q",
                "customer:C",
                "serial:S",
            ],
            &[
                ("lot:L", "serial:P", Material),
                ("lot:L", "serial:Q", Material),
                ("serial:P", "serial:A", Material),
                // Rework: the assembly gives its part back and takes it again.
                ("serial:A", "serial:P", Material),
                ("serial:A", "customer:C", Customer),
                // Q went on into something not expanded (beyond the depth bound).
                ("serial:Q", "serial:X", Material),
                ("equipment:E", "serial:S", Equipment),
            ],
        );
        assert_eq!(finished(&g), vec!["serial:A", "serial:P", "serial:S"]);
    }

    #[test]
    fn components_of_a_chain_and_a_cycle() {
        let comp = components(&[vec![1], vec![2], vec![1, 3], vec![]]);
        assert_eq!(comp[1], comp[2]);
        assert_ne!(comp[0], comp[1]);
        assert_ne!(comp[3], comp[1]);
        assert_ne!(comp[0], comp[3]);
    }
}
