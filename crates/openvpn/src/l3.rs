//! Layer-3 (`dev tun`) clients on a layer-2 hub, sans-IO: the virtual
//! Ethernet adapter SoftEther's IPC gives an OpenVPN tun client
//! (src/Cedar/IPC.c, src/Cedar/Proto_OpenVPN.c `OPENVPN_MODE_L3`).
//!
//! The adapter has its own MAC address on the hub. It asks the hub's DHCP
//! server (SecureNAT's virtual DHCP, or one on a bridged LAN) for an
//! address (DISCOVER → OFFER → REQUEST → ACK, renewed at half the lease),
//! answers ARP for that address, resolves next hops with ARP and turns the
//! client's IPv4 packets into Ethernet frames and back. Feed it frames from
//! the hub ([`L3Adapter::handle_frame`]), packets from the client
//! ([`L3Adapter::send_ip`]) and the time ([`L3Adapter::handle_timeout`]);
//! forward [`L3Adapter::poll_frame`] to the hub and
//! [`L3Adapter::poll_packet`] to the client. As SoftEther's L3 mode, only
//! IPv4 is carried (the client's IPv6 packets are dropped).
//!
//! DHCP messages are built with dhcproto; replies (hub input, anyone on the
//! hub may send them) are parsed by hand with every length checked, since
//! dhcproto 0.13 asserts on some malformed options.

use std::collections::{HashMap, VecDeque};
use std::net::Ipv4Addr;

use dhcproto::v4::{DhcpOption, Flags, Message, MessageType, OptionCode};
use dhcproto::Encodable;
use rustether_proto::inet::{
    arp_packet, ethernet_frame, udp_ipv4_packet, ETHERTYPE_ARP as ETH_ARP,
    ETHERTYPE_IPV4 as ETH_IPV4,
};

/// ARP entries kept (SoftEther keeps a list per IPC; bounded here).
pub const MAX_ARP_ENTRIES: usize = 256;
/// ARP entry lifetime (ms).
pub const ARP_LIFETIME_MS: u64 = 5 * 60_000;
/// Client packets waiting for an ARP answer, in all.
pub const MAX_PENDING_PACKETS: usize = 64;
/// A waiting packet is dropped after this (ms).
pub const PENDING_TTL_MS: u64 = 3_000;
/// Interval between ARP requests for one address (ms).
pub const ARP_RETRY_MS: u64 = 1_000;
/// DHCP retransmission interval while getting an address (ms).
pub const DHCP_RETRY_MS: u64 = 1_000;
/// DHCP transmissions before the address request fails.
pub const DHCP_TRIES: u32 = 10;
/// Retry interval of a renewal that got no answer (ms).
pub const RENEW_RETRY_MS: u64 = 30_000;
/// Largest Ethernet frame accepted from the hub (bytes).
pub const MAX_FRAME: usize = 1514 + 4;

const BROADCAST_MAC: [u8; 6] = [0xff; 6];
const DHCP_MAGIC: [u8; 4] = [99, 130, 83, 99];
const BOOTP_FIXED: usize = 236;

/// An address lease from the hub's DHCP server: what SoftEther pushes to
/// the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The client's address (`yiaddr`).
    pub client: Ipv4Addr,
    /// Subnet mask (option 1; /24 when absent).
    pub mask: Ipv4Addr,
    /// The DHCP server (option 54).
    pub server: Ipv4Addr,
    /// Default gateway (option 3, first router).
    pub gateway: Option<Ipv4Addr>,
    /// DNS servers (option 6, at most 2 kept).
    pub dns: Vec<Ipv4Addr>,
    /// Domain name (option 15, printable ASCII only, ≤ 64 bytes).
    pub domain: Option<String>,
    /// Classless static routes (option 121): network, mask, gateway; ≤ 16.
    pub routes: Vec<(Ipv4Addr, Ipv4Addr, Ipv4Addr)>,
    /// Lease time (s, option 51; 0 = unknown, not renewed).
    pub lease_secs: u32,
}

impl Lease {
    /// The options SoftEther adds to `PUSH_REPLY` for an L3 client
    /// (src/Cedar/Proto_OpenVPN.c), each with its leading comma:
    /// `topology subnet`, `ifconfig <ip> <mask>`, `dhcp-option DOMAIN`,
    /// `dhcp-option DNS` (each), `route-gateway <gw>,redirect-gateway def1`
    /// when there is a gateway, `route <net> <mask> <gw>` per classless
    /// route.
    pub fn push_options(&self) -> String {
        let mut s = format!(",topology subnet,ifconfig {} {}", self.client, self.mask);
        if let Some(d) = &self.domain {
            s.push_str(&format!(",dhcp-option DOMAIN {d}"));
        }
        for d in &self.dns {
            s.push_str(&format!(",dhcp-option DNS {d}"));
        }
        if let Some(g) = self.gateway {
            s.push_str(&format!(",route-gateway {g},redirect-gateway def1"));
        }
        for (n, m, g) in &self.routes {
            s.push_str(&format!(",route {n} {m} {g}"));
        }
        s
    }

    fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.client) | !u32::from(self.mask))
    }

    fn on_link(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.mask);
        u32::from(ip) & m == u32::from(self.client) & m
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Dhcp {
    Selecting,
    Requesting { offer: Ipv4Addr, server: Ipv4Addr },
    Bound,
    Failed,
}

#[derive(Debug, Clone, Copy)]
struct ArpEntry {
    mac: [u8; 6],
    expires_ms: u64,
}

/// The virtual adapter of one tun client (see the module docs).
#[derive(Debug)]
pub struct L3Adapter {
    mac: [u8; 6],
    hostname: String,
    dhcp: Dhcp,
    xid: u32,
    tries: u32,
    next_dhcp_ms: u64,
    lease: Option<Lease>,
    /// Where the last ACK came from (renewals go there).
    server_mac: [u8; 6],
    newly_bound: bool,
    arp: HashMap<Ipv4Addr, ArpEntry>,
    arp_asked: HashMap<Ipv4Addr, u64>,
    pending: VecDeque<(Ipv4Addr, Vec<u8>, u64)>,
    frames: VecDeque<Vec<u8>>,
    packets: VecDeque<Vec<u8>>,
    now_ms: u64,
}

impl L3Adapter {
    /// A new adapter with Ethernet address `mac`; `hostname` (≤ 63 bytes
    /// kept) goes into the DHCP requests as SoftEther's IPC sends it. The
    /// first DISCOVER is queued at once.
    pub fn new(mac: [u8; 6], hostname: &str, now_ms: u64) -> L3Adapter {
        let hostname: String = hostname
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
            .take(63)
            .collect();
        let mut a = L3Adapter {
            mac,
            hostname,
            dhcp: Dhcp::Selecting,
            xid: rand::random(),
            tries: 0,
            next_dhcp_ms: now_ms,
            lease: None,
            server_mac: BROADCAST_MAC,
            newly_bound: false,
            arp: HashMap::new(),
            arp_asked: HashMap::new(),
            pending: VecDeque::new(),
            frames: VecDeque::new(),
            packets: VecDeque::new(),
            now_ms,
        };
        a.handle_timeout(now_ms);
        a
    }

    /// The adapter's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// The current lease, once bound.
    pub fn lease(&self) -> Option<&Lease> {
        self.lease.as_ref()
    }

    /// The lease, once, right after the first ACK (the owner then sends
    /// the push-reply).
    pub fn take_bound(&mut self) -> Option<Lease> {
        if self.newly_bound {
            self.newly_bound = false;
            return self.lease.clone();
        }
        None
    }

    /// True when no address could be had (no answer after [`DHCP_TRIES`]
    /// transmissions, or a NAK on renewal): the owner ends the session.
    pub fn failed(&self) -> bool {
        self.dhcp == Dhcp::Failed
    }

    /// Next frame for the hub.
    pub fn poll_frame(&mut self) -> Option<Vec<u8>> {
        self.frames.pop_front()
    }

    /// Next IPv4 packet for the client.
    pub fn poll_packet(&mut self) -> Option<Vec<u8>> {
        self.packets.pop_front()
    }

    /// When [`L3Adapter::handle_timeout`] must next be called (ms).
    pub fn next_timeout(&self) -> u64 {
        let mut t = match self.dhcp {
            Dhcp::Failed => u64::MAX,
            _ => self.next_dhcp_ms,
        };
        if let Some((_, _, at)) = self.pending.front() {
            t = t.min(at + PENDING_TTL_MS);
        }
        t
    }

    /// Drives DHCP retransmission and renewal, expires waiting packets.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        while self
            .pending
            .front()
            .is_some_and(|(_, _, at)| now_ms >= at + PENDING_TTL_MS)
        {
            self.pending.pop_front();
        }
        if now_ms < self.next_dhcp_ms {
            return;
        }
        match self.dhcp.clone() {
            Dhcp::Failed => {}
            Dhcp::Selecting | Dhcp::Requesting { .. } => {
                if self.tries >= DHCP_TRIES {
                    self.dhcp = Dhcp::Failed;
                    return;
                }
                self.tries += 1;
                let msg = match self.dhcp.clone() {
                    Dhcp::Requesting { offer, server } => self.request(Some((offer, server))),
                    _ => self.discover(),
                };
                self.send_dhcp(
                    msg,
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::BROADCAST,
                    BROADCAST_MAC,
                );
                self.next_dhcp_ms = now_ms + DHCP_RETRY_MS;
            }
            Dhcp::Bound => {
                // Renewal (RFC 2131 RENEWING), unicast to the server.
                let Some(l) = self.lease.clone() else { return };
                let dst_mac = self.arp_lookup(l.server).unwrap_or(self.server_mac);
                let msg = self.request(None);
                self.send_dhcp(msg, l.client, l.server, dst_mac);
                self.next_dhcp_ms = now_ms + RENEW_RETRY_MS;
            }
        }
    }

    fn base_message(&mut self, ciaddr: Ipv4Addr) -> Message {
        let mut m = Message::new_with_id(
            self.xid,
            ciaddr,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &self.mac,
        );
        if ciaddr.is_unspecified() {
            m.set_flags(Flags::default().set_broadcast());
        }
        let mut id = vec![1u8];
        id.extend_from_slice(&self.mac);
        m.opts_mut().insert(DhcpOption::ClientIdentifier(id));
        if !self.hostname.is_empty() {
            m.opts_mut()
                .insert(DhcpOption::Hostname(self.hostname.clone()));
        }
        m.opts_mut().insert(DhcpOption::ParameterRequestList(vec![
            OptionCode::SubnetMask,
            OptionCode::Router,
            OptionCode::DomainNameServer,
            OptionCode::DomainName,
            OptionCode::ClasslessStaticRoute,
        ]));
        m
    }

    fn discover(&mut self) -> Message {
        let mut m = self.base_message(Ipv4Addr::UNSPECIFIED);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        m
    }

    /// REQUEST in SELECTING state (`Some(offer, server)`) or RENEWING.
    fn request(&mut self, selecting: Option<(Ipv4Addr, Ipv4Addr)>) -> Message {
        let ciaddr = match (&selecting, &self.lease) {
            (None, Some(l)) => l.client,
            _ => Ipv4Addr::UNSPECIFIED,
        };
        let mut m = self.base_message(ciaddr);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Request));
        if let Some((offer, server)) = selecting {
            m.opts_mut().insert(DhcpOption::RequestedIpAddress(offer));
            m.opts_mut().insert(DhcpOption::ServerIdentifier(server));
        }
        m
    }

    fn send_dhcp(&mut self, msg: Message, src: Ipv4Addr, dst: Ipv4Addr, dst_mac: [u8; 6]) {
        let Ok(body) = msg.to_vec() else { return };
        let ip = udp_ipv4(src, dst, 68, 67, &body);
        self.frames
            .push_back(ethernet_frame(dst_mac, self.mac, ETH_IPV4, &ip));
    }

    /// One frame from the hub. Frames not for this adapter, malformed or
    /// over [`MAX_FRAME`] are ignored (returns false).
    pub fn handle_frame(&mut self, frame: &[u8], now_ms: u64) -> bool {
        self.now_ms = now_ms;
        if frame.len() < 14 || frame.len() > MAX_FRAME {
            return false;
        }
        let dst: [u8; 6] = frame[0..6].try_into().unwrap_or_default();
        if dst != self.mac && dst[0] & 1 == 0 {
            return false;
        }
        let src: [u8; 6] = frame[6..12].try_into().unwrap_or_default();
        let body = &frame[14..];
        match u16::from_be_bytes([frame[12], frame[13]]) {
            ETH_ARP => self.handle_arp(body),
            ETH_IPV4 => self.handle_ipv4(body, src),
            _ => false,
        }
    }

    fn handle_arp(&mut self, a: &[u8]) -> bool {
        // htype 1, ptype IPv4, hlen 6, plen 4.
        if a.len() < 28 || a[0..6] != [0, 1, 8, 0, 6, 4] {
            return false;
        }
        let op = u16::from_be_bytes([a[6], a[7]]);
        let sha: [u8; 6] = a[8..14].try_into().unwrap_or_default();
        let spa = Ipv4Addr::new(a[14], a[15], a[16], a[17]);
        let tpa = Ipv4Addr::new(a[24], a[25], a[26], a[27]);
        let mine = self.lease.as_ref().map(|l| l.client);
        if !spa.is_unspecified() && sha[0] & 1 == 0 {
            self.learn(spa, sha);
        }
        if op == 1 && Some(tpa) == mine && !spa.is_unspecified() {
            let reply = arp_packet(2, self.mac, tpa, sha, spa);
            self.frames
                .push_back(ethernet_frame(sha, self.mac, ETH_ARP, &reply));
        }
        true
    }

    fn learn(&mut self, ip: Ipv4Addr, mac: [u8; 6]) {
        if !self.arp.contains_key(&ip) && self.arp.len() >= MAX_ARP_ENTRIES {
            let now = self.now_ms;
            self.arp.retain(|_, e| e.expires_ms > now);
            if self.arp.len() >= MAX_ARP_ENTRIES {
                return;
            }
        }
        self.arp.insert(
            ip,
            ArpEntry {
                mac,
                expires_ms: self.now_ms + ARP_LIFETIME_MS,
            },
        );
        self.arp_asked.remove(&ip);
        // Send what waited for this address.
        let mut keep = VecDeque::new();
        while let Some((hop, pkt, at)) = self.pending.pop_front() {
            if hop == ip {
                self.frames
                    .push_back(ethernet_frame(mac, self.mac, ETH_IPV4, &pkt));
            } else {
                keep.push_back((hop, pkt, at));
            }
        }
        self.pending = keep;
    }

    fn arp_lookup(&self, ip: Ipv4Addr) -> Option<[u8; 6]> {
        self.arp
            .get(&ip)
            .filter(|e| e.expires_ms > self.now_ms)
            .map(|e| e.mac)
    }

    fn handle_ipv4(&mut self, p: &[u8], src_mac: [u8; 6]) -> bool {
        let Some((hl, total)) = ipv4_lengths(p) else {
            return false;
        };
        let p = &p[..total];
        let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
        // DHCP replies to us (UDP to port 68).
        if p[9] == 17 && total >= hl + 8 && u16::from_be_bytes([p[hl + 2], p[hl + 3]]) == 68 {
            if let Some(r) = parse_reply(&p[hl + 8..], self.xid, self.mac) {
                self.dhcp_reply(r, src_mac);
                return true;
            }
        }
        let Some(l) = &self.lease else { return false };
        if dst == l.client
            || dst == Ipv4Addr::BROADCAST
            || dst == l.broadcast()
            || dst.is_multicast()
        {
            if self.packets.len() < MAX_PENDING_PACKETS * 16 {
                self.packets.push_back(p.to_vec());
            }
            return true;
        }
        false
    }

    fn dhcp_reply(&mut self, r: Reply, src_mac: [u8; 6]) {
        match (&self.dhcp, r.kind) {
            (Dhcp::Selecting, 2) => {
                let server = r.lease.server;
                self.dhcp = Dhcp::Requesting {
                    offer: r.lease.client,
                    server,
                };
                self.tries = 0;
                self.next_dhcp_ms = self.now_ms;
                self.handle_timeout(self.now_ms);
            }
            (Dhcp::Requesting { offer, .. }, 5) if *offer == r.lease.client => {
                self.bind(r.lease, src_mac);
                self.newly_bound = true;
            }
            (Dhcp::Requesting { .. }, 6) => {
                self.dhcp = Dhcp::Selecting;
                self.xid = rand::random();
                self.next_dhcp_ms = self.now_ms + DHCP_RETRY_MS;
            }
            (Dhcp::Bound, 5) if self.lease.as_ref().map(|l| l.client) == Some(r.lease.client) => {
                self.bind(r.lease, src_mac);
            }
            (Dhcp::Bound, 6) => self.dhcp = Dhcp::Failed,
            _ => {}
        }
    }

    fn bind(&mut self, lease: Lease, src_mac: [u8; 6]) {
        self.learn(lease.server, src_mac);
        self.server_mac = src_mac;
        self.next_dhcp_ms = if lease.lease_secs == 0 {
            u64::MAX
        } else {
            self.now_ms + u64::from(lease.lease_secs) * 500
        };
        self.lease = Some(lease);
        self.dhcp = Dhcp::Bound;
        self.xid = rand::random();
        self.tries = 0;
    }

    /// One IPv4 packet from the client. Dropped (false) before an address
    /// is bound, when not IPv4, malformed, or from another source address
    /// than the leased one (no spoofing onto the hub).
    pub fn send_ip(&mut self, p: &[u8], now_ms: u64) -> bool {
        self.now_ms = now_ms;
        let Some(l) = self.lease.clone() else {
            return false;
        };
        let Some((_, total)) = ipv4_lengths(p) else {
            return false;
        };
        let p = &p[..total];
        let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
        let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
        if src != l.client {
            return false;
        }
        if dst == Ipv4Addr::BROADCAST || dst == l.broadcast() {
            self.frames
                .push_back(ethernet_frame(BROADCAST_MAC, self.mac, ETH_IPV4, p));
            return true;
        }
        if dst.is_multicast() {
            let o = dst.octets();
            let mac = [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]];
            self.frames
                .push_back(ethernet_frame(mac, self.mac, ETH_IPV4, p));
            return true;
        }
        let hop = if l.on_link(dst) {
            dst
        } else {
            l.gateway.unwrap_or(dst)
        };
        if let Some(mac) = self.arp_lookup(hop) {
            self.frames
                .push_back(ethernet_frame(mac, self.mac, ETH_IPV4, p));
            return true;
        }
        if self.pending.len() >= MAX_PENDING_PACKETS {
            self.pending.pop_front();
        }
        self.pending.push_back((hop, p.to_vec(), now_ms));
        let asked = self.arp_asked.get(&hop).copied();
        if asked.is_none_or(|t| now_ms >= t + ARP_RETRY_MS) {
            if self.arp_asked.len() >= MAX_ARP_ENTRIES {
                self.arp_asked.clear();
            }
            self.arp_asked.insert(hop, now_ms);
            let req = arp_packet(1, self.mac, l.client, [0; 6], hop);
            self.frames
                .push_back(ethernet_frame(BROADCAST_MAC, self.mac, ETH_ARP, &req));
        }
        true
    }
}

/// `(header length, total length)` of a well-formed IPv4 packet in `p`.
fn ipv4_lengths(p: &[u8]) -> Option<(usize, usize)> {
    if p.len() < 20 || p[0] >> 4 != 4 {
        return None;
    }
    let hl = usize::from(p[0] & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([p[2], p[3]]));
    if hl < 20 || total < hl || total > p.len() {
        return None;
    }
    Some((hl, total))
}

/// An IPv4/UDP packet (TTL 64, checksums filled in).
fn udp_ipv4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, body: &[u8]) -> Vec<u8> {
    udp_ipv4_packet(src, dst, sport, dport, 64, body)
}

struct Reply {
    /// DHCP message type (2 offer, 5 ack, 6 nak).
    kind: u8,
    lease: Lease,
}

fn ip4(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// Parses a BOOTREPLY for transaction `xid` and hardware address `mac`,
/// by hand with every length checked (hub input).
fn parse_reply(b: &[u8], xid: u32, mac: [u8; 6]) -> Option<Reply> {
    if b.len() < BOOTP_FIXED + 4 || b[0] != 2 || b[1] != 1 || b[2] != 6 {
        return None;
    }
    if u32::from_be_bytes([b[4], b[5], b[6], b[7]]) != xid || b[28..34] != mac {
        return None;
    }
    if b[BOOTP_FIXED..BOOTP_FIXED + 4] != DHCP_MAGIC {
        return None;
    }
    let mut lease = Lease {
        client: ip4(&b[16..20]),
        mask: Ipv4Addr::new(255, 255, 255, 0),
        server: ip4(&b[20..24]),
        gateway: None,
        dns: Vec::new(),
        domain: None,
        routes: Vec::new(),
        lease_secs: 0,
    };
    let mut kind = 0u8;
    let mut i = BOOTP_FIXED + 4;
    while i < b.len() {
        let code = b[i];
        if code == 0 {
            i += 1;
            continue;
        }
        if code == 255 {
            break;
        }
        let len = usize::from(*b.get(i + 1)?);
        let v = b.get(i + 2..i + 2 + len)?;
        match (code, len) {
            (53, 1) => kind = v[0],
            (1, 4) => lease.mask = ip4(v),
            (54, 4) => lease.server = ip4(v),
            (51, 4) => lease.lease_secs = u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
            (3, l) if l >= 4 && l % 4 == 0 => {
                lease.gateway = Some(ip4(v)).filter(|g| !g.is_unspecified())
            }
            (6, l) if l >= 4 && l % 4 == 0 => {
                lease.dns = v.chunks(4).take(2).map(ip4).collect();
            }
            (15, l) if (1..=64).contains(&l) => {
                let d: String = v
                    .iter()
                    .take_while(|c| **c != 0)
                    .map(|c| char::from(*c))
                    .collect();
                if !d.is_empty() && d.chars().all(|c| c.is_ascii_graphic()) {
                    lease.domain = Some(d);
                }
            }
            (121, _) => lease.routes = classless_routes(v),
            _ => {}
        }
        i += 2 + len;
    }
    if !matches!(kind, 2 | 5 | 6) {
        return None;
    }
    if kind != 6 && (lease.client.is_unspecified() || lease.client.is_broadcast()) {
        return None;
    }
    Some(Reply { kind, lease })
}

/// Option 121 (RFC 3442): width, significant octets of the network, router.
fn classless_routes(mut v: &[u8]) -> Vec<(Ipv4Addr, Ipv4Addr, Ipv4Addr)> {
    let mut out = Vec::new();
    while let Some(&width) = v.first() {
        if width > 32 || out.len() >= 16 {
            break;
        }
        let n = usize::from(width).div_ceil(8);
        if v.len() < 1 + n + 4 {
            break;
        }
        let mut net = [0u8; 4];
        net[..n].copy_from_slice(&v[1..1 + n]);
        let mask = if width == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(width))
        };
        out.push((
            Ipv4Addr::from(u32::from_be_bytes(net) & mask),
            Ipv4Addr::from(mask),
            ip4(&v[1 + n..5 + n]),
        ));
        v = &v[5 + n..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustether_proto::inet::checksum;

    const MAC: [u8; 6] = [0x5e, 1, 2, 3, 4, 5];
    const SRV_MAC: [u8; 6] = [0x5e, 9, 9, 9, 9, 9];
    const SRV: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 1);

    /// The adapter's next DHCP message (xid, type).
    fn next_dhcp(a: &mut L3Adapter) -> (u32, u8, Vec<u8>) {
        let f = a.poll_frame().expect("a frame");
        assert_eq!(&f[12..14], &[8, 0]);
        let ip = &f[14..];
        let (hl, _) = ipv4_lengths(ip).expect("ipv4");
        assert_eq!(checksum(&ip[..hl]), 0, "IP checksum");
        let d = &ip[hl + 8..];
        let xid = u32::from_be_bytes([d[4], d[5], d[6], d[7]]);
        let pos = d[240..]
            .windows(3)
            .position(|w| w[0] == 53 && w[1] == 1)
            .expect("option 53");
        (xid, d[240 + pos + 2], f)
    }

    fn reply(xid: u32, kind: u8, yiaddr: Ipv4Addr, extra: &[u8]) -> Vec<u8> {
        let mut d = vec![0u8; BOOTP_FIXED];
        d[0] = 2;
        d[1] = 1;
        d[2] = 6;
        d[4..8].copy_from_slice(&xid.to_be_bytes());
        d[16..20].copy_from_slice(&yiaddr.octets());
        d[28..34].copy_from_slice(&MAC);
        d.extend_from_slice(&DHCP_MAGIC);
        d.extend_from_slice(&[53, 1, kind, 54, 4, 192, 168, 30, 1]);
        d.extend_from_slice(&[1, 4, 255, 255, 255, 0, 51, 4, 0, 0, 0x1c, 0x20]);
        d.extend_from_slice(extra);
        d.push(255);
        let ip = udp_ipv4(SRV, Ipv4Addr::BROADCAST, 67, 68, &d);
        ethernet_frame(BROADCAST_MAC, SRV_MAC, ETH_IPV4, &ip)
    }

    fn bound() -> L3Adapter {
        let mut a = L3Adapter::new(MAC, "host", 0);
        let (xid, t, _) = next_dhcp(&mut a);
        assert_eq!(t, 1, "discover");
        let client = Ipv4Addr::new(192, 168, 30, 10);
        assert!(a.handle_frame(&reply(xid, 2, client, &[]), 5));
        let (xid2, t, _) = next_dhcp(&mut a);
        assert_eq!((xid2, t), (xid, 3), "request");
        let extra = [
            3, 4, 192, 168, 30, 1, 6, 4, 192, 168, 30, 1, 15, 3, b'l', b'a', b'n',
        ];
        assert!(a.handle_frame(&reply(xid, 5, client, &extra), 10));
        a
    }

    #[test]
    fn dhcp_gets_a_lease_and_push_options() {
        let mut a = bound();
        let l = a.take_bound().expect("bound");
        assert!(a.take_bound().is_none());
        assert_eq!(l.client, Ipv4Addr::new(192, 168, 30, 10));
        assert_eq!(l.lease_secs, 7200);
        assert_eq!(
            l.push_options(),
            ",topology subnet,ifconfig 192.168.30.10 255.255.255.0,dhcp-option DOMAIN lan,\
             dhcp-option DNS 192.168.30.1,route-gateway 192.168.30.1,redirect-gateway def1"
        );
        // Renewal at half the lease, unicast to the server's MAC.
        assert_eq!(a.next_timeout(), 10 + 3_600_000);
        a.handle_timeout(10 + 3_600_000);
        let (_, t, f) = next_dhcp(&mut a);
        assert_eq!(t, 3);
        assert_eq!(&f[0..6], &SRV_MAC);
    }

    #[test]
    fn wrong_xid_or_mac_is_ignored_and_dhcp_gives_up() {
        let mut a = L3Adapter::new(MAC, "", 0);
        let (xid, _, _) = next_dhcp(&mut a);
        assert!(!a.handle_frame(&reply(xid ^ 1, 2, SRV, &[]), 1));
        for t in 1..=DHCP_TRIES as u64 + 1 {
            a.handle_timeout(t * DHCP_RETRY_MS);
        }
        assert!(a.failed());
    }

    #[test]
    fn ip_both_ways_with_arp() {
        let mut a = bound();
        let me = Ipv4Addr::new(192, 168, 30, 10);
        let peer = Ipv4Addr::new(192, 168, 30, 20);
        let pkt = udp_ipv4(me, peer, 1, 2, b"hi");
        assert!(a.send_ip(&pkt, 20));
        // ARP request first, packet waits.
        let f = a.poll_frame().expect("arp");
        assert_eq!(&f[12..14], &[8, 6]);
        assert!(a.poll_frame().is_none());
        let peer_mac = [2, 2, 2, 2, 2, 2];
        let rep = arp_packet(2, peer_mac, peer, MAC, me);
        assert!(a.handle_frame(&ethernet_frame(MAC, peer_mac, ETH_ARP, &rep), 21));
        let f = a.poll_frame().expect("queued packet");
        assert_eq!(&f[0..6], &peer_mac);
        assert_eq!(&f[14..], &pkt[..]);
        // Off-link goes to the gateway (learnt from the DHCP server).
        let far = udp_ipv4(me, Ipv4Addr::new(10, 0, 0, 1), 1, 2, b"x");
        assert!(a.send_ip(&far, 22));
        assert_eq!(&a.poll_frame().expect("frame")[0..6], &SRV_MAC);
        // Spoofed source dropped.
        assert!(!a.send_ip(&udp_ipv4(peer, me, 1, 2, b"x"), 23));
        // ARP request for us answered.
        let req = arp_packet(1, peer_mac, peer, [0; 6], me);
        a.handle_frame(&ethernet_frame(BROADCAST_MAC, peer_mac, ETH_ARP, &req), 24);
        let f = a.poll_frame().expect("arp reply");
        assert_eq!(&f[0..6], &peer_mac);
        assert_eq!(&f[20..22], &[0, 2]);
        // Incoming IPv4 to us reaches the client; other unicast not.
        let inbound = udp_ipv4(peer, me, 2, 1, b"yo");
        assert!(a.handle_frame(&ethernet_frame(MAC, peer_mac, ETH_IPV4, &inbound), 25));
        assert_eq!(a.poll_packet().expect("packet"), inbound);
        assert!(!a.handle_frame(
            &ethernet_frame([2, 0, 0, 0, 0, 1], peer_mac, ETH_IPV4, &inbound),
            26
        ));
    }

    #[test]
    fn pending_and_arp_tables_are_bounded() {
        let mut a = bound();
        let me = Ipv4Addr::new(192, 168, 30, 10);
        for i in 0..1000u32 {
            let dst = Ipv4Addr::from(u32::from(Ipv4Addr::new(192, 168, 30, 0)) | (i % 250 + 2));
            a.send_ip(&udp_ipv4(me, dst, 1, 2, b"x"), 100);
            let sha = [2, 0, 0, (i >> 8) as u8, i as u8, 1];
            let rep = arp_packet(2, sha, Ipv4Addr::from(0x0a00_0000 + i), MAC, me);
            a.handle_frame(&ethernet_frame(MAC, sha, ETH_ARP, &rep), 100);
        }
        assert!(a.pending.len() <= MAX_PENDING_PACKETS);
        assert!(a.arp.len() <= MAX_ARP_ENTRIES);
        assert!(a.arp_asked.len() <= MAX_ARP_ENTRIES);
    }

    #[test]
    fn malformed_input_never_panics() {
        let mut a = bound();
        let mut seed = 1u64;
        for len in 0..600 {
            let f: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 33) as u8
                })
                .collect();
            a.handle_frame(&f, 1);
            a.send_ip(&f, 1);
            let _ = parse_reply(&f, 0, MAC);
            let _ = classless_routes(&f);
        }
        let r = classless_routes(&[24, 10, 1, 2, 192, 168, 30, 1, 0, 192, 168, 30, 254]);
        assert_eq!(
            r,
            vec![
                (
                    Ipv4Addr::new(10, 1, 2, 0),
                    Ipv4Addr::new(255, 255, 255, 0),
                    SRV
                ),
                (
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::UNSPECIFIED,
                    Ipv4Addr::new(192, 168, 30, 254)
                ),
            ]
        );
    }
}
