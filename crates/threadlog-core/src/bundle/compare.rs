//! The claimed thread answer of a bundle against the one derived from its entries: the
//! first difference, named by edge, node, correction or truncation, and why.

use super::verify::{fail, BundleFailure};
use serde_json::Value;
use std::collections::HashMap;

fn list<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v[key].as_array().map_or(&[], Vec::as_slice)
}

/// `edge N (from -> to, kind, entry E)`.
fn edge_at(k: usize, e: &Value) -> String {
    let text = |key: &str| match &e[key] {
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        other => other.to_string(),
    };
    format!(
        "edge {k} ({} -> {}, {}, entry {})",
        text("from"),
        text("to"),
        text("kind"),
        text("entry")
    )
}

/// The members of two objects that differ, as `name: claimed, derived is …`.
fn differences(claimed: &Value, derived: &Value) -> String {
    let empty = serde_json::Map::new();
    let (a, b) = (
        claimed.as_object().unwrap_or(&empty),
        derived.as_object().unwrap_or(&empty),
    );
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let shown = |v: Option<&Value>| v.map_or("absent".to_string(), Value::to_string);
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k} is {}, the entries give {}",
                shown(a.get(k)),
                shown(b.get(k))
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Why a claimed edge is not the derived one at its place.
fn edge_reason(claimed: &Value, derived: &[Value], leaves: &HashMap<u64, Value>) -> String {
    if let Some(i) = claimed["entry"].as_u64() {
        if !leaves.contains_key(&i) {
            return "its entry is not in the bundle".into();
        }
    }
    let same = |d: &Value, keys: &[(&str, &str)]| keys.iter().all(|(a, b)| d[*a] == claimed[*b]);
    if let Some(d) = derived
        .iter()
        .find(|d| same(d, &[("from", "from"), ("to", "to"), ("kind", "kind")]))
    {
        return format!(
            "the entries state it otherwise: {}",
            differences(claimed, d)
        );
    }
    if let Some(d) = derived
        .iter()
        .find(|d| same(d, &[("from", "from"), ("to", "to")]))
    {
        return format!(
            "no entry states it as {}; the entries give kind {}",
            claimed["kind"], d["kind"]
        );
    }
    if derived
        .iter()
        .any(|d| same(d, &[("from", "to"), ("to", "from")]))
    {
        return "no entry states it in this direction; the entries state it the other way \
                round"
            .into();
    }
    "no entry in the bundle states this edge".into()
}

/// The claimed thread answer against the one derived from the entries: the first
/// difference, named by edge, node or correction.
pub(super) fn compare(
    claimed: &Value,
    derived: &Value,
    leaves: &HashMap<u64, Value>,
) -> Result<(), BundleFailure> {
    if claimed == derived {
        return Ok(());
    }
    compare_edges(list(claimed, "edges"), list(derived, "edges"), leaves)?;
    compare_nodes(list(claimed, "nodes"), list(derived, "nodes"))?;
    compare_corrections(list(claimed, "corrections"), list(derived, "corrections"))?;
    for key in ["truncated", "truncation"] {
        if claimed.get(key) != derived.get(key) {
            return Err(fail(
                "truncated",
                format!(
                    "{key} is {}, but the walk over the entries gives {}",
                    claimed.get(key).map_or("absent".into(), Value::to_string),
                    derived.get(key).map_or("absent".into(), Value::to_string)
                ),
            ));
        }
    }
    Err(fail(
        "thread",
        format!(
            "it is not the answer derived from the entries: {}",
            differences(claimed, derived)
        ),
    ))
}

/// The first edge, by position, that differs between the claimed and derived lists.
fn compare_edges(
    ce: &[Value],
    de: &[Value],
    leaves: &HashMap<u64, Value>,
) -> Result<(), BundleFailure> {
    for k in 0..ce.len().max(de.len()) {
        match (ce.get(k), de.get(k)) {
            (Some(c), Some(d)) if c == d => {}
            (Some(c), _) => return Err(fail(edge_at(k, c), edge_reason(c, de, leaves))),
            (None, Some(d)) => {
                return Err(fail(
                    edge_at(k, d),
                    "the entries state this edge; the thread answer leaves it out",
                ))
            }
            (None, None) => {}
        }
    }
    Ok(())
}

/// A claimed node that differs or is not reached, a reached one left out, or nodes
/// listed in another order.
fn compare_nodes(cn: &[Value], dn: &[Value]) -> Result<(), BundleFailure> {
    let id = |n: &Value| n["id"].as_str().unwrap_or("?").to_string();
    for c in cn {
        match dn.iter().find(|d| d["id"] == c["id"]) {
            None => {
                return Err(fail(
                    format!("node {}", id(c)),
                    "no edge derived from the entries reaches it",
                ))
            }
            Some(d) if d != c => return Err(fail(format!("node {}", id(c)), differences(c, d))),
            Some(_) => {}
        }
    }
    for d in dn {
        if !cn.iter().any(|c| c["id"] == d["id"]) {
            return Err(fail(
                format!("node {}", id(d)),
                "the entries reach it; the thread answer leaves it out",
            ));
        }
    }
    if cn != dn {
        return Err(fail(
            "thread",
            "its nodes are not listed once each in the derived order",
        ));
    }
    Ok(())
}

/// The first correction, by position, that differs between the claimed and derived lists.
fn compare_corrections(cc: &[Value], dc: &[Value]) -> Result<(), BundleFailure> {
    for k in 0..cc.len().max(dc.len()) {
        let (c, d) = (cc.get(k), dc.get(k));
        if c == d {
            continue;
        }
        let shown = c.or(d).unwrap_or(&Value::Null);
        let at = format!(
            "correction (entry {} corrects {})",
            shown["entry"], shown["corrects"]
        );
        return Err(fail(
            at,
            match (c, d) {
                (Some(_), Some(d)) => format!(
                    "no entry in the bundle states this correction; the entries give entry \
                     {} correcting {}",
                    d["entry"], d["corrects"]
                ),
                (Some(_), None) => "no entry in the bundle states this correction".into(),
                _ => "the entries state this correction; the thread answer leaves it out".into(),
            },
        ));
    }
    Ok(())
}
