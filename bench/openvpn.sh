#!/usr/bin/env bash
# bench/openvpn.sh - OpenVPN benchmark (issue 13): the real openvpn 2.6
# client (dev tap) through the server to a far peer, over UDP 1194 and over
# TCP 5555, in the same run: our server (negotiated AES-256-GCM, and limited
# to AES-128-CBC as "ours-cbc"), SoftEther 5.01's OpenVPN server
# (AES-128-CBC, the only way openvpn 2.6 talks to it) with the real
# SoftEther vpnclient as the far peer on the hub, and OpenVPN 2.6's own
# server (`openvpn --mode server --client-to-client`) with a second openvpn
# client as the far peer. Topology in bench/README.md "OpenVPN".
#
#   bench/openvpn.sh [SECS [RUNS]] [rustether-bench openvpn options...]
#   bench/openvpn.sh                     # 10 s x 1 run, all servers, UDP and TCP
#   bench/openvpn.sh 10 3 --server ours,openvpn --proto udp
#
# One JSON line per (server, transport) on stdout; progress and one table
# per transport (ratios ours / each other server) on stderr. Takes about
# 3 minutes. Needs root, openvpn, iperf3, busybox, openssl and the Debian
# packages softether-vpnclient, -vpncmd, -vpnserver.
# See `rustether-bench openvpn --help`.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
secs=10
runs=1
case ${1:-} in [0-9]*) secs=$1; shift ;; esac
case ${1:-} in [0-9]*) runs=$1; shift ;; esac

cargo build --release -q -p rustether --bin vpnserver -p rustether-bench --bin rustether-bench >&2
target=${CARGO_TARGET_DIR:-target}/release
exec "$target/rustether-bench" openvpn --secs "$secs" --runs "$runs" --ours-bin "$target/vpnserver" "$@"
