//! A hub's access list in the configuration file
//! (`VirtualHUB/<hub>/AccessList/<Id>`, docs/config-format.md §7.7;
//! `SiWriteHubAccessCfg`, `SiLoadHubAccessCfg` in src/Cedar/Server.c).
//!
//! Read as leniently as SoftEther: missing or mistyped items read as 0 /
//! empty, an address that does not parse reads as 0.0.0.0 / `::`, a MAC
//! that does not parse switches its check off. At most
//! [`MAX_ACCESSLISTS`] entries are kept (SoftEther's `AddAccessListEx`
//! ignores the rest); strings are cut to SoftEther's buffer sizes.

use std::net::{Ipv4Addr, Ipv6Addr};

use rustether_proto::softether::access::{
    mac_from_string, mac_to_string, sorted_ac_list, sorted_list, AcEntry, AccessRule, DELAY_MAX,
    JITTER_MAX, LOSS_MAX, MAX_ACCESSLISTS, MAX_HUB_ACS, MAX_NOTE_LEN, MAX_REDIRECT_URL_LEN,
};

use crate::cfg::Folder;

fn cut(s: &str, chars: usize) -> String {
    s.chars().take(chars).collect()
}

/// Reads one entry folder (`SiLoadHubAccessCfg`).
fn read_entry(f: &Folder) -> AccessRule {
    let uint = |k: &str| f.get_uint(k).unwrap_or(0);
    let flag = |k: &str| f.get_bool(k).unwrap_or(false);
    let text = |k: &str| f.get_str(k).unwrap_or("");
    let v4 = |k: &str| text(k).trim().parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
    let v6 = |k: &str| text(k).trim().parse().unwrap_or(Ipv6Addr::UNSPECIFIED);
    let mut a = AccessRule {
        note: cut(text("Note"), MAX_NOTE_LEN),
        active: flag("Active"),
        priority: uint("Priority"),
        discard: flag("Discard"),
        is_ipv6: flag("IsIPv6"),
        protocol: uint("Protocol"),
        src_port_start: uint("SrcPortStart"),
        src_port_end: uint("SrcPortEnd"),
        dst_port_start: uint("DestPortStart"),
        dst_port_end: uint("DestPortEnd"),
        src_username: cut(text("SrcUsername"), 255),
        dst_username: cut(text("DestUsername"), 255),
        check_src_mac: flag("CheckSrcMac"),
        check_dst_mac: flag("CheckDstMac"),
        check_tcp_state: flag("CheckTcpState"),
        established: flag("Established"),
        delay: uint("Delay").min(DELAY_MAX),
        jitter: uint("Jitter").min(JITTER_MAX),
        loss: uint("Loss").min(LOSS_MAX),
        redirect_url: cut(text("RedirectUrl"), MAX_REDIRECT_URL_LEN),
        ..AccessRule::default()
    };
    if a.is_ipv6 {
        a.src_ip6 = v6("SrcIpAddress6");
        a.src_mask6 = v6("SrcSubnetMask6");
        a.dst_ip6 = v6("DestIpAddress6");
        a.dst_mask6 = v6("DestSubnetMask6");
    } else {
        a.src_ip = v4("SrcIpAddress");
        a.src_mask = v4("SrcSubnetMask");
        a.dst_ip = v4("DestIpAddress");
        a.dst_mask = v4("DestSubnetMask");
    }
    // A `byte` item of 6 bytes, else the `00-11-…` string; else no check.
    let mac = |k: &str| -> Option<[u8; 6]> {
        match f.get_bytes(k) {
            Some(b) => b.try_into().ok(),
            None => mac_from_string(text(k)),
        }
    };
    match (mac("SrcMacAddress"), mac("SrcMacMask")) {
        (Some(m), Some(k)) => (a.src_mac, a.src_mac_mask) = (m, k),
        _ => a.check_src_mac = false,
    }
    match (mac("DstMacAddress"), mac("DstMacMask")) {
        (Some(m), Some(k)) => (a.dst_mac, a.dst_mac_mask) = (m, k),
        _ => a.check_dst_mac = false,
    }
    a
}

/// The entries of an `AccessList` folder in SoftEther's list order with
/// `Id`s 1..=n (`SiLoadHubAccessLists` → `AddAccessList`).
pub(super) fn read_access_list(f: &Folder) -> Vec<AccessRule> {
    let rules = f
        .folders
        .iter()
        .take(MAX_ACCESSLISTS as usize)
        .map(read_entry)
        .collect();
    sorted_list(rules)
}

/// One entry folder named by its `Id` (`SiWriteHubAccessCfg`).
fn write_entry(a: &AccessRule) -> Folder {
    let mut f = Folder::new(&a.id.to_string());
    f.set_str("Note", &a.note);
    f.set_bool("Active", a.active);
    f.set_uint("Priority", a.priority);
    f.set_bool("Discard", a.discard);
    f.set_bool("IsIPv6", a.is_ipv6);
    if a.is_ipv6 {
        f.set_str("SrcIpAddress6", &a.src_ip6.to_string());
        f.set_str("SrcSubnetMask6", &a.src_mask6.to_string());
        f.set_str("DestIpAddress6", &a.dst_ip6.to_string());
        f.set_str("DestSubnetMask6", &a.dst_mask6.to_string());
    } else {
        f.set_str("SrcIpAddress", &a.src_ip.to_string());
        f.set_str("SrcSubnetMask", &a.src_mask.to_string());
        f.set_str("DestIpAddress", &a.dst_ip.to_string());
        f.set_str("DestSubnetMask", &a.dst_mask.to_string());
    }
    f.set_uint("Protocol", a.protocol);
    f.set_uint("SrcPortStart", a.src_port_start);
    f.set_uint("SrcPortEnd", a.src_port_end);
    f.set_uint("DestPortStart", a.dst_port_start);
    f.set_uint("DestPortEnd", a.dst_port_end);
    f.set_str("SrcUsername", &a.src_username);
    f.set_str("DestUsername", &a.dst_username);
    f.set_bool("CheckSrcMac", a.check_src_mac);
    if a.check_src_mac {
        f.set_str("SrcMacAddress", &mac_to_string(&a.src_mac));
        f.set_str("SrcMacMask", &mac_to_string(&a.src_mac_mask));
    }
    f.set_bool("CheckDstMac", a.check_dst_mac);
    if a.check_dst_mac {
        f.set_str("DstMacAddress", &mac_to_string(&a.dst_mac));
        f.set_str("DstMacMask", &mac_to_string(&a.dst_mac_mask));
    }
    f.set_bool("CheckTcpState", a.check_tcp_state);
    f.set_bool("Established", a.established);
    f.set_str("RedirectUrl", &a.redirect_url);
    f.set_uint("Delay", a.delay);
    f.set_uint("Jitter", a.jitter);
    f.set_uint("Loss", a.loss);
    f
}

/// The `AccessList` folder (`SiWriteHubAccessLists`).
pub(super) fn write_access_list(rules: &[AccessRule]) -> Folder {
    let mut f = Folder::new("AccessList");
    f.folders = rules.iter().map(write_entry).collect();
    f
}

/// The source IP access control list of `SecurityAccountDatabase/
/// IPAccessControlList` (`SiLoadAcList`): folders `Acl<n>` with `Deny`,
/// `Priority`, `IpAddress` and, for a masked entry, `NetMask`. An address
/// that does not parse reads as 0.0.0.0 (SoftEther's `CfgGetIp` leaves it
/// zero); a `NetMask` that does not parse makes the entry unmasked.
pub(super) fn read_ac_list(f: &Folder) -> Vec<AcEntry> {
    let ip = |f: &Folder, k: &str| -> Option<std::net::IpAddr> {
        f.get_str(k).and_then(|t| t.trim().parse().ok())
    };
    let list = f
        .folders
        .iter()
        .take(MAX_HUB_ACS)
        .map(|e| {
            let mask = ip(e, "NetMask");
            AcEntry {
                id: 0,
                deny: e.get_bool("Deny").unwrap_or(false),
                priority: e.get_uint("Priority").unwrap_or(0),
                ip: ip(e, "IpAddress").unwrap_or(Ipv4Addr::UNSPECIFIED.into()),
                masked: mask.is_some(),
                mask: mask.unwrap_or(Ipv4Addr::UNSPECIFIED.into()),
            }
        })
        .collect();
    sorted_ac_list(list)
}

/// The `IPAccessControlList` folder (`SiWriteAcList`).
pub(super) fn write_ac_list(list: &[AcEntry]) -> Folder {
    let mut f = Folder::new("IPAccessControlList");
    f.folders = list
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut ff = Folder::new(&format!("Acl{}", i + 1));
            ff.set_bool("Deny", e.deny);
            ff.set_uint("Priority", e.priority);
            ff.set_str("IpAddress", &e.ip.to_string());
            if e.masked {
                ff.set_str("NetMask", &e.mask.to_string());
            }
            ff
        })
        .collect();
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ac_list_round_trips() {
        let l = sorted_ac_list(vec![
            AcEntry {
                id: 0,
                deny: true,
                priority: 5,
                ip: "10.0.0.0".parse().unwrap(),
                masked: true,
                mask: "255.0.0.0".parse().unwrap(),
            },
            AcEntry {
                id: 0,
                deny: false,
                priority: 1,
                ip: "fd00::1".parse().unwrap(),
                masked: false,
                mask: Ipv4Addr::UNSPECIFIED.into(),
            },
        ]);
        let f = write_ac_list(&l);
        assert_eq!(f.folders[0].name, "Acl1");
        assert!(f.folders[0].get_str("NetMask").is_none());
        assert_eq!(read_ac_list(&f), l);
    }

    #[test]
    fn entries_round_trip_in_list_order() {
        let rules = sorted_list(vec![
            AccessRule {
                active: true,
                priority: 200,
                note: "later".into(),
                src_ip: Ipv4Addr::new(10, 0, 0, 0),
                src_mask: Ipv4Addr::new(255, 0, 0, 0),
                check_dst_mac: true,
                dst_mac: [2, 0, 0, 0, 0, 9],
                dst_mac_mask: [0xff; 6],
                ..AccessRule::default()
            },
            AccessRule {
                priority: 100,
                discard: true,
                is_ipv6: true,
                dst_ip6: "fd00::2".parse().unwrap(),
                dst_mask6: "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff".parse().unwrap(),
                src_username: "alice".into(),
                ..AccessRule::default()
            },
        ]);
        let f = write_access_list(&rules);
        assert_eq!(f.folders[0].name, "1");
        assert_eq!(read_access_list(&f), rules);
    }

    #[test]
    fn bad_mac_turns_its_check_off() {
        let mut e = Folder::new("1");
        e.set_bool("CheckSrcMac", true);
        e.set_str("SrcMacAddress", "not-a-mac");
        e.set_str("SrcMacMask", "FF-FF-FF-FF-FF-FF");
        let mut f = Folder::new("AccessList");
        f.folders.push(e);
        assert!(!read_access_list(&f)[0].check_src_mac);
    }
}
