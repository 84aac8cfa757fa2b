//! SecureNAT's virtual host (`rustether_securenat::VirtualHost`) fed the
//! frames a VPN client may send (Ethernet, ARP, IPv4 with fragments, TCP,
//! UDP, ICMP, DHCP), with the I/O side's answers (connect results,
//! datagram and echo replies, TCP data, remote close and reset) and time
//! steps driven by the input too: no panic; every frame out fits the MTU;
//! the NAT table and the event queue stay within their limits.
//!
//! Input: byte 0 picks the MTU, then operations, each an opcode byte and
//! its arguments (see `Op` below). Frames can have their IPv4 and TCP/UDP/
//! ICMP checksums filled in by the harness (opcode bit 0x10), so the fuzzer
//! gets past checksum checks; opcode 6 builds the client's next TCP segment
//! from the last one the host sent (sequence numbers the fuzzer cannot
//! guess), so established connections are reached too.
#![no_main]
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rustether_securenat::host::{MAX_EVENTS, MAX_FRAME};
use rustether_securenat::{NatEvent, NatLimits, VhOption, VirtualHost};

const HOST_MAC: [u8; 6] = [0x5E, 0x11, 0x22, 0x33, 0x44, 0x55];
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const MAX_SESSIONS: usize = 32;

/// One's-complement sum of `b` (big-endian 16-bit words) plus `acc`.
fn sum(b: &[u8], mut acc: u32) -> u32 {
    for c in b.chunks(2) {
        acc += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    acc
}

fn fold(mut s: u32) -> [u8; 2] {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    (!(s as u16)).to_be_bytes()
}

/// Fills in the IPv4 header checksum and, for unfragmented TCP/UDP/ICMP,
/// the layer-4 checksum of an Ethernet frame (anything else is left alone).
fn fix_checksums(f: &mut [u8]) {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] {
        return;
    }
    let ip = &mut f[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    if ihl < 20 || ip.len() < ihl {
        return;
    }
    ip[10..12].fill(0);
    let c = fold(sum(&ip[..ihl], 0));
    ip[10..12].copy_from_slice(&c);
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let fragmented = ip[6] & 0x20 != 0 || u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0;
    if total < ihl || fragmented {
        return;
    }
    let (src, dst, proto) = (
        [ip[12], ip[13], ip[14], ip[15]],
        [ip[16], ip[17], ip[18], ip[19]],
        ip[9],
    );
    let l4 = &mut ip[ihl..total];
    let (off, pseudo) = match proto {
        6 => (16, true),
        17 => (6, true),
        1 => (2, false),
        _ => return,
    };
    if l4.len() < off + 2 {
        return;
    }
    l4[off..off + 2].fill(0);
    let mut acc = 0;
    if pseudo {
        acc = sum(&src, acc);
        acc = sum(&dst, acc);
        acc += u32::from(proto) + l4.len() as u32;
    }
    let c = fold(sum(l4, acc));
    l4[off..off + 2].copy_from_slice(&c);
}

/// The last TCP segment the host sent: (host ip, client ip, host port,
/// client port, its seq, its ack, its length in sequence space).
type Seen = (Ipv4Addr, Ipv4Addr, u16, u16, u32, u32, u32);

fn tcp_seen(f: &[u8]) -> Option<Seen> {
    if f.len() < 54 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
        return None;
    }
    let ip = &f[14..];
    let ihl = usize::from(ip[0] & 15) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
    let t = ip.get(ihl..total)?;
    if t.len() < 20 {
        return None;
    }
    let doff = usize::from(t[12] >> 4) * 4;
    let flags = t[13];
    let len = t.len().saturating_sub(doff) as u32 + u32::from(flags & 0x03 != 0);
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some((
        Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        u16::from_be_bytes([t[0], t[1]]),
        u16::from_be_bytes([t[2], t[3]]),
        be32(&t[4..8]),
        be32(&t[8..12]),
        len,
    ))
}

/// The client's answer to `s`: flags and a payload of `len` bytes.
fn tcp_answer(s: Seen, flags: u8, len: usize) -> Vec<u8> {
    let (host_ip, client_ip, hport, cport, seq, ack, slen) = s;
    let mut f = Vec::with_capacity(54 + len);
    f.extend_from_slice(&HOST_MAC);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (40 + len) as u16;
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        1,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&client_ip.octets());
    f.extend_from_slice(&host_ip.octets());
    f.extend_from_slice(&cport.to_be_bytes());
    f.extend_from_slice(&hport.to_be_bytes());
    f.extend_from_slice(&ack.to_be_bytes());
    f.extend_from_slice(&seq.wrapping_add(slen).to_be_bytes());
    f.extend_from_slice(&[0x50, flags | 0x10, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend((0..len).map(|i| i as u8));
    fix_checksums(&mut f);
    f
}

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

fuzz_target!(|data: &[u8]| {
    let mut inp = Input(data);
    let Some(m) = inp.byte() else { return };
    // MTU 64..=1500: small ones exercise fragmentation of replies.
    let mtu = if m < 128 {
        1500
    } else {
        64 + u16::from(m - 128) * 11
    };
    let opt = VhOption {
        mac: HOST_MAC,
        mtu,
        ..VhOption::default()
    };
    let mut now = Duration::ZERO;
    let Ok(mut h) = VirtualHost::new(opt, now) else {
        return;
    };
    h.set_limits(NatLimits {
        max_sessions: MAX_SESSIONS,
        max_tcp_syn_per_ip: 8,
        ..NatLimits::default()
    });
    h.set_dns_servers(vec![SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 53)]);
    let mut events: Vec<NatEvent> = Vec::new();
    let mut seen: Option<Seen> = None;
    while let Some(op) = inp.byte() {
        match op & 0x0f {
            // A frame: 2 length bytes, then the frame; bit 0x10 fixes the
            // checksums, bit 0x20 addresses it to the host from the client.
            0..=3 => {
                let len = inp.take(2);
                let len = match len {
                    [a, b] => usize::from(u16::from_be_bytes([*a, *b])) % (MAX_FRAME + 64),
                    _ => 0,
                };
                let mut f = inp.take(len).to_vec();
                if op & 0x20 != 0 && f.len() >= 12 {
                    f[..6].copy_from_slice(&HOST_MAC);
                    f[6..12].copy_from_slice(&CLIENT_MAC);
                }
                if op & 0x10 != 0 {
                    fix_checksums(&mut f);
                }
                h.input(&f, now);
            }
            // Time passes (0-25.5 s), timers run.
            4 => {
                let b = inp.byte().unwrap_or(0);
                now += Duration::from_millis(u64::from(b) * 100);
                h.poll(now);
            }
            // The I/O side answers the queued events; the argument's bits
            // say whether connects succeed.
            5 => {
                let b = inp.byte().unwrap_or(0);
                while let Some(e) = h.pop_event() {
                    events.push(e);
                }
                for (i, e) in events.drain(..).enumerate() {
                    match e {
                        NatEvent::TcpConnect { id, .. } => {
                            if b >> (i % 8) & 1 == 0 {
                                h.tcp_connected(id, now);
                            } else {
                                h.tcp_failed(id, now);
                            }
                        }
                        NatEvent::UdpSend { id, payload, .. } => {
                            // An echo, repeated to grow past the MTU.
                            let n = usize::from(b % 8) + 1;
                            h.udp_reply(id, &payload.repeat(n), now);
                        }
                        NatEvent::IcmpEcho { id, seq, data, .. } => {
                            h.icmp_reply(id, seq, &data, now);
                        }
                        NatEvent::Close { id } => h.flow_closed(id),
                    }
                }
            }
            // TCP splice: read what clients sent, send `b * 64` bytes to
            // each, maybe close or reset.
            6 => {
                let b = inp.byte().unwrap_or(0);
                let ids: Vec<_> = h.tcp_flows().collect();
                for id in ids {
                    let _ = h.tcp_state(id);
                    let _ = h.tcp_recv_vec(id, 4096, now);
                    let mut buf = [0u8; 100];
                    let _ = h.tcp_recv(id, &mut buf, now);
                    let _ = h.tcp_send(id, &vec![b; usize::from(b) * 64], now);
                    match b % 16 {
                        0 => h.tcp_remote_eof(id),
                        1 => h.tcp_remote_reset(id),
                        _ => {}
                    }
                }
                h.poll_sockets(now);
            }
            // The client's next TCP segment after the last one it got:
            // flags byte (SYN/FIN/RST/PSH bits), payload length byte.
            7 => {
                let flags = inp.byte().unwrap_or(0) & 0x0f;
                let len = usize::from(inp.byte().unwrap_or(0)) * 8;
                if let Some(s) = seen {
                    h.input(&tcp_answer(s, flags, len), now);
                }
            }
            // The I/O side loses a flow (argument: which of the TCP flows).
            8 => {
                let b = inp.byte().unwrap_or(0);
                let ids: Vec<_> = h.tcp_flows().collect();
                if !ids.is_empty() {
                    h.flow_closed(ids[usize::from(b) % ids.len()]);
                }
            }
            _ => {}
        }
        while let Some(f) = h.pop_frame() {
            assert!(f.len() >= 14, "frame of {} bytes", f.len());
            // DHCP replies are never fragmented (a DHCP client has no
            // reassembly yet); everything else fits the host's MTU.
            let dhcp_reply = f.len() > 37 && f[23] == 17 && f[34..36] == [0, 67];
            assert!(
                dhcp_reply || f.len() <= 14 + usize::from(mtu),
                "frame of {} bytes over the MTU {mtu}",
                f.len()
            );
            if let Some(s) = tcp_seen(&f) {
                seen = Some(s);
            }
        }
        while h.pop_log().is_some() {}
        assert!(h.nat_entries().count() <= MAX_SESSIONS);
    }
    let mut n = 0;
    while h.pop_event().is_some() {
        n += 1;
    }
    assert!(n <= MAX_EVENTS);
});
