#!/usr/bin/env bash
# bench/load.sh - control-plane load: logins per second, server CPU per
# login, and what idle sessions cost (memory, threads, fds), for our
# vpnserver and the real SoftEther vpnserver 5.01 in the same run.
#
#   bench/load.sh                    # everything (7 min with a 20 000 fd limit)
#   LOAD_SERVERS=ours bench/load.sh  # one server only
#
# Needs root, iproute2, util-linux (unshare, setsid) and, for the reference,
# the Debian package softether-vpnserver. Builds `vpnserver` and the
# `loadgen` tool (crates/bench/src/bin/loadgen.rs) in release mode.
#
# Topology: two network namespaces of this script's own, without any default
# route, joined by one veth pair:
#
#   netns re-load-s-PID: eth0 10.232.0.1/24, the server on TCP 5555
#   netns re-load-c-PID: eth0 10.232.0.2/24 + 10.232.0.101-120 (loadgen's
#                        source addresses; one address has only ~28 000
#                        ephemeral ports), ip_local_port_range widened;
#                        at most LOAD_CONC / LOAD_HOLD_CONC logins are in
#                        flight at once, far below RustEther's
#                        pre-authentication limits (MaxConnectionsPerIP 256
#                        per address, MaxUnestablishedConnections 1000; only
#                        connections that have not logged in count, see
#                        docs/protocol-sslvpn.md §2.6)
#
# Both servers read the same SoftEther-format configuration (`loadgen
# config`: one listener, hub DEFAULT with user u1, one RSA-2048 certificate
# and key, keep-alive, DDNS, NAT traversal and VPN Azure off); SoftEther runs
# in a private mount namespace with private bind mounts over
# /var/lib/softether, /run/softether and /var/log/softether. Both get the
# same open-file limit (LOAD_SERVER_NOFILE, soft = hard; where the hard limit
# cannot be raised, the one there is). For each server the phases run on a
# freshly started process each:
#
#   seq   loadgen login --count LOAD_LOGINS --concurrency 1
#   conc  loadgen login --count LOAD_LOGINS --concurrency LOAD_CONC
#   hold  loadgen hold --sessions LEVELS --hold LOAD_HOLD --concurrency LOAD_HOLD_CONC
#   churn LOAD_CHURN_CYCLES times, on the same server process: open
#         LOAD_CHURN_LEVEL_<SERVER> sessions, hold 5 s, close all, watch 5 s
#         (leak check: RSS and fds after each cycle)
#
# Output: one JSON line per phase on stdout (loadgen's result; also saved in
# /tmp/rustether-load-<time>.jsonl), progress and a side-by-side table with
# the ratios ours/SoftEther on stderr (`loadgen report`). Exit status 1 if a
# phase failed (SoftEther running out of something at high levels counts as a
# result, not as a failure of this script; see the table).
#
# Settings (environment):
#   LOAD_SERVERS            ours softether       which servers, in this order
#   LOAD_PHASES             seq,conc,hold,churn
#   LOAD_CHURN_CYCLES       3
#   LOAD_CHURN_LEVEL_OURS   19500                (SoftEther keeps closed sessions 20 s for a
#   LOAD_CHURN_LEVEL_SOFTETHER 1500               reconnect, with 4 fds each: keep its level low)
#   LOAD_LOGINS             2000                 logins in seq and conc
#   LOAD_CONC               50                   logins in flight in conc
#   LOAD_HOLD_CONC          50                   logins in flight while ramping up sessions
#   LOAD_LEVELS_OURS        1000,3000,5000,10000,30000,100000
#   LOAD_LEVELS_SOFTETHER   1000,3000,5000
#   LOAD_HOLD               15                   seconds each level is held
#   LOAD_AFTER_CLOSE        10                   seconds the server is watched after closing
#   LOAD_SERVER_NOFILE      1048576              servers' open-file limit
#   LOAD_SETTLE             3                    seconds between server start and the first sample
#   LOAD_MIN_MEM_MIB        2048                 loadgen stops opening sessions below this MemAvailable
#   LOAD_KEEP=1                                  keep the working directory (logs, configs)
#   LOAD_BUILD=0                                 use the binaries already in $CARGO_TARGET_DIR/release
set -euo pipefail

SE=${SE_VPNSERVER:-/usr/libexec/softether/vpnserver/vpnserver}
LOAD_SERVERS=${LOAD_SERVERS:-ours softether}
LOAD_PHASES=${LOAD_PHASES:-seq,conc,hold,churn}
LOAD_CHURN_CYCLES=${LOAD_CHURN_CYCLES:-3}
LOAD_CHURN_LEVEL_OURS=${LOAD_CHURN_LEVEL_OURS:-19500}
LOAD_CHURN_LEVEL_SOFTETHER=${LOAD_CHURN_LEVEL_SOFTETHER:-1500}
LOAD_LOGINS=${LOAD_LOGINS:-2000}
LOAD_CONC=${LOAD_CONC:-50}
LOAD_HOLD_CONC=${LOAD_HOLD_CONC:-50}
LOAD_LEVELS_OURS=${LOAD_LEVELS_OURS:-1000,3000,5000,10000,30000,100000}
LOAD_LEVELS_SOFTETHER=${LOAD_LEVELS_SOFTETHER:-1000,3000,5000}
LOAD_HOLD=${LOAD_HOLD:-15}
LOAD_AFTER_CLOSE=${LOAD_AFTER_CLOSE:-10}
LOAD_SERVER_NOFILE=${LOAD_SERVER_NOFILE:-1048576}
LOAD_SETTLE=${LOAD_SETTLE:-3}
LOAD_MIN_MEM_MIB=${LOAD_MIN_MEM_MIB:-2048}

SRV_ADDR=10.232.0.1
CLI_ADDR=10.232.0.2
PLEN=24
SRC_FIRST=101
SRC_LAST=120
PORT=5555
HUB=DEFAULT
USER_NAME=u1
PASSWORD=load-pass-u1

log() { printf 'load: %s\n' "$*" >&2; }
die() { printf 'load: ERROR: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (network namespaces, bind mounts, rlimits)"
for c in ip unshare setsid ss; do command -v "$c" >/dev/null || die "$c not found"; done
case " $LOAD_SERVERS " in *" softether "*) [ -x "$SE" ] || die "$SE not found (apt-get install softether-vpnserver)" ;; esac

cd "$(dirname "$0")/.."
if [ "${LOAD_BUILD:-1}" = 1 ]; then
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
NS_S=re-load-s-$ID
NS_C=re-load-c-$ID
WORK=$(mktemp -d /tmp/re-load.XXXXXX)
RESULTS=/tmp/rustether-load-$(date -u +%Y%m%dT%H%M%SZ).jsonl
: >"$RESULTS"
mkdir -p "$WORK/logs"
SRV_PID=""
SRV_NAME=""
FAILED=""

stop_server() {
    [ -n "$SRV_PID" ] || return 0
    local t0 end
    t0=$(date +%s%N)
    if [ -e "/proc/$SRV_PID" ]; then
        # The server runs in its own session/process group (setsid).
        kill -TERM -- "-$SRV_PID" 2>/dev/null || kill -TERM "$SRV_PID" 2>/dev/null || true
        end=$((SECONDS + 30))
        while [ -e "/proc/$SRV_PID" ] && ! grep -q '^State:.*Z' "/proc/$SRV_PID/status" 2>/dev/null \
            && [ "$SECONDS" -lt "$end" ]; do
            sleep 0.1
        done
        if [ -e "/proc/$SRV_PID" ] && ! grep -q '^State:.*Z' "/proc/$SRV_PID/status" 2>/dev/null; then
            log "$SRV_NAME (pid $SRV_PID) did not stop within 30 s after SIGTERM: SIGKILL"
            kill -KILL -- "-$SRV_PID" 2>/dev/null || kill -KILL "$SRV_PID" 2>/dev/null || true
        fi
    fi
    wait "$SRV_PID" 2>/dev/null || true
    log "$SRV_NAME stopped in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
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
    if [ "${LOAD_KEEP:-0}" = 1 ]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# The open-file limit: raising the hard limit needs CAP_SYS_RESOURCE (some
# containers do not grant it); then the servers get at most the hard limit
# there is. loadgen needs one descriptor per held session as well, so session
# levels beyond its own limit are capped. (A server limit below the levels is
# allowed: that is how a server's behaviour at its limit is measured.)
if ! (ulimit -SHn "$LOAD_SERVER_NOFILE") 2>/dev/null; then
    log "cannot raise the open-file hard limit to $LOAD_SERVER_NOFILE here (no CAP_SYS_RESOURCE?); servers get $(ulimit -Hn)"
    LOAD_SERVER_NOFILE=$(ulimit -Hn)
fi
LOADGEN_NOFILE=$(ulimit -Hn)
(ulimit -SHn 1048576) 2>/dev/null && LOADGEN_NOFILE=1048576
cap_levels() { # LEVELS -> LEVELS with anything above the fd budget replaced by the budget (once)
    local max=$((LOADGEN_NOFILE - 500)) out="" l last=0
    IFS=, read -r -a ls <<<"$1"
    for l in "${ls[@]}"; do
        if [ "$l" -gt "$max" ]; then
            log "levels above $max sessions do not fit in loadgen's open-file limit $LOADGEN_NOFILE: capped at $max"
            l=$max
        fi
        [ "$l" -gt "$last" ] || continue
        out=${out:+$out,}$l
        last=$l
    done
    printf '%s\n' "$out"
}

# ------------------------------------------------------------------ topology
ip netns add "$NS_S"
ip netns add "$NS_C"
ip -n "$NS_S" link add eth0 type veth peer name eth0 netns "$NS_C"
ip -n "$NS_S" link set lo up
ip -n "$NS_C" link set lo up
ip -n "$NS_S" addr add "$SRV_ADDR/$PLEN" dev eth0
ip -n "$NS_C" addr add "$CLI_ADDR/$PLEN" dev eth0
SOURCES=""
for ((i = SRC_FIRST; i <= SRC_LAST; i++)); do
    ip -n "$NS_C" addr add "10.232.0.$i/$PLEN" dev eth0
done
SOURCES=10.232.0.$SRC_FIRST-$SRC_LAST
ip -n "$NS_S" link set eth0 up
ip -n "$NS_C" link set eth0 up
# Namespaced sysctls: ephemeral ports for the client side.
ip netns exec "$NS_C" sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
for ns in "$NS_S" "$NS_C"; do
    [ -z "$(ip -n "$ns" route show default)" ] || die "$ns has a default route"
done
ip netns exec "$NS_C" ping -c 1 -W 2 "$SRV_ADDR" >/dev/null 2>&1 || die "$SRV_ADDR not reachable from $NS_C"

# ------------------------------------------------------------------ servers
# Run inside a fresh private mount namespace: private SoftEther directories,
# the open-file limit, then exec the server (so $! is the server's pid).
# Arguments: INSTANCE_DIR NOFILE CMD...
INST_SH='
d=$1; n=$2; shift 2
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    src=$d/${m%%:*}; dst=${m#*:}
    mkdir -p "$src" "$dst" || exit 97
    mount --bind "$src" "$dst" || { echo "bind mount $src -> $dst failed" >&2; exit 97; }
done
ulimit -SHn "$n" || exit 98
cd "$d" || exit 97
exec "$@"'
OURS_SH='n=$1; shift; ulimit -SHn "$n" || exit 98; exec "$@"'

# One configuration (with one RSA-2048 certificate and key) for both
# servers, so that both do the same TLS work per login.
"$LOADGEN" config --out "$WORK/vpn_server.config" --port "$PORT" --hub "$HUB" \
    --user "$USER_NAME" --password "$PASSWORD" 2>/dev/null || die "loadgen config failed"

prepare_server() { # NAME
    local dir=$WORK/$1
    case $1 in
    ours)
        mkdir -p "$dir"
        chmod 700 "$dir"
        cp "$WORK/vpn_server.config" "$dir/vpn_server.config"
        ;;
    softether)
        mkdir -p "$dir/lib" "$dir/run" "$dir/log"
        cp "$WORK/vpn_server.config" "$dir/lib/vpn_server.config"
        ;;
    esac
}

# What the server logged about trouble during a phase (stderr and a JSON line).
server_log_summary() { # NAME PHASE
    local f=$WORK/logs/$1-$2.log listener accept_fail warn
    # "TCP Listener (port 5555) has started" (SoftEther: once per (re)start
    # of its listening socket) / "TCP listener (port 5555) is listening" (ours)
    listener=$(grep -ci 'listener (port [0-9]*) \(has started\|is listening\)' "$f" 2>/dev/null || true)
    accept_fail=$(grep -ci 'accept.*fail\|too many open files' "$f" 2>/dev/null || true)
    warn=$(grep -c 'WARN\|ERROR' "$f" 2>/dev/null || true)
    printf '{"test":"server-log","server":"%s","phase":"%s","listener_started_lines":%s,"accept_failure_lines":%s,"warn_or_error_lines":%s}\n' \
        "$1" "$2" "${listener:-0}" "${accept_fail:-0}" "${warn:-0}" | tee -a "$RESULTS"
}

listening() { [ -n "$(ip netns exec "$NS_S" ss -Hltn "sport = :$PORT" 2>/dev/null)" ]; }

start_server() { # NAME PHASE
    local name=$1 phase=$2 dir=$WORK/$1 end exe want
    SRV_NAME=$name
    case $name in
    ours)
        setsid ip netns exec "$NS_S" bash -c "$OURS_SH" sh "$LOAD_SERVER_NOFILE" \
            "$OURS" start --foreground --dir "$dir" </dev/null >"$WORK/logs/$name-$phase.log" 2>&1 &
        want=$OURS
        ;;
    softether)
        setsid ip netns exec "$NS_S" unshare -m --propagation private bash -c "$INST_SH" sh \
            "$dir" "$LOAD_SERVER_NOFILE" "$SE" start --foreground </dev/null >"$WORK/logs/$name-$phase.log" 2>&1 &
        want=$(readlink -f "$SE")
        ;;
    esac
    SRV_PID=$!
    end=$((SECONDS + 30))
    until listening; do
        [ -e "/proc/$SRV_PID" ] || { tail -n 20 "$WORK/logs/$name-$phase.log" >&2; die "$name exited at start"; }
        [ "$SECONDS" -lt "$end" ] || die "$name does not listen on $PORT after 30 s"
        sleep 0.2
    done
    sleep "$LOAD_SETTLE"
    exe=$(readlink -f "/proc/$SRV_PID/exe" 2>/dev/null || true)
    [ "$exe" = "$want" ] || die "pid $SRV_PID runs '$exe', not $want (the measured process must be the server itself)"
    log "$name started for phase $phase: pid $SRV_PID, NOFILE $(awk '/Max open files/ {print $4}' "/proc/$SRV_PID/limits")"
}

loadgen() { # NAME PHASE MODE ARGS...
    local name=$1 phase=$2 rc=0 line
    shift 2
    line=$(ip netns exec "$NS_C" "$LOADGEN" "$@" --server "$SRV_ADDR" --port "$PORT" --hub "$HUB" \
        --user "$USER_NAME" --password "$PASSWORD" --sources "$SOURCES" \
        --server-pid "$SRV_PID" --label "$name" --phase "$phase" \
        --min-mem-available-mib "$LOAD_MIN_MEM_MIB") || rc=$?
    if [ -n "$line" ]; then
        printf '%s\n' "$line" | tee -a "$RESULTS"
    fi
    [ "$rc" = 0 ] || log "$name $phase: loadgen exit status $rc"
    return "$rc"
}

machine_line() { # WHEN
    local rustc
    rustc=$(ps -eo comm= | grep -c '^rustc$' || true)
    printf '{"test":"machine","when":"%s","loadavg":"%s","nproc":%s,"mem_available_kib":%s,"rustc_processes":%s}\n' \
        "$1" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(nproc)" \
        "$(awk '/MemAvailable/ {print $2}' /proc/meminfo)" "$rustc" | tee -a "$RESULTS"
}

machine_line start
IFS=, read -r -a phases <<<"$LOAD_PHASES"
for srv in $LOAD_SERVERS; do
    prepare_server "$srv"
    case $srv in
    ours) levels=$(cap_levels "$LOAD_LEVELS_OURS"); churn=$(cap_levels "$LOAD_CHURN_LEVEL_OURS") ;;
    softether) levels=$(cap_levels "$LOAD_LEVELS_SOFTETHER"); churn=$(cap_levels "$LOAD_CHURN_LEVEL_SOFTETHER") ;;
    *) die "unknown server $srv (ours, softether)" ;;
    esac
    for ph in "${phases[@]}"; do
        start_server "$srv" "$ph"
        case $ph in
        seq)
            loadgen "$srv" seq login --count "$LOAD_LOGINS" --concurrency 1 --max-time 600 \
                || FAILED="$FAILED $srv:seq"
            ;;
        conc)
            loadgen "$srv" conc login --count "$LOAD_LOGINS" --concurrency "$LOAD_CONC" --max-time 600 \
                || FAILED="$FAILED $srv:conc"
            ;;
        hold)
            # A reference server that runs out of something is a result;
            # ours must hold every level.
            loadgen "$srv" hold hold --sessions "$levels" --hold "$LOAD_HOLD" \
                --concurrency "$LOAD_HOLD_CONC" --after-close "$LOAD_AFTER_CLOSE" --probe-after-close 10 --max-time 900 \
                || { [ "$srv" = ours ] && FAILED="$FAILED $srv:hold"; } || true
            ;;
        churn)
            for ((k = 1; k <= LOAD_CHURN_CYCLES; k++)); do
                loadgen "$srv" "churn$k" hold --sessions "$churn" --hold 5 \
                    --concurrency "$LOAD_HOLD_CONC" --after-close 5 --max-time 300 \
                    || { FAILED="$FAILED $srv:churn$k"; break; }
            done
            ;;
        *) die "unknown phase $ph (seq, conc, hold, churn)" ;;
        esac
        [ -e "/proc/$SRV_PID" ] || { log "FAILED: $srv is gone after phase $ph"; FAILED="$FAILED $srv:$ph(gone)"; }
        stop_server
        server_log_summary "$srv" "$ph"
    done
done
machine_line end

log "results: $RESULTS"
"$LOADGEN" report "$RESULTS" >&2 || true
if [ -n "$FAILED" ]; then
    log "FAILED:$FAILED"
    exit 1
fi
exit 0
