//! A logged `control` entry read back as an assessment result. The entry was validated
//! when it was appended; reading it back still checks what the report depends on, so a
//! leaf that is not a well-formed result is named instead of silently skipped.

use crate::controls::score::Status;
use crate::controls::{catalog, Framework};
use crate::entry::{parse_leaf, Envelope, Kind, PARTIALS};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
#[error("entry {index} is not a readable control result: {reason}")]
pub struct ResultError {
    pub index: u64,
    pub reason: String,
}

/// What a result cites as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvidenceRef {
    Entry(u64),
    /// An artifact digest (`sha256:…`), proved by an entry that names it.
    Digest(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOfAction {
    pub milestone: String,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedResult {
    pub index: u64,
    pub framework: Framework,
    /// The requirement the result is about, also when it names one objective.
    pub requirement: String,
    /// What the result names: the requirement or one of its objectives.
    pub target: String,
    pub status: Status,
    pub result_id: String,
    pub assessor: String,
    pub assessed_on: String,
    pub effective_on: String,
    pub justification: Option<String>,
    pub odp: Option<Value>,
    pub plan_of_action: Option<PlanOfAction>,
    pub evidence: Vec<EvidenceRef>,
}

impl LoggedResult {
    /// Reads the result in a leaf; `Ok(None)` for entries of other kinds.
    pub fn from_leaf(index: u64, leaf: &[u8]) -> Result<Option<Self>, ResultError> {
        let envelope = parse_leaf(leaf).map_err(|e| ResultError {
            index,
            reason: e.to_string(),
        })?;
        Self::from_envelope(index, &envelope)
    }

    pub fn from_envelope(index: u64, envelope: &Envelope) -> Result<Option<Self>, ResultError> {
        if envelope.kind != Kind::Control {
            return Ok(None);
        }
        let bad = |reason: &str| ResultError {
            index,
            reason: reason.to_string(),
        };
        let body = envelope.body.as_ref().ok_or_else(|| bad("no body"))?;
        let text = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
        let need = |k: &str| text(k).ok_or_else(|| bad(&format!("no {k}")));
        let framework: Framework = need("framework")?.parse().map_err(|e: String| bad(&e))?;
        let cat = catalog(framework);
        let (requirement, target) = match (text("requirement"), text("objective")) {
            (Some(r), None) => {
                cat.requirement(&r)
                    .ok_or_else(|| bad(&format!("unknown requirement {r}")))?;
                (r.clone(), r)
            }
            (None, Some(o)) => {
                let (r, _) = cat
                    .objective(&o)
                    .ok_or_else(|| bad(&format!("unknown objective {o}")))?;
                (r.id.clone(), o)
            }
            _ => return Err(bad("neither requirement nor objective")),
        };
        let status = match need("status")?.as_str() {
            "met" => Status::Met,
            "not_met" => Status::NotMet,
            "not_applicable" => Status::NotApplicable,
            "not_assessed" => Status::NotAssessed,
            "partially_met" => Status::PartiallyMet(
                text("partial")
                    .map(|p| {
                        PARTIALS
                            .iter()
                            .find(|(r, kind)| *r == requirement && *kind == p)
                            .map(|(_, kind)| *kind)
                            .ok_or_else(|| {
                                bad(&format!("partial {p:?} is not defined for {requirement}"))
                            })
                    })
                    .transpose()?,
            ),
            s => return Err(bad(&format!("unknown status {s:?}"))),
        };
        let plan_of_action = plan_of_action(body).map_err(bad)?;
        let evidence = evidence_refs(body).map_err(bad)?;
        Ok(Some(LoggedResult {
            index,
            framework,
            requirement,
            target,
            status,
            result_id: need("result_id")?,
            assessor: need("assessor")?,
            assessed_on: need("assessed_on")?,
            effective_on: need("effective_on")?,
            justification: text("justification"),
            odp: body.get("odp").cloned(),
            plan_of_action,
            evidence,
        }))
    }
}

/// The result's plan of action, if it has one; a plan needs a milestone.
fn plan_of_action(body: &Value) -> Result<Option<PlanOfAction>, &'static str> {
    let Some(p) = body.get("plan_of_action") else {
        return Ok(None);
    };
    Ok(Some(PlanOfAction {
        milestone: p
            .get("milestone")
            .and_then(Value::as_str)
            .ok_or("plan_of_action without milestone")?
            .to_string(),
        description: p
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
    }))
}

/// The evidence a result cites: each item an entry index or a document digest.
fn evidence_refs(body: &Value) -> Result<Vec<EvidenceRef>, &'static str> {
    body.get("evidence")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| {
            match (
                e.get("entry").and_then(Value::as_u64),
                e.get("digest").and_then(Value::as_str),
            ) {
                (Some(i), None) => Ok(EvidenceRef::Entry(i)),
                (None, Some(d)) => Ok(EvidenceRef::Digest(d.to_string())),
                _ => Err("evidence that is neither an entry nor a digest"),
            }
        })
        .collect()
}
