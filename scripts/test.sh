#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, integration, crash and tamper
# tests. Installs what the tests need on a fresh Debian machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# PostgreSQL tests start a private cluster from the server binaries unless
# THREADLOG_TEST_DATABASE_URL names a server; they are never skipped.
if [ -z "${THREADLOG_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
