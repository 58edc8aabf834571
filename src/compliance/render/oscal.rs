//! The report as an OSCAL assessment-results document (OSCAL 1.1.3, the version of
//! NIST's Rev. 3 catalog): an observation for every result considered, a finding for
//! every requirement, relevant evidence pointing at ledger entries. UUIDs are derived
//! (version 5) from the log's origin and what they name, so the same log at the same
//! checkpoint gives the same document byte for byte.

use super::super::{Report, RequirementLine};
use super::{headline, origin, title};
use serde_json::{json, Value};
use std::collections::HashMap;
use uuid::Uuid;

pub const OSCAL_VERSION: &str = "1.1.3";

/// Namespace of every UUID threadlog derives (itself derived from the URL namespace).
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://threadlog.dev/oscal")
}

fn uuid(origin: &str, what: &str) -> String {
    Uuid::new_v5(&namespace(), format!("{origin}\n{what}").as_bytes()).to_string()
}

/// OSCAL ids are tokens (no leading digit, no brackets): Rev. 2 ids take the prefix
/// the official Rev. 3 catalog uses, objective brackets become a dotted suffix.
fn control_id(framework: &str, id: &str) -> String {
    let id = id.replace('[', ".").replace(']', "");
    match framework {
        "nist-800-171r3" if id.starts_with("A.") => id,
        _ => format!("SP_800_171_{id}"),
    }
}

/// A date as a date-time at midnight UTC, as OSCAL requires time zones.
fn midnight(date: &str) -> String {
    format!("{date}T00:00:00Z")
}

fn finding(r: &Report, q: &RequirementLine, observations: &HashMap<u64, String>) -> Value {
    let o = origin(r);
    let (state, remark) = match q.status.as_str() {
        "met" => (
            "satisfied",
            "met: every assessment objective is met".to_string(),
        ),
        "not_applicable" => (
            "satisfied",
            format!(
                "not applicable: {}",
                q.justification
                    .as_deref()
                    .unwrap_or("no justification recorded")
            ),
        ),
        "partially_met" => (
            "not-satisfied",
            format!(
                "partially met{}",
                q.partial
                    .as_deref()
                    .map(|p| format!(" ({p})"))
                    .unwrap_or_default()
            ),
        ),
        "not_assessed" => ("not-satisfied", "not assessed".to_string()),
        _ => ("not-satisfied", "not met".to_string()),
    };
    let mut target = json!({
        "type": "objective-id",
        "target-id": control_id(&r.framework, &q.id),
        "status": {"state": state, "remarks": remark},
    });
    if let Some(lost) = q.points_lost {
        target["props"] = json!([{
            "name": "sprs-points-lost",
            "ns": "https://threadlog.dev/ns/oscal",
            "value": lost.to_string(),
        }]);
    }
    let mut f = json!({
        "uuid": uuid(o, &format!("finding {} {} {}", r.framework, r.checkpoint.tree_size, q.id)),
        "title": format!("{} {}", q.id, q.title),
        "description": format!(
            "{} of {} assessment objectives met as of tree size {}.",
            q.objectives_met, q.objectives_total, r.checkpoint.tree_size
        ),
        "target": target,
    });
    let related: Vec<Value> = q
        .results
        .iter()
        .filter_map(|x| observations.get(&x.index))
        .map(|u| json!({"observation-uuid": u}))
        .collect();
    if !related.is_empty() {
        f["related-observations"] = Value::Array(related);
    }
    f
}

pub fn render(r: &Report) -> Value {
    let o = origin(r);
    let n = r.checkpoint.tree_size;
    let as_of = r
        .checkpoint
        .as_of
        .clone()
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string());
    let observations: Vec<(u64, Value)> = r
        .results
        .iter()
        .map(|x| {
            let mut evidence = vec![json!({
                "href": format!("/v1/entries/{}", x.index),
                "description": format!("the result itself: ledger entry {} of {o}, proved against the checkpoint at tree size {n}", x.index),
            })];
            evidence.extend(x.evidence.iter().map(|e| {
                json!({
                    "href": format!("/v1/entries/{e}"),
                    "description": format!("ledger entry {e} of {o}"),
                })
            }));
            (
                x.index,
                json!({
                    "uuid": uuid(o, &format!("observation {}", x.index)),
                    "title": format!("{} {}", x.target, x.status),
                    "description": format!(
                        "Result {:?} by {} on {}: {} is {}.",
                        x.result_id, x.assessor, x.assessed_on, x.target, x.status
                    ),
                    "methods": ["EXAMINE"],
                    "collected": midnight(&x.assessed_on),
                    "relevant-evidence": evidence,
                }),
            )
        })
        .collect();
    let by_index: HashMap<u64, String> = observations
        .iter()
        .map(|(i, v)| (*i, v["uuid"].as_str().unwrap_or_default().to_string()))
        .collect();
    let start = r
        .results
        .iter()
        .map(|x| x.assessed_on.as_str())
        .min()
        .map_or_else(|| as_of.clone(), midnight);
    let mut result = json!({
        "uuid": uuid(o, &format!("result {} {n}", r.framework)),
        "title": format!("{} at tree size {n}", title(r)),
        "description": headline(r),
        "start": start,
        "end": as_of,
        "reviewed-controls": {"control-selections": [{"include-all": {}}]},
        "findings": r.requirements.iter().map(|q| finding(r, q, &by_index)).collect::<Vec<_>>(),
        "remarks": format!("Computed by threadlog from the log {o} at the checkpoint:\n{}", r.checkpoint.note),
    });
    if !observations.is_empty() {
        result["observations"] = Value::Array(observations.into_iter().map(|(_, v)| v).collect());
    }
    json!({
        "assessment-results": {
            "uuid": uuid(o, &format!("assessment-results {} {n}", r.framework)),
            "metadata": {
                "title": title(r),
                "last-modified": as_of,
                "version": format!("tree-size-{n}"),
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {
                "href": "#",
                "remarks": "threadlog records results as they are assessed; there is no separate assessment plan document.",
            },
            "results": [result],
        }
    })
}
