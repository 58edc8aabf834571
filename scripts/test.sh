#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, property, integration, crash and tamper
# tests, and PKCS#11 tests on SoftHSM. Installs what the tests need on a fresh Debian
# machine with Rust.
set -euo pipefail
cd "$(dirname "$0")/.."

rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy

# What the tests need from Debian, installed when missing: SoftHSM for the PKCS#11
# tests, and PostgreSQL's server binaries for the private test clusters (unless
# THREADLOG_TEST_DATABASE_URL names a server). Those tests fail, never skip, without them.
missing=()
if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null; then
    missing+=(softhsm2)
fi
# libxml2 (headers and pkg-config) for building the XSD validator of CycloneDX XML.
if ! pkg-config --exists libxml-2.0 2>/dev/null; then
    missing+=(libxml2-dev pkg-config)
fi
if [ -z "${THREADLOG_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
cargo test --locked --all-targets
