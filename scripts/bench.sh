#!/usr/bin/env bash
# All benchmarks, each beside its baseline; output also saved under bench-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench-out
stamp=$(date +%Y%m%dT%H%M%S)
cargo bench --bench ledger -- "$@" 2>&1 | tee "bench-out/ledger-$stamp.txt"
cargo bench --bench postgres -- "$@" 2>&1 | tee "bench-out/postgres-$stamp.txt"
cargo bench --bench compliance 2>&1 | tee "bench-out/compliance-$stamp.txt"
cargo bench --bench sbom 2>&1 | tee "bench-out/sbom-$stamp.txt"
cargo bench --bench thread -- "$@" 2>&1 | tee "bench-out/thread-$stamp.txt"
cargo bench --bench dsse 2>&1 | tee "bench-out/dsse-$stamp.txt"
