//! Graphviz DOT for a trace (`format=dot`): nodes shaped by type, each edge labelled
//! with its kind and the entry that created it, corrected edges dashed. The checkpoint
//! the trace was computed at is written as comments, signed note included.

use super::trace::Trace;
use crate::escape::{dot as quoted, dot_comment};
use std::fmt::Write;

fn shape(node_type: &str) -> &'static str {
    match node_type {
        "lot" | "sublot" => "box3d",
        "serial" => "box",
        "equipment" => "hexagon",
        "software" => "note",
        "work_order" => "folder",
        "customer" => "house",
        _ => "ellipse",
    }
}

pub fn trace_dot(t: &Trace) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "// threadlog thread of {}", dot_comment(&t.node));
    let _ = writeln!(
        out,
        "// direction {}, depth {}{}",
        t.direction,
        t.depth,
        if t.truncated {
            format!(", truncated: {}", dot_comment(&t.truncation.join("; ")))
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "// computed at tree size {}, root {}; signed checkpoint:",
        t.checkpoint.tree_size, t.checkpoint.root_hash
    );
    for line in t.checkpoint.note.lines() {
        let _ = writeln!(out, "//   {}", dot_comment(line));
    }
    out.push_str("digraph thread {\n  rankdir=LR;\n");
    let _ = writeln!(
        out,
        "  label={};\n  labelloc=t;",
        quoted(&format!(
            "{} ({}) at tree size {}",
            t.node, t.direction, t.checkpoint.tree_size
        ))
    );
    for n in &t.nodes {
        let _ = writeln!(
            out,
            "  {} [shape={}{}];",
            quoted(&n.id),
            shape(n.node_type),
            if n.side == "start" {
                ", penwidth=3"
            } else {
                ""
            }
        );
    }
    for e in &t.edges {
        let mut label = format!("{} #{}", e.kind, e.entry);
        if let Some(l) = &e.label {
            let _ = write!(label, " ({l})");
        }
        if let Some(c) = e.corrects {
            let _ = write!(label, ", corrects #{c}");
        }
        let mut style = String::new();
        if !e.corrected_by.is_empty() {
            let by: Vec<String> = e.corrected_by.iter().map(|b| format!("#{b}")).collect();
            let _ = write!(label, ", corrected by {}", by.join(" "));
            style.push_str(", style=dashed, color=red");
        }
        let _ = writeln!(
            out,
            "  {} -> {} [label={}{style}];",
            quoted(&e.from),
            quoted(&e.to),
            quoted(&label)
        );
    }
    out.push_str("}\n");
    out
}
