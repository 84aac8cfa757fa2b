#!/usr/bin/env bash
# bench/t1.sh - T1 benchmark: two real SoftEther vpnclients talking through
# the virtual hub, first with our vpnserver, then with the real SoftEther
# vpnserver, in the same run and on the same namespace topology.
#
#   bench/t1.sh [SECS [RUNS]] [rustether-bench t1 options...]
#   bench/t1.sh 10 3                                  # default variant
#   bench/t1.sh 10 3 --variant default,maxtcp8,noencrypt
#   bench/t1.sh 10 3 --server softether               # only one server
#
# One JSON line per (variant, server) on stdout; progress and the
# side-by-side table (ratio ours/SoftEther) on stderr. Needs root, iperf3
# and the Debian packages softether-vpnclient, -vpncmd, -vpnserver
# (.ci/run installs them). See `rustether-bench t1 --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
secs=10
runs=3
case ${1:-} in [0-9]*) secs=$1; shift ;; esac
case ${1:-} in [0-9]*) runs=$1; shift ;; esac

cargo build --release -q -p rustether --bin vpnserver -p rustether-bench --bin rustether-bench >&2
target=${CARGO_TARGET_DIR:-target}/release
exec "$target/rustether-bench" t1 --secs "$secs" --runs "$runs" --ours-bin "$target/vpnserver" "$@"
