//! A virtual hub's access list entry (SoftEther's `ACCESS`, src/Cedar/Hub.h):
//! one data type for the configuration file (`VirtualHUB/<hub>/AccessList`,
//! docs/config-format.md §7.7), the admin RPC (`AddAccess`, `EnumAccess`,
//! `SetAccessList`, docs/admin-rpc.md) and the hub's packet filter
//! (`rustether_hub::access`), with SoftEther's normalisation
//! (`AddAccessListEx`) and ordering (`CmpAccessList`, src/Cedar/Hub.c).

use std::cmp::Ordering;
use std::net::{Ipv4Addr, Ipv6Addr};

/// `MAX_ACCESSLISTS` (src/Cedar/Cedar.h): most entries per hub; an `Id` at
/// or above it in `DeleteAccess` is a `UniqueId` instead.
pub const MAX_ACCESSLISTS: u32 = 4096 * 8;
/// `MAX_ACCESSLIST_NOTE_LEN` (src/Cedar/Cedar.h), in characters.
pub const MAX_NOTE_LEN: usize = 255;
/// `MAX_REDIRECT_URL_LEN` (src/Cedar/Cedar.h), in bytes.
pub const MAX_REDIRECT_URL_LEN: usize = 255;
/// `HUB_ACCESSLIST_DELAY_MAX` in ms (src/Cedar/Cedar.h).
pub const DELAY_MAX: u32 = 10_000;
/// `HUB_ACCESSLIST_JITTER_MAX` in % (src/Cedar/Cedar.h).
pub const JITTER_MAX: u32 = 100;
/// `HUB_ACCESSLIST_LOSS_MAX` in % (src/Cedar/Cedar.h).
pub const LOSS_MAX: u32 = 100;
/// `ACCESS_LIST_INCLUDED_PREFIX` (src/Cedar/Hub.h): a user name that names
/// a file of user names.
pub const INCLUDE_PREFIX: &str = "include:";
/// `ACCESS_LIST_EXCLUDED_PREFIX` (src/Cedar/Hub.h).
pub const EXCLUDE_PREFIX: &str = "exclude:";

/// One access list entry (`ACCESS`). IPv4 addresses and masks are plain
/// [`Ipv4Addr`] (0.0.0.0 with mask 0.0.0.0 = any); the IPv6 fields are used
/// only when `is_ipv6`. Ports are inclusive ranges, 0/0 = any. MACs are
/// compared under their masks when `check_src_mac`/`check_dst_mac`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessRule {
    /// `Id`: 1-based position after sorting (reassigned on every add).
    pub id: u32,
    /// `Note` (≤ [`MAX_NOTE_LEN`] characters).
    pub note: String,
    /// `Active`: an inactive entry never matches.
    pub active: bool,
    /// `Priority`: smaller is evaluated first.
    pub priority: u32,
    /// `Discard`: drop (true) or pass (false) a matching frame.
    pub discard: bool,
    /// `IsIPv6`: the IP criteria are IPv6 (and only IPv6 frames match them).
    pub is_ipv6: bool,
    /// `SrcIpAddress` / `SrcSubnetMask`.
    pub src_ip: Ipv4Addr,
    /// `SrcSubnetMask`.
    pub src_mask: Ipv4Addr,
    /// `DestIpAddress`.
    pub dst_ip: Ipv4Addr,
    /// `DestSubnetMask`.
    pub dst_mask: Ipv4Addr,
    /// `SrcIpAddress6`.
    pub src_ip6: Ipv6Addr,
    /// `SrcSubnetMask6`.
    pub src_mask6: Ipv6Addr,
    /// `DestIpAddress6`.
    pub dst_ip6: Ipv6Addr,
    /// `DestSubnetMask6`.
    pub dst_mask6: Ipv6Addr,
    /// `Protocol`: IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6), 0 = any.
    pub protocol: u32,
    /// `SrcPortStart`.
    pub src_port_start: u32,
    /// `SrcPortEnd`.
    pub src_port_end: u32,
    /// `DestPortStart`.
    pub dst_port_start: u32,
    /// `DestPortEnd`.
    pub dst_port_end: u32,
    /// `SrcUsername`: user or group name of the sending session, "" = any.
    pub src_username: String,
    /// `DestUsername`: user or group name of the receiving session.
    pub dst_username: String,
    /// `CheckSrcMac`.
    pub check_src_mac: bool,
    /// `SrcMacAddress`.
    pub src_mac: [u8; 6],
    /// `SrcMacMask`.
    pub src_mac_mask: [u8; 6],
    /// `CheckDstMac`.
    pub check_dst_mac: bool,
    /// `DstMacAddress`.
    pub dst_mac: [u8; 6],
    /// `DstMacMask`.
    pub dst_mac_mask: [u8; 6],
    /// `CheckTcpState`: only TCP segments match, by `established`.
    pub check_tcp_state: bool,
    /// `Established`: match established segments (anything but a bare
    /// SYN) rather than connection openings.
    pub established: bool,
    /// `Delay` in ms (not supported by this server, see [`AccessRule::unsupported`]).
    pub delay: u32,
    /// `Jitter` in % (not supported).
    pub jitter: u32,
    /// `Loss` in % (not supported).
    pub loss: u32,
    /// `RedirectUrl` (not supported).
    pub redirect_url: String,
    /// `UniqueId` (RPC only: a stable handle for `DeleteAccess`).
    pub unique_id: u32,
}

impl Default for AccessRule {
    /// All zero, as SoftEther's `Zero(&a, sizeof(ACCESS))`.
    fn default() -> AccessRule {
        let (v4, v6) = (Ipv4Addr::UNSPECIFIED, Ipv6Addr::UNSPECIFIED);
        AccessRule {
            id: 0,
            note: String::new(),
            active: false,
            priority: 0,
            discard: false,
            is_ipv6: false,
            src_ip: v4,
            src_mask: v4,
            dst_ip: v4,
            dst_mask: v4,
            src_ip6: v6,
            src_mask6: v6,
            dst_ip6: v6,
            dst_mask6: v6,
            protocol: 0,
            src_port_start: 0,
            src_port_end: 0,
            dst_port_start: 0,
            dst_port_end: 0,
            src_username: String::new(),
            dst_username: String::new(),
            check_src_mac: false,
            src_mac: [0; 6],
            src_mac_mask: [0; 6],
            check_dst_mac: false,
            dst_mac: [0; 6],
            dst_mac_mask: [0; 6],
            check_tcp_state: false,
            established: false,
            delay: 0,
            jitter: 0,
            loss: 0,
            redirect_url: String::new(),
            unique_id: 0,
        }
    }
}

impl AccessRule {
    /// SoftEther's corrections on adding (`AddAccessListEx`): a port range
    /// whose start is set ends at least at its start; delay, jitter and loss
    /// are clamped to their maxima. User names are kept as given (the
    /// matcher strips NT domains).
    pub fn normalize(&mut self) {
        if self.src_port_start != 0 {
            self.src_port_end = self.src_port_end.max(self.src_port_start);
        }
        if self.dst_port_start != 0 {
            self.dst_port_end = self.dst_port_end.max(self.dst_port_start);
        }
        self.delay = self.delay.min(DELAY_MAX);
        self.jitter = self.jitter.min(JITTER_MAX);
        self.loss = self.loss.min(LOSS_MAX);
    }

    /// The settings of this entry that this server does not apply
    /// (docs/administration.md "Access lists"): delay, jitter and loss
    /// emulation, HTTP redirection, and `include:`/`exclude:` user-name
    /// files. Empty when every setting is enforced.
    pub fn unsupported(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.delay != 0 || self.jitter != 0 || self.loss != 0 {
            v.push("delay/jitter/loss");
        }
        if !self.redirect_url.is_empty() {
            v.push("RedirectUrl");
        }
        for n in [&self.src_username, &self.dst_username] {
            if is_file_user_name(n) {
                v.push("include:/exclude: user names");
                break;
            }
        }
        v
    }

    /// A handle for `DeleteAccess` that stays the same while the entry is
    /// unchanged (SoftEther hashes the entry's address, `HashPtrToUINT`):
    /// a hash of the entry without `id`/`unique_id`, at least
    /// [`MAX_ACCESSLISTS`] so that it is never taken for an `Id`.
    pub fn stable_unique_id(&self) -> u32 {
        use std::hash::{Hash, Hasher};
        let mut a = self.clone();
        (a.id, a.unique_id) = (0, 0);
        // SipHash with fixed keys: the same value in every process.
        #[allow(deprecated)]
        let mut h = std::hash::SipHasher::new();
        a.hash(&mut h);
        let v = (h.finish() >> 32) as u32;
        MAX_ACCESSLISTS + v % (u32::MAX - MAX_ACCESSLISTS)
    }

    /// SoftEther's list order (`CmpAccessList`): priority ascending, then
    /// pass before discard; the remaining tie-break (a byte compare of the
    /// rest of the structure) is replaced by insertion order (the sort is
    /// stable).
    pub fn order(a: &AccessRule, b: &AccessRule) -> Ordering {
        a.priority.cmp(&b.priority).then(a.discard.cmp(&b.discard))
    }
}

/// True for `include:FILE` / `exclude:FILE` user names (case-insensitive,
/// `StartWith`).
pub fn is_file_user_name(name: &str) -> bool {
    let lower = name.get(..8).map(str::to_ascii_lowercase);
    matches!(
        lower.as_deref(),
        Some(INCLUDE_PREFIX) | Some(EXCLUDE_PREFIX)
    )
}

/// SoftEther's list after `rules` were added one by one with
/// `AddAccessList`: normalised, stably sorted by [`AccessRule::order`],
/// `Id`s reassigned 1..=n.
pub fn sorted_list(mut rules: Vec<AccessRule>) -> Vec<AccessRule> {
    for r in &mut rules {
        r.normalize();
    }
    rules.sort_by(AccessRule::order);
    for (i, r) in rules.iter_mut().enumerate() {
        r.id = i as u32 + 1;
    }
    rules
}

/// `MacToStr`: `00-11-22-33-44-55` (as the configuration file stores MACs).
pub fn mac_to_string(m: &[u8; 6]) -> String {
    format!(
        "{:02X}-{:02X}-{:02X}-{:02X}-{:02X}-{:02X}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// `StrToMac`: six hex octets separated by `-` or `:` (or 12 hex digits);
/// `None` otherwise.
pub fn mac_from_string(s: &str) -> Option<[u8; 6]> {
    let hex: String = s
        .trim()
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect();
    if hex.len() != 12 || !hex.is_ascii() {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, o) in m.iter_mut().enumerate() {
        *o = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(m)
}

/// `MAX_HUB_ACS` (src/Cedar/Cedar.h): most source IP access control
/// entries per hub; `AddAc` ignores the rest.
pub const MAX_HUB_ACS: usize = 4096;

/// One entry of a hub's source IP access control list (SoftEther's `AC`,
/// src/Cedar/Hub.h; vpncmd `AcAdd`, `AcAdd6`), checked against a client's
/// address at login (`IsIpDeniedByAcList`, src/Cedar/Hub.c).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcEntry {
    /// `Id`: 1-based position after sorting.
    pub id: u32,
    /// `Deny`: refuse (true) or allow a matching address.
    pub deny: bool,
    /// `Priority`: smaller is checked first.
    pub priority: u32,
    /// `IpAddress`.
    pub ip: std::net::IpAddr,
    /// `Masked`: compare under `mask` rather than for equality.
    pub masked: bool,
    /// `SubnetMask` (used when `masked`).
    pub mask: std::net::IpAddr,
}

impl AcEntry {
    /// `IsIpMaskedByAc`: whether `ip` falls under this entry (an IPv4
    /// address never matches an IPv6 entry and vice versa).
    pub fn matches(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = ip.to_canonical();
        match (ip, self.ip.to_canonical(), self.mask.to_canonical()) {
            (V4(a), V4(n), m) => {
                let m = match (self.masked, m) {
                    (false, _) => u32::MAX,
                    (true, V4(m)) => u32::from(m),
                    (true, V6(_)) => 0,
                };
                u32::from(a) & m == u32::from(n) & m
            }
            (V6(a), V6(n), m) => {
                let m = match (self.masked, m) {
                    (false, _) => u128::MAX,
                    (true, V6(m)) => u128::from(m),
                    (true, V4(_)) => 0,
                };
                u128::from(a) & m == u128::from(n) & m
            }
            _ => false,
        }
    }
}

/// SoftEther's AC list after `AddAc` of each entry: at most
/// [`MAX_HUB_ACS`], sorted by priority then allow before deny (`CmpAc`;
/// ties keep their order), `Id`s 1..=n (`NormalizeAcList`).
pub fn sorted_ac_list(mut list: Vec<AcEntry>) -> Vec<AcEntry> {
    list.truncate(MAX_HUB_ACS);
    list.sort_by(|a, b| a.priority.cmp(&b.priority).then(a.deny.cmp(&b.deny)));
    for (i, e) in list.iter_mut().enumerate() {
        e.id = i as u32 + 1;
    }
    list
}

/// `IsIpDeniedByAcList`: the first entry (in list order) that matches
/// `ip` decides; no match allows.
pub fn ac_denies(list: &[AcEntry], ip: std::net::IpAddr) -> bool {
    list.iter().find(|e| e.matches(ip)).is_some_and(|e| e.deny)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ac_list_first_match_decides() {
        let e = |prio, deny, ip: &str, mask: Option<&str>| AcEntry {
            id: 0,
            deny,
            priority: prio,
            ip: ip.parse().unwrap(),
            masked: mask.is_some(),
            mask: mask.unwrap_or("0.0.0.0").parse().unwrap(),
        };
        let l = sorted_ac_list(vec![
            e(20, true, "10.0.0.0", Some("255.0.0.0")),
            e(10, false, "10.1.2.3", None),
            e(30, true, "fd00::", Some("ffff::")),
        ]);
        assert_eq!((l[0].id, l[0].priority), (1, 10));
        assert!(!ac_denies(&l, "10.1.2.3".parse().unwrap()));
        assert!(ac_denies(&l, "10.9.9.9".parse().unwrap()));
        assert!(ac_denies(&l, "::ffff:10.9.9.9".parse().unwrap()));
        assert!(!ac_denies(&l, "192.168.0.1".parse().unwrap()));
        assert!(ac_denies(&l, "fd00::5".parse().unwrap()));
        assert!(!ac_denies(&l, "fe80::5".parse().unwrap()));
    }

    #[test]
    fn sorted_by_priority_then_pass_first_with_ids_reassigned() {
        let r = |p, d, n: &str| AccessRule {
            priority: p,
            discard: d,
            note: n.into(),
            ..Default::default()
        };
        let l = sorted_list(vec![r(5, false, "a"), r(1, true, "b"), r(1, false, "c")]);
        let notes: Vec<_> = l.iter().map(|r| (r.id, r.note.as_str())).collect();
        assert_eq!(notes, [(1, "c"), (2, "b"), (3, "a")]);
    }

    #[test]
    fn normalise_ports_and_clamp_emulation() {
        let mut r = AccessRule {
            dst_port_start: 80,
            dst_port_end: 10,
            delay: 99_999,
            loss: 500,
            ..Default::default()
        };
        r.normalize();
        assert_eq!((r.dst_port_end, r.delay, r.loss), (80, DELAY_MAX, LOSS_MAX));
        assert_eq!(r.unsupported(), ["delay/jitter/loss"]);
    }

    #[test]
    fn macs_round_trip_and_bad_ones_fail() {
        let m = [0, 0x11, 0xaa, 3, 4, 0xff];
        assert_eq!(mac_from_string(&mac_to_string(&m)), Some(m));
        assert_eq!(mac_from_string("00:11:AA:03:04:FF"), Some(m));
        assert_eq!(mac_from_string("00-11"), None);
        assert_eq!(mac_from_string("zz-11-aa-03-04-ff"), None);
        assert!(is_file_user_name("Include:/x"));
        assert!(!is_file_user_name("alice"));
    }
}
