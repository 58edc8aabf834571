//! The fields of an `event`: what each must hold, in the order they are checked, and
//! the typed subjects they name.

use super::validate::{check_digest, type_name, Obj};
use super::EntryError;
use serde_json::Value;

const FIELDS: &[&str] = &[
    "event_id",
    "event_type",
    "effective_time",
    "hierarchy_scope",
    "source",
    "job_order_id",
    "segment",
    "equipment",
    "personnel",
    "material",
    "genealogy",
    "quality",
    "program",
    "software_refs",
    "customer",
    "corrects",
    "data",
];
const MATERIAL_IDS: &[&str] = &["lot", "sublot", "serial"];

/// Checks an event and returns its id and subjects.
pub(super) fn validate(v: &Value, path: &str) -> Result<(String, Vec<String>), EntryError> {
    let o = Obj::new(v, path)?;
    o.deny_unknown(FIELDS)?;
    let event_id = check_header(&o)?;

    let mut subjects = Vec::new();
    check_actors(&o, &mut subjects)?;
    for (p, item) in o.opt_array("material")? {
        check_material(item, p, &mut subjects)?;
    }
    check_genealogy(&o, &mut subjects)?;
    if let Some(q) = o.opt_obj("quality")? {
        check_quality(&q)?;
    }
    check_software(&o, &mut subjects)?;
    check_customer(&o, &mut subjects)?;
    check_correction(&o, event_id)?;
    if let Some(d) = v.get("data") {
        if !d.is_object() {
            return Err(o.err("data", format!("expected an object, got {}", type_name(d))));
        }
    }
    Ok((event_id.to_string(), subjects))
}

/// The what, when and where of an event; returns its id.
fn check_header<'a>(o: &Obj<'a>) -> Result<&'a str, EntryError> {
    let event_id = o.req_str("event_id", 128)?;
    if event_id.chars().any(char::is_whitespace) {
        return Err(o.err("event_id", "must not contain whitespace"));
    }
    let event_type = o.req_str("event_type", 64)?;
    if !event_type
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        return Err(o.err(
            "event_type",
            format!("{event_type:?} must use only a-z, 0-9, '_', '.', '-' (e.g. part_printed)"),
        ));
    }
    let t = o.req_text("effective_time")?;
    chrono::DateTime::parse_from_rfc3339(t).map_err(|e| {
        o.err(
            "effective_time",
            format!("{t:?} is not an RFC 3339 timestamp with offset ({e})"),
        )
    })?;
    let scope = o.req_obj("hierarchy_scope")?;
    scope.deny_unknown(&["site", "area", "work_center", "unit"])?;
    scope.req_text("site")?;
    for k in ["area", "work_center", "unit"] {
        scope.opt_text(k)?;
    }
    o.req_text("source")?;
    o.opt_text("segment")?;
    Ok(event_id)
}

/// The job order, equipment and personnel; only the first two are subjects.
fn check_actors(o: &Obj, subjects: &mut Vec<String>) -> Result<(), EntryError> {
    if let Some(wo) = o.opt_text("job_order_id")? {
        subjects.push(format!("work_order:{wo}"));
    }
    for (key, typed) in [("equipment", true), ("personnel", false)] {
        for (p, item) in o.opt_array(key)? {
            let r = Obj::new(item, &p)?;
            r.deny_unknown(&["id", "role"])?;
            let id = r.req_text("id")?;
            r.opt_text("role")?;
            if typed {
                subjects.push(format!("equipment:{id}"));
            }
        }
    }
    Ok(())
}

/// One element of `material`, at `p`: its ids are subjects.
fn check_material(item: &Value, p: String, subjects: &mut Vec<String>) -> Result<(), EntryError> {
    let m = Obj::new(item, &p)?;
    m.deny_unknown(&[
        "definition",
        "lot",
        "sublot",
        "serial",
        "use",
        "quantity",
        "unit",
    ])?;
    m.req_text("definition")?;
    let mut any = false;
    for k in MATERIAL_IDS {
        if let Some(id) = m.opt_text(k)? {
            subjects.push(format!("{k}:{id}"));
            any = true;
        }
    }
    if !any {
        return Err(EntryError::Invalid {
            path: p,
            reason: "one of lot, sublot, serial is required".into(),
        });
    }
    let use_ = m.req_text("use")?;
    if use_ != "consumed" && use_ != "produced" {
        return Err(m.err(
            "use",
            format!("{use_:?} must be \"consumed\" or \"produced\""),
        ));
    }
    match m.opt_number("quantity")? {
        Some(q) if q < 0.0 => return Err(m.err("quantity", "must not be negative")),
        Some(_) if m.opt_text("unit")?.is_none() => {
            return Err(m.err("unit", "required when quantity is given"))
        }
        _ => {
            m.opt_text("unit")?;
        }
    }
    Ok(())
}

/// Parent and child of each genealogy link, one material id each; both are subjects.
fn check_genealogy(o: &Obj, subjects: &mut Vec<String>) -> Result<(), EntryError> {
    for (p, item) in o.opt_array("genealogy")? {
        let g = Obj::new(item, &p)?;
        g.deny_unknown(&["parent", "child", "relation"])?;
        g.opt_text("relation")?;
        for side in ["parent", "child"] {
            let s = g.req_obj(side)?;
            s.deny_unknown(MATERIAL_IDS)?;
            let (k, id) = s.one_of(MATERIAL_IDS)?;
            subjects.push(format!("{k}:{id}"));
        }
    }
    Ok(())
}

fn check_quality(q: &Obj) -> Result<(), EntryError> {
    q.deny_unknown(&["test_spec", "result", "measurements"])?;
    q.req_text("test_spec")?;
    let r = q.req_text("result")?;
    if r != "pass" && r != "fail" {
        return Err(q.err("result", format!("{r:?} must be \"pass\" or \"fail\"")));
    }
    for (p, item) in q.opt_array("measurements")? {
        let m = Obj::new(item, &p)?;
        m.deny_unknown(&["name", "value", "unit", "low", "high"])?;
        m.req_text("name")?;
        if m.opt_number("value")?.is_none() {
            return Err(m.err("value", "missing required field"));
        }
        m.opt_text("unit")?;
        m.opt_number("low")?;
        m.opt_number("high")?;
    }
    Ok(())
}

/// The program and software used, named by digest; the digests are subjects.
fn check_software(o: &Obj, subjects: &mut Vec<String>) -> Result<(), EntryError> {
    if let Some(p) = o.opt_obj("program")? {
        p.deny_unknown(&["name", "digest"])?;
        p.req_text("name")?;
        let d = p.req_text("digest")?;
        check_digest(&p, "digest", d)?;
        subjects.push(d.to_string());
    }
    for (p, item) in o.opt_array("software_refs")? {
        let r = Obj::new(item, &p)?;
        r.deny_unknown(&["digest", "kind", "name"])?;
        let d = r.req_text("digest")?;
        check_digest(&r, "digest", d)?;
        r.opt_text("kind")?;
        r.opt_text("name")?;
        subjects.push(d.to_string());
    }
    Ok(())
}

fn check_customer(o: &Obj, subjects: &mut Vec<String>) -> Result<(), EntryError> {
    if let Some(c) = o.opt_obj("customer")? {
        c.deny_unknown(&["id", "order"])?;
        let id = c.req_text("id")?;
        c.opt_text("order")?;
        subjects.push(format!("customer:{id}"));
    }
    Ok(())
}

/// The event this one corrects, never itself.
fn check_correction(o: &Obj, event_id: &str) -> Result<(), EntryError> {
    if let Some(c) = o.opt_obj("corrects")? {
        c.deny_unknown(&["event_id", "reason"])?;
        let corrected = c.req_str("event_id", 128)?;
        if corrected == event_id {
            return Err(c.err("event_id", "an event cannot correct itself"));
        }
        c.opt_str("reason", 1024)?;
    }
    Ok(())
}
