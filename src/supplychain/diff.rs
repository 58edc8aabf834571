//! What changed between two SBOMs: components added, removed and changed (version, hashes,
//! licenses). Pure: components in, a [`Diff`] out, and its Markdown rendering.
//!
//! Components are matched by key: the package URL without its version (so an upgrade is
//! a change, not a removal and an addition), else the `bom-ref`, else group and name.
//! Several components may share a key (two versions of one crate in a lock file): equal
//! versions pair first, a single leftover on each side is a change, and any other leftovers
//! are added or removed.

use crate::escape::markdown as cell;
use crate::supplychain::cyclonedx::Component;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diff {
    pub added: Vec<Keyed>,
    pub removed: Vec<Keyed>,
    pub changed: Vec<Change>,
    pub unchanged: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Keyed {
    pub key: String,
    #[serde(flatten)]
    pub component: Component,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub key: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<FromTo<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashes: Option<SetChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub licenses: Option<SetChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FromTo<T> {
    pub from: T,
    pub to: T,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetChange {
    pub added: Vec<String>,
    pub removed: Vec<String>,
}

/// The package URL without `@version` (qualifiers and subpath kept).
fn versionless(purl: &str) -> String {
    let end = purl.find(['?', '#']).unwrap_or(purl.len());
    let (main, rest) = purl.split_at(end);
    // A namespace's `@` is percent-encoded in a purl, so the last `@` starts the version.
    match main.rfind('@') {
        Some(at) => format!("{}{rest}", &main[..at]),
        None => purl.to_string(),
    }
}

pub fn key(c: &Component) -> String {
    if let Some(p) = &c.purl {
        return versionless(p);
    }
    if let Some(r) = &c.bom_ref {
        return format!("bom-ref:{r}");
    }
    match &c.group {
        Some(g) => format!("name:{g}/{}", c.name),
        None => format!("name:{}", c.name),
    }
}

fn set_change(from: &BTreeSet<String>, to: &BTreeSet<String>) -> Option<SetChange> {
    (from != to).then(|| SetChange {
        added: to.difference(from).cloned().collect(),
        removed: from.difference(to).cloned().collect(),
    })
}

fn change(key: &str, a: &Component, b: &Component) -> Option<Change> {
    let c = Change {
        key: key.to_string(),
        name: b.name.clone(),
        version: (a.version != b.version).then(|| FromTo {
            from: a.version.clone(),
            to: b.version.clone(),
        }),
        hashes: set_change(&a.hashes, &b.hashes),
        licenses: set_change(&a.licenses, &b.licenses),
    };
    (c.version.is_some() || c.hashes.is_some() || c.licenses.is_some()).then_some(c)
}

pub fn diff(from: &[Component], to: &[Component]) -> Diff {
    let mut groups: BTreeMap<String, (Vec<&Component>, Vec<&Component>)> = BTreeMap::new();
    for c in from {
        groups.entry(key(c)).or_default().0.push(c);
    }
    for c in to {
        groups.entry(key(c)).or_default().1.push(c);
    }
    let mut d = Diff {
        added: Vec::new(),
        removed: Vec::new(),
        changed: Vec::new(),
        unchanged: 0,
    };
    for (k, (mut old, mut new)) in groups {
        let mut pairs = Vec::new();
        // Equal versions pair first.
        old.retain(|a| match new.iter().position(|b| b.version == a.version) {
            Some(i) => {
                pairs.push((*a, new.remove(i)));
                false
            }
            None => true,
        });
        if old.len() == 1 && new.len() == 1 {
            pairs.push((old.remove(0), new.remove(0)));
        }
        for (a, b) in pairs {
            match change(&k, a, b) {
                Some(c) => d.changed.push(c),
                None => d.unchanged += 1,
            }
        }
        let keyed = |c: &Component| Keyed {
            key: k.clone(),
            component: c.clone(),
        };
        d.removed.extend(old.into_iter().map(keyed));
        d.added.extend(new.into_iter().map(keyed));
    }
    d
}

fn opt(s: &Option<String>) -> String {
    s.as_deref().map_or("–".to_string(), cell)
}

fn list(items: &[String]) -> String {
    items.iter().map(|s| cell(s)).collect::<Vec<_>>().join(", ")
}

/// The diff as a Markdown report; `from` and `to` name the two SBOMs.
pub fn markdown(d: &Diff, from: &str, to: &str) -> String {
    let mut s = format!(
        "# SBOM diff\n\nFrom {} to {}: {} added, {} removed, {} changed, {} unchanged.\n",
        cell(from),
        cell(to),
        d.added.len(),
        d.removed.len(),
        d.changed.len(),
        d.unchanged
    );
    for (title, items) in [("Added", &d.added), ("Removed", &d.removed)] {
        if items.is_empty() {
            continue;
        }
        s.push_str(&format!(
            "\n## {title}\n\n| component | version | licenses | key |\n|---|---|---|---|\n"
        ));
        for k in items {
            let c = &k.component;
            let licenses: Vec<String> = c.licenses.iter().cloned().collect();
            s.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&c.name),
                opt(&c.version),
                list(&licenses),
                cell(&k.key)
            ));
        }
    }
    if !d.changed.is_empty() {
        s.push_str("\n## Changed\n\n| component | version | hashes | licenses | key |\n|---|---|---|---|---|\n");
        for c in &d.changed {
            let version = c.version.as_ref().map_or(String::new(), |v| {
                format!("{} → {}", opt(&v.from), opt(&v.to))
            });
            let sets = |x: &Option<SetChange>| {
                x.as_ref().map_or(String::new(), |x| {
                    let mut parts = Vec::new();
                    if !x.added.is_empty() {
                        parts.push(format!("+ {}", list(&x.added)));
                    }
                    if !x.removed.is_empty() {
                        parts.push(format!("− {}", list(&x.removed)));
                    }
                    parts.join("; ")
                })
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(&c.name),
                version,
                sets(&c.hashes),
                sets(&c.licenses),
                cell(&c.key)
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(name: &str, version: &str, purl: bool) -> Component {
        Component {
            name: name.into(),
            group: None,
            version: Some(version.into()),
            purl: purl.then(|| format!("pkg:cargo/{name}@{version}")),
            bom_ref: None,
            hashes: BTreeSet::from([format!("SHA-256:{name}{version}")]),
            licenses: BTreeSet::from(["MIT".to_string()]),
        }
    }

    #[test]
    fn purl_keys_drop_only_the_version() {
        assert_eq!(versionless("pkg:cargo/serde@1.0.1"), "pkg:cargo/serde");
        assert_eq!(
            versionless("pkg:npm/%40scope/x@2.0?arch=x86#src"),
            "pkg:npm/%40scope/x?arch=x86#src"
        );
        assert_eq!(versionless("pkg:generic/x"), "pkg:generic/x");
    }

    #[test]
    fn an_upgrade_is_a_change_with_version_and_hashes() {
        let d = diff(
            &[comp("serde", "1.0.1", true)],
            &[comp("serde", "1.0.2", true)],
        );
        assert!(d.added.is_empty() && d.removed.is_empty());
        assert_eq!(d.changed.len(), 1);
        let c = &d.changed[0];
        assert_eq!(c.key, "pkg:cargo/serde");
        assert_eq!(c.version.as_ref().unwrap().to.as_deref(), Some("1.0.2"));
        assert_eq!(c.hashes.as_ref().unwrap().added, vec!["SHA-256:serde1.0.2"]);
        assert!(c.licenses.is_none());
    }

    #[test]
    fn additions_removals_and_license_changes() {
        let mut relicensed = comp("b", "1", true);
        relicensed.licenses = BTreeSet::from(["GPL-3.0-only".to_string()]);
        let d = diff(
            &[
                comp("a", "1", true),
                comp("b", "1", true),
                comp("same", "1", false),
            ],
            &[relicensed, comp("c", "1", true), comp("same", "1", false)],
        );
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].key, "pkg:cargo/a");
        assert_eq!(d.added[0].component.name, "c");
        assert_eq!(d.unchanged, 1);
        let l = d.changed[0].licenses.as_ref().unwrap();
        assert_eq!(
            (l.added.clone(), l.removed.clone()),
            (vec!["GPL-3.0-only".into()], vec!["MIT".into()])
        );
        let md = markdown(&d, "x", "y");
        assert!(
            md.contains("1 added, 1 removed, 1 changed, 1 unchanged"),
            "{md}"
        );
        assert!(
            md.contains("| b |  |  | + GPL-3.0-only; − MIT | pkg:cargo/b |"),
            "{md}"
        );
    }

    #[test]
    fn two_versions_under_one_key_pair_by_version_first() {
        let from = [comp("syn", "1.0.0", true), comp("syn", "2.0.0", true)];
        let to = [comp("syn", "2.0.0", true), comp("syn", "2.0.1", true)];
        let d = diff(&from, &to);
        assert_eq!(d.unchanged, 1);
        assert_eq!(d.changed.len(), 1);
        let v = d.changed[0].version.as_ref().unwrap();
        assert_eq!(
            (v.from.as_deref(), v.to.as_deref()),
            (Some("1.0.0"), Some("2.0.1"))
        );
        // Three versions against one: nothing to pair but the equal one.
        let d = diff(
            &from,
            &[comp("syn", "3.0.0", true), comp("syn", "4.0.0", true)],
        );
        assert_eq!((d.added.len(), d.removed.len(), d.changed.len()), (2, 2, 0));
    }

    #[test]
    fn identical_documents_have_no_changes() {
        let a = [comp("a", "1", true), comp("b", "2", false)];
        let d = diff(&a, &a);
        assert_eq!(d.unchanged, 2);
        assert!(d.added.is_empty() && d.removed.is_empty() && d.changed.is_empty());
    }
}
