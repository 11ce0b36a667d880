#!/usr/bin/env bash
# Fuzzing tier: every cargo-fuzz target for 60 s from the committed corpus, two at a time (one
# per core); scripts/fuzz.sh runs them longer by hand: `scripts/fuzz.sh 600`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_JOBS=2 bash scripts/fuzz.sh 60
