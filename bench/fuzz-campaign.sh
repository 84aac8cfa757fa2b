#!/usr/bin/env bash
# bench/fuzz-campaign.sh - a longer fuzzing campaign than CI's 30 s per
# target: SECONDS_PER_TARGET (default 180) per target, JOBS targets at a
# time (default 2), continuing from the corpus grown by earlier runs
# (fuzz/corpus/<target>). Prints per target the executions, exec/s, the
# coverage (cov = covered edges, ft = features), the corpus size and the
# crash count, and fails on any crash. Record the table in docs/fuzzing.md.
#
# usage: bench/fuzz-campaign.sh [TARGET...]
#   SECONDS_PER_TARGET=300 JOBS=2 bench/fuzz-campaign.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECONDS_PER_TARGET:-180}
echo "fuzz campaign: ${SECS}s per target, ${JOBS:-2} at a time, on $(nproc) CPUs, $(date -u +%FT%TZ)"
exec fuzz/run.sh --seconds "$SECS" --jobs "${JOBS:-2}" "$@"
