//! The renderings of a report: JSON (the re-derivable form), Markdown for pull requests
//! and wikis, a printable HTML page, and an OSCAL assessment-results document. Each is a
//! pure function of the report; none may compute a figure of its own.

mod html;
mod markdown;
mod oscal;

use super::Report;
use std::str::FromStr;

pub use oscal::OSCAL_VERSION;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Markdown,
    Html,
    Oscal,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "json" => Ok(Format::Json),
            "md" => Ok(Format::Markdown),
            "html" => Ok(Format::Html),
            "oscal" => Ok(Format::Oscal),
            _ => Err(format!("unknown format {s:?}; use json, md, html or oscal")),
        }
    }
}

impl Format {
    pub fn content_type(&self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Markdown => "text/markdown; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Oscal => "application/json",
        }
    }
}

/// The report in `format`, ending in a newline.
pub fn render(report: &Report, format: Format) -> String {
    let mut out = match format {
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Oscal => serde_json::to_string_pretty(&oscal::render(report)).unwrap_or_default(),
    };
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The headline: the score, or why there is none, or the implemented share (Rev. 3).
pub(crate) fn headline(r: &Report) -> String {
    match &r.sprs {
        Some(s) => match (s.score, &s.reason) {
            (Some(score), _) => format!("SPRS score {score} of {}", s.maximum),
            (None, Some(reason)) => match s.range {
                Some([best, worst]) => {
                    format!("{reason}; the score will lie between {worst} and {best}")
                }
                None => reason.clone(),
            },
            (None, None) => "no score".to_string(),
        },
        None => format!(
            "{} of {} requirements implemented ({}%)",
            r.totals.implemented, r.totals.requirements, r.totals.percent_implemented
        ),
    }
}

/// The checkpoint's origin, from the first line of its note.
pub(crate) fn origin(r: &Report) -> &str {
    r.checkpoint.note.lines().next().unwrap_or_default()
}

pub(crate) fn title(r: &Report) -> String {
    let name = match r.framework.as_str() {
        "nist-800-171r2" => "NIST SP 800-171 Rev. 2",
        "nist-800-171r3" => "NIST SP 800-171 Rev. 3",
        other => other,
    };
    format!("{name} compliance report")
}

/// A table both human renderings print: its cells are plain text, escaped by the
/// rendering; `numeric` columns are right-aligned.
pub(crate) struct Table {
    pub title: &'static str,
    pub headers: &'static [&'static str],
    pub numeric: &'static [bool],
    pub rows: Vec<Vec<String>>,
    /// Printed instead of an empty table.
    pub when_empty: Option<&'static str>,
}

fn dash<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_string(), |v| v.to_string())
}

/// The tables under the summary, in page order.
pub(crate) fn tables(r: &Report) -> Vec<Table> {
    vec![poam_table(r), trend_table(r), requirements_table(r)]
}

fn poam_table(r: &Report) -> Table {
    Table {
        title: "Plan of action and milestones",
        headers: &[
            "requirement",
            "status",
            "points lost",
            "milestone",
            "plan",
            "result entry",
        ],
        numeric: &[false, false, true, false, false, true],
        rows: r
            .poam
            .iter()
            .map(|p| {
                vec![
                    format!("{} {}", p.requirement, p.title),
                    p.status.clone(),
                    dash(p.points_lost),
                    dash(p.milestone.as_deref()),
                    p.description
                        .clone()
                        .unwrap_or_else(|| "no plan recorded".into()),
                    dash(p.result),
                ]
            })
            .collect(),
        when_empty: Some("Every assessed requirement is met."),
    }
}

fn trend_table(r: &Report) -> Table {
    Table {
        title: "Trend",
        headers: &["tree size", "score", "met", "implemented"],
        numeric: &[true, true, true, true],
        rows: r
            .trend
            .iter()
            .map(|p| {
                vec![
                    p.tree_size.to_string(),
                    dash(p.score),
                    p.met.to_string(),
                    format!("{} ({}%)", p.implemented, p.percent_implemented),
                ]
            })
            .collect(),
        when_empty: None,
    }
}

fn requirements_table(r: &Report) -> Table {
    Table {
        title: "Requirements",
        headers: &[
            "requirement",
            "status",
            "points lost",
            "objectives met",
            "latest result",
            "evidence entries",
        ],
        numeric: &[false, false, true, true, true, false],
        rows: r
            .requirements
            .iter()
            .map(|q| {
                let evidence: Vec<String> =
                    q.evidence.iter().map(|e| e.entry.to_string()).collect();
                vec![
                    format!("{} {}", q.id, q.title),
                    match &q.partial {
                        Some(p) => format!("{} ({p})", q.status),
                        None => q.status.clone(),
                    },
                    dash(q.points_lost),
                    format!("{}/{}", q.objectives_met, q.objectives_total),
                    dash(q.latest_result),
                    if evidence.is_empty() {
                        "–".into()
                    } else {
                        evidence.join(", ")
                    },
                ]
            })
            .collect(),
        when_empty: None,
    }
}
