//! The trusted core stays pure: `merkle` and `note` may use std, sha2, base64,
//! ed25519-dalek, thiserror and the tlog crates they wrap, and nothing that does I/O or
//! reaches into the rest of the crate. The evidence-bundle verifier (`bundle`) is held
//! to the same rules, with the core and the pure thread derivation (`thread::graph`,
//! which itself may use only the edge rules of `entry::edges`) as the only parts of the
//! crate it may use.

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
