//! Server-level RPCs (docs/admin-rpc.md §6.1, §6.7, §7).

use rustether_proto::{ErrorCode, Pack};

use super::{
    flat_message, pack_struct, push_kind, read_items, write_kind, MemInfo, OsInfo, Reader,
    RpcMessage, Traffic,
};
use crate::outpack::OutPack;

pack_struct! {
    /// RPC_TEST: `Test` (echo; the server sets `StrValue` to the decimal
    /// text of `IntValue`, verified) and `Flush` (response `IntValue` = size
    /// of the written configuration file in bytes).
    pub struct RpcTest {
        /// `IntValue`.
        int_value: u32 = "IntValue" as int,
        /// `Int64Value`.
        int64_value: u64 = "Int64Value" as int64,
        /// `StrValue`.
        str_value: String = "StrValue" as str,
        /// `UniStrValue`.
        unistr_value: String = "UniStrValue" as ustr,
    }
}

pack_struct! {
    /// Scalar part of RPC_SERVER_INFO; see [`ServerInfo`].
    pub struct ServerInfoFields {
        /// `ServerProductName`.
        server_product_name: String = "ServerProductName" as str,
        /// `ServerVersionString`, e.g. `Version 5.01 Build 9674   (English)`.
        server_version_string: String = "ServerVersionString" as str,
        /// `ServerBuildInfoString`.
        server_build_info_string: String = "ServerBuildInfoString" as str,
        /// `ServerVerInt`, e.g. 501.
        server_ver_int: u32 = "ServerVerInt" as int,
        /// `ServerBuildInt`, e.g. 9674.
        server_build_int: u32 = "ServerBuildInt" as int,
        /// `ServerHostName`.
        server_host_name: String = "ServerHostName" as str,
        /// `ServerType`: 0 standalone, 1 cluster controller, 2 member.
        server_type: u32 = "ServerType" as int,
        /// `ServerBuildDate` (SoftEther time, [`rustether_proto::softether::time`]).
        server_build_date: u64 = "ServerBuildDate" as time,
        /// `ServerFamilyName`, e.g. `SoftEtherDev`.
        server_family_name: String = "ServerFamilyName" as str,
    }
}

/// RPC_SERVER_INFO: response of `GetServerInfo` (the request is ignored;
/// vpncmd sends the zeroed structure, verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerInfo {
    /// Product and build.
    pub fields: ServerInfoFields,
    /// OS_INFO.
    pub os: OsInfo,
}

impl RpcMessage for ServerInfo {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(ServerInfo {
            fields: ServerInfoFields::read_fields(&r)?,
            os: OsInfo::read_fields(&r)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.os.write_fields(o);
    }
}

pack_struct! {
    /// Scalar part of RPC_SERVER_STATUS; see [`ServerStatus`].
    pub struct ServerStatusFields {
        /// `ServerType`.
        server_type: u32 = "ServerType" as int,
        /// `NumHubTotal`.
        num_hub_total: u32 = "NumHubTotal" as int,
        /// `NumHubStandalone`.
        num_hub_standalone: u32 = "NumHubStandalone" as int,
        /// `NumHubStatic`.
        num_hub_static: u32 = "NumHubStatic" as int,
        /// `NumHubDynamic`.
        num_hub_dynamic: u32 = "NumHubDynamic" as int,
        /// `NumSessionsTotal`.
        num_sessions_total: u32 = "NumSessionsTotal" as int,
        /// `NumSessionsLocal`.
        num_sessions_local: u32 = "NumSessionsLocal" as int,
        /// `NumSessionsRemote`.
        num_sessions_remote: u32 = "NumSessionsRemote" as int,
        /// `NumTcpConnections`.
        num_tcp_connections: u32 = "NumTcpConnections" as int,
        /// `NumTcpConnectionsLocal`.
        num_tcp_connections_local: u32 = "NumTcpConnectionsLocal" as int,
        /// `NumTcpConnectionsRemote`.
        num_tcp_connections_remote: u32 = "NumTcpConnectionsRemote" as int,
        /// `NumMacTables`.
        num_mac_tables: u32 = "NumMacTables" as int,
        /// `NumIpTables`.
        num_ip_tables: u32 = "NumIpTables" as int,
        /// `NumUsers`.
        num_users: u32 = "NumUsers" as int,
        /// `NumGroups`.
        num_groups: u32 = "NumGroups" as int,
        /// `CurrentTime` (SoftEther time, [`rustether_proto::softether::time`]).
        current_time: u64 = "CurrentTime" as time,
        /// `CurrentTick` (monotonic ms; 9674 ≈ ms since process start).
        current_tick: u64 = "CurrentTick" as int64,
        /// `AssignedBridgeLicenses`.
        assigned_bridge_licenses: u32 = "AssignedBridgeLicenses" as int,
        /// `AssignedClientLicenses`.
        assigned_client_licenses: u32 = "AssignedClientLicenses" as int,
        /// `AssignedBridgeLicensesTotal`.
        assigned_bridge_licenses_total: u32 = "AssignedBridgeLicensesTotal" as int,
        /// `AssignedClientLicensesTotal`.
        assigned_client_licenses_total: u32 = "AssignedClientLicensesTotal" as int,
        /// `StartTime` (SoftEther time, [`rustether_proto::softether::time`]).
        start_time: u64 = "StartTime" as time,
    }
}

/// RPC_SERVER_STATUS: response of `GetServerStatus` (`OutRpcServerStatus`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStatus {
    /// Counters and times.
    pub fields: ServerStatusFields,
    /// TRAFFIC of the whole server.
    pub traffic: Traffic,
    /// MEMINFO.
    pub mem: MemInfo,
}

impl RpcMessage for ServerStatus {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(ServerStatus {
            fields: ServerStatusFields::read_fields(&r)?,
            traffic: Traffic::read(&r)?,
            mem: MemInfo::read_fields(&r)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.traffic.write(o);
        self.mem.write_fields(o);
    }
}

pack_struct! {
    /// RPC_LISTENER: request and (echoed) response of `CreateListener`,
    /// `DeleteListener`, `EnableListener` (docs/admin-rpc.md §6.1).
    pub struct Listener {
        /// `Port`: TCP port, 1..=65535.
        port: u32 = "Port" as int,
        /// `Enable`: start (true) or stop the listener.
        enable: bool = "Enable" as bool,
    }
}

pack_struct! {
    /// One entry of [`ListenerList`].
    pub struct ListenerItem {
        /// `Ports[]`.
        port: u32 = "Ports" as int,
        /// `Enables[]`.
        enable: bool = "Enables" as bool,
        /// `Errors[]`: enabled but the port could not be bound.
        error: bool = "Errors" as bool,
    }
}

/// RPC_LISTENER_LIST: response of `EnumListener`; count = number of `Ports`
/// values (verified); JSON group `ListenerList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ListenerList {
    /// The listeners.
    pub listeners: Vec<ListenerItem>,
}

impl RpcMessage for ListenerList {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(ListenerList {
            listeners: read_items(&r, r.count("Ports"), ListenerItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.group("ListenerList", |o| {
            self.listeners.iter().for_each(|l| l.push_item(o))
        });
    }
}

pack_struct! {
    /// RPC_SET_PASSWORD: `SetServerPassword`. vpncmd sends
    /// `HashedPassword` = SHA-0(new password) and an empty plaintext; JSON
    /// clients may send `PlainTextPassword` instead (hashed when the hash is
    /// all zero). Response: echo.
    pub struct SetPassword {
        /// `HashedPassword` (20 bytes).
        hashed_password: [u8; 20] = "HashedPassword" as h20,
        /// `PlainTextPassword`.
        plain_text_password: String = "PlainTextPassword" as str,
    }
}

/// CAPSLIST: response of `GetCaps` (`OutRpcCapsList`, `src/Cedar/Server.c`).
/// vpncmd reads the INT elements `caps_<name>`; JSON clients the group
/// `CapsList` of `CapsName`/`CapsValue`/`CapsDescrption` (sic).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapsList {
    /// `(name, value)` pairs, names without the `caps_` prefix, e.g.
    /// `("b_support_config_rw", 1)`.
    pub caps: Vec<(String, u32)>,
}

impl CapsList {
    /// Value of capability `name` (without prefix), if listed.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.caps
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

impl RpcMessage for CapsList {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        // InRpcCapsList: every single-valued INT element named caps_*.
        let caps = p
            .elements()
            .filter(|e| e.values.len() == 1)
            .filter_map(|e| {
                let lower = e.name.to_ascii_lowercase();
                lower.strip_prefix("caps_")?;
                match e.values[0] {
                    rustether_proto::Value::Int(v) => Some((e.name[5..].to_owned(), v)),
                    _ => None,
                }
            })
            .collect();
        Ok(CapsList { caps })
    }
    fn write(&self, o: &mut OutPack) {
        o.group("CapsList", |o| {
            for (name, value) in &self.caps {
                o.int(&format!("caps_{name}"), *value);
                o.push_str("CapsName", name);
                o.push_int("CapsValue", *value);
                // SoftEther uses a localised description and falls back to
                // the name; we always send the name.
                o.push_ustr("CapsDescrption", name);
            }
        });
    }
}

/// RPC_KEY_PAIR: response of `GetServerCert` (`OutRpcKeyPair`): `Cert`
/// (DER X.509), `Chain[]` (master), `Key` (DER private key, server
/// administrators only), `Flag1`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyPair {
    /// `Cert`.
    pub cert: Option<Vec<u8>>,
    /// `Chain[]` (DATA array without JSON group).
    pub chain: Vec<Vec<u8>>,
    /// `Key`.
    pub key: Option<Vec<u8>>,
    /// `Flag1`.
    pub flag1: u32,
}

impl RpcMessage for KeyPair {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(KeyPair {
            cert: r.opt_data("Cert", 0)?,
            chain: read_items(&r, r.count("Chain"), |r, i| r.data("Chain", i))?,
            key: r.opt_data("Key", 0)?,
            flag1: r.int("Flag1", 0)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        if let Some(c) = &self.cert {
            o.data("Cert", c);
        }
        for c in &self.chain {
            o.push_data("Chain", c);
        }
        if let Some(k) = &self.key {
            o.data("Key", k);
        }
        o.int("Flag1", self.flag1);
    }
}

pack_struct! {
    /// RPC_KEEP: `GetKeep`/`SetKeep`, the keep-alive Internet connection
    /// setting (`OutRpcKeep`). vpncmd `KeepDisable` = GetKeep then SetKeep
    /// with `UseKeepConnect`=0 (verified).
    pub struct Keep {
        /// `UseKeepConnect`.
        use_keep_connect: bool = "UseKeepConnect" as bool,
        /// `KeepConnectHost`.
        keep_connect_host: String = "KeepConnectHost" as str,
        /// `KeepConnectPort`.
        keep_connect_port: u32 = "KeepConnectPort" as int,
        /// `KeepConnectProtocol`: 0 TCP, 1 UDP.
        keep_connect_protocol: u32 = "KeepConnectProtocol" as int,
        /// `KeepConnectInterval` (seconds).
        keep_connect_interval: u32 = "KeepConnectInterval" as int,
    }
}

pack_struct! {
    /// RPC_CONFIG: `GetConfig`/`SetConfig` (docs/admin-rpc.md §6.7). `FileData`
    /// is the whole configuration text (UTF-8 with BOM, CRLF).
    pub struct Config {
        /// `FileName`: 9674 answers `$vpn_server.config`; vpncmd sends "".
        file_name: String = "FileName" as str,
        /// `FileData`.
        file_data: Vec<u8> = "FileData" as data,
    }
}

pack_struct! {
    /// RPC_BRIDGE_SUPPORT: `GetBridgeSupport` (vpncmd uses it only when
    /// GetCaps fails).
    pub struct BridgeSupport {
        /// `IsBridgeSupportedOs` (1 on Linux, verified).
        is_bridge_supported_os: bool = "IsBridgeSupportedOs" as bool,
        /// `IsWinPcapNeeded` (0 on Linux).
        is_win_pcap_needed: bool = "IsWinPcapNeeded" as bool,
    }
}

flat_message!(RpcTest, Listener, SetPassword, Keep, Config, BridgeSupport);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;
    use crate::rpc::TrafficSide;

    #[test]
    fn rpc_test_round_trip() {
        let p = round_trip(&RpcTest {
            int_value: 12345,
            int64_value: 1 << 40,
            str_value: "12345".into(),
            unistr_value: "é".into(),
        });
        assert_eq!(
            p.element("UniStrValue").unwrap().values[0]
                .value_type()
                .code(),
            3
        );
    }

    #[test]
    fn server_info_round_trip_and_types() {
        let v = ServerInfo {
            fields: ServerInfoFields {
                server_product_name: "RustEther".into(),
                server_version_string: "Version 5.01 Build 9674   (English)".into(),
                server_build_info_string: "b".into(),
                server_ver_int: 501,
                server_build_int: 9674,
                server_host_name: "vm".into(),
                server_type: 0,
                server_build_date: 1_665_878_652_000,
                server_family_name: "SoftEtherDev".into(),
            },
            os: OsInfo {
                os_type: 3100,
                os_system_name: "Linux".into(),
                ..OsInfo::default()
            },
        };
        let p = round_trip(&v);
        // the element set observed from 9674 (17 elements)
        assert_eq!(p.len(), 17);
        assert_eq!(p.get_int64("ServerBuildDate"), Some(1_665_878_652_000));
        assert_eq!(p.get_int("OsType"), Some(3100));
        let out = v.to_out();
        assert_eq!(
            out.hint("ServerBuildDate").kind,
            crate::outpack::JsonKind::Time
        );
    }

    #[test]
    fn server_status_round_trip() {
        let v = ServerStatus {
            fields: ServerStatusFields {
                num_hub_total: 2,
                current_time: 5,
                current_tick: 7368,
                start_time: 3,
                ..ServerStatusFields::default()
            },
            traffic: Traffic {
                recv: TrafficSide {
                    unicast_bytes: 9,
                    ..TrafficSide::default()
                },
                ..Traffic::default()
            },
            mem: MemInfo {
                total_phys: 1 << 33,
                ..MemInfo::default()
            },
        };
        let p = round_trip(&v);
        assert_eq!(p.len(), 22 + 8 + 6);
    }

    #[test]
    fn listener_list_arrays() {
        let v = ListenerList {
            listeners: vec![
                ListenerItem {
                    port: 5555,
                    enable: true,
                    error: false,
                },
                ListenerItem {
                    port: 443,
                    enable: false,
                    error: true,
                },
            ],
        };
        let p = round_trip(&v);
        assert_eq!(p.count("Ports"), 2);
        assert_eq!(p.get_int_at("Ports", 1), Some(443));
        assert!(p.get_bool_at("Errors", 1));
        // an empty list has no elements at all (docs/admin-rpc.md §2)
        let p = round_trip(&ListenerList::default());
        assert!(p.is_empty());
        round_trip(&Listener {
            port: 5556,
            enable: true,
        });
    }

    #[test]
    fn caps_write_both_forms_and_read_int_form() {
        let v = CapsList {
            caps: vec![
                ("b_standalone".into(), 1),
                ("i_max_packet_size".into(), 1600),
            ],
        };
        let p = round_trip(&v);
        assert_eq!(p.get_int("caps_i_max_packet_size"), Some(1600));
        assert_eq!(p.get_str_at("CapsName", 1), Some("i_max_packet_size"));
        assert_eq!(p.get_int_at("CapsValue", 0), Some(1));
        assert_eq!(p.get_unistr_at("CapsDescrption", 0), Some("b_standalone"));
        assert_eq!(v.get("B_STANDALONE"), Some(1));
    }

    #[test]
    fn other_server_messages_round_trip() {
        round_trip(&SetPassword {
            hashed_password: [3; 20],
            plain_text_password: String::new(),
        });
        round_trip(&Keep {
            use_keep_connect: false,
            keep_connect_host: "127.0.0.1".into(),
            keep_connect_port: 80,
            keep_connect_protocol: 1,
            keep_connect_interval: 50,
        });
        round_trip(&Config {
            file_name: "$vpn_server.config".into(),
            file_data: b"\xef\xbb\xbfdeclare root\r\n{\r\n}\r\n".to_vec(),
        });
        round_trip(&BridgeSupport {
            is_bridge_supported_os: true,
            is_win_pcap_needed: false,
        });
        let p = round_trip(&KeyPair {
            cert: Some(vec![0x30, 1]),
            chain: vec![vec![1], vec![2, 3]],
            key: None,
            flag1: 0,
        });
        assert!(p.element("Key").is_none());
        assert_eq!(p.count("Chain"), 2);
    }

    #[test]
    fn set_password_hash_of_wrong_size_reads_as_zero() {
        let mut p = Pack::new();
        p.add_data("HashedPassword", &[1; 21]);
        p.add_str("PlainTextPassword", "  pw  ");
        let v = SetPassword::from_pack(&p).unwrap();
        assert_eq!(v.hashed_password, [0; 20]);
        assert_eq!(v.plain_text_password, "pw");
    }
}
