//! SecureNAT RPCs: the DHCP lease table and the NAT table (SoftEther
//! src/Cedar/Nat.c `InRpcEnumDhcp`/`OutRpcEnumDhcp`,
//! `InRpcEnumNat`/`OutRpcEnumNat`; vpncmd `DhcpTable`, `NatTable`).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// VH_OPTION: `GetSecureNATOption` request (`RpcHubName`) and response,
    /// `SetSecureNATOption` request and echo (SoftEther src/Cedar/Admin.c
    /// `InVhOption`/`OutVhOption`; vpncmd `SecureNatHostGet/Set`,
    /// `NatGet/Set`, `DhcpGet/Set`).
    pub struct SecureNatOption {
        /// `RpcHubName`.
        rpc_hub_name: String = "RpcHubName" as name,
        /// `MacAddress` (6 bytes).
        mac_address: Vec<u8> = "MacAddress" as data,
        /// `Ip`.
        ip: Option<std::net::IpAddr> = "Ip" as ip,
        /// `Mask`.
        mask: Option<std::net::IpAddr> = "Mask" as ip,
        /// `UseNat`.
        use_nat: bool = "UseNat" as bool,
        /// `Mtu`.
        mtu: u32 = "Mtu" as int,
        /// `NatTcpTimeout` (s).
        nat_tcp_timeout: u32 = "NatTcpTimeout" as int,
        /// `NatUdpTimeout` (s).
        nat_udp_timeout: u32 = "NatUdpTimeout" as int,
        /// `UseDhcp`.
        use_dhcp: bool = "UseDhcp" as bool,
        /// `DhcpLeaseIPStart`.
        dhcp_lease_ip_start: Option<std::net::IpAddr> = "DhcpLeaseIPStart" as ip,
        /// `DhcpLeaseIPEnd`.
        dhcp_lease_ip_end: Option<std::net::IpAddr> = "DhcpLeaseIPEnd" as ip,
        /// `DhcpSubnetMask`.
        dhcp_subnet_mask: Option<std::net::IpAddr> = "DhcpSubnetMask" as ip,
        /// `DhcpExpireTimeSpan` (s).
        dhcp_expire_time_span: u32 = "DhcpExpireTimeSpan" as int,
        /// `DhcpGatewayAddress`.
        dhcp_gateway_address: Option<std::net::IpAddr> = "DhcpGatewayAddress" as ip,
        /// `DhcpDnsServerAddress`.
        dhcp_dns_server_address: Option<std::net::IpAddr> = "DhcpDnsServerAddress" as ip,
        /// `DhcpDnsServerAddress2`.
        dhcp_dns_server_address2: Option<std::net::IpAddr> = "DhcpDnsServerAddress2" as ip,
        /// `DhcpDomainName`.
        dhcp_domain_name: String = "DhcpDomainName" as str,
        /// `SaveLog`.
        save_log: bool = "SaveLog" as bool,
        /// `ApplyDhcpPushRoutes` (always true in answers, as SoftEther).
        apply_dhcp_push_routes: bool = "ApplyDhcpPushRoutes" as bool,
        /// `DhcpPushRoutes`.
        dhcp_push_routes: String = "DhcpPushRoutes" as str,
    }
}

pack_struct! {
    /// RPC_NAT_STATUS: `GetSecureNATStatus` request (`HubName`) and response
    /// (SoftEther src/Cedar/Nat.c `OutRpcNatStatus`; vpncmd
    /// `SecureNatStatusGet`).
    pub struct NatStatus {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `NumTcpSessions`.
        num_tcp_sessions: u32 = "NumTcpSessions" as int,
        /// `NumUdpSessions`.
        num_udp_sessions: u32 = "NumUdpSessions" as int,
        /// `NumIcmpSessions`.
        num_icmp_sessions: u32 = "NumIcmpSessions" as int,
        /// `NumDnsSessions`.
        num_dns_sessions: u32 = "NumDnsSessions" as int,
        /// `NumDhcpClients`.
        num_dhcp_clients: u32 = "NumDhcpClients" as int,
        /// `IsKernelMode` (always false here: user-mode NAT only).
        is_kernel_mode: bool = "IsKernelMode" as bool,
        /// `IsRawIpMode` (always false here).
        is_raw_ip_mode: bool = "IsRawIpMode" as bool,
    }
}

flat_message!(SecureNatOption, NatStatus);

pack_struct! {
    /// One lease of [`EnumDhcp`] (`RPC_ENUM_DHCP_ITEM`).
    pub struct EnumDhcpItem {
        /// `Id[]`.
        id: u32 = "Id" as int,
        /// `LeasedTime[]`.
        leased_time: u64 = "LeasedTime" as time,
        /// `ExpireTime[]`.
        expire_time: u64 = "ExpireTime" as time,
        /// `MacAddress[]` (6 bytes).
        mac_address: Vec<u8> = "MacAddress" as data,
        /// `IpAddress[]` (`PackAddIp32Ex`).
        ip_address: std::net::Ipv4Addr = "IpAddress" as ip4,
        /// `Mask[]`: SoftEther's in-memory UINT of the mask
        /// (`PackAddIntEx`: network-order bytes read as a little-endian
        /// integer on x86).
        mask: u32 = "Mask" as int,
        /// `Hostname[]`.
        hostname: String = "Hostname" as str,
    }
}

/// RPC_ENUM_DHCP: request (`HubName`) and response of `EnumDHCP`; JSON
/// group `DhcpTable`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumDhcp {
    /// `HubName`.
    pub hub_name: String,
    /// The leases.
    pub items: Vec<EnumDhcpItem>,
}

impl RpcMessage for EnumDhcp {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumDhcp {
            hub_name: r.name("HubName", 0)?,
            items: read_items(&r, r.count("Id"), EnumDhcpItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.str("HubName", &self.hub_name);
        o.group("DhcpTable", |o| {
            self.items.iter().for_each(|i| i.push_item(o))
        });
    }
}

pack_struct! {
    /// One flow of [`EnumNat`] (`RPC_ENUM_NAT_ITEM`).
    pub struct EnumNatItem {
        /// `Id[]`.
        id: u32 = "Id" as int,
        /// `Protocol[]`: 0 TCP, 1 UDP, 2 DNS, 3 ICMP (`NAT_TCP` …).
        protocol: u32 = "Protocol" as int,
        /// `SrcIp[]`.
        src_ip: std::net::Ipv4Addr = "SrcIp" as ip4,
        /// `SrcHost[]`.
        src_host: String = "SrcHost" as str,
        /// `SrcPort[]`.
        src_port: u32 = "SrcPort" as int,
        /// `DestIp[]`.
        dest_ip: std::net::Ipv4Addr = "DestIp" as ip4,
        /// `DestHost[]`.
        dest_host: String = "DestHost" as str,
        /// `DestPort[]`.
        dest_port: u32 = "DestPort" as int,
        /// `CreatedTime[]`.
        created_time: u64 = "CreatedTime" as time,
        /// `LastCommTime[]`.
        last_comm_time: u64 = "LastCommTime" as time,
        /// `SendSize[]` (bytes client → remote).
        send_size: u64 = "SendSize" as int64,
        /// `RecvSize[]` (bytes remote → client).
        recv_size: u64 = "RecvSize" as int64,
        /// `TcpStatus[]`: 0 connecting, 2 established (`NAT_TCP_*`).
        tcp_status: u32 = "TcpStatus" as int,
    }
}

/// RPC_ENUM_NAT: request (`HubName`) and response of `EnumNAT`; JSON group
/// `NatTable`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumNat {
    /// `HubName`.
    pub hub_name: String,
    /// The flows.
    pub items: Vec<EnumNatItem>,
}

impl RpcMessage for EnumNat {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumNat {
            hub_name: r.name("HubName", 0)?,
            items: read_items(&r, r.count("Id"), EnumNatItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.str("HubName", &self.hub_name);
        o.group("NatTable", |o| {
            self.items.iter().for_each(|i| i.push_item(o))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;
    use std::net::Ipv4Addr;

    #[test]
    fn tables_round_trip() {
        let d = EnumDhcp {
            hub_name: "H".into(),
            items: vec![EnumDhcpItem {
                id: 1,
                leased_time: 1_000,
                expire_time: 2_000,
                mac_address: vec![2, 0, 0, 0, 0, 1],
                ip_address: Ipv4Addr::new(192, 168, 30, 10),
                mask: 0x00ff_ffff,
                hostname: "pc".into(),
            }],
        };
        assert_eq!(EnumDhcp::from_pack(&round_trip(&d)).unwrap(), d);
        let n = EnumNat {
            hub_name: "H".into(),
            items: vec![EnumNatItem {
                id: 3,
                protocol: 1,
                src_ip: Ipv4Addr::new(192, 168, 30, 10),
                src_port: 5000,
                dest_ip: Ipv4Addr::new(10, 0, 0, 1),
                dest_port: 53,
                send_size: 7,
                ..EnumNatItem::default()
            }],
        };
        assert_eq!(EnumNat::from_pack(&round_trip(&n)).unwrap(), n);
        let empty = EnumNat {
            hub_name: "H".into(),
            items: vec![],
        };
        assert_eq!(EnumNat::from_pack(&round_trip(&empty)).unwrap(), empty);
    }
}
