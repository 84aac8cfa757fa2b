#!/usr/bin/env python3
"""Writes aes128cbc_sha1_vector.hex: a client-to-server P_DATA_V1 payload as
OpenVPN's openvpn_encrypt_v1 (src/openvpn/crypto.c) lays it out, computed
with python3-cryptography (OpenSSL), independently of src/cbc.rs.

Key material = bytes 0..255 (OpenVPN struct key2); the client sends with
key 0: AES-128 key = material[0:16], HMAC-SHA1 key = material[64:84].
IV = a0..af, packet id 1, payload b"frame"."""
from cryptography.hazmat.primitives import hashes, hmac, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

m = bytes(range(256))
iv = bytes(range(0xA0, 0xB0))
p = padding.PKCS7(128).padder()
plain = p.update((1).to_bytes(4, "big") + b"frame") + p.finalize()
e = Cipher(algorithms.AES(m[0:16]), modes.CBC(iv)).encryptor()
ct = e.update(plain) + e.finalize()
h = hmac.HMAC(m[64:84], hashes.SHA1())
h.update(iv + ct)
print((h.finalize() + iv + ct).hex())
