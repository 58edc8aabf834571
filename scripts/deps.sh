#!/usr/bin/env bash
# Installs from Debian what building threadlog needs when it is missing: libxml2's headers
# and pkg-config (the XSD validator of CycloneDX XML). With --test, also what the tests
# need: SoftHSM for the PKCS#11 tests, and PostgreSQL's server binaries for the private
# test clusters (unless THREADLOG_TEST_DATABASE_URL names a server). Those tests fail,
# never skip, without them.
set -euo pipefail

missing=()
if ! pkg-config --exists libxml-2.0 2>/dev/null; then
    missing+=(libxml2-dev pkg-config)
fi
if [ "${1:-}" = "--test" ]; then
    if [ ! -e /usr/lib/softhsm/libsofthsm2.so ] || ! command -v softhsm2-util >/dev/null; then
        missing+=(softhsm2)
    fi
    if [ -z "${THREADLOG_TEST_DATABASE_URL:-}" ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
        missing+=(postgresql)
    fi
fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
