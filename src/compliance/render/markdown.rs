//! The report in Markdown (GitHub-flavoured tables), for pull requests and wikis.

use super::super::Report;
use super::{headline, origin, tables, title, Table};
use crate::escape::markdown as cell;
use std::fmt::Write;

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_string(), |v| cell(&v.to_string()))
}

fn table(s: &mut String, t: &Table) {
    let _ = writeln!(s, "| {} |", t.headers.join(" | "));
    let rule: Vec<&str> = t
        .numeric
        .iter()
        .map(|n| if *n { "---:" } else { "---" })
        .collect();
    let _ = writeln!(s, "|{}|", rule.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(s, "| {} |", cells.join(" | "));
    }
}

pub fn render(r: &Report) -> String {
    let mut s = String::new();
    let t = &r.totals;
    let _ = writeln!(s, "# {}\n", cell(&title(r)));
    let _ = writeln!(s, "**{}**\n", cell(&headline(r)));
    let _ = writeln!(
        s,
        "Log {} at checkpoint tree size **{}** (root `{}`, as of {}); {} results considered.\n",
        cell(origin(r)),
        r.checkpoint.tree_size,
        r.checkpoint.root_hash,
        opt(r.checkpoint.as_of.as_deref()),
        r.results_considered
    );
    let _ = writeln!(s, "## Totals\n");
    let _ = writeln!(s, "| requirements | met | partially met | not met | not applicable | not assessed | implemented |");
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        s,
        "| {} | {} | {} | {} | {} | {} | {} ({}%) |\n",
        t.requirements,
        t.met,
        t.partially_met,
        t.not_met,
        t.not_applicable,
        t.not_assessed,
        t.implemented_of_total,
        t.percent_implemented
    );
    if let Some(sp) = &r.sprs {
        if !sp.unusual_not_applicable.is_empty() {
            let _ = writeln!(
                s,
                "Marked not applicable where the method defines no such case: {}.\n",
                cell(&sp.unusual_not_applicable.join(", "))
            );
        }
    }
    let _ = writeln!(s, "## Families\n");
    let _ = writeln!(s, "| family | requirements | met | partially met | not met | not applicable | not assessed | points lost |");
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for f in &r.families {
        let _ = writeln!(
            s,
            "| {} {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&f.id),
            cell(&f.title),
            f.requirements,
            f.met,
            f.partially_met,
            f.not_met,
            f.not_applicable,
            f.not_assessed,
            match (f.points_lost, f.points_possible) {
                (Some(l), Some(p)) => format!("{l} of {p}"),
                _ => "–".into(),
            }
        );
    }
    for t in tables(r) {
        let _ = writeln!(s, "\n## {}\n", t.title);
        match t.when_empty {
            Some(text) if t.rows.is_empty() => {
                let _ = writeln!(s, "{text}");
            }
            _ => table(&mut s, &t),
        }
    }
    let _ = writeln!(
        s,
        "\nEvery figure is computed from the log's control entries below tree size {}; \
         `threadlog verify --report` re-derives it from the JSON form.",
        r.checkpoint.tree_size
    );
    s
}
