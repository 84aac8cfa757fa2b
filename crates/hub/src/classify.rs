//! What the policy filters need to know about a frame, computed in one pass
//! over its headers without allocating: a bit set ([`FrameClass`]) that is
//! matched against a session's precomputed filter masks
//! ([`crate::SessionPolicy::ingress`], [`crate::SessionPolicy::egress`]).
//!
//! The classes follow SoftEther's packet parser (`ParsePacket`,
//! src/Mayaqua/TcpIp.c) as used by `StorePacketFilterByPolicy` and the
//! per-destination checks of `StorePacket` (src/Cedar/Hub.c).

use crate::frame::{ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN};

/// A set of frame classes (bits of the `CLASS_*` constants).
pub type FrameClass = u32;

/// EtherType IPv4 (0x0800).
pub const CLASS_IPV4: FrameClass = 1 << 0;
/// EtherType ARP (0x0806).
pub const CLASS_ARP: FrameClass = 1 << 1;
/// EtherType IPv6 (0x86DD).
pub const CLASS_IPV6: FrameClass = 1 << 2;
/// Any other EtherType.
pub const CLASS_NON_IP: FrameClass = 1 << 3;
/// IPv4 TCP segment with SYN and ACK set (a server accepting a connection).
pub const CLASS_TCP4_SYN_ACK: FrameClass = 1 << 4;
/// IPv6 TCP segment with SYN and ACK set.
pub const CLASS_TCP6_SYN_ACK: FrameClass = 1 << 5;
/// IPv4 UDP between ports 67 and 68 (DHCPv4).
pub const CLASS_DHCP4: FrameClass = 1 << 6;
/// DHCPv4 with op code 2 (a server's reply).
pub const CLASS_DHCP4_REPLY: FrameClass = 1 << 7;
/// IPv6 UDP to port 546 or 547 (DHCPv6).
pub const CLASS_DHCP6: FrameClass = 1 << 8;
/// IPv6 UDP to port 546 or from port 547 (a DHCPv6 server speaking).
pub const CLASS_DHCP6_SERVER: FrameClass = 1 << 9;
/// ICMPv6.
pub const CLASS_ICMP6: FrameClass = 1 << 10;
/// ICMPv6 router solicitation (type 133).
pub const CLASS_ICMP6_RS: FrameClass = 1 << 11;
/// ICMPv6 router advertisement (type 134).
pub const CLASS_ICMP6_RA: FrameClass = 1 << 12;
/// Broadcast or multicast destination that is not ARP, DHCPv4, DHCPv6 nor
/// ICMPv6 (what `ArpDhcpOnly` drops).
pub const CLASS_BCAST_OTHER: FrameClass = 1 << 13;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;

#[inline]
fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// The classes of `frame` (a whole Ethernet frame; one 802.1Q tag is
/// skipped). Truncated headers simply yield fewer classes.
pub fn classify(frame: &[u8]) -> FrameClass {
    let Some(mut et) = be16(frame, 12) else {
        return 0;
    };
    let mut l3 = 14;
    if et == ETHERTYPE_VLAN {
        let Some(inner) = be16(frame, 16) else {
            return CLASS_NON_IP;
        };
        et = inner;
        l3 = 18;
    }
    let bcast = frame[0] & 1 != 0;
    let mut c = match et {
        ETHERTYPE_IPV4 => CLASS_IPV4 | ipv4(frame, l3),
        ETHERTYPE_ARP => CLASS_ARP,
        ETHERTYPE_IPV6 => CLASS_IPV6 | ipv6(frame, l3),
        _ => CLASS_NON_IP,
    };
    if bcast && c & (CLASS_ARP | CLASS_DHCP4 | CLASS_DHCP6 | CLASS_ICMP6) == 0 {
        c |= CLASS_BCAST_OTHER;
    }
    c
}

fn ipv4(f: &[u8], l3: usize) -> FrameClass {
    let Some(&vihl) = f.get(l3) else { return 0 };
    if vihl >> 4 != 4 {
        return 0;
    }
    let ihl = usize::from(vihl & 0x0f) * 4;
    // Only the first fragment carries the transport header.
    let Some(frag) = be16(f, l3 + 6) else {
        return 0;
    };
    if ihl < 20 || frag & 0x1fff != 0 {
        return 0;
    }
    let Some(&proto) = f.get(l3 + 9) else {
        return 0;
    };
    let l4 = l3 + ihl;
    match proto {
        IPPROTO_TCP => match f.get(l4 + 13) {
            Some(flags) if flags & 0x12 == 0x12 => CLASS_TCP4_SYN_ACK,
            _ => 0,
        },
        IPPROTO_UDP => {
            let (Some(sp), Some(dp)) = (be16(f, l4), be16(f, l4 + 2)) else {
                return 0;
            };
            if (sp == 67 && dp == 68) || (sp == 68 && dp == 67) {
                // BOOTP op code at the start of the UDP payload.
                match f.get(l4 + 8) {
                    Some(2) => CLASS_DHCP4 | CLASS_DHCP4_REPLY,
                    _ => CLASS_DHCP4,
                }
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// The transport protocol and its offset in an IPv6 packet starting at
/// `l3`: hop-by-hop, routing and destination options may precede the
/// transport header; a fragment header (44) ends the search.
fn ipv6_transport(f: &[u8], l3: usize) -> Option<(u8, usize)> {
    let mut next = *f.get(l3 + 6)?;
    let mut at = l3 + 40;
    for _ in 0..4 {
        match next {
            0 | 43 | 60 => {
                next = *f.get(at)?;
                at += (usize::from(*f.get(at + 1)?) + 1) * 8;
            }
            _ => break,
        }
    }
    Some((next, at))
}

/// Offsets of the IPv6 header and of the ICMPv6 message of a router
/// advertisement (one 802.1Q tag skipped), if `frame` is one.
pub fn router_advertisement(frame: &[u8]) -> Option<(usize, usize)> {
    let mut l3 = 14;
    let mut et = be16(frame, 12)?;
    if et == ETHERTYPE_VLAN {
        et = be16(frame, 16)?;
        l3 = 18;
    }
    if et != ETHERTYPE_IPV6 {
        return None;
    }
    let (next, at) = ipv6_transport(frame, l3)?;
    (next == IPPROTO_ICMPV6 && frame.get(at) == Some(&134)).then_some((l3, at))
}

fn ipv6(f: &[u8], l3: usize) -> FrameClass {
    let Some((next, at)) = ipv6_transport(f, l3) else {
        return 0;
    };
    match next {
        IPPROTO_TCP => match f.get(at + 13) {
            Some(flags) if flags & 0x12 == 0x12 => CLASS_TCP6_SYN_ACK,
            _ => 0,
        },
        IPPROTO_UDP => {
            let (Some(sp), Some(dp)) = (be16(f, at), be16(f, at + 2)) else {
                return 0;
            };
            let mut c = 0;
            if dp == 546 || dp == 547 {
                c |= CLASS_DHCP6;
            }
            if dp == 546 || sp == 547 {
                c |= CLASS_DHCP6_SERVER;
            }
            c
        }
        IPPROTO_ICMPV6 => match f.get(at) {
            Some(133) => CLASS_ICMP6 | CLASS_ICMP6_RS,
            Some(134) => CLASS_ICMP6 | CLASS_ICMP6_RA,
            Some(_) => CLASS_ICMP6,
            None => 0,
        },
        _ => 0,
    }
}

/// The `yiaddr` and `chaddr` of a DHCPv4 ACK (BOOTREPLY, Ethernet
/// hardware type with 6-byte addresses, option 53 = 5), one 802.1Q tag
/// skipped; `None` for anything else. Bounded: the options are walked
/// only inside the frame.
pub fn dhcp4_ack(frame: &[u8]) -> Option<(u32, [u8; 6])> {
    let l3 = if be16(frame, 12)? == ETHERTYPE_VLAN {
        18
    } else {
        14
    };
    let ihl = usize::from(frame.get(l3)? & 0x0f) * 4;
    let b = frame.get(l3 + ihl + 8..)?;
    if b.len() < 240 || b[0] != 2 || b[1] != 1 || b[2] != 6 || b[236..240] != [99, 130, 83, 99] {
        return None;
    }
    let yiaddr = u32::from_be_bytes([b[16], b[17], b[18], b[19]]);
    if yiaddr == 0 || yiaddr == u32::MAX {
        return None;
    }
    let mut chaddr = [0u8; 6];
    chaddr.copy_from_slice(&b[28..34]);
    let mut at = 240;
    while let Some(&code) = b.get(at) {
        match code {
            0 => at += 1,
            255 => return None,
            _ => {
                let len = usize::from(*b.get(at + 1)?);
                if code == 53 && len == 1 {
                    return (*b.get(at + 2)? == 5).then_some((yiaddr, chaddr));
                }
                at += 2 + len;
            }
        }
    }
    None
}

/// The IPv4 source address a frame claims (IPv4 source, or ARP sender
/// protocol address of an Ethernet/IPv4 ARP), for the IP table. DHCPv4 is
/// excluded, as in SoftEther (`StorePacket`).
pub fn ipv4_source(frame: &[u8], class: FrameClass) -> Option<u32> {
    let l3 = if be16(frame, 12)? == ETHERTYPE_VLAN {
        18
    } else {
        14
    };
    let ip = if class & CLASS_IPV4 != 0 {
        if class & CLASS_DHCP4 != 0 {
            return None;
        }
        frame.get(l3 + 12..l3 + 16)?
    } else if class & CLASS_ARP != 0 {
        // htype 1, ptype 0x0800, hlen 6, plen 4.
        if be16(frame, l3)? != 1
            || be16(frame, l3 + 2)? != ETHERTYPE_IPV4
            || frame.get(l3 + 4..l3 + 6)? != [6, 4]
        {
            return None;
        }
        frame.get(l3 + 14..l3 + 18)?
    } else {
        return None;
    };
    let v = u32::from_be_bytes([ip[0], ip[1], ip[2], ip[3]]);
    (v != 0 && v != u32::MAX).then_some(v)
}

/// The IPv6 source address of a frame for the IP table: IPv6 packets other
/// than router solicitations/advertisements and DHCPv6, with a unicast
/// source that is not `::`, `::1` nor IPv4-mapped (as SoftEther
/// `StorePacket`, which skips multicast, loopback and zero sources).
pub fn ipv6_source(frame: &[u8], class: FrameClass) -> Option<u128> {
    if class & CLASS_IPV6 == 0 || class & (CLASS_ICMP6_RS | CLASS_ICMP6_RA | CLASS_DHCP6) != 0 {
        return None;
    }
    let l3 = if be16(frame, 12)? == ETHERTYPE_VLAN {
        18
    } else {
        14
    };
    let b: [u8; 16] = frame.get(l3 + 8..l3 + 24)?.try_into().ok()?;
    let v = u128::from_be_bytes(b);
    let multicast = b[0] == 0xff;
    let mapped = v >> 32 == 0xffff;
    (v > 1 && !multicast && !mapped).then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(dst: u8, et: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![dst, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ip4(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut h = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        h.extend_from_slice(l4);
        h
    }

    #[test]
    fn dhcp4_ack_fields_and_bounds() {
        let mut udp = vec![0, 67, 0, 68, 0, 0, 0, 0];
        let mut b = vec![0u8; 240];
        b[..3].copy_from_slice(&[2, 1, 6]);
        b[16..20].copy_from_slice(&[10, 0, 0, 9]);
        b[28..34].copy_from_slice(&[2, 0, 0, 0, 0, 7]);
        b[236..240].copy_from_slice(&[99, 130, 83, 99]);
        b.extend_from_slice(&[0, 12, 2, b'p', b'c', 53, 1, 5, 255]);
        udp.extend_from_slice(&b);
        let f = eth(0xff, ETHERTYPE_IPV4, &ip4(IPPROTO_UDP, &udp));
        assert_eq!(dhcp4_ack(&f), Some((0x0a00_0009, [2, 0, 0, 0, 0, 7])));
        let offer = {
            let mut f = f.clone();
            let at = f.len() - 2;
            f[at] = 2;
            f
        };
        assert_eq!(dhcp4_ack(&offer), None);
        // Every truncation parses to nothing or the same answer, no panic.
        let full = dhcp4_ack(&f);
        for n in 0..f.len() {
            let got = dhcp4_ack(&f[..n]);
            assert!(got.is_none() || got == full, "{n}");
        }
        assert!(dhcp4_ack(&f[..f.len() - 4]).is_none(), "option 53 cut");
        // An option length running past the end.
        let mut bad = f.clone();
        let at = bad.len() - 7;
        bad[at] = 200;
        assert_eq!(dhcp4_ack(&bad), None);
    }

    fn ip6(next: u8, l4: &[u8]) -> Vec<u8> {
        let mut h = vec![0x60, 0, 0, 0, 0, 0, next, 255];
        h.extend_from_slice(&[0; 32]);
        h.extend_from_slice(l4);
        h
    }

    #[test]
    fn classes() {
        let synack = [
            0, 80, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
        ];
        let syn = [
            0, 80, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0,
        ];
        let dhcp_reply = [0, 67, 0, 68, 0, 0, 0, 0, 2];
        let dhcp_req = [0, 68, 0, 67, 0, 0, 0, 0, 1];
        assert_eq!(
            classify(&eth(2, 0x0800, &ip4(6, &synack))),
            CLASS_IPV4 | CLASS_TCP4_SYN_ACK
        );
        assert_eq!(classify(&eth(2, 0x0800, &ip4(6, &syn))), CLASS_IPV4);
        assert_eq!(
            classify(&eth(0xff, 0x0800, &ip4(17, &dhcp_reply))),
            CLASS_IPV4 | CLASS_DHCP4 | CLASS_DHCP4_REPLY
        );
        assert_eq!(
            classify(&eth(0xff, 0x0800, &ip4(17, &dhcp_req))),
            CLASS_IPV4 | CLASS_DHCP4
        );
        assert_eq!(
            classify(&eth(0xff, 0x0800, &ip4(17, &[0, 1, 0, 2, 0, 0, 0, 0]))),
            CLASS_IPV4 | CLASS_BCAST_OTHER
        );
        assert_eq!(classify(&eth(0xff, 0x0806, &[0; 28])), CLASS_ARP);
        assert_eq!(
            classify(&eth(0x33, 0x86dd, &ip6(58, &[134, 0]))),
            CLASS_IPV6 | CLASS_ICMP6 | CLASS_ICMP6_RA
        );
        assert_eq!(
            classify(&eth(0x33, 0x86dd, &ip6(58, &[133, 0]))),
            CLASS_IPV6 | CLASS_ICMP6 | CLASS_ICMP6_RS
        );
        assert_eq!(
            classify(&eth(2, 0x86dd, &ip6(17, &[2, 35, 2, 34, 0, 0, 0, 0]))),
            CLASS_IPV6 | CLASS_DHCP6 | CLASS_DHCP6_SERVER
        );
        assert_eq!(
            classify(&eth(2, 0x86dd, &ip6(6, &synack))),
            CLASS_IPV6 | CLASS_TCP6_SYN_ACK
        );
        // A hop-by-hop header in front does not hide the SYN-ACK.
        let mut hbh = vec![6, 0, 0, 0, 0, 0, 0, 0];
        hbh.extend_from_slice(&synack);
        assert_eq!(
            classify(&eth(2, 0x86dd, &ip6(0, &hbh))),
            CLASS_IPV6 | CLASS_TCP6_SYN_ACK
        );
        assert_eq!(classify(&eth(2, 0x88b5, &[0; 46])), CLASS_NON_IP);
        assert_eq!(
            classify(&eth(0xff, 0x88b5, &[0; 46])),
            CLASS_NON_IP | CLASS_BCAST_OTHER
        );
        // A VLAN tag is skipped.
        let mut tagged = eth(2, 0x8100, &[0, 5, 0x08, 0x00]);
        tagged.extend_from_slice(&ip4(6, &synack));
        assert_eq!(classify(&tagged), CLASS_IPV4 | CLASS_TCP4_SYN_ACK);
    }

    #[test]
    fn truncated_frames_never_panic() {
        let full = eth(2, 0x86dd, &ip6(0, &[6, 0, 0, 0, 0, 0, 0, 0, 0, 80, 0, 0]));
        for n in 0..full.len() {
            let _ = classify(&full[..n]);
            let _ = ipv4_source(&full[..n], classify(&full[..n]));
        }
        let full = eth(2, 0x0800, &ip4(17, &[0, 67, 0, 68, 0, 0, 0, 0, 2]));
        for n in 0..full.len() {
            let _ = classify(&full[..n]);
            let _ = ipv4_source(&full[..n], classify(&full[..n]));
        }
    }

    #[test]
    fn ipv4_sources() {
        let f = eth(2, 0x0800, &ip4(6, &[0; 20]));
        assert_eq!(ipv4_source(&f, classify(&f)), Some(0x0a000001));
        let dhcp = eth(0xff, 0x0800, &ip4(17, &[0, 68, 0, 67, 0, 0, 0, 0, 1]));
        assert_eq!(ipv4_source(&dhcp, classify(&dhcp)), None);
        let mut arp = vec![0, 1, 8, 0, 6, 4, 0, 2, 2, 0, 0, 0, 0, 2, 192, 168, 1, 9];
        arp.extend_from_slice(&[0; 10]);
        let a = eth(0xff, 0x0806, &arp);
        assert_eq!(ipv4_source(&a, classify(&a)), Some(0xc0a80109));
    }
}
