//! The `event` kind: a manufacturing trace event in ISA-95 terms (who/what/where/when,
//! materials consumed and produced, genealogy, quality, program and software used).
//!
//! Subjects are typed ids extracted for queries: `lot:`, `sublot:`, `serial:`,
//! `work_order:`, `equipment:` and `sha256:` digests (programs, software, SBOMs).
//! `effective_time` is kept as the producer wrote it: it is the floor's own statement of
//! when something happened, and the server's time is `integrated_at`.

use super::edges::{event_thread, MAX_EDGES};
use super::envelope::{Kind, PreparedEntry};
use super::event_fields::validate;
use super::validate::batch;
use super::EntryError;
use serde_json::Value;

/// Most events in one request.
pub const MAX_BATCH: usize = 1000;

/// Parses a request body: one event object or an array of 1 to 1000. One bad element
/// rejects the whole body, and the error names it.
pub fn parse_events(body: &[u8], submitter: &str) -> Result<Vec<PreparedEntry>, EntryError> {
    let empty = EntryError::Invalid {
        path: "$".into(),
        reason: "the array of events is empty".into(),
    };
    batch(body, empty, |item, path| prepare(item, submitter, path))
}

/// The idempotency key of an event: its producer-chosen `event_id`.
pub fn dedup_key(event_id: &str) -> String {
    format!("event:{event_id}")
}

/// Validates one event object.
pub fn parse_event(v: Value, submitter: &str) -> Result<PreparedEntry, EntryError> {
    prepare(v, submitter, "")
}

fn prepare(v: Value, submitter: &str, path: &str) -> Result<PreparedEntry, EntryError> {
    let (event_id, subjects) = validate(&v, path)?;
    let thread = event_thread(&v);
    if thread.edges.len() > MAX_EDGES {
        return Err(EntryError::Invalid {
            path: if path.is_empty() {
                "material".into()
            } else {
                format!("{path}.material")
            },
            reason: format!(
                "the event would create {} genealogy edges (consumed × produced items, and \
                 each actor per product), over the limit of {MAX_EDGES}; split it into \
                 several events",
                thread.edges.len()
            ),
        });
    }
    let mut e = PreparedEntry::new(Kind::Event, submitter, subjects, v, dedup_key(&event_id))
        .map_err(|e| match e {
            EntryError::Invalid { path: p, reason } => EntryError::Invalid {
                path: format!("{path}{p}"),
                reason,
            },
            other => other,
        })?;
    e.thread = thread;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn print_job() -> Value {
        json!({
            "event_id": "evt-1", "event_type": "part_printed", "effective_time": "2026-11-24T08:00:00-05:00",
            "hierarchy_scope": {"site": "plant-1", "area": "additive", "work_center": "wc-3", "unit": "p-07"},
            "source": "mes", "job_order_id": "WO-7",
            "equipment": [{"id": "printer-07", "role": "printer"}],
            "personnel": [{"id": "op-12"}],
            "material": [
                {"definition": "PA12", "lot": "FIL-118", "use": "consumed", "quantity": 41.5, "unit": "g"},
                {"definition": "bracket", "serial": "SN-9", "use": "produced"}
            ],
            "genealogy": [{"parent": {"lot": "FIL-118"}, "child": {"serial": "SN-9"}}],
            "quality": {"test_spec": "CMM-1", "result": "pass", "measurements": [{"name": "len", "value": 10.02, "unit": "mm", "low": 9.9, "high": 10.1}]},
            "program": {"name": "bracket.gcode", "digest": format!("sha256:{}", "0a".repeat(32))},
            "software_refs": [{"digest": format!("sha256:{}", "1b".repeat(32)), "kind": "firmware"}],
            "data": {"nozzle_c": 260}
        })
    }

    fn invalid(v: Value) -> (String, String) {
        match parse_event(v, "mes").unwrap_err() {
            EntryError::Invalid { path, reason } => (path, reason),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_realistic_event_yields_typed_subjects() {
        let e = parse_event(print_job(), "mes").unwrap();
        assert_eq!(e.dedup_key, "event:evt-1");
        assert_eq!(
            e.subjects,
            vec![
                "equipment:printer-07".to_string(),
                "lot:FIL-118".into(),
                "serial:SN-9".into(),
                format!("sha256:{}", "0a".repeat(32)),
                format!("sha256:{}", "1b".repeat(32)),
                "work_order:WO-7".into(),
            ]
        );
    }

    #[test]
    fn index_rows_derive_from_the_leaf_alone() {
        let e = parse_event(print_job(), "mes").unwrap();
        let leaf = e.leaf(chrono::DateTime::UNIX_EPOCH).unwrap();
        let d = crate::entry::derive(leaf.as_bytes()).unwrap();
        assert_eq!(d.envelope.subjects, e.subjects);
        assert_eq!(d.dedup_key.as_deref(), Some(e.dedup_key.as_str()));
        assert_eq!(d.content_sha256, e.content_sha256);
        assert_eq!(d.thread, e.thread);
        assert_eq!(e.thread.edges.len(), 6, "{:?}", e.thread.edges);
        let mut other = print_job();
        other["event_id"] = "evt-2".into();
        let o = parse_event(other, "mes")
            .unwrap()
            .leaf(chrono::DateTime::UNIX_EPOCH)
            .unwrap();
        assert_ne!(
            crate::entry::derive(o.as_bytes()).unwrap().content_sha256,
            d.content_sha256
        );
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases: Vec<(&str, Value, &str)> = vec![
            ("event_id", Value::Null, "missing required field"),
            ("event_type", json!("Part Printed"), "must use only"),
            ("effective_time", json!("2026-11-24 08:00"), "RFC 3339"),
            ("effective_time", json!("2026-11-24T08:00:00"), "RFC 3339"),
            ("source", json!(17), "expected a string, got number"),
            ("hierarchy_scope", json!({"area": "x"}), "missing"),
            (
                "program",
                json!({"name": "p", "digest": "sha256:XYZ"}),
                "sha256:<64",
            ),
            (
                "material",
                json!([{"definition": "d", "use": "consumed"}]),
                "one of lot",
            ),
            (
                "material",
                json!([{"definition": "d", "lot": "l", "use": "eaten"}]),
                "consumed",
            ),
            (
                "material",
                json!([{"definition": "d", "lot": "l", "use": "consumed", "quantity": 2}]),
                "required when quantity",
            ),
            (
                "material",
                json!([{"definition": "d", "lot": "l", "use": "consumed", "quantity": -1, "unit": "g"}]),
                "negative",
            ),
            (
                "genealogy",
                json!([{"parent": {"lot": "a", "serial": "b"}, "child": {"serial": "c"}}]),
                "exactly one",
            ),
            (
                "quality",
                json!({"test_spec": "t", "result": "maybe"}),
                "pass",
            ),
            ("data", json!([1]), "expected an object"),
            ("event_id", json!("has space"), "whitespace"),
            ("corrects", json!({"event_id": "evt-1"}), "itself"),
            ("corrects", json!({"reason": "typo"}), "missing"),
            ("customer", json!({"order": "PO-1"}), "missing"),
            (
                "customer",
                json!({"id": "ACME", "name": "x"}),
                "unknown field",
            ),
        ];
        for (field, value, needle) in cases {
            let mut v = print_job();
            if value.is_null() {
                v.as_object_mut().unwrap().remove(field);
            } else {
                v[field] = value;
            }
            let (path, reason) = invalid(v);
            assert!(path.starts_with(field), "{field}: path {path}");
            assert!(reason.contains(needle), "{field}: {reason}");
        }
        let mut v = print_job();
        v["surprise"] = json!(1);
        assert_eq!(invalid(v).0, "surprise");
        let mut v = print_job();
        v["material"][1]["colour"] = json!("red");
        assert_eq!(invalid(v).0, "material[1].colour");
    }

    #[test]
    fn customers_are_subjects_and_corrections_name_their_event() {
        let mut v = print_job();
        v["customer"] = json!({"id": "ACME", "order": "PO-4471"});
        v["corrects"] = json!({"event_id": "evt-0", "reason": "wrong lot scanned"});
        let e = parse_event(v, "mes").unwrap();
        assert!(e.subjects.contains(&"customer:ACME".to_string()));
        assert_eq!(e.thread.corrects.as_deref(), Some("evt-0"));
        assert!(e
            .thread
            .edges
            .iter()
            .any(|x| x.to == "customer:ACME" && x.label.as_deref() == Some("PO-4471")));
    }

    #[test]
    fn an_event_creating_too_many_edges_is_refused() {
        let mut v = print_job();
        let item = |use_: &str, i: usize| json!({"definition": "d", "serial": format!("{use_}-{i}"), "use": use_});
        let mut m: Vec<Value> = (0..101).map(|i| item("consumed", i)).collect();
        m.extend((0..100).map(|i| item("produced", i)));
        v["material"] = Value::Array(m);
        let (path, reason) = invalid(v);
        assert_eq!(path, "material");
        assert!(reason.contains("split"), "{reason}");
    }

    #[test]
    fn a_batch_names_the_bad_element_and_is_bounded() {
        let mut items: Vec<Value> = (0..5)
            .map(|i| {
                let mut e = print_job();
                e["event_id"] = json!(format!("e{i}"));
                e
            })
            .collect();
        items[3]["effective_time"] = json!("soon");
        let body = serde_json::to_vec(&items).unwrap();
        match parse_events(&body, "mes").unwrap_err() {
            EntryError::Invalid { path, .. } => assert_eq!(path, "[3].effective_time"),
            other => panic!("{other:?}"),
        }
        let many = serde_json::to_vec(&vec![print_job(); 1001]).unwrap();
        assert_eq!(
            parse_events(&many, "mes").unwrap_err(),
            EntryError::BatchTooLarge(1001)
        );
        assert!(matches!(
            parse_events(b"[]", "mes").unwrap_err(),
            EntryError::Invalid { .. }
        ));
        assert!(matches!(
            parse_events(b"{\"event_id\": ", "mes").unwrap_err(),
            EntryError::Malformed(_)
        ));
        assert_eq!(
            parse_events(&serde_json::to_vec(&vec![print_job(); 3]).unwrap(), "mes")
                .unwrap()
                .len(),
            3
        );
    }

    #[test]
    fn oversized_data_is_refused_at_parse_time() {
        let mut v = print_job();
        v["data"] = json!({"blob": "x".repeat(70_000)});
        assert!(matches!(
            parse_event(v, "mes").unwrap_err(),
            EntryError::TooLarge { .. }
        ));
    }
}
