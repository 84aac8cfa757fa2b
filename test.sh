#!/usr/bin/env bash
# test.sh - README's test command: run RustEther's whole test suite.
#
#   ./test.sh [--no-install] [ARGS...]     run the tests (ARGS go to `cargo test`)
#   ./test.sh --install-only [PKG...]      as root: install what the tests need
#                                          (and PKG...), then exit
#
# As root (Debian 12): first installs the Debian packages the tests need
# (SoftEther's vpnserver/vpnclient/vpncmd/vpnbridge, iperf3, curl, ethtool,
# ...) without letting any package start a system service, and stops a
# SoftEther system service if one runs; then runs every test.
# As another user: runs every test; tests whose prerequisites are missing
# (root, network namespaces, /dev/net/tun, programs) are skipped.
#
# Every skip is visible (`SKIPPED <test>: <reason>` on stderr while the
# tests run) and counted: the prerequisite gate of the tests
# (crates/testkit/src/prereq.rs) appends one line per skipped test to the
# file named by RUSTETHER_SKIP_LOG, which this script points to a fresh
# file. At the end it prints how many tests passed, failed and skipped, and
# why each skip happened. With the environment variable CI set (as in
# .ci/run), a missing prerequisite fails the test instead of skipping it.
#
# RUSTETHER_TEST_SUMMARY=FILE: also write `passed=N failed=N skipped=N
# ignored=N run=N` there (read by .ci/run).
# Exit status: 0 when no test failed (skips do not fail this script).
set -uo pipefail

cd "$(dirname "$0")"

# Debian packages the tests need (program → package: ip, ss → iproute2;
# ping → iputils-ping; setpriv, unshare, setsid → util-linux; timeout →
# coreutils; systemd-analyze → systemd; modprobe → kmod; mount → mount;
# udhcpc, nslookup, httpd (SecureNAT test) → busybox; dnsmasq (SecureNAT
# test's DNS server) → dnsmasq-base; chromium, chromedriver (web console
# browser test) → chromium, chromium-driver; openssl (certificate test) → openssl;
# nft (UDP acceleration test) → nftables).
TEST_PKGS=(
    softether-vpnclient softether-vpncmd softether-vpnserver softether-vpnbridge
    iperf3 iproute2 iputils-ping procps util-linux mount ethtool kmod coreutils
    curl systemd build-essential busybox chromium chromium-driver openvpn dnsmasq-base openssl nftables
)

say() { printf '==== test.sh: %s\n' "$*"; }

# Removed on exit, whatever happens: the policy-rc.d this script created
# and its temporary files.
CLEANUP=()
cleanup() { [ ${#CLEANUP[@]} -eq 0 ] || rm -f "${CLEANUP[@]}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

is_root() { [ "$(id -u)" = 0 ]; }

# install_packages PKG...: install the missing ones, no service started.
install_packages() {
    local missing=() p created="" rc=0
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "packages already installed: $*"
        return 0
    fi
    say "installing: ${missing[*]}"
    # Keep the packages' init scripts from starting system services
    # (softether-vpnserver would listen on the machine's ports): invoke-rc.d
    # asks /usr/sbin/policy-rc.d, and exit status 101 means "not allowed".
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created=/usr/sbin/policy-rc.d
        CLEANUP+=("$created")
    fi
    DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null || rc=$?
    if [ $rc = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null || rc=$?
    fi
    [ -n "$created" ] && rm -f "$created"
    if [ $rc != 0 ]; then
        say "FAILED: apt-get could not install ${missing[*]}"
        return 1
    fi
}

# stop_softether_services: a SoftEther system instance would hold the
# ports and directories the tests use. systemd when it runs, else by the
# pid files SoftEther writes in /run/softether (checked to be SoftEther).
stop_softether_services() {
    local s f pid exe
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
        for s in softether-vpnserver softether-vpnbridge softether-vpnclient; do
            if systemctl is-active --quiet "$s" 2>/dev/null; then
                say "stopping system service $s"
                systemctl disable --now "$s" || true
            fi
        done
    fi
    for f in /run/softether/.pid_*; do
        [ -f "$f" ] || continue
        pid=$(tr -dc '0-9' <"$f")
        [ -n "$pid" ] && [ "$pid" -gt 1 ] || continue
        exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
        case $exe in
        /usr/libexec/softether/*)
            say "stopping SoftEther system instance $exe (pid $pid from $f)"
            kill -TERM "$pid" 2>/dev/null || true
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
            kill -KILL "$pid" 2>/dev/null || true
            ;;
        esac
    done
}

prepare_root() {
    install_packages "$@" || return 1
    stop_softether_services
    # Tap devices of the real vpnclient.
    [ -c /dev/net/tun ] || modprobe tun 2>/dev/null || true
    [ -c /dev/net/tun ] || say "NOTE: /dev/net/tun is missing: tests that need it will skip (fail in CI)"
    return 0
}

install=1
case "${1:-}" in
--install-only)
    shift
    is_root || { say "--install-only needs root"; exit 1; }
    prepare_root "${TEST_PKGS[@]}" "$@"
    exit $?
    ;;
--no-install)
    shift
    install=0
    ;;
esac

if ! command -v cargo >/dev/null 2>&1; then
    say "cargo not found: install Rust (https://rustup.rs) and a C compiler (apt-get install build-essential)"
    exit 1
fi

if is_root; then
    if [ $install = 1 ]; then
        prepare_root "${TEST_PKGS[@]}" || exit 1
    fi
else
    say "not root: tests that need root (network namespaces, the real SoftEther programs) will be skipped and counted"
fi

skip_log=$(mktemp "${TMPDIR:-/tmp}/rustether-skipped.XXXXXX")
out_log=$(mktemp "${TMPDIR:-/tmp}/rustether-test-output.XXXXXX")
CLEANUP+=("$skip_log" "$out_log")
export RUSTETHER_SKIP_LOG=$skip_log

# The whole workspace unless the arguments choose packages.
scope=(--workspace)
for a in "$@"; do
    case $a in -p | --package | --package=* | -p?*) scope=() ;; esac
done
say "cargo test ${scope[*]} --no-fail-fast $*"
cargo test "${scope[@]}" --no-fail-fast "$@" 2>&1 | tee "$out_log"
cargo_rc=${PIPESTATUS[0]}

# One line per test binary: "test result: ok. 39 passed; 0 failed; 1 ignored; ..."
sum_of() {
    awk -v what="$1" '/^test result:/ { for (i = 1; i < NF; i++) if ($(i+1) ~ "^" what ";?$") n += $i } END { print n + 0 }' "$out_log"
}
ok=$(sum_of passed)
failed=$(sum_of failed)
ignored=$(sum_of ignored)
# A skipped test returns early and libtest counts it as passed: count the
# distinct tests in the tally and take them out of "passed".
skipped=$(awk '{ sub(/: .*/, ""); print }' "$skip_log" | sort -u | wc -l)
passed=$((ok - skipped))
run=$((ok + failed))

echo
say "tests: $run run: $passed passed, $failed failed, $skipped skipped; $ignored ignored"
if [ "$skipped" -gt 0 ]; then
    say "skipped tests and why:"
    sort -u "$skip_log" | sed 's/^/    /'
fi
if [ -n "${RUSTETHER_TEST_SUMMARY:-}" ]; then
    printf 'passed=%s failed=%s skipped=%s ignored=%s run=%s\n' \
        "$passed" "$failed" "$skipped" "$ignored" "$run" >"$RUSTETHER_TEST_SUMMARY"
fi
if [ "$cargo_rc" != 0 ]; then
    [ "$failed" = 0 ] && say "FAILED: cargo test exited with status $cargo_rc (a build error?)"
    exit 1
fi
exit 0
