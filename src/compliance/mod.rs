//! Compliance reports: the NIST SP 800-171 figures of a log as of one signed
//! checkpoint. Owns the report's content (`build`, pure: a function of the control
//! results below the checkpoint, so anyone holding the log can re-derive it), its
//! renderings (`render`), reading its inputs from a store (`gather`) and re-deriving a
//! saved report from an untrusted source (`recheck`). Scoring rules live in
//! `controls::score`; this module must not add any of its own.

mod figures;
pub mod gather;
pub mod recheck;
pub mod render;
mod result;

pub use result::{EvidenceRef, LoggedResult, PlanOfAction, ResultError};

use crate::controls::score::{Assessment, Rolled, Status};
use crate::controls::{sprs, Framework};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::iter::Peekable;

/// The report format identifier, carried in every JSON report.
pub const FORMAT: &str = "threadlog-compliance-report/1";

/// The signed checkpoint a report is computed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRef {
    pub tree_size: u64,
    /// Base64, as in the checkpoint body.
    pub root_hash: String,
    /// The signed note, exactly as issued.
    pub note: String,
    /// When the checkpoint was made (the integration time of its last entry); `None` for
    /// the empty log.
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub requirements: usize,
    pub met: usize,
    pub partially_met: usize,
    pub not_met: usize,
    pub not_applicable: usize,
    pub not_assessed: usize,
    /// Met or not applicable: requirements that cost nothing.
    pub implemented: usize,
    /// `implemented / requirements`, in percent, one decimal.
    pub percent_implemented: f64,
    /// `implemented/requirements`, e.g. `104/110`.
    pub implemented_of_total: String,
}

/// The DoD Assessment Methodology score (Rev. 2 only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sprs {
    /// `None` when the method gives no score; `reason` says why.
    pub score: Option<i32>,
    pub reason: Option<String>,
    /// While requirements are not assessed: the best and the worst score they leave.
    pub range: Option<[i32; 2]>,
    pub maximum: i32,
    pub minimum: i32,
    /// Requirements marked not applicable where the method defines no such case.
    pub unusual_not_applicable: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FamilyFigures {
    pub id: String,
    pub title: String,
    pub requirements: usize,
    pub met: usize,
    pub partially_met: usize,
    pub not_met: usize,
    pub not_applicable: usize,
    pub not_assessed: usize,
    /// Rev. 2: points lost in this family, out of `points_possible`.
    pub points_lost: Option<u32>,
    pub points_possible: Option<u32>,
}

/// A result a requirement's status rests on, with its proof against the checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResultLine {
    pub index: u64,
    pub result_id: String,
    pub target: String,
    pub status: String,
    pub assessor: String,
    pub assessed_on: String,
    pub effective_on: String,
    pub inclusion_proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceLine {
    /// The entry that is the evidence (for a digest: the first entry naming it).
    pub entry: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    pub inclusion_proof: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequirementLine {
    pub id: String,
    pub family: String,
    pub title: String,
    pub status: String,
    /// The method-defined partial implementation, when that is the status.
    pub partial: Option<String>,
    /// Rev. 2: the requirement's value and what its status costs.
    pub value: Option<u8>,
    pub points_lost: Option<u8>,
    pub objectives_met: usize,
    pub objectives_total: usize,
    /// The latest of `results`.
    pub latest_result: Option<u64>,
    pub results: Vec<ResultLine>,
    pub justification: Option<String>,
    pub odp: Option<Value>,
    pub evidence: Vec<EvidenceLine>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoamItem {
    pub requirement: String,
    pub title: String,
    pub status: String,
    pub points_lost: Option<u8>,
    /// From the latest deciding result with a plan; `None` if none has one.
    pub milestone: Option<String>,
    pub description: Option<String>,
    pub result: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub tree_size: u64,
    pub score: Option<i32>,
    pub met: usize,
    pub implemented: usize,
    pub percent_implemented: f64,
}

/// One result below the checkpoint, superseded or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsideredResult {
    pub index: u64,
    pub result_id: String,
    pub requirement: String,
    pub target: String,
    pub status: String,
    pub assessor: String,
    pub assessed_on: String,
    /// The entries it cites (digests resolved to the entries that name them).
    pub evidence: Vec<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub format: String,
    pub framework: String,
    pub checkpoint: CheckpointRef,
    /// Results of this framework below the checkpoint.
    pub results_considered: usize,
    pub totals: Totals,
    pub sprs: Option<Sprs>,
    pub families: Vec<FamilyFigures>,
    pub requirements: Vec<RequirementLine>,
    pub poam: Vec<PoamItem>,
    /// The figures at each checkpoint where results of this framework were added,
    /// oldest first; the last point is the report's own checkpoint.
    pub trend: Vec<TrendPoint>,
    /// Every result considered, in log order: the assessment's history.
    pub results: Vec<ConsideredResult>,
}

/// What `build` needs beyond the results: where digests are proved.
pub type DigestEntries = HashMap<String, u64>;

pub(crate) fn status_str(s: Status) -> &'static str {
    match s {
        Status::Met => "met",
        Status::NotMet => "not_met",
        Status::PartiallyMet(_) => "partially_met",
        Status::NotApplicable => "not_applicable",
        Status::NotAssessed => "not_assessed",
    }
}

fn percent(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    (part as f64 * 1000.0 / whole as f64).round() / 10.0
}

#[derive(Default)]
struct Counts {
    met: usize,
    partially_met: usize,
    not_met: usize,
    not_applicable: usize,
    not_assessed: usize,
}

impl Counts {
    fn add(&mut self, s: Status) {
        match s {
            Status::Met => self.met += 1,
            Status::PartiallyMet(_) => self.partially_met += 1,
            Status::NotMet => self.not_met += 1,
            Status::NotApplicable => self.not_applicable += 1,
            Status::NotAssessed => self.not_assessed += 1,
        }
    }
}

fn totals(rolled: &[Rolled<'_>]) -> Totals {
    let mut c = Counts::default();
    rolled.iter().for_each(|r| c.add(r.status));
    let n = rolled.len();
    let implemented = c.met + c.not_applicable;
    Totals {
        requirements: n,
        met: c.met,
        partially_met: c.partially_met,
        not_met: c.not_met,
        not_applicable: c.not_applicable,
        not_assessed: c.not_assessed,
        implemented,
        percent_implemented: percent(implemented, n),
        implemented_of_total: format!("{implemented}/{n}"),
    }
}

/// Computes the report at `checkpoint` from the framework's results below it, in log
/// order. `trend_sizes` are the checkpoints where results were added (ascending, the
/// last one being `checkpoint.tree_size`); `digests` maps each cited digest to the entry
/// that proves it. Inclusion proofs are left empty for the caller to attach
/// ([`Report::proof_indexes`], [`Report::attach_proofs`]).
pub fn build(
    framework: Framework,
    checkpoint: CheckpointRef,
    results: &[LoggedResult],
    trend_sizes: &[u64],
    digests: &DigestEntries,
) -> Report {
    let n = checkpoint.tree_size;
    let mut assessment = Assessment::new(framework);
    let mut next = results.iter().peekable();
    let trend = trend(&mut assessment, &mut next, trend_sizes);
    for r in next.filter(|r| r.index < n) {
        assessment.record(r.index, &r.target, r.status);
    }
    let rolled = assessment.roll_up();
    let score = assessment.sprs();
    let by_index: HashMap<u64, &LoggedResult> = results.iter().map(|r| (r.index, r)).collect();
    let lost: HashMap<&str, u8> = score
        .iter()
        .flat_map(|s| &s.requirements)
        .map(|r| (r.requirement.as_str(), r.points_lost))
        .collect();

    let mut requirements = Vec::with_capacity(rolled.len());
    let mut poam = Vec::new();
    for r in &rolled {
        let (line, item) = figures::requirement_line(framework, r, &by_index, &lost, digests);
        poam.extend(item);
        requirements.push(line);
    }
    let families = figures::families(framework, &requirements, &rolled);

    Report {
        format: FORMAT.to_string(),
        framework: framework.as_str().to_string(),
        results_considered: results.iter().filter(|r| r.index < n).count(),
        checkpoint,
        totals: totals(&rolled),
        sprs: score.map(|s| Sprs {
            score: s.score,
            reason: s.reason,
            range: s.range.map(|(a, b)| [a, b]),
            maximum: sprs::MAX_SCORE,
            minimum: sprs::min_score(),
            unusual_not_applicable: s.unusual_not_applicable,
        }),
        families,
        requirements,
        poam,
        trend,
        results: figures::considered(results, n, digests),
    }
}

/// Records the results below each trend size in turn and takes the figures there;
/// leaves `next` at the first result not yet recorded.
fn trend(
    assessment: &mut Assessment,
    next: &mut Peekable<std::slice::Iter<'_, LoggedResult>>,
    trend_sizes: &[u64],
) -> Vec<TrendPoint> {
    let mut trend = Vec::with_capacity(trend_sizes.len());
    for &size in trend_sizes {
        while let Some(r) = next.next_if(|r| r.index < size) {
            assessment.record(r.index, &r.target, r.status);
        }
        let t = totals(&assessment.roll_up());
        trend.push(TrendPoint {
            tree_size: size,
            score: assessment.sprs().and_then(|s| s.score),
            met: t.met,
            implemented: t.implemented,
            percent_implemented: t.percent_implemented,
        });
    }
    trend
}

impl Report {
    /// Every entry the report proves: deciding results and evidence, ascending.
    pub fn proof_indexes(&self) -> Vec<u64> {
        let mut out: Vec<u64> = self
            .requirements
            .iter()
            .flat_map(|r| {
                r.results
                    .iter()
                    .map(|x| x.index)
                    .chain(r.evidence.iter().map(|e| e.entry))
            })
            .collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Fills every inclusion proof from `proofs` (base64 hashes by entry index).
    pub fn attach_proofs(&mut self, proofs: &HashMap<u64, Vec<String>>) {
        for r in &mut self.requirements {
            for x in &mut r.results {
                x.inclusion_proof = proofs.get(&x.index).cloned().unwrap_or_default();
            }
            for e in &mut r.evidence {
                e.inclusion_proof = proofs.get(&e.entry).cloned().unwrap_or_default();
            }
        }
    }

    /// The digests the report cites, with the entries that prove them.
    pub fn digest_entries(&self) -> DigestEntries {
        self.requirements
            .iter()
            .flat_map(|r| &r.evidence)
            .filter_map(|e| e.digest.clone().map(|d| (d, e.entry)))
            .collect()
    }

    pub fn framework(&self) -> Option<Framework> {
        self.framework.parse().ok()
    }
}
