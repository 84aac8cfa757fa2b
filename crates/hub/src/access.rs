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

// Class bits of a frame, in the top 16 bits of key word 0.
const C_V4: u64 = 1;
const C_V6: u64 = 2;
const C_ARP: u64 = 4;
const C_TCP: u64 = 8;
const C_EST: u64 = 16;
const C_PROTO: u64 = 32;

impl PacketInfo {
    /// The frame as three words the entries compare under masks: source
    /// MAC and class bits; destination MAC and protocol; IPv4 source and
    /// destination.
    #[inline]
    fn key(&self) -> [u64; 3] {
        let mut class = match self.l3 {
            L3::V4 => C_V4,
            L3::V6 => C_V6,
            L3::Arp => C_ARP,
            L3::Other => 0,
        };
        if self.l4 == L4::Tcp {
            class |= C_TCP;
            if !(self.tcp_flags & TCP_SYN != 0 && self.tcp_flags & TCP_ACK == 0) {
                class |= C_EST;
            }
        }
        let proto = match self.proto {
            Some(p) => {
                class |= C_PROTO;
                u64::from(p)
            }
            None => 0,
        };
        [
            self.src_mac | class << 48,
            self.dst_mac | proto << 48,
            u64::from(self.src4) << 32 | u64::from(self.dst4),
        ]
    }
}

/// The IPv6 address criteria of an entry (masked compares).
#[derive(Clone, Debug)]
struct V6Check {
    src_mask: u128,
    src: u128,
    dst_mask: u128,
    dst: u128,
}

/// One entry, compiled: the criteria that are masked compares of the
/// frame's key words (MACs, class, protocol, IPv4 addresses) and, checked
/// only when those match, the rest (ports, user names, IPv6 addresses).
#[derive(Clone, Debug)]
struct Compiled {
    mask: [u64; 3],
    value: [u64; 3],
    discard: bool,
    /// Port ranges are set: the frame must be TCP or UDP of the entry's
    /// family, its ports within the ranges (`None` = any).
    ports: bool,
    sports: Option<(u16, u16)>,
    dports: Option<(u16, u16)>,
    src_user: u64,
    dst_user: u64,
    v6: Option<Box<V6Check>>,
}

fn port_range(start: u32, end: u32) -> Option<(u16, u16)> {
    if start == 0 && end == 0 {
        return None;
    }
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    Some((clamp(start), clamp(end)))
}

impl Compiled {
    /// `None` for an entry that can never match (inactive, a user-name
    /// file, a protocol above 255).
    fn new(r: &AccessRule) -> Option<Compiled> {
        if !r.active
            || is_file_user_name(&r.src_username)
            || is_file_user_name(&r.dst_username)
            || r.protocol > 255
        {
            return None;
        }
        let family = if r.is_ipv6 { C_V6 } else { C_V4 };
        let mut need: u64 = 0;
        let mut class_mask: u64 = C_ARP; // ARP never matches
        let mut mask = [0u64; 3];
        let mut value = [0u64; 3];
        if r.check_src_mac {
            let m = mac48(&r.src_mac_mask);
            mask[0] |= m;
            value[0] |= mac48(&r.src_mac) & m;
        }
        if r.check_dst_mac {
            let m = mac48(&r.dst_mac_mask);
            mask[1] |= m;
            value[1] |= mac48(&r.dst_mac) & m;
        }
        let mut v6 = None;
        if r.is_ipv6 {
            let (sm, s) = (u128::from(r.src_mask6), u128::from(r.src_ip6));
            let (dm, d) = (u128::from(r.dst_mask6), u128::from(r.dst_ip6));
            let src_set = s != 0 || sm != 0;
            let dst_set = d != 0 || dm != 0;
            if src_set || dst_set {
                need |= C_V6;
                v6 = Some(Box::new(V6Check {
                    src_mask: if src_set { sm } else { 0 },
                    src: if src_set { s & sm } else { 0 },
                    dst_mask: if dst_set { dm } else { 0 },
                    dst: if dst_set { d & dm } else { 0 },
                }));
            }
        } else {
            let (sm, s) = (u32::from(r.src_mask), u32::from(r.src_ip));
            let (dm, d) = (u32::from(r.dst_mask), u32::from(r.dst_ip));
            if s != 0 || sm != 0 {
                need |= C_V4;
                mask[2] |= u64::from(sm) << 32;
                value[2] |= u64::from(s & sm) << 32;
            }
            if d != 0 || dm != 0 {
                need |= C_V4;
                mask[2] |= u64::from(dm);
                value[2] |= u64::from(d & dm);
            }
        }
        if r.protocol != 0 {
            need |= family | C_PROTO;
            mask[1] |= 0xff << 48;
            value[1] |= u64::from(r.protocol) << 48;
        }
        let sports = port_range(r.src_port_start, r.src_port_end);
        let dports = port_range(r.dst_port_start, r.dst_port_end);
        let ports = sports.is_some() || dports.is_some();
        if ports {
            need |= family;
        }
        if r.check_tcp_state {
            need |= family | C_TCP;
            class_mask |= C_EST;
            if r.established {
                need |= C_EST;
            }
        }
        class_mask |= need;
        mask[0] |= class_mask << 48;
        value[0] |= need << 48;
        Some(Compiled {
            mask,
            value,
            discard: r.discard,
            ports,
            sports,
            dports,
            src_user: name_hash(&r.src_username),
            dst_user: name_hash(&r.dst_username),
            v6,
        })
    }

    /// The masked-compare part as one hot array row: mask and value of
    /// each key word, interleaved.
    fn hot(&self) -> [u64; 6] {
        [
            self.mask[0],
            self.value[0],
            self.mask[1],
            self.value[1],
            self.mask[2],
            self.value[2],
        ]
    }

    fn rest_matches(
        &self,
        src: &AccessIdentity,
        dst: Option<&AccessIdentity>,
        p: &PacketInfo,
    ) -> bool {
        if self.src_user != 0 && self.src_user != src.user && self.src_user != src.group {
            return false;
        }
        if self.dst_user != 0 {
            let (u, g) = dst.map_or((0, 0), |d| (d.user, d.group));
            if self.dst_user != u && self.dst_user != g {
                return false;
            }
        }
        if let Some(c) = &self.v6 {
            if p.src6 & c.src_mask != c.src || p.dst6 & c.dst_mask != c.dst {
                return false;
            }
        }
        if self.ports {
            if p.l4 == L4::Other {
                return false;
            }
            if self.sports.is_some_and(|(a, b)| p.sport < a || p.sport > b)
                || self.dports.is_some_and(|(a, b)| p.dport < a || p.dport > b)
            {
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
    /// The entries that can match, in list order.
    rules: Vec<Compiled>,
    /// `rules[i].hot()`, contiguous: the per-frame scan reads only this
    /// until a row matches.
    hot: Vec<[u64; 6]>,
    /// Index in `rules` where the scan on entry stops: the first entry
    /// of the list (active or not) with a destination user name.
    first_dest: usize,
}

impl AccessList {
    /// Compiles `rules`, which must already be in evaluation order.
    pub fn compile(rules: &[AccessRule]) -> AccessList {
        let boundary = rules
            .iter()
            .position(|r| name_hash(&r.dst_username) != 0 || is_file_user_name(&r.dst_username))
            .unwrap_or(rules.len());
        let first_dest = rules[..boundary].iter().filter_map(Compiled::new).count();
        let rules: Vec<Compiled> = rules.iter().filter_map(Compiled::new).collect();
        let hot = rules.iter().map(Compiled::hot).collect();
        AccessList {
            rules,
            hot,
            first_dest,
        }
    }

    /// `IsPacketMaskedByAccessList` over `rules[range]` (ARP option off):
    /// the first matching entry. The scan reads the contiguous hot rows
    /// (three masked compares each, no branch but the loop's); only rows
    /// whose masked compare matches get the remaining checks.
    #[inline]
    fn first_match(
        &self,
        range: std::ops::Range<usize>,
        p: &PacketInfo,
        src: &AccessIdentity,
        dst: Option<&AccessIdentity>,
    ) -> Option<&Compiled> {
        let key = p.key();
        let base = range.start;
        for (i, h) in self.hot[range].iter().enumerate() {
            let d = ((key[0] & h[0]) ^ h[1]) | ((key[1] & h[2]) ^ h[3]) | ((key[2] & h[4]) ^ h[5]);
            if d == 0 {
                let r = &self.rules[base + i];
                if r.rest_matches(src, dst, p) {
                    return Some(r);
                }
            }
        }
        None
    }

    /// Number of entries that can match (active ones).
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True without entries that can match (the switch then skips the
    /// filter).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// `ApplyAccessListToStoredPacket`: `Some(true)` pass, `Some(false)`
    /// discard, decided by an entry before the first one with a
    /// destination user name; `None` when undecided (then
    /// [`AccessList::forward`] decides per destination, if
    /// [`AccessList::has_forward_rules`]; else the frame passes).
    pub fn ingress(&self, src: &AccessIdentity, p: &PacketInfo) -> Option<bool> {
        self.first_match(0..self.first_dest, p, src, None)
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
        self.first_match(self.first_dest..self.rules.len(), p, src, Some(dst))
            .is_none_or(|r| !r.discard)
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
        let syn = PacketInfo::parse(&ipv4_frame(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            6,
            &tcp(4000, 80, 0x02),
        ));
        let ack = PacketInfo::parse(&ipv4_frame(
            [1, 1, 1, 1],
            [2, 2, 2, 2],
            6,
            &tcp(4000, 80, 0x10),
        ));
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
