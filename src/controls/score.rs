//! The DoD Assessment Methodology v1.2.1 score of a set of Rev. 2 results, as pure
//! arithmetic over the catalog and the values in `sprs`. Must not read the log: callers
//! pass the results in log order, and the latest result for a requirement or objective
//! supersedes earlier ones.
//!
//! The method (Section 5 and Annex A, as cited in `controls/sprs-weights-rev2.csv`):
//! - start at 110 and subtract the value of every requirement not met;
//! - a requirement is met only when every one of its assessment objectives is met; a plan
//!   of action does not make it met, and partial implementation earns nothing, except the
//!   two method-defined partial values (3.5.3, 3.13.11);
//! - where the organisation does not permit remote access (3.1.12, 3.1.13), wireless
//!   (3.1.16, 3.1.17) or mobile devices (3.1.18), nothing is subtracted;
//! - without a system security plan (3.12.4 not met) there is no score at all.
//!
//! Choices where the method is silent: `not_applicable` on any other requirement also
//! subtracts nothing but is listed for the auditor; a requirement without results is
//! `not_assessed`, and while any is, no score is given (the range it could take is).

use super::sprs::{self, Points, MAX_SCORE};
use super::{catalog, Framework, Requirement};
use std::collections::HashMap;

/// Requirements whose feature an organisation may simply not permit.
pub const NOT_PERMITTED_FEATURES: [&str; 5] = ["3.1.12", "3.1.13", "3.1.16", "3.1.17", "3.1.18"];

/// The system security plan requirement: without it, no score.
pub const SSP: &str = "3.12.4";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    Met,
    NotMet,
    /// With the method-defined partial kind, if any.
    PartiallyMet(Option<&'static str>),
    NotApplicable,
    NotAssessed,
}

/// One result as logged: a requirement (`3.1.1`) or a single objective (`3.1.1[a]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRow {
    pub target: String,
    pub status: Status,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequirementScore {
    pub requirement: String,
    pub status: Status,
    pub points_lost: u8,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Score {
    /// The score, or `None` with `reason` when the method gives none.
    pub score: Option<i32>,
    pub reason: Option<String>,
    /// While requirements are not assessed: the score if all of them were met, and if
    /// none were.
    pub range: Option<(i32, i32)>,
    pub requirements: Vec<RequirementScore>,
    /// `not_applicable` where the method defines no such case.
    pub unusual_not_applicable: Vec<String>,
}

/// The state of one requirement after roll-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rolled<'c> {
    pub requirement: &'c Requirement,
    pub status: Status,
    /// The positions of the results that decide it (one per objective, deduplicated,
    /// ascending); empty when nothing was assessed.
    pub deciding: Vec<u64>,
    /// Objectives whose deciding result is `met` (or the requirement's own, when it
    /// has no objectives), out of `objectives_total`.
    pub objectives_met: usize,
    pub objectives_total: usize,
}

/// The latest result per requirement and objective of one framework, fed in log order.
/// Later results supersede earlier ones; a requirement-level result speaks for every
/// objective of the requirement.
#[derive(Debug, Clone)]
pub struct Assessment {
    framework: Framework,
    latest: HashMap<String, (u64, Status)>,
}

impl Assessment {
    pub fn new(framework: Framework) -> Self {
        Assessment {
            framework,
            latest: HashMap::new(),
        }
    }

    pub fn framework(&self) -> Framework {
        self.framework
    }

    /// Records the result at log position `at` (ascending across calls) for `target`.
    pub fn record(&mut self, at: u64, target: &str, status: Status) {
        self.latest.insert(target.to_string(), (at, status));
    }

    /// Every requirement of the catalog, in catalog order, with its rolled-up status.
    pub fn roll_up(&self) -> Vec<Rolled<'static>> {
        catalog(self.framework)
            .requirements
            .iter()
            .map(|req| self.roll_up_one(req))
            .collect()
    }

    fn roll_up_one(&self, req: &'static Requirement) -> Rolled<'static> {
        let own = self.latest.get(req.id.as_str()).copied();
        let deciding_of = |o: &str| match (self.latest.get(o).copied(), own) {
            (Some(mine), Some(whole)) => Some(std::cmp::max_by_key(mine, whole, |x| x.0)),
            (mine, whole) => mine.or(whole),
        };
        let objectives: Vec<Option<(u64, Status)>> = if req.objectives.is_empty() {
            vec![own]
        } else {
            req.objectives.iter().map(|o| deciding_of(&o.id)).collect()
        };
        let statuses: Vec<Status> = objectives
            .iter()
            .map(|d| d.map_or(Status::NotAssessed, |d| d.1))
            .collect();
        let mut deciding: Vec<u64> = objectives.iter().flatten().map(|d| d.0).collect();
        deciding.sort_unstable();
        deciding.dedup();
        let partial = statuses
            .iter()
            .copied()
            .find(|s| matches!(s, Status::PartiallyMet(_)));
        let status = if statuses.contains(&Status::NotMet) {
            // A later objective result that is not met fails even a partial requirement.
            Status::NotMet
        } else if let Some(p) = partial {
            p
        } else if statuses.contains(&Status::NotAssessed) {
            Status::NotAssessed
        } else if statuses.iter().all(|s| *s == Status::NotApplicable) {
            Status::NotApplicable
        } else {
            Status::Met
        };
        Rolled {
            requirement: req,
            status,
            deciding,
            objectives_met: statuses.iter().filter(|s| **s == Status::Met).count(),
            objectives_total: statuses.len(),
        }
    }

    /// The DoD SPRS score; only defined for Rev. 2 (`None` otherwise).
    pub fn sprs(&self) -> Option<Score> {
        (self.framework == Framework::Rev2).then(|| sprs_of(&self.roll_up()))
    }
}

/// Scores Rev. 2 results given in log order.
pub fn score(results: &[ResultRow]) -> Score {
    let mut a = Assessment::new(Framework::Rev2);
    for (at, r) in (0u64..).zip(results) {
        a.record(at, &r.target, r.status);
    }
    sprs_of(&a.roll_up())
}

fn sprs_of(rolled: &[Rolled<'_>]) -> Score {
    let statuses: HashMap<&str, Status> = rolled
        .iter()
        .map(|r| (r.requirement.id.as_str(), r.status))
        .collect();
    let mut requirements = Vec::new();
    let mut unusual = Vec::new();
    let mut lost = 0i32;
    let mut unassessed = 0i32;
    for w in sprs::weights() {
        let status = statuses
            .get(w.requirement.as_str())
            .copied()
            .unwrap_or(Status::NotAssessed);
        let value = match w.points {
            Points::Value(v) => v,
            Points::NotScored => 0,
        };
        let points_lost = match status {
            Status::Met => 0,
            Status::NotApplicable => {
                if !NOT_PERMITTED_FEATURES.contains(&w.requirement.as_str()) {
                    unusual.push(w.requirement.clone());
                }
                0
            }
            Status::PartiallyMet(Some(_)) => w.partial.unwrap_or(value),
            Status::PartiallyMet(None) | Status::NotMet => value,
            Status::NotAssessed => {
                unassessed += i32::from(value);
                0
            }
        };
        lost += i32::from(points_lost);
        requirements.push(RequirementScore {
            requirement: w.requirement.clone(),
            status,
            points_lost,
        });
    }
    let ssp = statuses.get(SSP).copied().unwrap_or(Status::NotAssessed);
    let not_assessed: Vec<&str> = requirements
        .iter()
        .filter(|r| r.status == Status::NotAssessed)
        .map(|r| r.requirement.as_str())
        .collect();
    let (score, reason, range) = if !matches!(ssp, Status::Met) {
        (
            None,
            Some(format!(
                "no score: without a system security plan ({SSP} is not met) the assessment \
                 cannot be completed"
            )),
            None,
        )
    } else if !not_assessed.is_empty() {
        (
            None,
            Some(format!(
                "no score yet: {} requirements are not assessed ({})",
                not_assessed.len(),
                not_assessed.join(", ")
            )),
            Some((MAX_SCORE - lost, MAX_SCORE - lost - unassessed)),
        )
    } else {
        (Some(MAX_SCORE - lost), None, None)
    };
    Score {
        score,
        reason,
        range,
        requirements,
        unusual_not_applicable: unusual,
    }
}
