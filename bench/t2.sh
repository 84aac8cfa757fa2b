#!/usr/bin/env bash
# bench/t2.sh - issue 4 benchmarks, ours against the real SoftEther 5.01
# programs in the same run, on the same namespace topologies:
#
#   T2:      real vpnclient -> VPN server -> hub DEFAULT -> local bridge -> LAN host
#            (our vpnserver, then SoftEther's vpnserver)
#   cascade: real vpnclient -> VPN server hub -> cascade -> VPN Bridge -> LAN host
#            (our vpnserver + our vpnbridge, then SoftEther's vpnserver + vpnbridge)
#
#   bench/t2.sh [SECS [RUNS]] [rustether-bench options...]
#   bench/t2.sh 10 3                          # T2 device mode + cascade
#   bench/t2.sh 10 3 --server ours            # only ours
#   BENCH_T2_MODES=device,tap bench/t2.sh     # T2 in both local bridge modes
#   BENCH_ONLY=t2 bench/t2.sh                 # only T2 (or: cascade)
#
# One JSON line per configuration on stdout; progress and side-by-side
# tables (ratio ours/SoftEther) on stderr. Needs root, iperf3 and the Debian
# packages softether-vpnclient, -vpncmd, -vpnserver, -vpnbridge (.ci/run
# installs them). See `rustether-bench t2 --help` / `cascade --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
secs=10
runs=3
case ${1:-} in [0-9]*) secs=$1; shift ;; esac
case ${1:-} in [0-9]*) runs=$1; shift ;; esac
only=${BENCH_ONLY:-all}
modes=${BENCH_T2_MODES:-device}
case $only in all|t2|cascade) ;; *) echo "bench: BENCH_ONLY must be all, t2 or cascade" >&2; exit 2 ;; esac

cargo build --release -q -p rustether --bin vpnserver --bin vpnbridge \
    -p rustether-bench --bin rustether-bench >&2
target=${CARGO_TARGET_DIR:-target}/release
rc=0
if [ "$only" != cascade ]; then
    "$target/rustether-bench" t2 --secs "$secs" --runs "$runs" --mode "$modes" \
        --ours-bin "$target/vpnserver" "$@" || rc=$?
fi
if [ "$only" != t2 ]; then
    "$target/rustether-bench" cascade --secs "$secs" --runs "$runs" \
        --ours-bin "$target/vpnserver" --ours-bridge-bin "$target/vpnbridge" "$@" || rc=$?
fi
exit "$rc"
