//! SHA-0 and SoftEther's password hash, for writing user entries into
//! configuration files.
//!
//! A deliberately independent copy (the product's own is in rustether-proto),
//! so that the harness does not test the product with the product's code.
//! SHA-0 is the original FIPS 180 hash: SHA-1 without the 1-bit rotation in
//! the message schedule (SoftEther `Sha0` in src/Mayaqua/Encrypt.c).

/// SHA-0 digest (20 bytes) of `data`.
pub fn sha0(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let bit_len = (data.len() as u64).wrapping_mul(8);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (t, c) in block.chunks_exact(4).enumerate() {
            w[t] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for t in 16..80 {
            w[t] = w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16]; // no rotate: SHA-0
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (t, wt) in w.iter().enumerate() {
            let (f, k) = match t {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let tmp = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wt);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = tmp;
        }
        for (hi, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *hi = hi.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// SoftEther user password hash: SHA-0(password ‖ ASCII-UPPERCASE(username))
/// (`HashPassword` in src/Cedar/Account.c). This is what a user's
/// `byte AuthPassword` holds in vpn_server.config.
pub fn password_hash(user: &str, password: &str) -> [u8; 20] {
    let mut v = password.as_bytes().to_vec();
    v.extend(user.bytes().map(|b| b.to_ascii_uppercase()));
    sha0(&v)
}

/// Lower-case hex of `b`.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha0_vectors() {
        // Vectors from FIPS 180 (SHA-0) as quoted in the protocol notes.
        assert_eq!(hex(&sha0(b"")), "f96cea198ad1dd5617ac084a3d92c6107708c0ef");
        assert_eq!(
            hex(&sha0(b"abc")),
            "0164b8a914cd2a5e74c4f7ff082c4d97f1edf880"
        );
        // Multi-block input (> 55 bytes forces a second block).
        assert_ne!(sha0(&[b'a'; 56]), sha0(&[b'a'; 57]));
    }

    #[test]
    fn softether_password_hash_vectors() {
        // Stored by the real 5.01 server for user `test`, password `testpass`.
        assert_eq!(
            hex(&password_hash("test", "testpass")),
            "187c05b73f2443c10a846418a3e53162fe00645b"
        );
        // Hub administrator with an empty password.
        assert_eq!(
            hex(&password_hash("administrator", "")),
            "6e9c375ff3b913c6ba1ba71c9e5e2e5e60ed9302"
        );
        // User names are case-insensitive.
        assert_eq!(
            password_hash("TeSt", "testpass"),
            password_hash("test", "testpass")
        );
    }
}
