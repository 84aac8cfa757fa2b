//! SHA-0, the original 1993 Secure Hash Algorithm (FIPS 180), used by
//! SoftEther for every password hash (`Sha0` in `src/Mayaqua/Encrypt.c`;
//! docs/protocol-sslvpn.md §5.2).
//!
//! SHA-0 is SHA-1 without the one-bit left rotation in the message schedule.
//! It is cryptographically broken; it is implemented here only because the
//! wire protocol and the configuration file require it.

/// Output size in bytes (`SHA1_SIZE`).
pub const SHA0_LEN: usize = 20;

const H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// Incremental SHA-0 hasher (`Sha0` works on a whole buffer; this adds
/// streaming for callers that hash concatenations).
///
/// `ROTATE = true` turns it into SHA-1; that variant exists only so the
/// tests can check the shared padding and block logic against the `sha1`
/// crate.
#[derive(Clone, Debug)]
pub struct Sha0Core<const ROTATE: bool> {
    state: [u32; 5],
    block: [u8; 64],
    block_len: usize,
    total_len: u64,
}

/// Incremental SHA-0: `Sha0::new()`, any number of `update`s, `finalize`.
pub type Sha0 = Sha0Core<false>;

impl<const ROTATE: bool> Default for Sha0Core<ROTATE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const ROTATE: bool> Sha0Core<ROTATE> {
    /// A hasher with the FIPS 180 initial state.
    pub fn new() -> Self {
        Sha0Core {
            state: H0,
            block: [0; 64],
            block_len: 0,
            total_len: 0,
        }
    }

    /// Feeds more input.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        if self.block_len > 0 {
            let n = (64 - self.block_len).min(data.len());
            self.block[self.block_len..self.block_len + n].copy_from_slice(&data[..n]);
            self.block_len += n;
            data = &data[n..];
            if self.block_len < 64 {
                return;
            }
            let block = self.block;
            self.compress(&block);
            self.block_len = 0;
        }
        let mut chunks = data.chunks_exact(64);
        for c in &mut chunks {
            let mut b = [0u8; 64];
            b.copy_from_slice(c);
            self.compress(&b);
        }
        let rest = chunks.remainder();
        self.block[..rest.len()].copy_from_slice(rest);
        self.block_len = rest.len();
    }

    /// Pads, processes the final block(s) and returns the 20-byte digest.
    pub fn finalize(mut self) -> [u8; SHA0_LEN] {
        let bit_len = self.total_len.wrapping_mul(8);
        let mut pad = [0u8; 72];
        pad[0] = 0x80;
        // Pad to 56 mod 64, then the 64-bit big-endian bit length.
        let pad_len = if self.block_len < 56 {
            56 - self.block_len
        } else {
            120 - self.block_len
        };
        pad[pad_len..pad_len + 8].copy_from_slice(&bit_len.to_be_bytes());
        self.update(&pad[..pad_len + 8]);
        debug_assert_eq!(self.block_len, 0);
        let mut out = [0u8; SHA0_LEN];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_be_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut w = [0u32; 80];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..80 {
            let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16];
            // The only difference between SHA-0 and SHA-1.
            w[i] = if ROTATE { x.rotate_left(1) } else { x };
        }
        let [mut a, mut b, mut c, mut d, mut e] = self.state;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6u32),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e]) {
            *s = s.wrapping_add(v);
        }
    }
}

/// SHA-0 of `data` (`Sha0` in `src/Mayaqua/Encrypt.c`).
pub fn sha0(data: &[u8]) -> [u8; SHA0_LEN] {
    let mut h = Sha0::new();
    h.update(data);
    h.finalize()
}

#[cfg(test)]
pub(crate) fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use sha1::Digest;

    #[test]
    fn vectors() {
        // docs/protocol-sslvpn.md §5.2
        assert_eq!(
            to_hex(&sha0(b"")),
            "f96cea198ad1dd5617ac084a3d92c6107708c0ef"
        );
        assert_eq!(
            to_hex(&sha0(b"abc")),
            "0164b8a914cd2a5e74c4f7ff082c4d97f1edf880"
        );
        // FIPS 180 (1993) appendix B, two-block message
        assert_eq!(
            to_hex(&sha0(
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
            )),
            "d2516ee1acfa5baf33dfc1c471e438449ef134c8"
        );
    }

    #[test]
    fn incremental_multi_block() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let one = sha0(&data);
        for split in [0, 1, 55, 56, 63, 64, 65, 127, 128, 500, 999, 1000] {
            let mut h = Sha0::new();
            h.update(&data[..split]);
            h.update(&data[split..]);
            assert_eq!(h.finalize(), one, "split at {split}");
        }
        let mut h = Sha0::new();
        for b in &data {
            h.update(std::slice::from_ref(b));
        }
        assert_eq!(h.finalize(), one);
        assert_ne!(one, sha0(&data[..999]));
    }

    proptest! {
        /// The SHA-1 variant of the same code agrees with the `sha1` crate,
        /// which checks padding, length encoding and block handling.
        #[test]
        fn rotate_variant_is_sha1(data in prop::collection::vec(any::<u8>(), 0..300), split in 0usize..300) {
            let split = split.min(data.len());
            let mut h = Sha0Core::<true>::new();
            h.update(&data[..split]);
            h.update(&data[split..]);
            let ours = h.finalize();
            let theirs = sha1::Sha1::digest(&data);
            prop_assert_eq!(&ours[..], &theirs[..]);
        }
    }
}
