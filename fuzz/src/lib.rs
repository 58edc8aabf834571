//! The bodies of threadlog's fuzz targets, one plain function per parser of outside input
//! (see `targets`). Each `fuzz_targets/<name>.rs` hands libFuzzer's input to the function
//! of the same name; `tests/integration/fuzz_corpus.rs` in the main crate includes the same file and
//! replays the committed corpora through it on stable Rust.

pub mod targets;
