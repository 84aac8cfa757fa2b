//! Sans-IO repair of frames that carry the marks of kernel offloads.
//!
//! A raw packet socket sees frames the way the kernel holds them, which is not always the
//! way they would look on a wire:
//!
//! * **Partial checksums** (`CHECKSUM_PARTIAL`): a sender whose device advertises TX
//!   checksum offload (a veth peer, a container interface) leaves only the pseudo-header
//!   sum in the TCP/UDP checksum field; the "hardware" is expected to finish it. A veth hands
//!   such frames to the other end as they are, so a bridge would forward broken checksums.
//!   [`complete_partial_checksum`] finishes the sum (RFC 1071) given the `csum_start` /
//!   `csum_offset` the kernel reports in the `virtio_net_hdr`.
//! * **Super-frames** (GSO/TSO on the sender, GRO/LRO on the receiver): one "frame" of up
//!   to 64 KiB holding many TCP segments. [`Segmenter`] cuts it back into wire-sized frames
//!   of the original segment size (the `gso_size` from the `virtio_net_hdr`), rewriting
//!   IPv4 total length / identification / header checksum, IPv6 payload length, TCP
//!   sequence numbers and flags, UDP length, and computing full L4 checksums.
//!
//! SoftEther does the checksum part in its virtual hub (hub option
//! `DisableCorrectIpOffloadChecksum`, default false) and avoids super-frames by running
//! `ethtool -K <if> ... gro off lro off ...` (docs/process-model.md §9.3). This module
//! does both at the device edge so every consumer of a [`crate::RawDevice`] gets frames
//! that are valid on a wire.
//!
//! Everything here is pure byte manipulation, independent of the OS, and never panics on
//! malformed input (it returns [`FrameError`]).

use rustether_proto::inet::{
    fold, sum, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN, IPPROTO_TCP, IPPROTO_UDP,
};

/// Why a frame could not be repaired. The frame should be dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot repair offloaded frame: {0}")]
pub struct FrameError(pub &'static str);

const ETH_HLEN: usize = 14;
const ETHERTYPE_QINQ: u16 = 0x88A8;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Finish a partial checksum in place: the 16-bit field at `csum_start + csum_offset`
/// holds the pseudo-header sum, the checksum covers `frame[csum_start..]`.
///
/// As a NIC would do it (Linux `skb_checksum_help`). A UDP result of 0 is sent as 0xFFFF
/// (RFC 768), recognised by `csum_offset == 6` (UDP's checksum field).
///
/// Errors: the offsets point outside the frame.
pub fn complete_partial_checksum(
    frame: &mut [u8],
    csum_start: usize,
    csum_offset: usize,
) -> Result<(), FrameError> {
    let field = csum_start
        .checked_add(csum_offset)
        .filter(|f| f.checked_add(2).is_some_and(|end| end <= frame.len()))
        .ok_or(FrameError("checksum offsets outside the frame"))?;
    let mut sum = !fold(sum(&frame[csum_start..], 0));
    if sum == 0 && csum_offset == 6 {
        sum = 0xFFFF;
    }
    put16(frame, field, sum);
    Ok(())
}

/// Where the headers of an IP frame are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpLayout {
    /// Offset of the IP header (after the Ethernet header and any in-band VLAN tags).
    pub l3: usize,
    /// `true` for IPv4, `false` for IPv6.
    pub ipv4: bool,
    /// Offset of the transport header.
    pub l4: usize,
    /// Transport protocol number (6 TCP, 17 UDP, ...).
    pub proto: u8,
    /// End of the IP packet within the frame (excludes Ethernet padding).
    pub end: usize,
}

/// Locate the IP and transport headers of an Ethernet frame: up to two in-band VLAN tags
/// (0x8100 / 0x88A8), IPv4 with options, IPv6 with hop-by-hop, routing and destination
/// option extension headers. Fragments (IPv4 with offset/MF, IPv6 fragment header) and
/// other EtherTypes give `None`.
pub fn parse_ip(frame: &[u8]) -> Option<IpLayout> {
    if frame.len() < ETH_HLEN {
        return None;
    }
    let mut l3 = ETH_HLEN;
    let mut ethertype = be16(frame, 12);
    for _ in 0..2 {
        if ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ {
            if frame.len() < l3 + 4 {
                return None;
            }
            ethertype = be16(frame, l3 + 2);
            l3 += 4;
        }
    }
    match ethertype {
        ETHERTYPE_IPV4 => {
            let ip = frame.get(l3..l3 + 20)?;
            if ip[0] >> 4 != 4 {
                return None;
            }
            let ihl = usize::from(ip[0] & 0x0F) * 4;
            let frag = be16(ip, 6);
            if ihl < 20 || frame.len() < l3 + ihl || frag & 0x3FFF != 0 {
                return None;
            }
            let tot = usize::from(be16(ip, 2));
            // tot_len 0 (or bogus) happens on >64 KiB "BIG TCP" super-frames: use the frame.
            let end = if tot >= ihl && l3 + tot <= frame.len() {
                l3 + tot
            } else {
                frame.len()
            };
            Some(IpLayout {
                l3,
                ipv4: true,
                l4: l3 + ihl,
                proto: ip[9],
                end,
            })
        }
        ETHERTYPE_IPV6 => {
            let ip = frame.get(l3..l3 + 40)?;
            if ip[0] >> 4 != 6 {
                return None;
            }
            let plen = usize::from(be16(ip, 4));
            let end = if plen != 0 && l3 + 40 + plen <= frame.len() {
                l3 + 40 + plen
            } else {
                frame.len()
            };
            let mut next = ip[6];
            let mut l4 = l3 + 40;
            // Hop-by-hop (0), routing (43), destination options (60): length in 8-octet units.
            for _ in 0..4 {
                if !matches!(next, 0 | 43 | 60) {
                    break;
                }
                let ext = frame.get(l4..l4 + 2)?;
                next = ext[0];
                l4 += (usize::from(ext[1]) + 1) * 8;
            }
            if matches!(next, 0 | 43 | 44 | 60) || l4 > end {
                return None;
            }
            Some(IpLayout {
                l3,
                ipv4: false,
                l4,
                proto: next,
                end,
            })
        }
        _ => None,
    }
}

/// One's-complement sum of the IPv4/IPv6 pseudo header for a transport segment of
/// `l4_len` bytes.
fn pseudo_header_sum(frame: &[u8], ip: &IpLayout, l4_len: usize) -> u64 {
    if ip.ipv4 {
        let acc = sum(&frame[ip.l3 + 12..ip.l3 + 20], 0);
        acc + u64::from(ip.proto) + l4_len as u64
    } else {
        let acc = sum(&frame[ip.l3 + 8..ip.l3 + 40], 0);
        acc + u64::from(ip.proto) + l4_len as u64
    }
}

/// Recompute the TCP or UDP checksum of an IP frame from scratch (no offload information
/// needed). Returns `Ok(false)` when the frame is not TCP/UDP over IPv4/IPv6 (left as is).
///
/// Errors: the transport header is cut short.
pub fn recompute_l4_checksum(frame: &mut [u8]) -> Result<bool, FrameError> {
    let Some(ip) = parse_ip(frame) else {
        return Ok(false);
    };
    let field = match ip.proto {
        IPPROTO_TCP => ip.l4 + 16,
        IPPROTO_UDP => ip.l4 + 6,
        _ => return Ok(false),
    };
    if field + 2 > ip.end {
        return Err(FrameError("transport header cut short"));
    }
    write_l4_checksum(frame, &ip, ip.end, field);
    Ok(true)
}

/// Zero the checksum field, sum pseudo header and `frame[ip.l4..end]`, store the result.
fn write_l4_checksum(frame: &mut [u8], ip: &IpLayout, end: usize, field: usize) {
    put16(frame, field, 0);
    let acc = pseudo_header_sum(frame, ip, end - ip.l4);
    let mut sum = !fold(sum(&frame[ip.l4..end], acc));
    if sum == 0 && ip.proto == IPPROTO_UDP {
        sum = 0xFFFF;
    }
    put16(frame, field, sum);
}

fn write_ipv4_header_checksum(frame: &mut [u8], l3: usize, l4: usize) {
    put16(frame, l3 + 10, 0);
    let sum = !fold(sum(&frame[l3..l4], 0));
    put16(frame, l3 + 10, sum);
}

/// What kind of super-frame a [`Segmenter`] cuts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GsoKind {
    /// TCP over IPv4 or IPv6 (TSO, GSO, GRO, LRO): cut the payload into `gso_size` pieces,
    /// advance the sequence number, keep FIN/PSH for the last and CWR for the first.
    Tcp,
    /// UDP segmentation offload (`UDP_SEGMENT`, `SKB_GSO_UDP_L4`): `gso_size` datagrams.
    UdpL4,
}

/// Cuts one super-frame into wire-sized frames, one [`Segmenter::next_segment`] call per
/// frame, writing straight into the caller's buffer (no allocation).
#[derive(Debug, Clone)]
pub struct Segmenter {
    ip: IpLayout,
    kind: GsoKind,
    /// Bytes of headers copied into every segment (Ethernet .. end of TCP/UDP header).
    hdr_len: usize,
    mss: usize,
    /// Offset of the next payload byte in the super-frame.
    next: usize,
    index: u16,
}

impl Segmenter {
    /// Prepare to cut `frame` into segments of at most `gso_size` payload bytes.
    ///
    /// Errors: not TCP/UDP over IP as `kind` says, headers cut short, `gso_size` 0.
    pub fn new(frame: &[u8], kind: GsoKind, gso_size: usize) -> Result<Segmenter, FrameError> {
        let ip = parse_ip(frame).ok_or(FrameError("super-frame is not IPv4/IPv6"))?;
        if gso_size == 0 {
            return Err(FrameError("segment size 0"));
        }
        let hdr_len = match (kind, ip.proto) {
            (GsoKind::Tcp, IPPROTO_TCP) => {
                let off = frame
                    .get(ip.l4 + 12)
                    .ok_or(FrameError("TCP header cut short"))?;
                let thl = usize::from(off >> 4) * 4;
                if thl < 20 {
                    return Err(FrameError("TCP data offset below 20"));
                }
                ip.l4 + thl
            }
            (GsoKind::UdpL4, IPPROTO_UDP) => ip.l4 + 8,
            _ => return Err(FrameError("super-frame protocol does not match GSO type")),
        };
        if hdr_len > ip.end {
            return Err(FrameError("transport header cut short"));
        }
        Ok(Segmenter {
            ip,
            kind,
            hdr_len,
            mss: gso_size,
            next: hdr_len,
            index: 0,
        })
    }

    /// Number of segments still to come.
    pub fn remaining(&self) -> usize {
        (self.ip.end - self.next).div_ceil(self.mss)
    }

    /// Length of the frame the next [`Segmenter::next_segment`] call produces, if any.
    pub fn next_len(&self) -> Option<usize> {
        if self.next >= self.ip.end && !(self.next == self.hdr_len && self.index == 0) {
            return None;
        }
        Some(self.hdr_len + (self.ip.end - self.next).min(self.mss))
    }

    /// Write the next segment of `frame` (the same bytes given to [`Segmenter::new`]) into
    /// `out` and return its length; `None` when all segments were produced.
    ///
    /// Errors: `out` is smaller than the segment (the segment is skipped).
    pub fn next_segment(
        &mut self,
        frame: &[u8],
        out: &mut [u8],
    ) -> Option<Result<usize, FrameError>> {
        let ip = self.ip;
        // A payload-less super-frame still yields its one (header-only) frame.
        if self.next >= ip.end && !(self.next == self.hdr_len && self.index == 0) {
            return None;
        }
        let first = self.index == 0;
        let seg = (ip.end - self.next).min(self.mss);
        let last = self.next + seg >= ip.end;
        let payload_start = self.next;
        let offset = (payload_start - self.hdr_len) as u32;
        self.next += seg;
        let index = self.index;
        self.index = self.index.wrapping_add(1);
        let len = self.hdr_len + seg;
        if out.len() < len || frame.len() < ip.end {
            return Some(Err(FrameError("segment does not fit the buffer")));
        }
        out[..self.hdr_len].copy_from_slice(&frame[..self.hdr_len]);
        out[self.hdr_len..len].copy_from_slice(&frame[payload_start..payload_start + seg]);
        if ip.ipv4 {
            put16(out, ip.l3 + 2, (len - ip.l3) as u16);
            let id = be16(out, ip.l3 + 4).wrapping_add(index);
            put16(out, ip.l3 + 4, id);
            write_ipv4_header_checksum(out, ip.l3, ip.l4);
        } else {
            put16(out, ip.l3 + 4, (len - ip.l3 - 40) as u16);
        }
        let field = match self.kind {
            GsoKind::Tcp => {
                let seq = u32::from_be_bytes([
                    out[ip.l4 + 4],
                    out[ip.l4 + 5],
                    out[ip.l4 + 6],
                    out[ip.l4 + 7],
                ])
                .wrapping_add(offset);
                out[ip.l4 + 4..ip.l4 + 8].copy_from_slice(&seq.to_be_bytes());
                let mut flags = out[ip.l4 + 13];
                if !last {
                    flags &= !(0x01 | 0x08); // FIN, PSH only on the last segment
                }
                if !first {
                    flags &= !0x80; // CWR only on the first
                }
                out[ip.l4 + 13] = flags;
                ip.l4 + 16
            }
            GsoKind::UdpL4 => {
                put16(out, ip.l4 + 4, (len - ip.l4) as u16);
                ip.l4 + 6
            }
        };
        write_l4_checksum(out, &ip, len, field);
        Some(Ok(len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet + IPv4 + TCP frame with `payload`, valid checksums.
    fn tcp4(payload: &[u8], flags: u8) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        put16(&mut f, 12, ETHERTYPE_IPV4);
        f[14] = 0x45;
        put16(&mut f, 16, (40 + payload.len()) as u16);
        put16(&mut f, 18, 0x1234);
        f[22] = 64;
        f[23] = IPPROTO_TCP;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        put16(&mut f, 34, 40000);
        put16(&mut f, 36, 5201);
        f[38..42].copy_from_slice(&1000u32.to_be_bytes());
        f[46] = 0x50;
        f[47] = flags;
        put16(&mut f, 48, 64240);
        f.extend_from_slice(payload);
        write_ipv4_header_checksum(&mut f, 14, 34);
        let ip = parse_ip(&f).unwrap();
        let end = ip.end;
        write_l4_checksum(&mut f, &ip, end, 34 + 16);
        f
    }

    fn udp6(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 8];
        put16(&mut f, 12, ETHERTYPE_IPV6);
        f[14] = 0x60;
        put16(&mut f, 18, (8 + payload.len()) as u16);
        f[20] = IPPROTO_UDP;
        f[21] = 64;
        f[22..38].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f[38..54].copy_from_slice(&[0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        put16(&mut f, 54, 5000);
        put16(&mut f, 56, 6000);
        put16(&mut f, 58, (8 + payload.len()) as u16);
        f.extend_from_slice(payload);
        let ip = parse_ip(&f).unwrap();
        let end = ip.end;
        write_l4_checksum(&mut f, &ip, end, 54 + 6);
        f
    }

    /// A correct checksum sums (with the pseudo header) to 0xFFFF.
    fn l4_ok(f: &[u8]) -> bool {
        let ip = parse_ip(f).unwrap();
        let acc = pseudo_header_sum(f, &ip, ip.end - ip.l4);
        fold(sum(&f[ip.l4..ip.end], acc)) == 0xFFFF
    }

    fn ipv4_hdr_ok(f: &[u8]) -> bool {
        fold(sum(&f[14..34], 0)) == 0xFFFF
    }

    #[test]
    fn partial_checksum_is_completed_like_a_nic() {
        let good = tcp4(b"hello offload world", 0x18);
        assert!(l4_ok(&good));
        // What a sender with TX checksum offload hands out: pseudo-header sum, not inverted.
        let mut partial = good.clone();
        let ip = parse_ip(&partial).unwrap();
        let pseudo = fold(pseudo_header_sum(&partial, &ip, ip.end - ip.l4));
        put16(&mut partial, 34 + 16, pseudo);
        assert!(!l4_ok(&partial));
        complete_partial_checksum(&mut partial, 34, 16).unwrap();
        assert_eq!(partial, good);
    }

    #[test]
    fn partial_checksum_bounds_are_checked() {
        let mut f = tcp4(b"x", 0);
        let n = f.len();
        assert!(complete_partial_checksum(&mut f, n - 1, 0).is_err());
        assert!(complete_partial_checksum(&mut f, usize::MAX, 16).is_err());
        assert!(complete_partial_checksum(&mut f, 34, usize::MAX).is_err());
    }

    #[test]
    fn recompute_fixes_garbage_checksums() {
        let good = udp6(b"datagram");
        assert!(l4_ok(&good));
        let mut bad = good.clone();
        put16(&mut bad, 60, 0xdead);
        assert!(recompute_l4_checksum(&mut bad).unwrap());
        assert_eq!(bad, good);
        let mut arp = vec![0u8; 42];
        put16(&mut arp, 12, 0x0806);
        assert!(!recompute_l4_checksum(&mut arp).unwrap());
    }

    #[test]
    fn parse_ip_handles_vlan_and_rejects_fragments() {
        let f = tcp4(b"abc", 0);
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x64]);
        tagged.extend_from_slice(&f[12..]);
        let ip = parse_ip(&tagged).unwrap();
        assert_eq!((ip.l3, ip.l4, ip.proto, ip.end), (18, 38, 6, tagged.len()));
        let mut frag = f.clone();
        put16(&mut frag, 20, 0x2000); // MF
        assert_eq!(parse_ip(&frag), None);
        assert_eq!(parse_ip(&f[..20]), None);
        // Ethernet padding after a short IP packet is excluded.
        let mut padded = f.clone();
        padded.extend_from_slice(&[0; 6]);
        assert_eq!(parse_ip(&padded).unwrap().end, f.len());
    }

    #[test]
    fn tcp_super_frame_is_cut_into_valid_segments() {
        let payload: Vec<u8> = (0..4000u32).map(|i| (i * 7) as u8).collect();
        // FIN|PSH|ACK|CWR on the super-frame
        let sup = tcp4(&payload, 0x01 | 0x08 | 0x10 | 0x80);
        let mut seg = Segmenter::new(&sup, GsoKind::Tcp, 1448).unwrap();
        assert_eq!(seg.remaining(), 3);
        let mut out = vec![0u8; 2000];
        let mut got = Vec::new();
        let mut seqs = Vec::new();
        let mut n = 0;
        while let Some(r) = seg.next_segment(&sup, &mut out) {
            let len = r.unwrap();
            let s = &out[..len];
            assert!(ipv4_hdr_ok(s), "segment {n} IPv4 header checksum");
            assert!(l4_ok(s), "segment {n} TCP checksum");
            assert_eq!(usize::from(be16(s, 16)), len - 14);
            assert_eq!(be16(s, 18), 0x1234 + n as u16);
            let flags = s[47];
            assert_eq!(flags & 0x80 != 0, n == 0, "CWR only first");
            assert_eq!(flags & 0x09 != 0, n == 2, "FIN/PSH only last");
            assert!(flags & 0x10 != 0, "ACK kept");
            seqs.push(u32::from_be_bytes([s[38], s[39], s[40], s[41]]));
            got.extend_from_slice(&s[54..]);
            n += 1;
        }
        assert_eq!(n, 3);
        assert_eq!(seqs, vec![1000, 1000 + 1448, 1000 + 2 * 1448]);
        assert_eq!(got, payload);
    }

    #[test]
    fn udp_l4_super_frame_is_cut_into_datagrams() {
        let payload = vec![0x5au8; 2500];
        let sup = udp6(&payload);
        let mut seg = Segmenter::new(&sup, GsoKind::UdpL4, 1000).unwrap();
        let mut out = vec![0u8; 1500];
        let mut lens = Vec::new();
        while let Some(r) = seg.next_segment(&sup, &mut out) {
            let len = r.unwrap();
            assert!(l4_ok(&out[..len]));
            assert_eq!(usize::from(be16(&out, 58)), len - 54);
            assert_eq!(usize::from(be16(&out, 18)), len - 54);
            lens.push(len - 62);
        }
        assert_eq!(lens, vec![1000, 1000, 500]);
    }

    #[test]
    fn segmenter_rejects_mismatches_and_small_buffers() {
        let t = tcp4(&[1; 3000], 0x10);
        assert!(Segmenter::new(&t, GsoKind::UdpL4, 1000).is_err());
        assert!(Segmenter::new(&t, GsoKind::Tcp, 0).is_err());
        assert!(Segmenter::new(&t[..40], GsoKind::Tcp, 1000).is_err());
        let mut seg = Segmenter::new(&t, GsoKind::Tcp, 1448).unwrap();
        let mut small = [0u8; 100];
        assert!(matches!(seg.next_segment(&t, &mut small), Some(Err(_))));
        // Header-only super-frame: one frame, then done.
        let h = tcp4(&[], 0x10);
        let mut seg = Segmenter::new(&h, GsoKind::Tcp, 1448).unwrap();
        let mut out = [0u8; 100];
        assert_eq!(seg.next_segment(&h, &mut out), Some(Ok(54)));
        assert_eq!(seg.next_segment(&h, &mut out), None);
    }

    #[test]
    fn parsers_never_panic_on_short_or_random_input() {
        let mut x: u32 = 12345;
        for len in 0..200usize {
            for _ in 0..20 {
                let mut f: Vec<u8> = (0..len)
                    .map(|_| {
                        x = x.wrapping_mul(1103515245).wrapping_add(12345);
                        (x >> 16) as u8
                    })
                    .collect();
                if len > 14 {
                    let et = [ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_VLAN][len % 3];
                    put16(&mut f, 12, et);
                    f[14] = if et == ETHERTYPE_IPV6 { 0x60 } else { 0x45 };
                }
                let _ = recompute_l4_checksum(&mut f.clone());
                let _ = complete_partial_checksum(&mut f.clone(), len / 2, 6);
                for kind in [GsoKind::Tcp, GsoKind::UdpL4] {
                    if let Ok(mut s) = Segmenter::new(&f, kind, 1 + len % 50) {
                        let mut out = vec![0u8; 256];
                        let mut guard = 0;
                        while let Some(_r) = s.next_segment(&f, &mut out) {
                            guard += 1;
                            assert!(guard < 1000);
                        }
                    }
                }
            }
        }
    }
}
