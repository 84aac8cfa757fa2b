//! Server-level RPCs: information and status, listeners, the server
//! password and certificate, capabilities, keep-alive settings and the
//! configuration file (`rustether_admin::rpc::server`).

use rustether_admin::rpc::*;
use rustether_config::{Edition, ListenerConfig};
use rustether_proto::softether::time::from_unix_ms;
use rustether_proto::ErrorCode;
use tracing::{info, warn};

use super::{Deferred, ServerBackend, MAX_HUBS, MAX_USERS_PER_HUB};
use crate::admin::sys;
use crate::listener::ListenerState;

pub(super) fn get_server_info(this: &mut ServerBackend<'_>) -> Result<ServerInfo, ErrorCode> {
    use rustether_proto::messages::{SERVER_BUILD, SERVER_VERSION};
    Ok(ServerInfo {
        fields: ServerInfoFields {
            server_product_name: this.server.edition.title().to_owned(),
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

pub(super) fn get_server_status(this: &mut ServerBackend<'_>) -> Result<ServerStatus, ErrorCode> {
    let (hubs, users, groups, traffic) = this.server.with_statistics(|c| {
        (
            c.hubs.len() as u32,
            c.hubs.iter().map(|h| h.users.len() as u32).sum::<u32>(),
            c.hubs.iter().map(|h| h.groups.len() as u32).sum::<u32>(),
            // cumulative, saved as `ServerTraffic` (SiWriteTraffic)
            crate::admin::convert::traffic_of(&c.server.raw, "ServerTraffic"),
        )
    });
    let sessions = this.server.sessions.all();
    let tcp: u32 = sessions.iter().map(|s| s.connection_count()).sum();
    let started = this
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
            num_mac_tables: this
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

pub(super) fn create_listener(
    this: &mut ServerBackend<'_>,
    req: &Listener,
) -> Result<(), ErrorCode> {
    let port = port_of(req.port)?;
    this.server.update_config_blocking(|c| {
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
        start_listener(this, port);
    }
    Ok(())
}

pub(super) fn enum_listener(this: &mut ServerBackend<'_>) -> Result<ListenerList, ErrorCode> {
    let list = this.server.with_config(|c| c.listeners.clone());
    Ok(ListenerList {
        listeners: list
            .iter()
            .map(|l| ListenerItem {
                port: u32::from(l.port),
                enable: l.enabled,
                error: l.enabled && this.listeners.state(l.port) != Some(ListenerState::Listening),
            })
            .collect(),
    })
}

pub(super) fn delete_listener(this: &mut ServerBackend<'_>, port: u32) -> Result<(), ErrorCode> {
    let port = u16::try_from(port).map_err(|_| ErrorCode::LISTENER_NOT_FOUND)?;
    this.server.update_config_blocking(|c| {
        let before = c.listeners.len();
        c.listeners.retain(|l| l.port != port);
        if c.listeners.len() == before {
            return Err(ErrorCode::LISTENER_NOT_FOUND);
        }
        Ok(())
    })?;
    this.listeners.stop(port);
    Ok(())
}

pub(super) fn enable_listener(
    this: &mut ServerBackend<'_>,
    req: &Listener,
) -> Result<(), ErrorCode> {
    let port = u16::try_from(req.port).map_err(|_| ErrorCode::LISTENER_NOT_FOUND)?;
    this.server.update_config_blocking(|c| {
        let l = c
            .listeners
            .iter_mut()
            .find(|l| l.port == port)
            .ok_or(ErrorCode::LISTENER_NOT_FOUND)?;
        l.enabled = req.enable;
        Ok(())
    })?;
    if req.enable {
        start_listener(this, port);
    } else {
        this.listeners.stop(port);
    }
    Ok(())
}

pub(super) fn set_server_password(
    this: &mut ServerBackend<'_>,
    hashed_password: &[u8; 20],
) -> Result<(), ErrorCode> {
    this.server.update_config_blocking(|c| {
        c.server.hashed_password = *hashed_password;
        Ok(())
    })
}

pub(super) fn get_server_cert(this: &mut ServerBackend<'_>) -> Result<KeyPair, ErrorCode> {
    let ck = this.server.certified_key();
    Ok(KeyPair {
        cert: Some(ck.cert_der.clone()),
        chain: Vec::new(),
        key: Some(ck.key_der.clone()),
        flag1: 0,
    })
}

pub(super) fn get_caps(this: &mut ServerBackend<'_>) -> Result<CapsList, ErrorCode> {
    let bridge = rustether_netdev::is_bridge_supported();
    let server = this.server.edition == Edition::Server;
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
            ("b_support_securenat".into(), 1),
            ("b_support_radius".into(), b(server)),
            ("b_support_ddns".into(), 0),
            ("b_support_sstp".into(), 0),
            ("b_support_openvpn".into(), 0),
            ("b_support_ipsec".into(), 0),
            ("i_max_hubs".into(), MAX_HUBS as u32),
            ("i_max_sessions".into(), 100_000),
            ("i_max_users_per_hub".into(), MAX_USERS_PER_HUB as u32),
            ("i_max_packet_size".into(), 1600),
            // Access lists (docs/administration.md): `b_support_ex_acl` is
            // what vpncmd's AccessAdd6/AccessAddEx check; delay, jitter
            // and loss themselves are refused with error 33.
            (
                "i_max_access_lists".into(),
                rustether_proto::softether::access::MAX_ACCESSLISTS,
            ),
            ("b_support_ex_acl".into(), 1),
            ("b_support_ipv6_acl".into(), 1),
            ("b_support_check_tcp_state".into(), 1),
            ("b_support_acl_group".into(), 1),
            ("b_support_redirect_url_acl".into(), 0),
            // Source IP access control list (GetAcList/SetAcList).
            ("b_support_ac".into(), b(server)),
        ],
    })
}

pub(super) fn get_keep(this: &mut ServerBackend<'_>) -> Result<Keep, ErrorCode> {
    Ok(this.server.with_config(|c| {
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

pub(super) fn set_keep(this: &mut ServerBackend<'_>, req: &Keep) -> Result<(), ErrorCode> {
    // Stored for compatibility; RustEther never sends keep-alive
    // packets to the internet whatever the setting says.
    this.server.update_config_blocking(|c| {
        c.server.use_keep_connect = req.use_keep_connect;
        let r = &mut c.server.raw;
        r.set_str("KeepConnectHost", &req.keep_connect_host);
        r.set_uint("KeepConnectPort", req.keep_connect_port);
        r.set_uint("KeepConnectProtocol", req.keep_connect_protocol);
        r.set_uint("KeepConnectInterval", req.keep_connect_interval);
        Ok(())
    })
}

/// `SetPortsUDP`: `ServerConfiguration/PortsUDP` as SoftEther writes it
/// ("1194, 1195"). The UDP sockets change at the next start
/// (docs/openvpn.md).
pub(super) fn set_ports_udp(this: &mut ServerBackend<'_>, ports: &[u16]) -> Result<(), ErrorCode> {
    let text = ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    this.server.update_config_blocking(|c| {
        c.server.raw.set_str("PortsUDP", &text);
        Ok(())
    })
}

/// `GetProtoOptions`: `ServerConfiguration/Proto/<protocol>` over
/// SoftEther's defaults ([`proto_defaults`]).
pub(super) fn get_proto_options(
    this: &mut ServerBackend<'_>,
    protocol: &'static str,
) -> Result<Vec<ProtoOption>, ErrorCode> {
    let (_, mut options) = proto_defaults(protocol).ok_or(ErrorCode::INVALID_PARAMETER)?;
    this.server.with_config(|c| {
        let Some(f) = c
            .server
            .raw
            .folder("Proto")
            .and_then(|p| p.folder(protocol))
        else {
            return;
        };
        for o in &mut options {
            match &mut o.value {
                ProtoValue::String(v) => {
                    if let Some(x) = f.get_str(&o.name) {
                        *v = x.to_owned();
                    }
                }
                ProtoValue::Bool(v) => {
                    if let Some(x) = f.get_bool(&o.name) {
                        *v = x;
                    }
                }
                ProtoValue::UInt32(v) => {
                    if let Some(x) = f.get_uint(&o.name) {
                        *v = x;
                    }
                }
            }
        }
    });
    Ok(options)
}

/// `SetProtoOptions`: writes the options into
/// `ServerConfiguration/Proto/<protocol>` with their canonical names.
/// Only OpenVPN's `Enabled` has an effect (docs/openvpn.md); the others
/// are stored for SoftEther compatibility.
pub(super) fn set_proto_options(
    this: &mut ServerBackend<'_>,
    protocol: &'static str,
    options: &[ProtoOption],
) -> Result<(), ErrorCode> {
    let (_, defaults) = proto_defaults(protocol).ok_or(ErrorCode::INVALID_PARAMETER)?;
    this.server.update_config_blocking(|c| {
        let f = c
            .server
            .raw
            .folder_or_insert("Proto")
            .folder_or_insert(protocol);
        for o in options {
            let name = defaults
                .iter()
                .find(|d| d.name.eq_ignore_ascii_case(&o.name))
                .map(|d| d.name.as_str())
                .unwrap_or(o.name.as_str());
            match &o.value {
                ProtoValue::String(v) => f.set_str(name, v),
                ProtoValue::Bool(v) => f.set_bool(name, *v),
                ProtoValue::UInt32(v) => f.set_uint(name, *v),
            }
        }
        Ok(())
    })
}

pub(super) fn flush(this: &mut ServerBackend<'_>) -> Result<u32, ErrorCode> {
    this.server.save_blocking().map_err(|e| {
        warn!("admin: Flush: saving failed: {e}");
        ErrorCode::INTERNAL_ERROR
    })?;
    let len = std::fs::metadata(this.server.config_path())
        .map_err(|_| ErrorCode::INTERNAL_ERROR)?
        .len();
    Ok(u32::try_from(len).unwrap_or(u32::MAX))
}

pub(super) fn get_config(this: &mut ServerBackend<'_>) -> Result<Config, ErrorCode> {
    Ok(Config {
        file_name: format!("${}", this.server.edition.config_file_name()),
        file_data: this.server.config_text().into_bytes(),
    })
}

pub(super) fn set_config(this: &mut ServerBackend<'_>, req: &Config) -> Result<(), ErrorCode> {
    let text = std::str::from_utf8(&req.file_data).map_err(|_| {
        warn!("admin: SetConfig: the text is not UTF-8");
        ErrorCode::INVALID_PARAMETER
    })?;
    this.server
        .replace_config_text_blocking(text)
        .map_err(|e| {
            warn!("admin: SetConfig refused: {e}");
            ErrorCode::INVALID_PARAMETER
        })?;
    info!("admin: SetConfig: the new configuration is saved and in force");
    this.deferred.push(Deferred::Reload);
    Ok(())
}

fn port_of(p: u32) -> Result<u16, ErrorCode> {
    u16::try_from(p)
        .ok()
        .filter(|p| *p != 0)
        .ok_or(ErrorCode::INVALID_PARAMETER)
}

/// Opens `port`, or starts retrying it when it cannot be bound yet.
fn start_listener(this: &ServerBackend<'_>, port: u16) {
    if let Some(e) = this.listeners.start(port) {
        warn!("admin: listener {port} enabled but not bound yet: {e}");
    }
}
