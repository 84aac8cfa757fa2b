//! The Virtual Layer 3 Switch as a sans-IO state machine: IPv4 routing
//! between virtual hubs, as SoftEther src/Cedar/Layer3.c (`L3RecvL2`,
//! `L3RecvIp`, `L3SendIp`, `L3Polling`).
//!
//! A [`Router`] has one interface per hub (its own MAC, an address and a
//! mask) and a static routing table. The caller feeds it the Ethernet
//! frames each interface's hub port receives ([`Router::input`]) and the
//! time ([`Router::poll`], milliseconds of a monotonic clock), and takes
//! the frames to send out of each interface ([`Router::take_output`]).
//! No sockets, no clock, no threads.
//!
//! Behaviour (SoftEther's):
//! * answers ARP requests for each interface's address, learns the sender
//!   of ARP and IPv4 packets from its subnet (entries live
//!   [`ARP_ENTRY_EXPIRES_MS`]);
//! * resolves next hops by ARP: a request every [`ARP_REQUEST_TIMEOUT_MS`]
//!   until [`ARP_REQUEST_GIVEUP_MS`]; packets wait at most
//!   [`IP_WAIT_FOR_ARP_TIMEOUT_MS`];
//! * routes to the interface whose subnet holds the destination, else by
//!   the routing table to the interface whose subnet holds the gateway;
//! * decrements the TTL; a packet whose TTL runs out is dropped with an
//!   ICMP time exceeded (type 11) to its sender, a packet without route
//!   with an ICMP destination unreachable (type 3, code 0), both from the
//!   receiving interface's address;
//! * answers ICMP echo requests to any of its interface addresses;
//! * sends a beacon every [`BEACON_SEND_INTERVAL_MS`] on each interface (a
//!   UDP broadcast to port 7 and a gratuitous ARP), as `L3PollingBeacon`.
//!
//! Differences from SoftEther, deliberate: every table is bounded
//! ([`MAX_ARP_ENTRIES`], [`MAX_ARP_WAIT`], [`MAX_IP_WAIT`]: SoftEther's
//! lists are unbounded); the route lookup is a true longest-prefix match,
//! then lowest metric (SoftEther's `L3GetBestRoute` can keep a shorter
//! prefix with a lower metric); IPv4 options and fragments are forwarded
//! but only unfragmented echo requests are answered.

use std::collections::{BTreeMap, VecDeque};
use std::net::Ipv4Addr;

use rustether_proto::inet::{
    arp_packet, checksum, ethernet_frame, ipv4_packet, udp_ipv4_packet, ETHERTYPE_ARP as ETH_ARP,
    ETHERTYPE_IPV4 as ETH_IPV4,
};
use rustether_proto::sha0;

/// ARP entry lifetime, ms (`ARP_ENTRY_EXPIRES`, src/Cedar/Cedar.h).
pub const ARP_ENTRY_EXPIRES_MS: u64 = 30_000;
/// Interval of the ARP table sweep, ms (`ARP_ENTRY_POLLING_TIME`).
pub const ARP_ENTRY_POLLING_TIME_MS: u64 = 1_000;
/// Interval between ARP requests for one address, ms (`ARP_REQUEST_TIMEOUT`).
pub const ARP_REQUEST_TIMEOUT_MS: u64 = 1_000;
/// Time after which ARP for an address is given up, ms (`ARP_REQUEST_GIVEUP`).
pub const ARP_REQUEST_GIVEUP_MS: u64 = 5_000;
/// Longest time a packet waits for ARP, ms (`IP_WAIT_FOR_ARP_TIMEOUT`).
pub const IP_WAIT_FOR_ARP_TIMEOUT_MS: u64 = 5_000;
/// Beacon interval, ms (`BEACON_SEND_INTERVAL`).
pub const BEACON_SEND_INTERVAL_MS: u64 = 5_000;
/// Largest ARP table of one interface (RustEther's bound).
pub const MAX_ARP_ENTRIES: usize = 4096;
/// Most addresses being resolved at once on one interface (RustEther's bound).
pub const MAX_ARP_WAIT: usize = 1024;
/// Most packets waiting for ARP on one interface (RustEther's bound).
pub const MAX_IP_WAIT: usize = 1024;
/// Largest Ethernet frame accepted, bytes (header + 1500 bytes of IP, with
/// room for a VLAN tag; `MAX_L3_DATA_SIZE`).
pub const MAX_FRAME: usize = 14 + 4 + 1500;

/// Text of the beacon's UDP payload (`L3PollingBeacon`), with its NUL.
const BEACON: &[u8] = b"PacketiX VPN Virtual Layer-3 Switch Beacon\0";
const BROADCAST: [u8; 6] = [0xff; 6];

/// One interface of a switch (`L3IF`): the hub it attaches to, its address
/// and mask.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3Interface {
    /// Virtual hub name (`HubName`).
    pub hub: String,
    /// Interface address (`IpAddress`).
    pub ip: Ipv4Addr,
    /// Subnet mask (`SubnetMask`).
    pub mask: Ipv4Addr,
}

/// One static route (`L3TABLE`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct L3Route {
    /// Destination network (`NetworkAddress`).
    pub network: Ipv4Addr,
    /// Its mask (`SubnetMask`).
    pub mask: Ipv4Addr,
    /// Next hop, reached through the interface whose subnet holds it
    /// (`GatewayAddress`).
    pub gateway: Ipv4Addr,
    /// Metric, lower wins among equally long prefixes (`Metric`, ≥ 1).
    pub metric: u32,
}

/// The interface MAC SoftEther gives: `5E:A3` then the first four bytes of
/// SHA-0(switch name ‖ hub name ‖ address) (`L3GenerateMacAddress`; the
/// name and hub bytes as stored, so case matters).
pub fn interface_mac(switch: &str, hub: &str, ip: Ipv4Addr) -> [u8; 6] {
    let mut b = Vec::with_capacity(switch.len() + hub.len() + 4);
    b.extend_from_slice(switch.as_bytes());
    b.extend_from_slice(hub.as_bytes());
    b.extend_from_slice(&ip.octets());
    let h = sha0(&b);
    [0x5e, 0xa3, h[0], h[1], h[2], h[3]]
}

#[derive(Debug)]
struct WaitPacket {
    /// The IPv4 packet (no Ethernet header).
    ip: Vec<u8>,
    next_hop: Ipv4Addr,
    expire: u64,
}

#[derive(Debug)]
struct Iface {
    cfg: L3Interface,
    mac: [u8; 6],
    /// IP → (MAC, expiry).
    arp: BTreeMap<Ipv4Addr, ([u8; 6], u64)>,
    /// IP → (last request sent, give-up time).
    arp_wait: BTreeMap<Ipv4Addr, (Option<u64>, u64)>,
    ip_wait: VecDeque<WaitPacket>,
    last_arp_sweep: u64,
    last_beacon: Option<u64>,
}

impl Iface {
    fn in_subnet(&self, ip: Ipv4Addr) -> bool {
        let m = u32::from(self.cfg.mask);
        u32::from(self.cfg.ip) & m == u32::from(ip) & m
    }
}

/// Counters of a [`Router`] (for logs and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouterStats {
    /// IPv4 packets forwarded out of an interface.
    pub forwarded: u64,
    /// Frames dropped (malformed, not for us, no route, table full, ARP
    /// timeout).
    pub dropped: u64,
    /// ICMP errors sent.
    pub icmp_errors: u64,
}

/// A running Virtual Layer 3 Switch (see the module docs).
#[derive(Debug)]
pub struct Router {
    ifs: Vec<Iface>,
    routes: Vec<L3Route>,
    out: Vec<(usize, Vec<u8>)>,
    stats: RouterStats,
}

impl Router {
    /// A router named `switch` with `ifs` (index = interface number used by
    /// [`Router::input`] and [`Router::take_output`]) and `routes`.
    pub fn new(switch: &str, ifs: &[L3Interface], routes: &[L3Route]) -> Router {
        Router {
            ifs: ifs
                .iter()
                .map(|c| Iface {
                    mac: interface_mac(switch, &c.hub, c.ip),
                    cfg: c.clone(),
                    arp: BTreeMap::new(),
                    arp_wait: BTreeMap::new(),
                    ip_wait: VecDeque::new(),
                    last_arp_sweep: 0,
                    last_beacon: None,
                })
                .collect(),
            routes: routes.to_vec(),
            out: Vec::new(),
            stats: RouterStats::default(),
        }
    }

    /// MAC address of interface `i` (None if out of range).
    pub fn mac(&self, i: usize) -> Option<[u8; 6]> {
        self.ifs.get(i).map(|f| f.mac)
    }

    /// Counters.
    pub fn stats(&self) -> RouterStats {
        self.stats
    }

    /// Number of ARP entries of interface `i` (0 if out of range).
    pub fn arp_len(&self, i: usize) -> usize {
        self.ifs.get(i).map_or(0, |f| f.arp.len())
    }

    /// Number of packets waiting for ARP on interface `i`.
    pub fn ip_wait_len(&self, i: usize) -> usize {
        self.ifs.get(i).map_or(0, |f| f.ip_wait.len())
    }

    /// Frames to send, as (interface, Ethernet frame), in order; empties
    /// the outbox.
    pub fn take_output(&mut self) -> Vec<(usize, Vec<u8>)> {
        std::mem::take(&mut self.out)
    }

    /// A frame received on interface `i` at `now` (ms). Frames not for
    /// this interface (other unicast MACs, our own MAC as source), other
    /// protocols and malformed frames are dropped (`L3RecvL2`).
    pub fn input(&mut self, i: usize, frame: &[u8], now: u64) {
        let Some(f) = self.ifs.get(i) else { return };
        if frame.len() < 14 || frame.len() > MAX_FRAME {
            self.stats.dropped += 1;
            return;
        }
        let dst: [u8; 6] = frame[0..6].try_into().unwrap_or_default();
        let src: [u8; 6] = frame[6..12].try_into().unwrap_or_default();
        let is_bcast = dst == BROADCAST;
        if src == f.mac || (!is_bcast && dst != f.mac) {
            return;
        }
        let ty = u16::from_be_bytes([frame[12], frame[13]]);
        match ty {
            ETH_ARP => self.recv_arp(i, src, &frame[14..], now),
            ETH_IPV4 => {
                if is_bcast {
                    // `L3RecvIp`: learn the sender, drop broadcasts.
                    if let Some(sip) = ipv4_src(&frame[14..]) {
                        self.known_arp(i, sip, src, now);
                    }
                    return;
                }
                self.recv_ip(i, Some(src), frame[14..].to_vec(), now, false)
            }
            _ => {}
        }
    }

    /// Timers at `now` (ms): beacons, ARP retries and give-ups, expiry of
    /// ARP entries and of packets waiting for ARP (`L3Polling`). Call it
    /// at least every [`ARP_REQUEST_TIMEOUT_MS`].
    pub fn poll(&mut self, now: u64) {
        for i in 0..self.ifs.len() {
            let f = &mut self.ifs[i];
            if f.last_beacon
                .is_none_or(|t| t + BEACON_SEND_INTERVAL_MS <= now)
            {
                f.last_beacon = Some(now);
                let (mac, ip, mask) = (f.mac, f.cfg.ip, f.cfg.mask);
                let bcast = Ipv4Addr::from(u32::from(ip) & u32::from(mask) | !u32::from(mask));
                let pkt = udp_ipv4_packet(ip, bcast, 7, 7, 128, BEACON);
                self.out
                    .push((i, ethernet_frame(BROADCAST, mac, ETH_IPV4, &pkt)));
                let arp = arp_packet(2, mac, ip, BROADCAST, bcast);
                self.out
                    .push((i, ethernet_frame(BROADCAST, mac, ETH_ARP, &arp)));
            }
            let f = &mut self.ifs[i];
            // `L3DeleteOldArpTable`
            if f.last_arp_sweep + ARP_ENTRY_POLLING_TIME_MS <= now {
                f.last_arp_sweep = now;
                f.arp.retain(|_, (_, exp)| *exp > now);
            }
            // `L3PollingArpWaitTable`
            let mut requests = Vec::new();
            f.arp_wait.retain(|ip, (last, giveup)| {
                if *giveup <= now {
                    return false;
                }
                if last.is_none_or(|t| t + ARP_REQUEST_TIMEOUT_MS <= now) {
                    *last = Some(now);
                    requests.push(*ip);
                }
                true
            });
            let (mac, own) = (f.mac, f.cfg.ip);
            for t in requests {
                let arp = arp_packet(1, mac, own, [0; 6], t);
                self.out
                    .push((i, ethernet_frame(BROADCAST, mac, ETH_ARP, &arp)));
            }
            // `L3DeleteOldIpWaitList`
            let f = &mut self.ifs[i];
            let before = f.ip_wait.len();
            f.ip_wait.retain(|p| p.expire > now);
            self.stats.dropped += (before - f.ip_wait.len()) as u64;
        }
    }

    fn recv_arp(&mut self, i: usize, eth_src: [u8; 6], a: &[u8], now: u64) {
        // `L3RecvArp`: Ethernet/IPv4 only, sender MAC = frame source.
        if a.len() < 28 || a[0..2] != [0, 1] || a[2..4] != [8, 0] || a[4] != 6 || a[5] != 4 {
            return;
        }
        let sha: [u8; 6] = a[8..14].try_into().unwrap_or_default();
        if sha != eth_src {
            return;
        }
        let spa = Ipv4Addr::new(a[14], a[15], a[16], a[17]);
        let tpa = Ipv4Addr::new(a[24], a[25], a[26], a[27]);
        match u16::from_be_bytes([a[6], a[7]]) {
            1 => {
                self.known_arp(i, spa, sha, now);
                let f = &self.ifs[i];
                if tpa == f.cfg.ip {
                    let body = arp_packet(2, f.mac, f.cfg.ip, sha, spa);
                    let frame = ethernet_frame(sha, f.mac, ETH_ARP, &body);
                    self.out.push((i, frame));
                }
            }
            2 => self.known_arp(i, spa, sha, now),
            _ => {}
        }
    }

    /// `L3KnownArp`: learn `ip` → `mac` if `ip` is in interface `i`'s
    /// subnet, stop resolving it, send what waited for it.
    fn known_arp(&mut self, i: usize, ip: Ipv4Addr, mac: [u8; 6], now: u64) {
        let f = &mut self.ifs[i];
        if ip.is_unspecified() || ip.is_broadcast() || !f.in_subnet(ip) {
            return;
        }
        f.arp_wait.remove(&ip);
        if f.arp.len() >= MAX_ARP_ENTRIES && !f.arp.contains_key(&ip) {
            return;
        }
        let e = f.arp.entry(ip).or_insert((mac, 0));
        e.1 = now + ARP_ENTRY_EXPIRES_MS;
        let mac = e.0;
        // `L3SendWaitingIp`
        let own = f.mac;
        let mut k = 0;
        while k < f.ip_wait.len() {
            if f.ip_wait[k].next_hop == ip {
                if let Some(p) = f.ip_wait.remove(k) {
                    self.out
                        .push((i, ethernet_frame(mac, own, ETH_IPV4, &p.ip)));
                    self.stats.forwarded += 1;
                }
            } else {
                k += 1;
            }
        }
    }

    /// Interface and next hop for `dst` (`L3GetNextIf`).
    fn next_if(&self, dst: Ipv4Addr) -> Option<(usize, Ipv4Addr)> {
        if dst.is_unspecified() || dst.is_broadcast() {
            return None;
        }
        if let Some(i) = self.ifs.iter().position(|f| f.in_subnet(dst)) {
            return Some((i, dst));
        }
        let r = self.best_route(dst)?;
        let i = self.ifs.iter().position(|f| f.in_subnet(r.gateway))?;
        Some((i, r.gateway))
    }

    /// Longest prefix, then lowest metric, then first in table order.
    fn best_route(&self, dst: Ipv4Addr) -> Option<L3Route> {
        let d = u32::from(dst);
        self.routes
            .iter()
            .filter(|r| u32::from(r.network) & u32::from(r.mask) == d & u32::from(r.mask))
            .fold(None, |best: Option<&L3Route>, r| match best {
                Some(b)
                    if (u32::from(b.mask).count_ones(), std::cmp::Reverse(b.metric))
                        >= (u32::from(r.mask).count_ones(), std::cmp::Reverse(r.metric)) =>
                {
                    Some(b)
                }
                _ => Some(r),
            })
            .copied()
    }

    /// `L3RecvIp`: `pkt` is an IPv4 packet received on interface `i` from
    /// `src_mac` (None: generated by the router itself, `self == true`).
    fn recv_ip(
        &mut self,
        i: usize,
        src_mac: Option<[u8; 6]>,
        mut pkt: Vec<u8>,
        now: u64,
        own: bool,
    ) {
        let Some(hl) = ipv4_header_len(&pkt) else {
            self.stats.dropped += 1;
            return;
        };
        let total = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
        if total < hl || total > pkt.len() || checksum(&pkt[..hl]) != 0 {
            self.stats.dropped += 1;
            return;
        }
        pkt.truncate(total);
        let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
        let dst = Ipv4Addr::new(pkt[16], pkt[17], pkt[18], pkt[19]);
        if let Some(m) = src_mac {
            self.known_arp(i, src, m, now);
        }
        let f_ip = self.ifs[i].cfg.ip;
        let ttl = pkt[8].saturating_sub(1);
        if ttl == 0 && dst != f_ip {
            if !own {
                self.icmp_error(i, &pkt, hl, 11, now);
            }
            self.stats.dropped += 1;
            return;
        }
        pkt[8] = ttl;
        let Some((mut d, mut next_hop)) = self.next_if(dst) else {
            if !own {
                self.icmp_error(i, &pkt, hl, 3, now);
            }
            self.stats.dropped += 1;
            return;
        };
        if dst == self.ifs[d].cfg.ip {
            // For one of our addresses: only echo requests are answered.
            let frag = u16::from_be_bytes([pkt[6], pkt[7]]) & 0x3fff;
            if pkt[9] != 1 || frag != 0 || pkt.len() < hl + 8 || pkt[hl] != 8 {
                return;
            }
            pkt[12..16].copy_from_slice(&dst.octets());
            pkt[16..20].copy_from_slice(&src.octets());
            pkt[8] = 0xff;
            pkt[6] = 0;
            pkt[7] = 0;
            pkt[hl] = 0;
            pkt[hl + 2] = 0;
            pkt[hl + 3] = 0;
            let c = checksum(&pkt[hl..]);
            pkt[hl + 2..hl + 4].copy_from_slice(&c.to_be_bytes());
            match self.next_if(src) {
                Some(x) => (d, next_hop) = x,
                None => return,
            }
        }
        pkt[10] = 0;
        pkt[11] = 0;
        let c = checksum(&pkt[..hl]);
        pkt[10..12].copy_from_slice(&c.to_be_bytes());
        self.send_ip(d, pkt, next_hop, now);
    }

    /// ICMP error `ty` (code 0) about `pkt` back to its sender, from
    /// interface `i`'s address: IP header and 8 bytes of data quoted.
    fn icmp_error(&mut self, i: usize, pkt: &[u8], hl: usize, ty: u8, now: u64) {
        let src = Ipv4Addr::new(pkt[12], pkt[13], pkt[14], pkt[15]);
        // No errors about ICMP errors, broadcasts or fragments (RFC 1812).
        if pkt[9] == 1 && pkt.len() > hl && !matches!(pkt[hl], 0 | 8) {
            return;
        }
        if u16::from_be_bytes([pkt[6], pkt[7]]) & 0x1fff != 0 || src.is_unspecified() {
            return;
        }
        let quoted = &pkt[..pkt.len().min(hl + 8)];
        let mut icmp = vec![ty, 0, 0, 0, 0, 0, 0, 0];
        icmp.extend_from_slice(quoted);
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let ip = ipv4_packet(self.ifs[i].cfg.ip, src, 1, 0xff, &icmp);
        self.stats.icmp_errors += 1;
        // Routed like a received packet (`L3RecvIp(f, pkt, true)`).
        self.recv_ip(i, None, ip, now, true);
    }

    /// `L3SendIp`: broadcast to the subnet's broadcast address, else to the
    /// next hop's MAC, resolving it first if needed.
    fn send_ip(&mut self, i: usize, pkt: Vec<u8>, next_hop: Ipv4Addr, now: u64) {
        let f = &mut self.ifs[i];
        let m = u32::from(f.cfg.mask);
        let bcast =
            next_hop.is_broadcast() || (f.in_subnet(next_hop) && u32::from(next_hop) & !m == !m);
        if bcast {
            let frame = ethernet_frame(BROADCAST, f.mac, ETH_IPV4, &pkt);
            self.out.push((i, frame));
            self.stats.forwarded += 1;
            return;
        }
        if next_hop == f.cfg.ip {
            return;
        }
        match f.arp.get(&next_hop) {
            Some((mac, _)) => {
                let frame = ethernet_frame(*mac, f.mac, ETH_IPV4, &pkt);
                self.out.push((i, frame));
                self.stats.forwarded += 1;
            }
            None => {
                if f.ip_wait.len() >= MAX_IP_WAIT {
                    self.stats.dropped += 1;
                    return;
                }
                f.ip_wait.push_back(WaitPacket {
                    ip: pkt,
                    next_hop,
                    expire: now + IP_WAIT_FOR_ARP_TIMEOUT_MS,
                });
                // `L3SendArp`: the request goes out at the next poll.
                if !f.arp_wait.contains_key(&next_hop) && f.arp_wait.len() < MAX_ARP_WAIT {
                    f.arp_wait
                        .insert(next_hop, (None, now + ARP_REQUEST_GIVEUP_MS));
                }
            }
        }
    }
}

fn ipv4_header_len(p: &[u8]) -> Option<usize> {
    let v = *p.first()?;
    let hl = usize::from(v & 0x0f) * 4;
    (v >> 4 == 4 && hl >= 20 && p.len() >= hl).then_some(hl)
}

fn ipv4_src(p: &[u8]) -> Option<Ipv4Addr> {
    ipv4_header_len(p)?;
    Some(Ipv4Addr::new(p[12], p[13], p[14], p[15]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
    const B_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
    const A_IP: Ipv4Addr = Ipv4Addr::new(10, 1, 0, 10);
    const B_IP: Ipv4Addr = Ipv4Addr::new(10, 2, 0, 10);

    fn ifs() -> Vec<L3Interface> {
        vec![
            L3Interface {
                hub: "HUBA".into(),
                ip: Ipv4Addr::new(10, 1, 0, 1),
                mask: Ipv4Addr::new(255, 255, 255, 0),
            },
            L3Interface {
                hub: "HUBB".into(),
                ip: Ipv4Addr::new(10, 2, 0, 1),
                mask: Ipv4Addr::new(255, 255, 255, 0),
            },
        ]
    }

    fn echo(src: Ipv4Addr, dst: Ipv4Addr, ttl: u8) -> Vec<u8> {
        let mut icmp = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'h', b'i'];
        let c = checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        ipv4_packet(src, dst, 1, ttl, &icmp)
    }

    fn arp_req(sha: [u8; 6], spa: Ipv4Addr, tpa: Ipv4Addr) -> Vec<u8> {
        ethernet_frame(
            BROADCAST,
            sha,
            ETH_ARP,
            &arp_packet(1, sha, spa, [0; 6], tpa),
        )
    }

    fn arp_reply(sha: [u8; 6], spa: Ipv4Addr, to: [u8; 6], tpa: Ipv4Addr) -> Vec<u8> {
        ethernet_frame(to, sha, ETH_ARP, &arp_packet(2, sha, spa, to, tpa))
    }

    /// A router past its first beacons, outbox empty.
    fn router() -> Router {
        let mut r = Router::new("R1", &ifs(), &[]);
        r.poll(0);
        r.take_output();
        r
    }

    #[test]
    fn mac_is_softethers_derivation() {
        let m = interface_mac("R1", "HUBA", Ipv4Addr::new(10, 1, 0, 1));
        assert_eq!(m[..2], [0x5e, 0xa3]);
        let mut b = b"R1HUBA".to_vec();
        b.extend_from_slice(&[10, 1, 0, 1]);
        assert_eq!(m[2..], sha0(&b)[..4]);
        assert_ne!(m, interface_mac("R1", "HUBB", Ipv4Addr::new(10, 1, 0, 1)));
    }

    #[test]
    fn answers_arp_for_its_address_only() {
        let mut r = router();
        let gw = Ipv4Addr::new(10, 1, 0, 1);
        r.input(0, &arp_req(A_MAC, A_IP, gw), 10);
        let out = r.take_output();
        assert_eq!(out.len(), 1);
        let (i, f) = &out[0];
        assert_eq!(*i, 0);
        assert_eq!(f[0..6], A_MAC);
        assert_eq!(f[12..14], [8, 6]);
        assert_eq!(f[20..22], [0, 2]);
        assert_eq!(f[22..28], r.mac(0).unwrap());
        assert_eq!(f[28..32], gw.octets());
        // The requester was learnt; a request for another address is not answered.
        assert_eq!(r.arp_len(0), 1);
        r.input(0, &arp_req(A_MAC, A_IP, Ipv4Addr::new(10, 1, 0, 99)), 11);
        assert!(r.take_output().is_empty());
        // A request arriving on the other interface for this address is not answered.
        r.input(1, &arp_req(B_MAC, B_IP, gw), 12);
        assert!(r.take_output().is_empty());
    }

    fn routed_echo(r: &mut Router, now: u64) -> Vec<(usize, Vec<u8>)> {
        let mac0 = r.mac(0).unwrap();
        r.input(
            0,
            &ethernet_frame(mac0, A_MAC, ETH_IPV4, &echo(A_IP, B_IP, 64)),
            now,
        );
        r.take_output()
    }

    #[test]
    fn routes_between_interfaces_with_arp_and_ttl() {
        let mut r = router();
        // Unknown next hop: the packet waits, an ARP request goes out at the poll.
        assert!(routed_echo(&mut r, 100).is_empty());
        assert_eq!(r.ip_wait_len(1), 1);
        r.poll(100);
        let out = r.take_output();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, 1);
        assert_eq!(out[0].1[0..6], BROADCAST);
        assert_eq!(out[0].1[38..42], B_IP.octets());
        // The reply releases the packet, TTL decremented, checksum valid.
        let mac1 = r.mac(1).unwrap();
        r.input(
            1,
            &arp_reply(B_MAC, B_IP, mac1, Ipv4Addr::new(10, 2, 0, 1)),
            150,
        );
        let out = r.take_output();
        assert_eq!(out.len(), 1);
        let (i, f) = &out[0];
        assert_eq!(*i, 1);
        assert_eq!(f[0..6], B_MAC);
        assert_eq!(f[6..12], mac1);
        assert_eq!(f[14 + 8], 63);
        assert_eq!(checksum(&f[14..34]), 0);
        assert_eq!(r.ip_wait_len(1), 0);
        // Next time straight through.
        assert_eq!(routed_echo(&mut r, 200).len(), 1);
        assert_eq!(r.stats().forwarded, 2);
    }

    #[test]
    fn unanswered_arp_is_retried_then_given_up_and_packets_expire() {
        let mut r = router();
        routed_echo(&mut r, 0);
        let mut requests = 0;
        for t in (0..=7000).step_by(100) {
            r.poll(t);
            requests += r
                .take_output()
                .iter()
                .filter(|(_, f)| f[12..14] == [8, 6] && f[20..22] == [0, 1])
                .count();
        }
        assert_eq!(requests, 5, "one request a second until the 5 s give-up");
        assert_eq!(r.ip_wait_len(1), 0);
        assert!(r.stats().dropped >= 1);
    }

    #[test]
    fn wait_queue_is_bounded() {
        let mut r = router();
        for n in 0..(MAX_IP_WAIT + 50) {
            routed_echo(&mut r, n as u64 % 10);
        }
        assert_eq!(r.ip_wait_len(1), MAX_IP_WAIT);
    }

    #[test]
    fn arp_table_is_bounded_and_entries_expire() {
        let mut r = Router::new(
            "R",
            &[L3Interface {
                hub: "H".into(),
                ip: Ipv4Addr::new(10, 0, 0, 1),
                mask: Ipv4Addr::new(255, 0, 0, 0),
            }],
            &[],
        );
        for n in 0..(MAX_ARP_ENTRIES as u32 + 100) {
            let ip = Ipv4Addr::from(0x0a00_1000 + n);
            let mut mac = [2, 0, 0, 0, 0, 0];
            mac[2..6].copy_from_slice(&n.to_be_bytes());
            r.input(0, &arp_req(mac, ip, Ipv4Addr::new(10, 0, 0, 200)), 0);
        }
        assert_eq!(r.arp_len(0), MAX_ARP_ENTRIES);
        r.poll(ARP_ENTRY_EXPIRES_MS + 1);
        assert_eq!(r.arp_len(0), 0);
    }

    #[test]
    fn answers_echo_to_any_own_address() {
        let mut r = router();
        let mac0 = r.mac(0).unwrap();
        r.input(0, &arp_req(A_MAC, A_IP, Ipv4Addr::new(10, 1, 0, 1)), 0);
        r.take_output();
        for target in [Ipv4Addr::new(10, 1, 0, 1), Ipv4Addr::new(10, 2, 0, 1)] {
            r.input(
                0,
                &ethernet_frame(mac0, A_MAC, ETH_IPV4, &echo(A_IP, target, 64)),
                1,
            );
            let out = r.take_output();
            assert_eq!(out.len(), 1, "echo to {target}");
            let (i, f) = &out[0];
            assert_eq!(*i, 0);
            assert_eq!(f[0..6], A_MAC);
            let p = &f[14..];
            assert_eq!(p[12..16], target.octets());
            assert_eq!(p[16..20], A_IP.octets());
            assert_eq!(p[20], 0, "echo reply");
            assert_eq!(checksum(&p[..20]), 0);
            assert_eq!(checksum(&p[20..]), 0);
        }
    }

    fn icmp_type_back(r: &mut Router, pkt: Vec<u8>) -> Option<u8> {
        let mac0 = r.mac(0).unwrap();
        r.input(0, &ethernet_frame(mac0, A_MAC, ETH_IPV4, &pkt), 5);
        let out = r.take_output();
        let (i, f) = out.first()?;
        assert_eq!(*i, 0);
        assert_eq!(f[14 + 9], 1);
        assert_eq!(f[14 + 12..14 + 16], [10, 1, 0, 1]);
        assert_eq!(checksum(&f[34..]), 0);
        Some(f[34])
    }

    #[test]
    fn icmp_errors_for_ttl_and_no_route() {
        let mut r = router();
        r.input(0, &arp_req(A_MAC, A_IP, Ipv4Addr::new(10, 1, 0, 1)), 0);
        r.take_output();
        assert_eq!(icmp_type_back(&mut r, echo(A_IP, B_IP, 1)), Some(11));
        assert_eq!(
            icmp_type_back(&mut r, echo(A_IP, Ipv4Addr::new(8, 8, 8, 8), 64)),
            Some(3)
        );
        // No error about an error.
        let mut err = vec![3, 0, 0, 0, 0, 0, 0, 0];
        err.extend_from_slice(&echo(A_IP, B_IP, 5)[..28]);
        let c = checksum(&err);
        err[2..4].copy_from_slice(&c.to_be_bytes());
        let pkt = ipv4_packet(A_IP, Ipv4Addr::new(8, 8, 8, 8), 1, 64, &err);
        assert_eq!(icmp_type_back(&mut r, pkt), None);
        assert_eq!(r.stats().icmp_errors, 2);
    }

    #[test]
    fn static_routes_longest_prefix_then_metric() {
        let gw1 = Ipv4Addr::new(10, 2, 0, 254);
        let gw2 = Ipv4Addr::new(10, 2, 0, 253);
        let gw3 = Ipv4Addr::new(10, 1, 0, 252);
        let routes = [
            L3Route {
                network: Ipv4Addr::new(172, 16, 0, 0),
                mask: Ipv4Addr::new(255, 255, 0, 0),
                gateway: gw1,
                metric: 1,
            },
            L3Route {
                network: Ipv4Addr::new(172, 16, 5, 0),
                mask: Ipv4Addr::new(255, 255, 255, 0),
                gateway: gw2,
                metric: 9,
            },
            L3Route {
                network: Ipv4Addr::new(172, 16, 5, 0),
                mask: Ipv4Addr::new(255, 255, 255, 0),
                gateway: gw3,
                metric: 3,
            },
        ];
        let r = Router::new("R", &ifs(), &routes);
        assert_eq!(r.next_if(Ipv4Addr::new(172, 16, 9, 9)), Some((1, gw1)));
        assert_eq!(r.next_if(Ipv4Addr::new(172, 16, 5, 9)), Some((0, gw3)));
        assert_eq!(
            r.next_if(Ipv4Addr::new(10, 2, 0, 77)),
            Some((1, Ipv4Addr::new(10, 2, 0, 77)))
        );
        assert_eq!(r.next_if(Ipv4Addr::new(192, 0, 2, 1)), None);
        // A gateway outside every interface's subnet gives no route.
        let r = Router::new(
            "R",
            &ifs(),
            &[L3Route {
                network: Ipv4Addr::new(0, 0, 0, 0),
                mask: Ipv4Addr::new(0, 0, 0, 0),
                gateway: Ipv4Addr::new(192, 0, 2, 1),
                metric: 1,
            }],
        );
        assert_eq!(r.next_if(Ipv4Addr::new(8, 8, 8, 8)), None);
    }

    #[test]
    fn ignores_foreign_unicast_own_source_and_garbage() {
        let mut r = router();
        let other = [2, 9, 9, 9, 9, 9];
        r.input(
            0,
            &ethernet_frame(other, A_MAC, ETH_IPV4, &echo(A_IP, B_IP, 64)),
            0,
        );
        let mac0 = r.mac(0).unwrap();
        r.input(
            0,
            &ethernet_frame(mac0, mac0, ETH_IPV4, &echo(A_IP, B_IP, 64)),
            0,
        );
        let mut bad = echo(A_IP, B_IP, 64);
        bad[10] ^= 0xff;
        r.input(0, &ethernet_frame(mac0, A_MAC, ETH_IPV4, &bad), 0);
        r.input(0, &[0u8; 3], 0);
        r.input(7, &[0u8; 60], 0);
        assert!(r.take_output().is_empty());
        assert_eq!(r.ip_wait_len(1), 0);
    }

    proptest::proptest! {
        /// The fuzz target's harness (fuzz/fuzz_targets/l3_router.rs) on
        /// random frames: bounds hold, outputs leave by a real interface
        /// with its MAC.
        #[test]
        fn random_frames_keep_invariants(
            ops in proptest::collection::vec((0u8..8, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..80)), 0..40)
        ) {
            let mut r = router();
            let macs = [r.mac(0).unwrap(), r.mac(1).unwrap()];
            let mut now = 0u64;
            for (op, mut frame) in ops {
                if op & 3 == 3 {
                    now += frame.len() as u64 * 100;
                    r.poll(now);
                } else {
                    let i = usize::from(op & 3);
                    if op & 4 != 0 && frame.len() >= 14 && i < 2 {
                        frame[..6].copy_from_slice(&macs[i]);
                        frame[12..14].copy_from_slice(&[8, 0]);
                    }
                    r.input(i, &frame, now);
                }
                for (i, f) in r.take_output() {
                    proptest::prop_assert!(i < 2);
                    proptest::prop_assert_eq!(f[6..12].to_vec(), macs[i].to_vec());
                    proptest::prop_assert!(f.len() <= MAX_FRAME + 64);
                }
                proptest::prop_assert!(r.ip_wait_len(1) <= MAX_IP_WAIT);
            }
        }
    }

    #[test]
    fn beacons_every_five_seconds() {
        let mut r = Router::new("R1", &ifs(), &[]);
        r.poll(0);
        let out = r.take_output();
        assert_eq!(out.len(), 4, "UDP beacon and gratuitous ARP per interface");
        let udp = &out[0].1;
        assert_eq!(udp[14 + 16..14 + 20], [10, 1, 0, 255]);
        assert!(udp.ends_with(BEACON));
        r.poll(4_999);
        assert!(r.take_output().is_empty());
        r.poll(5_000);
        assert_eq!(r.take_output().len(), 4);
    }
}
