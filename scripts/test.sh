#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, integration, crash and tamper
# tests, and PKCS#11 tests on SoftHSM. Installs what the tests need on a fresh Debian
# machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

./scripts/deps.sh --test

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
