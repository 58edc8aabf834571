#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, integration, crash and tamper
# tests, and PKCS#11 tests on SoftHSM. Installs what the tests need on a fresh Debian
# machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
rustup target list --installed 2>/dev/null | grep -q '^wasm32-unknown-unknown$' ||
    rustup target add wasm32-unknown-unknown

./scripts/deps.sh --test

# A clean checkout gains nothing from incremental caches; writing them costs build time.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cargo fmt --all -- --check
# The auditor's core builds for the browser: no I/O, threads or C libraries in it.
cargo build --locked -p threadlog-core --target wasm32-unknown-unknown
cargo clippy --locked --workspace --all-targets -- -D warnings
cargo test --locked --workspace --all-targets
