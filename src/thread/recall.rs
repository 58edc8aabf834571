//! `POST /v1/thread/recall-impact`: everything finished downstream of suspect nodes (a
//! lot, a serial, a machine during a time window, a firmware image), with counts per
//! work order and customer, and for each result the path that implicates it.
//!
//! Two phases: the store is walked downstream level by level (one query per level),
//! collecting every edge reached; then paths are chosen in memory, preferring paths
//! whose edges no later entry corrects, so a result reached only through a corrected
//! edge is shown but marked `via_corrected`.
//!
//! A material (lot, sublot, serial) is *finished* when nothing was made from it: no
//! `material`, `genealogy` or `contains` edge leaves it below the checkpoint. In a loop
//! (an assembly taken apart and rebuilt from its own part), "nothing leaves" applies to
//! the loop as a whole: every material of a loop nothing leaves is finished.

use super::graph::{LoggedEdge, TraceEdge};
use super::trace::load_corrections;
use super::{checkpoint_at, parse_micros, parse_node, CheckpointRef, ThreadError, MAX_DEPTH};
use crate::entry::{EdgeKind, NodeType};
use crate::store::{EdgeEnd, EdgeQuery, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

/// Most suspects in one request.
pub const MAX_SUSPECTS: usize = 100;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Suspect {
    pub node: String,
    /// With `until`: only what this node acted on or went into from this time
    /// (RFC 3339, inclusive), by the events' effective time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// Exclusive end of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Copy)]
pub struct RecallOptions {
    pub depth: u32,
    /// Most downstream nodes collected before the answer is cut short.
    pub max_nodes: usize,
    /// Most finished results listed with their paths; counts always cover all.
    pub limit: usize,
    pub tree_size: Option<u64>,
}

impl Default for RecallOptions {
    fn default() -> Self {
        RecallOptions {
            depth: 32,
            max_nodes: 1_000_000,
            limit: 10_000,
            tree_size: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CustomerRef {
    pub customer: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    pub entry: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Implicated {
    pub node: String,
    #[serde(rename = "type")]
    pub node_type: &'static str,
    /// The suspect its path starts from.
    pub suspect: String,
    /// The work orders that made it.
    pub work_orders: Vec<String>,
    pub customers: Vec<CustomerRef>,
    /// Edges from the suspect to this node; empty when it is a suspect itself.
    pub path: Vec<TraceEdge>,
    /// Reached only through an edge whose entry a later entry corrects.
    pub via_corrected: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Counts {
    pub finished: usize,
    pub serials: usize,
    pub lots: usize,
    pub sublots: usize,
    /// Finished results reached only through corrected edges.
    pub via_corrected: usize,
    /// Every node reached downstream, finished or not, the suspects included.
    pub downstream_nodes: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct WorkOrderCount {
    pub work_order: String,
    pub finished: usize,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CustomerCount {
    pub customer: String,
    pub finished: usize,
    pub orders: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Recall {
    pub checkpoint: CheckpointRef,
    pub suspects: Vec<Suspect>,
    pub depth: u32,
    pub counts: Counts,
    /// Finished results per work order, most first.
    pub work_orders: Vec<WorkOrderCount>,
    /// Finished results per customer, most first.
    pub customers: Vec<CustomerCount>,
    /// The finished results, by node id; at most `limit` of them.
    pub finished: Vec<Implicated>,
    pub listed: usize,
    pub truncated: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub truncation: Vec<String>,
}

struct Window {
    from: Option<i64>,
    until: Option<i64>,
}

fn check(suspects: &[Suspect], opts: &RecallOptions) -> Result<Vec<Window>, ThreadError> {
    if suspects.is_empty() || suspects.len() > MAX_SUSPECTS {
        return Err(ThreadError::BadRequest(format!(
            "suspects: give 1 to {MAX_SUSPECTS} suspect nodes"
        )));
    }
    if opts.depth == 0 || opts.depth > MAX_DEPTH {
        return Err(ThreadError::BadRequest(format!(
            "depth must be between 1 and {MAX_DEPTH}"
        )));
    }
    suspects
        .iter()
        .enumerate()
        .map(|(i, s)| {
            parse_node(&s.node)
                .map_err(|e| ThreadError::BadRequest(format!("suspects[{i}].node: {e}")))?;
            let from = s
                .from
                .as_deref()
                .map(|t| parse_micros(&format!("suspects[{i}].from"), t))
                .transpose()?;
            let until = s
                .until
                .as_deref()
                .map(|t| parse_micros(&format!("suspects[{i}].until"), t))
                .transpose()?;
            if let (Some(f), Some(u)) = (from, until) {
                if f >= u {
                    return Err(ThreadError::BadRequest(format!(
                        "suspects[{i}]: from must be before until"
                    )));
                }
            }
            Ok(Window { from, until })
        })
        .collect()
}

/// The downstream graph the store holds from the suspects.
#[derive(Default)]
struct Graph {
    edges: Vec<LoggedEdge>,
    /// Out-edges (positions in `edges`) of every node that was expanded.
    out: HashMap<String, Vec<usize>>,
    /// Every node reached, with its level.
    seen: HashMap<String, u32>,
    truncation: Vec<String>,
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

async fn collect(
    store: &dyn Store,
    suspects: &[Suspect],
    windows: &[Window],
    below: u64,
    opts: &RecallOptions,
) -> Result<Graph, ThreadError> {
    let mut g = Graph::default();
    // Level 1: each suspect's own out-edges, within its window.
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
    let mut frontier = Vec::new();
    let mut level = 1;
    let mut found = first;
    loop {
        found.sort_by(|a, b| (a.index, &a.from, &a.to).cmp(&(b.index, &b.from, &b.to)));
        for e in found {
            if !g.seen.contains_key(&e.to) {
                if g.seen.len() >= opts.max_nodes {
                    let why = format!("node limit of {} reached", opts.max_nodes);
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
            .edges(&EdgeQuery::new(
                std::mem::take(&mut frontier),
                EdgeEnd::From,
                below,
            ))
            .await?;
        level += 1;
    }
    Ok(g)
}

/// The finished materials of the collected graph, sorted: those in a strongly connected
/// component of flow edges that no flow edge leaves (a single node without flow
/// out-edges is such a component). A node not expanded (beyond the depth or node
/// bound) is not known to be finished, and neither is anything flowing into it.
fn finished(g: &Graph) -> Vec<&str> {
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

/// Whether any entry below `below` names `node`, as a subject or as an edge's end. A
/// suspect never seen is a typo or another log's node: "nothing affected" would be a
/// false all-clear.
async fn known(store: &dyn Store, node: &str, below: u64) -> Result<bool, ThreadError> {
    for end in [EdgeEnd::From, EdgeEnd::To] {
        let mut q = EdgeQuery::new(vec![node.to_string()], end, below);
        q.limit = Some(1);
        if !store.edges(&q).await?.is_empty() {
            return Ok(true);
        }
    }
    let named = store
        .entries(&crate::store::EntryQuery {
            subject: Some(node.to_string()),
            below: Some(below),
            limit: 1,
            ..Default::default()
        })
        .await?;
    Ok(!named.is_empty())
}

/// Everything finished downstream of the suspects, computed at one checkpoint.
pub async fn recall_impact(
    store: &dyn Store,
    suspects: &[Suspect],
    opts: &RecallOptions,
) -> Result<Recall, ThreadError> {
    let windows = check(suspects, opts)?;
    let cp = checkpoint_at(store, opts.tree_size).await?;
    let below = cp.tree_size;
    let g = collect(store, suspects, &windows, below, opts).await?;
    for s in suspects {
        if g.out.get(&s.node).is_none_or(Vec::is_empty) && !known(store, &s.node, below).await? {
            return Err(ThreadError::UnknownNode(s.node.clone(), below));
        }
    }

    let indexes = g.edges.iter().map(|e| e.index).collect();
    let corrections = load_corrections(store, &indexes, below).await?;

    // Paths: breadth-first from the suspects, first over uncorrected edges only, then
    // over all edges for what is left.
    let mut parent: HashMap<&str, (Option<usize>, bool, &str)> = HashMap::new();
    for s in suspects {
        parent
            .entry(s.node.as_str())
            .or_insert((None, false, s.node.as_str()));
    }
    for allow_corrected in [false, true] {
        let mut queue: VecDeque<&str> = parent.keys().copied().collect();
        let mut sorted: Vec<&str> = queue.drain(..).collect();
        sorted.sort();
        queue.extend(sorted);
        while let Some(n) = queue.pop_front() {
            let (_, via, suspect) = parent[n];
            for &i in g.out.get(n).map(Vec::as_slice).unwrap_or_default() {
                let e = &g.edges[i];
                let bad = corrections.is_corrected(e.index);
                if bad && !allow_corrected {
                    continue;
                }
                if !parent.contains_key(e.to.as_str()) {
                    parent.insert(e.to.as_str(), (Some(i), via || bad, suspect));
                    queue.push_back(e.to.as_str());
                }
            }
        }
    }

    // A suspect seen through a window was not followed everywhere: it is not known to be
    // finished (a lot unused in the window implicates nothing, itself included).
    let (windowed, whole): (Vec<_>, Vec<_>) = suspects
        .iter()
        .zip(&windows)
        .partition(|(_, w)| w.from.is_some() || w.until.is_some());
    let whole: HashSet<&str> = whole.iter().map(|(s, _)| s.node.as_str()).collect();
    let windowed: HashSet<&str> = windowed
        .iter()
        .map(|(s, _)| s.node.as_str())
        .filter(|n| !whole.contains(n))
        .collect();
    let mut finished = finished(&g);
    finished.retain(|n| !windowed.contains(n));

    // The work orders that made them: one hop upstream.
    let mut work_orders: HashMap<String, Vec<String>> = HashMap::new();
    if !finished.is_empty() {
        let mut q = EdgeQuery::new(
            finished.iter().map(|n| n.to_string()).collect(),
            EdgeEnd::To,
            below,
        );
        q.kinds = vec![EdgeKind::WorkOrder];
        for e in store.edges(&q).await? {
            let list = work_orders.entry(e.to).or_default();
            if !list.contains(&e.from) {
                list.push(e.from);
            }
        }
    }

    let mut counts = Counts {
        downstream_nodes: g.seen.len(),
        ..Counts::default()
    };
    let mut per_order: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_customer: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
    let mut listed = Vec::new();
    for n in &finished {
        let t = NodeType::of(n).unwrap_or(NodeType::Serial);
        counts.finished += 1;
        match t {
            NodeType::Serial => counts.serials += 1,
            NodeType::Lot => counts.lots += 1,
            _ => counts.sublots += 1,
        }
        let (_, via_corrected, suspect) = parent.get(n).copied().unwrap_or((None, false, n));
        if via_corrected {
            counts.via_corrected += 1;
        }
        let mut orders = work_orders.remove(*n).unwrap_or_default();
        orders.sort();
        for o in &orders {
            *per_order.entry(o.clone()).or_default() += 1;
        }
        let mut customers: Vec<CustomerRef> = g.out[*n]
            .iter()
            .map(|&i| &g.edges[i])
            .filter(|e| e.kind == EdgeKind::Customer)
            .map(|e| CustomerRef {
                customer: e.to.clone(),
                order: e.label.clone(),
                entry: e.index,
            })
            .collect();
        customers.sort_by(|a, b| (&a.customer, a.entry).cmp(&(&b.customer, b.entry)));
        let mut named = HashSet::new();
        for c in &customers {
            let slot = per_customer.entry(c.customer.clone()).or_default();
            if named.insert(c.customer.clone()) {
                slot.0 += 1;
            }
            if let Some(o) = &c.order {
                if !slot.1.contains(o) {
                    slot.1.push(o.clone());
                }
            }
        }
        if listed.len() < opts.limit {
            let mut path = Vec::new();
            let mut at = *n;
            while let Some((Some(i), _, _)) = parent.get(at).copied() {
                path.push(corrections.edge(&g.edges[i]));
                at = g.edges[i].from.as_str();
            }
            path.reverse();
            listed.push(Implicated {
                node: n.to_string(),
                node_type: t.as_str(),
                suspect: suspect.to_string(),
                work_orders: orders,
                customers,
                path,
                via_corrected,
            });
        }
    }
    let mut work_orders: Vec<WorkOrderCount> = per_order
        .into_iter()
        .map(|(work_order, finished)| WorkOrderCount {
            work_order,
            finished,
        })
        .collect();
    work_orders.sort_by(|a, b| {
        b.finished
            .cmp(&a.finished)
            .then(a.work_order.cmp(&b.work_order))
    });
    let mut customers: Vec<CustomerCount> = per_customer
        .into_iter()
        .map(|(customer, (finished, mut orders))| {
            orders.sort();
            CustomerCount {
                customer,
                finished,
                orders,
            }
        })
        .collect();
    customers.sort_by(|a, b| {
        b.finished
            .cmp(&a.finished)
            .then(a.customer.cmp(&b.customer))
    });
    let mut truncation = g.truncation;
    if counts.finished > listed.len() {
        truncation.push(format!(
            "{} of {} finished results listed (limit)",
            listed.len(),
            counts.finished
        ));
    }
    Ok(Recall {
        checkpoint: CheckpointRef::from(&cp),
        suspects: suspects.to_vec(),
        depth: opts.depth,
        counts,
        work_orders,
        customers,
        listed: listed.len(),
        finished: listed,
        truncated: !truncation.is_empty(),
        truncation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
