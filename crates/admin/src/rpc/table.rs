//! MAC/IP address table and connection RPCs (docs/admin-rpc.md §6.8;
//! `InRpcEnumMacTable`, `OutRpcEnumIpTable`, `InRpcDeleteTable`,
//! `OutRpcEnumConnection`, `OutRpcConnectionInfo`,
//! `InRpcDisconnectConnection` of src/Cedar/Admin.c).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// One entry of [`EnumMacTable`] (`OutRpcEnumMacTable`).
    pub struct EnumMacTableItem {
        /// `Key[]`: the entry's id for `DeleteMacTable`.
        key: u32 = "Key" as int,
        /// `SessionName[]`: session the MAC was learned on.
        session_name: String = "SessionName" as name,
        /// `MacAddress[]`: 6 bytes.
        mac_address: Vec<u8> = "MacAddress" as data,
        /// `VlanId[]` (0 = none).
        vlan_id: u32 = "VlanId" as int,
        /// `CreatedTime[]`.
        created_time: u64 = "CreatedTime" as time,
        /// `UpdatedTime[]`.
        updated_time: u64 = "UpdatedTime" as time,
        /// `RemoteItem[]` (cluster; always false here).
        remote_item: bool = "RemoteItem" as bool,
        /// `RemoteHostname[]`: the server's host name.
        remote_hostname: String = "RemoteHostname" as str,
    }
}

/// RPC_ENUM_MAC_TABLE: request (`HubName`) and response of `EnumMacTable`
/// (vpncmd `MacTable`). Count = number of `SessionName` values; JSON group
/// `MacTable`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumMacTable {
    /// `HubName`.
    pub hub_name: String,
    /// The entries.
    pub entries: Vec<EnumMacTableItem>,
}

impl RpcMessage for EnumMacTable {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumMacTable {
            hub_name: r.name("HubName", 0)?,
            entries: read_items(&r, r.count("SessionName"), EnumMacTableItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("MacTable", |o| {
            self.entries.iter().for_each(|e| e.push_item(o))
        });
    }
}

pack_struct! {
    /// One entry of [`EnumIpTable`] (`OutRpcEnumIpTable`).
    pub struct EnumIpTableItem {
        /// `Key[]`: the entry's id for `DeleteIpTable`.
        key: u32 = "Key" as int,
        /// `SessionName[]`: session the address was seen from.
        session_name: String = "SessionName" as name,
        /// `Ip[]`: IPv4 IP field (0 for an IPv6 entry).
        ip: std::net::Ipv4Addr = "Ip" as ip4,
        /// `IpV6[]`: IP field (the address, v4 or v6).
        ip_v6: Option<std::net::IpAddr> = "IpV6" as ip,
        /// `IpAddress[]`: IP field (the address; vpncmd prints this one).
        ip_address: Option<std::net::IpAddr> = "IpAddress" as ip,
        /// `DhcpAllocated[]`.
        dhcp_allocated: bool = "DhcpAllocated" as bool,
        /// `CreatedTime[]`.
        created_time: u64 = "CreatedTime" as time,
        /// `UpdatedTime[]`.
        updated_time: u64 = "UpdatedTime" as time,
        /// `RemoteItem[]` (cluster; always false here).
        remote_item: bool = "RemoteItem" as bool,
        /// `RemoteHostname[]`: the server's host name.
        remote_hostname: String = "RemoteHostname" as str,
    }
}

/// RPC_ENUM_IP_TABLE: request (`HubName`) and response of `EnumIpTable`
/// (vpncmd `IpTable`). Count = number of `SessionName` values; JSON group
/// `IpTable`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumIpTable {
    /// `HubName`.
    pub hub_name: String,
    /// The entries.
    pub entries: Vec<EnumIpTableItem>,
}

impl RpcMessage for EnumIpTable {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumIpTable {
            hub_name: r.name("HubName", 0)?,
            entries: read_items(&r, r.count("SessionName"), EnumIpTableItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("IpTable", |o| {
            self.entries.iter().for_each(|e| e.push_item(o))
        });
    }
}

pack_struct! {
    /// RPC_DELETE_TABLE: `DeleteMacTable` / `DeleteIpTable` request and echo
    /// (vpncmd `MacDelete`, `IpDelete`).
    pub struct DeleteTable {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Key`: the entry's id from the enumeration.
        key: u32 = "Key" as int,
    }
}

pack_struct! {
    /// One connection of [`EnumConnection`] (`OutRpcEnumConnection`).
    pub struct EnumConnectionItem {
        /// `Ip[]`: IPv4 IP field of the peer.
        ip: std::net::Ipv4Addr = "Ip" as ip4,
        /// `Port[]`: the peer's TCP port.
        port: u32 = "Port" as int,
        /// `Name[]`: `CID-<n>`.
        name: String = "Name" as name,
        /// `Hostname[]`: the peer's host name or address text.
        hostname: String = "Hostname" as str,
        /// `ConnectedTime[]`.
        connected_time: u64 = "ConnectedTime" as time,
        /// `Type[]`: `CONNECTION_TYPE_*` (0 = VPN client).
        conn_type: u32 = "Type" as int,
    }
}

/// RPC_ENUM_CONNECTION: response of `EnumConnection` (vpncmd
/// `ConnectionList`); the request is empty. Count = number of `Name`
/// values; JSON group `ConnectionList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumConnection {
    /// The connections.
    pub connections: Vec<EnumConnectionItem>,
}

impl RpcMessage for EnumConnection {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumConnection {
            connections: read_items(&r, r.count("Name"), EnumConnectionItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.group("ConnectionList", |o| {
            self.connections.iter().for_each(|e| e.push_item(o))
        });
    }
}

pack_struct! {
    /// RPC_CONNECTION_INFO: request (`Name`) and response of
    /// `GetConnectionInfo` (vpncmd `ConnectionGet`).
    pub struct ConnectionInfo {
        /// `Name`: `CID-<n>`.
        name: String = "Name" as name,
        /// `Ip`: IPv4 IP field of the peer.
        ip: std::net::Ipv4Addr = "Ip" as ip4,
        /// `Port`.
        port: u32 = "Port" as int,
        /// `ConnectedTime`.
        connected_time: u64 = "ConnectedTime" as time,
        /// `Hostname`.
        hostname: String = "Hostname" as str,
        /// `ServerStr`: server product string.
        server_str: String = "ServerStr" as str,
        /// `ClientStr`: client product string.
        client_str: String = "ClientStr" as str,
        /// `ServerVer`.
        server_ver: u32 = "ServerVer" as int,
        /// `ServerBuild`.
        server_build: u32 = "ServerBuild" as int,
        /// `ClientVer`.
        client_ver: u32 = "ClientVer" as int,
        /// `ClientBuild`.
        client_build: u32 = "ClientBuild" as int,
        /// `Type`: `CONNECTION_TYPE_*`.
        conn_type: u32 = "Type" as int,
    }
}

pack_struct! {
    /// RPC_DISCONNECT_CONNECTION: `DisconnectConnection` request and echo
    /// (vpncmd `ConnectionDisconnect`).
    pub struct DisconnectConnection {
        /// `Name`: `CID-<n>`.
        name: String = "Name" as name,
    }
}

flat_message!(DeleteTable, ConnectionInfo, DisconnectConnection);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outpack::JsonKind;
    use crate::rpc::testutil::round_trip;
    use std::net::{IpAddr, Ipv4Addr};

    #[test]
    fn mac_table_layout() {
        let v = EnumMacTable {
            hub_name: "TEST".into(),
            entries: vec![
                EnumMacTableItem {
                    key: 7,
                    session_name: "SID-BOB-1".into(),
                    mac_address: vec![0x5e, 0, 0x53, 1, 2, 3],
                    vlan_id: 0,
                    created_time: 1_795_284_146_000,
                    updated_time: 1_795_284_147_000,
                    remote_hostname: "host".into(),
                    ..EnumMacTableItem::default()
                },
                EnumMacTableItem {
                    key: 8,
                    session_name: "SID-BOB-2".into(),
                    mac_address: vec![0x5e, 0, 0x53, 1, 2, 4],
                    ..EnumMacTableItem::default()
                },
            ],
        };
        let p = round_trip(&v);
        assert_eq!(p.count("SessionName"), 2);
        assert_eq!(p.get_int_at("Key", 1), Some(8));
        assert_eq!(
            p.get_data_at("MacAddress", 0),
            Some(&[0x5e, 0, 0x53, 1, 2, 3][..])
        );
        let out = v.to_out();
        assert_eq!(out.hint("CreatedTime").kind, JsonKind::Time);
        assert_eq!(out.hint("Key").group.as_deref(), Some("MacTable"));
        round_trip(&DeleteTable {
            hub_name: "TEST".into(),
            key: 7,
        });
    }

    #[test]
    fn ip_table_layout() {
        let a = IpAddr::V4(Ipv4Addr::new(192, 168, 30, 10));
        let v = EnumIpTable {
            hub_name: "TEST".into(),
            entries: vec![EnumIpTableItem {
                key: 1,
                session_name: "SID-BOB-1".into(),
                ip: Ipv4Addr::new(192, 168, 30, 10),
                ip_v6: Some(a),
                ip_address: Some(a),
                created_time: 1_795_284_146_000,
                updated_time: 1_795_284_146_000,
                ..EnumIpTableItem::default()
            }],
        };
        let p = round_trip(&v);
        for n in ["Ip", "IpV6", "IpAddress", "IpAddress@ipv6_bool"] {
            assert_eq!(p.count(n), 1, "{n}");
        }
        assert_eq!(v.to_out().hint("IpAddress").kind, JsonKind::Ip);
    }

    #[test]
    fn connection_layouts() {
        let v = EnumConnection {
            connections: vec![EnumConnectionItem {
                ip: Ipv4Addr::new(127, 0, 0, 1),
                port: 40000,
                name: "CID-3".into(),
                hostname: "127.0.0.1".into(),
                connected_time: 1_795_284_146_000,
                conn_type: 0,
            }],
        };
        let p = round_trip(&v);
        assert_eq!(p.get_str_at("Name", 0), Some("CID-3"));
        assert_eq!(p.get_int_at("Port", 0), Some(40000));
        assert_eq!(
            v.to_out().hint("Name").group.as_deref(),
            Some("ConnectionList")
        );
        round_trip(&ConnectionInfo {
            name: "CID-3".into(),
            ip: Ipv4Addr::new(127, 0, 0, 1),
            port: 40000,
            client_str: "SoftEther VPN Client".into(),
            client_build: 9674,
            ..ConnectionInfo::default()
        });
        round_trip(&DisconnectConnection {
            name: "CID-3".into(),
        });
    }
}
