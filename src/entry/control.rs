//! The `control` kind: NIST SP 800-171 assessment results from assessors, checked against
//! the catalogs in `controls`. Pure: evidence references are returned for the caller to
//! check against the log; this module cannot know what the log holds.
//!
//! ```json
//! {"result_id": "2026-q4/3.5.3", "framework": "nist-800-171r2", "requirement": "3.5.3",
//!  "status": "partially_met", "partial": "mfa_remote_and_privileged_only",
//!  "assessor": "j.doe", "assessed_on": "2026-11-20", "effective_on": "2026-11-20",
//!  "plan_of_action": {"milestone": "2027-02-28", "description": "MFA for all users"},
//!  "evidence": [{"entry": 42}, {"digest": "sha256:…"}]}
//! ```
//! `objective` (e.g. `3.1.1[a]`) may stand instead of `requirement`; `odp` (Rev. 3) maps
//! the requirement's organisation-defined parameter ids to their values;
//! `justification` is required for `not_applicable`.

use super::validate::{batch, check_digest, Obj};
use super::EntryError;
use super::{Kind, PreparedEntry};
use crate::controls::{catalog, Framework, Requirement};
use serde_json::Value;

/// What a result points at as evidence; the caller checks that it is in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// An entry of the log, by index.
    Entry { path: String, index: u64 },
    /// An artifact logged under this digest subject (`sha256:…`).
    Digest { path: String, digest: String },
}

/// The method-defined partial implementations (DoD Assessment Methodology v1.2.1): the
/// only partial statuses that earn anything, each tied to its requirement.
pub const PARTIALS: [(&str, &str); 2] = [
    ("3.5.3", "mfa_remote_and_privileged_only"),
    ("3.13.11", "encryption_not_fips_validated"),
];

const STATUSES: [&str; 5] = [
    "met",
    "not_met",
    "partially_met",
    "not_applicable",
    "not_assessed",
];

/// Parses one result or an array of up to [`super::MAX_BATCH`].
pub fn parse_results(
    body: &[u8],
    submitter: &str,
) -> Result<Vec<(PreparedEntry, Vec<Evidence>)>, EntryError> {
    let empty = EntryError::Invalid {
        path: String::new(),
        reason: "an empty array; send at least one result".into(),
    };
    batch(body, empty, |item, path| {
        parse_result(item, submitter, path)
    })
}

fn date(o: &Obj, key: &str) -> Result<(), EntryError> {
    let d = o.req_str(key, 10)?;
    chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
        .map(|_| ())
        .map_err(|_| o.err(key, format!("{d:?} is not a date of the form YYYY-MM-DD")))
}

fn parse_result(
    v: Value,
    submitter: &str,
    path: &str,
) -> Result<(PreparedEntry, Vec<Evidence>), EntryError> {
    let o = Obj::new(&v, path)?;
    o.deny_unknown(&[
        "result_id",
        "framework",
        "requirement",
        "objective",
        "status",
        "partial",
        "justification",
        "assessor",
        "assessed_on",
        "effective_on",
        "odp",
        "plan_of_action",
        "evidence",
    ])?;
    let result_id = o.req_str("result_id", 128)?;
    let fw_name = o.req_str("framework", 32)?;
    let framework: Framework = fw_name.parse().map_err(|e| o.err("framework", e))?;
    let (which, requirement) = assessed(&o, framework, fw_name)?;
    let status = o.req_str("status", 32)?;
    if !STATUSES.contains(&status) {
        return Err(o.err(
            "status",
            format!("{status:?} is not one of {}", STATUSES.join(", ")),
        ));
    }
    check_partial(&o, framework, requirement, which, status)?;
    let justification = o.opt_text("justification")?;
    if status == "not_applicable" && justification.is_none() {
        return Err(o.err(
            "justification",
            "required for not_applicable: say why the requirement does not apply",
        ));
    }
    o.req_text("assessor")?;
    date(&o, "assessed_on")?;
    date(&o, "effective_on")?;
    check_plan(&o, status)?;
    check_odp(&o, &v, framework, requirement)?;
    let mut subjects = vec![format!("control:{}:{}", framework.as_str(), requirement.id)];
    let evidence = evidence(&o, &mut subjects)?;
    let entry = PreparedEntry::new(
        Kind::Control,
        submitter,
        subjects,
        v.clone(),
        super::dedup::control_key(result_id),
    )?;
    Ok((entry, evidence))
}

/// What the result assesses: `requirement` or `objective` (which of the two it names),
/// and the requirement of the framework's catalog it belongs to.
fn assessed<'o>(
    o: &Obj<'o>,
    framework: Framework,
    fw_name: &str,
) -> Result<(&'o str, &'static Requirement), EntryError> {
    let cat = catalog(framework);
    let (which, id) = o.one_of(&["requirement", "objective"])?;
    let requirement = if which == "requirement" {
        cat.requirement(id).ok_or_else(|| {
            o.err(
                "requirement",
                format!("{id:?} is not a requirement of {fw_name}"),
            )
        })?
    } else {
        cat.objective(id).map(|(r, _)| r).ok_or_else(|| {
            o.err(
                "objective",
                format!("{id:?} is not an assessment objective of {fw_name}"),
            )
        })?
    };
    Ok((which, requirement))
}

/// `partial` names the method-defined partial implementation of the requirement, only
/// with `partially_met`, which applies to a requirement and not to an objective.
fn check_partial(
    o: &Obj,
    framework: Framework,
    requirement: &Requirement,
    which: &str,
    status: &str,
) -> Result<(), EntryError> {
    let partial = o.opt_str("partial", 64)?;
    let defined = PARTIALS
        .iter()
        .find(|(r, _)| framework == Framework::Rev2 && *r == requirement.id)
        .map(|(_, kind)| *kind);
    match (status, partial) {
        ("partially_met", _) if which == "objective" => Err(o.err(
            "status",
            "an assessment objective is met or not met; partially_met applies to a requirement",
        )),
        ("partially_met", Some(p)) if Some(p) != defined => Err(o.err(
            "partial",
            match defined {
                Some(d) => format!(
                    "{p:?}: the method defines only {d:?} for {}",
                    requirement.id
                ),
                None => format!(
                    "{p:?}: the method defines no partial implementation of {}; omit it",
                    requirement.id
                ),
            },
        )),
        ("partially_met", None) if defined.is_some() => Err(o.err(
            "partial",
            format!(
                "required for partially_met {}: {:?}",
                requirement.id,
                defined.unwrap_or_default()
            ),
        )),
        (s, Some(_)) if s != "partially_met" => {
            Err(o.err("partial", "only with status partially_met"))
        }
        _ => Ok(()),
    }
}

/// A result that is not met or partially met needs a plan of action; no other may
/// carry one.
fn check_plan(o: &Obj, status: &str) -> Result<(), EntryError> {
    match (status, o.opt_obj("plan_of_action")?) {
        ("not_met" | "partially_met", None) => Err(o.err(
            "plan_of_action",
            format!("required when {status}: a milestone date and a description"),
        )),
        ("not_met" | "partially_met", Some(p)) => {
            p.deny_unknown(&["milestone", "description"])?;
            date(&p, "milestone")?;
            p.req_text("description")?;
            Ok(())
        }
        (_, Some(_)) => Err(o.err(
            "plan_of_action",
            "only for results that are not met or partially met",
        )),
        _ => Ok(()),
    }
}

/// `odp` (Rev. 3 only) gives non-empty values to parameters of the requirement.
fn check_odp(
    o: &Obj,
    v: &Value,
    framework: Framework,
    requirement: &Requirement,
) -> Result<(), EntryError> {
    let Some(odp) = o.opt_obj("odp")? else {
        return Ok(());
    };
    if framework != Framework::Rev3 {
        return Err(o.err(
            "odp",
            "organisation-defined parameters exist only in nist-800-171r3",
        ));
    }
    let map = v["odp"].as_object().into_iter().flatten();
    for (k, val) in map {
        if !requirement.parameters.iter().any(|p| p == k) {
            return Err(odp.err(
                k,
                format!(
                    "not a parameter of {}; its parameters are {}",
                    requirement.id,
                    requirement.parameters.join(", ")
                ),
            ));
        }
        if val.as_str().is_none_or(|s| s.trim().is_empty()) {
            return Err(odp.err(k, "must be a non-empty string"));
        }
    }
    Ok(())
}

/// The cited evidence, each an entry index or a digest; a digest is also added to the
/// entry's `subjects`, so the result is found by the artifact it cites.
fn evidence(o: &Obj, subjects: &mut Vec<String>) -> Result<Vec<Evidence>, EntryError> {
    let mut evidence = Vec::new();
    for (p, item) in o.opt_array("evidence")? {
        let e = Obj::new(item, &p)?;
        e.deny_unknown(&["entry", "digest"])?;
        match (item.get("entry"), item.get("digest")) {
            (Some(n), None) => {
                let index = n
                    .as_u64()
                    .ok_or_else(|| e.err("entry", "must be an entry index (a whole number)"))?;
                evidence.push(Evidence::Entry {
                    path: e.path("entry"),
                    index,
                });
            }
            (None, Some(_)) => {
                let digest = e.req_str("digest", 71)?;
                check_digest(&e, "digest", digest)?;
                subjects.push(digest.to_string());
                evidence.push(Evidence::Digest {
                    path: e.path("digest"),
                    digest: digest.to_string(),
                });
            }
            _ => return Err(e.err("entry", "exactly one of entry, digest is required")),
        }
    }
    Ok(evidence)
}
