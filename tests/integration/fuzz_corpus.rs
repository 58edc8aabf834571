//! Replays the committed fuzz corpora on stable Rust: every file under
//! `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` goes through the same target
//! function libFuzzer runs (`fuzz/src/targets.rs`), so an input that once crashed a parser,
//! or broke one of the invariants the targets assert, fails this suite.

#[path = "../../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(list) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = list
        .map(|e| e.expect("a readable corpus directory").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(name: &str, run: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for kind in ["corpus", "regressions"] {
        for file in inputs(&root.join(kind).join(name)) {
            let data = std::fs::read(&file).expect("a readable corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(outcome.is_ok(), "{name}: {} fails", file.display());
            count += 1;
        }
    }
    count
}

macro_rules! replays {
    ($($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let count = replay(stringify!($name), targets::$name);
            assert!(count > 0, "no corpus under fuzz/corpus/{}", stringify!($name));
        }
    )*};
}

replays!(checkpoint, note, positions, event, sbom_json, sbom_xml, dsse, sigstore, policy, bundle);

#[test]
fn every_fuzz_target_is_replayed() {
    let bins = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/fuzz_targets");
    let mut names: Vec<String> = inputs(&bins)
        .iter()
        .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
        .collect();
    names.sort();
    let mut listed: Vec<&str> = targets::ALL.iter().map(|(n, _)| *n).collect();
    listed.sort();
    assert_eq!(names, listed);
}
