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

use super::downstream::{collect, finished, Graph, Window};
use super::graph::{Corrections, TraceEdge};
use super::trace::load_corrections;
use super::{checkpoint_at, parse_micros, parse_node, CheckpointRef, ThreadError, MAX_DEPTH};
use crate::entry::{EdgeKind, NodeType};
use crate::store::{EdgeEnd, EdgeQuery, Store, StoredCheckpoint};
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
    require_known(store, suspects, &g, below).await?;

    let indexes = g.edges.iter().map(|e| e.index).collect();
    let corrections = load_corrections(store, &indexes, below).await?;
    let parent = choose_paths(suspects, &g, &corrections);
    let finished = finished_results(suspects, &windows, &g);
    let mut work_orders = work_orders_of(store, &finished, below).await?;

    let mut tally = Tally::new(g.seen.len());
    for n in &finished {
        let t = NodeType::of(n).unwrap_or(NodeType::Serial);
        let (_, via_corrected, suspect) = parent.get(n).copied().unwrap_or((None, false, n));
        let mut orders = work_orders.remove(*n).unwrap_or_default();
        orders.sort();
        let customers = customers_of(&g, n);
        tally.count(t, via_corrected, &orders, &customers);
        if tally.listed.len() < opts.limit {
            tally.listed.push(Implicated {
                node: n.to_string(),
                node_type: t.as_str(),
                suspect: suspect.to_string(),
                work_orders: orders,
                customers,
                path: path_to(&parent, &g, &corrections, n),
                via_corrected,
            });
        }
    }
    Ok(tally.into_recall(&cp, suspects, opts.depth, g.truncation))
}

/// Fails on a suspect with no out-edge that no entry names either.
async fn require_known(
    store: &dyn Store,
    suspects: &[Suspect],
    g: &Graph,
    below: u64,
) -> Result<(), ThreadError> {
    for s in suspects {
        if g.out.get(&s.node).is_none_or(Vec::is_empty) && !known(store, &s.node, below).await? {
            return Err(ThreadError::UnknownNode(s.node.clone(), below));
        }
    }
    Ok(())
}

/// For each node reached: the edge (position in the graph) its chosen path arrives by,
/// whether that path crosses a corrected edge, and the suspect it starts from.
type Parents<'a> = HashMap<&'a str, (Option<usize>, bool, &'a str)>;

/// Paths: breadth-first from the suspects, first over uncorrected edges only, then
/// over all edges for what is left.
fn choose_paths<'a>(
    suspects: &'a [Suspect],
    g: &'a Graph,
    corrections: &Corrections,
) -> Parents<'a> {
    let mut parent: Parents = HashMap::new();
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
    parent
}

/// The edges of the chosen path from its suspect to `n`.
fn path_to(parent: &Parents, g: &Graph, corrections: &Corrections, n: &str) -> Vec<TraceEdge> {
    let mut path = Vec::new();
    let mut at = n;
    while let Some((Some(i), _, _)) = parent.get(at).copied() {
        path.push(corrections.edge(&g.edges[i]));
        at = g.edges[i].from.as_str();
    }
    path.reverse();
    path
}

/// The finished results. A suspect seen through a window was not followed everywhere:
/// it is not known to be finished (a lot unused in the window implicates nothing,
/// itself included).
fn finished_results<'a>(suspects: &[Suspect], windows: &[Window], g: &'a Graph) -> Vec<&'a str> {
    let (windowed, whole): (Vec<_>, Vec<_>) = suspects
        .iter()
        .zip(windows)
        .partition(|(_, w)| w.from.is_some() || w.until.is_some());
    let whole: HashSet<&str> = whole.iter().map(|(s, _)| s.node.as_str()).collect();
    let windowed: HashSet<&str> = windowed
        .iter()
        .map(|(s, _)| s.node.as_str())
        .filter(|n| !whole.contains(n))
        .collect();
    let mut finished = finished(g);
    finished.retain(|n| !windowed.contains(n));
    finished
}

/// The work orders that made the finished results: one hop upstream.
async fn work_orders_of(
    store: &dyn Store,
    finished: &[&str],
    below: u64,
) -> Result<HashMap<String, Vec<String>>, ThreadError> {
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
    Ok(work_orders)
}

/// The customers a finished result went to, by customer and entry.
fn customers_of(g: &Graph, n: &str) -> Vec<CustomerRef> {
    let mut customers: Vec<CustomerRef> = g.out[n]
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
    customers
}

/// The finished results counted one by one, and those listed with their paths.
struct Tally {
    counts: Counts,
    per_order: BTreeMap<String, usize>,
    per_customer: BTreeMap<String, (usize, Vec<String>)>,
    listed: Vec<Implicated>,
}

impl Tally {
    fn new(downstream_nodes: usize) -> Self {
        Tally {
            counts: Counts {
                downstream_nodes,
                ..Counts::default()
            },
            per_order: BTreeMap::new(),
            per_customer: BTreeMap::new(),
            listed: Vec::new(),
        }
    }

    /// Counts one finished result, its work orders and its customers (each customer
    /// once, however many times the result went to it).
    fn count(
        &mut self,
        t: NodeType,
        via_corrected: bool,
        orders: &[String],
        customers: &[CustomerRef],
    ) {
        self.counts.finished += 1;
        match t {
            NodeType::Serial => self.counts.serials += 1,
            NodeType::Lot => self.counts.lots += 1,
            _ => self.counts.sublots += 1,
        }
        if via_corrected {
            self.counts.via_corrected += 1;
        }
        for o in orders {
            *self.per_order.entry(o.clone()).or_default() += 1;
        }
        let mut named = HashSet::new();
        for c in customers {
            let slot = self.per_customer.entry(c.customer.clone()).or_default();
            if named.insert(c.customer.clone()) {
                slot.0 += 1;
            }
            if let Some(o) = &c.order {
                if !slot.1.contains(o) {
                    slot.1.push(o.clone());
                }
            }
        }
    }

    /// The answer at `cp`, noting when the listing stopped at the limit.
    fn into_recall(
        self,
        cp: &StoredCheckpoint,
        suspects: &[Suspect],
        depth: u32,
        mut truncation: Vec<String>,
    ) -> Recall {
        let listed = self.listed;
        if self.counts.finished > listed.len() {
            truncation.push(format!(
                "{} of {} finished results listed (limit)",
                listed.len(),
                self.counts.finished
            ));
        }
        Recall {
            checkpoint: CheckpointRef::from(cp),
            suspects: suspects.to_vec(),
            depth,
            counts: self.counts,
            work_orders: order_counts(self.per_order),
            customers: customer_counts(self.per_customer),
            listed: listed.len(),
            finished: listed,
            truncated: !truncation.is_empty(),
            truncation,
        }
    }
}

/// Finished results per work order, most first.
fn order_counts(per_order: BTreeMap<String, usize>) -> Vec<WorkOrderCount> {
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
    work_orders
}

/// Finished results per customer, most first, each with its orders sorted.
fn customer_counts(per_customer: BTreeMap<String, (usize, Vec<String>)>) -> Vec<CustomerCount> {
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
    customers
}
