#!/usr/bin/env bash
# Starts threadlog on its embedded default (SQLite + Ed25519 key file in ./data), after
# installing what the build needs when it is missing; `--init` creates the log on first
# start. Extra arguments go to `serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/deps.sh
exec cargo run --release -- serve --init "$@"
