#!/bin/sh
# Writes prf_vector.txt: OpenVPN's key-method 2 TLS-PRF key expansion
# (src/openvpn/ssl.c generate_key_expansion_openvpn_prf) computed with
# OpenSSL's TLS1-PRF (`openssl kdf`, OpenSSL 3), independently of
# crates/openvpn/src/prf.rs. Inputs are fixed byte patterns.
set -eu
pat() { # pat START COUNT: COUNT bytes START, START+1, ... (mod 256) as hex
	i=0; out=""
	while [ $i -lt "$2" ]; do out="$out$(printf %02x $((($1 + i) % 256)))"; i=$((i + 1)); done
	echo "$out"
}
prf() { # prf HEXSECRET HEXSEED LEN
	openssl kdf -keylen "$3" -kdfopt digest:MD5-SHA1 -kdfopt hexsecret:"$1" \
		-kdfopt hexseed:"$2" TLS1-PRF | tr -d ':\n' | tr 'A-F' 'a-f'
}
hexstr() { printf %s "$1" | od -An -tx1 | tr -d ' \n'; }
PRE=$(pat 1 48); C1=$(pat 64 32); S1=$(pat 96 32); C2=$(pat 128 32); S2=$(pat 160 32)
CSID=$(pat 200 8); SSID=$(pat 220 8)
MASTER=$(prf "$PRE" "$(hexstr 'OpenVPN master secret')$C1$S1" 48)
KEYS=$(prf "$MASTER" "$(hexstr 'OpenVPN key expansion')$C2$S2$CSID$SSID" 256)
cat <<END
pre_master=$PRE
client_random1=$C1
server_random1=$S1
client_random2=$C2
server_random2=$S2
client_sid=$CSID
server_sid=$SSID
master=$MASTER
keys=$KEYS
END
