//! A hub's access list compiled for the data path, with SoftEther's
//! semantics (`IsPacketMaskedByAccessList`, `ApplyAccessListToStoredPacket`,
//! `ApplyAccessListToForwardPacket`, src/Cedar/Hub.c):
//!
//! * entries are evaluated in list order ([`rustether_proto::softether::access::sorted_list`]:
//!   priority, then pass before discard); the first matching entry decides
//!   (pass or discard); no match passes;
//! * on entry into the hub ([`AccessList::ingress`]) only the entries
//!   before the first one with a destination user name are scanned; if none
//!   matched, each destination is checked ([`AccessList::forward`]) with the
//!   entries from that one on;
//! * ARP frames never match (SoftEther's hub option
//!   `ApplyIPv4AccessListOnArpPacket` is off by default and not supported
//!   here); an IPv4 entry without IP criteria also matches IPv6 frames, as
//!   in SoftEther.
//!
//! Cost: a frame is parsed once ([`PacketInfo::parse`], no allocation) and
//! each entry is a handful of integer compares on precomputed masks.
//! Delay/jitter/loss and redirect URLs are not applied (documented in
//! docs/administration.md); entries with `include:`/`exclude:` user names
//! never match.

use rustether_proto::softether::access::{is_file_user_name, AccessRule};

/// Who a session is, for user-name criteria: hashes of its user name and
/// group name ([`name_hash`]; 0 = none).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AccessIdentity {
    /// Hash of the session's user name.
    pub user: u64,
    /// Hash of the session's group name.
    pub group: u64,
}

impl AccessIdentity {
    /// The identity of a session of `user` in `group` (either may be "").
    pub fn new(user: &str, group: &str) -> AccessIdentity {
        AccessIdentity {
            user: name_hash(user),
            group: name_hash(group),
        }
    }
}

/// `UsernameToInt64` without the SHA-0: NT domain removed (`DOM\user` →
/// `user`, `user@dom` → `user`), trimmed, compared case-insensitively
/// (FNV-1a over the upper-cased bytes). 0 for an empty name.
pub fn name_hash(name: &str) -> u64 {
    let mut n = name.trim();
    if let Some(i) = n.rfind('\\') {
        n = &n[i + 1..];
    }
    if let Some(i) = n.find('@') {
        n = &n[..i];
    }
    let n = n.trim();
    if n.is_empty() {
        return 0;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in n.bytes() {
        h ^= u64::from(b.to_ascii_uppercase());
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h.max(1)
}

/// Layer 3 kind of a frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum L3 {
    #[default]
    Other,
    V4,
    V6,
    Arp,
}

/// Layer 4 kind of a frame (first fragment only, as SoftEther's parser).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum L4 {
    #[default]
    Other,
    Tcp,
    Udp,
}

const TCP_SYN: u8 = 0x02;
const TCP_ACK: u8 = 0x10;

/// The header fields access list entries look at, read once per frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketInfo {
    src_mac: u64,
    dst_mac: u64,
    l3: L3,
    src4: u32,
    dst4: u32,
    src6: u128,
    dst6: u128,
    /// IPv4 protocol or the IPv6 upper-layer protocol after extension
    /// headers; `None` if unknown.
    proto: Option<u8>,
    l4: L4,
    sport: u16,
    dport: u16,
    tcp_flags: u8,
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn mac48(b: &[u8]) -> u64 {
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

impl PacketInfo {
    /// Reads `frame` (a whole Ethernet frame, one 802.1Q tag skipped).
    /// Truncated headers leave the later fields unknown; never panics.
    pub fn parse(frame: &[u8]) -> PacketInfo {
        let mut p = PacketInfo::default();
        if frame.len() < 14 {
            return p;
        }
        p.dst_mac = mac48(&frame[0..6]);
        p.src_mac = mac48(&frame[6..12]);
        let Some(mut et) = be16(frame, 12) else {
            return p;
        };
        let mut l3 = 14;
        if et == 0x8100 {
            let Some(inner) = be16(frame, 16) else {
                return p;
            };
            et = inner;
            l3 = 18;
        }
        match et {
            0x0806 => p.l3 = L3::Arp,
            0x0800 => p.parse_v4(frame, l3),
            0x86dd => p.parse_v6(frame, l3),
            _ => {}
        }
        p
    }

    fn parse_v4(&mut self, f: &[u8], l3: usize) {
        let Some(h) = f.get(l3..l3 + 20) else { return };
        if h[0] >> 4 != 4 {
            return;
        }
        let ihl = usize::from(h[0] & 0x0f) * 4;
        if ihl < 20 {
            return;
        }
        self.l3 = L3::V4;
        self.src4 = u32::from_be_bytes([h[12], h[13], h[14], h[15]]);
        self.dst4 = u32::from_be_bytes([h[16], h[17], h[18], h[19]]);
        self.proto = Some(h[9]);
        let frag = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
        if frag == 0 {
            self.parse_l4(f, l3 + ihl, h[9]);
        }
    }

    fn parse_v6(&mut self, f: &[u8], l3: usize) {
        let Some(h) = f.get(l3..l3 + 40) else { return };
        if h[0] >> 4 != 6 {
            return;
        }
        self.l3 = L3::V6;
        let mut a = [0u8; 16];
        a.copy_from_slice(&h[8..24]);
        self.src6 = u128::from_be_bytes(a);
        a.copy_from_slice(&h[24..40]);
        self.dst6 = u128::from_be_bytes(a);
        let mut next = h[6];
        let mut at = l3 + 40;
        // Hop-by-hop, routing, destination options, fragment: bounded walk.
        for _ in 0..8 {
            match next {
                0 | 43 | 60 => {
                    let (Some(&n), Some(&len)) = (f.get(at), f.get(at + 1)) else {
                        return;
                    };
                    next = n;
                    at += (usize::from(len) + 1) * 8;
                }
                44 => {
                    let (Some(&n), Some(off)) = (f.get(at), be16(f, at + 2)) else {
                        return;
                    };
                    next = n;
                    at += 8;
                    if off & 0xfff8 != 0 {
                        self.proto = Some(next);
                        return;
                    }
                }
                _ => break,
            }
        }
        self.proto = Some(next);
        self.parse_l4(f, at, next);
    }

    fn parse_l4(&mut self, f: &[u8], at: usize, proto: u8) {
        let (Some(sp), Some(dp)) = (be16(f, at), be16(f, at + 2)) else {
            return;
        };
        match proto {
            6 => {
                let Some(&flags) = f.get(at + 13) else { return };
                self.l4 = L4::Tcp;
                self.tcp_flags = flags;
            }
            17 if f.len() >= at + 8 => self.l4 = L4::Udp,
            _ => return,
        }
        self.sport = sp;
        self.dport = dp;
    }
}

#[derive(Clone, Copy, Debug)]
struct Masked<T> {
    value: T,
    mask: T,
}

#[derive(Clone, Debug)]
enum IpCheck {
    V4 {
        src: Option<Masked<u32>>,
        dst: Option<Masked<u32>>,
    },
    V6 {
        src: Option<Masked<u128>>,
        dst: Option<Masked<u128>>,
    },
}

#[derive(Clone, Debug)]
struct Compiled {
    discard: bool,
    /// Never matches (inactive, or an unsupported user-name file).
    dead: bool,
    src_user: u64,
    dst_user: u64,
    src_mac: Option<Masked<u64>>,
    dst_mac: Option<Masked<u64>>,
    ip: IpCheck,
    is_ipv6: bool,
    proto: Option<u8>,
    sports: Option<(u16, u16)>,
    dports: Option<(u16, u16)>,
    any_ports: bool,
    tcp_established: Option<bool>,
}

fn mac_bits(m: &[u8; 6]) -> u64 {
    mac48(m)
}

fn port_range(start: u32, end: u32) -> Option<(u16, u16)> {
    if start == 0 && end == 0 {
        return None;
    }
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    Some((clamp(start), clamp(end)))
}

impl Compiled {
    fn new(r: &AccessRule) -> Compiled {
        let v4 = |ip: std::net::Ipv4Addr, mask: std::net::Ipv4Addr| {
            let (ip, mask) = (u32::from(ip), u32::from(mask));
            (ip != 0 || mask != 0).then_some(Masked {
                value: ip & mask,
                mask,
            })
        };
        let v6 = |ip: std::net::Ipv6Addr, mask: std::net::Ipv6Addr| {
            let (ip, mask) = (u128::from(ip), u128::from(mask));
            (ip != 0 || mask != 0).then_some(Masked {
                value: ip & mask,
                mask,
            })
        };
        let mac = |check: bool, m: &[u8; 6], mask: &[u8; 6]| {
            check.then(|| {
                let mask = mac_bits(mask);
                Masked {
                    value: mac_bits(m) & mask,
                    mask,
                }
            })
        };
        let ip = if r.is_ipv6 {
            IpCheck::V6 {
                src: v6(r.src_ip6, r.src_mask6),
                dst: v6(r.dst_ip6, r.dst_mask6),
            }
        } else {
            IpCheck::V4 {
                src: v4(r.src_ip, r.src_mask),
                dst: v4(r.dst_ip, r.dst_mask),
            }
        };
        let sports = port_range(r.src_port_start, r.src_port_end);
        let dports = port_range(r.dst_port_start, r.dst_port_end);
        Compiled {
            discard: r.discard,
            dead: !r.active
                || is_file_user_name(&r.src_username)
                || is_file_user_name(&r.dst_username),
            src_user: name_hash(&r.src_username),
            dst_user: name_hash(&r.dst_username),
            src_mac: mac(r.check_src_mac, &r.src_mac, &r.src_mac_mask),
            dst_mac: mac(r.check_dst_mac, &r.dst_mac, &r.dst_mac_mask),
            ip,
            is_ipv6: r.is_ipv6,
            // A protocol above 255 can never equal a packet's.
            proto: match r.protocol {
                0 => None,
                p => Some(u8::try_from(p).unwrap_or(0)),
            },
            any_ports: sports.is_some() || dports.is_some(),
            sports,
            dports,
            tcp_established: r.check_tcp_state.then_some(r.established),
        }
    }

    /// `IsPacketMaskedByAccessList` (ARP option off).
    #[inline]
    fn matches(&self, src: &AccessIdentity, dst: Option<&AccessIdentity>, p: &PacketInfo) -> bool {
        if self.dead {
            return false;
        }
        if let Some(m) = self.src_mac {
            if p.src_mac & m.mask != m.value {
                return false;
            }
        }
        if let Some(m) = self.dst_mac {
            if p.dst_mac & m.mask != m.value {
                return false;
            }
        }
        if self.src_user != 0 && self.src_user != src.user && self.src_user != src.group {
            return false;
        }
        if self.dst_user != 0 {
            let (u, g) = dst.map_or((0, 0), |d| (d.user, d.group));
            if self.dst_user != u && self.dst_user != g {
                return false;
            }
        }
        match &self.ip {
            IpCheck::V4 { src, dst } => {
                if src.is_some() || dst.is_some() {
                    if p.l3 != L3::V4 {
                        return false;
                    }
                    if src.is_some_and(|m| p.src4 & m.mask != m.value)
                        || dst.is_some_and(|m| p.dst4 & m.mask != m.value)
                    {
                        return false;
                    }
                }
            }
            IpCheck::V6 { src, dst } => {
                if src.is_some() || dst.is_some() {
                    if p.l3 != L3::V6 {
                        return false;
                    }
                    if src.is_some_and(|m| p.src6 & m.mask != m.value)
                        || dst.is_some_and(|m| p.dst6 & m.mask != m.value)
                    {
                        return false;
                    }
                }
            }
        }
        if p.l3 == L3::Arp {
            return false;
        }
        let family = if self.is_ipv6 { L3::V6 } else { L3::V4 };
        if let Some(proto) = self.proto {
            if p.l3 != family || p.proto != Some(proto) {
                return false;
            }
        }
        if self.any_ports {
            if p.l3 != family || p.l4 == L4::Other {
                return false;
            }
            if self.sports.is_some_and(|(a, b)| p.sport < a || p.sport > b)
                || self.dports.is_some_and(|(a, b)| p.dport < a || p.dport > b)
            {
                return false;
            }
        }
        if let Some(want_est) = self.tcp_established {
            if p.l3 != family || p.l4 != L4::Tcp {
                return false;
            }
            let est = !(p.tcp_flags & TCP_SYN != 0 && p.tcp_flags & TCP_ACK == 0);
            if est != want_est {
                return false;
            }
        }
        true
    }
}

/// A hub's access list, compiled. Build it from the list in SoftEther
/// order ([`rustether_proto::softether::access::sorted_list`]).
#[derive(Clone, Debug, Default)]
pub struct AccessList {
    rules: Vec<Compiled>,
    /// Index of the first entry with a destination user name.
    first_dest: usize,
}

impl AccessList {
    /// Compiles `rules`, which must already be in evaluation order.
    pub fn compile(rules: &[AccessRule]) -> AccessList {
        let rules: Vec<Compiled> = rules.iter().map(Compiled::new).collect();
        let first_dest = rules
            .iter()
            .position(|r| r.dst_user != 0)
            .unwrap_or(rules.len());
        AccessList { rules, first_dest }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True without entries (the switch then skips the filter).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `ApplyAccessListToStoredPacket`: `Some(true)` pass, `Some(false)`
    /// discard, decided by an entry before the first one with a
    /// destination user name; `None` when undecided (then
    /// [`AccessList::forward`] decides per destination, if
    /// [`AccessList::has_forward_rules`]; else the frame passes).
    pub fn ingress(&self, src: &AccessIdentity, p: &PacketInfo) -> Option<bool> {
        self.rules[..self.first_dest]
            .iter()
            .find(|r| r.matches(src, None, p))
            .map(|r| !r.discard)
    }

    /// True if some entry names a destination user, so undecided frames
    /// need [`AccessList::forward`].
    pub fn has_forward_rules(&self) -> bool {
        self.first_dest < self.rules.len()
    }

    /// `ApplyAccessListToForwardPacket` for one destination: whether the
    /// frame may go from `src` to `dst` (true when no entry matches).
    pub fn forward(&self, src: &AccessIdentity, dst: &AccessIdentity, p: &PacketInfo) -> bool {
        self.rules[self.first_dest..]
            .iter()
            .find(|r| r.matches(src, Some(dst), p))
            .map_or(true, |r| !r.discard)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ipv4_frame(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
        let mut ip = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&dst);
        f.extend_from_slice(&ip);
        f.extend_from_slice(l4);
        f
    }

    fn tcp(sport: u16, dport: u16, flags: u8) -> Vec<u8> {
        let mut t = vec![0u8; 20];
        t[0..2].copy_from_slice(&sport.to_be_bytes());
        t[2..4].copy_from_slice(&dport.to_be_bytes());
        t[13] = flags;
        t
    }

    fn rule(discard: bool) -> AccessRule {
        AccessRule {
            active: true,
            discard,
            ..Default::default()
        }
    }

    const ANON: AccessIdentity = AccessIdentity { user: 0, group: 0 };

    #[test]
    fn first_match_decides_and_no_match_passes() {
        let icmp = PacketInfo::parse(&ipv4_frame([10, 0, 0, 1], [10, 0, 0, 2], 1, &[8, 0, 0, 0]));
        let mut drop_icmp = rule(true);
        drop_icmp.protocol = 1;
        drop_icmp.dst_ip = Ipv4Addr::new(10, 0, 0, 2);
        drop_icmp.dst_mask = Ipv4Addr::BROADCAST;
        let l = AccessList::compile(&[drop_icmp.clone()]);
        assert_eq!(l.ingress(&ANON, &icmp), Some(false));
        let other = PacketInfo::parse(&ipv4_frame([10, 0, 0, 1], [10, 0, 0, 3], 1, &[8, 0, 0, 0]));
        assert_eq!(l.ingress(&ANON, &other), None);
        // A pass entry earlier in the list wins.
        let l = AccessList::compile(&[rule(false), drop_icmp]);
        assert_eq!(l.ingress(&ANON, &icmp), Some(true));
    }

    #[test]
    fn ports_and_tcp_state() {
        let syn = PacketInfo::parse(&ipv4_frame([1, 1, 1, 1], [2, 2, 2, 2], 6, &tcp(4000, 80, 0x02)));
        let ack = PacketInfo::parse(&ipv4_frame([1, 1, 1, 1], [2, 2, 2, 2], 6, &tcp(4000, 80, 0x10)));
        let mut r = rule(true);
        r.protocol = 6;
        r.dst_port_start = 80;
        r.dst_port_end = 80;
        r.check_tcp_state = true;
        r.established = false;
        let l = AccessList::compile(&[r.clone()]);
        assert_eq!(l.ingress(&ANON, &syn), Some(false));
        assert_eq!(l.ingress(&ANON, &ack), None);
        r.dst_port_start = 81;
        r.dst_port_end = 90;
        assert_eq!(AccessList::compile(&[r]).ingress(&ANON, &syn), None);
    }

    #[test]
    fn arp_never_matches_and_v4_rule_without_ip_matches_v6() {
        let mut arp = vec![0xff; 6];
        arp.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x06]);
        arp.extend_from_slice(&[0; 28]);
        let l = AccessList::compile(&[rule(true)]);
        assert_eq!(l.ingress(&ANON, &PacketInfo::parse(&arp)), None);
        let mut v6 = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd, 0x60];
        v6.extend_from_slice(&[0; 39]);
        assert_eq!(l.ingress(&ANON, &PacketInfo::parse(&v6)), Some(false));
    }

    #[test]
    fn user_names_and_destination_entries() {
        let f = PacketInfo::parse(&ipv4_frame([1, 1, 1, 1], [2, 2, 2, 2], 17, &[0; 8]));
        let alice = AccessIdentity::new("Alice", "staff");
        let bob = AccessIdentity::new("bob", "");
        let mut by_group = rule(true);
        by_group.src_username = "STAFF".into();
        let l = AccessList::compile(&[by_group]);
        assert_eq!(l.ingress(&alice, &f), Some(false));
        assert_eq!(l.ingress(&bob, &f), None);
        let mut to_bob = rule(true);
        to_bob.dst_username = "dom\\bob".into();
        let l = AccessList::compile(&[to_bob]);
        assert_eq!(l.ingress(&alice, &f), None);
        assert!(l.has_forward_rules());
        assert!(!l.forward(&alice, &bob, &f));
        assert!(l.forward(&bob, &alice, &f));
        let mut file = rule(true);
        file.src_username = "include:/etc/x".into();
        assert_eq!(AccessList::compile(&[file]).ingress(&alice, &f), None);
    }

    #[test]
    fn truncated_frames_do_not_panic() {
        let full = ipv4_frame([1, 1, 1, 1], [2, 2, 2, 2], 6, &tcp(1, 2, 2));
        for n in 0..full.len() {
            let _ = PacketInfo::parse(&full[..n]);
        }
    }
}
