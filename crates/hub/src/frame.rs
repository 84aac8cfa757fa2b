//! Read-only helpers over raw Ethernet II frames (destination MAC, source
//! MAC, EtherType or 802.1Q tag, payload, no FCS — docs/protocol-sslvpn.md §7.3).
//!
//! Every helper takes any byte slice and returns `None`/`false` for frames
//! too short to hold the field; none of them panics.

use crate::MacAddr;

/// Length of the Ethernet header: destination MAC, source MAC, EtherType.
pub const HEADER_LEN: usize = 14;
/// Length of an Ethernet header carrying one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;
/// EtherTypes, defined once in `rustether_proto::inet`.
pub use rustether_proto::inet::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};

/// Destination MAC (bytes 0..6).
pub fn dst_mac(frame: &[u8]) -> Option<MacAddr> {
    MacAddr::dst_of(frame)
}

/// Source MAC (bytes 6..12).
pub fn src_mac(frame: &[u8]) -> Option<MacAddr> {
    MacAddr::src_of(frame)
}

/// The EtherType field at bytes 12..14 as sent: `0x8100` for a tagged
/// frame, a length (≤ 1500) for an IEEE 802.3/LLC frame such as a BPDU.
pub fn ethertype(frame: &[u8]) -> Option<u16> {
    let b = frame.get(12..14)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

/// The EtherType of the payload: behind one 802.1Q tag when the frame is
/// tagged, else the same as [`ethertype`]. `None` for a truncated tag.
pub fn inner_ethertype(frame: &[u8]) -> Option<u16> {
    match ethertype(frame)? {
        ETHERTYPE_VLAN => {
            let b = frame.get(16..18)?;
            Some(u16::from_be_bytes([b[0], b[1]]))
        }
        t => Some(t),
    }
}

/// The 12-bit VLAN id (0..=4095) of an 802.1Q-tagged frame (TPID `0x8100`
/// at bytes 12..14, TCI at 14..16), or `None` when the frame is untagged or
/// the tag is truncated. Same as SoftEther `ParsePacketTAGVLAN`
/// (src/Mayaqua/TcpIp.c), which keeps the low 12 bits of the TCI and does not
/// treat VLAN id 0 (priority tag) specially.
pub fn vlan_id(frame: &[u8]) -> Option<u16> {
    if ethertype(frame)? != ETHERTYPE_VLAN {
        return None;
    }
    let b = frame.get(14..16)?;
    Some(u16::from_be_bytes([b[0], b[1]]) & 0x0fff)
}

/// Whether the frame belongs in the QoS priority queue: an untagged IPv4
/// frame whose TOS byte is neither 0x00 nor 0x08, or an untagged IPv4 frame
/// of 34..=128 bytes whose IP protocol is ICMP (1).
///
/// Byte-for-byte the test of SoftEther `IsPriorityHighestPacketForQoS`
/// (src/Cedar/Session.c; docs/protocol-sslvpn.md §7.7): it looks at fixed
/// offsets (TOS at byte 15, protocol at byte 23) without validating the IP
/// header, and frames shorter than 16 bytes are never priority.
pub fn is_ipv4_priority(frame: &[u8]) -> bool {
    let len = frame.len();
    if len < 16 || frame[12] != 0x08 || frame[13] != 0x00 {
        return false;
    }
    let tos = frame[15];
    if tos != 0x00 && tos != 0x08 {
        return true;
    }
    (34..=128).contains(&len) && frame[23] == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipv4(len: usize, tos: u8, proto: u8) -> Vec<u8> {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[12] = 0x08;
        f[13] = 0x00;
        if len > 15 {
            f[14] = 0x45;
            f[15] = tos;
        }
        if len > 23 {
            f[23] = proto;
        }
        f
    }

    #[test]
    fn header_fields() {
        let f = ipv4(60, 0, 6);
        assert_eq!(dst_mac(&f), Some(MacAddr([2, 0, 0, 0, 0, 1])));
        assert_eq!(src_mac(&f), Some(MacAddr([2, 0, 0, 0, 0, 2])));
        assert_eq!(ethertype(&f), Some(ETHERTYPE_IPV4));
        assert_eq!(inner_ethertype(&f), Some(ETHERTYPE_IPV4));
        assert_eq!(vlan_id(&f), None);
        assert_eq!(ethertype(&f[..13]), None);
        assert_eq!(dst_mac(&[]), None);
    }

    #[test]
    fn vlan_tag() {
        let mut f = ipv4(64, 0, 6);
        f[12..14].copy_from_slice(&[0x81, 0x00]);
        // PCP 5, DEI 1, VID 0x123: the id keeps only the low 12 bits.
        f[14..16].copy_from_slice(&[0xb1, 0x23]);
        f[16..18].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(vlan_id(&f), Some(0x123));
        assert_eq!(ethertype(&f), Some(ETHERTYPE_VLAN));
        assert_eq!(inner_ethertype(&f), Some(ETHERTYPE_IPV6));
        assert_eq!(vlan_id(&f[..15]), None);
        assert_eq!(vlan_id(&f[..16]), Some(0x123));
        assert_eq!(inner_ethertype(&f[..17]), None);
    }

    #[test]
    fn priority_tos() {
        assert!(!is_ipv4_priority(&ipv4(200, 0x00, 6)));
        assert!(!is_ipv4_priority(&ipv4(200, 0x08, 6)));
        assert!(is_ipv4_priority(&ipv4(200, 0x10, 6)));
        assert!(is_ipv4_priority(&ipv4(1514, 0xb8, 17)));
        // 16 bytes is enough for the TOS test, 15 is not.
        assert!(is_ipv4_priority(&ipv4(16, 0x10, 0)));
        assert!(!is_ipv4_priority(&ipv4(15, 0x10, 0)));
        // Not IPv4.
        let mut v6 = ipv4(200, 0x10, 6);
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert!(!is_ipv4_priority(&v6));
        // Tagged frames are not looked into (SoftEther uses fixed offsets).
        let mut tagged = ipv4(200, 0x10, 1);
        tagged[12..14].copy_from_slice(&[0x81, 0x00]);
        assert!(!is_ipv4_priority(&tagged));
    }

    #[test]
    fn priority_small_icmp() {
        assert!(is_ipv4_priority(&ipv4(34, 0, 1)));
        assert!(is_ipv4_priority(&ipv4(98, 0, 1)));
        assert!(is_ipv4_priority(&ipv4(128, 0x08, 1)));
        assert!(!is_ipv4_priority(&ipv4(129, 0, 1)));
        assert!(!is_ipv4_priority(&ipv4(33, 0, 1)));
        assert!(!is_ipv4_priority(&ipv4(98, 0, 6)));
    }
}
