#!/bin/bash
# Regenerate softether-5.01.config: run the real SoftEther VPN Server 5.01
# (Debian package) in a private network namespace without a default route and
# a private mount namespace, configure it with the real vpncmd, stop it, and
# copy the configuration file it wrote.
#
# Usage (as root):  crates/config/tests/data/gen-softether-config.sh [OUT]
#
# Nothing leaves the machine: the namespace only has loopback, and the
# pre-written configuration switches keep-alive, dynamic DNS and NAT
# traversal off before the server starts.
set -euo pipefail

SE_DIR=${SE_DIR:-/usr/libexec/softether}
VPNSERVER=$SE_DIR/vpnserver/vpnserver
VPNCMD=$SE_DIR/vpncmd/vpncmd
OUT=${1:-$(dirname "$0")/softether-5.01.config}
NS=rce-gen-$$
WORK=$(mktemp -d /tmp/rce-gen.XXXXXX)
SRV_PID=

[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

cleanup() {
    if [ -n "$SRV_PID" ] && kill -0 "$SRV_PID" 2>/dev/null; then
        kill -KILL -- "-$SRV_PID" 2>/dev/null || kill -KILL "$SRV_PID" 2>/dev/null || true
    fi
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

# Inside a private mount namespace: bind our directories over SoftEther's
# state, pid and log directories (the Debian build hard-codes them).
INST_SH='
d=$1; shift
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    mkdir -p "$d/${m%%:*}" "${m#*:}" && mount --bind "$d/${m%%:*}" "${m#*:}" || exit 97
done
cd "$d" || exit 97
exec "$@"'

ip netns add "$NS"
ip -n "$NS" link set lo up
mkdir -p "$WORK/srv/lib" "$WORK/srv/run" "$WORK/srv/log" "$WORK/cmd"

# Minimal configuration: only loopback admin port, no internet features.
cat >"$WORK/srv/lib/vpn_server.config" <<'EOF'
declare root
{
	declare DDnsClient
	{
		bool Disabled true
	}
	declare ListenerList
	{
		declare Listener0
		{
			bool DisableDos false
			bool Enabled true
			uint Port 5555
		}
	}
	declare ServerConfiguration
	{
		bool DisableNatTraversal true
		bool DisableJsonRpcWebApi true
		bool EnableVpnAzure false
		string KeepConnectHost 127.0.0.1
		string PortsUDP $
		bool UseKeepConnect false
	}
}
EOF

setsid ip netns exec "$NS" unshare -m --propagation private /bin/sh -c "$INST_SH" sh "$WORK/srv" \
    "$VPNSERVER" start --foreground </dev/null >"$WORK/server.log" 2>&1 &
SRV_PID=$!

for _ in $(seq 100); do
    [ -n "$(ip netns exec "$NS" ss -Hltn 'sport = :5555')" ] && break
    kill -0 "$SRV_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.3
done

cmd() {
    timeout 30 ip netns exec "$NS" unshare -m --propagation private /bin/sh -c "$INST_SH" sh "$WORK/cmd" \
        "$VPNCMD" 127.0.0.1:5555 /SERVER "$@" </dev/null >>"$WORK/vpncmd.log" 2>&1 \
        || { tail -n 20 "$WORK/vpncmd.log" >&2; exit 1; }
}
hubcmd() { cmd /ADMINHUB:TEST /CMD "$@"; }

cmd /CMD HubCreate TEST /PASSWORD:newhubpw
hubcmd GroupCreate staff "/REALNAME:Staff Group" /NOTE:none
hubcmd UserCreate alice /GROUP:none "/REALNAME:Alice A" "/NOTE:a note"
hubcmd UserPasswordSet alice /PASSWORD:Secret1
hubcmd UserPolicySet alice /NAME:MaxConnection /VALUE:4
hubcmd UserCreate bob /GROUP:staff /REALNAME:none /NOTE:none
hubcmd UserPasswordSet bob /PASSWORD:bobpw
hubcmd UserCreate carol /GROUP:none /REALNAME:none /NOTE:none
hubcmd UserRadiusSet carol /ALIAS:carol-radius
hubcmd CascadeCreate casc1 /SERVER:127.0.0.1:5555 /HUB:OTHER /USERNAME:casc
hubcmd CascadePasswordSet casc1 /PASSWORD:cascpw /TYPE:standard
hubcmd CascadeCreate casc2 /SERVER:127.0.0.1:5555 /HUB:OTHER /USERNAME:plainuser
hubcmd CascadePasswordSet casc2 /PASSWORD:plainpw /TYPE:radius
cmd /CMD BridgeCreate TEST /DEVICE:nosuch0 /TAP:no
cmd /CMD BridgeCreate TEST /DEVICE:setap /TAP:yes
cmd /CMD Flush

kill -TERM "$SRV_PID"
for _ in $(seq 100); do
    kill -0 "$SRV_PID" 2>/dev/null || break
    sleep 0.2
done
SRV_PID=

install -m 0644 "$WORK/srv/lib/vpn_server.config" "$OUT"
echo "wrote $OUT"
