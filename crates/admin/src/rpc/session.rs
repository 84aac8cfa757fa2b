//! Session RPCs (docs/admin-rpc.md §6.4).

use rustether_proto::{ErrorCode, Pack};

use super::{
    flat_message, pack_struct, push_kind, read_items, write_kind, ConnectionStatus, NodeInfo,
    Reader, RpcMessage,
};
use crate::outpack::OutPack;

pack_struct! {
    /// One session of [`EnumSession`] (`OutRpcEnumSession`; all fields
    /// verified).
    pub struct EnumSessionItem {
        /// `Name[]`, e.g. `SID-BOB-1`, `SID-LINK-2`, `SID-LOCALBRIDGE-1`.
        name: String = "Name" as name,
        /// `Username[]` (`Cascade`, `Local Bridge`, … for internal sessions).
        username: String = "Username" as name,
        /// `Ip[]`: IPv4 IP field (`PackAddIp32Ex`).
        ip: std::net::Ipv4Addr = "Ip" as ip4,
        /// `ClientIP[]`: IP field.
        client_ip: Option<std::net::IpAddr> = "ClientIP" as ip,
        /// `Hostname[]`: client host name or address text.
        hostname: String = "Hostname" as str,
        /// `MaxNumTcp[]`.
        max_num_tcp: u32 = "MaxNumTcp" as int,
        /// `CurrentNumTcp[]`.
        current_num_tcp: u32 = "CurrentNumTcp" as int,
        /// `PacketSize[]` (bytes).
        packet_size: u64 = "PacketSize" as int64,
        /// `PacketNum[]`.
        packet_num: u64 = "PacketNum" as int64,
        /// `RemoteSession[]` (cluster).
        remote_session: bool = "RemoteSession" as bool,
        /// `RemoteHostname[]`.
        remote_hostname: String = "RemoteHostname" as str,
        /// `LinkMode[]`: a cascade's local end.
        link_mode: bool = "LinkMode" as bool,
        /// `SecureNATMode[]`.
        secure_nat_mode: bool = "SecureNATMode" as bool,
        /// `BridgeMode[]`: local bridge.
        bridge_mode: bool = "BridgeMode" as bool,
        /// `Layer3Mode[]`.
        layer3_mode: bool = "Layer3Mode" as bool,
        /// `Client_BridgeMode[]`.
        client_bridge_mode: bool = "Client_BridgeMode" as bool,
        /// `Client_MonitorMode[]`.
        client_monitor_mode: bool = "Client_MonitorMode" as bool,
        /// `VLanId[]`.
        vlan_id: u32 = "VLanId" as int,
        /// `UniqueId[]` (16 bytes).
        unique_id: [u8; 16] = "UniqueId" as h16,
        /// `IsDormantEnabled[]`.
        is_dormant_enabled: bool = "IsDormantEnabled" as bool,
        /// `IsDormant[]`.
        is_dormant: bool = "IsDormant" as bool,
        /// `LastCommDormant[]`.
        last_comm_dormant: u64 = "LastCommDormant" as time,
        /// `CreatedTime[]`.
        created_time: u64 = "CreatedTime" as time,
        /// `LastCommTime[]`.
        last_comm_time: u64 = "LastCommTime" as time,
    }
}

/// RPC_ENUM_SESSION: request (`HubName`) and response of `EnumSession`.
/// Count = number of `Name` values; an empty hub returns just `HubName`
/// (verified); JSON group `SessionList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumSession {
    /// `HubName`.
    pub hub_name: String,
    /// The sessions.
    pub sessions: Vec<EnumSessionItem>,
}

impl RpcMessage for EnumSession {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumSession {
            hub_name: r.name("HubName", 0)?,
            sessions: read_items(&r, r.count("Name"), EnumSessionItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("SessionList", |o| {
            self.sessions.iter().for_each(|s| s.push_item(o))
        });
    }
}

pack_struct! {
    /// Scalar part of RPC_SESSION_STATUS; see [`SessionStatus`].
    pub struct SessionStatusFields {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Name`: session name.
        name: String = "Name" as name,
        /// `Username` (authentication name).
        username: String = "Username" as name,
        /// `GroupName`.
        group_name: String = "GroupName" as name,
        /// `RealUsername` (database name).
        real_username: String = "RealUsername" as name,
        /// `SessionStatus_ClientIp`: IPv4 IP field.
        client_ip: std::net::Ipv4Addr = "SessionStatus_ClientIp" as ip4,
        /// `SessionStatus_ClientIp6` (16 raw bytes).
        client_ip6: [u8; 16] = "SessionStatus_ClientIp6" as h16,
        /// `SessionStatus_ClientHostName`.
        client_host_name: String = "SessionStatus_ClientHostName" as str,
        /// `Client_Ip_Address`: IP field.
        client_ip_address: Option<std::net::IpAddr> = "Client_Ip_Address" as ip,
    }
}

/// RPC_SESSION_STATUS: request (`HubName`, `Name`) and response of
/// `GetSessionStatus` (vpncmd `SessionGet`). CONNECTION_STATUS and
/// NODE_INFO are merged into the same PACK; where names collide
/// (`ServerProductName`, `HubName`, `UniqueId`) the value written first wins,
/// so the session fields, then CONNECTION_STATUS, then NODE_INFO
/// (docs/admin-rpc.md §6.4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionStatus {
    /// Session identity and client address.
    pub fields: SessionStatusFields,
    /// CONNECTION_STATUS.
    pub status: ConnectionStatus,
    /// NODE_INFO.
    pub node: NodeInfo,
}

impl RpcMessage for SessionStatus {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(SessionStatus {
            fields: SessionStatusFields::read_fields(&r)?,
            status: ConnectionStatus::read(&r)?,
            node: NodeInfo::read_fields(&r)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.status.write(o);
        self.node.write_fields(o);
    }
}

pack_struct! {
    /// RPC_DELETE_SESSION: `DeleteSession` request and echo (vpncmd
    /// `SessionDisconnect`).
    pub struct DeleteSession {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Name`: session name.
        name: String = "Name" as name,
    }
}

flat_message!(DeleteSession);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outpack::JsonKind;
    use crate::rpc::testutil::round_trip;
    use crate::rpc::{ConnectionStatusFields, Policy};
    use std::net::{IpAddr, Ipv4Addr};

    fn item(name: &str) -> EnumSessionItem {
        EnumSessionItem {
            name: name.into(),
            username: "bob".into(),
            ip: Ipv4Addr::new(127, 0, 0, 1),
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
            hostname: "127.0.0.1".into(),
            max_num_tcp: 8,
            current_num_tcp: 8,
            client_bridge_mode: true,
            unique_id: [5; 16],
            created_time: 1_795_284_146_000,
            last_comm_time: 1_795_284_147_000,
            ..EnumSessionItem::default()
        }
    }

    #[test]
    fn enum_session_ip_fields_are_arrays_of_four_elements() {
        let v = EnumSession {
            hub_name: "TEST2".into(),
            sessions: vec![item("SID-BOB-1"), item("SID-BOB-2")],
        };
        let p = round_trip(&v);
        for n in [
            "Ip",
            "Ip@ipv6_bool",
            "Ip@ipv6_array",
            "Ip@ipv6_scope_id",
            "ClientIP",
            "ClientIP@ipv6_bool",
        ] {
            assert_eq!(p.count(n), 2, "{n}");
        }
        assert_eq!(p.get_int_at("Ip", 1), Some(16_777_343));
        let out = v.to_out();
        assert_eq!(out.hint("ClientIP").kind, JsonKind::Ip);
        assert_eq!(out.hint("ClientIP").group.as_deref(), Some("SessionList"));
        // empty hub: only HubName (verified)
        let p = round_trip(&EnumSession {
            hub_name: "X".into(),
            sessions: vec![],
        });
        assert_eq!(p.len(), 1);
    }

    #[test]
    fn session_status_first_written_wins_on_shared_names() {
        let v = SessionStatus {
            fields: SessionStatusFields {
                hub_name: "TEST2".into(),
                name: "SID-BOB-1".into(),
                username: "bob".into(),
                real_username: "bob".into(),
                client_ip: Ipv4Addr::new(127, 0, 0, 1),
                client_host_name: "127.0.0.1".into(),
                client_ip_address: Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))),
                ..SessionStatusFields::default()
            },
            status: ConnectionStatus {
                fields: ConnectionStatusFields {
                    server_product_name: "from-status".into(),
                    session_status: 3,
                    cipher_name: "TLS_AES_256_GCM_SHA384".into(),
                    ..ConnectionStatusFields::default()
                },
                policy: Policy::default(),
                ..ConnectionStatus::default()
            },
            node: NodeInfo {
                server_product_name: "from-node".into(),
                hub_name: "TEST2".into(),
                client_product_build: 9674,
                ..NodeInfo::default()
            },
        };
        let p = v.to_pack();
        assert_eq!(p.get_str("ServerProductName"), Some("from-status"));
        // reading gives the shared value to both groups, as SoftEther's In*
        let back = SessionStatus::from_pack(&p).unwrap();
        assert_eq!(back.node.server_product_name, "from-status");
        assert_eq!(back.status.fields.session_status, 3);
        assert_eq!(back.node.client_product_build, 9674);
        let mut expect = v.clone();
        expect.node.server_product_name = "from-status".into();
        round_trip(&expect);
        round_trip(&DeleteSession {
            hub_name: "TEST2".into(),
            name: "SID-BOB-1".into(),
        });
    }
}
