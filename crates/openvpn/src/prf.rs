//! Key-method 2 key derivation with the TLS 1.0 PRF, for clients that do
//! not offer TLS keying-material export (OpenVPN < 2.5, and every client
//! of a server that does not push `key-derivation tls-ekm`, such as
//! SoftEther's Proto_OpenVPN.c). OpenVPN src/openvpn/ssl.c
//! `generate_key_expansion_openvpn_prf`:
//!
//! ```text
//! master = PRF(client.pre_master, "OpenVPN master secret",
//!              client.random1 | server.random1)                      48 bytes
//! keys   = PRF(master, "OpenVPN key expansion",
//!              client.random2 | server.random2 | client_sid | server_sid) 256 bytes
//! ```
//!
//! PRF is the TLS 1.0 PRF of RFC 2246 §5 (P_MD5 of the secret's first half
//! XOR P_SHA1 of its second half), built on RustCrypto's HMAC, MD5 and SHA-1
//! (aws-lc-rs has no MD5); checked against OpenSSL's `TLS1-PRF` in the tests.

use hmac::{Hmac, Mac};

use crate::data::KEY_MATERIAL_LEN;
use crate::packet::SessionId;

/// Label of the master-secret step (SoftEther `OPENVPN_PREMASTER_LABEL`).
pub const MASTER_LABEL: &[u8] = b"OpenVPN master secret";
/// Label of the key-expansion step (SoftEther `OPENVPN_EXPANSION_LABEL`).
pub const EXPANSION_LABEL: &[u8] = b"OpenVPN key expansion";

/// `P_hash(secret, seed)` XORed into `out` (RFC 2246 §5).
fn p_hash_xor<M: Mac + hmac::digest::KeyInit + Clone>(secret: &[u8], seed: &[u8], out: &mut [u8]) {
    let Ok(base) = <M as hmac::digest::KeyInit>::new_from_slice(secret) else {
        return; // unreachable: HMAC takes keys of any length
    };
    // A(1) = HMAC(secret, seed); A(i) = HMAC(secret, A(i-1)).
    let mut a = base.clone().chain_update(seed).finalize().into_bytes();
    let mut done = 0;
    while done < out.len() {
        let block = base
            .clone()
            .chain_update(&a)
            .chain_update(seed)
            .finalize()
            .into_bytes();
        for (o, b) in out[done..].iter_mut().zip(block.iter()) {
            *o ^= b;
        }
        done += block.len();
        a = base.clone().chain_update(&a).finalize().into_bytes();
    }
}

/// The TLS 1.0 PRF: `out` = PRF(secret, seed), where OpenVPN's "label" is
/// the start of `seed`. Any output length.
pub fn tls1_prf(secret: &[u8], seed: &[u8], out: &mut [u8]) {
    out.fill(0);
    // S1 = first ceil(len/2) bytes, S2 = last ceil(len/2) (they share a
    // byte when the length is odd).
    let half = secret.len().div_ceil(2);
    let (s1, s2) = (&secret[..half], &secret[secret.len() - half..]);
    p_hash_xor::<Hmac<md5::Md5>>(s1, seed, out);
    p_hash_xor::<Hmac<sha1::Sha1>>(s2, seed, out);
}

/// The client's and the server's key sources (key-method 2 messages).
#[derive(Debug, Clone)]
pub struct KeySource<'a> {
    /// The client's 48-byte pre-master secret.
    pub pre_master: &'a [u8; 48],
    /// Client random1 and random2.
    pub client_random: (&'a [u8; 32], &'a [u8; 32]),
    /// Server random1 and random2.
    pub server_random: (&'a [u8; 32], &'a [u8; 32]),
    /// The client's session id.
    pub client_sid: SessionId,
    /// The server's session id.
    pub server_sid: SessionId,
}

/// The 256 bytes of key material (OpenVPN `struct key2`, as
/// [`crate::data::DataChannel::new`] takes them) from the key sources.
pub fn key_expansion(src: &KeySource<'_>) -> [u8; KEY_MATERIAL_LEN] {
    let mut seed = Vec::with_capacity(EXPANSION_LABEL.len() + 64 + 16);
    seed.extend_from_slice(MASTER_LABEL);
    seed.extend_from_slice(src.client_random.0);
    seed.extend_from_slice(src.server_random.0);
    let mut master = [0u8; 48];
    tls1_prf(src.pre_master, &seed, &mut master);

    seed.clear();
    seed.extend_from_slice(EXPANSION_LABEL);
    seed.extend_from_slice(src.client_random.1);
    seed.extend_from_slice(src.server_random.1);
    seed.extend_from_slice(&src.client_sid);
    seed.extend_from_slice(&src.server_sid);
    let mut keys = [0u8; KEY_MATERIAL_LEN];
    tls1_prf(&master, &seed, &mut keys);
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// `openssl kdf -keylen 16 -kdfopt digest:MD5-SHA1 -kdfopt secret:abc
    /// -kdfopt seed:xyz TLS1-PRF` (OpenSSL 3.0): odd secret length, so the
    /// halves share a byte.
    #[test]
    fn prf_matches_openssl_tls1_prf() {
        let mut out = [0u8; 16];
        tls1_prf(b"abc", b"xyz", &mut out);
        assert_eq!(hex(&out), "9b9f8b9aa64c0fd7d6b235d080d40710");
    }

    /// The whole derivation against OpenSSL, step by step (vectors in
    /// testdata/prf_vector.txt, made by testdata/prf_vector.sh with the
    /// `openssl kdf` command, independent of this code).
    #[test]
    fn key_expansion_matches_openssl() {
        let v = include_str!("../testdata/prf_vector.txt");
        let get = |k: &str| -> Vec<u8> {
            let line = v
                .lines()
                .find_map(|l| l.strip_prefix(k)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("{k} in the vector file"));
            (0..line.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap())
                .collect()
        };
        let arr32 = |k: &str| -> [u8; 32] { get(k).try_into().unwrap() };
        let pre: [u8; 48] = get("pre_master").try_into().unwrap();
        let (c1, c2, s1, s2) = (
            arr32("client_random1"),
            arr32("client_random2"),
            arr32("server_random1"),
            arr32("server_random2"),
        );
        let src = KeySource {
            pre_master: &pre,
            client_random: (&c1, &c2),
            server_random: (&s1, &s2),
            client_sid: get("client_sid").try_into().unwrap(),
            server_sid: get("server_sid").try_into().unwrap(),
        };
        assert_eq!(hex(&key_expansion(&src)), hex(&get("keys")));
    }
}
