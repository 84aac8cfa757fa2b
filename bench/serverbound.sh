#!/usr/bin/env bash
# bench/serverbound.sh - server-bound data-plane benchmark (issue 11 item 3):
# our own client code (crates/bench/src/bin/serverbound.rs) opens N TLS
# sessions to hub DEFAULT, pairs them and sends frames through the hub as
# fast as TCP allows, so that the server is the limit. Measured in the same
# run: our vpnserver with 1 and with 2 runtime threads
# (RUSTETHER_WORKER_THREADS) and the real SoftEther VPN Server 5.01.
#
#   bench/serverbound.sh                        # levels 2,10,100,1000 sessions, ~5 min
#   SB_LEVELS=2,100 SB_SERVERS="ours-1t softether" bench/serverbound.sh
#
# Output: one JSON line per (server, level) on stdout (also saved in
# /tmp/rustether-serverbound-<time>.jsonl); progress and a table per level
# with the ratios to SoftEther on stderr (`serverbound report`). Exit status
# 1 if a measurement failed.
#
# Topology: two network namespaces of this script's own, without any default
# route, joined by one veth pair:
#
#   netns re-sb-s-PID: eth0 10.233.0.1/24, the server on TCP 5555
#   netns re-sb-c-PID: eth0 10.233.0.2/24 + 10.233.0.101-120 (source
#                      addresses, round-robin per session), serverbound
#
# Both servers read the same SoftEther-format configuration written by
# `loadgen config` (one listener, hub DEFAULT with user u1, one RSA-2048
# certificate; keep-alive, dynamic DNS, NAT traversal and VPN Azure off
# before the server ever starts). SoftEther runs in a private mount namespace
# with private bind mounts over /var/lib/softether, /run/softether and
# /var/log/softether. Every (server, level) gets a freshly started server.
# Server CPU = utime + stime of the server's process group (/proc/<pid>/stat)
# over the measurement window. The load client runs on the same two cores:
# compare CPU per Gbit/s, not raw throughput scaling.
#
# Settings (environment):
#   SB_SERVERS   "ours-1t ours-2t softether"  which servers, in this order
#                (ours-<N>t = our server with RUSTETHER_WORKER_THREADS=N)
#   SB_LEVELS    2,10,100,1000                sessions (even: they are paired)
#   SB_SECS      8                            measurement window, s
#   SB_FRAME     1514                         Ethernet frame size, bytes
#   SB_BATCH     16                           frames per TLS write
#   SB_KEEP=1                                 keep the working directory
#   SB_BUILD=0                                use the binaries already built
set -euo pipefail

SE=${SE_VPNSERVER:-/usr/libexec/softether/vpnserver/vpnserver}
SB_SERVERS=${SB_SERVERS:-ours-1t ours-2t softether}
SB_LEVELS=${SB_LEVELS:-2,10,100,1000}
SB_SECS=${SB_SECS:-8}
SB_FRAME=${SB_FRAME:-1514}
SB_BATCH=${SB_BATCH:-16}

SRV_ADDR=10.233.0.1
CLI_ADDR=10.233.0.2
PLEN=24
PORT=5555
HUB=DEFAULT
USER_NAME=u1
PASSWORD=sb-pass-u1

log() { printf 'serverbound: %s\n' "$*" >&2; }
die() { printf 'serverbound: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, bind mounts)"
for c in ip unshare setsid ss flock; do command -v "$c" >/dev/null || die "$c not found"; done
case " $SB_SERVERS " in *" softether "*) [ -x "$SE" ] || die "$SE not found (apt-get install softether-vpnserver)" ;; esac

cd "$(dirname "$0")/.."
if [ "${SB_BUILD:-1}" = 1 ]; then
    log "building vpnserver, serverbound and loadgen (release)"
    cargo build --release -q -p rustether --bin vpnserver -p rustether-bench --bin serverbound --bin loadgen >&2
fi
case ${CARGO_TARGET_DIR:-target} in
/*) TARGET=$CARGO_TARGET_DIR ;;
*) TARGET=$(pwd)/${CARGO_TARGET_DIR:-target} ;;
esac
OURS=$TARGET/release/vpnserver
SB=$TARGET/release/serverbound
LOADGEN=$TARGET/release/loadgen
[ -x "$OURS" ] && [ -x "$SB" ] && [ -x "$LOADGEN" ] || die "build outputs missing under $TARGET/release"

# One benchmark or namespace test at a time on this machine (the lock of
# rustether_testkit::exclusive, also taken by bench/t1.sh and the tests).
exec 9>>"${TMPDIR:-/tmp}/rustether-testkit.lock"
flock -n 9 || { log "waiting for ${TMPDIR:-/tmp}/rustether-testkit.lock (another benchmark or test runs)"; flock -w 1800 9 || die "lock not free after 30 min"; }

ID=$$
NS_S=re-sb-s-$ID
NS_C=re-sb-c-$ID
WORK=$(mktemp -d /tmp/re-serverbound.XXXXXX)
RESULTS=/tmp/rustether-serverbound-$(date -u +%Y%m%dT%H%M%SZ).jsonl
: >"$RESULTS"
mkdir -p "$WORK/logs"
SRV_PID=""
SRV_NAME=""
FAILED=""

stop_server() {
    [ -n "$SRV_PID" ] || return 0
    if [ -e "/proc/$SRV_PID" ]; then
        # The server runs in its own session/process group (setsid).
        kill -TERM -- "-$SRV_PID" 2>/dev/null || kill -TERM "$SRV_PID" 2>/dev/null || true
        local end=$((SECONDS + 20))
        while [ -e "/proc/$SRV_PID" ] && ! grep -q '^State:.*Z' "/proc/$SRV_PID/status" 2>/dev/null \
            && [ "$SECONDS" -lt "$end" ]; do
            sleep 0.1
        done
        if [ -e "/proc/$SRV_PID" ] && ! grep -q '^State:.*Z' "/proc/$SRV_PID/status" 2>/dev/null; then
            log "$SRV_NAME (pid $SRV_PID) did not stop within 20 s after SIGTERM: SIGKILL"
            kill -KILL -- "-$SRV_PID" 2>/dev/null || kill -KILL "$SRV_PID" 2>/dev/null || true
        fi
    fi
    wait "$SRV_PID" 2>/dev/null || true
    SRV_PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server || true
    # Anything else still in our namespaces was started by this script.
    local ns p
    for ns in "$NS_S" "$NS_C"; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    if [ "${SB_KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# ------------------------------------------------------------------ topology
ip netns add "$NS_S"
ip netns add "$NS_C"
ip -n "$NS_S" link add eth0 type veth peer name eth0 netns "$NS_C"
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up
ip -n "$NS_S" addr add "$SRV_ADDR/$PLEN" dev eth0
ip -n "$NS_C" addr add "$CLI_ADDR/$PLEN" dev eth0
for ((i = 101; i <= 120; i++)); do ip -n "$NS_C" addr add "10.233.0.$i/$PLEN" dev eth0; done
SOURCES=10.233.0.101-120
ip -n "$NS_S" link set eth0 up
ip -n "$NS_C" link set eth0 up
for ns in "$NS_S" "$NS_C"; do
    [ -z "$(ip -n "$ns" route show default)" ] || die "$ns has a default route"
done
ip netns exec "$NS_C" ping -c 1 -W 2 "$SRV_ADDR" >/dev/null 2>&1 || die "$SRV_ADDR not reachable from $NS_C"

# ------------------------------------------------------------------ servers
# SoftEther: private SoftEther directories, then exec (so $! is the server).
INST_SH='
d=$1; shift
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    src=$d/${m%%:*}; dst=${m#*:}
    mkdir -p "$src" "$dst" || exit 97
    mount --bind "$src" "$dst" || { echo "bind mount $src -> $dst failed" >&2; exit 97; }
done
printf "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n" >"$d/resolv.conf"
mount --bind "$d/resolv.conf" /etc/resolv.conf || exit 97
cd "$d" || exit 97
exec "$@"'

"$LOADGEN" config --out "$WORK/vpn_server.config" --port "$PORT" --hub "$HUB" \
    --user "$USER_NAME" --password "$PASSWORD" 2>/dev/null || die "loadgen config failed"

listening() { [ -n "$(ip netns exec "$NS_S" ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; }

start_server() { # NAME LEVEL
    local name=$1 level=$2 dir=$WORK/$1-$2 end threads=""
    SRV_NAME=$name
    rm -rf "$dir"
    case $name in
    ours-*t)
        threads=${name#ours-}; threads=${threads%t}
        mkdir -p "$dir"
        chmod 700 "$dir"
        cp "$WORK/vpn_server.config" "$dir/vpn_server.config"
        RUSTETHER_WORKER_THREADS=$threads setsid ip netns exec "$NS_S" "$OURS" start --foreground --dir "$dir" \
            </dev/null >"$WORK/logs/$name-$level.log" 2>&1 9>&- &
        ;;
    softether)
        mkdir -p "$dir/lib" "$dir/run" "$dir/log"
        cp "$WORK/vpn_server.config" "$dir/lib/vpn_server.config"
        setsid ip netns exec "$NS_S" unshare -m --propagation private bash -c "$INST_SH" sh \
            "$dir" "$SE" start --foreground </dev/null >"$WORK/logs/$name-$level.log" 2>&1 9>&- &
        ;;
    *) die "unknown server $name (ours-1t, ours-2t, ..., softether)" ;;
    esac
    SRV_PID=$!
    SRV_THREADS=$threads
    end=$((SECONDS + 30))
    until listening; do
        [ -e "/proc/$SRV_PID" ] || { tail -n 20 "$WORK/logs/$name-$level.log" >&2; die "$name exited at start"; }
        [ "$SECONDS" -lt "$end" ] || die "$name does not listen on $PORT after 30 s"
        sleep 0.2
    done
    sleep 1
}

machine_line() { # WHEN
    local rustc
    rustc=$(ps -eo comm= | grep -c '^rustc$' || true)
    printf '{"test":"machine","when":"%s","date_utc":"%s","loadavg":"%s","nproc":%s,"rustc_processes":%s}\n' \
        "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" "$rustc" | tee -a "$RESULTS"
}

machine_line start
IFS=, read -r -a levels <<<"$SB_LEVELS"
for level in "${levels[@]}"; do
    for srv in $SB_SERVERS; do
        start_server "$srv" "$level"
        log "$srv, $level sessions (server pid $SRV_PID)"
        extra=()
        [ -n "$SRV_THREADS" ] && extra=(--server-threads "$SRV_THREADS")
        rc=0
        line=$(ip netns exec "$NS_C" "$SB" run --server "$SRV_ADDR" --port "$PORT" --hub "$HUB" \
            --user "$USER_NAME" --password "$PASSWORD" --sources "$SOURCES" --sessions "$level" \
            --secs "$SB_SECS" --frame-size "$SB_FRAME" --batch "$SB_BATCH" \
            --server-pid "$SRV_PID" --label "$srv" "${extra[@]}" --max-time 240) || rc=$?
        [ -n "$line" ] && printf '%s\n' "$line" | tee -a "$RESULTS"
        [ "$rc" = 0 ] || { log "FAILED: $srv at $level sessions (exit $rc)"; FAILED="$FAILED $srv:$level"; }
        [ -e "/proc/$SRV_PID" ] || { log "FAILED: $srv is gone after $level sessions"; FAILED="$FAILED $srv:$level(gone)"; }
        stop_server
    done
done
machine_line end

log "results: $RESULTS"
"$SB" report "$RESULTS" --reference softether >&2 || true
if [ -n "$FAILED" ]; then
    log "FAILED:$FAILED"
    exit 1
fi
exit 0
