//! Access list RPCs (`AddAccess`, `DeleteAccess`, `EnumAccess`,
//! `SetAccessList`; `InRpcAccessEx`, `OutRpcAccessEx`, `InRpcAddAccess`,
//! `InRpcDeleteAccess`, `InRpcEnumAccessList` of src/Cedar/Admin.c).
//!
//! Every entry is written as arrays (`PackAdd*Ex`), also the single entry
//! of `AddAccess`; JSON groups them as `AccessList` (enumeration) and
//! `AccessListSingle` (one entry), SoftEther's JSON-RPC names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustether_proto::softether::access::{AcEntry, AccessRule, MAX_NOTE_LEN, MAX_REDIRECT_URL_LEN};
use rustether_proto::{ErrorCode, Pack};

use super::{read_items, Reader, RpcMessage};
use crate::outpack::OutPack;

/// 6-byte MAC (`PackGetDataEx2`): all zero unless the DATA has 6 bytes.
fn mac(r: &Reader<'_>, name: &str, i: usize) -> Result<[u8; 6], ErrorCode> {
    Ok(r.data(name, i)?.try_into().unwrap_or([0; 6]))
}

/// `InRpcAccessEx`: entry `i`. Over-long user names or URLs are
/// `ERR_INVALID_PARAMETER` (38); the note is cut at [`MAX_NOTE_LEN`]
/// characters as SoftEther's buffer does.
pub(crate) fn read_access(r: &Reader<'_>, i: usize) -> Result<AccessRule, ErrorCode> {
    let is_ipv6 = r.bool("IsIPv6", i)?;
    let v6 = |name: &str| -> Result<Ipv6Addr, ErrorCode> {
        Ok(if is_ipv6 {
            Ipv6Addr::from(r.h16(name, i)?)
        } else {
            Ipv6Addr::UNSPECIFIED
        })
    };
    let redirect_url = r.str("RedirectUrl", i)?;
    if redirect_url.len() > MAX_REDIRECT_URL_LEN {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    // IPv6 entries carry an IPv4 placeholder (see `push_access`); SoftEther
    // never uses it, so it reads as 0.0.0.0 here.
    let v4 = |name: &str| -> Result<Ipv4Addr, ErrorCode> {
        Ok(if is_ipv6 {
            Ipv4Addr::UNSPECIFIED
        } else {
            r.ip4(name, i)?
        })
    };
    Ok(AccessRule {
        id: r.int("Id", i)?,
        note: r.ustr("Note", i)?.chars().take(MAX_NOTE_LEN).collect(),
        active: r.bool("Active", i)?,
        priority: r.int("Priority", i)?,
        discard: r.bool("Discard", i)?,
        is_ipv6,
        src_ip: v4("SrcIpAddress")?,
        src_mask: v4("SrcSubnetMask")?,
        dst_ip: v4("DestIpAddress")?,
        dst_mask: v4("DestSubnetMask")?,
        src_ip6: v6("SrcIpAddress6")?,
        src_mask6: v6("SrcSubnetMask6")?,
        dst_ip6: v6("DestIpAddress6")?,
        dst_mask6: v6("DestSubnetMask6")?,
        protocol: r.int("Protocol", i)?,
        src_port_start: r.int("SrcPortStart", i)?,
        src_port_end: r.int("SrcPortEnd", i)?,
        dst_port_start: r.int("DestPortStart", i)?,
        dst_port_end: r.int("DestPortEnd", i)?,
        src_username: r.name("SrcUsername", i)?,
        dst_username: r.name("DestUsername", i)?,
        check_src_mac: r.bool("CheckSrcMac", i)?,
        src_mac: mac(r, "SrcMacAddress", i)?,
        src_mac_mask: mac(r, "SrcMacMask", i)?,
        check_dst_mac: r.bool("CheckDstMac", i)?,
        dst_mac: mac(r, "DstMacAddress", i)?,
        dst_mac_mask: mac(r, "DstMacMask", i)?,
        check_tcp_state: r.bool("CheckTcpState", i)?,
        established: r.bool("Established", i)?,
        delay: r.int("Delay", i)?,
        jitter: r.int("Jitter", i)?,
        loss: r.int("Loss", i)?,
        redirect_url,
        unique_id: r.int("UniqueId", i)?,
    })
}

/// `OutRpcAccessEx`: appends one entry. IPv6 entries carry the IPv4
/// placeholder 223.255.255.253/255.255.255.255 (`0xFDFFFFDF`) as there.
pub(crate) fn push_access(o: &mut OutPack, a: &AccessRule) {
    o.push_int("Id", a.id);
    o.push_ustr("Note", &a.note);
    o.push_bool("Active", a.active);
    o.push_int("Priority", a.priority);
    o.push_bool("Discard", a.discard);
    let v4 = |ip: Ipv4Addr| IpAddr::V4(ip);
    let (si, sm, di, dm) = if a.is_ipv6 {
        let p = Ipv4Addr::new(223, 255, 255, 253);
        (p, Ipv4Addr::BROADCAST, p, Ipv4Addr::BROADCAST)
    } else {
        (a.src_ip, a.src_mask, a.dst_ip, a.dst_mask)
    };
    o.push_ip("SrcIpAddress", v4(si));
    o.push_ip("SrcSubnetMask", v4(sm));
    o.push_ip("DestIpAddress", v4(di));
    o.push_ip("DestSubnetMask", v4(dm));
    o.push_int("Protocol", a.protocol);
    o.push_int("SrcPortStart", a.src_port_start);
    o.push_int("SrcPortEnd", a.src_port_end);
    o.push_int("DestPortStart", a.dst_port_start);
    o.push_int("DestPortEnd", a.dst_port_end);
    o.push_str("SrcUsername", &a.src_username);
    o.push_str("DestUsername", &a.dst_username);
    o.push_bool("CheckSrcMac", a.check_src_mac);
    o.push_data("SrcMacAddress", &a.src_mac);
    o.push_data("SrcMacMask", &a.src_mac_mask);
    o.push_bool("CheckDstMac", a.check_dst_mac);
    o.push_data("DstMacAddress", &a.dst_mac);
    o.push_data("DstMacMask", &a.dst_mac_mask);
    o.push_bool("CheckTcpState", a.check_tcp_state);
    o.push_bool("Established", a.established);
    o.push_int("Delay", a.delay);
    o.push_int("Jitter", a.jitter);
    o.push_int("Loss", a.loss);
    o.push_bool("IsIPv6", a.is_ipv6);
    o.push_int("UniqueId", a.unique_id);
    o.push_str("RedirectUrl", &a.redirect_url);
    let z = Ipv6Addr::UNSPECIFIED;
    let six = |ip: Ipv6Addr| if a.is_ipv6 { ip.octets() } else { z.octets() };
    o.push_data("SrcIpAddress6", &six(a.src_ip6));
    o.push_data("SrcSubnetMask6", &six(a.src_mask6));
    o.push_data("DestIpAddress6", &six(a.dst_ip6));
    o.push_data("DestSubnetMask6", &six(a.dst_mask6));
}

/// `RPC_ADD_ACCESS`: one entry for hub `hub_name`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddAccess {
    /// `HubName`.
    pub hub_name: String,
    /// The entry (`Id` and `UniqueId` are ignored on input).
    pub access: AccessRule,
}

impl RpcMessage for AddAccess {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(AddAccess {
            hub_name: r.name("HubName", 0)?,
            access: read_access(&r, 0)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("AccessListSingle", |o| push_access(o, &self.access));
    }
}

/// `RPC_DELETE_ACCESS`: `Id` below [`rustether_proto::softether::access::MAX_ACCESSLISTS`]
/// is the entry's position, above it its `UniqueId`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeleteAccess {
    /// `HubName`.
    pub hub_name: String,
    /// `Id`.
    pub id: u32,
}

impl RpcMessage for DeleteAccess {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(DeleteAccess {
            hub_name: r.name("HubName", 0)?,
            id: r.int("Id", 0)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.int("Id", self.id);
    }
}

/// `RPC_ENUM_ACCESS_LIST` (`EnumAccess` answer, `SetAccessList` request):
/// the number of entries is the number of `Protocol` values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumAccessList {
    /// `HubName`.
    pub hub_name: String,
    /// The entries in list order.
    pub accesses: Vec<AccessRule>,
}

impl RpcMessage for EnumAccessList {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumAccessList {
            hub_name: r.name("HubName", 0)?,
            accesses: read_items(&r, r.count("Protocol"), read_access)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("AccessList", |o| {
            self.accesses.iter().for_each(|a| push_access(o, a))
        });
    }
}

/// `RPC_AC_LIST` (`GetAcList` answer, `SetAcList` request; `InRpcAcList`,
/// `OutRpcAcList`): the hub's source IP access control list. The number of
/// entries is the number of `IpAddress` values; `SubnetMask` is read only
/// for masked entries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AcList {
    /// `HubName`.
    pub hub_name: String,
    /// The entries in list order.
    pub entries: Vec<AcEntry>,
}

impl RpcMessage for AcList {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let zero = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let read = |r: &Reader<'_>, i: usize| -> Result<AcEntry, ErrorCode> {
            let masked = r.bool("Masked", i)?;
            Ok(AcEntry {
                id: r.int("Id", i)?,
                deny: r.bool("Deny", i)?,
                priority: r.int("Priority", i)?,
                ip: r.ip("IpAddress", i)?.unwrap_or(zero),
                masked,
                mask: if masked {
                    r.ip("SubnetMask", i)?.unwrap_or(zero)
                } else {
                    zero
                },
            })
        };
        Ok(AcList {
            hub_name: r.name("HubName", 0)?,
            entries: read_items(&r, r.count("IpAddress"), read)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.entries.len() as u32);
        o.str("HubName", &self.hub_name);
        o.group("ACList", |o| {
            for e in &self.entries {
                o.push_int("Id", e.id);
                o.push_bool("Deny", e.deny);
                o.push_ip("IpAddress", e.ip);
                o.push_bool("Masked", e.masked);
                o.push_ip("SubnetMask", e.mask);
                o.push_int("Priority", e.priority);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;

    fn entry(v6: bool) -> AccessRule {
        AccessRule {
            id: 1,
            note: "drop ping".into(),
            active: true,
            priority: 100,
            discard: true,
            is_ipv6: v6,
            src_ip: if v6 {
                Ipv4Addr::UNSPECIFIED
            } else {
                Ipv4Addr::new(10, 0, 0, 0)
            },
            src_mask: if v6 {
                Ipv4Addr::UNSPECIFIED
            } else {
                Ipv4Addr::new(255, 0, 0, 0)
            },
            src_ip6: if v6 {
                "fd00::1".parse().unwrap()
            } else {
                Ipv6Addr::UNSPECIFIED
            },
            protocol: 1,
            dst_port_start: 80,
            dst_port_end: 81,
            src_username: "alice".into(),
            check_src_mac: true,
            src_mac: [2, 0, 0, 0, 0, 1],
            src_mac_mask: [0xff; 6],
            unique_id: 77,
            ..AccessRule::default()
        }
    }

    #[test]
    fn enum_access_list_round_trips_v4_and_v6() {
        let v = EnumAccessList {
            hub_name: "HUB".into(),
            accesses: vec![entry(false), entry(true)],
        };
        let p = round_trip(&v);
        assert_eq!(p.count("Protocol"), 2);
        // IPv6 entries carry SoftEther's IPv4 placeholder.
        assert_eq!(p.get_int_at("SrcIpAddress", 1), Some(0xFDFF_FFDF));
        assert_eq!(
            p.get_data_at("SrcMacAddress", 0),
            Some(&[2, 0, 0, 0, 0, 1][..])
        );
    }

    #[test]
    fn add_and_delete_round_trip() {
        round_trip(&AddAccess {
            hub_name: "HUB".into(),
            access: entry(false),
        });
        round_trip(&DeleteAccess {
            hub_name: "HUB".into(),
            id: 3,
        });
    }

    #[test]
    fn ac_list_round_trips_v4_and_v6() {
        let v = AcList {
            hub_name: "HUB".into(),
            entries: vec![
                AcEntry {
                    id: 1,
                    deny: true,
                    priority: 10,
                    ip: "10.0.0.0".parse().unwrap(),
                    masked: true,
                    mask: "255.0.0.0".parse().unwrap(),
                },
                AcEntry {
                    id: 2,
                    deny: false,
                    priority: 20,
                    ip: "fd00::1".parse().unwrap(),
                    masked: false,
                    mask: "0.0.0.0".parse().unwrap(),
                },
            ],
        };
        let p = round_trip(&v);
        assert_eq!(p.get_int("NumItem"), Some(2));
    }

    #[test]
    fn overlong_user_name_is_refused() {
        let mut p = Pack::new();
        p.add_str("HubName", "HUB");
        p.add_str("SrcUsername", &"a".repeat(300));
        assert_eq!(
            AddAccess::from_pack(&p).unwrap_err(),
            ErrorCode::INVALID_PARAMETER
        );
    }
}
