//! Internet checksums and the small packet builders the hub's L3 router,
//! the OpenVPN `dev tun` adapter and the local bridge's offload fix-ups
//! share: one home for RFC 1071 (checksum), RFC 1624 (incremental update),
//! the IPv4/IPv6 pseudo headers (RFC 768, RFC 793, RFC 8200 §8.1), and
//! Ethernet / ARP (RFC 826) / IPv4 header building. Sans-IO, no allocation
//! except the returned packets, never panics. SecureNAT builds its packets
//! with smoltcp instead.
//!
//! The sums are kept wide (`u64`) until [`fold`], so a caller can add the
//! pieces of a packet (pseudo header, header, payload) in any order; each
//! piece except the last must have an even length (RFC 1071 §2: an odd
//! piece shifts the bytes after it).

use std::net::Ipv4Addr;

/// EtherType of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// EtherType (TPID) of an IEEE 802.1Q tag (SoftEther `MAC_PROTO_TAGVLAN`).
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// IP protocol number of TCP.
pub const IPPROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const IPPROTO_UDP: u8 = 17;

/// One's-complement sum (RFC 1071) of `data` added to `acc`, not folded:
/// big-endian 16-bit words, an odd last byte padded with a zero byte.
/// Sums 32-bit words into the `u64` (same result once folded, fewer
/// additions: the local bridge runs it over every offloaded frame); cannot
/// overflow below 2^32 bytes of input.
#[inline]
pub fn sum(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        acc += u64::from(u32::from_be_bytes([c[0], c[1], c[2], c[3]]));
        acc += u64::from(u32::from_be_bytes([c[4], c[5], c[6], c[7]]));
    }
    let mut rest = chunks.remainder().chunks_exact(2);
    for c in &mut rest {
        acc += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = rest.remainder() {
        acc += u64::from(*last) << 8;
    }
    acc
}

/// A wide one's-complement sum folded to 16 bits (end-around carry), not
/// inverted.
#[inline]
pub fn fold(mut acc: u64) -> u16 {
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u16
}

/// The Internet checksum (RFC 1071) of `data`: the inverted folded sum.
/// Over data that contains a correct checksum field the result is 0.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    !fold(sum(data, 0))
}

/// Sum of the IPv4 pseudo header (RFC 768 / RFC 793: source, destination,
/// zero, protocol, transport length in bytes), to pass as `acc` to [`sum`].
#[inline]
pub fn ipv4_pseudo_sum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u64 {
    sum(&src.octets(), sum(&dst.octets(), 0)) + u64::from(proto) + len as u64
}

/// Sum of the IPv6 pseudo header (RFC 8200 §8.1: source, destination,
/// upper-layer length, next header), to pass as `acc` to [`sum`].
#[inline]
pub fn ipv6_pseudo_sum(src: &[u8; 16], dst: &[u8; 16], next_header: u8, len: usize) -> u64 {
    sum(src, sum(dst, 0)) + u64::from(next_header) + len as u64
}

/// The checksum to store in a TCP or UDP header over IPv4: pseudo header
/// plus `segment` (its checksum field zero). A result of 0 is returned as
/// 0xFFFF (RFC 768: 0 means "no checksum" for UDP; for TCP both encode the
/// same one's-complement zero).
pub fn ipv4_l4_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, segment: &[u8]) -> u16 {
    match !fold(sum(
        segment,
        ipv4_pseudo_sum(src, dst, proto, segment.len()),
    )) {
        0 => 0xFFFF,
        c => c,
    }
}

/// Checksum `hc` updated for one 16-bit word of the covered data changing
/// from `old` to `new` (RFC 1624 eqn. 3: `HC' = ~(~HC + ~m + m')`).
pub fn update_checksum(hc: u16, old: u16, new: u16) -> u16 {
    !fold(u64::from(!hc) + u64::from(!old) + u64::from(new))
}

/// An Ethernet II frame: `dst`, `src`, `ethertype`, then `payload`.
pub fn ethernet_frame(dst: [u8; 6], src: [u8; 6], ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(14 + payload.len());
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// An ARP packet for IPv4 over Ethernet (RFC 826, 28 bytes): `op` 1
/// request, 2 reply; sender and target hardware / protocol addresses.
pub fn arp_packet(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> [u8; 28] {
    let mut a = [0u8; 28];
    a[..6].copy_from_slice(&[0, 1, 8, 0, 6, 4]);
    a[6..8].copy_from_slice(&op.to_be_bytes());
    a[8..14].copy_from_slice(&sha);
    a[14..18].copy_from_slice(&spa.octets());
    a[18..24].copy_from_slice(&tha);
    a[24..28].copy_from_slice(&tpa.octets());
    a
}

/// An IPv4 packet: a 20-byte header (no options, identification 0, no
/// flags, `ttl`, `proto`, header checksum filled in) followed by
/// `payload`. The total length field wraps above 65 535 bytes: callers
/// build packets of at most an MTU.
pub fn ipv4_packet(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, ttl: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(20 + payload.len());
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, ttl, proto, 0, 0]);
    p.extend_from_slice(&src.octets());
    p.extend_from_slice(&dst.octets());
    let c = checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv4/UDP packet (via [`ipv4_packet`]) with the UDP checksum filled in.
pub fn udp_ipv4_packet(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    ttl: u8,
    body: &[u8],
) -> Vec<u8> {
    let len = 8 + body.len();
    let mut udp = Vec::with_capacity(len);
    udp.extend_from_slice(&sport.to_be_bytes());
    udp.extend_from_slice(&dport.to_be_bytes());
    udp.extend_from_slice(&(len as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]);
    udp.extend_from_slice(body);
    let c = ipv4_l4_checksum(src, dst, IPPROTO_UDP, &udp);
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4_packet(src, dst, IPPROTO_UDP, ttl, &udp)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The straightforward RFC 1071 loop, 16 bits at a time.
    fn reference(data: &[u8]) -> u16 {
        let mut s: u32 = 0;
        for c in data.chunks(2) {
            s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: 00 01 f2 03 f4 f5 f6 f7 sums to 0xddf2.
        let d = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(sum(&d, 0)), 0xddf2);
        assert_eq!(checksum(&d), !0xddf2);
        // Odd length pads with a zero byte.
        assert_eq!(fold(sum(&[0xab], 0)), 0xab00);
        assert_eq!(fold(sum(&[0x00, 0x01, 0xf2], 0)), 0xf201);
        assert_eq!(checksum(&[]), 0xffff);
    }

    #[test]
    fn known_ipv4_header() {
        // The classic example header (Wikipedia "IPv4 header checksum"):
        // 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
        let mut h = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&h), 0xb861);
        h[10..12].copy_from_slice(&0xb861u16.to_be_bytes());
        assert_eq!(checksum(&h), 0);
    }

    #[test]
    fn wide_sum_matches_the_word_loop_at_every_length() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 151 + 7) as u8 | 0x80).collect();
        for n in 0..data.len() {
            assert_eq!(checksum(&data[..n]), reference(&data[..n]), "length {n}");
        }
        // All-ones input exercises the end-around carry.
        let ones = [0xffu8; 1001];
        assert_eq!(checksum(&ones), reference(&ones));
    }

    #[test]
    fn incremental_update_equals_a_full_recompute() {
        let mut d: Vec<u8> = (0..40u8).map(|i| i.wrapping_mul(37)).collect();
        for (at, new) in [(6usize, 0u16), (10, 0xffff), (0, 0x1234), (38, 0x0001)] {
            let hc = checksum(&d);
            let old = u16::from_be_bytes([d[at], d[at + 1]]);
            d[at..at + 2].copy_from_slice(&new.to_be_bytes());
            assert_eq!(
                update_checksum(hc, old, new),
                checksum(&d),
                "word at {at} -> {new:#x}"
            );
        }
    }

    #[test]
    fn built_packets_verify() {
        let (a, b) = (Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2));
        let p = udp_ipv4_packet(a, b, 68, 67, 64, b"odd");
        assert_eq!(p.len(), 20 + 8 + 3);
        assert_eq!(checksum(&p[..20]), 0, "IP header");
        assert_eq!((p[8], p[9]), (64, IPPROTO_UDP));
        let seg = &p[20..];
        assert_eq!(
            fold(sum(seg, ipv4_pseudo_sum(a, b, IPPROTO_UDP, seg.len()))),
            0xffff
        );
        // A UDP checksum that computes to 0 is sent as 0xFFFF.
        assert_ne!(ipv4_l4_checksum(a, b, IPPROTO_UDP, &[0; 8]), 0);

        let arp = arp_packet(1, [2, 0, 0, 0, 0, 1], a, [0; 6], b);
        assert_eq!(arp[..8], [0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(arp[14..18], a.octets());
        assert_eq!(arp[24..28], b.octets());
        let f = ethernet_frame([0xff; 6], [2, 0, 0, 0, 0, 1], ETHERTYPE_ARP, &arp);
        assert_eq!(f.len(), 42);
        assert_eq!(f[12..14], [0x08, 0x06]);
    }

    #[test]
    fn ipv6_pseudo_header_matches_its_bytes() {
        let src = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let dst = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&src);
        bytes.extend_from_slice(&dst);
        bytes.extend_from_slice(&70000u32.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 58]);
        assert_eq!(
            fold(ipv6_pseudo_sum(&src, &dst, 58, 70000)),
            fold(sum(&bytes, 0))
        );
    }
}
