//! Cascade RPCs (`rustether_admin::rpc::link`).

use rustether_admin::rpc::*;
use rustether_proto::softether::time::from_unix_ms;
use rustether_proto::ErrorCode;

use super::session::session_traffic;
use super::{key_eq, Deferred, ServerBackend};
use crate::admin::convert;
use crate::cascade::CascadeStatus;

pub(super) fn create_link(this: &mut ServerBackend<'_>, req: &CreateLink) -> Result<(), ErrorCode> {
    let mut l = req.clone();
    l.normalize_for_server();
    let mut cfg = convert::link_to_cascade(&l, false)?;
    cfg.set_by_hub_admin = this.hub_admin;
    this.server.update_config_blocking(|c| {
        let max = c.server.max_cascades_per_hub();
        let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if h.cascade(&cfg.account_name).is_some() {
            return Err(ErrorCode::LINK_ALREADY_EXISTS);
        }
        // `MaxCascadesPerHub` (SECURITY.md): 110 (too many items) beyond.
        if max.is_some_and(|m| h.cascades.len() >= m) {
            return Err(ErrorCode::TOO_MANY_ITEMS);
        }
        h.cascades.push(cfg);
        Ok(())
    })
}

pub(super) fn get_link(
    this: &mut ServerBackend<'_>,
    hub: &str,
    account: &str,
) -> Result<CreateLink, ErrorCode> {
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let x = h.cascade(account).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok(convert::cascade_to_link(&h.name, x))
    })
}

pub(super) fn set_link(this: &mut ServerBackend<'_>, req: &CreateLink) -> Result<(), ErrorCode> {
    let mut l = req.clone();
    l.normalize_for_server();
    let hub_admin = this.hub_admin;
    let (hub, cfg) = this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let hub = h.name.clone();
        let x = h
            .cascade_mut(&req.option.account_name)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        let mut new = convert::link_to_cascade(&l, x.online)?;
        new.account_name = x.account_name.clone();
        new.set_by_hub_admin = hub_admin;
        *x = new;
        Ok((hub, x.clone()))
    })?;
    if cfg.online {
        this.deferred.push(Deferred::RestartCascade {
            hub,
            name: cfg.account_name.clone(),
            cfg: Some(Box::new(cfg)),
        });
    }
    Ok(())
}

pub(super) fn enum_link(this: &mut ServerBackend<'_>, hub: &str) -> Result<EnumLink, ErrorCode> {
    let (name, cascades) = this
        .server
        .with_config(|c| c.hub(hub).map(|h| (h.name.clone(), h.cascades.clone())))
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    Ok(EnumLink {
        hub_name: name.clone(),
        links: cascades
            .iter()
            .map(|x| {
                let st = this.server.cascade_status(&name, &x.account_name);
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

pub(super) fn get_link_status(
    this: &mut ServerBackend<'_>,
    hub: &str,
    account: &str,
) -> Result<LinkStatus, ErrorCode> {
    let (hub_name, x) = this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let x = h.cascade(account).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok::<_, ErrorCode>((h.name.clone(), x.clone()))
    })?;
    let Some(c) = this.server.cascade(&hub_name, &x.account_name) else {
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
            if let Some(s) = this
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

pub(super) fn set_link_online(
    this: &mut ServerBackend<'_>,
    hub: &str,
    account: &str,
    online: bool,
) -> Result<(), ErrorCode> {
    let (hub_name, cfg, hub_online) = this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let hub_name = h.name.clone();
        let hub_online = h.online;
        let x = h.cascade_mut(account).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        x.online = online;
        Ok((hub_name, x.clone(), hub_online))
    })?;
    this.deferred.push(Deferred::RestartCascade {
        hub: hub_name,
        name: cfg.account_name.clone(),
        cfg: (online && hub_online).then(|| Box::new(cfg)),
    });
    Ok(())
}

pub(super) fn delete_link(
    this: &mut ServerBackend<'_>,
    hub: &str,
    account: &str,
) -> Result<(), ErrorCode> {
    let (hub_name, name) = this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let i = h
            .cascades
            .iter()
            .position(|x| key_eq(&x.account_name, account))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        let x = h.cascades.remove(i);
        Ok((h.name.clone(), x.account_name))
    })?;
    this.deferred.push(Deferred::RestartCascade {
        hub: hub_name,
        name,
        cfg: None,
    });
    Ok(())
}
