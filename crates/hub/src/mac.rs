//! Ethernet MAC addresses.

use std::fmt;
use std::str::FromStr;

/// A 48-bit Ethernet MAC address, in transmission order.
///
/// `Display` gives SoftEther's spelling, upper-case hex joined by dashes
/// (`5E-59-B0-89-86-9E`, `MacToStr` in SoftEther src/Mayaqua/Str.c), which is
/// what `vpncmd MacTable` shows.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `FF-FF-FF-FF-FF-FF`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00-00-00-00-00-00`.
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The address from the first 6 bytes of `bytes`, or `None` when shorter.
    pub fn from_slice(bytes: &[u8]) -> Option<MacAddr> {
        let b: [u8; 6] = bytes.get(..6)?.try_into().ok()?;
        Some(MacAddr(b))
    }

    /// The destination address of an Ethernet frame (bytes 0..6), `None` when shorter.
    pub fn dst_of(frame: &[u8]) -> Option<MacAddr> {
        MacAddr::from_slice(frame)
    }

    /// The source address of an Ethernet frame (bytes 6..12), `None` when shorter.
    pub fn src_of(frame: &[u8]) -> Option<MacAddr> {
        MacAddr::from_slice(frame.get(6..)?)
    }

    /// True for `FF-FF-FF-FF-FF-FF` only.
    pub fn is_broadcast(&self) -> bool {
        self.0 == [0xff; 6]
    }

    /// True when the I/G (individual/group) bit, bit 0 of the first byte, is
    /// set: multicast and broadcast. SoftEther floods such destinations
    /// (`dst[0] & 1`, `ParsePacketL2Ex` in src/Mayaqua/TcpIp.c).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 1 != 0
    }

    /// True for `00-00-00-00-00-00`.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }

    /// True when the U/L bit (bit 1 of the first byte) marks a locally administered address.
    pub fn is_local(&self) -> bool {
        self.0[0] & 2 != 0
    }

    /// The address as the low 48 bits of a `u64` (first byte most significant).
    pub fn to_u64(&self) -> u64 {
        let b = self.0;
        u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Inverse of [`MacAddr::to_u64`]; bits above 48 are ignored.
    pub fn from_u64(v: u64) -> MacAddr {
        let b = v.to_be_bytes();
        MacAddr([b[2], b[3], b[4], b[5], b[6], b[7]])
    }
}

impl From<[u8; 6]> for MacAddr {
    fn from(b: [u8; 6]) -> Self {
        MacAddr(b)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// Error from parsing a [`MacAddr`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex byte pairs separated by '-' or ':', or 12 hex digits")]
pub struct ParseMacError(pub String);

impl FromStr for MacAddr {
    type Err = ParseMacError;

    /// Accepts `5E-59-B0-89-86-9E`, `5e:59:b0:89:86:9e` and `5E59B089869E`
    /// (any case), as an admin may type them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseMacError(s.chars().take(64).collect());
        let t = s.trim();
        let mut out = [0u8; 6];
        if t.len() == 12 && t.bytes().all(|c| c.is_ascii_hexdigit()) {
            for (i, o) in out.iter_mut().enumerate() {
                *o = u8::from_str_radix(&t[2 * i..2 * i + 2], 16).map_err(|_| err())?;
            }
            return Ok(MacAddr(out));
        }
        let sep = if t.contains('-') { '-' } else { ':' };
        let mut n = 0;
        for part in t.split(sep) {
            if n == 6 || part.len() != 2 || !part.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(err());
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| err())?;
            n += 1;
        }
        if n != 6 {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_softether() {
        let m = MacAddr([0x5e, 0x59, 0xb0, 0x89, 0x86, 0x9e]);
        assert_eq!(m.to_string(), "5E-59-B0-89-86-9E");
        assert_eq!(
            MacAddr([0, 0xae, 1, 2, 3, 0xa]).to_string(),
            "00-AE-01-02-03-0A"
        );
    }

    #[test]
    fn parse_forms() {
        let m = MacAddr([0x5e, 0x59, 0xb0, 0x89, 0x86, 0x9e]);
        assert_eq!("5E-59-B0-89-86-9E".parse::<MacAddr>().unwrap(), m);
        assert_eq!("5e:59:b0:89:86:9e".parse::<MacAddr>().unwrap(), m);
        assert_eq!("5E59B089869E".parse::<MacAddr>().unwrap(), m);
        for bad in [
            "",
            "5E-59-B0-89-86",
            "5E-59-B0-89-86-9E-00",
            "5E-59-B0-89-86-9",
            "5G-59-B0-89-86-9E",
            "5E-59:B0-89-86-9E",
            "+5-59-B0-89-86-9E",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn group_bits() {
        assert!(MacAddr::BROADCAST.is_broadcast());
        assert!(MacAddr::BROADCAST.is_multicast());
        assert!(MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]).is_multicast());
        assert!(!MacAddr([0x01, 0x00, 0x5e, 0, 0, 1]).is_broadcast());
        assert!(MacAddr([0x33, 0x33, 0, 0, 0, 1]).is_multicast());
        assert!(!MacAddr([0x02, 0, 0, 0, 0, 1]).is_multicast());
        assert!(MacAddr([0x02, 0, 0, 0, 0, 1]).is_local());
        assert!(MacAddr::ZERO.is_zero());
    }

    #[test]
    fn u64_round_trip_and_frame_offsets() {
        let m = MacAddr([1, 2, 3, 4, 5, 6]);
        assert_eq!(m.to_u64(), 0x0102_0304_0506);
        assert_eq!(MacAddr::from_u64(m.to_u64()), m);
        let f = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0x08, 0x00];
        assert_eq!(MacAddr::dst_of(&f), Some(m));
        assert_eq!(MacAddr::src_of(&f), Some(MacAddr([7, 8, 9, 10, 11, 12])));
        assert_eq!(MacAddr::src_of(&f[..11]), None);
        assert_eq!(MacAddr::dst_of(&f[..5]), None);
    }
}
