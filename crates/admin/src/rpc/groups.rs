//! Field groups shared by several RPCs (docs/admin-rpc.md §5).

pub use rustether_proto::softether::auth::UserAuth;
use rustether_proto::softether::auth::{
    AUTHTYPE_ANONYMOUS, AUTHTYPE_NT, AUTHTYPE_PASSWORD, AUTHTYPE_RADIUS, AUTHTYPE_ROOTCERT,
    AUTHTYPE_USERCERT,
};
use rustether_proto::ErrorCode;

use super::Reader;
use crate::outpack::OutPack;

type R<T> = Result<T, ErrorCode>;

/// One direction of a TRAFFIC counter set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficSide {
    /// Bytes of broadcast frames.
    pub broadcast_bytes: u64,
    /// Number of broadcast frames.
    pub broadcast_count: u64,
    /// Bytes of unicast frames.
    pub unicast_bytes: u64,
    /// Number of unicast frames.
    pub unicast_count: u64,
}

/// TRAFFIC: eight INT64 counters `Recv.*`/`Send.*` (`OutRpcTraffic`,
/// `src/Cedar/Client.c`); in enumerations prefixed `Ex.` (`OutRpcTrafficEx`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Received by the hub / session.
    pub recv: TrafficSide,
    /// Sent by the hub / session.
    pub send: TrafficSide,
}

const TRAFFIC_KEYS: [&str; 4] = [
    "BroadcastBytes",
    "BroadcastCount",
    "UnicastBytes",
    "UnicastCount",
];

impl TrafficSide {
    fn get(&self, k: usize) -> u64 {
        [
            self.broadcast_bytes,
            self.broadcast_count,
            self.unicast_bytes,
            self.unicast_count,
        ][k]
    }
    fn set(&mut self, k: usize, v: u64) {
        *[
            &mut self.broadcast_bytes,
            &mut self.broadcast_count,
            &mut self.unicast_bytes,
            &mut self.unicast_count,
        ][k] = v;
    }
}

impl Traffic {
    fn read_prefixed(r: &Reader<'_>, prefix: &str, i: usize) -> R<Traffic> {
        let mut t = Traffic::default();
        for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
            t.recv.set(k, r.int64(&format!("{prefix}Recv.{key}"), i)?);
            t.send.set(k, r.int64(&format!("{prefix}Send.{key}"), i)?);
        }
        Ok(t)
    }

    pub(crate) fn read(r: &Reader<'_>) -> R<Traffic> {
        Traffic::read_prefixed(r, "", 0)
    }

    pub(crate) fn read_item(r: &Reader<'_>, i: usize) -> R<Traffic> {
        Traffic::read_prefixed(r, "Ex.", i)
    }

    pub(crate) fn write(&self, o: &mut OutPack) {
        for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
            o.int64(&format!("Recv.{key}"), self.recv.get(k));
        }
        for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
            o.int64(&format!("Send.{key}"), self.send.get(k));
        }
    }

    pub(crate) fn push_item(&self, o: &mut OutPack) {
        for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
            o.push_int64(&format!("Ex.Recv.{key}"), self.recv.get(k));
        }
        for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
            o.push_int64(&format!("Ex.Send.{key}"), self.send.get(k));
        }
    }
}

pack_struct! {
    /// OS_INFO (`OutRpcOsInfo`, `src/Cedar/Admin.c`).
    pub struct OsInfo {
        /// `OsType`: 3100 = Linux (`OSTYPE_LINUX`).
        os_type: u32 = "OsType" as int,
        /// `OsServicePack`.
        os_service_pack: u32 = "OsServicePack" as int,
        /// `OsSystemName`, e.g. `Linux`.
        os_system_name: String = "OsSystemName" as str,
        /// `OsProductName`, e.g. `Debian GNU/Linux`.
        os_product_name: String = "OsProductName" as str,
        /// `OsVendorName`.
        os_vendor_name: String = "OsVendorName" as str,
        /// `OsVersion`.
        os_version: String = "OsVersion" as str,
        /// `KernelName`, e.g. `UNIX`.
        kernel_name: String = "KernelName" as str,
        /// `KernelVersion`.
        kernel_version: String = "KernelVersion" as str,
    }
}

pack_struct! {
    /// MEMINFO of GetServerStatus (`OutRpcMemInfo`); bytes, 9674 reports 0
    /// on Linux (verified).
    pub struct MemInfo {
        /// `TotalMemory`.
        total_memory: u64 = "TotalMemory" as int64,
        /// `UsedMemory`.
        used_memory: u64 = "UsedMemory" as int64,
        /// `FreeMemory`.
        free_memory: u64 = "FreeMemory" as int64,
        /// `TotalPhys`.
        total_phys: u64 = "TotalPhys" as int64,
        /// `UsedPhys`.
        used_phys: u64 = "UsedPhys" as int64,
        /// `FreePhys`.
        free_phys: u64 = "FreePhys" as int64,
    }
}

pack_struct! {
    /// HUB_OPTION (`OutRpcHubOption`); `DefaultGateway`/`DefaultSubnet`
    /// exist only in master (IPv4 as INT, byte order of `IPToUINT`), 9674
    /// ignores them.
    pub struct HubOption {
        /// `DefaultGateway` (master).
        default_gateway: u32 = "DefaultGateway" as int,
        /// `DefaultSubnet` (master).
        default_subnet: u32 = "DefaultSubnet" as int,
        /// `MaxSession`: 0 = unlimited.
        max_session: u32 = "MaxSession" as int,
        /// `NoEnum`: hide the hub from anonymous enumeration.
        no_enum: bool = "NoEnum" as bool,
    }
}

pack_struct! {
    /// POLICY: elements `policy:<Name>` (`PackAddPolicy`,
    /// `src/Cedar/Protocol.c`); writing always adds `policy:Ver3`=1.
    pub struct Policy {
        /// `policy:Access`.
        access: bool = "policy:Access" as bool,
        /// `policy:DHCPFilter`.
        dhcp_filter: bool = "policy:DHCPFilter" as bool,
        /// `policy:DHCPNoServer`.
        dhcp_no_server: bool = "policy:DHCPNoServer" as bool,
        /// `policy:DHCPForce`.
        dhcp_force: bool = "policy:DHCPForce" as bool,
        /// `policy:NoBridge`.
        no_bridge: bool = "policy:NoBridge" as bool,
        /// `policy:NoRouting`.
        no_routing: bool = "policy:NoRouting" as bool,
        /// `policy:PrivacyFilter`.
        privacy_filter: bool = "policy:PrivacyFilter" as bool,
        /// `policy:NoServer`.
        no_server: bool = "policy:NoServer" as bool,
        /// `policy:CheckMac`.
        check_mac: bool = "policy:CheckMac" as bool,
        /// `policy:CheckIP`.
        check_ip: bool = "policy:CheckIP" as bool,
        /// `policy:ArpDhcpOnly`.
        arp_dhcp_only: bool = "policy:ArpDhcpOnly" as bool,
        /// `policy:MonitorPort`.
        monitor_port: bool = "policy:MonitorPort" as bool,
        /// `policy:NoBroadcastLimiter`.
        no_broadcast_limiter: bool = "policy:NoBroadcastLimiter" as bool,
        /// `policy:FixPassword`.
        fix_password: bool = "policy:FixPassword" as bool,
        /// `policy:NoQoS`.
        no_qos: bool = "policy:NoQoS" as bool,
        /// `policy:RSandRAFilter`.
        rs_and_ra_filter: bool = "policy:RSandRAFilter" as bool,
        /// `policy:RAFilter`.
        ra_filter: bool = "policy:RAFilter" as bool,
        /// `policy:DHCPv6Filter`.
        dhcpv6_filter: bool = "policy:DHCPv6Filter" as bool,
        /// `policy:DHCPv6NoServer`.
        dhcpv6_no_server: bool = "policy:DHCPv6NoServer" as bool,
        /// `policy:NoRoutingV6`.
        no_routing_v6: bool = "policy:NoRoutingV6" as bool,
        /// `policy:CheckIPv6`.
        check_ipv6: bool = "policy:CheckIPv6" as bool,
        /// `policy:NoServerV6`.
        no_server_v6: bool = "policy:NoServerV6" as bool,
        /// `policy:NoSavePassword`.
        no_save_password: bool = "policy:NoSavePassword" as bool,
        /// `policy:FilterIPv4`.
        filter_ipv4: bool = "policy:FilterIPv4" as bool,
        /// `policy:FilterIPv6`.
        filter_ipv6: bool = "policy:FilterIPv6" as bool,
        /// `policy:FilterNonIP`.
        filter_non_ip: bool = "policy:FilterNonIP" as bool,
        /// `policy:NoIPv6DefaultRouterInRA`.
        no_ipv6_default_router_in_ra: bool = "policy:NoIPv6DefaultRouterInRA" as bool,
        /// `policy:NoIPv6DefaultRouterInRAWhenIPv6`.
        no_ipv6_default_router_in_ra_when_ipv6: bool = "policy:NoIPv6DefaultRouterInRAWhenIPv6" as bool,
        /// `policy:MaxConnection`.
        max_connection: u32 = "policy:MaxConnection" as int,
        /// `policy:TimeOut` (seconds).
        time_out: u32 = "policy:TimeOut" as int,
        /// `policy:MaxMac`.
        max_mac: u32 = "policy:MaxMac" as int,
        /// `policy:MaxIP`.
        max_ip: u32 = "policy:MaxIP" as int,
        /// `policy:MaxUpload` (bit/s).
        max_upload: u32 = "policy:MaxUpload" as int,
        /// `policy:MaxDownload` (bit/s).
        max_download: u32 = "policy:MaxDownload" as int,
        /// `policy:MultiLogins`.
        multi_logins: u32 = "policy:MultiLogins" as int,
        /// `policy:MaxIPv6`.
        max_ipv6: u32 = "policy:MaxIPv6" as int,
        /// `policy:AutoDisconnect` (seconds).
        auto_disconnect: u32 = "policy:AutoDisconnect" as int,
        /// `policy:VLanId`.
        vlan_id: u32 = "policy:VLanId" as int,
    }
}

impl Policy {
    pub(crate) fn read(r: &Reader<'_>) -> R<Policy> {
        Policy::read_fields(r)
    }

    pub(crate) fn write(&self, o: &mut OutPack) {
        self.write_fields(o);
        o.bool("policy:Ver3", true);
    }
}

pack_struct! {
    /// CLIENT_OPTION: the target of a cascade (`OutRpcClientOption`,
    /// `src/Cedar/Client.c`). `Hostname` may carry `host/hint` (kept as
    /// sent). `BindLocalIP`/`BindLocalPort` are master additions.
    pub struct ClientOption {
        /// `AccountName` (UNISTR): the cascade's name.
        account_name: String = "AccountName" as uname,
        /// `Hostname`: destination server.
        hostname: String = "Hostname" as str,
        /// `Port`: destination TCP port.
        port: u32 = "Port" as int,
        /// `PortUDP`.
        port_udp: u32 = "PortUDP" as int,
        /// `ProxyType`: 0 direct, 1 HTTP, 2 SOCKS4, 3 SOCKS5.
        proxy_type: u32 = "ProxyType" as int,
        /// `ProxyName`.
        proxy_name: String = "ProxyName" as str,
        /// `ProxyPort`.
        proxy_port: u32 = "ProxyPort" as int,
        /// `ProxyUsername`.
        proxy_username: String = "ProxyUsername" as str,
        /// `ProxyPassword`.
        proxy_password: String = "ProxyPassword" as str,
        /// `CustomHttpHeader`.
        custom_http_header: String = "CustomHttpHeader" as str,
        /// `HubName`: the hub on the remote server.
        hub_name: String = "HubName" as name,
        /// `DeviceName` (`_SEHUBLINKCLI_` for cascades).
        device_name: String = "DeviceName" as str,
        /// `NumRetry` (4294967295 = forever).
        num_retry: u32 = "NumRetry" as int,
        /// `RetryInterval` (seconds).
        retry_interval: u32 = "RetryInterval" as int,
        /// `MaxConnection`: TCP connections 1..32.
        max_connection: u32 = "MaxConnection" as int,
        /// `UseEncrypt`.
        use_encrypt: bool = "UseEncrypt" as bool,
        /// `UseCompress`.
        use_compress: bool = "UseCompress" as bool,
        /// `HalfConnection`.
        half_connection: bool = "HalfConnection" as bool,
        /// `NoRoutingTracking`.
        no_routing_tracking: bool = "NoRoutingTracking" as bool,
        /// `AdditionalConnectionInterval` (seconds).
        additional_connection_interval: u32 = "AdditionalConnectionInterval" as int,
        /// `ConnectionDisconnectSpan` (seconds).
        connection_disconnect_span: u32 = "ConnectionDisconnectSpan" as int,
        /// `HideStatusWindow`.
        hide_status_window: bool = "HideStatusWindow" as bool,
        /// `HideNicInfoWindow`.
        hide_nic_info_window: bool = "HideNicInfoWindow" as bool,
        /// `RequireMonitorMode`.
        require_monitor_mode: bool = "RequireMonitorMode" as bool,
        /// `RequireBridgeRoutingMode`.
        require_bridge_routing_mode: bool = "RequireBridgeRoutingMode" as bool,
        /// `DisableQoS`.
        disable_qos: bool = "DisableQoS" as bool,
        /// `FromAdminPack`.
        from_admin_pack: bool = "FromAdminPack" as bool,
        /// `NoUdpAcceleration`.
        no_udp_acceleration: bool = "NoUdpAcceleration" as bool,
        /// `HostUniqueKey` (20 bytes).
        host_unique_key: [u8; 20] = "HostUniqueKey" as h20,
        /// `BindLocalIP` (master).
        bind_local_ip: Option<std::net::IpAddr> = "BindLocalIP" as ip,
        /// `BindLocalPort` (master).
        bind_local_port: u32 = "BindLocalPort" as int,
    }
}

/// CLIENT_AUTH: how a cascade authenticates (`OutRpcClientAuth`,
/// `src/Cedar/Client.c`). Only the fields of `auth_type` travel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientAuth {
    /// `AuthType`: 0 anonymous, 1 hashed password, 2 plain password,
    /// 3 client certificate, 4 smart card, 5 OpenSSL engine.
    pub auth_type: u32,
    /// `Username`.
    pub username: String,
    /// `HashedPassword` (type 1) = SHA-0(password ‖ UPPER(username)).
    pub hashed_password: [u8; 20],
    /// `PlainPassword` (type 2).
    pub plain_password: String,
    /// `ClientX` DER certificate (types 3, 5).
    pub client_x: Option<Vec<u8>>,
    /// `ClientK` DER private key (type 3).
    pub client_k: Option<Vec<u8>>,
    /// `SecurePublicCertName` (type 4).
    pub secure_public_cert_name: String,
    /// `SecurePrivateKeyName` (type 4).
    pub secure_private_key_name: String,
    /// `OpensslEnginePrivateKeyName` (type 5).
    pub openssl_engine_private_key_name: String,
    /// `OpensslEngineName` (type 5).
    pub openssl_engine_name: String,
}

impl ClientAuth {
    /// `CLIENT_AUTHTYPE_PASSWORD`.
    pub const HASHED_PASSWORD: u32 = 1;
    /// `CLIENT_AUTHTYPE_PLAIN_PASSWORD`.
    pub const PLAIN_PASSWORD: u32 = 2;
    /// `CLIENT_AUTHTYPE_CERT`.
    pub const CERT: u32 = 3;

    pub(crate) fn read(r: &Reader<'_>) -> R<ClientAuth> {
        let mut a = ClientAuth {
            auth_type: r.int("AuthType", 0)?,
            username: r.name("Username", 0)?,
            ..ClientAuth::default()
        };
        match a.auth_type {
            1 => a.hashed_password = r.h20("HashedPassword", 0)?,
            2 => a.plain_password = r.str("PlainPassword", 0)?,
            3 => {
                a.client_x = r.opt_data("ClientX", 0)?;
                a.client_k = r.opt_data("ClientK", 0)?;
            }
            4 => {
                a.secure_public_cert_name = r.str("SecurePublicCertName", 0)?;
                a.secure_private_key_name = r.str("SecurePrivateKeyName", 0)?;
            }
            5 => {
                a.client_x = r.opt_data("ClientX", 0)?;
                a.openssl_engine_private_key_name = r.str("OpensslEnginePrivateKeyName", 0)?;
                a.openssl_engine_name = r.str("OpensslEngineName", 0)?;
            }
            _ => {}
        }
        Ok(a)
    }

    pub(crate) fn write(&self, o: &mut OutPack) {
        o.int("AuthType", self.auth_type);
        o.str("Username", &self.username);
        match self.auth_type {
            1 => o.data("HashedPassword", &self.hashed_password),
            2 => o.str("PlainPassword", &self.plain_password),
            3 => {
                if let Some(x) = &self.client_x {
                    o.data("ClientX", x);
                }
                if let Some(k) = &self.client_k {
                    o.data("ClientK", k);
                }
            }
            4 => {
                o.str("SecurePublicCertName", &self.secure_public_cert_name);
                o.str("SecurePrivateKeyName", &self.secure_private_key_name);
            }
            5 => {
                if let Some(x) = &self.client_x {
                    o.data("ClientX", x);
                }
                o.str(
                    "OpensslEnginePrivateKeyName",
                    &self.openssl_engine_private_key_name,
                );
                o.str("OpensslEngineName", &self.openssl_engine_name);
            }
            _ => {}
        }
    }
}

pack_struct! {
    /// The scalar part of CONNECTION_STATUS (`OutRpcClientGetConnectionStatus`,
    /// `src/Cedar/Client.c`); see [`ConnectionStatus`].
    pub struct ConnectionStatusFields {
        /// `AccountName` (UNISTR).
        account_name: String = "AccountName" as ustr,
        /// `ServerName`.
        server_name: String = "ServerName" as str,
        /// `ServerProductName`.
        server_product_name: String = "ServerProductName" as str,
        /// `ProtocolVersion` (master).
        protocol_version: String = "ProtocolVersion" as str,
        /// `CipherName`, e.g. `TLS_AES_256_GCM_SHA384`.
        cipher_name: String = "CipherName" as str,
        /// `SessionName`.
        session_name: String = "SessionName" as str,
        /// `ConnectionName`.
        connection_name: String = "ConnectionName" as str,
        /// `SessionKey` (20 bytes).
        session_key: [u8; 20] = "SessionKey" as h20,
        /// `Active`.
        active: bool = "Active" as bool,
        /// `Connected`.
        connected: bool = "Connected" as bool,
        /// `SessionStatus`: 0 connecting, 1 negotiation, 2 auth,
        /// 3 established, 4 retry, 5 idle.
        session_status: u32 = "SessionStatus" as int,
        /// `ServerPort`.
        server_port: u32 = "ServerPort" as int,
        /// `ServerProductVer`.
        server_product_ver: u32 = "ServerProductVer" as int,
        /// `ServerProductBuild`.
        server_product_build: u32 = "ServerProductBuild" as int,
        /// `NumConnectionsEstablished`.
        num_connections_established: u32 = "NumConnectionsEstablished" as int,
        /// `HalfConnection`.
        half_connection: bool = "HalfConnection" as bool,
        /// `QoS`.
        qos: bool = "QoS" as bool,
        /// `MaxTcpConnections`.
        max_tcp_connections: u32 = "MaxTcpConnections" as int,
        /// `NumTcpConnections`.
        num_tcp_connections: u32 = "NumTcpConnections" as int,
        /// `NumTcpConnectionsUpload`.
        num_tcp_connections_upload: u32 = "NumTcpConnectionsUpload" as int,
        /// `NumTcpConnectionsDownload`.
        num_tcp_connections_download: u32 = "NumTcpConnectionsDownload" as int,
        /// `UseEncrypt`.
        use_encrypt: bool = "UseEncrypt" as bool,
        /// `UseCompress`.
        use_compress: bool = "UseCompress" as bool,
        /// `IsRUDPSession`.
        is_rudp_session: bool = "IsRUDPSession" as bool,
        /// `UnderlayProtocol`.
        underlay_protocol: String = "UnderlayProtocol" as str,
        /// `ProtocolDetails` (master).
        protocol_details: String = "ProtocolDetails" as str,
        /// `IsUdpAccelerationEnabled`.
        is_udp_acceleration_enabled: bool = "IsUdpAccelerationEnabled" as bool,
        /// `IsUsingUdpAcceleration`.
        is_using_udp_acceleration: bool = "IsUsingUdpAcceleration" as bool,
        /// `UdpAccelSendBytes`: datagram bytes sent over UDP acceleration
        /// (RustEther only; SoftEther has no such counter).
        udp_accel_send_bytes: u64 = "UdpAccelSendBytes" as int64,
        /// `UdpAccelRecvBytes`: datagram bytes accepted over UDP
        /// acceleration (RustEther only).
        udp_accel_recv_bytes: u64 = "UdpAccelRecvBytes" as int64,
        /// `IsBridgeMode`.
        is_bridge_mode: bool = "IsBridgeMode" as bool,
        /// `IsMonitorMode`.
        is_monitor_mode: bool = "IsMonitorMode" as bool,
        /// `StartTime`.
        start_time: u64 = "StartTime" as time,
        /// `FirstConnectionEstablisiedTime` (sic, SoftEther's spelling).
        first_connection_established_time: u64 = "FirstConnectionEstablisiedTime" as time,
        /// `CurrentConnectionEstablishTime`.
        current_connection_establish_time: u64 = "CurrentConnectionEstablishTime" as time,
        /// `TotalSendSize` (bytes).
        total_send_size: u64 = "TotalSendSize" as int64,
        /// `TotalRecvSize` (bytes).
        total_recv_size: u64 = "TotalRecvSize" as int64,
        /// `TotalSendSizeReal` (bytes).
        total_send_size_real: u64 = "TotalSendSizeReal" as int64,
        /// `TotalRecvSizeReal` (bytes).
        total_recv_size_real: u64 = "TotalRecvSizeReal" as int64,
        /// `VLanId`.
        vlan_id: u32 = "VLanId" as int,
    }
}

/// CONNECTION_STATUS: scalars, POLICY, TRAFFIC and the optional server and
/// client certificates `ServerX`/`ClientX` (DER).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStatus {
    /// The scalar fields.
    pub fields: ConnectionStatusFields,
    /// Policy of the session.
    pub policy: Policy,
    /// Traffic counters.
    pub traffic: Traffic,
    /// `ServerX`.
    pub server_x: Option<Vec<u8>>,
    /// `ClientX`.
    pub client_x: Option<Vec<u8>>,
}

impl ConnectionStatus {
    pub(crate) fn read(r: &Reader<'_>) -> R<ConnectionStatus> {
        Ok(ConnectionStatus {
            fields: ConnectionStatusFields::read_fields(r)?,
            policy: Policy::read(r)?,
            traffic: Traffic::read(r)?,
            server_x: r.opt_data("ServerX", 0)?,
            client_x: r.opt_data("ClientX", 0)?,
        })
    }

    pub(crate) fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.policy.write(o);
        self.traffic.write(o);
        if let Some(x) = &self.server_x {
            o.data("ServerX", x);
        }
        if let Some(x) = &self.client_x {
            o.data("ClientX", x);
        }
    }
}

pack_struct! {
    /// NODE_INFO: what the client reported at login (`OutRpcNodeInfo`,
    /// `src/Cedar/Admin.c`). The seven version/port numbers are stored here
    /// in natural form and travel byte-swapped (build 9674 = 0xCA250000 on
    /// the wire, verified, docs/admin-rpc.md §5).
    pub struct NodeInfo {
        /// `ClientProductName`.
        client_product_name: String = "ClientProductName" as str,
        /// `ServerProductName`.
        server_product_name: String = "ServerProductName" as str,
        /// `ClientOsName`.
        client_os_name: String = "ClientOsName" as str,
        /// `ClientOsVer`.
        client_os_ver: String = "ClientOsVer" as str,
        /// `ClientOsProductId`.
        client_os_product_id: String = "ClientOsProductId" as str,
        /// `ClientHostname`.
        client_hostname: String = "ClientHostname" as str,
        /// `ServerHostname`.
        server_hostname: String = "ServerHostname" as str,
        /// `ProxyHostname`.
        proxy_hostname: String = "ProxyHostname" as str,
        /// `HubName`.
        hub_name: String = "HubName" as str,
        /// `UniqueId` (16 bytes).
        unique_id: [u8; 16] = "UniqueId" as h16,
        /// `ClientProductVer`.
        client_product_ver: u32 = "ClientProductVer" as swapped,
        /// `ClientProductBuild`.
        client_product_build: u32 = "ClientProductBuild" as swapped,
        /// `ServerProductVer`.
        server_product_ver: u32 = "ServerProductVer" as swapped,
        /// `ServerProductBuild`.
        server_product_build: u32 = "ServerProductBuild" as swapped,
        /// `ClientIpAddress` (IPv4 IP field).
        client_ip_address: std::net::Ipv4Addr = "ClientIpAddress" as ip4,
        /// `ClientIpAddress6` (raw 16 bytes).
        client_ip_address6: [u8; 16] = "ClientIpAddress6" as h16,
        /// `ClientPort`.
        client_port: u32 = "ClientPort" as swapped,
        /// `ServerIpAddress` (IPv4 IP field).
        server_ip_address: std::net::Ipv4Addr = "ServerIpAddress" as ip4,
        /// `ServerIpAddress6`.
        server_ip_address6: [u8; 16] = "ServerIpAddress6" as h16,
        /// `ServerPort2`.
        server_port: u32 = "ServerPort2" as swapped,
        /// `ProxyIpAddress` (IPv4 IP field).
        proxy_ip_address: std::net::Ipv4Addr = "ProxyIpAddress" as ip4,
        /// `ProxyIpAddress6`.
        proxy_ip_address6: [u8; 16] = "ProxyIpAddress6" as h16,
        /// `ProxyPort`.
        proxy_port: u32 = "ProxyPort" as swapped,
    }
}

/// Reads AUTHDATA (`InRpcAuthData`, `src/Cedar/Admin.c`; docs/admin-rpc.md
/// §5) into the shared [`UserAuth`]: `AuthType` numbered as
/// `AUTHTYPE_*`, then `HashedKey`/`NtLmSecureHash` (1), `UserX` (2),
/// `Serial`/`CommonName` (3), `RadiusUsername` (4) or `NtUsername` (5).
/// For type 1 a plain `Auth_Password` (STR, used by JSON-RPC) is hashed
/// with `username` when `HashedKey` is all zero. Any other `AuthType` is
/// `ERR_INVALID_PARAMETER` (38).
pub(crate) fn read_user_auth(r: &Reader<'_>, username: &str) -> R<UserAuth> {
    Ok(match r.int("AuthType", 0)? {
        AUTHTYPE_ANONYMOUS => UserAuth::Anonymous,
        AUTHTYPE_PASSWORD => {
            let hash = r.h20("HashedKey", 0)?;
            let nt = r.h16("NtLmSecureHash", 0)?;
            match r.pack().get_str("Auth_Password") {
                Some(pw) if hash == [0; 20] => UserAuth::from_password(username, pw),
                _ => UserAuth::Password {
                    hash,
                    nt_hash: UserAuth::nt_hash_from_bytes(nt),
                },
            }
        }
        AUTHTYPE_USERCERT => UserAuth::UserCert {
            cert_der: r.data("UserX", 0)?,
        },
        AUTHTYPE_ROOTCERT => UserAuth::RootCert {
            // empty restrictions are none (the file form has no empty keys)
            serial: r.opt_data("Serial", 0)?.filter(|s| !s.is_empty()),
            common_name: r
                .pack()
                .get_unistr("CommonName")
                .filter(|c| !c.is_empty())
                .map(str::to_owned),
        },
        AUTHTYPE_RADIUS => UserAuth::Radius {
            username: r.ustr("RadiusUsername", 0)?,
        },
        AUTHTYPE_NT => UserAuth::Nt {
            username: r.ustr("NtUsername", 0)?,
        },
        _ => return Err(ErrorCode::INVALID_PARAMETER),
    })
}

/// Writes AUTHDATA (`OutRpcAuthData`), the inverse of [`read_user_auth`];
/// an unknown NT hash is sent as 16 zero bytes, as SoftEther stores it.
pub(crate) fn write_user_auth(a: &UserAuth, o: &mut OutPack) {
    o.int("AuthType", a.auth_type());
    match a {
        UserAuth::Password { hash, nt_hash } => {
            o.data("HashedKey", hash);
            o.data("NtLmSecureHash", &UserAuth::nt_hash_bytes(nt_hash));
        }
        UserAuth::UserCert { cert_der } => o.data("UserX", cert_der),
        UserAuth::RootCert {
            serial,
            common_name,
        } => {
            if let Some(s) = serial {
                o.data("Serial", s);
            }
            if let Some(c) = common_name {
                o.ustr("CommonName", c);
            }
        }
        UserAuth::Radius { username } => o.ustr("RadiusUsername", username),
        UserAuth::Nt { username } => o.ustr("NtUsername", username),
        UserAuth::Anonymous => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::Reader;
    use rustether_proto::Pack;

    fn read_back<T>(o: OutPack, f: impl Fn(&Reader<'_>) -> R<T>) -> T {
        let wire = Pack::decode(&o.into_pack().encode()).unwrap();
        f(&Reader::new(&wire)).unwrap()
    }

    #[test]
    fn traffic_scalar_and_ex_names() {
        let t = Traffic {
            recv: TrafficSide {
                broadcast_bytes: 1,
                broadcast_count: 2,
                unicast_bytes: 3,
                unicast_count: 4,
            },
            send: TrafficSide {
                broadcast_bytes: 5,
                broadcast_count: 6,
                unicast_bytes: 7,
                unicast_count: 8,
            },
        };
        let mut o = OutPack::new();
        t.write(&mut o);
        assert_eq!(o.pack().get_int64("Recv.UnicastCount"), Some(4));
        assert_eq!(o.pack().get_int64("Send.BroadcastBytes"), Some(5));
        assert_eq!(read_back(o, Traffic::read), t);
        let mut o = OutPack::new();
        t.push_item(&mut o);
        Traffic::default().push_item(&mut o);
        assert_eq!(o.pack().count("Ex.Send.UnicastBytes"), 2);
        assert_eq!(o.pack().get_int64_at("Ex.Send.UnicastBytes", 0), Some(7));
        assert_eq!(read_back(o, |r| Traffic::read_item(r, 0)), t);
    }

    #[test]
    fn policy_has_39_elements_with_ver3() {
        // docs/admin-rpc.md §5: 28 BOOL + 10 INT + policy:Ver3 = 39 (verified).
        let pol = Policy {
            access: true,
            max_connection: 32,
            time_out: 20,
            ..Policy::default()
        };
        let mut o = OutPack::new();
        pol.write(&mut o);
        assert_eq!(o.pack().len(), 39);
        assert!(o.pack().get_bool("policy:Ver3"));
        assert_eq!(o.pack().get_int("policy:TimeOut"), Some(20));
        assert_eq!(read_back(o, Policy::read), pol);
    }

    #[test]
    fn node_info_numbers_are_byte_swapped() {
        let n = NodeInfo {
            client_product_build: 9674,
            client_product_ver: 501,
            client_port: 7777,
            client_ip_address: std::net::Ipv4Addr::new(127, 0, 0, 1),
            ..NodeInfo::default()
        };
        let mut o = OutPack::new();
        n.write_fields(&mut o);
        // docs/admin-rpc.md §5 / docs/protocol-sslvpn.md §4.3 (verified values)
        assert_eq!(o.pack().get_int("ClientProductBuild"), Some(0xCA25_0000));
        assert_eq!(o.pack().get_int("ClientProductVer"), Some(0xF501_0000));
        assert_eq!(o.pack().get_int("ClientPort"), Some(0x611E_0000));
        assert_eq!(read_back(o, NodeInfo::read_fields), n);
    }

    #[test]
    fn client_auth_sends_only_fields_of_its_type() {
        let a = ClientAuth {
            auth_type: ClientAuth::HASHED_PASSWORD,
            username: "bob".into(),
            hashed_password: [7; 20],
            plain_password: "ignored".into(),
            ..ClientAuth::default()
        };
        let mut o = OutPack::new();
        a.write(&mut o);
        assert!(o.pack().element("PlainPassword").is_none());
        let back = read_back(o, ClientAuth::read);
        assert_eq!(back.hashed_password, [7; 20]);
        assert_eq!(back.plain_password, "");
        // a HashedPassword that is not 20 bytes reads as zeros (InRpcClientAuth)
        let mut p = Pack::new();
        p.add_int("AuthType", 1);
        p.add_data("HashedPassword", &[1; 19]);
        let back = ClientAuth::read(&Reader::new(&p)).unwrap();
        assert_eq!(back.hashed_password, [0; 20]);
    }

    #[test]
    fn user_auth_plain_password_is_hashed_like_the_server() {
        // docs/admin-rpc.md §6.3: "Secret1"/"alice" → 12fb9e84… and ed50bdc9…
        let mut p = Pack::new();
        p.add_int("AuthType", 1);
        p.add_str("Auth_Password", "Secret1");
        let a = read_user_auth(&Reader::new(&p), "alice").unwrap();
        match a {
            UserAuth::Password {
                hash,
                nt_hash: Some(nt),
            } => {
                assert_eq!(&hash[..4], &[0x12, 0xfb, 0x9e, 0x84]);
                assert_eq!(&nt[..4], &[0xed, 0x50, 0xbd, 0xc9]);
            }
            other => panic!("unexpected {other:?}"),
        }
        // a non-zero HashedKey wins over Auth_Password
        p.add_data("HashedKey", &[9; 20]);
        let a = read_user_auth(&Reader::new(&p), "alice").unwrap();
        assert!(matches!(a, UserAuth::Password { hash, .. } if hash == [9; 20]));
    }

    #[test]
    fn user_auth_variants_round_trip() {
        for a in [
            UserAuth::Anonymous,
            UserAuth::from_password("bob", "pw"),
            UserAuth::UserCert {
                cert_der: vec![1, 2],
            },
            UserAuth::RootCert {
                serial: Some(vec![3]),
                common_name: Some("cn".into()),
            },
            UserAuth::RootCert {
                serial: None,
                common_name: None,
            },
            UserAuth::Radius {
                username: "r".into(),
            },
            UserAuth::Nt {
                username: "n".into(),
            },
            UserAuth::Password {
                hash: [1; 20],
                nt_hash: None,
            },
        ] {
            let mut o = OutPack::new();
            write_user_auth(&a, &mut o);
            assert_eq!(read_back(o, |r| read_user_auth(r, "bob")), a);
        }
    }

    #[test]
    fn unknown_auth_types_are_invalid_parameters() {
        // AUTHTYPE_* stops at 5 for stored users; 96-99 are internal
        for t in [6, 96, 99, 77] {
            let mut p = Pack::new();
            p.add_int("AuthType", t);
            assert_eq!(
                read_user_auth(&Reader::new(&p), "bob"),
                Err(ErrorCode::INVALID_PARAMETER),
                "{t}"
            );
        }
    }
}
