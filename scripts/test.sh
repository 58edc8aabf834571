#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, integration, crash and tamper
# tests, and PKCS#11 tests on SoftHSM. Installs what the tests need on a fresh Debian
# machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# The PKCS#11 tests run against real SoftHSM tokens; they fail (never skip) without it.
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null; then
    apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y softhsm2
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
