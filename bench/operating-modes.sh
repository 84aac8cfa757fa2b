#!/usr/bin/env bash
# bench/operating-modes.sh - process-model figures of our vpnserver and of the
# real SoftEther vpnserver (Debian package, 5.01), measured in the same run:
#
#   start_return_ms      `vpnserver start` wall time (until the shell prompt)
#   start_to_served_ms   from invoking `start` until TCP 5555 answers a request
#   stop_ms              `vpnserver stop` wall time (both processes gone)
#   crash_to_served_ms   SIGKILL to the worker until TCP 5555 answers again
#   worker_back_ms       SIGKILL to the worker until a new worker pid exists
#   refused              connection attempts refused between the SIGKILL and
#                        the port answering again (a client connecting in a loop)
#   slow_connects        attempts in that time whose connect took over 100 ms
#   max_connect_ms       the longest connect in that time
#   attempts             connection attempts made in that time
#
#   bench/operating-modes.sh [RUNS]      (default 5)
#
# "Answers" means: a connection is accepted by the program (not just queued
# by the kernel) - after sending a line the server either replies or closes.
# Everything runs inside a network namespace of its own with only loopback
# (no default route, no outside traffic); SoftEther runs with its internet
# features off (keep-alive, DDNS, NAT traversal, VPN Azure) in private
# bind-mounted directories, as in the project's lab. Needs root and the
# Debian package softether-vpnserver. Prints one JSON line per program and
# run, then a side-by-side table of medians (stderr).
set -euo pipefail

SE=${SE_VPNSERVER:-/usr/libexec/softether/vpnserver/vpnserver}
PORT=5555

if [ "${1:-}" != __inner ]; then
    cd "$(dirname "$0")/.."
    [ "$(id -u)" = 0 ] || { echo "bench: must run as root" >&2; exit 1; }
    [ -x "$SE" ] || { echo "bench: $SE not found (apt-get install softether-vpnserver)" >&2; exit 1; }
    runs=${1:-5}
    cargo build --release -q -p rustether --bin vpnserver >&2
    ours=$(pwd)/${CARGO_TARGET_DIR:-target}/release/vpnserver
    ns=re-om-bench-$$
    work=$(mktemp -d /tmp/re-om-bench.XXXXXX)
    cleanup() {
        # Whatever still runs in the namespace was started by this script.
        local p
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
        rm -rf "$work"
    }
    trap cleanup EXIT
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip netns exec "$ns" unshare -m --propagation private env PROGS="${PROGS:-ours softether}" BENCH_TRACE="${BENCH_TRACE:-}" \
        bash "$(pwd)/bench/operating-modes.sh" __inner "$work" "$runs" "$ours"
    exit $?
fi

# ------------------------------------------------------------- inside the netns
work=$2
runs=$3
ours=$4
log() { printf 'bench: %s\n' "$*" >&2; }
[ -n "${BENCH_TRACE:-}" ] && set -x
# A server that closes at once must not kill us with SIGPIPE.
trap '' PIPE

# Private SoftEther directories (this mount namespace only).
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    mkdir -p "$work/se/${m%%:*}" "${m#*:}"
    mount --bind "$work/se/${m%%:*}" "${m#*:}"
done
mkdir -p "$work/ours"
chmod 700 "$work/ours"

# The same minimal SoftEther-format configuration for both programs: one
# listener on 5555, every feature that would talk to the internet off.
cfg() {
    printf '\357\273\277# Software Configuration File\n'
    cat <<EOF
declare root
{
	uint ConfigRevision 0
	bool IPsecMessageDisplayed true
	string Region $

	declare DDnsClient
	{
		bool Disabled true
		string LocalHostname bench
	}
	declare ListenerList
	{
		declare Listener0
		{
			bool DisableDos false
			bool Enabled true
			uint Port $PORT
		}
	}
	declare ServerConfiguration
	{
		bool BackupConfigOnlyWhenModified true
		bool DisableGetHostNameWhenAcceptTcp true
		bool DisableJsonRpcWebApi true
		bool DisableNatTraversal true
		bool DontBackupConfig true
		bool EnableVpnAzure false
		bool EnableVpnOverDns false
		bool EnableVpnOverIcmp false
		string KeepConnectHost 127.0.0.1
		uint KeepConnectPort 80
		string PortsUDP $
		uint ServerType 0
		bool UseKeepConnect false
		bool UseWebTimePage false
		bool UseWebUI false

		declare Proto
		{
			declare OpenVPN
			{
				bool Enabled false
			}
			declare SSTP
			{
				bool Enabled false
			}
		}
	}
}
EOF
}
cfg >"$work/se/lib/vpn_server.config"
cfg >"$work/ours/vpn_server.config"
chmod 600 "$work/se/lib/vpn_server.config" "$work/ours/vpn_server.config"

now_us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
ms_since() { echo $(( ($(now_us) - $1) / 1000 )); }

# served: a connection is accepted by the program and answered (reply or close)
served() {
    # `command` keeps a failed redirection from ending the shell.
    { command exec 3<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null || return 1
    printf 'GET / HTTP/1.0\r\n\r\n' >&3 2>/dev/null || true
    local x rc=0
    read -r -t 0.3 -N 1 x <&3 || rc=$?
    exec 3>&- 3<&-
    [ "$rc" -le 1 ]
}

wait_served() { # TIMEOUT_S
    local end=$((SECONDS + $1))
    until served; do
        [ "$SECONDS" -lt "$end" ] || return 1
    done
}

worker_pid() { # PROG
    case $1 in
    ours) awk '$1 == "worker" { print $2 }' "$work/ours/vpnserver.pid" 2>/dev/null || true ;;
    softether) { cat /run/softether/.pid_* 2>/dev/null || true; } | head -n 1 | tr -d '[:space:]' ;;
    esac
}

alive() { [ -n "$1" ] && [ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

start_cmd() { case $1 in ours) "$ours" --dir "$work/ours" start ;; softether) "$SE" start ;; esac; }
stop_cmd() { case $1 in ours) "$ours" --dir "$work/ours" stop ;; softether) "$SE" stop ;; esac; }

# Kill whatever is left of PROG by pid (worker and its parent).
kill_left() {
    local w p
    w=$(worker_pid "$1")
    if alive "$w"; then
        p=$(awk '{print $4}' "/proc/$w/stat" 2>/dev/null || true)
        kill -KILL "$w" 2>/dev/null || true
        [ -n "$p" ] && [ "$p" != 1 ] && kill -KILL "$p" 2>/dev/null || true
    fi
}
trap 'kill_left ours; kill_left softether' EXIT

# Connect in a loop until $1 exists; print "attempts refused slow max_ms"
# (slow = the connect took over 100 ms, e.g. a SYN dropped while a dying
# listener is torn down and retransmitted a second later).
connect_loop() {
    local flag=$1 n=0 r=0 slow=0 max=0 t d
    while [ ! -e "$flag" ]; do
        t=$(now_us)
        if { command exec 4<>"/dev/tcp/127.0.0.1/$PORT"; } 2>/dev/null; then
            exec 4>&- 4<&-
        else
            r=$((r + 1))
        fi
        d=$(( ($(now_us) - t) / 1000 ))
        n=$((n + 1))
        [ "$d" -gt 100 ] && slow=$((slow + 1))
        [ "$d" -gt "$max" ] && max=$d
    done
    echo "$n $r $slow $max"
}

measure() { # PROG RUN
    local prog=$1 run=$2 t0 t_ret t_ready w1 w2 tk t_back t_wb flag out stop_ms attempts refused slow max_connect_ms
    t0=$(now_us)
    start_cmd "$prog" >/dev/null 2>&1 || { log "$prog: start failed"; return 1; }
    t_ret=$(ms_since "$t0")
    wait_served 30 || { log "$prog: port $PORT never answered"; return 1; }
    t_ready=$(ms_since "$t0")
    sleep 0.5
    w1=$(worker_pid "$prog")
    alive "$w1" || { log "$prog: no worker pid"; return 1; }
    flag=$work/stop-loop-$prog-$run
    out=$work/loop-$prog-$run
    connect_loop "$flag" >"$out" &
    local loop_pid=$!
    sleep 0.2
    tk=$(now_us)
    kill -KILL "$w1"
    # Recovered = a new worker exists and the port answers. (Right after the
    # kill the dying worker's socket may still take a connection and then
    # reset it, which must not count.)
    t_wb=
    local end=$((SECONDS + 30))
    while :; do
        if [ -z "$t_wb" ]; then
            w2=$(worker_pid "$prog")
            [ -n "$w2" ] && [ "$w2" != "$w1" ] && alive "$w2" && t_wb=$(ms_since "$tk")
        elif served; then
            break
        fi
        [ "$SECONDS" -lt "$end" ] || { log "$prog: no recovery after the crash"; touch "$flag"; return 1; }
    done
    t_back=$(ms_since "$tk")
    touch "$flag"
    wait "$loop_pid" || true
    read -r attempts refused slow max_connect_ms <"$out"
    sleep 0.5
    t0=$(now_us)
    stop_cmd "$prog" >/dev/null 2>&1 || log "$prog: stop reported failure"
    stop_ms=$(ms_since "$t0")
    sleep 0.3
    printf '{"bench":"operating-modes","program":"%s","run":%s,"start_return_ms":%s,"start_to_served_ms":%s,"crash_to_served_ms":%s,"worker_back_ms":%s,"refused":%s,"slow_connects":%s,"max_connect_ms":%s,"attempts":%s,"stop_ms":%s}\n' \
        "$prog" "$run" "$t_ret" "$t_ready" "$t_back" "$t_wb" "$refused" "$slow" "$max_connect_ms" "$attempts" "$stop_ms"
}

median() { printf '%s\n' "$@" | sort -n | awk '{v[NR]=$1} END {if (NR % 2) print v[(NR+1)/2]; else print int((v[NR/2]+v[NR/2+1])/2)}'; }

declare -A res
for prog in ${PROGS:-ours softether}; do
    # Warm-up: the first start creates the server key and certificate.
    log "$prog: warm-up start/stop"
    start_cmd "$prog" >/dev/null 2>&1 || true
    wait_served 30 || true
    sleep 0.5
    stop_cmd "$prog" >/dev/null 2>&1 || true
    sleep 0.5
    for ((i = 1; i <= runs; i++)); do
        line=$(measure "$prog" "$i") || { kill_left "$prog"; exit 1; }
        echo "$line"
        log "$line"
        for k in start_return_ms start_to_served_ms crash_to_served_ms worker_back_ms refused slow_connects max_connect_ms attempts stop_ms; do
            v=$(printf '%s' "$line" | sed -n "s/.*\"$k\":\([0-9]*\).*/\1/p")
            res[$prog,$k]="${res[$prog,$k]:-} $v"
        done
    done
done

{
    printf '\nmedians of %s runs (ms unless noted)      ours   SoftEther 5.01\n' "$runs"
    for k in start_return_ms start_to_served_ms stop_ms crash_to_served_ms worker_back_ms refused slow_connects max_connect_ms attempts; do
        # shellcheck disable=SC2086
        printf '  %-36s %8s %10s\n' "$k" "$(median ${res[ours,$k]:-})" "$(median ${res[softether,$k]:-})"
    done
} >&2
