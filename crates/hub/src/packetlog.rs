//! Packet log lines (SoftEther `CalcPacketLoggingLevelEx` and
//! `PacketLogParseProc`, src/Cedar/Logging.c), as pure functions over a
//! raw Ethernet frame: which level a frame is logged at under a hub's
//! `PacketLogConfig`, and its CSV line.
//!
//! The line has SoftEther's 18 comma-separated fields (empty = `-`, commas
//! inside a field become `_`): source session, destination session,
//! source MAC, destination MAC, EtherType (`0x0800`), frame size, kind
//! (`ICMPv4`, `TCP_CONNECTv4`, `TCP_DATAv4`, `UDPv4`, `DHCPv4`, `DNSv4`,
//! `ARPv4`, `IPv6`…), sub-kind (`Echo Request`, TCP flags `SYN+ACK`…),
//! source IP, source port, destination IP, destination port, TCP sequence
//! and acknowledgement numbers, details, the whole frame in hex (level 2
//! only), source and destination physical IP. Ports are written as
//! numbers (SoftEther adds service names such as `http(80)`).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Index of each packet kind in `PacketLogConfig` (src/Cedar/Cedar.h).
pub const TCP_CONN: usize = 0;
/// TCP data.
pub const TCP: usize = 1;
/// DHCP.
pub const DHCP: usize = 2;
/// UDP.
pub const UDP: usize = 3;
/// ICMP (v4 and v6).
pub const ICMP: usize = 4;
/// Any IP.
pub const IP: usize = 5;
/// ARP.
pub const ARP: usize = 6;
/// Any Ethernet frame.
pub const ETHERNET: usize = 7;

/// Level 1: the line without the frame's bytes; 2: with them.
pub const LEVEL_HEADER: u32 = 1;

/// What the line needs from a frame: offsets into it.
struct Parsed<'a> {
    ethertype: u16,
    /// L3 payload after Ethernet (and one VLAN tag).
    l3: &'a [u8],
}

fn parse(frame: &[u8]) -> Option<Parsed<'_>> {
    let mut et = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let mut off = 14;
    if et == 0x8100 {
        et = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        off = 18;
    }
    Some(Parsed {
        ethertype: et,
        l3: frame.get(off..)?,
    })
}

/// IPv4: (protocol, L4 bytes, is a non-first fragment or more follow,
/// source, destination).
fn ipv4(l3: &[u8]) -> Option<(u8, &[u8], bool, Ipv4Addr, Ipv4Addr)> {
    if l3.len() < 20 || l3[0] >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(l3[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([l3[2], l3[3]])).min(l3.len());
    let frag = u16::from_be_bytes([l3[6], l3[7]]);
    let fragmented = frag & 0x1fff != 0 || frag & 0x2000 != 0;
    let src = Ipv4Addr::new(l3[12], l3[13], l3[14], l3[15]);
    let dst = Ipv4Addr::new(l3[16], l3[17], l3[18], l3[19]);
    let l4 = l3.get(ihl..total.max(ihl))?;
    Some((l3[9], l4, fragmented, src, dst))
}

/// IPv6 (no extension headers followed): (next header, L4, src, dst).
fn ipv6(l3: &[u8]) -> Option<(u8, &[u8], Ipv6Addr, Ipv6Addr)> {
    if l3.len() < 40 || l3[0] >> 4 != 6 {
        return None;
    }
    let a = |o: usize| -> Option<Ipv6Addr> {
        let b: [u8; 16] = l3.get(o..o + 16)?.try_into().ok()?;
        Some(Ipv6Addr::from(b))
    };
    Some((l3[6], &l3[40..], a(8)?, a(24)?))
}

fn ports(l4: &[u8]) -> Option<(u16, u16)> {
    Some((
        u16::from_be_bytes([*l4.first()?, *l4.get(1)?]),
        u16::from_be_bytes([*l4.get(2)?, *l4.get(3)?]),
    ))
}

fn is_dhcp(sp: u16, dp: u16) -> bool {
    matches!((sp, dp), (68, 67) | (67, 68))
}

/// The level `frame` is logged at (0 none, 1 header, 2 whole frame) under
/// `cfg` (`PacketLogConfig`, indexed by [`TCP_CONN`] … [`ETHERNET`]): the
/// highest level of every kind the frame belongs to
/// (`CalcPacketLoggingLevelEx`). DNS requests count as TCP connections, as
/// there.
pub fn level(frame: &[u8], cfg: &[u32; 8]) -> u32 {
    let mut ret = cfg[ETHERNET];
    let Some(p) = parse(frame) else {
        return ret;
    };
    match p.ethertype {
        0x0806 => ret = ret.max(cfg[ARP]),
        0x0800 | 0x86dd => {
            ret = ret.max(cfg[IP]);
            let l4 = if p.ethertype == 0x0800 {
                ipv4(p.l3).and_then(|(proto, l4, frag, _, _)| (!frag).then_some((proto, l4)))
            } else {
                ipv6(p.l3).map(|(nh, l4, _, _)| (nh, l4))
            };
            match l4 {
                Some((1 | 58, _)) => ret = ret.max(cfg[ICMP]),
                Some((6, l4)) => {
                    ret = ret.max(cfg[TCP]);
                    if l4.get(13).is_some_and(|f| f & 0x07 != 0) {
                        ret = ret.max(cfg[TCP_CONN]);
                    }
                }
                Some((17, l4)) => {
                    ret = ret.max(cfg[UDP]);
                    if let Some((sp, dp)) = ports(l4) {
                        if p.ethertype == 0x0800 && is_dhcp(sp, dp) {
                            ret = ret.max(cfg[DHCP]);
                        } else if dp == 53 || dp == 500 || dp == 4500 || dp == 1194 {
                            ret = ret.max(cfg[TCP_CONN]);
                        }
                    }
                }
                _ => {}
            }
        }
        _ => {}
    }
    ret
}

fn mac_hex(m: &[u8]) -> String {
    let mut s = String::with_capacity(12);
    for b in m {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn tcp_flags(f: u8) -> String {
    let names = [
        (0x01, "FIN"),
        (0x02, "SYN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
        (0x20, "URG"),
    ];
    names
        .iter()
        .filter(|(bit, _)| f & bit != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join("+")
}

/// The DNS query name of a DNS message (`example.com`), if readable.
fn dns_name(msg: &[u8]) -> Option<String> {
    let mut i = 12;
    let mut out = String::new();
    loop {
        let n = usize::from(*msg.get(i)?);
        if n == 0 {
            break;
        }
        if n > 63 || out.len() > 255 {
            return None;
        }
        let label = msg.get(i + 1..i + 1 + n)?;
        if !out.is_empty() {
            out.push('.');
        }
        out.extend(
            label
                .iter()
                .map(|&c| if c.is_ascii_graphic() { c as char } else { '?' }),
        );
        i += 1 + n;
    }
    Some(out)
}

/// Bytes of a frame the line reads at level 1 (headers, DHCP addresses,
/// a DNS name): a logger may keep only this prefix.
pub const HEADER_BYTES: usize = 320;

/// The CSV line of `frame` (without SoftEther's date and time fields),
/// whose full size was `size` bytes (`frame` may be its first
/// [`HEADER_BYTES`]), from session `src` to session `dst` ("" for a
/// broadcast), with the frame's bytes in hex when `with_data` (level 2)
/// and the sessions' physical IP addresses ("" = none).
pub fn line(
    frame: &[u8],
    size: usize,
    src: &str,
    dst: &str,
    with_data: bool,
    src_ip: &str,
    dst_ip: &str,
) -> String {
    let mut t: [String; 18] = Default::default();
    t[0] = src.into();
    t[1] = dst.into();
    if frame.len() >= 14 {
        t[2] = mac_hex(&frame[6..12]);
        t[3] = mac_hex(&frame[0..6]);
        t[4] = format!("0x{:02X}{:02X}", frame[12], frame[13]);
    }
    t[5] = size.to_string();
    if let Some(p) = parse(frame) {
        match p.ethertype {
            0x0806 => arp(p.l3, &mut t),
            0x0800 => match ipv4(p.l3) {
                Some((proto, l4, frag, s, d)) => {
                    t[8] = s.to_string();
                    t[10] = d.to_string();
                    if frag {
                        t[6] = format!("IPv4_Fragment(0x{proto:02X})");
                    } else {
                        l4_fields(proto, l4, true, &mut t);
                    }
                }
                None => t[6] = "Proto=0x0800".into(),
            },
            0x86dd => match ipv6(p.l3) {
                Some((nh, l4, s, d)) => {
                    t[8] = s.to_string();
                    t[10] = d.to_string();
                    l4_fields(nh, l4, false, &mut t);
                }
                None => t[6] = "Proto=0x86DD".into(),
            },
            et => t[6] = format!("Proto=0x{et:04X}"),
        }
    }
    if with_data {
        let mut h = String::with_capacity(frame.len() * 2);
        for b in frame {
            let _ = write!(h, "{b:02X}");
        }
        t[15] = h;
    }
    t[16] = src_ip.into();
    t[17] = dst_ip.into();
    let mut out = String::with_capacity(160);
    for (i, f) in t.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if f.is_empty() {
            out.push('-');
        } else {
            // `ReplaceForCsv`; line breaks too, so no field can end a line.
            out.extend(f.chars().map(|c| match c {
                ',' => '_',
                c if c.is_control() => '_',
                c => c,
            }));
        }
    }
    out
}

fn arp(l3: &[u8], t: &mut [String; 18]) {
    t[6] = "ARPv4".into();
    if l3.len() < 28 {
        return;
    }
    let op = u16::from_be_bytes([l3[6], l3[7]]);
    let ok = l3[0..2] == [0, 1] && l3[2..4] == [8, 0] && l3[4] == 6 && l3[5] == 4;
    let smac = mac_hex(&l3[8..14]);
    let sip = Ipv4Addr::new(l3[14], l3[15], l3[16], l3[17]);
    let tip = Ipv4Addr::new(l3[24], l3[25], l3[26], l3[27]);
    match op {
        1 => {
            t[7] = "Request".into();
            if ok {
                t[14] = format!("Who has {tip}? Please Tell {smac}({sip})");
            }
        }
        2 => {
            t[7] = "Response".into();
            if ok {
                t[14] = format!("{smac} has {sip}");
            }
        }
        _ => {}
    }
}

fn l4_fields(proto: u8, l4: &[u8], v4: bool, t: &mut [String; 18]) {
    let v = if v4 { "v4" } else { "v6" };
    match proto {
        1 | 58 if (proto == 1) == v4 => {
            t[6] = format!("ICMP{v}");
            let ty = l4.first().copied().unwrap_or(255);
            let (req, rep) = if v4 { (8, 0) } else { (128, 129) };
            if ty == req {
                t[7] = "Echo Request".into();
            } else if ty == rep {
                t[7] = "Echo Reply".into();
            }
            if !v4 && (ty == req || ty == rep) {
                t[14] = format!("EchoDataSize={} ", l4.len().saturating_sub(8));
            }
        }
        6 if l4.len() >= 20 => {
            let flags = l4[13];
            t[6] = if flags & 0x07 != 0 {
                format!("TCP_CONNECT{v}")
            } else {
                format!("TCP_DATA{v}")
            };
            t[7] = tcp_flags(flags);
            let (sp, dp) = ports(l4).unwrap_or_default();
            t[9] = sp.to_string();
            t[11] = dp.to_string();
            t[12] = u32::from_be_bytes([l4[4], l4[5], l4[6], l4[7]]).to_string();
            t[13] = u32::from_be_bytes([l4[8], l4[9], l4[10], l4[11]]).to_string();
            t[14] = format!("WindowSize={}", u16::from_be_bytes([l4[14], l4[15]]));
        }
        17 if l4.len() >= 8 => {
            let (sp, dp) = ports(l4).unwrap_or_default();
            t[9] = sp.to_string();
            t[11] = dp.to_string();
            let payload = &l4[8..];
            if v4 && is_dhcp(sp, dp) && payload.len() >= 28 {
                t[6] = "DHCPv4".into();
                t[7] = if payload[0] == 1 {
                    "Request"
                } else {
                    "Response"
                }
                .into();
                let ip = |o: usize| {
                    Ipv4Addr::new(payload[o], payload[o + 1], payload[o + 2], payload[o + 3])
                };
                t[14] = format!(
                    "TransactionId={} ClientIP={} YourIP={} ServerIP={} RelayIP={}",
                    u32::from_be_bytes([payload[4], payload[5], payload[6], payload[7]]),
                    ip(12),
                    ip(16),
                    ip(20),
                    ip(24)
                );
            } else if dp == 53 {
                match dns_name(payload) {
                    Some(host) => {
                        t[6] = format!("DNS{v}");
                        t[7] = "DNS_Query".into();
                        t[14] = host;
                    }
                    None => t[6] = format!("UDP{v}"),
                }
            } else {
                t[6] = format!("UDP{v}");
            }
        }
        p => {
            t[6] = if v4 {
                format!("IPv4(0x{p:02X})")
            } else {
                format!("IPv6(0x{p:02X})")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(et: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0x5e, 0, 0, 0, 0, 2, 0x5e, 0, 0, 0, 0, 1];
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4_packet(proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ];
        let total = (20 + l4.len()) as u16;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip.extend_from_slice(l4);
        eth(0x0800, &ip)
    }

    #[test]
    fn ping_line_and_levels() {
        let f = ipv4_packet(1, &[8, 0, 0, 0, 0, 1, 0, 1, 0xaa]);
        let mut cfg = [0; 8];
        assert_eq!(level(&f, &cfg), 0);
        cfg[ICMP] = 1;
        assert_eq!(level(&f, &cfg), 1);
        cfg[ETHERNET] = 2;
        assert_eq!(level(&f, &cfg), 2);
        let l = line(&f, f.len(), "SID-A-1", "SID-B-2", false, "127.0.0.1", "");
        assert_eq!(
            l,
            "SID-A-1,SID-B-2,5E0000000001,5E0000000002,0x0800,43,ICMPv4,Echo Request,10.0.0.1,-,10.0.0.2,-,-,-,-,-,127.0.0.1,-"
        );
        let l = line(&f, f.len(), "S,1", "", true, "", "");
        assert!(l.starts_with("S_1,-,"), "{l}");
        assert!(l.contains(",5E00000000025E0000000001"), "{l}");
        assert_eq!(l.split(',').count(), 18);
    }

    #[test]
    fn tcp_syn_is_a_connection() {
        let mut tcp = vec![0u8; 20];
        tcp[0..2].copy_from_slice(&1234u16.to_be_bytes());
        tcp[2..4].copy_from_slice(&80u16.to_be_bytes());
        tcp[13] = 0x02;
        let f = ipv4_packet(6, &tcp);
        let mut cfg = [0; 8];
        cfg[TCP_CONN] = 1;
        assert_eq!(level(&f, &cfg), 1);
        assert!(line(&f, f.len(), "a", "b", false, "", "")
            .contains("TCP_CONNECTv4,SYN,10.0.0.1,1234,10.0.0.2,80,0,0,WindowSize=0"));
        tcp[13] = 0x10;
        assert_eq!(level(&ipv4_packet(6, &tcp), &cfg), 0);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_one_line() {
        let mut seed = 7u32;
        for n in 0..600 {
            let mut f: Vec<u8> = (0..(n % 90))
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8
                })
                .collect();
            if f.len() > 14 {
                f[12] = [0x08, 0x86, 0x81][n % 3];
                f[13] = [0x00, 0xdd, 0x00][n % 3];
            }
            let l = line(&f, f.len(), "a\nb", "", n % 2 == 0, "", "");
            assert!(!l.contains('\n') && !l.contains('\r'));
            let _ = level(&f, &[2; 8]);
        }
    }
}
