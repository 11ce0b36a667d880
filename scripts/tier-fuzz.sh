#!/usr/bin/env bash
# Fuzzing tier: every cargo-fuzz target for 60 s from the committed corpus, all five at once
# (they share the machine's cores); scripts/fuzz.sh runs them longer by hand:
# `scripts/fuzz.sh 600`.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_JOBS=5 bash scripts/fuzz.sh 60
