#!/usr/bin/env bash
# bench/soak.sh - soak benchmark of our vpnserver (issue 9): SOAK_SESSIONS
# sessions (default 1 000) with traffic and churn for a long time (default
# 30 minutes), the server's RSS, open fds and threads sampled every
# SOAK_INTERVAL seconds and checked for flatness (every sample after the
# warm-up within ±SOAK_FLAT_PCT % of the median), and the server's log
# checked for WARN/ERROR lines. Not part of CI.
#
#   bench/soak.sh                        # 30 minutes
#   bench/soak.sh --duration 10m         # or 600, 600s, 1h
#   SOAK_SESSIONS=200 bench/soak.sh --duration 2m --warmup 30
#
# Needs root, iproute2 and util-linux (setsid). Builds `vpnserver` and
# `loadgen` (crates/bench/src/bin/loadgen.rs, mode `soak`) in release mode
# unless SOAK_BUILD=0.
#
# Topology (as bench/load.sh): two network namespaces of this script's own,
# without any default route, joined by one veth pair:
#
#   netns re-soak-s-PID: eth0 10.233.0.1/24, our server on TCP 5555
#   netns re-soak-c-PID: eth0 10.233.0.2/24 + 10.233.0.101-120, loadgen
#
# loadgen keeps SOAK_SESSIONS sessions of user u1 in hub DEFAULT (one TCP
# connection each, TLS kept for the data phase). Traffic: every session
# sends SOAK_FPS frames per second of SOAK_FRAME_LEN bytes to its pair
# session (index xor 1), so the hub switches unicast frames between
# sessions; keep-alives at SoftEther's pace. Churn: every session ends after
# a random lifetime (uniform 0..2 x SOAK_MEAN_LIFE s) and logs in again, so
# about SOAK_SESSIONS / SOAK_MEAN_LIFE logins and logouts per second.
#
# Output: loadgen's JSON line (with every sample) on stdout and in
# /tmp/rustether-soak-<time>.jsonl, then a summary line per metric on
# stderr: median, min, max, largest deviation from the median after the
# warm-up, slope per hour. Exit status 0 when RSS, fds and threads are flat,
# no login failed, no session was lost (closed by the server or broken),
# frames arrived, and the server's log has no WARN/ERROR line; 1 otherwise.
#
# Settings (environment; --duration/--warmup/--sessions/--interval override):
#   SOAK_DURATION   1800     seconds (suffix s, m or h accepted)
#   SOAK_WARMUP     600      seconds not checked for flatness (two mean session
#                            lifetimes: by then every first session was replaced once
#                            and the allocator has reached its working set)
#   SOAK_SESSIONS   1000
#   SOAK_INTERVAL   10       seconds between samples
#   SOAK_MEAN_LIFE  300      mean session lifetime, seconds (0 = no churn)
#   SOAK_FPS        5        frames per second per session
#   SOAK_FRAME_LEN  512      bytes per frame
#   SOAK_CONC       20       logins in flight at most
#   SOAK_FLAT_PCT   5
#   SOAK_KEEP=1              keep the working directory (server log, config)
#   SOAK_BUILD=0             use the binaries already in $CARGO_TARGET_DIR/release
set -euo pipefail

secs() { # 90 | 90s | 15m | 1h -> seconds
    case $1 in
    *h) echo $((${1%h} * 3600)) ;;
    *m) echo $((${1%m} * 60)) ;;
    *s) echo "${1%s}" ;;
    *) echo "$1" ;;
    esac
}

SOAK_DURATION=${SOAK_DURATION:-1800}
SOAK_WARMUP=${SOAK_WARMUP:-600}
SOAK_SESSIONS=${SOAK_SESSIONS:-1000}
SOAK_INTERVAL=${SOAK_INTERVAL:-10}
SOAK_MEAN_LIFE=${SOAK_MEAN_LIFE:-300}
SOAK_FPS=${SOAK_FPS:-5}
SOAK_FRAME_LEN=${SOAK_FRAME_LEN:-512}
SOAK_CONC=${SOAK_CONC:-20}
SOAK_FLAT_PCT=${SOAK_FLAT_PCT:-5}
while [ $# -gt 0 ]; do
    case $1 in
    --duration) SOAK_DURATION=$2; shift 2 ;;
    --warmup) SOAK_WARMUP=$2; shift 2 ;;
    --sessions) SOAK_SESSIONS=$2; shift 2 ;;
    --interval) SOAK_INTERVAL=$2; shift 2 ;;
    -h | --help) sed -n '2,50p' "$0"; exit 0 ;;
    *) echo "soak: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
SOAK_DURATION=$(secs "$SOAK_DURATION")
SOAK_WARMUP=$(secs "$SOAK_WARMUP")

SRV_ADDR=10.233.0.1
CLI_ADDR=10.233.0.2
PLEN=24
PORT=5555
HUB=DEFAULT
USER_NAME=u1
PASSWORD=soak-pass-u1

log() { printf 'soak: %s\n' "$*" >&2; }
die() { printf 'soak: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, rlimits)"
for c in ip setsid ss; do command -v "$c" >/dev/null || die "$c not found"; done

cd "$(dirname "$0")/.."
if [ "${SOAK_BUILD:-1}" = 1 ]; then
    log "building vpnserver and loadgen (release)"
    cargo build --release -q -p rustether --bin vpnserver -p rustether-bench --bin loadgen >&2
fi
case ${CARGO_TARGET_DIR:-target} in
/*) TARGET=$CARGO_TARGET_DIR ;;
*) TARGET=$(pwd)/${CARGO_TARGET_DIR:-target} ;;
esac
OURS=$TARGET/release/vpnserver
LOADGEN=$TARGET/release/loadgen
[ -x "$OURS" ] && [ -x "$LOADGEN" ] || die "build outputs missing under $TARGET/release"

ID=$$
NS_S=re-soak-s-$ID
NS_C=re-soak-c-$ID
WORK=$(mktemp -d /tmp/re-soak.XXXXXX)
RESULTS=/tmp/rustether-soak-$(date -u +%Y%m%dT%H%M%SZ).jsonl
SRV_PID=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SRV_PID" ] && [ -e "/proc/$SRV_PID" ]; then
        kill -TERM -- "-$SRV_PID" 2>/dev/null || kill -TERM "$SRV_PID" 2>/dev/null || true
        local end=$((SECONDS + 30))
        while [ -e "/proc/$SRV_PID" ] && [ "$SECONDS" -lt "$end" ]; do sleep 0.2; done
        kill -KILL -- "-$SRV_PID" 2>/dev/null || true
        wait "$SRV_PID" 2>/dev/null || true
    fi
    # Anything else still in our namespaces was started by this script.
    local ns p
    for ns in "$NS_S" "$NS_C"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    if [ "${SOAK_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

ip netns add "$NS_S"
ip netns add "$NS_C"
ip -n "$NS_S" link add eth0 type veth peer name eth0 netns "$NS_C"
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up
ip -n "$NS_S" addr add "$SRV_ADDR/$PLEN" dev eth0
ip -n "$NS_C" addr add "$CLI_ADDR/$PLEN" dev eth0
for i in $(seq 101 120); do ip -n "$NS_C" addr add "10.233.0.$i/$PLEN" dev eth0; done
ip -n "$NS_S" link set eth0 up
ip -n "$NS_C" link set eth0 up
ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
for ns in "$NS_S" "$NS_C"; do
    [ -z "$(ip -n "$ns" route show default)" ] || die "$ns has a default route"
done
ip netns exec "$NS_C" ping -c 1 -W 2 "$SRV_ADDR" >/dev/null 2>&1 || die "$SRV_ADDR not reachable from $NS_C"

mkdir -p "$WORK/srv"
chmod 700 "$WORK/srv"
"$LOADGEN" config --out "$WORK/srv/vpn_server.config" --port "$PORT" --hub "$HUB" \
    --user "$USER_NAME" --password "$PASSWORD" 2>/dev/null || die "loadgen config failed"
# A server administrator password, so that the server has no reason to warn.
printf '%s\n' "soak-admin-$ID" | "$OURS" password-set --dir "$WORK/srv" >/dev/null 2>&1 \
    || die "vpnserver password-set failed"
NOFILE=$((SOAK_SESSIONS * 2 + 4096))
setsid ip netns exec "$NS_S" bash -c 'ulimit -SHn "$1" || exit 98; shift; exec "$@"' sh "$NOFILE" \
    "$OURS" start --foreground --dir "$WORK/srv" </dev/null >"$WORK/server.log" 2>&1 &
SRV_PID=$!
end=$((SECONDS + 30))
until [ -n "$(ip netns exec "$NS_S" ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; do
    [ -e "/proc/$SRV_PID" ] || { tail -n 20 "$WORK/server.log" >&2; die "server exited at start"; }
    [ "$SECONDS" -lt "$end" ] || die "server does not listen on $PORT after 30 s"
    sleep 0.2
done
[ "$(readlink -f "/proc/$SRV_PID/exe")" = "$(readlink -f "$OURS")" ] || die "pid $SRV_PID is not the server"
log "server pid $SRV_PID; $SOAK_SESSIONS sessions for $SOAK_DURATION s (warm-up $SOAK_WARMUP s), samples every $SOAK_INTERVAL s"
log "machine: load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs, $(ps -eo comm= | grep -c '^rustc$' || true) rustc processes"

SUMMARY_PY='
import json, sys
r = json.loads(sys.stdin.read())
for k, v in r.get("after_warmup", {}).items():
    print("soak: %-8s median %.0f min %.0f max %.0f, largest deviation %s %%, slope %s/h: %s" % (
        k, v["median"], v["min"], v["max"], v["max_dev_pct"], v["slope_per_hour"],
        "flat" if v["flat"] else "NOT FLAT"))
print("soak: logins ok %s, failed %s, churned %s, lost %s, frames tx %s rx %s, server CPU %s %%" % (
    r["logins_ok"], r["failed"], r["churn_closes"], r["sessions_lost"], r["frames_tx"],
    r["frames_rx"], r["server_cpu_pct"]))
'
rc=0
line=$(ip netns exec "$NS_C" "$LOADGEN" soak --server "$SRV_ADDR" --port "$PORT" --hub "$HUB" \
    --user "$USER_NAME" --password "$PASSWORD" --sources 10.233.0.101-120 \
    --server-pid "$SRV_PID" --label ours --phase soak \
    --sessions "$SOAK_SESSIONS" --duration "$SOAK_DURATION" --warmup "$SOAK_WARMUP" \
    --sample-interval "$SOAK_INTERVAL" --mean-life "$SOAK_MEAN_LIFE" --frames-per-s "$SOAK_FPS" \
    --frame-len "$SOAK_FRAME_LEN" --flat-pct "$SOAK_FLAT_PCT" --concurrency "$SOAK_CONC" \
    --progress-interval 60 --max-failures 1000 --max-time $((SOAK_DURATION + 600))) || rc=$?
[ -n "$line" ] && printf '%s\n' "$line" | tee "$RESULTS"
[ -e "/proc/$SRV_PID" ] || { log "FAILED: the server is gone"; rc=1; }
log "machine at the end: load $(cut -d' ' -f1-3 /proc/loadavg)"

# The server's log: WARN/ERROR lines (kinds, first few).
problems=$(grep -E ' (WARN|ERROR) ' "$WORK/server.log" || true)
if [ -n "$problems" ]; then
    log "the server logged $(printf '%s\n' "$problems" | wc -l) WARN/ERROR lines, e.g.:"
    printf '%s\n' "$problems" | head -n 10 >&2
    rc=1
else
    log "server log: $(wc -l <"$WORK/server.log") lines, no WARN or ERROR"
fi
if [ -n "$line" ]; then
    printf '%s\n' "$line" | python3 -c "$SUMMARY_PY" >&2 || true
fi
log "results: $RESULTS"
[ "$rc" = 0 ] && log "PASSED" || log "FAILED"
exit "$rc"
