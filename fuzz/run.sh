#!/usr/bin/env bash
# fuzz/run.sh - build the cargo-fuzz targets, replay the committed seed
# corpus of each, then fuzz each for a while; print executions, coverage
# and crashes per target and fail on any crash, timeout or out-of-memory.
# docs/fuzzing.md explains it; .ci/run runs it with --seconds 30.
#
# usage: fuzz/run.sh [--seconds N] [--jobs J] [--no-setup] [TARGET...]
#   --seconds N  fuzzing time per target after the replay (default 30)
#   --jobs J     targets fuzzed at the same time (default: number of CPUs, max 4)
#   --no-setup   do not install cargo-fuzz or a nightly toolchain
#   TARGET...    default: every target of fuzz/Cargo.toml
#
# Toolchain: `cargo +nightly fuzz` when a nightly toolchain is there or
# `rustup toolchain install nightly --profile minimal` works; otherwise the
# stable toolchain with RUSTC_BOOTSTRAP=1. cargo-fuzz is installed with
# `cargo install cargo-fuzz` when missing. Builds into target/fuzz; the
# grown corpus goes to fuzz/corpus/<target> (not committed), crashes to
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=30
JOBS=$(nproc 2>/dev/null || echo 2)
[ "$JOBS" -gt 4 ] && JOBS=4
SETUP=1
TARGETS=()
while [ $# -gt 0 ]; do
    case $1 in
        --seconds) SECS=$2; shift 2 ;;
        --jobs) JOBS=$2; shift 2 ;;
        --no-setup) SETUP=0; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        -*) echo "fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
        *) TARGETS+=("$1"); shift ;;
    esac
done
if [ ${#TARGETS[@]} = 0 ]; then
    mapfile -t TARGETS < <(awk '/^\[\[bin\]\]/ { bin = 1; next } /^\[/ { bin = 0 }
        bin && /^name = / { gsub(/"/, "", $3); print $3 }' fuzz/Cargo.toml)
fi

# ------------------------------------------------------------ toolchain
# FUZZ_NIGHTLY=0 forces the stable fallback (to test it).
TC=()
if [ "${FUZZ_NIGHTLY:-1}" = 0 ]; then
    echo "fuzz: FUZZ_NIGHTLY=0: using the default toolchain with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
elif cargo +nightly --version >/dev/null 2>&1; then
    TC=(+nightly)
elif [ "$SETUP" = 1 ] && command -v rustup >/dev/null \
    && rustup toolchain install nightly --profile minimal </dev/null >&2; then
    TC=(+nightly)
else
    echo "fuzz: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
    export RUSTC_BOOTSTRAP=1
fi
if ! cargo "${TC[@]}" fuzz --version >/dev/null 2>&1; then
    [ "$SETUP" = 1 ] || { echo "fuzz: cargo-fuzz is not installed" >&2; exit 1; }
    cargo install --locked cargo-fuzz </dev/null
fi
echo "fuzz: $(cargo "${TC[@]}" --version), $(cargo "${TC[@]}" fuzz --version)"

# ---------------------------------------------------------------- build
# No sanitizer: the fuzzed crates have no unsafe code; without ASan the
# targets run several times faster. Debug assertions and overflow checks
# stay on (cargo-fuzz's default).
TARGET_DIR=target/fuzz
mkdir -p "$TARGET_DIR"
if ! cargo "${TC[@]}" fuzz build -s none --target-dir "$TARGET_DIR" >"$TARGET_DIR/build.log" 2>&1; then
    cat "$TARGET_DIR/build.log" >&2
    echo "fuzz: build failed" >&2
    exit 1
fi
TRIPLE=$(rustc "${TC[@]}" -vV | sed -n 's/^host: //p')
BIN=$TARGET_DIR/$TRIPLE/release
LOGS=$TARGET_DIR/logs
mkdir -p "$LOGS"

# -------------------------------------------------------------- targets
# One target: replay its seeds (every seed once, no mutation), then fuzz
# for $SECS seconds from the seeds plus the corpus grown by earlier runs.
# -timeout=10: an input taking 10 s is a failure (quadratic decoding).
run_target() {
    local t=$1 log=$LOGS/$1.log
    local seeds=fuzz/seeds/$t corpus=fuzz/corpus/$t artifacts=fuzz/artifacts/$t/
    mkdir -p "$corpus" "$artifacts"
    local common=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$artifacts" -print_final_stats=1)
    {
        echo "== replay $seeds"
        "$BIN/$t" "${common[@]}" -runs=0 "$seeds" || exit 1
        echo "== fuzz $SECS s"
        "$BIN/$t" "${common[@]}" -max_total_time="$SECS" "$corpus" "$seeds" || exit 1
    } >"$log" 2>&1
}

FAILED=()
declare -A PIDS=()
for t in "${TARGETS[@]}"; do
    [ -x "$BIN/$t" ] || { echo "fuzz: no target $t" >&2; exit 2; }
    [ -d "fuzz/seeds/$t" ] || { echo "fuzz: no seed corpus fuzz/seeds/$t" >&2; exit 2; }
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    echo "fuzz: $t (${SECS}s)"
    run_target "$t" &
    PIDS[$t]=$!
done
for t in "${TARGETS[@]}"; do
    wait "${PIDS[$t]}" || FAILED+=("$t")
done

# -------------------------------------------------------------- summary
# From libFuzzer's output: the last status line (cov = covered edges,
# ft = features) and -print_final_stats' executed units.
printf '\n%-20s %8s %12s %10s %7s %7s %6s %8s\n' target seeds executions exec/s cov ft corpus crashes
for t in "${TARGETS[@]}"; do
    log=$LOGS/$t.log
    fuzzpart=$(sed -n '/^== fuzz/,$p' "$log")
    last=$(grep -E '^#[0-9]+' <<<"$fuzzpart" | tail -1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' <<<"$fuzzpart" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' <<<"$fuzzpart" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
    seeds=$(find "fuzz/seeds/$t" -type f | wc -l)
    printf '%-20s %8s %12s %10s %7s %7s %6s %8s\n' "$t" "$seeds" "${execs:--}" "${rate:--}" \
        "${cov:--}" "${ft:--}" "${corp:--}" "$crashes"
    [ "$crashes" = 0 ] || [[ " ${FAILED[*]} " == *" $t "* ]] || FAILED+=("$t")
done
if [ ${#FAILED[@]} -gt 0 ]; then
    for t in "${FAILED[@]}"; do
        echo "---- fuzz: $t FAILED; end of $LOGS/$t.log:" >&2
        tail -40 "$LOGS/$t.log" >&2
    done
    echo "fuzz: FAILED: ${FAILED[*]} (inputs in fuzz/artifacts/<target>/)" >&2
    exit 1
fi
echo "fuzz: ${#TARGETS[@]} targets, no crash"
