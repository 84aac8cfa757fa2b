//! Cascade ("link") RPCs (docs/admin-rpc.md §6.6).

use rustether_proto::{ErrorCode, Pack};

use super::{
    flat_message, pack_struct, push_kind, read_items, write_kind, ClientAuth, ClientOption,
    ConnectionStatus, Policy, Reader, RpcMessage,
};
use crate::outpack::OutPack;

/// RPC_CREATE_LINK: request and response of `CreateLink`, `GetLink`,
/// `SetLink` (`OutRpcCreateLink`; field set verified). `HubName_Ex` is the
/// **local** hub; CLIENT_OPTION's `HubName` the remote one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateLink {
    /// `HubName_Ex`.
    pub hub_name: String,
    /// `Online`.
    pub online: bool,
    /// CLIENT_OPTION.
    pub option: ClientOption,
    /// CLIENT_AUTH.
    pub auth: ClientAuth,
    /// POLICY.
    pub policy: Policy,
    /// `CheckServerCert`.
    pub check_server_cert: bool,
    /// `AddDefaultCA` (master).
    pub add_default_ca: bool,
    /// `ServerCert` (DER), if set.
    pub server_cert: Option<Vec<u8>>,
}

impl RpcMessage for CreateLink {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(CreateLink {
            hub_name: r.name("HubName_Ex", 0)?,
            online: r.bool("Online", 0)?,
            option: ClientOption::read_fields(&r)?,
            auth: ClientAuth::read(&r)?,
            policy: Policy::read(&r)?,
            check_server_cert: r.bool("CheckServerCert", 0)?,
            add_default_ca: r.bool("AddDefaultCA", 0)?,
            server_cert: r.opt_data("ServerCert", 0)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName_Ex", &self.hub_name);
        o.bool("Online", self.online);
        self.option.write_fields(o);
        self.auth.write(o);
        self.policy.write(o);
        o.bool("CheckServerCert", self.check_server_cert);
        o.bool("AddDefaultCA", self.add_default_ca);
        if let Some(c) = &self.server_cert {
            o.data("ServerCert", c);
        }
    }
}

/// `LINK_DEVICE_NAME`: the pseudo device name of every cascade
/// (`src/Cedar/Link.h`).
pub const LINK_DEVICE_NAME: &str = "_SEHUBLINKCLI_";

impl CreateLink {
    /// The normalisation the server applies when it stores a cascade
    /// (`NewLink`, `StSetLink`; verified via GetLink, docs/admin-rpc.md §6.6):
    /// device name [`LINK_DEVICE_NAME`], retry forever, `RetryInterval` 10,
    /// `NoRoutingTracking` on, bridge/routing mode on, monitor mode off.
    /// `CreateLink` additionally stores the cascade offline.
    pub fn normalize_for_server(&mut self) {
        let o = &mut self.option;
        o.device_name = LINK_DEVICE_NAME.to_owned();
        o.num_retry = u32::MAX;
        o.retry_interval = 10;
        o.no_routing_tracking = true;
        o.require_bridge_routing_mode = true;
        o.require_monitor_mode = false;
    }
}

pack_struct! {
    /// One cascade of [`EnumLink`].
    pub struct EnumLinkItem {
        /// `AccountName[]` (UNISTR).
        account_name: String = "AccountName" as uname,
        /// `Hostname[]`: destination server.
        hostname: String = "Hostname" as str,
        /// `ConnectedHubName[]`: remote hub (also sent as `TargetHubName[]`).
        hub_name: String = "ConnectedHubName" as name,
        /// `Online[]`.
        online: bool = "Online" as bool,
        /// `ConnectedTime[]`.
        connected_time: u64 = "ConnectedTime" as time,
        /// `Connected[]`.
        connected: bool = "Connected" as bool,
        /// `LastError[]`: last error code (vpncmd shows `Error N: …`).
        last_error: u32 = "LastError" as int,
    }
}

/// RPC_ENUM_LINK: request (`HubName`) and response of `EnumLink` (vpncmd
/// `CascadeList`). Count = number of `AccountName` values; JSON group
/// `LinkList`; the remote hub travels twice, as `ConnectedHubName[]` and
/// `TargetHubName[]` (verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumLink {
    /// `HubName`: the local hub.
    pub hub_name: String,
    /// The cascades.
    pub links: Vec<EnumLinkItem>,
}

impl RpcMessage for EnumLink {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumLink {
            hub_name: r.name("HubName", 0)?,
            links: read_items(&r, r.count("AccountName"), |r, i| {
                let mut item = EnumLinkItem::read_item(r, i)?;
                // InRpcEnumLink: ConnectedHubName, else TargetHubName
                if r.pack().get_str_at("ConnectedHubName", i).is_none() {
                    item.hub_name = r.name("TargetHubName", i)?;
                }
                Ok(item)
            })?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("LinkList", |o| {
            for l in &self.links {
                l.push_item(o);
                o.push_str("TargetHubName", &l.hub_name);
            }
        });
    }
}

/// RPC_LINK_STATUS: request (`HubName_Ex` — not `HubName`, verified —
/// and `AccountName`) and response of `GetLinkStatus` (vpncmd
/// `CascadeStatusGet`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStatus {
    /// `HubName_Ex`: the local hub.
    pub hub_name: String,
    /// `AccountName` (UNISTR).
    pub account_name: String,
    /// CONNECTION_STATUS.
    pub status: ConnectionStatus,
}

impl RpcMessage for LinkStatus {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(LinkStatus {
            hub_name: r.name("HubName_Ex", 0)?,
            account_name: r.uname("AccountName", 0)?,
            status: ConnectionStatus::read(&r)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName_Ex", &self.hub_name);
        o.ustr("AccountName", &self.account_name);
        self.status.write(o);
    }
}

pack_struct! {
    /// RPC_LINK: `SetLinkOnline`, `SetLinkOffline`, `DeleteLink` request
    /// and echo (vpncmd `CascadeOnline`/`CascadeOffline`/`CascadeDelete`).
    pub struct Link {
        /// `HubName`: the local hub.
        hub_name: String = "HubName" as name,
        /// `AccountName` (UNISTR).
        account_name: String = "AccountName" as uname,
    }
}

flat_message!(Link);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;
    use crate::rpc::ConnectionStatusFields;

    /// What vpncmd `CascadeCreate l /SERVER:h:5555 /HUB:TEST2 /USERNAME:bob`
    /// sends (docs/admin-rpc.md §6.6, verified).
    fn vpncmd_create() -> CreateLink {
        CreateLink {
            hub_name: "TEST".into(),
            online: false,
            option: ClientOption {
                account_name: "link2".into(),
                hostname: "127.0.0.1".into(),
                port: 5555,
                hub_name: "TEST2".into(),
                max_connection: 8,
                use_encrypt: true,
                num_retry: u32::MAX,
                retry_interval: 15,
                additional_connection_interval: 1,
                require_bridge_routing_mode: true,
                bind_local_ip: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
                ..ClientOption::default()
            },
            auth: ClientAuth {
                auth_type: 0,
                username: "bob".into(),
                ..ClientAuth::default()
            },
            policy: Policy {
                access: true,
                max_connection: 32,
                time_out: 20,
                ..Policy::default()
            },
            check_server_cert: false,
            add_default_ca: false,
            server_cert: None,
        }
    }

    #[test]
    fn create_link_round_trip() {
        let v = vpncmd_create();
        let p = round_trip(&v);
        assert_eq!(p.get_str("HubName_Ex"), Some("TEST"));
        assert_eq!(p.get_str("HubName"), Some("TEST2"));
        assert_eq!(p.get_unistr("AccountName"), Some("link2"));
        assert_eq!(p.get_int("NumRetry"), Some(u32::MAX));
        assert!(p.element("ServerCert").is_none());
        let mut v = v;
        v.server_cert = Some(vec![0x30, 0x82]);
        v.auth.auth_type = ClientAuth::HASHED_PASSWORD;
        v.auth.hashed_password = rustether_proto::password::hash_password("bob", "bobpw");
        round_trip(&v);
    }

    #[test]
    fn server_normalisation() {
        let mut v = vpncmd_create();
        v.option.require_monitor_mode = true;
        v.option.retry_interval = 15;
        v.normalize_for_server();
        assert_eq!(v.option.device_name, LINK_DEVICE_NAME);
        assert_eq!(v.option.num_retry, u32::MAX);
        assert_eq!(v.option.retry_interval, 10);
        assert!(v.option.no_routing_tracking && v.option.require_bridge_routing_mode);
        assert!(!v.option.require_monitor_mode);
    }

    #[test]
    fn enum_link_sends_hub_twice_and_reads_either() {
        let v = EnumLink {
            hub_name: "TEST".into(),
            links: vec![EnumLinkItem {
                account_name: "link2".into(),
                hostname: "127.0.0.1".into(),
                hub_name: "TEST2".into(),
                online: true,
                connected_time: 1_795_284_104_782,
                connected: true,
                last_error: 0,
            }],
        };
        let p = round_trip(&v);
        assert_eq!(p.get_str_at("TargetHubName", 0), Some("TEST2"));
        let mut only_target = p.clone();
        only_target.remove("ConnectedHubName");
        assert_eq!(EnumLink::from_pack(&only_target).unwrap(), v);
    }

    #[test]
    fn link_status_and_link_round_trip() {
        round_trip(&LinkStatus {
            hub_name: "TEST".into(),
            account_name: "link2".into(),
            status: ConnectionStatus {
                fields: ConnectionStatusFields {
                    account_name: "link2".into(),
                    session_status: 3,
                    cipher_name: "TLS_AES_256_GCM_SHA384".into(),
                    ..ConnectionStatusFields::default()
                },
                server_x: Some(vec![1, 2, 3]),
                ..ConnectionStatus::default()
            },
        });
        round_trip(&Link {
            hub_name: "TEST".into(),
            account_name: "link2".into(),
        });
    }
}
