//! Password hashes used by SoftEther (docs/protocol-sslvpn.md §5.2,
//! docs/config-format.md §8; `HashPassword` in `src/Cedar/Account.c`,
//! `SecurePassword` in `src/Cedar/Sam.c`, `GenerateNtPasswordHash` in
//! `src/Cedar/Sam.c`).

use crate::sha0::{Sha0, SHA0_LEN};
use md4::{Digest, Md4};

/// A user's stored password hash `SHA0(password || ASCII-uppercase(username))`
/// (`HashPassword`; config `AuthPassword`, hub `SecurePassword` with user
/// `administrator`). No separators or terminators; the password bytes are
/// taken as they are.
pub fn hash_password(username: &str, password: &str) -> [u8; SHA0_LEN] {
    let mut h = Sha0::new();
    h.update(password.as_bytes());
    h.update(username.to_ascii_uppercase().as_bytes());
    h.finalize()
}

/// The login proof `SHA0(hashed || random)` where `random` is the 20-byte
/// hello challenge (`SecurePassword`, `src/Cedar/Sam.c`).
pub fn secure_password(hashed: &[u8; SHA0_LEN], random: &[u8; SHA0_LEN]) -> [u8; SHA0_LEN] {
    let mut h = Sha0::new();
    h.update(hashed);
    h.update(random);
    h.finalize()
}

/// A server or hub administrator password hash `SHA0(password)`
/// (config `ServerConfiguration/HashedPassword`, hub `HashedPassword`;
/// docs/admin-rpc.md §3.4).
pub fn hash_admin_password(password: &str) -> [u8; SHA0_LEN] {
    crate::sha0::sha0(password.as_bytes())
}

/// The MS-CHAP hash stored as `AuthNtLmSecureHash`: MD4 over the password
/// "in UTF-16LE" where, as in SoftEther, every *byte* of the password is
/// zero-extended to 16 bits (exact for ASCII; docs/config-format.md §8).
pub fn nt_password_hash(password: &str) -> [u8; 16] {
    let mut md = Md4::new();
    for &b in password.as_bytes() {
        md.update([b, 0]);
    }
    md.finalize().into()
}

/// Checks a client's `secure_password` against the stored hash and the hello
/// random the server sent on this connection (`SamAuthUserByPassword`).
/// Only a value of exactly 20 bytes can match (docs/protocol-sslvpn.md §5.4, a
/// size other than 20 fails). The comparison takes the same time whatever
/// bytes differ.
pub fn verify_secure_password(
    stored_hash: &[u8; SHA0_LEN],
    random: &[u8; SHA0_LEN],
    presented: &[u8],
) -> bool {
    if presented.len() != SHA0_LEN {
        return false;
    }
    let expected = secure_password(stored_hash, random);
    constant_time_eq(&expected, presented)
}

/// Equality of two byte strings without early exit on the first differing
/// byte (`subtle::ConstantTimeEq`); strings of different lengths are unequal
/// (the length is not secret: every hash compared here has a fixed size).
/// Use it for every secret or secret-derived value (password hashes, login
/// proofs, session keys).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha0::to_hex;

    #[test]
    fn spec_vectors() {
        // docs/protocol-sslvpn.md §5.2 (verified against 5.01)
        assert_eq!(
            to_hex(&hash_password("test", "testpass")),
            "187c05b73f2443c10a846418a3e53162fe00645b"
        );
        assert_eq!(
            hash_password("TeSt", "testpass"),
            hash_password("test", "testpass")
        );
        assert_eq!(
            to_hex(&hash_password("administrator", "")),
            "6e9c375ff3b913c6ba1ba71c9e5e2e5e60ed9302"
        );
        let mut random = [0u8; 20];
        for (i, r) in random.iter_mut().enumerate() {
            *r = i as u8;
        }
        let sp = secure_password(&hash_password("test", "testpass"), &random);
        assert_eq!(
            to_hex(&sp),
            "6e902517 97e57acf35e86525087b046e484d9162".replace(' ', "")
        );
        assert!(verify_secure_password(
            &hash_password("test", "testpass"),
            &random,
            &sp
        ));
    }

    #[test]
    fn config_vectors() {
        // docs/config-format.md §5.1; base64 values converted to hex:
        // EvuehAVBhVNB2yJOiO6CdviiyAs=, 7VC9yfqjcOMaxO4Rn9UfSA==,
        // LK8CeMfNcUw52W/Umez7W0hRcxs=, m1rI8i2GQewqz2B0k3PlhPxSGRw=,
        // +WzqGYrR3VYXrAhKPZLGEHcIwO8=
        assert_eq!(
            to_hex(&hash_password("alice", "Secret1")),
            "12fb9e840541855341db224e88ee8276f8a2c80b"
        );
        assert_eq!(
            to_hex(&nt_password_hash("Secret1")),
            "ed50bdc9faa370e31ac4ee119fd51f48"
        );
        assert_eq!(
            to_hex(&hash_admin_password("newhubpw")),
            "2caf0278c7cd714c39d96fd499ecfb5b4851731b"
        );
        assert_eq!(
            to_hex(&hash_password("administrator", "newhubpw")),
            "9b5ac8f22d8641ec2acf60749373e584fc52191c"
        );
        assert_eq!(
            to_hex(&hash_admin_password("")),
            "f96cea198ad1dd5617ac084a3d92c6107708c0ef"
        );
    }

    #[test]
    fn verify_rejects() {
        let stored = hash_password("u", "p");
        let random = [7u8; 20];
        let good = secure_password(&stored, &random);
        assert!(verify_secure_password(&stored, &random, &good));
        assert!(!verify_secure_password(&stored, &random, &good[..19]));
        let mut long = good.to_vec();
        long.push(0);
        assert!(!verify_secure_password(&stored, &random, &long));
        assert!(!verify_secure_password(&stored, &random, &[]));
        for i in 0..20 {
            let mut bad = good;
            bad[i] ^= 0x40;
            assert!(!verify_secure_password(&stored, &random, &bad));
        }
        assert!(!verify_secure_password(&stored, &[8u8; 20], &good));
        assert!(!constant_time_eq(b"ab", b"abc"));
    }
}
