//! The digital thread's graph as an event leaf states it: typed nodes, and the edges one
//! `event` creates between them.
//!
//! Owns the derivation rules (documented in `docs/thread.md`), so that the
//! sequencer, an import and the back-fill of an older log derive exactly the same rows
//! from the same leaf. Pure: the body in, edges out; no storage, no clock.
//!
//! Nodes are the typed subjects: `lot:`, `sublot:`, `serial:`, `work_order:`,
//! `equipment:`, `sha256:` (programs and software) and `customer:`. Events are not nodes:
//! they only create edges, each pointing downstream (from what went in or acted to what
//! came out), and each carrying the index of the entry that created it. A correction
//! creates its own edges like any event and names the event it corrects; nothing is
//! removed from the graph.

use serde_json::Value;
use std::collections::HashSet;

/// Most edges one event may create; a larger event is refused when submitted (split it).
pub const MAX_EDGES: usize = 10_000;

/// What a node is, by the prefix of its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeType {
    Lot,
    Sublot,
    Serial,
    WorkOrder,
    Equipment,
    /// A program or software digest, `sha256:<hex>`.
    Software,
    Customer,
}

impl NodeType {
    pub const ALL: [NodeType; 7] = [
        NodeType::Lot,
        NodeType::Sublot,
        NodeType::Serial,
        NodeType::WorkOrder,
        NodeType::Equipment,
        NodeType::Software,
        NodeType::Customer,
    ];

    /// The id prefix, colon included.
    pub fn prefix(&self) -> &'static str {
        match self {
            NodeType::Lot => "lot:",
            NodeType::Sublot => "sublot:",
            NodeType::Serial => "serial:",
            NodeType::WorkOrder => "work_order:",
            NodeType::Equipment => "equipment:",
            NodeType::Software => "sha256:",
            NodeType::Customer => "customer:",
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            NodeType::Lot => "lot",
            NodeType::Sublot => "sublot",
            NodeType::Serial => "serial",
            NodeType::WorkOrder => "work_order",
            NodeType::Equipment => "equipment",
            NodeType::Software => "software",
            NodeType::Customer => "customer",
        }
    }

    /// The type of a node id, if it is one: a known prefix and a non-empty rest.
    pub fn of(id: &str) -> Option<NodeType> {
        NodeType::ALL.into_iter().find(|t| {
            id.strip_prefix(t.prefix())
                .is_some_and(|rest| !rest.is_empty())
        })
    }

    /// Lots, sublots and serials: what is made, consumed, shipped and recalled.
    pub fn is_material(&self) -> bool {
        matches!(self, NodeType::Lot | NodeType::Sublot | NodeType::Serial)
    }
}

/// How an edge's two nodes are related; every kind points downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// A consumed material went into a produced one (same event).
    Material,
    /// An explicit `genealogy` link, parent to child.
    Genealogy,
    /// A lot holds a sublot or serial, a sublot a serial (one material item naming several).
    Contains,
    /// Equipment acted on a material.
    Equipment,
    /// A program (G-code, recipe) made a material.
    Program,
    /// Software (image, firmware) was in use when a material was made.
    Software,
    /// A work order made a material.
    WorkOrder,
    /// A material went to (or was made for) a customer.
    Customer,
}

impl EdgeKind {
    pub const ALL: [EdgeKind; 8] = [
        EdgeKind::Material,
        EdgeKind::Genealogy,
        EdgeKind::Contains,
        EdgeKind::Equipment,
        EdgeKind::Program,
        EdgeKind::Software,
        EdgeKind::WorkOrder,
        EdgeKind::Customer,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EdgeKind::Material => "material",
            EdgeKind::Genealogy => "genealogy",
            EdgeKind::Contains => "contains",
            EdgeKind::Equipment => "equipment",
            EdgeKind::Program => "program",
            EdgeKind::Software => "software",
            EdgeKind::WorkOrder => "work_order",
            EdgeKind::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<EdgeKind> {
        EdgeKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Material flowing into other material: what makes a material not finished.
    pub fn is_flow(&self) -> bool {
        matches!(
            self,
            EdgeKind::Material | EdgeKind::Genealogy | EdgeKind::Contains
        )
    }
}

/// One edge as an event states it; the store adds the entry index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// The event's `effective_time` in microseconds since the Unix epoch (UTC).
    pub at: i64,
    /// The role, relation, program name, software kind or customer order, if given.
    pub label: Option<String>,
}

/// What one entry contributes to the thread.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventThread {
    pub edges: Vec<Edge>,
    /// The `event_id` of the event this one corrects, if it is a correction.
    pub corrects: Option<String>,
}

/// The ids one material item or genealogy side names, most general first.
fn ids(v: &Value) -> Vec<String> {
    ["lot", "sublot", "serial"]
        .into_iter()
        .filter_map(|k| {
            v.get(k)
                .and_then(Value::as_str)
                .map(|id| format!("{k}:{id}"))
        })
        .collect()
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

/// The `effective_time` as microseconds since the epoch; 0 if it does not parse (it
/// always does for a validated event).
pub fn effective_micros(body: &Value) -> i64 {
    text(body, "effective_time")
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.timestamp_micros())
        .unwrap_or(0)
}

/// Derives the edges of an `event` body. Lenient: it reads stored leaves, which were
/// validated when appended, and skips whatever it does not recognise.
///
/// The rules:
/// - each material item stands for its most specific id (serial, else sublot, else lot);
///   an item naming several ids also gives `contains` edges lot → sublot → serial;
/// - every consumed item → every produced item (`material`);
/// - every genealogy parent → its child (`genealogy`, labelled with the relation);
/// - the event's *targets* are its produced items and genealogy children, or, when it
///   has neither, its consumed items; equipment (`equipment`, role), the program
///   (`program`, name), software (`software`, kind or name) and the work order
///   (`work_order`) each point to every target, and every target points to the
///   customer (`customer`, order);
/// - an edge from a node to itself is dropped, and repeats keep their first label.
pub fn event_thread(body: &Value) -> EventThread {
    let at = effective_micros(body);
    let mut out = Builder {
        at,
        edges: Vec::new(),
        seen: HashSet::new(),
    };
    let (mut consumed, mut produced) = (Vec::new(), Vec::new());
    for m in items(body, "material") {
        let ids = ids(m);
        for pair in ids.windows(2) {
            out.push(&pair[0], &pair[1], EdgeKind::Contains, None);
        }
        let Some(node) = ids.last() else { continue };
        match text(m, "use") {
            Some("consumed") => consumed.push(node.clone()),
            Some("produced") => produced.push(node.clone()),
            _ => {}
        }
    }
    for c in &consumed {
        for p in &produced {
            out.push(c, p, EdgeKind::Material, None);
        }
    }
    let mut targets = produced;
    for g in items(body, "genealogy") {
        let (Some(parent), Some(child)) = (
            g.get("parent").and_then(|p| ids(p).pop()),
            g.get("child").and_then(|c| ids(c).pop()),
        ) else {
            continue;
        };
        out.push(&parent, &child, EdgeKind::Genealogy, text(g, "relation"));
        targets.push(child);
    }
    if targets.is_empty() {
        targets = consumed;
    }
    let mut seen_target = HashSet::new();
    targets.retain(|t| seen_target.insert(t.clone()));

    let sources = sources(body);
    for (from, kind, label) in &sources {
        for t in &targets {
            out.push(from, t, *kind, *label);
        }
    }
    if let Some(c) = body.get("customer") {
        if let Some(id) = text(c, "id") {
            let customer = format!("customer:{id}");
            for t in &targets {
                out.push(t, &customer, EdgeKind::Customer, text(c, "order"));
            }
        }
    }
    EventThread {
        edges: out.edges,
        corrects: body
            .get("corrects")
            .and_then(|c| text(c, "event_id"))
            .map(str::to_string),
    }
}

/// The nodes that point to every target of an event: equipment (role), program (name),
/// software (kind or name) and work order, with their edge kinds and labels.
fn sources(body: &Value) -> Vec<(String, EdgeKind, Option<&str>)> {
    let mut sources = Vec::new();
    for e in items(body, "equipment") {
        if let Some(id) = text(e, "id") {
            sources.push((
                format!("equipment:{id}"),
                EdgeKind::Equipment,
                text(e, "role"),
            ));
        }
    }
    if let Some(p) = body.get("program") {
        if let Some(d) = text(p, "digest") {
            sources.push((d.to_string(), EdgeKind::Program, text(p, "name")));
        }
    }
    for s in items(body, "software_refs") {
        if let Some(d) = text(s, "digest") {
            let label = text(s, "kind").or_else(|| text(s, "name"));
            sources.push((d.to_string(), EdgeKind::Software, label));
        }
    }
    if let Some(wo) = text(body, "job_order_id") {
        sources.push((format!("work_order:{wo}"), EdgeKind::WorkOrder, None));
    }
    sources
}

struct Builder {
    at: i64,
    edges: Vec<Edge>,
    seen: HashSet<(String, String, EdgeKind)>,
}

impl Builder {
    fn push(&mut self, from: &str, to: &str, kind: EdgeKind, label: Option<&str>) {
        if from == to || !self.seen.insert((from.to_string(), to.to_string(), kind)) {
            return;
        }
        self.edges.push(Edge {
            from: from.to_string(),
            to: to.to_string(),
            kind,
            at: self.at,
            label: label.map(str::to_string),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edges(body: Value) -> Vec<(String, String, &'static str, Option<String>)> {
        event_thread(&body)
            .edges
            .into_iter()
            .map(|e| (e.from, e.to, e.kind.as_str(), e.label))
            .collect()
    }

    fn e(
        from: &str,
        to: &str,
        kind: &'static str,
    ) -> (String, String, &'static str, Option<String>) {
        (from.into(), to.into(), kind, None)
    }

    fn labelled(
        from: &str,
        to: &str,
        kind: &'static str,
        label: &str,
    ) -> (String, String, &'static str, Option<String>) {
        (from.into(), to.into(), kind, Some(label.into()))
    }

    #[test]
    fn a_print_job_links_inputs_actors_and_order_to_the_part() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let fw = format!("sha256:{}", "cd".repeat(32));
        let got = edges(json!({
            "effective_time": "2026-11-24T08:00:00-05:00",
            "job_order_id": "WO-7",
            "equipment": [{"id": "printer-07", "role": "printer"}],
            "material": [
                {"definition": "PA12", "lot": "FIL-118", "sublot": "FIL-118-S2", "use": "consumed"},
                {"definition": "bracket", "serial": "SN-9", "use": "produced"}
            ],
            "program": {"name": "bracket.gcode", "digest": d},
            "software_refs": [{"digest": fw, "kind": "firmware"}],
            "customer": {"id": "ACME", "order": "PO-1"}
        }));
        assert_eq!(
            got,
            vec![
                e("lot:FIL-118", "sublot:FIL-118-S2", "contains"),
                e("sublot:FIL-118-S2", "serial:SN-9", "material"),
                labelled(
                    "equipment:printer-07",
                    "serial:SN-9",
                    "equipment",
                    "printer"
                ),
                labelled(&d, "serial:SN-9", "program", "bracket.gcode"),
                labelled(&fw, "serial:SN-9", "software", "firmware"),
                e("work_order:WO-7", "serial:SN-9", "work_order"),
                labelled("serial:SN-9", "customer:ACME", "customer", "PO-1"),
            ]
        );
        let t = event_thread(&json!({"effective_time": "2026-11-24T08:00:00-05:00"}));
        assert_eq!(
            effective_micros(&json!({"effective_time": "2026-11-24T13:00:00Z"})),
            1_795_525_200_000_000
        );
        assert!(t.edges.is_empty() && t.corrects.is_none());
    }

    #[test]
    fn without_products_the_consumed_items_are_the_targets() {
        let got = edges(json!({
            "effective_time": "2026-11-24T08:00:00Z",
            "equipment": [{"id": "dock-1"}],
            "material": [{"definition": "asm", "serial": "A-1", "use": "consumed"}],
            "customer": {"id": "ACME"}
        }));
        assert_eq!(
            got,
            vec![
                e("equipment:dock-1", "serial:A-1", "equipment"),
                e("serial:A-1", "customer:ACME", "customer"),
            ]
        );
    }

    #[test]
    fn genealogy_children_are_targets_and_repeats_and_loops_are_dropped() {
        let got = edges(json!({
            "effective_time": "2026-11-24T08:00:00Z",
            "job_order_id": "WO-1",
            "material": [
                {"definition": "p", "serial": "P-1", "use": "consumed"},
                {"definition": "p", "serial": "P-1", "use": "consumed"},
                {"definition": "a", "serial": "A-1", "use": "produced"},
                {"definition": "a", "serial": "A-1", "use": "consumed"}
            ],
            "genealogy": [
                {"parent": {"serial": "P-1"}, "child": {"serial": "A-1"}, "relation": "component"},
                {"parent": {"lot": "HW-1"}, "child": {"serial": "A-1"}}
            ],
            "corrects": {"event_id": "asm-1", "reason": "wrong part scanned"}
        }));
        assert_eq!(
            got,
            vec![
                e("serial:P-1", "serial:A-1", "material"),
                labelled("serial:P-1", "serial:A-1", "genealogy", "component"),
                e("lot:HW-1", "serial:A-1", "genealogy"),
                e("work_order:WO-1", "serial:A-1", "work_order"),
            ]
        );
        assert_eq!(
            event_thread(&json!({"corrects": {"event_id": "asm-1"}})).corrects,
            Some("asm-1".into())
        );
    }

    #[test]
    fn node_types_come_from_the_prefix() {
        assert_eq!(NodeType::of("lot:L"), Some(NodeType::Lot));
        assert_eq!(NodeType::of("work_order:W"), Some(NodeType::WorkOrder));
        assert_eq!(NodeType::of("sha256:ab"), Some(NodeType::Software));
        assert_eq!(NodeType::of("lot:"), None);
        assert_eq!(NodeType::of("batch:1"), None);
        assert!(NodeType::Sublot.is_material() && !NodeType::Equipment.is_material());
        for k in EdgeKind::ALL {
            assert_eq!(EdgeKind::parse(k.as_str()), Some(k));
        }
    }
}
