//! The integration suite: one test binary, so the crate is linked once rather than once
//! a file. Each module is one area of behaviour and runs against real parts (SQLite and
//! PostgreSQL files and servers, sockets, the `threadlog` binary). Suites that own
//! process-wide state stay in binaries of their own: `http_edge` and `integrity` capture
//! the global log, `signing` sets SoftHSM's environment.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod api;
mod architecture;
mod attestations;
mod bundle;
mod compliance;
mod controls;
mod crash;
mod dump;
mod faults;
mod full_disk;
mod fuzz_corpus;
mod merkle_props;
mod note_vectors;
mod operations;
mod parser_robustness;
mod replicas;
mod roles;
mod sboms;
mod sigstore;
mod store_contract;
mod tamper;
mod thread;
mod verify_cli;
