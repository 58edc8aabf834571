//! The NIST SP 800-171 requirement catalogs and the DoD assessment methodology's values,
//! loaded from the source files in `controls/` (embedded at build time, parsed once on
//! first use). Owns requirement and objective identifiers as results will name them;
//! must not hold results, scores of a log, or any I/O.
//!
//! - Rev. 2: 110 requirements in 14 families, each with its SP 800-171A assessment
//!   objectives (`3.1.1[a]`…), from a community OSCAL conversion whose ids need trimming.
//! - Rev. 3: 97 requirements in 17 families from NIST's official OSCAL catalog; withdrawn
//!   controls are not requirements; organisation-defined parameters (ODPs) are listed.
//! - DoD Assessment Methodology v1.2.1 values for Rev. 2 (`sprs`) and the score they
//!   give a set of results (`score`).

mod oscal;
pub mod score;
pub mod sprs;

use std::str::FromStr;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Framework {
    Rev2,
    Rev3,
}

impl Framework {
    pub const ALL: [Framework; 2] = [Framework::Rev2, Framework::Rev3];

    /// The identifier results use: `nist-800-171r2` or `nist-800-171r3`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Framework::Rev2 => "nist-800-171r2",
            Framework::Rev3 => "nist-800-171r3",
        }
    }
}

impl FromStr for Framework {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Framework::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .ok_or_else(|| format!("unknown framework {s:?}; use nist-800-171r2 or nist-800-171r3"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// `3.1` (Rev. 2) or `03.01` (Rev. 3).
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    /// `3.1.1[a]` (Rev. 2) or `A.03.01.01.a` (Rev. 3).
    pub id: String,
    pub prose: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// `3.1.1` (Rev. 2) or `03.01.01` (Rev. 3).
    pub id: String,
    pub family: String,
    pub title: String,
    pub objectives: Vec<Objective>,
    /// Organisation-defined parameter ids (Rev. 3), e.g. `A.03.09.01.ODP.01`.
    pub parameters: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub framework: Framework,
    pub families: Vec<Family>,
    /// In catalog order (by family, then number).
    pub requirements: Vec<Requirement>,
}

impl Catalog {
    pub fn requirement(&self, id: &str) -> Option<&Requirement> {
        self.requirements.iter().find(|r| r.id == id)
    }

    /// The requirement an assessment objective belongs to, with the objective.
    pub fn objective(&self, id: &str) -> Option<(&Requirement, &Objective)> {
        self.requirements
            .iter()
            .find_map(|r| r.objectives.iter().find(|o| o.id == id).map(|o| (r, o)))
    }
}

/// The catalog of `framework`.
pub fn catalog(framework: Framework) -> &'static Catalog {
    static REV2: OnceLock<Catalog> = OnceLock::new();
    static REV3: OnceLock<Catalog> = OnceLock::new();
    // The embedded files are fixed at build time and covered by tests, so a parse
    // failure is a broken build, not a runtime condition.
    match framework {
        Framework::Rev2 => REV2.get_or_init(|| {
            oscal::rev2(include_str!(
                "../../controls/NIST_SP-800-171_rev2_catalog.json"
            ))
            .expect("controls/NIST_SP-800-171_rev2_catalog.json parses")
        }),
        Framework::Rev3 => REV3.get_or_init(|| {
            oscal::rev3(include_str!(
                "../../controls/NIST_SP800-171_rev3_catalog.json"
            ))
            .expect("controls/NIST_SP800-171_rev3_catalog.json parses")
        }),
    }
}
