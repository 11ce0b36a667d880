#!/usr/bin/env bash
# Fuzzing tier: every cargo-fuzz target for 30 s from the committed corpus (scripts/fuzz.sh
# runs them longer by hand: `scripts/fuzz.sh 600`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fuzz.sh 30
