#!/usr/bin/env bash
# All benchmarks, each beside its baseline; output also saved under bench-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-out
cargo bench --bench ledger -- "$@" 2>&1 | tee "bench-out/ledger-$(date +%Y%m%dT%H%M%S).txt"
