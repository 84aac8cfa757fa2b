//! Conversions between the admin RPC structures (`rustether_admin::rpc`)
//! and the configuration model (`rustether_config`): security policies and
//! cascades. User authentication needs none: both use
//! `rustether_proto::softether::auth::UserAuth`. Pure functions, unit-tested below.

use rustether_admin::rpc::{self, ClientAuth, ClientOption, CreateLink};
use rustether_config::model::softether_password_rc4;
use rustether_config::{CascadeAuth, CascadeConfig, Folder, Policy};
use rustether_proto::ErrorCode;

/// The RPC `TRAFFIC` of a configuration traffic folder's counters
/// ([`rustether_config::model::TrafficCounters`]: receive, then send;
/// broadcast bytes, broadcast count, unicast bytes, unicast count).
pub(super) fn traffic_from_config(t: &rustether_config::model::TrafficCounters) -> rpc::Traffic {
    let side = |o: usize| rpc::TrafficSide {
        broadcast_bytes: t[o],
        broadcast_count: t[o + 1],
        unicast_bytes: t[o + 2],
        unicast_count: t[o + 3],
    };
    rpc::Traffic {
        recv: side(0),
        send: side(4),
    }
}

/// The `Traffic` folder named `name` of `f` as the RPC `TRAFFIC`.
pub(super) fn traffic_of(f: &Folder, name: &str) -> rpc::Traffic {
    traffic_from_config(&rustether_config::model::read_traffic(f, name))
}

/// Runs `$m!(field, "ConfigName", bool|int)` for every policy of the RPC
/// `Policy` structure (`PackAddPolicy`, `SiWritePolicyCfg`).
macro_rules! each_policy {
    ($m:ident) => {
        $m!(access, "Access", bool);
        $m!(dhcp_filter, "DHCPFilter", bool);
        $m!(dhcp_no_server, "DHCPNoServer", bool);
        $m!(dhcp_force, "DHCPForce", bool);
        $m!(no_bridge, "NoBridge", bool);
        $m!(no_routing, "NoRouting", bool);
        $m!(privacy_filter, "PrivacyFilter", bool);
        $m!(no_server, "NoServer", bool);
        $m!(check_mac, "CheckMac", bool);
        $m!(check_ip, "CheckIP", bool);
        $m!(arp_dhcp_only, "ArpDhcpOnly", bool);
        $m!(monitor_port, "MonitorPort", bool);
        $m!(no_broadcast_limiter, "NoBroadcastLimiter", bool);
        $m!(fix_password, "FixPassword", bool);
        $m!(no_qos, "NoQoS", bool);
        $m!(rs_and_ra_filter, "RSandRAFilter", bool);
        $m!(ra_filter, "RAFilter", bool);
        $m!(dhcpv6_filter, "DHCPv6Filter", bool);
        $m!(dhcpv6_no_server, "DHCPv6NoServer", bool);
        $m!(no_routing_v6, "NoRoutingV6", bool);
        $m!(check_ipv6, "CheckIPv6", bool);
        $m!(no_server_v6, "NoServerV6", bool);
        $m!(no_save_password, "NoSavePassword", bool);
        $m!(filter_ipv4, "FilterIPv4", bool);
        $m!(filter_ipv6, "FilterIPv6", bool);
        $m!(filter_non_ip, "FilterNonIP", bool);
        $m!(
            no_ipv6_default_router_in_ra,
            "NoIPv6DefaultRouterInRA",
            bool
        );
        $m!(
            no_ipv6_default_router_in_ra_when_ipv6,
            "NoIPv6DefaultRouterInRAWhenIPv6",
            bool
        );
        $m!(max_connection, "MaxConnection", int);
        $m!(time_out, "TimeOut", int);
        $m!(max_mac, "MaxMac", int);
        $m!(max_ip, "MaxIP", int);
        $m!(max_upload, "MaxUpload", int);
        $m!(max_download, "MaxDownload", int);
        $m!(multi_logins, "MultiLogins", int);
        $m!(max_ipv6, "MaxIPv6", int);
        $m!(auto_disconnect, "AutoDisconnect", int);
        $m!(vlan_id, "VLanId", int);
    };
}

/// A user or group policy from the RPC form.
pub(crate) fn policy_to_config(p: &rpc::Policy) -> Policy {
    let mut out = Policy::default();
    macro_rules! set {
        ($f:ident, $n:literal, bool) => {
            out.set_value($n, u32::from(p.$f))
        };
        ($f:ident, $n:literal, int) => {
            out.set_value($n, p.$f)
        };
    }
    each_policy!(set);
    out
}

/// A policy in the RPC form (missing values are false/0).
pub(crate) fn policy_from_config(p: &Policy) -> rpc::Policy {
    let mut out = rpc::Policy::default();
    macro_rules! get {
        ($f:ident, $n:literal, bool) => {
            out.$f = p.value($n).unwrap_or(0) != 0
        };
        ($f:ident, $n:literal, int) => {
            out.$f = p.value($n).unwrap_or(0)
        };
    }
    each_policy!(get);
    out
}

/// Writes the cascade policy into a cascade's `Policy` folder: only the
/// keys the folder already has (SoftEther writes a subset for cascades).
fn cascade_policy_to_folder(p: &rpc::Policy, f: &mut Folder) {
    macro_rules! set {
        ($fld:ident, $n:literal, bool) => {
            if f.get_bool($n).is_some() {
                f.set_bool($n, p.$fld);
            }
        };
        ($fld:ident, $n:literal, int) => {
            if f.get_uint($n).is_some() {
                f.set_uint($n, p.$fld);
            }
        };
    }
    each_policy!(set);
}

fn cascade_policy_from_folder(f: Option<&Folder>) -> rpc::Policy {
    let mut out = rpc::Policy::default();
    let Some(f) = f else {
        return out;
    };
    macro_rules! get {
        ($fld:ident, $n:literal, bool) => {
            out.$fld = f.get_bool($n).unwrap_or(false)
        };
        ($fld:ident, $n:literal, int) => {
            out.$fld = f.get_uint($n).unwrap_or(0)
        };
    }
    each_policy!(get);
    out
}

/// A cascade's login from the RPC form (`CLIENT_AUTH`).
///
/// Errors: unknown `AuthType` → 38.
fn cascade_auth_to_config(a: &ClientAuth) -> Result<CascadeAuth, ErrorCode> {
    let username = a.username.clone();
    Ok(match a.auth_type {
        0 => CascadeAuth::Anonymous { username },
        ClientAuth::HASHED_PASSWORD => CascadeAuth::HashedPassword {
            username,
            hash: a.hashed_password,
        },
        ClientAuth::PLAIN_PASSWORD => CascadeAuth::PlainPassword {
            username,
            password: a.plain_password.clone(),
        },
        ClientAuth::CERT => CascadeAuth::Certificate {
            username,
            cert_der: a.client_x.clone().unwrap_or_default(),
            key_der: a.client_k.clone().unwrap_or_default(),
        },
        t @ (4 | 5) => CascadeAuth::Unsupported {
            auth_type: t,
            username,
        },
        _ => return Err(ErrorCode::INVALID_PARAMETER),
    })
}

fn cascade_auth_from_config(a: &CascadeAuth) -> ClientAuth {
    let mut out = ClientAuth {
        auth_type: a.auth_type(),
        username: a.username().to_owned(),
        ..ClientAuth::default()
    };
    match a {
        CascadeAuth::HashedPassword { hash, .. } => out.hashed_password = *hash,
        CascadeAuth::PlainPassword { password, .. } => out.plain_password = password.clone(),
        CascadeAuth::Certificate {
            cert_der, key_der, ..
        } => {
            out.client_x = Some(cert_der.clone());
            out.client_k = Some(key_der.clone());
        }
        CascadeAuth::Anonymous { .. } | CascadeAuth::Unsupported { .. } => {}
    }
    out
}

/// A cascade's configuration from `CreateLink`/`SetLink` (already
/// normalised by the caller with `CreateLink::normalize_for_server`).
/// `online` is taken from the argument, not from the request.
///
/// Errors: port 0 or above 65535, an unknown authentication type → 38.
pub(crate) fn link_to_cascade(l: &CreateLink, online: bool) -> Result<CascadeConfig, ErrorCode> {
    let o = &l.option;
    let port = u16::try_from(o.port)
        .ok()
        .filter(|p| *p != 0)
        .ok_or(ErrorCode::INVALID_PARAMETER)?;
    let mut c = CascadeConfig::new(
        &o.account_name,
        &o.hostname,
        port,
        &o.hub_name,
        cascade_auth_to_config(&l.auth)?,
    );
    c.online = online;
    c.check_server_cert = l.check_server_cert;
    c.server_cert_der = l.server_cert.clone().filter(|c| !c.is_empty());
    c.max_connection = o.max_connection.clamp(1, 32);
    c.use_encrypt = o.use_encrypt;
    c.use_compress = o.use_compress;
    c.half_connection = o.half_connection;
    c.disable_qos = o.disable_qos;
    c.retry_interval_secs = o.retry_interval;
    let f = c.raw.folder_or_insert("ClientOption");
    f.set_uint("PortUDP", o.port_udp);
    f.set_uint("ProxyType", o.proxy_type);
    f.set_str("ProxyName", &o.proxy_name);
    f.set_uint("ProxyPort", o.proxy_port);
    f.set_str("ProxyUsername", &o.proxy_username);
    f.set_bytes(
        "ProxyPassword",
        &softether_password_rc4(o.proxy_password.as_bytes()),
    );
    f.set_str("CustomHttpHeader", &o.custom_http_header);
    f.set_str("DeviceName", &o.device_name);
    f.set_uint("NumRetry", o.num_retry);
    f.set_uint(
        "AdditionalConnectionInterval",
        o.additional_connection_interval,
    );
    f.set_uint("ConnectionDisconnectSpan", o.connection_disconnect_span);
    f.set_bool("HideStatusWindow", o.hide_status_window);
    f.set_bool("HideNicInfoWindow", o.hide_nic_info_window);
    f.set_bool("RequireMonitorMode", o.require_monitor_mode);
    f.set_bool("RequireBridgeRoutingMode", o.require_bridge_routing_mode);
    f.set_bool("NoRoutingTracking", o.no_routing_tracking);
    f.set_bool("NoUdpAcceleration", o.no_udp_acceleration);
    cascade_policy_to_folder(&l.policy, c.raw.folder_or_insert("Policy"));
    Ok(c)
}

/// `GetLink`'s answer for a stored cascade of hub `hub`.
pub(crate) fn cascade_to_link(hub: &str, c: &CascadeConfig) -> CreateLink {
    let empty = Folder::new("ClientOption");
    let f = c.raw.folder("ClientOption").unwrap_or(&empty);
    let proxy_password = f
        .get_bytes("ProxyPassword")
        .map(softether_password_rc4)
        .map(|p| {
            let end = p.iter().position(|&b| b == 0).unwrap_or(p.len());
            String::from_utf8_lossy(&p[..end]).into_owned()
        })
        .unwrap_or_default();
    let option = ClientOption {
        account_name: c.account_name.clone(),
        hostname: c.hostname.clone(),
        port: u32::from(c.port),
        port_udp: f.get_uint("PortUDP").unwrap_or(0),
        proxy_type: f.get_uint("ProxyType").unwrap_or(0),
        proxy_name: f.get_str("ProxyName").unwrap_or("").to_owned(),
        proxy_port: f.get_uint("ProxyPort").unwrap_or(0),
        proxy_username: f.get_str("ProxyUsername").unwrap_or("").to_owned(),
        proxy_password,
        custom_http_header: f.get_str("CustomHttpHeader").unwrap_or("").to_owned(),
        hub_name: c.hub_name.clone(),
        device_name: f
            .get_str("DeviceName")
            .unwrap_or(rpc::LINK_DEVICE_NAME)
            .to_owned(),
        num_retry: f.get_uint("NumRetry").unwrap_or(u32::MAX),
        retry_interval: c.retry_interval_secs,
        max_connection: c.max_connection,
        use_encrypt: c.use_encrypt,
        use_compress: c.use_compress,
        half_connection: c.half_connection,
        no_routing_tracking: f.get_bool("NoRoutingTracking").unwrap_or(true),
        additional_connection_interval: f.get_uint("AdditionalConnectionInterval").unwrap_or(1),
        connection_disconnect_span: f.get_uint("ConnectionDisconnectSpan").unwrap_or(0),
        hide_status_window: f.get_bool("HideStatusWindow").unwrap_or(false),
        hide_nic_info_window: f.get_bool("HideNicInfoWindow").unwrap_or(false),
        require_monitor_mode: f.get_bool("RequireMonitorMode").unwrap_or(false),
        require_bridge_routing_mode: f.get_bool("RequireBridgeRoutingMode").unwrap_or(true),
        disable_qos: c.disable_qos,
        no_udp_acceleration: f.get_bool("NoUdpAcceleration").unwrap_or(false),
        ..ClientOption::default()
    };
    CreateLink {
        hub_name: hub.to_owned(),
        online: c.online,
        option,
        auth: cascade_auth_from_config(&c.auth),
        policy: cascade_policy_from_folder(c.raw.folder("Policy")),
        check_server_cert: c.check_server_cert,
        add_default_ca: false,
        server_cert: c.server_cert_der.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustether_proto::password::hash_password;

    /// The RPC `Policy` fields map exactly the policies of the one table
    /// (`rustether_proto::softether::policy`), with the same types.
    #[test]
    fn rpc_policy_fields_are_the_policy_table() {
        let mut names: Vec<(&str, bool)> = Vec::new();
        macro_rules! name {
            ($f:ident, $n:literal, bool) => {
                names.push(($n, true))
            };
            ($f:ident, $n:literal, int) => {
                names.push(($n, false))
            };
        }
        each_policy!(name);
        let table: Vec<(&str, bool)> = rustether_proto::softether::policy::config_keys()
            .map(|d| (d.name, d.is_bool()))
            .collect();
        let mut a = names.clone();
        let mut b = table.clone();
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn policy_round_trips() {
        let p = rpc::Policy {
            access: true,
            no_bridge: true,
            max_connection: 4,
            time_out: 30,
            max_upload: 1_000_000,
            vlan_id: 7,
            no_ipv6_default_router_in_ra_when_ipv6: true,
            ..rpc::Policy::default()
        };
        let c = policy_to_config(&p);
        assert!(c.access && c.no_bridge);
        assert_eq!((c.max_connection, c.timeout_secs), (4, 30));
        assert_eq!(c.value("MaxUpload"), Some(1_000_000));
        assert_eq!(policy_from_config(&c), p);
    }

    #[test]
    fn cascade_round_trips_through_the_config_file() {
        let mut l = CreateLink {
            hub_name: "TEST".into(),
            online: true,
            option: ClientOption {
                account_name: "link1".into(),
                hostname: "10.0.0.2".into(),
                port: 5555,
                hub_name: "REMOTE".into(),
                max_connection: 8,
                use_encrypt: true,
                additional_connection_interval: 1,
                proxy_password: "pp".into(),
                proxy_name: "proxy".into(),
                proxy_type: 1,
                ..ClientOption::default()
            },
            auth: ClientAuth {
                auth_type: ClientAuth::HASHED_PASSWORD,
                username: "bob".into(),
                hashed_password: hash_password("bob", "pw"),
                ..ClientAuth::default()
            },
            policy: rpc::Policy {
                dhcp_filter: true,
                max_mac: 3,
                // not stored for cascades (SoftEther's subset)
                access: true,
                ..rpc::Policy::default()
            },
            ..CreateLink::default()
        };
        l.normalize_for_server();
        let c = link_to_cascade(&l, false).unwrap();
        assert!(!c.online);
        assert_eq!(c.retry_interval_secs, 10);
        // through the file format and back
        let mut cfg = rustether_config::ServerConfig::initial(
            rustether_config::Edition::Server,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        );
        cfg.hubs[0].cascades.push(c);
        let text = rustether_config::write_text(&cfg.to_root());
        let root = rustether_config::parse_bytes(text.as_bytes()).unwrap();
        let back = rustether_config::ServerConfig::from_root(&root).unwrap();
        let got = cascade_to_link("TEST", &back.hubs[0].cascades[0]);
        let mut want = l.clone();
        want.online = false;
        want.policy.access = false;
        assert_eq!(got, want);
        // bad port, bad auth type
        let mut bad = l.clone();
        bad.option.port = 70000;
        assert!(link_to_cascade(&bad, false).is_err());
        let mut bad = l;
        bad.auth.auth_type = 9;
        assert!(link_to_cascade(&bad, false).is_err());
    }
}
