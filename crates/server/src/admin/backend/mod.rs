//! [`AdminBackend`] over the running [`Server`] and the worker's
//! [`Listeners`]: every RPC reads the configuration (the source of truth)
//! and the live state (hubs, sessions, listeners, cascades, bridges); every
//! change goes through [`Server::update_config_blocking`], which saves the
//! file atomically before it returns, so a change is on disk before the RPC
//! is answered.
//!
//! The trait is synchronous and runs on tokio's blocking pool (see
//! [`super::execute`]); work that must wait on the runtime (stopping a
//! cascade or a local bridge, waiting for a disconnected session to end,
//! re-syncing after `SetConfig`) is queued as [`Deferred`] and awaited by
//! the caller before it sends the answer ([`finish`]).
//!
//! One file per RPC family, as in `rustether_admin::rpc`: `server.rs`
//! (server information, listeners, password, certificate, configuration),
//! `hub.rs`, `user.rs`, `session.rs`, `bridge.rs` (local bridges) and
//! `link.rs` (cascades). The trait implementation below only routes.
//!
//! Existence, duplicate and limit errors follow docs/admin-rpc.md §6 and §8.

mod access;
mod bridge;
mod ca;
mod group;
mod hub;
mod hubx;
mod l3;
mod link;
mod log;
mod server;
mod session;
mod standalone;
mod table;
mod user;

use std::sync::Arc;
use std::time::Duration;

use rustether_admin::rpc::*;
use rustether_admin::{AdminBackend, AdminRights};
use rustether_config::{CascadeConfig, Edition};
use rustether_proto::ErrorCode;

use super::Admin;
use crate::listener::Listeners;
use crate::server::Server;
use crate::session::Session;

/// Most virtual hubs (`caps_i_max_hubs`; `ERR_TOO_MANY_HUBS` beyond).
pub const MAX_HUBS: usize = 4096;
/// Most users per virtual hub (`caps_i_max_users_per_hub`;
/// `ERR_TOO_MANY_USER` beyond), SoftEther's 10 000.
pub const MAX_USERS_PER_HUB: usize = 10_000;
/// How long an answer waits for a disconnected session, a stopped cascade
/// or bridge to end.
const WAIT_ENDED: Duration = Duration::from_secs(3);

/// Work an RPC leaves to be awaited before its answer is sent.
#[derive(Debug)]
pub(crate) enum Deferred {
    /// Stop the running cascade and, with a configuration, start it again.
    RestartCascade {
        hub: String,
        name: String,
        cfg: Option<Box<CascadeConfig>>,
    },
    /// Stop the running local bridge of `hub` on `device`.
    StopBridge { hub: String, device: String },
    /// Wait (bounded) until a disconnected session has ended.
    WaitSession(Arc<Session>),
    /// Re-sync listeners, cascades and bridges with a replaced configuration.
    Reload,
    /// Start or stop SecureNAT of `hub` as its saved flag says.
    SecureNat { hub: String, enabled: bool },
}

/// The backend of one RPC call (see the module docs).
pub(crate) struct ServerBackend<'a> {
    server: &'a Arc<Server>,
    listeners: &'a Arc<Listeners>,
    deferred: Vec<Deferred>,
    /// The caller is a hub administrator: cascades it creates or changes
    /// may not connect to this server ([`CascadeConfig::set_by_hub_admin`]).
    hub_admin: bool,
}

/// Names of hubs, users, cascades, devices compare without case.
fn key_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl<'a> ServerBackend<'a> {
    /// The backend of one call by `rights`.
    pub(crate) fn new(admin: &'a Admin, rights: &AdminRights) -> ServerBackend<'a> {
        ServerBackend {
            server: &admin.server,
            listeners: &admin.listeners,
            deferred: Vec::new(),
            hub_admin: matches!(rights, AdminRights::Hub(_)),
        }
    }

    /// The work the call left for [`finish`].
    pub(crate) fn into_deferred(self) -> Vec<Deferred> {
        self.deferred
    }

    fn bridge_edition(&self) -> Result<(), ErrorCode> {
        // VPN Bridge: no hub or user management (SoftEther answers 33).
        if self.server.edition == Edition::Bridge {
            Err(ErrorCode::NOT_SUPPORTED)
        } else {
            Ok(())
        }
    }
}

/// Awaits the deferred work of a call, in order.
pub(crate) async fn finish(admin: &Admin, deferred: Vec<Deferred>) {
    for d in deferred {
        match d {
            Deferred::RestartCascade { hub, name, cfg } => {
                admin
                    .server
                    .restart_cascade(&hub, &name, cfg.map(|c| *c))
                    .await;
            }
            Deferred::StopBridge { hub, device } => admin.server.stop_bridge(&hub, &device).await,
            Deferred::WaitSession(s) => {
                let _ = tokio::time::timeout(WAIT_ENDED, s.wait_ended()).await;
            }
            Deferred::Reload => admin.reload().await,
            Deferred::SecureNat { hub, enabled } => {
                if enabled {
                    admin.server.start_securenat(&hub);
                } else {
                    admin.server.stop_securenat(&hub);
                }
            }
        }
    }
}

impl AdminBackend for ServerBackend<'_> {
    fn hub_admin_option(&self, hub: &str, name: &str) -> u32 {
        hub::hub_admin_option(self, hub, name)
    }

    fn enum_mac_table(&mut self, hub: &str) -> Result<EnumMacTable, ErrorCode> {
        table::enum_mac_table(self, hub)
    }

    fn delete_mac_table(&mut self, hub: &str, key: u32) -> Result<(), ErrorCode> {
        table::delete_mac_table(self, hub, key)
    }

    fn enum_ip_table(&mut self, hub: &str) -> Result<EnumIpTable, ErrorCode> {
        table::enum_ip_table(self, hub)
    }

    fn delete_ip_table(&mut self, hub: &str, key: u32) -> Result<(), ErrorCode> {
        table::delete_ip_table(self, hub, key)
    }

    fn create_group(&mut self, req: &SetGroup) -> Result<(), ErrorCode> {
        group::create_group(self, req)
    }

    fn set_group(&mut self, req: &SetGroup) -> Result<(), ErrorCode> {
        group::set_group(self, req)
    }

    fn get_group(&mut self, hub: &str, name: &str) -> Result<SetGroup, ErrorCode> {
        group::get_group(self, hub, name)
    }

    fn delete_group(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        group::delete_group(self, hub, name)
    }

    fn enum_group(&mut self, hub: &str) -> Result<EnumGroup, ErrorCode> {
        group::enum_group(self, hub)
    }

    fn add_access(
        &mut self,
        hub: &str,
        rule: &rustether_proto::softether::access::AccessRule,
    ) -> Result<(), ErrorCode> {
        access::add_access(self, hub, rule)
    }

    fn delete_access(&mut self, hub: &str, id: u32) -> Result<(), ErrorCode> {
        access::delete_access(self, hub, id)
    }

    fn enum_access(
        &mut self,
        hub: &str,
    ) -> Result<Vec<rustether_proto::softether::access::AccessRule>, ErrorCode> {
        access::enum_access(self, hub)
    }

    fn set_access_list(
        &mut self,
        hub: &str,
        rules: &[rustether_proto::softether::access::AccessRule],
    ) -> Result<(), ErrorCode> {
        access::set_access_list(self, hub, rules)
    }

    fn get_hub_log(&mut self, hub: &str) -> Result<HubLog, ErrorCode> {
        log::get_hub_log(self, hub)
    }

    fn set_hub_log(&mut self, req: &HubLog) -> Result<(), ErrorCode> {
        log::set_hub_log(self, req)
    }

    fn enum_log_file(&mut self, hub: Option<&str>) -> Result<EnumLogFile, ErrorCode> {
        log::enum_log_file(self, hub)
    }

    fn read_log_file(&mut self, path: &str, offset: u32) -> Result<Option<Vec<u8>>, ErrorCode> {
        log::read_log_file(self, path, offset)
    }

    fn get_sys_log(&mut self) -> Result<SysLogSetting, ErrorCode> {
        log::get_sys_log(self)
    }

    fn set_sys_log(&mut self, req: &SysLogSetting) -> Result<(), ErrorCode> {
        log::set_sys_log(self, req)
    }

    fn get_hub_msg(&mut self, hub: &str) -> Result<String, ErrorCode> {
        access::get_hub_msg(self, hub)
    }

    fn set_hub_msg(&mut self, hub: &str, msg: &str) -> Result<(), ErrorCode> {
        access::set_hub_msg(self, hub, msg)
    }

    fn get_ac_list(
        &mut self,
        hub: &str,
    ) -> Result<Vec<rustether_proto::softether::access::AcEntry>, ErrorCode> {
        access::get_ac_list(self, hub)
    }

    fn set_ac_list(
        &mut self,
        hub: &str,
        list: &[rustether_proto::softether::access::AcEntry],
    ) -> Result<(), ErrorCode> {
        access::set_ac_list(self, hub, list)
    }

    fn add_ca(&mut self, req: &HubAddCa) -> Result<(), ErrorCode> {
        ca::add_ca(self, req)
    }

    fn enum_ca(&mut self, hub: &str) -> Result<HubEnumCa, ErrorCode> {
        ca::enum_ca(self, hub)
    }

    fn get_ca(&mut self, hub: &str, key: u32) -> Result<HubGetCa, ErrorCode> {
        ca::get_ca(self, hub, key)
    }

    fn delete_ca(&mut self, hub: &str, key: u32) -> Result<(), ErrorCode> {
        ca::delete_ca(self, hub, key)
    }

    fn enum_connection(&mut self) -> Result<EnumConnection, ErrorCode> {
        table::enum_connection(self)
    }

    fn add_l3_switch(&mut self, name: &str) -> Result<(), ErrorCode> {
        l3::add_l3_switch(self, name)
    }

    fn del_l3_switch(&mut self, name: &str) -> Result<(), ErrorCode> {
        l3::del_l3_switch(self, name)
    }

    fn enum_l3_switch(&mut self) -> Result<EnumL3Sw, ErrorCode> {
        l3::enum_l3_switch(self)
    }

    fn set_l3_switch_active(&mut self, name: &str, active: bool) -> Result<(), ErrorCode> {
        l3::set_l3_switch_active(self, name, active)
    }

    fn add_l3_if(&mut self, req: &L3If) -> Result<(), ErrorCode> {
        l3::add_l3_if(self, req)
    }

    fn del_l3_if(&mut self, name: &str, hub: &str) -> Result<(), ErrorCode> {
        l3::del_l3_if(self, name, hub)
    }

    fn enum_l3_if(&mut self, name: &str) -> Result<EnumL3If, ErrorCode> {
        l3::enum_l3_if(self, name)
    }

    fn add_l3_table(&mut self, req: &L3Table) -> Result<(), ErrorCode> {
        l3::add_l3_table(self, req)
    }

    fn del_l3_table(&mut self, req: &L3Table) -> Result<(), ErrorCode> {
        l3::del_l3_table(self, req)
    }

    fn enum_l3_table(&mut self, name: &str) -> Result<EnumL3Table, ErrorCode> {
        l3::enum_l3_table(self, name)
    }

    fn get_connection_info(&mut self, name: &str) -> Result<ConnectionInfo, ErrorCode> {
        table::get_connection_info(self, name)
    }

    fn disconnect_connection(&mut self, name: &str) -> Result<(), ErrorCode> {
        table::disconnect_connection(self, name)
    }

    fn get_server_info(&mut self) -> Result<ServerInfo, ErrorCode> {
        server::get_server_info(self)
    }

    fn get_server_status(&mut self) -> Result<ServerStatus, ErrorCode> {
        server::get_server_status(self)
    }

    fn create_listener(&mut self, req: &Listener) -> Result<(), ErrorCode> {
        server::create_listener(self, req)
    }

    fn enum_listener(&mut self) -> Result<ListenerList, ErrorCode> {
        server::enum_listener(self)
    }

    fn delete_listener(&mut self, port: u32) -> Result<(), ErrorCode> {
        server::delete_listener(self, port)
    }

    fn enable_listener(&mut self, req: &Listener) -> Result<(), ErrorCode> {
        server::enable_listener(self, req)
    }

    fn set_server_password(&mut self, hashed_password: &[u8; 20]) -> Result<(), ErrorCode> {
        server::set_server_password(self, hashed_password)
    }

    fn get_server_cert(&mut self) -> Result<KeyPair, ErrorCode> {
        server::get_server_cert(self)
    }

    fn get_caps(&mut self) -> Result<CapsList, ErrorCode> {
        server::get_caps(self)
    }

    fn get_keep(&mut self) -> Result<Keep, ErrorCode> {
        server::get_keep(self)
    }

    fn get_ports_udp(&mut self) -> Result<Vec<u16>, ErrorCode> {
        Ok(crate::openvpn::udp_ports(self.server))
    }

    fn set_ports_udp(&mut self, ports: &[u16]) -> Result<(), ErrorCode> {
        server::set_ports_udp(self, ports)
    }

    fn make_openvpn_config(&mut self) -> Result<Vec<u8>, ErrorCode> {
        if !crate::openvpn::enabled(self.server) {
            return Err(ErrorCode::OPENVPN_IS_NOT_ENABLED);
        }
        let tcp_port = self.server.with_config(|c| {
            c.listeners
                .iter()
                .find(|l| l.enabled && l.port != 0)
                .map(|l| l.port)
        });
        Ok(crate::openvpn::sample_zip(
            &crate::openvpn::udp_ports(self.server),
            tcp_port,
            &self.server.cert_der(),
        ))
    }

    fn get_proto_options(&mut self, protocol: &'static str) -> Result<Vec<ProtoOption>, ErrorCode> {
        server::get_proto_options(self, protocol)
    }

    fn set_proto_options(
        &mut self,
        protocol: &'static str,
        options: &[ProtoOption],
    ) -> Result<(), ErrorCode> {
        server::set_proto_options(self, protocol, options)
    }

    fn set_keep(&mut self, req: &Keep) -> Result<(), ErrorCode> {
        server::set_keep(self, req)
    }

    fn flush(&mut self) -> Result<u32, ErrorCode> {
        server::flush(self)
    }

    fn reboot_server(&mut self, reset_config: bool) -> Result<(), ErrorCode> {
        // `LA_REBOOT_SERVER`; the worker restarts after the answer.
        tracing::info!(reset_config, "admin: RebootServer");
        self.server.request_reboot(reset_config);
        Ok(())
    }

    fn get_config(&mut self) -> Result<Config, ErrorCode> {
        server::get_config(self)
    }

    fn set_config(&mut self, req: &Config) -> Result<(), ErrorCode> {
        server::set_config(self, req)
    }

    fn get_bridge_support(&mut self) -> Result<BridgeSupport, ErrorCode> {
        bridge::get_bridge_support(self)
    }

    fn create_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode> {
        hub::create_hub(self, req)
    }

    fn set_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode> {
        hub::set_hub(self, req)
    }

    fn get_hub(&mut self, hub: &str) -> Result<CreateHub, ErrorCode> {
        hub::get_hub(self, hub)
    }

    fn enum_hub(&mut self) -> Result<EnumHub, ErrorCode> {
        hub::enum_hub(self)
    }

    fn delete_hub(&mut self, hub: &str) -> Result<(), ErrorCode> {
        hub::delete_hub(self, hub)
    }

    fn set_hub_online(&mut self, hub: &str, online: bool) -> Result<(), ErrorCode> {
        hub::set_hub_online(self, hub, online)
    }

    fn set_securenat_enabled(&mut self, hub: &str, enabled: bool) -> Result<(), ErrorCode> {
        hub::set_securenat_enabled(self, hub, enabled)
    }

    fn get_securenat_option(&mut self, hub: &str) -> Result<SecureNatOption, ErrorCode> {
        hub::get_securenat_option(self, hub)
    }

    fn set_securenat_option(&mut self, opt: &SecureNatOption) -> Result<(), ErrorCode> {
        hub::set_securenat_option(self, opt)
    }

    fn enum_nat(&mut self, hub: &str) -> Result<EnumNat, ErrorCode> {
        hub::enum_nat(self, hub)
    }

    fn get_securenat_status(&mut self, hub: &str) -> Result<NatStatus, ErrorCode> {
        hub::get_securenat_status(self, hub)
    }

    fn enum_dhcp(&mut self, hub: &str) -> Result<EnumDhcp, ErrorCode> {
        hub::enum_dhcp(self, hub)
    }

    fn get_hub_admin_options(&mut self, hub: &str) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        hubx::get_hub_admin_options(self, hub)
    }

    fn set_hub_admin_options(
        &mut self,
        hub: &str,
        items: &[AdminOptionItem],
    ) -> Result<(), ErrorCode> {
        hubx::set_hub_admin_options(self, hub, items)
    }

    fn get_default_hub_admin_options(&mut self) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        self.bridge_edition()?;
        Ok(rustether_admin::hub_admin_option::DEFAULT_NAMES
            .iter()
            .map(|n| AdminOptionItem {
                name: (*n).to_owned(),
                ..AdminOptionItem::default()
            })
            .collect())
    }

    fn get_hub_ext_options(&mut self, hub: &str) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        hubx::get_hub_ext_options(self, hub)
    }

    fn set_hub_ext_options(
        &mut self,
        hub: &str,
        items: &[AdminOptionItem],
    ) -> Result<(), ErrorCode> {
        hubx::set_hub_ext_options(self, hub, items)
    }

    fn rename_link(&mut self, hub: &str, old: &str, new: &str) -> Result<(), ErrorCode> {
        hubx::rename_link(self, hub, old, new)
    }

    fn add_crl(&mut self, hub: &str, crl: &CrlEntry) -> Result<(), ErrorCode> {
        hubx::add_crl(self, hub, crl)
    }

    fn del_crl(&mut self, hub: &str, key: u32) -> Result<(), ErrorCode> {
        hubx::del_crl(self, hub, key)
    }

    fn enum_crl(&mut self, hub: &str) -> Result<Vec<EnumCrlItem>, ErrorCode> {
        hubx::enum_crl(self, hub)
    }

    fn get_crl(&mut self, hub: &str, key: u32) -> Result<CrlEntry, ErrorCode> {
        hubx::get_crl(self, hub, key)
    }

    fn set_crl(&mut self, hub: &str, key: u32, crl: &CrlEntry) -> Result<(), ErrorCode> {
        hubx::set_crl(self, hub, key, crl)
    }

    fn get_hub_radius(&mut self, hub: &str) -> Result<RpcRadius, ErrorCode> {
        hubx::get_hub_radius(self, hub)
    }

    fn set_hub_radius(&mut self, req: &RpcRadius) -> Result<(), ErrorCode> {
        hubx::set_hub_radius(self, req)
    }

    fn get_hub_status(&mut self, hub: &str) -> Result<HubStatus, ErrorCode> {
        hub::get_hub_status(self, hub)
    }

    fn create_user(&mut self, req: &SetUser) -> Result<(), ErrorCode> {
        user::create_user(self, req)
    }

    fn set_user(&mut self, req: &SetUser) -> Result<(), ErrorCode> {
        user::set_user(self, req)
    }

    fn get_user(&mut self, hub: &str, name: &str) -> Result<SetUser, ErrorCode> {
        user::get_user(self, hub, name)
    }

    fn delete_user(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        user::delete_user(self, hub, name)
    }

    fn enum_user(&mut self, hub: &str) -> Result<EnumUser, ErrorCode> {
        user::enum_user(self, hub)
    }

    fn enum_session(&mut self, hub: &str) -> Result<EnumSession, ErrorCode> {
        session::enum_session(self, hub)
    }

    fn get_session_status(&mut self, hub: &str, name: &str) -> Result<SessionStatus, ErrorCode> {
        session::get_session_status(self, hub, name)
    }

    fn delete_session(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        session::delete_session(self, hub, name)
    }

    fn enum_ethernet(&mut self) -> Result<EnumEth, ErrorCode> {
        bridge::enum_ethernet(self)
    }

    fn add_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode> {
        bridge::add_local_bridge(self, req)
    }

    fn delete_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode> {
        bridge::delete_local_bridge(self, req)
    }

    fn enum_local_bridge(&mut self) -> Result<EnumLocalBridge, ErrorCode> {
        bridge::enum_local_bridge(self)
    }

    fn create_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode> {
        link::create_link(self, req)
    }

    fn get_link(&mut self, hub: &str, account: &str) -> Result<CreateLink, ErrorCode> {
        link::get_link(self, hub, account)
    }

    fn set_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode> {
        link::set_link(self, req)
    }

    fn enum_link(&mut self, hub: &str) -> Result<EnumLink, ErrorCode> {
        link::enum_link(self, hub)
    }

    fn get_link_status(&mut self, hub: &str, account: &str) -> Result<LinkStatus, ErrorCode> {
        link::get_link_status(self, hub, account)
    }

    fn set_link_online(&mut self, hub: &str, account: &str, online: bool) -> Result<(), ErrorCode> {
        link::set_link_online(self, hub, account, online)
    }

    fn delete_link(&mut self, hub: &str, account: &str) -> Result<(), ErrorCode> {
        link::delete_link(self, hub, account)
    }

    fn get_server_cipher(&mut self) -> Result<String, ErrorCode> {
        standalone::get_server_cipher(self)
    }

    fn get_server_cipher_list(&mut self) -> Result<Vec<String>, ErrorCode> {
        Ok(standalone::get_server_cipher_list())
    }

    fn set_server_cipher(&mut self, names: &str) -> Result<(), ErrorCode> {
        standalone::set_server_cipher(self, names)
    }

    fn set_server_cert(&mut self, cert: &[u8], key: &[u8]) -> Result<(), ErrorCode> {
        standalone::set_server_cert(self, cert, key)
    }

    fn regenerate_server_cert(&mut self, cn: &str) -> Result<(), ErrorCode> {
        standalone::regenerate_server_cert(self, cn)
    }

    fn get_special_listener(&mut self) -> Result<SpecialListener, ErrorCode> {
        standalone::get_special_listener(self)
    }

    fn set_special_listener(&mut self, req: &SpecialListener) -> Result<(), ErrorCode> {
        standalone::set_special_listener(self, req)
    }

    fn get_ipsec_services(&mut self) -> Result<IpsecServices, ErrorCode> {
        standalone::get_ipsec_services(self)
    }

    fn enum_etherip_id(&mut self) -> Result<Vec<EtherIpId>, ErrorCode> {
        standalone::enum_etherip_id(self)
    }
}
