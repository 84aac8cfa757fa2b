//! The data channel: AEAD (OpenVPN src/openvpn/crypto.c
//! `openvpn_encrypt_aead` / `openvpn_decrypt_aead`) and, for older and
//! SoftEther-style clients, CBC+HMAC ([`crate::cbc`]).
//!
//! ```text
//! packet = header (1 byte V1 | 4 bytes V2) | packet_id u32 | tag 16 | ciphertext
//! nonce  = packet_id (4) | implicit IV (8, from the direction's HMAC key)
//! AAD    = packet_id (V1)  or  header | packet_id (V2)
//! ```
//!
//! Keys come from 256 bytes of key material laid out as OpenVPN's
//! `struct key2`: two `{cipher[64], hmac[64]}`; the client sends with key 0
//! and the server with key 1 (`KEY_DIRECTION_INVERSE` on the server).

use aws_lc_rs::aead::{
    Aad, LessSafeKey, Nonce, UnboundKey, AES_128_GCM, AES_256_GCM, CHACHA20_POLY1305,
};
use thiserror::Error;

use crate::cbc::{Auth, CbcKey};

/// AEAD tag length (OpenVPN `OPENVPN_AEAD_TAG_LENGTH`).
pub const TAG_LEN: usize = 16;
/// Length of the key material (OpenVPN `sizeof(struct key2.keys)`).
pub const KEY_MATERIAL_LEN: usize = 256;
/// The data-channel ping payload (OpenVPN src/openvpn/ping.c `ping_string`).
pub const PING: [u8; 16] = [
    0x2a, 0x18, 0x7b, 0xf3, 0x64, 0x1e, 0xb4, 0xcb, 0x07, 0xed, 0x2d, 0x0a, 0x98, 0x1f, 0xc7, 0x48,
];
/// The OCC message prefix (OpenVPN src/openvpn/occ.c `occ_magic`); byte 16
/// is the OCC opcode, `OCC_EXIT` = 6 is explicit-exit-notify.
pub const OCC_MAGIC: [u8; 16] = [
    0x28, 0x7f, 0x34, 0x6b, 0xd4, 0xef, 0x7a, 0x81, 0x2d, 0x56, 0xb8, 0xd3, 0xaf, 0xc5, 0x45, 0x9c,
];
/// OCC opcode of explicit-exit-notify.
pub const OCC_EXIT: u8 = 6;
/// Packets the replay window remembers behind the highest id seen
/// (OpenVPN's default `replay-window 64`; a bit wider here).
pub const REPLAY_WINDOW: u32 = 128;

/// The data-channel ciphers we implement, in the server's preference order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    /// AES-256-GCM (OpenVPN 2.6's first default).
    Aes256Gcm,
    /// AES-128-GCM.
    Aes128Gcm,
    /// CHACHA20-POLY1305.
    Chacha20Poly1305,
    /// AES-256-CBC with an HMAC ([`crate::cbc`]).
    Aes256Cbc,
    /// AES-192-CBC with an HMAC.
    Aes192Cbc,
    /// AES-128-CBC with an HMAC (SoftEther's sample file and default).
    Aes128Cbc,
}

impl Cipher {
    /// All, in preference order: the AEAD ciphers first (OpenVPN 2.6's
    /// default `data-ciphers`), then CBC for clients that offer nothing
    /// else (as SoftEther accepts them).
    pub const ALL: [Cipher; 6] = [
        Cipher::Aes256Gcm,
        Cipher::Aes128Gcm,
        Cipher::Chacha20Poly1305,
        Cipher::Aes256Cbc,
        Cipher::Aes192Cbc,
        Cipher::Aes128Cbc,
    ];

    /// OpenVPN's name of the cipher (as in `--data-ciphers`).
    pub fn name(self) -> &'static str {
        match self {
            Cipher::Aes256Gcm => "AES-256-GCM",
            Cipher::Aes128Gcm => "AES-128-GCM",
            Cipher::Chacha20Poly1305 => "CHACHA20-POLY1305",
            Cipher::Aes256Cbc => "AES-256-CBC",
            Cipher::Aes192Cbc => "AES-192-CBC",
            Cipher::Aes128Cbc => "AES-128-CBC",
        }
    }

    /// True for the AEAD ciphers (no separate HMAC).
    pub fn is_aead(self) -> bool {
        matches!(
            self,
            Cipher::Aes256Gcm | Cipher::Aes128Gcm | Cipher::Chacha20Poly1305
        )
    }

    /// Parses an OpenVPN cipher name (case-insensitive, as OpenSSL does).
    pub fn from_name(s: &str) -> Option<Cipher> {
        Cipher::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(s.trim()))
    }

    fn alg(self) -> Option<&'static aws_lc_rs::aead::Algorithm> {
        match self {
            Cipher::Aes256Gcm => Some(&AES_256_GCM),
            Cipher::Aes128Gcm => Some(&AES_128_GCM),
            Cipher::Chacha20Poly1305 => Some(&CHACHA20_POLY1305),
            _ => None,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes128Cbc => 16,
            Cipher::Aes192Cbc => 24,
            Cipher::Aes256Gcm | Cipher::Chacha20Poly1305 | Cipher::Aes256Cbc => 32,
        }
    }
}

/// Picks the cipher as an OpenVPN 2.6 server does (`ncp_get_best_cipher`):
/// the first of `server` that the client lists in `IV_CIPHERS`
/// (colon-separated); without `IV_CIPHERS`, AES-256-GCM when the client
/// says `IV_NCP=2`, else the client's own `cipher` option if we have it.
pub fn negotiate(
    server: &[Cipher],
    iv_ciphers: Option<&str>,
    iv_ncp2: bool,
    client_cipher: Option<&str>,
) -> Option<Cipher> {
    if let Some(list) = iv_ciphers {
        let client: Vec<Cipher> = list.split(':').filter_map(Cipher::from_name).collect();
        return server.iter().copied().find(|c| client.contains(c));
    }
    if iv_ncp2 && server.contains(&Cipher::Aes256Gcm) {
        return Some(Cipher::Aes256Gcm);
    }
    client_cipher
        .and_then(Cipher::from_name)
        .filter(|c| server.contains(c))
}

/// Data-channel errors; every one drops the packet only.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DataError {
    /// Shorter than packet id + tag.
    #[error("data packet too short")]
    Truncated,
    /// Tag mismatch (wrong key, corruption, forgery).
    #[error("data packet authentication failed")]
    BadTag,
    /// Packet id already seen or too old (`REPLAY_WINDOW`), or 0.
    #[error("replayed or out-of-window data packet id {0}")]
    Replay(u32),
    /// The send packet id would wrap; the key must be renegotiated.
    #[error("data packet id exhausted")]
    IdExhausted,
}

/// Sliding replay window over 32-bit packet ids (OpenVPN packet_id.c
/// semantics: ids start at 1, each accepted once, old ones rejected).
#[derive(Debug, Default, Clone)]
pub struct ReplayWindow {
    highest: u32,
    /// Bit i set = id `highest - i` seen.
    bits: u128,
}

impl ReplayWindow {
    /// True if `id` would be accepted (does not record it).
    pub fn check(&self, id: u32) -> bool {
        if id == 0 {
            return false;
        }
        if id > self.highest {
            return true;
        }
        let back = self.highest - id;
        back < REPLAY_WINDOW && self.bits & (1u128 << back) == 0
    }

    /// Records an accepted id (call after authentication succeeded).
    pub fn record(&mut self, id: u32) {
        if id > self.highest {
            let shift = id - self.highest;
            self.bits = if shift >= 128 { 0 } else { self.bits << shift };
            self.highest = id;
            self.bits |= 1;
        } else {
            let back = self.highest - id;
            if back < REPLAY_WINDOW {
                self.bits |= 1u128 << back;
            }
        }
    }
}

/// One direction's key: the AEAD key and the 8-byte implicit IV.
struct DirKey {
    key: LessSafeKey,
    implicit_iv: [u8; 8],
}

impl DirKey {
    fn new(cipher: Cipher, material: &[u8]) -> Option<DirKey> {
        // material = cipher[64] | hmac[64]
        let key =
            LessSafeKey::new(UnboundKey::new(cipher.alg()?, &material[..cipher.key_len()]).ok()?);
        let mut implicit_iv = [0u8; 8];
        implicit_iv.copy_from_slice(&material[64..72]);
        Some(DirKey { key, implicit_iv })
    }

    fn nonce(&self, pid: u32) -> Nonce {
        let mut n = [0u8; 12];
        n[..4].copy_from_slice(&pid.to_be_bytes());
        n[4..].copy_from_slice(&self.implicit_iv);
        Nonce::assume_unique_for_key(n)
    }
}

/// The two directions' keys of either kind.
enum Keys {
    Aead {
        send: DirKey,
        recv: DirKey,
    },
    // Boxed: aws-lc-rs's CBC keys are large.
    Cbc {
        send: Box<CbcKey>,
        recv: Box<CbcKey>,
    },
}

/// Keys of one negotiated data channel, server side.
pub struct DataChannel {
    cipher: Cipher,
    auth: Auth,
    keys: Keys,
    send_pid: u32,
    replay: ReplayWindow,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("cipher", &self.cipher)
            .field("send_pid", &self.send_pid)
            .finish()
    }
}

impl DataChannel {
    /// Keys from 256 bytes of key material. `server` selects the
    /// direction: the server sends with key 1 and receives with key 0.
    /// CBC ciphers use HMAC-SHA1 (see [`DataChannel::with_auth`]).
    /// `None` only if the material is shorter than 256 bytes.
    pub fn new(cipher: Cipher, material: &[u8], server: bool) -> Option<DataChannel> {
        DataChannel::with_auth(cipher, Auth::Sha1, material, server)
    }

    /// As [`DataChannel::new`], with the HMAC digest of a CBC cipher (the
    /// client's `auth` option); ignored for AEAD ciphers.
    pub fn with_auth(
        cipher: Cipher,
        auth: Auth,
        material: &[u8],
        server: bool,
    ) -> Option<DataChannel> {
        if material.len() < KEY_MATERIAL_LEN {
            return None;
        }
        let (k0, k1) = (&material[..128], &material[128..256]);
        let (s, r) = if server { (k1, k0) } else { (k0, k1) };
        let keys = if cipher.is_aead() {
            Keys::Aead {
                send: DirKey::new(cipher, s)?,
                recv: DirKey::new(cipher, r)?,
            }
        } else {
            Keys::Cbc {
                send: Box::new(CbcKey::new(cipher.key_len(), auth, s)?),
                recv: Box::new(CbcKey::new(cipher.key_len(), auth, r)?),
            }
        };
        Some(DataChannel {
            cipher,
            auth,
            keys,
            send_pid: 0,
            replay: ReplayWindow::default(),
        })
    }

    /// The negotiated cipher.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The HMAC digest (meaningful for CBC ciphers only).
    pub fn auth(&self) -> Auth {
        self.auth
    }

    /// Encrypts `plain` into a complete packet after `header` (the 1- or
    /// 4-byte data header from [`crate::packet::data_header`]).
    pub fn encrypt(
        &mut self,
        header: &[u8],
        plain: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), DataError> {
        if self.send_pid == u32::MAX {
            return Err(DataError::IdExhausted);
        }
        self.send_pid += 1;
        let pid = self.send_pid.to_be_bytes();
        out.clear();
        out.extend_from_slice(header);
        let send = match &self.keys {
            Keys::Aead { send, .. } => send,
            Keys::Cbc { send, .. } => return send.seal(self.send_pid, plain, out),
        };
        out.extend_from_slice(&pid);
        let aad_start = if header.len() == 4 { 0 } else { header.len() };
        let tag_at = out.len();
        out.extend_from_slice(&[0u8; TAG_LEN]);
        out.extend_from_slice(plain);
        let (head, body) = out.split_at_mut(tag_at + TAG_LEN);
        let tag = send
            .key
            .seal_in_place_separate_tag(
                send.nonce(self.send_pid),
                Aad::from(&head[aad_start..tag_at]),
                body,
            )
            .map_err(|_| DataError::BadTag)?;
        head[tag_at..].copy_from_slice(tag.as_ref());
        Ok(())
    }

    /// Decrypts a data packet: `header` as decoded, `payload` = the rest.
    /// Returns the plaintext; replayed, old or forged packets are errors.
    pub fn decrypt(&mut self, header: &[u8], payload: &[u8]) -> Result<Vec<u8>, DataError> {
        let recv = match &self.keys {
            Keys::Aead { recv, .. } => recv,
            Keys::Cbc { recv, .. } => {
                // The packet id is inside the ciphertext: HMAC first, then
                // decrypt, then the replay check.
                let (pid, plain) = recv.open(payload)?;
                if !self.replay.check(pid) {
                    return Err(DataError::Replay(pid));
                }
                self.replay.record(pid);
                return Ok(plain);
            }
        };
        if payload.len() < 4 + TAG_LEN {
            return Err(DataError::Truncated);
        }
        let pid = u32::from_be_bytes([payload[0], payload[1], payload[2], payload[3]]);
        if !self.replay.check(pid) {
            return Err(DataError::Replay(pid));
        }
        let mut aad = Vec::with_capacity(8);
        if header.len() == 4 {
            aad.extend_from_slice(header);
        }
        aad.extend_from_slice(&payload[..4]);
        let tag = &payload[4..4 + TAG_LEN];
        let mut buf = Vec::with_capacity(payload.len() - 4);
        buf.extend_from_slice(&payload[4 + TAG_LEN..]);
        buf.extend_from_slice(tag);
        let n = recv
            .key
            .open_in_place(recv.nonce(pid), Aad::from(&aad[..]), &mut buf)
            .map_err(|_| DataError::BadTag)?
            .len();
        buf.truncate(n);
        self.replay.record(pid);
        Ok(buf)
    }

    /// Sets the next send packet id to `pid + 1` (tests of the wraparound).
    pub fn set_send_packet_id(&mut self, pid: u32) {
        self.send_pid = pid;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::data_header;

    fn material() -> Vec<u8> {
        (0..=255u8).collect()
    }

    #[test]
    fn server_and_client_interoperate_in_every_cipher_and_header() {
        for c in Cipher::ALL {
            for peer in [None, Some(7)] {
                let mut srv = DataChannel::new(c, &material(), true).unwrap();
                let mut cli = DataChannel::new(c, &material(), false).unwrap();
                let (h, n) = data_header(0, peer);
                let mut pkt = Vec::new();
                srv.encrypt(&h[..n], b"frame", &mut pkt).unwrap();
                if c.is_aead() {
                    assert_eq!(pkt.len(), n + 4 + TAG_LEN + 5);
                } else {
                    // HMAC-SHA1 | IV | one block (pid + "frame" + padding)
                    assert_eq!(pkt.len(), n + 20 + 16 + 16);
                }
                assert_eq!(cli.decrypt(&h[..n], &pkt[n..]).unwrap(), b"frame");
                // Replay refused.
                assert_eq!(cli.decrypt(&h[..n], &pkt[n..]), Err(DataError::Replay(1)));
                // The server cannot decrypt its own direction.
                assert_eq!(srv.decrypt(&h[..n], &pkt[n..]), Err(DataError::BadTag));
                // Tampered header (V2: part of the AAD) refused.
                if n == 4 && c.is_aead() {
                    cli.encrypt(&h[..n], b"x", &mut pkt).unwrap();
                    let (h2, _) = data_header(0, Some(8));
                    assert_eq!(srv.decrypt(&h2[..4], &pkt[4..]), Err(DataError::BadTag));
                }
            }
        }
    }

    /// Vector computed independently with OpenSSL (python3-cryptography's
    /// AESGCM): key = material[128..160], nonce = 00000001 | material[192..200],
    /// AAD = 00000001, plaintext "frame".
    #[test]
    fn aes256gcm_layout_matches_openvpn() {
        let mut srv = DataChannel::new(Cipher::Aes256Gcm, &material(), true).unwrap();
        let mut pkt = Vec::new();
        srv.encrypt(&[0x30], b"frame", &mut pkt).unwrap();
        assert_eq!(&pkt[..5], &[0x30, 0, 0, 0, 1]);
        let hex: String = pkt[5..].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, include_str!("../testdata/aes256gcm_vector.hex").trim());
    }

    /// A client packet made independently with OpenSSL
    /// (testdata/cbc_vector.py, python3-cryptography): AES-128-CBC with
    /// HMAC-SHA1 in OpenVPN's layout; the server decrypts it once.
    #[test]
    fn aes128cbc_sha1_layout_matches_openvpn() {
        let hex = include_str!("../testdata/aes128cbc_sha1_vector.hex").trim();
        let pkt: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let mut srv = DataChannel::new(Cipher::Aes128Cbc, &material(), true).unwrap();
        assert_eq!(srv.decrypt(&[0x30], &pkt).unwrap(), b"frame");
        assert_eq!(srv.decrypt(&[0x30], &pkt), Err(DataError::Replay(1)));
        // SHA256 keys do not accept a SHA1 packet (its length does not fit).
        let mut other =
            DataChannel::with_auth(Cipher::Aes128Cbc, Auth::Sha256, &material(), true).unwrap();
        assert_eq!(other.decrypt(&[0x30], &pkt), Err(DataError::Truncated));
        // Other key material: the HMAC does not match.
        let m2: Vec<u8> = (1..=255u8).chain([0]).collect();
        let mut other = DataChannel::new(Cipher::Aes128Cbc, &m2, true).unwrap();
        assert_eq!(other.decrypt(&[0x30], &pkt), Err(DataError::BadTag));
    }

    #[test]
    fn replay_window() {
        let mut w = ReplayWindow::default();
        assert!(!w.check(0));
        w.record(5);
        assert!(!w.check(5));
        assert!(w.check(4));
        w.record(300);
        assert!(!w.check(5), "too old");
        assert!(w.check(299));
        w.record(299);
        assert!(!w.check(299));
        w.record(u32::MAX);
        assert!(!w.check(u32::MAX));
    }

    #[test]
    fn send_packet_id_does_not_wrap() {
        let mut srv = DataChannel::new(Cipher::Aes128Gcm, &material(), true).unwrap();
        srv.set_send_packet_id(u32::MAX - 1);
        let mut pkt = Vec::new();
        srv.encrypt(&[0x30], b"a", &mut pkt).unwrap();
        assert_eq!(
            srv.encrypt(&[0x30], b"a", &mut pkt),
            Err(DataError::IdExhausted)
        );
    }

    #[test]
    fn negotiation_follows_openvpn() {
        let all = Cipher::ALL;
        assert_eq!(
            negotiate(&all, Some("CHACHA20-POLY1305:AES-128-GCM"), true, None),
            Some(Cipher::Aes128Gcm)
        );
        assert_eq!(
            negotiate(&all, Some("AES-128-CBC"), true, None),
            Some(Cipher::Aes128Cbc)
        );
        assert_eq!(
            negotiate(&all, Some("AES-256-CBC:AES-128-GCM"), true, None),
            Some(Cipher::Aes128Gcm)
        );
        assert_eq!(negotiate(&all, Some("BF-CBC"), true, None), None);
        // SoftEther-era clients (no NCP): their own cipher.
        assert_eq!(
            negotiate(&all, None, false, Some("AES-128-CBC")),
            Some(Cipher::Aes128Cbc)
        );
        assert_eq!(negotiate(&all, None, true, None), Some(Cipher::Aes256Gcm));
        assert_eq!(
            negotiate(&all, None, false, Some("aes-128-gcm")),
            Some(Cipher::Aes128Gcm)
        );
        assert_eq!(negotiate(&all, None, false, Some("BF-CBC")), None);
    }
}
