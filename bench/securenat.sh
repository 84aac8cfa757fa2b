#!/usr/bin/env bash
# bench/securenat.sh - SecureNAT benchmark (issue 10): a real SoftEther
# vpnclient through the hub's SecureNAT to an iperf3 server on a far host
# that only the server's namespace reaches. Ours, then SoftEther 5.01 with
# its user-mode NAT (DisableIpRawModeSecureNAT, DisableKernelModeSecureNAT),
# then SoftEther with its defaults, in the same run and topology.
#
#   bench/securenat.sh [SECS [RUNS]] [rustether-bench securenat options...]
#   bench/securenat.sh                # 8 s x 3 runs, 100 parallel short connections for 5 s
#   bench/securenat.sh 5 1 --server ours,softether-usermode
#
# One JSON line per server on stdout; progress and the side-by-side table
# (ratios ours/SoftEther) on stderr. Takes about 4 minutes. Needs root,
# iperf3 and the Debian packages softether-vpnclient, -vpncmd, -vpnserver.
# See `rustether-bench securenat --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
secs=8
runs=3
case ${1:-} in [0-9]*) secs=$1; shift ;; esac
case ${1:-} in [0-9]*) runs=$1; shift ;; esac

cargo build --release -q -p rustether --bin vpnserver -p rustether-bench --bin rustether-bench >&2
target=${CARGO_TARGET_DIR:-target}/release
exec "$target/rustether-bench" securenat --secs "$secs" --runs "$runs" --ours-bin "$target/vpnserver" "$@"
