//! [`AdminBackend`] over the running [`Server`]: every RPC reads the
//! configuration (the source of truth) and the live state (hubs, sessions,
//! listeners, cascades, bridges); every change goes through
//! [`Server::update_config`], which saves the file atomically before it
//! returns, so a change is on disk before the RPC is answered.
//!
//! The trait is synchronous; work that must wait (stopping a cascade or a
//! local bridge, waiting for a disconnected session to end, re-syncing
//! after `SetConfig`) is queued as [`Deferred`] and awaited by the caller
//! before it sends the answer ([`ServerBackend::finish`]).
//!
//! Existence, duplicate and limit errors follow docs/admin-rpc.md §6 and §8.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use rustether_admin::rpc::*;
use rustether_admin::time::from_unix_ms;
use rustether_admin::AdminBackend;
use rustether_config::model::now_ms;
use rustether_config::{
    is_valid_user_name, CascadeConfig, Edition, HubConfig, ListenerConfig, LocalBridgeConfig,
    UserConfig,
};
use rustether_proto::ErrorCode;
use tracing::{info, warn};

use super::convert;
use super::sys;
use crate::cascade::CascadeStatus;
use crate::listener::ListenerState;
use crate::server::Server;
use crate::session::{Role, Session};

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
}

/// The backend of one RPC call (see the module docs).
pub(crate) struct ServerBackend<'a> {
    server: &'a Arc<Server>,
    deferred: Vec<Deferred>,
}

fn key_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl<'a> ServerBackend<'a> {
    pub(crate) fn new(server: &'a Arc<Server>) -> ServerBackend<'a> {
        ServerBackend {
            server,
            deferred: Vec::new(),
        }
    }

    /// Awaits the deferred work of the call.
    pub(crate) async fn finish(self) {
        for d in self.deferred {
            match d {
                Deferred::RestartCascade { hub, name, cfg } => {
                    self.server
                        .restart_cascade(&hub, &name, cfg.map(|c| *c))
                        .await;
                }
                Deferred::StopBridge { hub, device } => {
                    self.server.stop_bridge(&hub, &device).await
                }
                Deferred::WaitSession(s) => {
                    let _ = tokio::time::timeout(WAIT_ENDED, s.wait_ended()).await;
                }
                Deferred::Reload => self.server.reload().await,
            }
        }
    }

    fn bridge_edition(&self) -> Result<(), ErrorCode> {
        // VPN Bridge: no hub or user management (SoftEther answers 33).
        if self.server.edition == Edition::Bridge {
            Err(ErrorCode::NOT_SUPPORTED)
        } else {
            Ok(())
        }
    }

    /// Live sessions of the running hub `hub`.
    fn hub_sessions(&self, hub: &str) -> Vec<Arc<Session>> {
        let Some(h) = self.server.hub(hub) else {
            return Vec::new();
        };
        let mut v: Vec<Arc<Session>> = self
            .server
            .sessions
            .all()
            .into_iter()
            .filter(|s| Arc::ptr_eq(&s.hub, &h) && !s.has_ended())
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Running local bridges of hub `hub` with their pseudo session names
    /// (`SID-LOCALBRIDGE-<n>`, as SoftEther lists them).
    fn hub_bridges(&self, hub: &str) -> Vec<(String, Arc<crate::bridge::LocalBridge>)> {
        self.server
            .bridges()
            .into_iter()
            .filter(|b| key_eq(b.hub.name(), hub))
            .enumerate()
            .map(|(i, b)| (format!("SID-LOCALBRIDGE-{}", i + 1), b))
            .collect()
    }

    fn start_listener(&self, port: u16) {
        if let Some(e) = crate::listener::start(self.server, port) {
            warn!("admin: listener {port} enabled but not bound yet: {e}");
        }
    }

    /// Starts the configured local bridges of `hub` that do not run yet
    /// (after the hub was created or came online).
    fn start_hub_bridges(&self, hub: &str) {
        let (bridges, no_offload) = self.server.with_config(|c| {
            (
                c.local_bridges
                    .iter()
                    .filter(|b| key_eq(&b.hub_name, hub))
                    .cloned()
                    .collect::<Vec<_>>(),
                c.do_not_disable_offloading,
            )
        });
        let running = self.server.bridges();
        for b in bridges {
            let is_running = running
                .iter()
                .any(|r| key_eq(r.hub.name(), &b.hub_name) && r.device_name == b.device_name);
            if !is_running {
                if let Err(e) = self.server.start_bridge(&b, !no_offload) {
                    warn!(
                        "local bridge {} on hub {} is unavailable: {e}",
                        b.device_name, b.hub_name
                    );
                }
            }
        }
    }

    fn session_item(&self, s: &Session) -> EnumSessionItem {
        let ip = s.info.client_addr.ip();
        let link = is_cascade_session(s);
        EnumSessionItem {
            name: s.name.clone(),
            username: if link {
                "Cascade".to_owned()
            } else {
                s.info.username.clone()
            },
            ip: ipv4_of(ip),
            client_ip: Some(ip),
            hostname: host_text(s),
            max_num_tcp: s.params.max_connection,
            current_num_tcp: s.connection_count(),
            packet_size: session_bytes(s),
            packet_num: s
                .stats
                .sent_frames
                .load(std::sync::atomic::Ordering::Relaxed)
                + s.stats.queued.load(std::sync::atomic::Ordering::Relaxed),
            link_mode: link,
            client_bridge_mode: s.info.bridge_mode,
            created_time: from_unix_ms(s.info.created_unix_ms),
            last_comm_time: from_unix_ms(crate::clock::unix_ms()),
            ..EnumSessionItem::default()
        }
    }
}

/// The local end of one of our cascades (SoftEther's `SID-LINK-*`).
fn is_cascade_session(s: &Session) -> bool {
    s.info.server_side && s.role == Role::Client
}

fn ipv4_of(ip: IpAddr) -> std::net::Ipv4Addr {
    match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

fn host_text(s: &Session) -> String {
    if s.info.client_hostname.is_empty() || is_cascade_session(s) {
        s.info.client_addr.ip().to_string()
    } else {
        s.info.client_hostname.clone()
    }
}

fn session_bytes(s: &Session) -> u64 {
    s.recv_bytes.load(std::sync::atomic::Ordering::Relaxed)
        + s.stats
            .sent_bytes
            .load(std::sync::atomic::Ordering::Relaxed)
}

fn session_traffic(s: &Session) -> Traffic {
    use std::sync::atomic::Ordering::Relaxed;
    Traffic {
        // from the client's point of view, as SoftEther reports it
        send: TrafficSide {
            unicast_bytes: s.recv_bytes.load(Relaxed),
            unicast_count: s.stats.sent_frames.load(Relaxed),
            ..TrafficSide::default()
        },
        recv: TrafficSide {
            unicast_count: s.stats.queued.load(Relaxed),
            ..TrafficSide::default()
        },
    }
}

fn add_traffic(a: &mut Traffic, b: &Traffic) {
    for (x, y) in [(&mut a.send, &b.send), (&mut a.recv, &b.recv)] {
        x.broadcast_bytes += y.broadcast_bytes;
        x.broadcast_count += y.broadcast_count;
        x.unicast_bytes += y.unicast_bytes;
        x.unicast_count += y.unicast_count;
    }
}

fn hub_create_fields(h: &HubConfig) -> CreateHub {
    CreateHub {
        fields: CreateHubFields {
            hub_name: h.name.clone(),
            hashed_password: h.hashed_password,
            secure_password: h.secure_password,
            online: h.online,
            admin_password_plain_text: String::new(),
        },
        option: HubOption {
            max_session: h.max_session,
            no_enum: h.no_enum,
            ..HubOption::default()
        },
        hub_type: hub_type::STANDALONE,
    }
}

fn user_to_rpc(hub: &str, u: &UserConfig) -> SetUser {
    SetUser {
        fields: SetUserFields {
            hub_name: hub.to_owned(),
            name: u.name.clone(),
            group_name: u.group.clone().unwrap_or_default(),
            realname: u.realname.clone(),
            note: u.note.clone(),
            created_time: u.created_time,
            updated_time: u.updated_time,
            expire_time: u.expire_time,
        },
        auth: convert::user_auth_from_config(&u.auth),
        num_login: u.num_login,
        traffic: Traffic::default(),
        policy: u.policy.as_ref().map(convert::policy_from_config),
    }
}

/// Sets the user fields an RPC may change (`CreateUser`/`SetUser`).
fn apply_user(u: &mut UserConfig, req: &SetUser) -> Result<(), ErrorCode> {
    u.auth = convert::user_auth_to_config(&req.auth)?;
    u.realname = req.fields.realname.clone();
    u.note = req.fields.note.clone();
    u.group = Some(req.fields.group_name.clone()).filter(|g| !g.is_empty());
    u.expire_time = req.fields.expire_time;
    u.policy = req.policy.as_ref().map(convert::policy_to_config);
    Ok(())
}

fn check_group(h: &HubConfig, group: &str) -> Result<(), ErrorCode> {
    if !group.is_empty() && h.group(group).is_none() {
        return Err(ErrorCode::GROUP_NOT_FOUND);
    }
    Ok(())
}

fn port_of(p: u32) -> Result<u16, ErrorCode> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p != 0)
        .ok_or(ErrorCode::INVALID_PARAMETER)
}

/// `CONNECTION_STATUS` of a live session as the server sees it.
fn connection_status(s: &Session, server_name: &str) -> ConnectionStatus {
    let created = from_unix_ms(s.info.created_unix_ms);
    let n = s.connection_count();
    ConnectionStatus {
        fields: ConnectionStatusFields {
            server_name: server_name.to_owned(),
            server_product_name: rustether_proto::messages::SERVER_HELLO.to_owned(),
            session_name: s.name.clone(),
            active: true,
            connected: true,
            session_status: 3,
            server_product_ver: rustether_proto::messages::SERVER_VERSION,
            server_product_build: rustether_proto::messages::SERVER_BUILD,
            num_connections_established: n,
            half_connection: s.params.half_connection,
            qos: s.params.qos,
            max_tcp_connections: s.params.max_connection,
            num_tcp_connections: n,
            use_encrypt: s.params.use_encrypt,
            use_compress: s.params.use_compress,
            underlay_protocol: if s.info.client_addr.is_ipv4() {
                "Standard TCP/IP (IPv4)".to_owned()
            } else {
                "Standard TCP/IP (IPv6)".to_owned()
            },
            is_bridge_mode: s.info.bridge_mode,
            start_time: created,
            first_connection_established_time: created,
            current_connection_establish_time: created,
            total_send_size: s.recv_bytes.load(std::sync::atomic::Ordering::Relaxed),
            total_recv_size: 0,
            total_send_size_real: s.recv_bytes.load(std::sync::atomic::Ordering::Relaxed),
            ..ConnectionStatusFields::default()
        },
        traffic: session_traffic(s),
        ..ConnectionStatus::default()
    }
}

impl AdminBackend for ServerBackend<'_> {
    fn hub_admin_option(&self, hub: &str, name: &str) -> u32 {
        self.server.with_config(|c| {
            c.hub(hub)
                .and_then(|h| h.raw.folder("AdminOption"))
                .and_then(|f| f.get_uint(name))
                .unwrap_or(0)
        })
    }

    fn get_server_info(&mut self) -> Result<ServerInfo, ErrorCode> {
        use rustether_proto::messages::{SERVER_BUILD, SERVER_VERSION};
        Ok(ServerInfo {
            fields: ServerInfoFields {
                server_product_name: self.server.edition.title().to_owned(),
                server_version_string: format!(
                    "Version {}.{:02} Build {}   (RustEther {})",
                    SERVER_VERSION / 100,
                    SERVER_VERSION % 100,
                    SERVER_BUILD,
                    env!("CARGO_PKG_VERSION")
                ),
                server_build_info_string: format!(
                    "RustEther {} (SoftEther VPN 5.01 protocol)",
                    env!("CARGO_PKG_VERSION")
                ),
                server_ver_int: SERVER_VERSION,
                server_build_int: SERVER_BUILD,
                server_host_name: sys::hostname(),
                server_type: 0,
                server_build_date: 0,
                server_family_name: "RustEther".to_owned(),
            },
            os: sys::os_info(),
        })
    }

    fn get_server_status(&mut self) -> Result<ServerStatus, ErrorCode> {
        let (hubs, users, groups) = self.server.with_config(|c| {
            (
                c.hubs.len() as u32,
                c.hubs.iter().map(|h| h.users.len() as u32).sum::<u32>(),
                c.hubs.iter().map(|h| h.groups.len() as u32).sum::<u32>(),
            )
        });
        let sessions = self.server.sessions.all();
        let mut traffic = Traffic::default();
        for s in &sessions {
            add_traffic(&mut traffic, &session_traffic(s));
        }
        let tcp: u32 = sessions.iter().map(|s| s.connection_count()).sum();
        let started = self
            .server
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Ok(ServerStatus {
            fields: ServerStatusFields {
                server_type: 0,
                num_hub_total: hubs,
                num_hub_standalone: hubs,
                num_sessions_total: sessions.len() as u32,
                num_sessions_local: sessions.len() as u32,
                num_tcp_connections: tcp,
                num_tcp_connections_local: tcp,
                num_mac_tables: self
                    .server
                    .hubs()
                    .iter()
                    .map(|h| h.mac_count() as u32)
                    .sum(),
                num_users: users,
                num_groups: groups,
                current_time: from_unix_ms(crate::clock::unix_ms()),
                // ms since the server started (9674: ≈ ms since process start)
                current_tick: crate::clock::unix_ms().saturating_sub(started),
                start_time: from_unix_ms(started),
                ..ServerStatusFields::default()
            },
            traffic,
            mem: sys::mem_info(),
        })
    }

    fn create_listener(&mut self, req: &Listener) -> Result<(), ErrorCode> {
        let port = port_of(req.port)?;
        self.server.update_config(|c| {
            if c.listeners.iter().any(|l| l.port == port) {
                return Err(ErrorCode::LISTENER_ALREADY_EXISTS);
            }
            c.listeners.push(ListenerConfig {
                port,
                enabled: req.enable,
                disable_dos: false,
            });
            Ok(())
        })?;
        if req.enable {
            self.start_listener(port);
        }
        Ok(())
    }

    fn enum_listener(&mut self) -> Result<ListenerList, ErrorCode> {
        let list = self.server.with_config(|c| c.listeners.clone());
        Ok(ListenerList {
            listeners: list
                .iter()
                .map(|l| ListenerItem {
                    port: u32::from(l.port),
                    enable: l.enabled,
                    error: l.enabled
                        && self.server.listeners.state(l.port) != Some(ListenerState::Listening),
                })
                .collect(),
        })
    }

    fn delete_listener(&mut self, port: u32) -> Result<(), ErrorCode> {
        let port = u16::try_from(port).map_err(|_| ErrorCode::LISTENER_NOT_FOUND)?;
        self.server.update_config(|c| {
            let before = c.listeners.len();
            c.listeners.retain(|l| l.port != port);
            if c.listeners.len() == before {
                return Err(ErrorCode::LISTENER_NOT_FOUND);
            }
            Ok(())
        })?;
        crate::listener::stop(self.server, port);
        Ok(())
    }

    fn enable_listener(&mut self, req: &Listener) -> Result<(), ErrorCode> {
        let port = u16::try_from(req.port).map_err(|_| ErrorCode::LISTENER_NOT_FOUND)?;
        self.server.update_config(|c| {
            let l = c
                .listeners
                .iter_mut()
                .find(|l| l.port == port)
                .ok_or(ErrorCode::LISTENER_NOT_FOUND)?;
            l.enabled = req.enable;
            Ok(())
        })?;
        if req.enable {
            self.start_listener(port);
        } else {
            crate::listener::stop(self.server, port);
        }
        Ok(())
    }

    fn set_server_password(&mut self, hashed_password: &[u8; 20]) -> Result<(), ErrorCode> {
        self.server.update_config(|c| {
            c.server.hashed_password = *hashed_password;
            Ok(())
        })
    }

    fn get_server_cert(&mut self) -> Result<KeyPair, ErrorCode> {
        let ck = self.server.cert.read().clone();
        Ok(KeyPair {
            cert: Some(ck.cert_der),
            chain: Vec::new(),
            key: Some(ck.key_der),
            flag1: 0,
        })
    }

    fn get_caps(&mut self) -> Result<CapsList, ErrorCode> {
        let bridge = rustether_netdev::is_bridge_supported();
        let server = self.server.edition == Edition::Server;
        let b = u32::from;
        Ok(CapsList {
            caps: vec![
                ("b_standalone".into(), 1),
                ("b_cluster".into(), 0),
                ("b_bridge".into(), b(!server)),
                ("b_vpn_server".into(), b(server)),
                ("b_support_config_rw".into(), 1),
                ("b_support_cascade".into(), 1),
                ("b_local_bridge".into(), b(bridge)),
                ("b_must_install_pcap".into(), 0),
                ("b_tap_supported".into(), b(cfg!(target_os = "linux"))),
                ("b_vpn_client_connect".into(), b(server)),
                ("b_support_securenat".into(), 0),
                ("b_support_radius".into(), 0),
                ("b_support_ddns".into(), 0),
                ("b_support_sstp".into(), 0),
                ("b_support_openvpn".into(), 0),
                ("b_support_ipsec".into(), 0),
                ("i_max_hubs".into(), MAX_HUBS as u32),
                ("i_max_sessions".into(), 100_000),
                ("i_max_users_per_hub".into(), MAX_USERS_PER_HUB as u32),
                ("i_max_packet_size".into(), 1600),
            ],
        })
    }

    fn get_keep(&mut self) -> Result<Keep, ErrorCode> {
        Ok(self.server.with_config(|c| {
            let r = &c.server.raw;
            Keep {
                use_keep_connect: c.server.use_keep_connect,
                keep_connect_host: r.get_str("KeepConnectHost").unwrap_or("").to_owned(),
                keep_connect_port: r.get_uint("KeepConnectPort").unwrap_or(80),
                keep_connect_protocol: r.get_uint("KeepConnectProtocol").unwrap_or(1),
                keep_connect_interval: r.get_uint("KeepConnectInterval").unwrap_or(50),
            }
        }))
    }

    fn set_keep(&mut self, req: &Keep) -> Result<(), ErrorCode> {
        // Stored for compatibility; RustEther never sends keep-alive
        // packets to the internet whatever the setting says.
        self.server.update_config(|c| {
            c.server.use_keep_connect = req.use_keep_connect;
            let r = &mut c.server.raw;
            r.set_str("KeepConnectHost", &req.keep_connect_host);
            r.set_uint("KeepConnectPort", req.keep_connect_port);
            r.set_uint("KeepConnectProtocol", req.keep_connect_protocol);
            r.set_uint("KeepConnectInterval", req.keep_connect_interval);
            Ok(())
        })
    }

    fn flush(&mut self) -> Result<u32, ErrorCode> {
        self.server.save().map_err(|e| {
            warn!("admin: Flush: saving failed: {e}");
            ErrorCode::INTERNAL_ERROR
        })?;
        let len = std::fs::metadata(self.server.config_path())
            .map_err(|_| ErrorCode::INTERNAL_ERROR)?
            .len();
        Ok(u32::try_from(len).unwrap_or(u32::MAX))
    }

    fn get_config(&mut self) -> Result<Config, ErrorCode> {
        Ok(Config {
            file_name: format!("${}", self.server.edition.config_file_name()),
            file_data: self.server.config_text().into_bytes(),
        })
    }

    fn set_config(&mut self, req: &Config) -> Result<(), ErrorCode> {
        let text = std::str::from_utf8(&req.file_data).map_err(|_| {
            warn!("admin: SetConfig: the text is not UTF-8");
            ErrorCode::INVALID_PARAMETER
        })?;
        self.server.replace_config_text(text).map_err(|e| {
            warn!("admin: SetConfig refused: {e}");
            ErrorCode::INVALID_PARAMETER
        })?;
        info!("admin: SetConfig: the new configuration is saved and in force");
        self.deferred.push(Deferred::Reload);
        Ok(())
    }

    fn get_bridge_support(&mut self) -> Result<BridgeSupport, ErrorCode> {
        Ok(BridgeSupport {
            is_bridge_supported_os: rustether_netdev::is_bridge_supported(),
            is_win_pcap_needed: false,
        })
    }

    fn create_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode> {
        self.bridge_edition()?;
        let name = req.fields.hub_name.clone();
        self.server.update_config(|c| {
            if c.hub(&name).is_some() {
                return Err(ErrorCode::HUB_ALREADY_EXISTS);
            }
            if c.hubs.len() >= MAX_HUBS {
                return Err(ErrorCode::TOO_MANY_HUBS);
            }
            let mut h = HubConfig::new(&name);
            h.hashed_password = req.fields.hashed_password;
            h.secure_password = req.fields.secure_password;
            h.online = req.fields.online;
            h.max_session = req.option.max_session;
            h.no_enum = req.option.no_enum;
            c.hubs.push(h);
            Ok(())
        })?;
        self.start_hub_bridges(&name);
        Ok(())
    }

    fn set_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode> {
        let f = &req.fields;
        let was_online = self
            .server
            .with_config(|c| c.hub(&f.hub_name).map(|h| h.online))
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        self.server.update_config(|c| {
            let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            h.online = f.online;
            h.max_session = req.option.max_session;
            h.no_enum = req.option.no_enum;
            if f.hashed_password != [0; 20] && f.secure_password != [0; 20] {
                h.hashed_password = f.hashed_password;
                h.secure_password = f.secure_password;
            }
            Ok(())
        })?;
        if was_online != f.online {
            self.hub_links_follow_online(&f.hub_name, f.online);
        }
        Ok(())
    }

    fn get_hub(&mut self, hub: &str) -> Result<CreateHub, ErrorCode> {
        self.server
            .with_config(|c| c.hub(hub).map(hub_create_fields))
            .ok_or(ErrorCode::HUB_NOT_FOUND)
    }

    fn enum_hub(&mut self) -> Result<EnumHub, ErrorCode> {
        let hubs = self.server.with_config(|c| c.hubs.clone());
        Ok(EnumHub {
            hubs: hubs
                .iter()
                .map(|h| {
                    let sessions = self.hub_sessions(&h.name);
                    let mut traffic = Traffic::default();
                    for s in &sessions {
                        add_traffic(&mut traffic, &session_traffic(s));
                    }
                    EnumHubItem {
                        fields: EnumHubItemFields {
                            hub_name: h.name.clone(),
                            online: h.online,
                            hub_type: hub_type::STANDALONE,
                            num_sessions: sessions.len() as u32,
                            num_users: h.users.len() as u32,
                            num_groups: h.groups.len() as u32,
                            num_mac_tables: self
                                .server
                                .hub(&h.name)
                                .map_or(0, |x| x.mac_count() as u32),
                            num_ip_tables: 0,
                            last_comm_time: h.last_comm_time,
                            created_time: h.created_time,
                            last_login_time: h.last_login_time,
                            num_login: h.num_login,
                            is_traffic_filled: true,
                        },
                        traffic,
                    }
                })
                .collect(),
        })
    }

    fn delete_hub(&mut self, hub: &str) -> Result<(), ErrorCode> {
        self.bridge_edition()?;
        let removed = self.server.update_config(|c| {
            let i = c
                .hubs
                .iter()
                .position(|h| key_eq(&h.name, hub))
                .ok_or(ErrorCode::HUB_NOT_FOUND)?;
            Ok(c.hubs.remove(i))
        })?;
        // update_config already ended the hub's sessions; stop what else
        // runs on it. Local bridge entries stay configured (as SoftEther):
        // they start again if a hub of that name is created.
        for x in &removed.cascades {
            self.deferred.push(Deferred::RestartCascade {
                hub: removed.name.clone(),
                name: x.account_name.clone(),
                cfg: None,
            });
        }
        for (_, b) in self.hub_bridges(&removed.name) {
            self.deferred.push(Deferred::StopBridge {
                hub: removed.name.clone(),
                device: b.device_name.clone(),
            });
        }
        Ok(())
    }

    fn set_hub_online(&mut self, hub: &str, online: bool) -> Result<(), ErrorCode> {
        let was = self
            .server
            .with_config(|c| c.hub(hub).map(|h| h.online))
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        self.server.update_config(|c| {
            c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?.online = online;
            Ok(())
        })?;
        if was != online {
            self.hub_links_follow_online(hub, online);
        }
        Ok(())
    }

    fn get_hub_status(&mut self, hub: &str) -> Result<HubStatus, ErrorCode> {
        let h = self
            .server
            .with_config(|c| c.hub(hub).cloned())
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let sessions = self.hub_sessions(&h.name);
        let bridges = self.hub_bridges(&h.name).len() as u32;
        let mut traffic = Traffic::default();
        for s in &sessions {
            add_traffic(&mut traffic, &session_traffic(s));
        }
        let bridge_sessions = sessions.iter().filter(|s| s.info.bridge_mode).count() as u32;
        Ok(HubStatus {
            fields: HubStatusFields {
                hub_name: h.name.clone(),
                online: h.online,
                hub_type: hub_type::STANDALONE,
                num_sessions: sessions.len() as u32 + bridges,
                num_sessions_client: sessions.len() as u32 - bridge_sessions,
                num_sessions_bridge: bridge_sessions + bridges,
                num_access_lists: 0,
                num_users: h.users.len() as u32,
                num_groups: h.groups.len() as u32,
                num_mac_tables: self.server.hub(&h.name).map_or(0, |x| x.mac_count() as u32),
                num_ip_tables: 0,
                secure_nat_enabled: false,
                last_comm_time: h.last_comm_time,
                created_time: h.created_time,
                last_login_time: h.last_login_time,
                num_login: h.num_login,
            },
            traffic,
        })
    }

    fn create_user(&mut self, req: &SetUser) -> Result<(), ErrorCode> {
        self.bridge_edition()?;
        let f = &req.fields;
        if !is_valid_user_name(&f.name) {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        self.server.update_config(|c| {
            let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            if h.user(&f.name).is_some() {
                return Err(ErrorCode::USER_ALREADY_EXISTS);
            }
            check_group(h, &f.group_name)?;
            if h.users.len() >= MAX_USERS_PER_HUB {
                return Err(ErrorCode::TOO_MANY_USER);
            }
            let mut u = UserConfig::new(&f.name, convert::user_auth_to_config(&req.auth)?);
            apply_user(&mut u, req)?;
            h.users.push(u);
            Ok(())
        })
    }

    fn set_user(&mut self, req: &SetUser) -> Result<(), ErrorCode> {
        self.bridge_edition()?;
        let f = &req.fields;
        self.server.update_config(|c| {
            let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            check_group(h, &f.group_name)?;
            let u = h.user_mut(&f.name).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            apply_user(u, req)?;
            u.updated_time = now_ms();
            Ok(())
        })
    }

    fn get_user(&mut self, hub: &str, name: &str) -> Result<SetUser, ErrorCode> {
        self.server.with_config(|c| {
            let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let u = h.user(name).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            Ok(user_to_rpc(&h.name, u))
        })
    }

    fn delete_user(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        self.server.update_config(|c| {
            let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let i = h
                .users
                .iter()
                .position(|u| key_eq(&u.name, name))
                .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            h.users.remove(i);
            Ok(())
        })
    }

    fn enum_user(&mut self, hub: &str) -> Result<EnumUser, ErrorCode> {
        self.server.with_config(|c| {
            let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            Ok(EnumUser {
                hub_name: h.name.clone(),
                users: h
                    .users
                    .iter()
                    .map(|u| EnumUserItem {
                        fields: EnumUserItemFields {
                            name: u.name.clone(),
                            group_name: u.group.clone().unwrap_or_default(),
                            realname: u.realname.clone(),
                            note: u.note.clone(),
                            auth_type: u.auth.auth_type(),
                            last_login_time: u.last_login_time,
                            num_login: u.num_login,
                            deny_access: u.policy.as_ref().is_some_and(|p| !p.access),
                            is_traffic_filled: true,
                            is_expires_filled: true,
                            expires: u.expire_time,
                        },
                        traffic: Traffic::default(),
                    })
                    .collect(),
            })
        })
    }

    fn enum_session(&mut self, hub: &str) -> Result<EnumSession, ErrorCode> {
        let name = self
            .server
            .with_config(|c| c.hub(hub).map(|h| h.name.clone()))
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let mut sessions: Vec<EnumSessionItem> = self
            .hub_sessions(&name)
            .iter()
            .map(|s| self.session_item(s))
            .collect();
        for (sid, b) in self.hub_bridges(&name) {
            sessions.push(EnumSessionItem {
                name: sid,
                username: "Local Bridge".into(),
                hostname: b.device_name.clone(),
                bridge_mode: true,
                max_num_tcp: 0,
                current_num_tcp: 0,
                created_time: from_unix_ms(crate::clock::unix_ms()),
                last_comm_time: from_unix_ms(crate::clock::unix_ms()),
                ..EnumSessionItem::default()
            });
        }
        Ok(EnumSession {
            hub_name: name,
            sessions,
        })
    }

    fn get_session_status(&mut self, hub: &str, name: &str) -> Result<SessionStatus, ErrorCode> {
        let hub_cfg = self
            .server
            .with_config(|c| c.hub(hub).cloned())
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if let Some((sid, b)) = self
            .hub_bridges(&hub_cfg.name)
            .into_iter()
            .find(|(sid, _)| key_eq(sid, name))
        {
            return Ok(SessionStatus {
                fields: SessionStatusFields {
                    hub_name: hub_cfg.name.clone(),
                    name: sid.clone(),
                    username: "Local Bridge".into(),
                    real_username: "Local Bridge".into(),
                    client_host_name: b.device_name.clone(),
                    ..SessionStatusFields::default()
                },
                status: ConnectionStatus {
                    fields: ConnectionStatusFields {
                        session_name: sid,
                        active: true,
                        connected: true,
                        session_status: 3,
                        is_bridge_mode: true,
                        ..ConnectionStatusFields::default()
                    },
                    ..ConnectionStatus::default()
                },
                node: NodeInfo {
                    hub_name: hub_cfg.name.clone(),
                    ..NodeInfo::default()
                },
            });
        }
        let s = self
            .hub_sessions(&hub_cfg.name)
            .into_iter()
            .find(|s| key_eq(&s.name, name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        let ip = s.info.client_addr.ip();
        let group = hub_cfg
            .user(&s.info.username)
            .and_then(|u| u.group.clone())
            .unwrap_or_default();
        let host = sys::hostname();
        Ok(SessionStatus {
            fields: SessionStatusFields {
                hub_name: hub_cfg.name.clone(),
                name: s.name.clone(),
                username: s.info.username.clone(),
                group_name: group,
                real_username: s.info.username.clone(),
                // vpncmd prints "Client IP Address" from these two fields
                client_ip: ipv4_of(ip),
                client_ip6: match ip {
                    IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => v6.octets(),
                    _ => [0; 16],
                },
                client_host_name: host_text(&s),
                client_ip_address: Some(ip),
            },
            status: connection_status(&s, &host),
            node: NodeInfo {
                client_product_name: s.info.client_str.clone(),
                server_product_name: rustether_proto::messages::SERVER_HELLO.to_owned(),
                client_hostname: s.info.client_hostname.clone(),
                server_hostname: host,
                hub_name: hub_cfg.name.clone(),
                client_ip_address: ipv4_of(ip),
                client_port: u32::from(s.info.client_addr.port()),
                server_product_ver: rustether_proto::messages::SERVER_VERSION,
                server_product_build: rustether_proto::messages::SERVER_BUILD,
                ..NodeInfo::default()
            },
        })
    }

    fn delete_session(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        let hub_name = self
            .server
            .with_config(|c| c.hub(hub).map(|h| h.name.clone()))
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if self
            .hub_bridges(&hub_name)
            .iter()
            .any(|(sid, _)| key_eq(sid, name))
        {
            return Err(ErrorCode::BRIDGE_CANT_DISCONNECT);
        }
        let s = self
            .hub_sessions(&hub_name)
            .into_iter()
            .find(|s| key_eq(&s.name, name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        if is_cascade_session(&s) {
            return Err(ErrorCode::LINK_CANT_DISCONNECT);
        }
        info!(session = %s.name, hub = %hub_name, "admin: disconnecting session");
        s.disconnect();
        self.deferred.push(Deferred::WaitSession(s));
        Ok(())
    }

    fn enum_ethernet(&mut self) -> Result<EnumEth, ErrorCode> {
        if !rustether_netdev::is_bridge_supported() {
            // SoftEther lists nothing when it cannot open raw sockets.
            return Ok(EnumEth::default());
        }
        let devices = rustether_netdev::list_devices().map_err(|e| {
            warn!("admin: listing network devices failed: {e}");
            ErrorCode::NOT_SUPPORTED
        })?;
        Ok(EnumEth {
            items: devices
                .into_iter()
                .map(|d| EnumEthItem {
                    network_connection_name: d.name.clone(),
                    device_name: d.name,
                })
                .collect(),
        })
    }

    fn add_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode> {
        if !cfg!(target_os = "linux") {
            return Err(ErrorCode::LOCAL_BRIDGE_UNSUPPORTED);
        }
        // Like SoftEther (error 84 when raw sockets are unavailable), but the
        // log says which capability is missing and how to grant it.
        if let Err(e) = rustether_netdev::check_capabilities(true) {
            warn!(
                "local bridge {} on hub {} cannot be created: {e}",
                req.device_name, req.hub_name
            );
            return Err(ErrorCode::LOCAL_BRIDGE_UNSUPPORTED);
        }
        let tap_mac = if req.tap_mode {
            Some(rustether_netdev::generate_tap_mac().map_err(|_| ErrorCode::INTERNAL_ERROR)?)
        } else {
            None
        };
        let added = self.server.update_config(|c| {
            if c.local_bridges.iter().any(|b| {
                key_eq(&b.hub_name, &req.hub_name) && key_eq(&b.device_name, &req.device_name)
            }) {
                return Ok(None); // already there (as SoftEther: no error)
            }
            let b = LocalBridgeConfig {
                device_name: req.device_name.clone(),
                hub_name: req.hub_name.clone(),
                tap_mode: req.tap_mode,
                tap_mac,
                ..LocalBridgeConfig::default()
            };
            c.local_bridges.push(b.clone());
            Ok(Some((b, c.do_not_disable_offloading)))
        })?;
        if let Some((b, no_offload)) = added {
            if self.server.hub(&b.hub_name).is_some() {
                if let Err(e) = self.server.start_bridge(&b, !no_offload) {
                    warn!(
                        "local bridge {} on hub {} is unavailable: {e}",
                        b.device_name, b.hub_name
                    );
                }
            }
        }
        Ok(())
    }

    fn delete_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode> {
        let removed = self.server.update_config(|c| {
            let i = c
                .local_bridges
                .iter()
                .position(|b| {
                    key_eq(&b.hub_name, &req.hub_name) && key_eq(&b.device_name, &req.device_name)
                })
                .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            Ok(c.local_bridges.remove(i))
        })?;
        self.deferred.push(Deferred::StopBridge {
            hub: removed.hub_name,
            device: removed.device_name,
        });
        Ok(())
    }

    fn enum_local_bridge(&mut self) -> Result<EnumLocalBridge, ErrorCode> {
        let list = self.server.with_config(|c| c.local_bridges.clone());
        let running = self.server.bridges();
        Ok(EnumLocalBridge {
            items: list
                .iter()
                .map(|b| {
                    let hub = self.server.hub(&b.hub_name);
                    let r = running.iter().find(|r| {
                        key_eq(r.hub.name(), &b.hub_name) && r.device_name == b.device_name
                    });
                    LocalBridgeItem {
                        device_name: b.device_name.clone(),
                        hub_name: b.hub_name.clone(),
                        online: hub.as_ref().is_some_and(|h| h.is_online()),
                        active: r.is_some_and(|r| bridge_active(r, b)),
                        tap_mode: b.tap_mode,
                    }
                })
                .collect(),
        })
    }

    fn create_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode> {
        let mut l = req.clone();
        l.normalize_for_server();
        let cfg = convert::link_to_cascade(&l, false)?;
        self.server.update_config(|c| {
            let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            if h.cascade(&cfg.account_name).is_some() {
                return Err(ErrorCode::LINK_ALREADY_EXISTS);
            }
            h.cascades.push(cfg);
            Ok(())
        })
    }

    fn get_link(&mut self, hub: &str, account: &str) -> Result<CreateLink, ErrorCode> {
        self.server.with_config(|c| {
            let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let x = h.cascade(account).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            Ok(convert::cascade_to_link(&h.name, x))
        })
    }

    fn set_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode> {
        let mut l = req.clone();
        l.normalize_for_server();
        let (hub, cfg) = self.server.update_config(|c| {
            let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let hub = h.name.clone();
            let x = h
                .cascade_mut(&req.option.account_name)
                .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            let mut new = convert::link_to_cascade(&l, x.online)?;
            new.account_name = x.account_name.clone();
            *x = new;
            Ok((hub, x.clone()))
        })?;
        if cfg.online {
            self.deferred.push(Deferred::RestartCascade {
                hub,
                name: cfg.account_name.clone(),
                cfg: Some(Box::new(cfg)),
            });
        }
        Ok(())
    }

    fn enum_link(&mut self, hub: &str) -> Result<EnumLink, ErrorCode> {
        let (name, cascades) = self
            .server
            .with_config(|c| c.hub(hub).map(|h| (h.name.clone(), h.cascades.clone())))
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok(EnumLink {
            hub_name: name.clone(),
            links: cascades
                .iter()
                .map(|x| {
                    let st = self.server.cascade_status(&name, &x.account_name);
                    let (connected, connected_time, last_error) = match &st {
                        CascadeStatus::Online { since_unix_ms, .. } => {
                            (true, from_unix_ms(*since_unix_ms), 0)
                        }
                        CascadeStatus::Error { code, .. } => (false, 0, code.0),
                        _ => (false, 0, 0),
                    };
                    EnumLinkItem {
                        account_name: x.account_name.clone(),
                        hostname: x.hostname.clone(),
                        hub_name: x.hub_name.clone(),
                        online: x.online,
                        connected_time,
                        connected,
                        last_error,
                    }
                })
                .collect(),
        })
    }

    fn get_link_status(&mut self, hub: &str, account: &str) -> Result<LinkStatus, ErrorCode> {
        let (hub_name, x) = self.server.with_config(|c| {
            let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let x = h.cascade(account).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            Ok::<_, ErrorCode>((h.name.clone(), x.clone()))
        })?;
        let Some(c) = self.server.cascade(&hub_name, &x.account_name) else {
            return Err(ErrorCode::LINK_IS_OFFLINE);
        };
        let mut status = ConnectionStatus {
            fields: ConnectionStatusFields {
                account_name: x.account_name.clone(),
                server_name: x.hostname.clone(),
                server_port: u32::from(x.port),
                max_tcp_connections: x.max_connection,
                use_encrypt: x.use_encrypt,
                use_compress: x.use_compress,
                half_connection: x.half_connection,
                qos: !x.disable_qos,
                is_bridge_mode: true,
                active: true,
                ..ConnectionStatusFields::default()
            },
            ..ConnectionStatus::default()
        };
        match c.status() {
            CascadeStatus::Offline => return Err(ErrorCode::LINK_IS_OFFLINE),
            CascadeStatus::Connecting => status.fields.session_status = 0,
            CascadeStatus::Error { .. } => status.fields.session_status = 4,
            CascadeStatus::Online {
                remote_session,
                local_session,
                since_unix_ms,
                connections,
            } => {
                let f = &mut status.fields;
                f.session_status = 3;
                f.connected = true;
                f.session_name = remote_session;
                f.connection_name = local_session.clone();
                f.server_product_name = rustether_proto::messages::SERVER_HELLO.to_owned();
                f.server_product_ver = rustether_proto::messages::SERVER_VERSION;
                f.server_product_build = rustether_proto::messages::SERVER_BUILD;
                f.num_tcp_connections = connections;
                f.num_connections_established = connections;
                f.underlay_protocol = "Standard TCP/IP (IPv4)".to_owned();
                f.start_time = from_unix_ms(since_unix_ms);
                f.first_connection_established_time = f.start_time;
                f.current_connection_establish_time = f.start_time;
                if let Some(s) = self
                    .hub_sessions(&hub_name)
                    .into_iter()
                    .find(|s| s.name == local_session)
                {
                    status.traffic = session_traffic(&s);
                    status.fields.num_tcp_connections = s.connection_count();
                }
            }
        }
        Ok(LinkStatus {
            hub_name,
            account_name: x.account_name,
            status,
        })
    }

    fn set_link_online(&mut self, hub: &str, account: &str, online: bool) -> Result<(), ErrorCode> {
        let (hub_name, cfg, hub_online) = self.server.update_config(|c| {
            let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let hub_name = h.name.clone();
            let hub_online = h.online;
            let x = h.cascade_mut(account).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            x.online = online;
            Ok((hub_name, x.clone(), hub_online))
        })?;
        self.deferred.push(Deferred::RestartCascade {
            hub: hub_name,
            name: cfg.account_name.clone(),
            cfg: (online && hub_online).then(|| Box::new(cfg)),
        });
        Ok(())
    }

    fn delete_link(&mut self, hub: &str, account: &str) -> Result<(), ErrorCode> {
        let (hub_name, name) = self.server.update_config(|c| {
            let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let i = h
                .cascades
                .iter()
                .position(|x| key_eq(&x.account_name, account))
                .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
            let x = h.cascades.remove(i);
            Ok((h.name.clone(), x.account_name))
        })?;
        self.deferred.push(Deferred::RestartCascade {
            hub: hub_name,
            name,
            cfg: None,
        });
        Ok(())
    }
}

impl ServerBackend<'_> {
    /// A hub going offline stops its cascades (SoftEther `StopAllLink`);
    /// coming online starts the online ones and its local bridges again.
    fn hub_links_follow_online(&mut self, hub: &str, online: bool) {
        let (name, cascades) = match self
            .server
            .with_config(|c| c.hub(hub).map(|h| (h.name.clone(), h.cascades.clone())))
        {
            Some(x) => x,
            None => return,
        };
        for x in cascades.into_iter().filter(|x| x.online) {
            self.deferred.push(Deferred::RestartCascade {
                hub: name.clone(),
                name: x.account_name.clone(),
                cfg: online.then(|| Box::new(x)),
            });
        }
        if online {
            self.start_hub_bridges(&name);
        }
    }
}

/// `Active[]` of a configured bridge with a running instance: TAP devices
/// are created at start; a raw interface counts once it is open or, before
/// the first frame has arrived, while it exists and is up.
fn bridge_active(r: &crate::bridge::LocalBridge, cfg: &LocalBridgeConfig) -> bool {
    let st = r.status();
    if st == "Operating" {
        return true;
    }
    if st == "Stopped" || st.starts_with("Error") || cfg.tap_mode {
        return false;
    }
    rustether_netdev::device_info(&cfg.device_name).is_ok_and(|d| d.up)
}
