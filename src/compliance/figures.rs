//! The parts of a report `build` assembles from the rolled-up assessment: each
//! requirement's line with its deciding results and evidence, the plan-of-action items,
//! the per-family figures and the list of results considered.

use super::{
    status_str, ConsideredResult, Counts, DigestEntries, EvidenceLine, EvidenceRef, FamilyFigures,
    LoggedResult, PoamItem, RequirementLine, ResultLine,
};
use crate::controls::score::{Rolled, Status};
use crate::controls::{catalog, sprs, Framework};
use std::collections::{BTreeMap, HashMap};

/// A requirement's line, and its plan-of-action item when it is not or partially met.
/// `by_index`: the results by log index; `lost`: points lost by requirement id (Rev. 2).
pub(super) fn requirement_line(
    framework: Framework,
    r: &Rolled<'_>,
    by_index: &HashMap<u64, &LoggedResult>,
    lost: &HashMap<&str, u8>,
    digests: &DigestEntries,
) -> (RequirementLine, Option<PoamItem>) {
    let deciding: Vec<&LoggedResult> = r
        .deciding
        .iter()
        .filter_map(|i| by_index.get(i).copied())
        .collect();
    let value = (framework == Framework::Rev2)
        .then(|| sprs::weight(&r.requirement.id))
        .flatten()
        .and_then(|w| match w.points {
            sprs::Points::Value(v) => Some(v),
            sprs::Points::NotScored => None,
        });
    let points_lost = lost.get(r.requirement.id.as_str()).copied();
    let status = status_str(r.status).to_string();
    let poam = matches!(r.status, Status::NotMet | Status::PartiallyMet(_))
        .then(|| poam_item(r, &deciding, &status, points_lost));
    let line = RequirementLine {
        id: r.requirement.id.clone(),
        family: r.requirement.family.clone(),
        title: r.requirement.title.clone(),
        status,
        partial: match r.status {
            Status::PartiallyMet(p) => p.map(str::to_string),
            _ => None,
        },
        value,
        points_lost,
        objectives_met: r.objectives_met,
        objectives_total: r.objectives_total,
        latest_result: r.deciding.last().copied(),
        results: deciding.iter().map(|d| result_line(d)).collect(),
        justification: latest_with(&deciding, |d| d.justification.is_some())
            .and_then(|d| d.justification.clone()),
        odp: latest_with(&deciding, |d| d.odp.is_some()).and_then(|d| d.odp.clone()),
        evidence: evidence_lines(&deciding, digests),
    };
    (line, poam)
}

/// The latest deciding result for which `f` holds.
fn latest_with<'a>(
    deciding: &[&'a LoggedResult],
    f: impl Fn(&LoggedResult) -> bool,
) -> Option<&'a LoggedResult> {
    deciding.iter().rev().find(|d| f(d)).copied()
}

/// The plan of action comes from the latest deciding result that has one.
fn poam_item(
    r: &Rolled<'_>,
    deciding: &[&LoggedResult],
    status: &str,
    points_lost: Option<u8>,
) -> PoamItem {
    let plan = latest_with(deciding, |d| d.plan_of_action.is_some());
    PoamItem {
        requirement: r.requirement.id.clone(),
        title: r.requirement.title.clone(),
        status: status.to_string(),
        points_lost,
        milestone: plan
            .and_then(|p| p.plan_of_action.as_ref())
            .map(|p| p.milestone.clone()),
        description: plan
            .and_then(|p| p.plan_of_action.as_ref())
            .map(|p| p.description.clone()),
        result: plan.map(|p| p.index),
    }
}

fn result_line(d: &LoggedResult) -> ResultLine {
    ResultLine {
        index: d.index,
        result_id: d.result_id.clone(),
        target: d.target.clone(),
        status: status_str(d.status).to_string(),
        assessor: d.assessor.clone(),
        assessed_on: d.assessed_on.clone(),
        effective_on: d.effective_on.clone(),
        inclusion_proof: Vec::new(),
    }
}

/// The entries the deciding results cite, ascending; a digest counts through the entry
/// that proves it, and one without such an entry is left out.
fn evidence_lines(deciding: &[&LoggedResult], digests: &DigestEntries) -> Vec<EvidenceLine> {
    let mut evidence: BTreeMap<u64, Option<String>> = BTreeMap::new();
    for d in deciding {
        for e in &d.evidence {
            match e {
                EvidenceRef::Entry(i) => {
                    evidence.entry(*i).or_insert(None);
                }
                EvidenceRef::Digest(dg) => {
                    if let Some(i) = digests.get(dg) {
                        evidence.insert(*i, Some(dg.clone()));
                    }
                }
            }
        }
    }
    evidence
        .into_iter()
        .map(|(entry, digest)| EvidenceLine {
            entry,
            digest,
            inclusion_proof: Vec::new(),
        })
        .collect()
}

/// The status counts and (Rev. 2) points of each family of the framework's catalog.
pub(super) fn families(
    framework: Framework,
    requirements: &[RequirementLine],
    rolled: &[Rolled<'_>],
) -> Vec<FamilyFigures> {
    catalog(framework)
        .families
        .iter()
        .map(|f| {
            let mut c = Counts::default();
            let mut points: Option<(u32, u32)> = None;
            for line in requirements.iter().filter(|l| l.family == f.id) {
                let r = rolled.iter().find(|r| r.requirement.id == line.id);
                if let Some(r) = r {
                    c.add(r.status);
                }
                if let Some(v) = line.value {
                    let p = points.get_or_insert((0, 0));
                    p.0 += u32::from(line.points_lost.unwrap_or(0));
                    p.1 += u32::from(v);
                }
            }
            FamilyFigures {
                id: f.id.clone(),
                title: f.title.clone(),
                requirements: c.met
                    + c.partially_met
                    + c.not_met
                    + c.not_applicable
                    + c.not_assessed,
                met: c.met,
                partially_met: c.partially_met,
                not_met: c.not_met,
                not_applicable: c.not_applicable,
                not_assessed: c.not_assessed,
                points_lost: points.map(|p| p.0),
                points_possible: points.map(|p| p.1),
            }
        })
        .collect()
}

/// Every result below tree size `n`, in log order, its cited digests resolved to the
/// entries that prove them.
pub(super) fn considered(
    results: &[LoggedResult],
    n: u64,
    digests: &DigestEntries,
) -> Vec<ConsideredResult> {
    results
        .iter()
        .filter(|r| r.index < n)
        .map(|r| ConsideredResult {
            index: r.index,
            result_id: r.result_id.clone(),
            requirement: r.requirement.clone(),
            target: r.target.clone(),
            status: status_str(r.status).to_string(),
            assessor: r.assessor.clone(),
            assessed_on: r.assessed_on.clone(),
            evidence: r
                .evidence
                .iter()
                .filter_map(|e| match e {
                    EvidenceRef::Entry(i) => Some(*i),
                    EvidenceRef::Digest(d) => digests.get(d).copied(),
                })
                .collect(),
        })
        .collect()
}
