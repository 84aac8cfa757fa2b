//! Virtual hub RPCs (`rustether_admin::rpc::hub`).

use rustether_admin::rpc::*;
use rustether_config::HubConfig;
use rustether_proto::ErrorCode;

use super::{key_eq, Deferred, ServerBackend, MAX_HUBS};
use crate::admin::convert;

pub(super) fn hub_admin_option(this: &ServerBackend<'_>, hub: &str, name: &str) -> u32 {
    this.server.with_config(|c| {
        c.hub(hub)
            .and_then(|h| h.raw.folder("AdminOption"))
            .and_then(|f| f.get_uint(name))
            .unwrap_or(0)
    })
}

pub(super) fn create_hub(this: &mut ServerBackend<'_>, req: &CreateHub) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let name = req.fields.hub_name.clone();
    this.server.update_config_blocking(|c| {
        if c.hub(&name).is_some() {
            return Err(ErrorCode::HUB_ALREADY_EXISTS);
        }
        if c.hubs.len() >= MAX_HUBS {
            return Err(ErrorCode::TOO_MANY_HUBS);
        }
        let mut h = HubConfig::new(
            &name,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        );
        h.hashed_password = req.fields.hashed_password;
        h.secure_password = req.fields.secure_password;
        h.online = req.fields.online;
        h.max_session = req.option.max_session;
        h.no_enum = req.option.no_enum;
        c.hubs.push(h);
        Ok(())
    })?;
    this.start_hub_bridges(&name);
    Ok(())
}

pub(super) fn set_hub(this: &mut ServerBackend<'_>, req: &CreateHub) -> Result<(), ErrorCode> {
    let f = &req.fields;
    let was_online = this
        .server
        .with_config(|c| c.hub(&f.hub_name).map(|h| h.online))
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    this.server.update_config_blocking(|c| {
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
        this.hub_links_follow_online(&f.hub_name, f.online);
    }
    Ok(())
}

pub(super) fn get_hub(this: &mut ServerBackend<'_>, hub: &str) -> Result<CreateHub, ErrorCode> {
    this.server
        .with_config(|c| c.hub(hub).map(hub_create_fields))
        .ok_or(ErrorCode::HUB_NOT_FOUND)
}

pub(super) fn enum_hub(this: &mut ServerBackend<'_>) -> Result<EnumHub, ErrorCode> {
    let hubs = this.server.with_statistics(|c| c.hubs.clone());
    Ok(EnumHub {
        hubs: hubs
            .iter()
            .map(|h| {
                let sessions = this.hub_sessions(&h.name);
                // cumulative since the hub was created, as SoftEther's `h->Traffic`
                let traffic = convert::traffic_of(&h.raw, "Traffic");
                EnumHubItem {
                    fields: EnumHubItemFields {
                        hub_name: h.name.clone(),
                        online: h.online,
                        hub_type: hub_type::STANDALONE,
                        // SoftEther counts the SecureNAT session too.
                        num_sessions: sessions.len() as u32
                            + u32::from(this.server.securenat(&h.name).is_some()),
                        num_users: h.users.len() as u32,
                        num_groups: h.groups.len() as u32,
                        num_mac_tables: this
                            .server
                            .hub(&h.name)
                            .map_or(0, |x| x.mac_count() as u32),
                        num_ip_tables: this.server.hub(&h.name).map_or(0, |x| x.ip_count() as u32),
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

pub(super) fn delete_hub(this: &mut ServerBackend<'_>, hub: &str) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let removed = this.server.update_config_blocking(|c| {
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
        this.deferred.push(Deferred::RestartCascade {
            hub: removed.name.clone(),
            name: x.account_name.clone(),
            cfg: None,
        });
    }
    for (_, b) in this.hub_bridges(&removed.name) {
        this.deferred.push(Deferred::StopBridge {
            hub: removed.name.clone(),
            device: b.device_name.clone(),
        });
    }
    this.deferred.push(Deferred::SecureNat {
        hub: removed.name.clone(),
        enabled: false,
    });
    // A deleted hub's leases are gone (SoftEther frees them with the hub).
    this.server.forget_securenat_leases(&removed.name);
    Ok(())
}

pub(super) fn set_hub_online(
    this: &mut ServerBackend<'_>,
    hub: &str,
    online: bool,
) -> Result<(), ErrorCode> {
    let was = this
        .server
        .with_config(|c| c.hub(hub).map(|h| h.online))
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    this.server.update_config_blocking(|c| {
        c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?.online = online;
        Ok(())
    })?;
    if was != online {
        this.hub_links_follow_online(hub, online);
    }
    Ok(())
}

/// `EnableSecureNAT`/`DisableSecureNAT` (SoftEther `StEnableSecureNAT`):
/// saves `Disabled` in the hub's `SecureNAT` folder, then starts or stops
/// it. VPN Bridge: 33.
pub(super) fn set_securenat_enabled(
    this: &mut ServerBackend<'_>,
    hub: &str,
    enabled: bool,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let cur = crate::securenat::settings_from_hub(&h.raw);
        crate::securenat::store_in_hub(&mut h.raw, enabled, &cur.opt);
        Ok(())
    })?;
    let online = this
        .server
        .with_config(|c| c.hub(hub).map(|h| h.online))
        .unwrap_or(false);
    this.deferred.push(Deferred::SecureNat {
        hub: hub.to_owned(),
        // Saved as on, but an offline hub runs it only once online.
        enabled: enabled && online,
    });
    Ok(())
}

/// The running SecureNAT of `hub`: 8 no hub, 80 not running, 33 on VPN
/// Bridge (SoftEther `StEnumNAT`/`StEnumDHCP`).
fn running_securenat(
    this: &ServerBackend<'_>,
    hub: &str,
) -> Result<(String, std::sync::Arc<crate::securenat::SecureNatPort>), ErrorCode> {
    this.bridge_edition()?;
    let name = this
        .server
        .with_config(|c| c.hub(hub).map(|h| h.name.clone()))
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    let port = this
        .server
        .securenat(hub)
        .ok_or(ErrorCode::SNAT_NOT_RUNNING)?;
    Ok((name, port))
}

/// A time on the virtual host's clock as SoftEther time, given the clock's
/// reading `now` at SoftEther time `se_now`.
fn se_time(se_now: u64, now: std::time::Duration, t: std::time::Duration) -> u64 {
    if t >= now {
        se_now.saturating_add((t - now).as_millis() as u64)
    } else {
        se_now.saturating_sub((now - t).as_millis() as u64)
    }
}

fn ip_of(v: Option<std::net::IpAddr>) -> Option<std::net::Ipv4Addr> {
    match v {
        None => Some(std::net::Ipv4Addr::UNSPECIFIED),
        Some(std::net::IpAddr::V4(a)) => Some(a),
        Some(std::net::IpAddr::V6(_)) => None,
    }
}

/// `GetSecureNATOption`: the hub's saved settings.
pub(super) fn get_securenat_option(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<SecureNatOption, ErrorCode> {
    this.bridge_edition()?;
    let (name, c) = this
        .server
        .with_config(|c| {
            c.hub(hub)
                .map(|h| (h.name.clone(), crate::securenat::settings_from_hub(&h.raw)))
        })
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    let o = c.opt;
    let ip = |a: std::net::Ipv4Addr| Some(std::net::IpAddr::V4(a));
    Ok(SecureNatOption {
        rpc_hub_name: name,
        mac_address: o.mac.to_vec(),
        ip: ip(o.ip),
        mask: ip(o.mask),
        use_nat: o.use_nat,
        mtu: u32::from(o.mtu),
        nat_tcp_timeout: o.nat_tcp_timeout,
        nat_udp_timeout: o.nat_udp_timeout,
        use_dhcp: o.use_dhcp,
        dhcp_lease_ip_start: ip(o.dhcp_lease_ip_start),
        dhcp_lease_ip_end: ip(o.dhcp_lease_ip_end),
        dhcp_subnet_mask: ip(o.dhcp_subnet_mask),
        dhcp_expire_time_span: o.dhcp_expire_secs,
        dhcp_gateway_address: ip(o.dhcp_gateway),
        dhcp_dns_server_address: ip(o.dhcp_dns),
        dhcp_dns_server_address2: ip(o.dhcp_dns2),
        dhcp_domain_name: o.dhcp_domain,
        save_log: o.save_log,
        apply_dhcp_push_routes: true,
        dhcp_push_routes: o.dhcp_push_routes,
    })
}

/// `SetSecureNATOption` (SoftEther `StSetSecureNATOption`): checked
/// ([`rustether_securenat::VhOption::validate`], and the host address may
/// not be the network or broadcast address → 38), saved, and a running
/// SecureNAT restarted with them (its leases and flows are dropped).
pub(super) fn set_securenat_option(
    this: &mut ServerBackend<'_>,
    t: &SecureNatOption,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let bad = ErrorCode::INVALID_PARAMETER;
    let mac: [u8; 6] = t.mac_address.as_slice().try_into().map_err(|_| bad)?;
    let v4 = |v| ip_of(v).ok_or(bad);
    let mut opt = rustether_securenat::VhOption {
        mac,
        ip: v4(t.ip)?,
        mask: v4(t.mask)?,
        use_nat: t.use_nat,
        mtu: u16::try_from(t.mtu).map_err(|_| bad)?,
        nat_tcp_timeout: t.nat_tcp_timeout,
        nat_udp_timeout: t.nat_udp_timeout,
        use_dhcp: t.use_dhcp,
        dhcp_lease_ip_start: v4(t.dhcp_lease_ip_start)?,
        dhcp_lease_ip_end: v4(t.dhcp_lease_ip_end)?,
        dhcp_subnet_mask: v4(t.dhcp_subnet_mask)?,
        dhcp_expire_secs: t.dhcp_expire_time_span,
        dhcp_gateway: v4(t.dhcp_gateway_address)?,
        dhcp_dns: v4(t.dhcp_dns_server_address)?,
        dhcp_dns2: v4(t.dhcp_dns_server_address2)?,
        dhcp_domain: t.dhcp_domain_name.clone(),
        save_log: t.save_log,
        apply_dhcp_push_routes: t.apply_dhcp_push_routes,
        dhcp_push_routes: t.dhcp_push_routes.clone(),
    };
    let host_bits = u32::from(opt.ip) & !u32::from(opt.mask);
    if host_bits == 0 || host_bits == !u32::from(opt.mask) || opt.validate().is_err() {
        return Err(bad);
    }
    let hub = t.rpc_hub_name.clone();
    let enabled = this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let cur = crate::securenat::settings_from_hub(&h.raw);
        if !opt.apply_dhcp_push_routes {
            // Not applying: the stored routes stay (as SoftEther).
            opt.dhcp_push_routes = cur.opt.dhcp_push_routes;
            opt.apply_dhcp_push_routes = !opt.dhcp_push_routes.trim().is_empty();
        }
        crate::securenat::store_in_hub(&mut h.raw, cur.enabled, &opt);
        Ok(cur.enabled)
    })?;
    if enabled {
        this.deferred.push(Deferred::SecureNat { hub, enabled });
    }
    Ok(())
}

/// `EnumNAT` (vpncmd `NatTable`).
pub(super) fn enum_nat(this: &mut ServerBackend<'_>, hub: &str) -> Result<EnumNat, ErrorCode> {
    use rustether_securenat::NatProto;
    let (name, port) = running_securenat(this, hub)?;
    // The backend runs on tokio's blocking pool: waiting here is allowed.
    let entries = tokio::runtime::Handle::current().block_on(port.nat_table());
    let (se_now, now) = (rustether_config::model::now_ms(), port.elapsed());
    let mut items: Vec<EnumNatItem> = entries
        .iter()
        .map(|e| EnumNatItem {
            id: e.id as u32,
            protocol: match e.key.proto {
                NatProto::Tcp => 0,
                NatProto::Udp => 1,
                NatProto::Dns => 2,
                NatProto::Icmp => 3,
            },
            src_ip: *e.key.client.ip(),
            src_host: e.key.client.ip().to_string(),
            src_port: u32::from(e.key.client.port()),
            dest_ip: *e.key.dst.ip(),
            dest_host: e.key.dst.ip().to_string(),
            dest_port: u32::from(e.key.dst.port()),
            created_time: se_time(se_now, now, e.created),
            last_comm_time: se_time(se_now, now, e.last_active),
            send_size: e.bytes_up,
            recv_size: e.bytes_down,
            tcp_status: if e.established { 2 } else { 0 },
        })
        .collect();
    items.sort_by_key(|i| i.id);
    Ok(EnumNat {
        hub_name: name,
        items,
    })
}

/// `GetSecureNATStatus` (vpncmd `SecureNatStatusGet`).
pub(super) fn get_securenat_status(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<NatStatus, ErrorCode> {
    use rustether_securenat::NatProto;
    let (name, port) = running_securenat(this, hub)?;
    let rt = tokio::runtime::Handle::current();
    let flows = rt.block_on(port.nat_table());
    let leases = rt.block_on(port.leases());
    let count = |p: NatProto| flows.iter().filter(|e| e.key.proto == p).count() as u32;
    Ok(NatStatus {
        hub_name: name,
        num_tcp_sessions: count(NatProto::Tcp),
        num_udp_sessions: count(NatProto::Udp),
        num_icmp_sessions: count(NatProto::Icmp),
        num_dns_sessions: count(NatProto::Dns),
        num_dhcp_clients: leases.len() as u32,
        is_kernel_mode: false,
        is_raw_ip_mode: false,
    })
}

/// `EnumDHCP` (vpncmd `DhcpTable`).
pub(super) fn enum_dhcp(this: &mut ServerBackend<'_>, hub: &str) -> Result<EnumDhcp, ErrorCode> {
    let (name, port) = running_securenat(this, hub)?;
    let leases = tokio::runtime::Handle::current().block_on(port.leases());
    let (se_now, now) = (rustether_config::model::now_ms(), port.elapsed());
    Ok(EnumDhcp {
        hub_name: name,
        items: leases
            .iter()
            .map(|l| EnumDhcpItem {
                id: l.id,
                leased_time: se_time(se_now, now, l.leased_at),
                expire_time: se_time(se_now, now, l.expires_at),
                mac_address: l.mac.to_vec(),
                ip_address: l.ip,
                mask: u32::from_le_bytes(l.mask.octets()),
                hostname: l.hostname.clone(),
            })
            .collect(),
    })
}

pub(super) fn get_hub_status(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<HubStatus, ErrorCode> {
    let h = this
        .server
        .with_statistics(|c| c.hub(hub).cloned())
        .ok_or(ErrorCode::HUB_NOT_FOUND)?;
    let sessions = this.hub_sessions(&h.name);
    let bridges = this.hub_bridges(&h.name).len() as u32;
    let traffic = convert::traffic_of(&h.raw, "Traffic");
    let bridge_sessions = sessions.iter().filter(|s| s.info.bridge_mode).count() as u32;
    // SoftEther's SessionList count includes the SecureNAT session; it is
    // neither a client nor a bridge session there.
    let snat = u32::from(this.server.securenat(&h.name).is_some());
    Ok(HubStatus {
        fields: HubStatusFields {
            hub_name: h.name.clone(),
            online: h.online,
            hub_type: hub_type::STANDALONE,
            num_sessions: sessions.len() as u32 + bridges + snat,
            num_sessions_client: sessions.len() as u32 - bridge_sessions,
            num_sessions_bridge: bridge_sessions + bridges,
            num_access_lists: h.access_list.len() as u32,
            num_users: h.users.len() as u32,
            num_groups: h.groups.len() as u32,
            num_mac_tables: this.server.hub(&h.name).map_or(0, |x| x.mac_count() as u32),
            num_ip_tables: this.server.hub(&h.name).map_or(0, |x| x.ip_count() as u32),
            secure_nat_enabled: this.server.securenat(hub).is_some(),
            last_comm_time: h.last_comm_time,
            created_time: h.created_time,
            last_login_time: h.last_login_time,
            num_login: h.num_login,
        },
        traffic,
    })
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

impl ServerBackend<'_> {
    /// A hub going offline stops its cascades (SoftEther `StopAllLink`);
    /// coming online starts the online ones and its local bridges again.
    fn hub_links_follow_online(&mut self, hub: &str, online: bool) {
        let (name, cascades, snat) = match self.server.with_config(|c| {
            c.hub(hub).map(|h| {
                (
                    h.name.clone(),
                    h.cascades.clone(),
                    crate::securenat::settings_from_hub(&h.raw).enabled,
                )
            })
        }) {
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
        // SecureNAT runs only while its hub is online (SoftEther StopHub).
        if snat {
            self.deferred.push(Deferred::SecureNat {
                hub: name,
                enabled: online,
            });
        }
    }
}
