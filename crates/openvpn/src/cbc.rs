//! The legacy CBC+HMAC data channel (OpenVPN src/openvpn/crypto.c
//! `openvpn_encrypt_v1` / `openvpn_decrypt_v1`), the one SoftEther's
//! Proto_OpenVPN.c speaks (its sample file pins `cipher AES-128-CBC`,
//! `auth SHA1`):
//!
//! ```text
//! packet = header (1 byte V1 | 4 bytes V2) | HMAC | IV 16 | ciphertext
//! ciphertext = AES-CBC(key, IV, packet_id u32 | payload), PKCS#7 padding
//! HMAC = HMAC-<auth>(hmac key, IV | ciphertext)     (the header is not covered)
//! ```
//!
//! Keys from OpenVPN's `struct key`: `cipher[64]` (first 16/24/32 bytes
//! are the AES key) and `hmac[64]` (first digest-length bytes are the
//! HMAC key). The IV is random per packet. The HMAC is checked (constant
//! time) before anything is decrypted. AES-CBC and HMAC are aws-lc-rs's.

use aws_lc_rs::cipher::{
    DecryptionContext, PaddedBlockDecryptingKey, PaddedBlockEncryptingKey, UnboundCipherKey,
    AES_128, AES_192, AES_256, AES_CBC_IV_LEN,
};
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;

use crate::data::DataError;

/// The HMAC digest of a CBC data channel (OpenVPN `--auth`; the client
/// sends it in its options string, default SHA1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// HMAC-SHA1 (20 bytes; OpenVPN's default and SoftEther's sample).
    Sha1,
    /// HMAC-SHA256 (32 bytes).
    Sha256,
    /// HMAC-SHA384 (48 bytes).
    Sha384,
    /// HMAC-SHA512 (64 bytes).
    Sha512,
}

impl Auth {
    /// OpenVPN's name (`auth SHA1`).
    pub fn name(self) -> &'static str {
        match self {
            Auth::Sha1 => "SHA1",
            Auth::Sha256 => "SHA256",
            Auth::Sha384 => "SHA384",
            Auth::Sha512 => "SHA512",
        }
    }

    /// Parses an OpenVPN digest name, case-insensitive; OpenSSL's
    /// `SHA-256` spelling too.
    pub fn from_name(s: &str) -> Option<Auth> {
        let n: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-')
            .collect::<String>()
            .to_ascii_uppercase();
        [Auth::Sha1, Auth::Sha256, Auth::Sha384, Auth::Sha512]
            .into_iter()
            .find(|a| a.name() == n)
    }

    /// Length of the HMAC (and of its key) in bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Auth::Sha1 => 20,
            Auth::Sha256 => 32,
            Auth::Sha384 => 48,
            Auth::Sha512 => 64,
        }
    }

    fn alg(self) -> hmac::Algorithm {
        match self {
            Auth::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Auth::Sha256 => hmac::HMAC_SHA256,
            Auth::Sha384 => hmac::HMAC_SHA384,
            Auth::Sha512 => hmac::HMAC_SHA512,
        }
    }
}

/// AES key length (bytes) of the CBC ciphers: 16, 24 or 32.
fn aes_alg(key_len: usize) -> Option<&'static aws_lc_rs::cipher::Algorithm> {
    match key_len {
        16 => Some(&AES_128),
        24 => Some(&AES_192),
        32 => Some(&AES_256),
        _ => None,
    }
}

/// One direction's CBC and HMAC keys.
pub(crate) struct CbcKey {
    enc: PaddedBlockEncryptingKey,
    dec: PaddedBlockDecryptingKey,
    mac: hmac::Key,
    auth: Auth,
}

impl CbcKey {
    /// From one `struct key` (`cipher[64] | hmac[64]`, at least 128 bytes).
    /// `None` when the material is short or the key length unknown.
    pub(crate) fn new(key_len: usize, auth: Auth, material: &[u8]) -> Option<CbcKey> {
        if material.len() < 128 {
            return None;
        }
        let alg = aes_alg(key_len)?;
        let k = &material[..key_len];
        Some(CbcKey {
            enc: PaddedBlockEncryptingKey::cbc_pkcs7(UnboundCipherKey::new(alg, k).ok()?).ok()?,
            dec: PaddedBlockDecryptingKey::cbc_pkcs7(UnboundCipherKey::new(alg, k).ok()?).ok()?,
            mac: hmac::Key::new(auth.alg(), &material[64..64 + auth.mac_len()]),
            auth,
        })
    }

    /// Appends `HMAC | IV | CBC(pid | plain)` to `out` (which holds the
    /// header already). The IV is random (aws-lc-rs).
    pub(crate) fn seal(&self, pid: u32, plain: &[u8], out: &mut Vec<u8>) -> Result<(), DataError> {
        let mut body = Vec::with_capacity(4 + plain.len() + 16);
        body.extend_from_slice(&pid.to_be_bytes());
        body.extend_from_slice(plain);
        let ctx = self.enc.encrypt(&mut body).map_err(|_| DataError::BadTag)?;
        let iv: &[u8] = (&ctx).try_into().map_err(|_| DataError::BadTag)?;
        let mut m = hmac::Context::with_key(&self.mac);
        m.update(iv);
        m.update(&body);
        out.extend_from_slice(m.sign().as_ref());
        out.extend_from_slice(iv);
        out.extend_from_slice(&body);
        Ok(())
    }

    /// Checks and decrypts `HMAC | IV | ciphertext`; returns the packet id
    /// and the payload. Forged, truncated or badly padded packets are
    /// errors (nothing is decrypted before the HMAC matched).
    pub(crate) fn open(&self, payload: &[u8]) -> Result<(u32, Vec<u8>), DataError> {
        let h = self.auth.mac_len();
        // HMAC, IV and at least one block.
        if payload.len() < h + 2 * AES_CBC_IV_LEN
            || !(payload.len() - h).is_multiple_of(AES_CBC_IV_LEN)
        {
            return Err(DataError::Truncated);
        }
        let (tag, rest) = payload.split_at(h);
        hmac::verify(&self.mac, rest, tag).map_err(|_| DataError::BadTag)?;
        let (iv, ct) = rest.split_at(AES_CBC_IV_LEN);
        let iv: [u8; AES_CBC_IV_LEN] = iv.try_into().map_err(|_| DataError::Truncated)?;
        let mut buf = ct.to_vec();
        let plain = self
            .dec
            .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
            .map_err(|_| DataError::BadTag)?;
        if plain.len() < 4 {
            return Err(DataError::Truncated);
        }
        let pid = u32::from_be_bytes([plain[0], plain[1], plain[2], plain[3]]);
        Ok((pid, plain[4..].to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_names() {
        assert_eq!(Auth::from_name("sha1"), Some(Auth::Sha1));
        assert_eq!(Auth::from_name("SHA-256"), Some(Auth::Sha256));
        assert_eq!(Auth::from_name("SHA512"), Some(Auth::Sha512));
        assert_eq!(Auth::from_name("MD5"), None);
        assert_eq!(Auth::from_name("none"), None);
    }

    #[test]
    fn seal_open_and_refusals() {
        let m: Vec<u8> = (0..128u8).collect();
        for (kl, auth) in [(16, Auth::Sha1), (32, Auth::Sha256), (24, Auth::Sha512)] {
            let k = CbcKey::new(kl, auth, &m).unwrap();
            for n in [0usize, 11, 12, 13, 1400] {
                let plain = vec![0x5a; n];
                let mut out = vec![0x30];
                k.seal(9, &plain, &mut out).unwrap();
                // header | hmac | iv | blocks covering pid + payload + padding
                let ct = out.len() - 1 - auth.mac_len() - 16;
                assert_eq!(ct, (4 + n) / 16 * 16 + 16);
                assert_eq!(k.open(&out[1..]).unwrap(), (9, plain.clone()));
                // Any flipped bit (HMAC, IV or ciphertext) is refused.
                for at in [1, 1 + auth.mac_len(), out.len() - 1] {
                    let mut bad = out.clone();
                    bad[at] ^= 1;
                    assert_eq!(k.open(&bad[1..]), Err(DataError::BadTag));
                }
                assert_eq!(k.open(&out[1..out.len() - 1]), Err(DataError::Truncated));
            }
        }
        assert!(CbcKey::new(16, Auth::Sha1, &m[..127]).is_none());
        assert!(CbcKey::new(20, Auth::Sha1, &m).is_none());
    }
}
