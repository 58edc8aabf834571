//! DoD Assessment Methodology v1.2.1 (Annex A) values of the Rev. 2 requirements, as
//! transcribed in `controls/sprs-weights-rev2.csv`: what each requirement not met costs
//! off the maximum score of 110. Scoring itself belongs to the compliance report.

use std::sync::OnceLock;

/// The maximum score: every requirement met.
pub const MAX_SCORE: i32 = 110;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    /// Subtracted when the requirement is not met: 5, 3 or 1.
    Value(u8),
    /// 3.12.4 (system security plan): without one there is no score at all.
    NotScored,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Weight {
    pub requirement: String,
    pub points: Points,
    /// The method-defined partial value (3.5.3 MFA for remote or privileged users
    /// only; 3.13.11 encryption that is not FIPS-validated), subtracted instead of
    /// `points` for that partial implementation.
    pub partial: Option<u8>,
}

/// The weights, one per Rev. 2 requirement, in file order.
pub fn weights() -> &'static [Weight] {
    static W: OnceLock<Vec<Weight>> = OnceLock::new();
    W.get_or_init(|| {
        parse(include_str!("../../controls/sprs-weights-rev2.csv"))
            .expect("controls/sprs-weights-rev2.csv parses")
    })
}

pub fn weight(requirement: &str) -> Option<&'static Weight> {
    weights().iter().find(|w| w.requirement == requirement)
}

/// The lowest possible score: every scored requirement not met.
pub fn min_score() -> i32 {
    MAX_SCORE
        - weights()
            .iter()
            .map(|w| match w.points {
                Points::Value(p) => i32::from(p),
                Points::NotScored => 0,
            })
            .sum::<i32>()
}

fn parse(csv: &str) -> Result<Vec<Weight>, String> {
    let mut out = Vec::new();
    for (n, line) in csv.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        // The notes column is last and may hold quoted commas.
        let mut cols = line.splitn(4, ',');
        let (req, points, partial) = (cols.next(), cols.next(), cols.next());
        let (Some(req), Some(points), Some(partial)) = (req, points, partial) else {
            return Err(format!("line {}: too few columns", n + 1));
        };
        let points = match points.trim() {
            "NA" => Points::NotScored,
            p => Points::Value(
                p.parse()
                    .map_err(|_| format!("line {}: points {p:?}", n + 1))?,
            ),
        };
        let partial = match partial.trim() {
            "" => None,
            p => Some(
                p.parse()
                    .map_err(|_| format!("line {}: partial {p:?}", n + 1))?,
            ),
        };
        out.push(Weight {
            requirement: req.trim().to_string(),
            points,
            partial,
        });
    }
    Ok(out)
}
