//! The module map of `docs/architecture.md` is the code's shape: every dependency
//! between modules is drawn there, and drawn in layers.
//!
//! The trusted core stays pure: `merkle` and `note` may use std, sha2, base64,
//! ed25519-dalek, thiserror and the tlog crates they wrap, and nothing that does I/O or
//! reaches into the rest of the crate. The evidence-bundle verifier (`bundle`) is held
//! to the same rules, with the core and the pure thread derivation (`thread::graph`,
//! which itself may use only the edge rules of `entry::edges`) as the only parts of the
//! crate it may use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const FORBIDDEN: &[&str] = &[
    "tokio",
    "sqlx",
    "axum",
    "reqwest",
    "std::fs",
    "std::net",
    "std::process",
    "std::env",
    "std::io::stdin",
    "File::",
    "crate::api",
    "crate::store",
    "crate::sequencer",
    "crate::signer",
    "crate::entry",
    "crate::audit",
    "crate::server",
    "crate::config",
    "crate::ledger",
    "unsafe ",
];

fn sources(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
    out
}

#[test]
fn trusted_core_has_no_io_and_no_upward_dependencies() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for module in ["merkle", "note"] {
        for file in sources(&root.join(module)) {
            let text = std::fs::read_to_string(&file).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                for f in FORBIDDEN {
                    assert!(
                        !code.contains(f),
                        "{}:{}: `{f}` is not allowed in the trusted core",
                        file.display(),
                        n + 1
                    );
                }
                // `note` must not even use `merkle`: each is usable on its own.
                if module == "note" {
                    assert!(
                        !code.contains("crate::merkle"),
                        "{}:{}: note depends on merkle",
                        file.display(),
                        n + 1
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 6, "expected the core's files, found {checked}");
}

/// Attestation verification is pure too: bytes and a policy in, a verdict out. Reading
/// the policy file and logging the entry are the server's work.
#[test]
fn attestation_verification_has_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/supplychain/attest");
    let files = sources(&root);
    assert!(files.len() >= 5, "expected the verifier's files");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for f in FORBIDDEN.iter().filter(|f| **f != "unsafe ") {
                assert!(
                    !code.contains(f),
                    "{}:{}: `{f}` is not allowed in attestation verification",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}

/// Every `crate::` path a line of code uses must start with one of `allowed`.
fn uses_only(file: &Path, n: usize, code: &str, allowed: &[&str], what: &str) {
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        let used = &rest[at..];
        assert!(
            allowed.iter().any(|ok| used.starts_with(ok)),
            "{}:{}: {what} may use only {allowed:?}",
            file.display(),
            n + 1
        );
        rest = &used["crate::".len()..];
    }
}

#[test]
fn the_bundle_verifier_uses_only_the_core_and_the_thread_derivation() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bundle");
    let mut checked = 0;
    for file in sources(&root) {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for f in FORBIDDEN
                .iter()
                .filter(|f| **f != "crate::entry")
                .chain(&["crate::dump", "crate::controls"])
            {
                assert!(
                    !code.contains(f),
                    "{}:{}: `{f}` is not allowed in the bundle verifier",
                    file.display(),
                    n + 1
                );
            }
            uses_only(
                &file,
                n,
                code,
                &["crate::merkle", "crate::note", "crate::thread::graph"],
                "the bundle verifier",
            );
        }
        checked += 1;
    }
    assert!(checked >= 2, "expected the bundle's files, found {checked}");
}

/// The thread answer's derivation, shared by the server and the bundle verifier, is pure:
/// leaves in, an answer out, with the edge rules as its only dependency in the crate.
#[test]
fn the_thread_derivation_is_pure() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/thread/graph.rs");
    let text = std::fs::read_to_string(&file).unwrap();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or_default();
        for f in FORBIDDEN.iter().filter(|f| **f != "crate::entry") {
            assert!(
                !code.contains(f),
                "{}:{}: `{f}` is not allowed in the thread derivation",
                file.display(),
                n + 1
            );
        }
        assert!(
            !code.contains("super::") || code.trim() == "use super::*;",
            "{}:{}: the thread derivation may not use the rest of `thread`",
            file.display(),
            n + 1
        );
        uses_only(
            &file,
            n,
            code,
            // `time::format*` only: the one time format, never the clock.
            &["crate::entry::edges", "crate::time::format"],
            "the thread derivation",
        );
    }
}

/// The module of a source file, as `docs/architecture.md` names it: the top-level
/// module, the binary's `cli`, and `thread::graph` (pure, shared with the bundle
/// verifier) on its own.
fn module_of(rel: &Path) -> String {
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
    if parts == ["main.rs"] || parts[0] == "cli" {
        return "cli".into();
    }
    if parts == ["thread", "graph.rs"] {
        return "thread::graph".into();
    }
    parts[0].trim_end_matches(".rs").to_string()
}

/// The module a path after `crate::` (or `threadlog::` in the binary) names.
fn target_of(path: &str) -> String {
    if path.starts_with("thread::graph") {
        return "thread::graph".into();
    }
    path.split("::").next().unwrap_or_default().to_string()
}

/// Every module one source text uses, by its `crate::`/`threadlog::` paths (grouped
/// imports included), comments left out.
fn used_modules(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find(prefix) {
            rest = &rest[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    used.insert(target_of(item.trim()));
                }
            } else {
                let end = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(rest.len());
                used.insert(target_of(&rest[..end]));
            }
        }
    }
    used
}

/// The dependencies the code has: module → modules it uses.
fn code_map() -> BTreeMap<String, BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in sources(&root) {
        let rel = file.strip_prefix(&root).unwrap();
        if rel == Path::new("lib.rs") {
            continue;
        }
        let me = module_of(rel);
        let prefix = if me == "cli" {
            "threadlog::"
        } else {
            "crate::"
        };
        let text = std::fs::read_to_string(&file).unwrap();
        let used = map.entry(me.clone()).or_default();
        used.extend(
            used_modules(&text, prefix)
                .into_iter()
                .filter(|m| *m != me && !m.is_empty()),
        );
    }
    map
}

/// The dependencies the architecture document draws, in its order: its table under
/// `## Module dependencies`, one row a module, `| `name` | a, b, c |`.
fn drawn_map() -> Vec<(String, BTreeSet<String>)> {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md");
    let doc = std::fs::read_to_string(doc).unwrap();
    let section = doc
        .split("## Module dependencies")
        .nth(1)
        .expect("docs/architecture.md has a `## Module dependencies` section");
    let section = section.split("\n## ").next().unwrap();
    let mut map = Vec::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split('|').map(str::trim).collect();
        let uses = cells[1]
            .split(',')
            .map(|m| m.trim().trim_matches('`').to_string())
            .filter(|m| !m.is_empty() && m != "—")
            .collect();
        map.push((cells[0].trim_matches('`').to_string(), uses));
    }
    map
}

/// The map is enforced positively: every dependency between modules is one the
/// architecture document draws, and every one it draws is still there. The map is
/// layered: a module uses only modules drawn above it, so there is no cycle.
#[test]
fn module_dependencies_are_exactly_the_drawn_map() {
    let code = code_map();
    let rows = drawn_map();
    let mut wrong = Vec::new();
    for (i, (module, uses)) in rows.iter().enumerate() {
        for u in uses {
            if !rows[..i].iter().any(|(above, _)| above == u) {
                wrong.push(format!(
                    "`{module}` uses `{u}`, which is not drawn above it"
                ));
            }
        }
    }
    let drawn: BTreeMap<String, BTreeSet<String>> = rows.into_iter().collect();
    for (module, uses) in &code {
        let Some(allowed) = drawn.get(module) else {
            wrong.push(format!("module `{module}` is not in the map"));
            continue;
        };
        for u in uses.difference(allowed) {
            wrong.push(format!(
                "`{module}` uses `{u}`, which the map does not draw"
            ));
        }
        for u in allowed.difference(uses) {
            wrong.push(format!(
                "the map draws `{module}` → `{u}`, which the code no longer has"
            ));
        }
    }
    for module in drawn.keys().filter(|m| !code.contains_key(*m)) {
        wrong.push(format!("the map names `{module}`, which is not a module"));
    }
    assert!(
        wrong.is_empty(),
        "docs/architecture.md:\n{}",
        wrong.join("\n")
    );
}
