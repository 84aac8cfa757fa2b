//! Session RPCs (`rustether_admin::rpc::session`) and the session
//! figures other families report.

use std::net::IpAddr;
use std::sync::Arc;

use rustether_admin::rpc::*;
use rustether_proto::softether::time::from_unix_ms;
use rustether_proto::ErrorCode;
use tracing::info;

use super::{key_eq, Deferred, ServerBackend};
use crate::admin::{convert, sys};
use crate::session::{Role, Session};

pub(super) fn enum_session(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<EnumSession, ErrorCode> {
    let name = this
        .server
        .with_config(|c| c.hub(hub).map(|h| h.name.clone()))
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    let mut sessions: Vec<EnumSessionItem> = this
        .hub_sessions(&name)
        .iter()
        .map(|s| this.session_item(s))
        .collect();
    for (sid, b) in this.hub_bridges(&name) {
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
    if let Some(item) = this.hub_securenat_session(&name) {
        sessions.push(item);
    }
    sessions.extend(this.hub_l3_sessions(&name));
    Ok(EnumSession {
        hub_name: name,
        sessions,
    })
}

/// Name of the running SecureNAT's session in `SessionList` (SoftEther
/// `NewServerSession` names it `SID-SECURENAT-<n>`; one per hub here).
pub(super) const SECURENAT_SESSION: &str = "SID-SECURENAT-1";

/// SoftEther's user name of the SecureNAT session (`SNAT_USER_NAME_PRINT`).
const SECURENAT_USER: &str = "SecureNAT";

pub(super) fn get_session_status(
    this: &mut ServerBackend<'_>,
    hub: &str,
    name: &str,
) -> Result<SessionStatus, ErrorCode> {
    let hub_cfg = this
        .server
        .with_config(|c| c.hub(hub).cloned())
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    if let Some((sid, b)) = this
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
    if key_eq(name, SECURENAT_SESSION) && this.server.securenat(&hub_cfg.name).is_some() {
        return Ok(internal_session_status(
            &hub_cfg.name,
            SECURENAT_SESSION,
            SECURENAT_USER,
            0,
        ));
    }
    // A Virtual Layer 3 Switch's session: SoftEther finds it in the hub's
    // session list like any other (`StGetSessionStatus`), with user
    // `L3SW_<switch>` and no client connection.
    if let Some(e) = this
        .hub_l3_sessions(&hub_cfg.name)
        .into_iter()
        .find(|e| key_eq(&e.name, name))
    {
        return Ok(internal_session_status(
            &hub_cfg.name,
            &e.name,
            &e.username,
            e.created_time,
        ));
    }
    let s = this
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

pub(super) fn delete_session(
    this: &mut ServerBackend<'_>,
    hub: &str,
    name: &str,
) -> Result<(), ErrorCode> {
    let hub_name = this
        .server
        .with_config(|c| c.hub(hub).map(|h| h.name.clone()))
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    if this
        .hub_bridges(&hub_name)
        .iter()
        .any(|(sid, _)| key_eq(sid, name))
    {
        return Err(ErrorCode::BRIDGE_CANT_DISCONNECT);
    }
    if key_eq(name, SECURENAT_SESSION) && this.server.securenat(&hub_name).is_some() {
        // SoftEther StDeleteSession: ERR_SNAT_CANT_DISCONNECT.
        return Err(ErrorCode::SNAT_CANT_DISCONNECT);
    }
    if this
        .hub_l3_sessions(&hub_name)
        .iter()
        .any(|e| key_eq(&e.name, name))
    {
        // SoftEther StDeleteSession: ERR_LAYER3_CANT_DISCONNECT.
        return Err(ErrorCode::LAYER3_CANT_DISCONNECT);
    }
    let s = this
        .hub_sessions(&hub_name)
        .into_iter()
        .find(|s| key_eq(&s.name, name))
        .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
    if is_cascade_session(&s) {
        return Err(ErrorCode::LINK_CANT_DISCONNECT);
    }
    info!(session = %s.name, hub = %hub_name, "admin: disconnecting session");
    s.disconnect();
    this.deferred.push(Deferred::WaitSession(s));
    Ok(())
}

impl ServerBackend<'_> {
    /// The `SessionList` row of `hub`'s running SecureNAT, as SoftEther
    /// lists its SecureNAT session (`SecureNATMode`, user `SecureNAT`,
    /// `MaxConnection` of the default policy).
    pub(super) fn hub_securenat_session(&self, hub: &str) -> Option<EnumSessionItem> {
        self.server.securenat(hub)?;
        let now = from_unix_ms(crate::clock::unix_ms());
        Some(EnumSessionItem {
            name: SECURENAT_SESSION.into(),
            username: SECURENAT_USER.into(),
            secure_nat_mode: true,
            max_num_tcp: 32,
            created_time: now,
            last_comm_time: now,
            ..EnumSessionItem::default()
        })
    }

    /// The sessions of online Virtual Layer 3 Switches on `hub`, as
    /// SoftEther lists them (`L3IfThread`: user `L3SW_<switch>`,
    /// `Layer3Mode`, the default policy's 32 connections, no host).
    pub(super) fn hub_l3_sessions(&self, hub: &str) -> Vec<EnumSessionItem> {
        let mut v: Vec<EnumSessionItem> = self
            .server
            .l3_all()
            .iter()
            .flat_map(|p| {
                let user = format!("{}{}", crate::l3::L3_USERNAME, p.name);
                p.sessions()
                    .into_iter()
                    .filter(|s| key_eq(&s.hub, hub))
                    .map(move |s| EnumSessionItem {
                        name: s.name,
                        username: user.clone(),
                        layer3_mode: true,
                        max_num_tcp: 32,
                        created_time: from_unix_ms(s.since_unix_ms),
                        last_comm_time: from_unix_ms(crate::clock::unix_ms()),
                        ..EnumSessionItem::default()
                    })
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Live sessions of the running hub `hub`.
    pub(super) fn hub_sessions(&self, hub: &str) -> Vec<Arc<Session>> {
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

/// `SessionGet` of one of the server's internal sessions (SecureNAT,
/// Virtual Layer 3 Switch): user and session name, established, no client
/// connection or node information (`StGetSessionStatus`,
/// `CiGetSessionStatus`). `started`: SoftEther time, 0 = not shown.
fn internal_session_status(hub: &str, name: &str, user: &str, started: u64) -> SessionStatus {
    SessionStatus {
        fields: SessionStatusFields {
            hub_name: hub.to_owned(),
            name: name.to_owned(),
            username: user.to_owned(),
            real_username: user.to_owned(),
            ..SessionStatusFields::default()
        },
        status: ConnectionStatus {
            fields: ConnectionStatusFields {
                session_name: name.to_owned(),
                active: true,
                connected: true,
                session_status: 3,
                start_time: started,
                first_connection_established_time: started,
                current_connection_establish_time: started,
                ..ConnectionStatusFields::default()
            },
            ..ConnectionStatus::default()
        },
        node: NodeInfo {
            hub_name: hub.to_owned(),
            ..NodeInfo::default()
        },
    }
}

/// The local end of one of our cascades (SoftEther's `SID-LINK-*`).
pub(super) fn is_cascade_session(s: &Session) -> bool {
    s.info.server_side && s.role == Role::Client
}

pub(super) fn ipv4_of(ip: IpAddr) -> std::net::Ipv4Addr {
    match ip {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .unwrap_or(std::net::Ipv4Addr::UNSPECIFIED),
    }
}

pub(super) fn host_text(s: &Session) -> String {
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

/// A session's `TRAFFIC`, the client's point of view as SoftEther reports
/// it (crate::accounting::session_counters).
pub(super) fn session_traffic(s: &Session) -> Traffic {
    convert::traffic_from_config(&crate::accounting::session_counters(&s.stats))
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
            is_udp_acceleration_enabled: s.udp.is_some(),
            is_using_udp_acceleration: s
                .udp
                .as_ref()
                .is_some_and(|u| u.in_use.load(std::sync::atomic::Ordering::Relaxed)),
            protocol_details: s
                .udp
                .as_ref()
                .map(|u| u.protocol_details())
                .unwrap_or_default(),
            udp_accel_send_bytes: s.udp.as_ref().map_or(0, |u| {
                u.sent_bytes.load(std::sync::atomic::Ordering::Relaxed)
            }),
            udp_accel_recv_bytes: s.udp.as_ref().map_or(0, |u| {
                u.recv_bytes.load(std::sync::atomic::Ordering::Relaxed)
            }),
            ..ConnectionStatusFields::default()
        },
        traffic: session_traffic(s),
        ..ConnectionStatus::default()
    }
}
