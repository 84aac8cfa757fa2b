//! MAC/IP address table and connection RPCs
//! (`rustether_admin::rpc::table`) over the running hubs' switches
//! ([`crate::hub::Hub::mac_table`], [`crate::hub::Hub::ip_table`]) and
//! the live sessions.
//!
//! A "connection" (`CID-<n>`) is the TCP side of a VPN client session, as
//! SoftEther's `CONNECTION` object once the session is established (type
//! 0, `CONNECTION_TYPE_CLIENT`); `<n>` is the session's switch port id.
//! Disconnecting it ends the session with all its TCP connections, as
//! `StopConnection` does. Admin RPC connections and connections still in
//! negotiation are not listed (SoftEther lists them with types 1 and 5).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use rustether_admin::rpc::*;
use rustether_hub::SessionId;
use rustether_proto::softether::time::from_unix_ms;
use rustether_proto::ErrorCode;
use tracing::info;

use super::session::{host_text, ipv4_of};
use super::{key_eq, Deferred, ServerBackend};
use crate::admin::sys;
use crate::clock::{now_ms, unix_ms};
use crate::hub::Hub;
use crate::session::Session;

/// `CONNECTION_TYPE_CLIENT` (src/Cedar/Connection.h).
const CONNECTION_TYPE_CLIENT: u32 = 0;

impl ServerBackend<'_> {
    fn running_hub(&self, hub: &str) -> Result<(String, Arc<Hub>), ErrorCode> {
        let name = self
            .server
            .with_config(|c| c.hub(hub).map(|h| h.name.clone()))
            .ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let h = self.server.hub(&name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok((name, h))
    }

    /// Session names by switch port id: sessions and local bridges.
    fn port_names(&self, hub: &str) -> HashMap<SessionId, String> {
        let mut m: HashMap<SessionId, String> = self
            .hub_sessions(hub)
            .iter()
            .map(|s| (s.id, s.name.clone()))
            .collect();
        for (sid, b) in self.hub_bridges(hub) {
            m.insert(b.id, sid);
        }
        m
    }

    /// Live VPN client sessions that came in over TCP, by `CID-<n>`.
    fn client_connections(&self) -> Vec<(String, Arc<Session>)> {
        let mut v: Vec<(String, Arc<Session>)> = self
            .server
            .sessions
            .all()
            .into_iter()
            .filter(|s| !s.has_ended() && !s.info.server_side)
            .map(|s| (format!("CID-{}", s.id), s))
            .collect();
        v.sort_by_key(|(_, s)| s.id);
        v
    }
}

/// A time on the switch's monotonic ms clock as SoftEther's wall-clock
/// time (`TickToTime`).
fn wall(mono_ms: u64) -> u64 {
    from_unix_ms(unix_ms().saturating_sub(now_ms().saturating_sub(mono_ms)))
}

pub(super) fn enum_mac_table(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<EnumMacTable, ErrorCode> {
    let (name, h) = this.running_hub(hub)?;
    let names = this.port_names(&name);
    let host = sys::hostname();
    let mut entries: Vec<EnumMacTableItem> = h
        .mac_table()
        .into_iter()
        .map(|(key, e)| EnumMacTableItem {
            key,
            session_name: names
                .get(&e.session)
                .cloned()
                .unwrap_or_else(|| format!("SID-PORT-{}", e.session)),
            mac_address: e.mac.0.to_vec(),
            vlan_id: u32::from(e.vlan),
            created_time: wall(e.created_ms),
            updated_time: wall(e.updated_ms),
            remote_item: false,
            remote_hostname: host.clone(),
        })
        .collect();
    entries
        .sort_by(|a, b| (&a.session_name, &a.mac_address).cmp(&(&b.session_name, &b.mac_address)));
    Ok(EnumMacTable {
        hub_name: name,
        entries,
    })
}

pub(super) fn delete_mac_table(
    this: &mut ServerBackend<'_>,
    hub: &str,
    key: u32,
) -> Result<(), ErrorCode> {
    let (name, h) = this.running_hub(hub)?;
    if !h.delete_mac(key) {
        return Err(ErrorCode::OBJECT_NOT_FOUND);
    }
    info!(hub = %name, key, "admin: MAC table entry deleted");
    Ok(())
}

pub(super) fn enum_ip_table(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<EnumIpTable, ErrorCode> {
    let (name, h) = this.running_hub(hub)?;
    let names = this.port_names(&name);
    let host = sys::hostname();
    let mut entries: Vec<EnumIpTableItem> = h
        .ip_table()
        .into_iter()
        .map(|(key, e)| EnumIpTableItem {
            key,
            session_name: names
                .get(&e.session)
                .cloned()
                .unwrap_or_else(|| format!("SID-PORT-{}", e.session)),
            ip: match e.ip {
                IpAddr::V4(v4) => v4,
                IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
            },
            ip_v6: Some(e.ip),
            ip_address: Some(e.ip),
            dhcp_allocated: false,
            created_time: wall(e.created_ms),
            updated_time: wall(e.updated_ms),
            remote_item: false,
            remote_hostname: host.clone(),
        })
        .collect();
    entries.sort_by(|a, b| (&a.session_name, a.ip_address).cmp(&(&b.session_name, b.ip_address)));
    Ok(EnumIpTable {
        hub_name: name,
        entries,
    })
}

pub(super) fn delete_ip_table(
    this: &mut ServerBackend<'_>,
    hub: &str,
    key: u32,
) -> Result<(), ErrorCode> {
    let (name, h) = this.running_hub(hub)?;
    if !h.delete_ip(key) {
        return Err(ErrorCode::OBJECT_NOT_FOUND);
    }
    info!(hub = %name, key, "admin: IP table entry deleted");
    Ok(())
}

pub(super) fn enum_connection(this: &mut ServerBackend<'_>) -> Result<EnumConnection, ErrorCode> {
    Ok(EnumConnection {
        connections: this
            .client_connections()
            .into_iter()
            .map(|(name, s)| EnumConnectionItem {
                ip: ipv4_of(s.info.client_addr.ip()),
                port: u32::from(s.info.client_addr.port()),
                name,
                hostname: host_text(&s),
                connected_time: from_unix_ms(s.info.created_unix_ms),
                conn_type: CONNECTION_TYPE_CLIENT,
            })
            .collect(),
    })
}

pub(super) fn get_connection_info(
    this: &mut ServerBackend<'_>,
    name: &str,
) -> Result<ConnectionInfo, ErrorCode> {
    let (name, s) = this
        .client_connections()
        .into_iter()
        .find(|(n, _)| key_eq(n, name))
        .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
    Ok(ConnectionInfo {
        name,
        ip: ipv4_of(s.info.client_addr.ip()),
        port: u32::from(s.info.client_addr.port()),
        connected_time: from_unix_ms(s.info.created_unix_ms),
        hostname: host_text(&s),
        server_str: rustether_proto::messages::SERVER_HELLO.to_owned(),
        client_str: s.info.client_str.clone(),
        server_ver: rustether_proto::messages::SERVER_VERSION,
        server_build: rustether_proto::messages::SERVER_BUILD,
        client_ver: 0,
        client_build: 0,
        conn_type: CONNECTION_TYPE_CLIENT,
    })
}

pub(super) fn disconnect_connection(
    this: &mut ServerBackend<'_>,
    name: &str,
) -> Result<(), ErrorCode> {
    let (name, s) = this
        .client_connections()
        .into_iter()
        .find(|(n, _)| key_eq(n, name))
        .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
    info!(connection = %name, session = %s.name, "admin: disconnecting connection");
    s.disconnect();
    this.deferred.push(Deferred::WaitSession(s));
    Ok(())
}
