//! The module map of `docs/architecture.md` is the code's shape: every dependency
//! between modules, in the core crate (`crates/threadlog-core`, rows `core::…`) and in
//! the server crate, is drawn there, and drawn in layers.
//!
//! The trusted core stays pure: no crate that does I/O among its dependencies, no I/O
//! from std in its code (and `scripts/test.sh` builds it for `wasm32-unknown-unknown`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What no pure code may name: I/O from std, and the crates that do I/O.
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
    "unsafe ",
];

/// Crates the core may depend on: hashing, encodings, signatures, JSON, time formats.
const CORE_DEPENDENCIES: &[&str] = &[
    "base64",
    "bytes",
    "chrono",
    "ed25519-dalek",
    "hex",
    "serde",
    "serde_json",
    "serde_json_canonicalizer",
    "sha2",
    "signed_note",
    "thiserror",
    "tlog_tiles",
];

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn core_src() -> PathBuf {
    manifest_dir().join("crates/threadlog-core/src")
}

fn sources(dir: &Path) -> Vec<PathBuf> {
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

/// Lines of code (comments left out) of `files` that name something in `forbidden`.
fn forbidden_uses(files: &[PathBuf], forbidden: &[&str]) -> Vec<String> {
    let mut found = vec![];
    for file in files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for f in forbidden.iter().filter(|f| code.contains(**f)) {
                found.push(format!("{}:{}: `{f}`", file.display(), n + 1));
            }
        }
    }
    found
}

#[test]
fn the_trusted_core_does_no_io() {
    let files = sources(&core_src());
    assert!(
        files.len() >= 20,
        "expected the core's files, found {}",
        files.len()
    );
    let found = forbidden_uses(&files, &[FORBIDDEN, &["threadlog::"]].concat());
    assert!(
        found.is_empty(),
        "not allowed in the core:\n{}",
        found.join("\n")
    );
}

/// The core's manifest names only the crates it may use, so no database, HSM, XML or
/// HTTP library can arrive in it through a dependency either.
#[test]
fn the_trusted_core_depends_only_on_pure_crates() {
    let manifest =
        std::fs::read_to_string(manifest_dir().join("crates/threadlog-core/Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let names: Vec<&str> = deps
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().trim())
        .collect();
    assert!(
        names.contains(&"tlog_tiles"),
        "read the core's dependencies: {names:?}"
    );
    for name in names {
        assert!(
            CORE_DEPENDENCIES.contains(&name),
            "the core may not depend on `{name}`"
        );
    }
}

/// Attestation verification is pure too: bytes and a policy in, a verdict out. Reading
/// the policy file and logging the entry are the server's work.
#[test]
fn attestation_verification_has_no_io() {
    let files = sources(&manifest_dir().join("src/supplychain/attest"));
    assert!(files.len() >= 5, "expected the verifier's files");
    let io: Vec<&str> = FORBIDDEN
        .iter()
        .copied()
        .filter(|f| *f != "unsafe ")
        .chain([
            "crate::store",
            "crate::sequencer",
            "crate::api",
            "crate::server",
        ])
        .collect();
    let found = forbidden_uses(&files, &io);
    assert!(
        found.is_empty(),
        "not allowed in attestation verification:\n{}",
        found.join("\n")
    );
}

/// The module of a source file of the server crate, as `docs/architecture.md` names it:
/// the top-level module, or the binary's `cli`.
fn module_of(rel: &Path) -> String {
    let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
    if parts == ["main.rs"] || parts[0] == "cli" {
        return "cli".into();
    }
    parts[0].trim_end_matches(".rs").to_string()
}

/// Where a path leads: into the core (one row a module), the client (one row), or the
/// server crate (one row a top-level module).
#[derive(Clone, Copy)]
enum Crate {
    Core,
    Client,
    Server,
}

/// The module a path names, after a prefix that says which crate it starts from.
/// The server crate re-exports some of the core under its own names (`merkle`,
/// `thread::graph`): those paths name the core's module.
fn target_of(path: &str, krate: Crate) -> String {
    let first = path.split("::").next().unwrap_or_default();
    let server_src = manifest_dir().join("src");
    let server_has =
        server_src.join(first).is_dir() || server_src.join(format!("{first}.rs")).is_file();
    match krate {
        Crate::Client => "client".into(),
        Crate::Core => format!("core::{first}"),
        Crate::Server if path.starts_with("thread::graph") => "core::graph".into(),
        Crate::Server if !server_has => format!("core::{first}"),
        Crate::Server => first.to_string(),
    }
}

/// Every module one source text uses, by the paths after each prefix (grouped imports
/// included), comments left out. A prefix comes with the crate it starts from.
fn used_modules(text: &str, prefixes: &[(&str, Crate)]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        for &(prefix, krate) in prefixes {
            let mut rest = code;
            while let Some(at) = rest.find(prefix) {
                rest = &rest[at + prefix.len()..];
                if let Some(group) = rest.strip_prefix('{') {
                    let end = group.find('}').unwrap_or(group.len());
                    for item in group[..end].split(',') {
                        used.insert(target_of(item.trim(), krate));
                    }
                } else {
                    let end = rest
                        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                        .unwrap_or(rest.len());
                    used.insert(target_of(&rest[..end], krate));
                }
            }
        }
    }
    used
}

/// The paths of the other crates, as any crate names them.
const CRATES: [(&str, Crate); 2] = [
    ("threadlog_core::", Crate::Core),
    ("threadlog_client::", Crate::Client),
];

/// The dependencies the code has, in all three crates: module → modules it uses.
fn code_map() -> BTreeMap<String, BTreeSet<String>> {
    let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut add = |me: String, text: &str, own: (&str, Crate)| {
        let used = used_modules(text, &[&[own][..], &CRATES[..]].concat());
        map.entry(me.clone()).or_default().extend(
            used.into_iter()
                .filter(|m| *m != me && !m.is_empty() && !m.ends_with(':')),
        );
    };
    let core = core_src();
    for file in sources(&core) {
        let rel = file.strip_prefix(&core).unwrap();
        if rel == Path::new("lib.rs") {
            continue;
        }
        let first = rel.iter().next().unwrap().to_str().unwrap();
        let me = format!("core::{}", first.trim_end_matches(".rs"));
        add(
            me,
            &std::fs::read_to_string(&file).unwrap(),
            ("crate::", Crate::Core),
        );
    }
    for file in sources(&manifest_dir().join("crates/threadlog-client/src")) {
        let text = std::fs::read_to_string(&file).unwrap();
        add("client".into(), &text, ("crate::", Crate::Client));
    }
    let server = manifest_dir().join("src");
    for file in sources(&server) {
        let rel = file.strip_prefix(&server).unwrap();
        if rel == Path::new("lib.rs") {
            continue;
        }
        let me = module_of(rel);
        let own = if me == "cli" {
            "threadlog::"
        } else {
            "crate::"
        };
        let text = std::fs::read_to_string(&file).unwrap();
        add(me, &text, (own, Crate::Server));
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
