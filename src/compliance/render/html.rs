//! The report as one printable HTML page: no scripts, no external assets; the family
//! chart is inline SVG.

use super::super::{FamilyFigures, Report};
use super::{headline, origin, tables, title, Table};
use crate::escape::html as esc;
use std::fmt::Write;

fn table(s: &mut String, t: &Table) {
    s.push_str("<table><tr>");
    for h in t.headers {
        let _ = write!(s, "<th>{}</th>", esc(h));
    }
    s.push_str("</tr>\n");
    for row in &t.rows {
        s.push_str("<tr>");
        for (c, numeric) in row.iter().zip(t.numeric) {
            let class = if *numeric { " class=\"n\"" } else { "" };
            let _ = write!(s, "<td{class}>{}</td>", esc(c));
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</table>");
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "–".to_string(), |v| esc(&v.to_string()))
}

/// The statuses in chart order, with their colours (print-safe, distinguishable in grey).
const SEGMENTS: [(&str, &str); 5] = [
    ("met", "#2e7d32"),
    ("partially met", "#f9a825"),
    ("not met", "#c62828"),
    ("not applicable", "#90a4ae"),
    ("not assessed", "#e0e0e0"),
];

fn counts(f: &FamilyFigures) -> [usize; 5] {
    [
        f.met,
        f.partially_met,
        f.not_met,
        f.not_applicable,
        f.not_assessed,
    ]
}

/// One horizontal stacked bar per family, scaled to the largest family.
fn chart(r: &Report) -> String {
    const LABEL: usize = 230;
    const BAR: usize = 420;
    const ROW: usize = 22;
    let widest = r
        .families
        .iter()
        .map(|f| f.requirements)
        .max()
        .unwrap_or(1)
        .max(1);
    let height = ROW * (r.families.len() + 2);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" role="img" aria-label="requirements by status per family" font-family="sans-serif" font-size="12">"#,
        w = LABEL + BAR + 60
    );
    for (row, f) in r.families.iter().enumerate() {
        let y = row * ROW;
        let _ = write!(
            s,
            r#"<text x="0" y="{}">{} {}</text>"#,
            y + 15,
            esc(&f.id),
            esc(&truncate(&f.title, 30))
        );
        let mut x = LABEL;
        for ((name, colour), n) in SEGMENTS.iter().zip(counts(f)) {
            if n == 0 {
                continue;
            }
            let w = n * BAR / widest;
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{}" width="{w}" height="16" fill="{colour}"><title>{n} {name}</title></rect>"#,
                y + 3
            );
            x += w;
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{}">{}/{}</text>"#,
            x + 6,
            y + 15,
            f.met + f.not_applicable,
            f.requirements
        );
    }
    let legend_y = r.families.len() * ROW + 12;
    let mut x = LABEL;
    for (name, colour) in SEGMENTS {
        let _ = write!(
            s,
            r#"<rect x="{x}" y="{legend_y}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}">{name}</text>"#,
            x + 16,
            legend_y + 11
        );
        x += 16 + name.len() * 7 + 14;
    }
    s.push_str("</svg>");
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut t: String = s.chars().take(n - 1).collect();
    t.push('…');
    t
}

const STYLE: &str = "body{font-family:sans-serif;margin:2em;color:#111}\
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}\
th,td{border:1px solid #bbb;padding:0.25em 0.5em;text-align:left;vertical-align:top}\
td.n{text-align:right}.headline{font-size:1.4em;font-weight:bold}\
pre{white-space:pre-wrap;font-size:0.8em;background:#f5f5f5;padding:0.5em}\
@media print{section{break-inside:avoid}}";

pub fn render(r: &Report) -> String {
    let t = &r.totals;
    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        esc(&title(r))
    );
    let _ = writeln!(s, "<h1>{}</h1>", esc(&title(r)));
    let _ = writeln!(s, "<p class=\"headline\">{}</p>", esc(&headline(r)));
    let _ = writeln!(
        s,
        "<p>{} of {} requirements implemented ({}%): {} met, {} partially met, {} not met, {} not applicable, {} not assessed. {} results considered.</p>",
        t.implemented, t.requirements, t.percent_implemented, t.met, t.partially_met, t.not_met,
        t.not_applicable, t.not_assessed, r.results_considered
    );
    let _ = writeln!(s, "<section><h2>Families</h2>{}</section>", chart(r));

    for t in tables(r) {
        let _ = write!(s, "<section><h2>{}</h2>", esc(t.title));
        match t.when_empty {
            Some(text) if t.rows.is_empty() => {
                let _ = write!(s, "<p>{}</p>", esc(text));
            }
            _ => table(&mut s, &t),
        }
        let _ = writeln!(s, "</section>");
    }

    let _ = writeln!(
        s,
        "<section><h2>Checkpoint</h2><p>Computed from the log <code>{}</code> at tree size {} (root <code>{}</code>, as of {}). The JSON form of this report can be re-derived with <code>threadlog verify --report</code>.</p><pre>{}</pre></section>",
        esc(origin(r)),
        r.checkpoint.tree_size,
        esc(&r.checkpoint.root_hash),
        opt(r.checkpoint.as_of.as_deref()),
        esc(&r.checkpoint.note)
    );
    s.push_str("</body></html>\n");
    s
}
