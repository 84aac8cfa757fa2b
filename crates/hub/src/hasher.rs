//! A fast, per-instance seeded hasher for the switch's 64-bit keys.
//!
//! Source MACs are chosen by VPN users, so an unkeyed multiplicative hash
//! (FxHash) would let one client fill a bucket chain on purpose (keys that
//! differ only in their high bits share the low bits of the product). Each
//! table instead XORs the key with a random seed and runs the MurmurHash3
//! 64-bit finaliser, which spreads every input bit over the output; a
//! single `u64` costs a few nanoseconds instead of SipHash's ~15.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

/// Builds [`MixHasher`]s sharing one random seed.
#[derive(Clone, Debug)]
pub(crate) struct SeededState {
    seed: u64,
}

impl SeededState {
    /// A state with a seed taken from std's per-process random keys.
    pub(crate) fn random() -> SeededState {
        SeededState {
            seed: RandomState::new().hash_one(0x5eed_u64),
        }
    }
}

impl BuildHasher for SeededState {
    type Hasher = MixHasher;

    fn build_hasher(&self) -> MixHasher {
        MixHasher { h: self.seed }
    }
}

/// MurmurHash3 `fmix64`.
#[inline]
fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

/// Hasher state: each written word is XORed in and the state re-mixed.
#[derive(Clone, Debug)]
pub(crate) struct MixHasher {
    h: u64,
}

impl Hasher for MixHasher {
    #[inline]
    fn write_u64(&mut self, x: u64) {
        self.h = fmix64(self.h ^ x);
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by the switch's u64 keys; kept correct for any key type.
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn keys_differing_in_high_bits_spread_over_low_bits() {
        // 4096 keys that share their low 32 bits must not share the low 12
        // bits of their hashes (the bucket index of a 4096-slot table).
        let s = SeededState::random();
        let buckets: HashSet<u64> = (0..4096u64)
            .map(|i| s.hash_one((i << 32) | 0x1234_5678) & 0xfff)
            .collect();
        assert!(
            buckets.len() > 2000,
            "only {} distinct buckets",
            buckets.len()
        );
    }

    #[test]
    fn seeds_differ_between_instances() {
        let a = SeededState::random();
        let b = SeededState::random();
        assert_ne!(a.hash_one(42u64), b.hash_one(42u64));
    }
}
