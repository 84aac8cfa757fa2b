//! Server extras (certificate, ciphers, VPN over ICMP/DNS switches) and
//! the stored settings of features a standalone RustEther server does not
//! run (IPsec/EtherIP): `rustether_admin::rpc::standalone`,
//! docs/administration.md ("RPC coverage").

use rustether_admin::rpc::*;
use rustether_proto::ErrorCode;
use tracing::{info, warn};

use super::ServerBackend;
use crate::admin::sys;
use crate::tls::{self, CertifiedKey};

pub(super) fn get_server_cipher(this: &mut ServerBackend<'_>) -> Result<String, ErrorCode> {
    Ok(this.server.with_config(|c| c.server.cipher_name.clone()))
}

pub(super) fn get_server_cipher_list() -> Vec<String> {
    tls::CIPHER_NAMES
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect()
}

pub(super) fn set_server_cipher(
    this: &mut ServerBackend<'_>,
    names: &str,
) -> Result<(), ErrorCode> {
    this.server.set_tls_settings_blocking(None, Some(names))?;
    info!("admin: server cipher setting is now {names:?} for new TLS connections");
    Ok(())
}

pub(super) fn set_server_cert(
    this: &mut ServerBackend<'_>,
    cert: &[u8],
    key: &[u8],
) -> Result<(), ErrorCode> {
    let ck = CertifiedKey {
        cert_der: cert.to_vec(),
        key_der: key.to_vec(),
    };
    this.server.set_tls_settings_blocking(Some(ck), None)?;
    info!("admin: new server certificate in force for new TLS connections");
    Ok(())
}

pub(super) fn regenerate_server_cert(
    this: &mut ServerBackend<'_>,
    cn: &str,
) -> Result<(), ErrorCode> {
    // SiGenerateDefaultCertEx: an empty common name means the host name.
    let cn = if cn.is_empty() {
        sys::hostname()
    } else {
        cn.to_owned()
    };
    let ck = tls::generate_self_signed(&cn).map_err(|e| {
        warn!("admin: RegenerateServerCert: {e}");
        ErrorCode::INTERNAL_ERROR
    })?;
    this.server.set_tls_settings_blocking(Some(ck), None)?;
    info!("admin: new self-signed server certificate (CN={cn}) in force");
    Ok(())
}

pub(super) fn get_special_listener(
    this: &mut ServerBackend<'_>,
) -> Result<SpecialListener, ErrorCode> {
    Ok(this.server.with_config(|c| SpecialListener {
        vpn_over_icmp_listener: c.server.raw.get_bool("EnableVpnOverIcmp").unwrap_or(false),
        vpn_over_dns_listener: c.server.raw.get_bool("EnableVpnOverDns").unwrap_or(false),
    }))
}

/// Stored in `ServerConfiguration` as SoftEther stores it; RustEther has
/// no VPN over ICMP/DNS, so switching one on is logged as not enforced.
pub(super) fn set_special_listener(
    this: &mut ServerBackend<'_>,
    req: &SpecialListener,
) -> Result<(), ErrorCode> {
    if req.vpn_over_icmp_listener || req.vpn_over_dns_listener {
        warn!("admin: VPN over ICMP/DNS is stored but not implemented: no such listener runs");
    }
    this.server.update_config_blocking(|c| {
        c.server
            .raw
            .set_bool("EnableVpnOverIcmp", req.vpn_over_icmp_listener);
        c.server
            .raw
            .set_bool("EnableVpnOverDns", req.vpn_over_dns_listener);
        Ok(())
    })
}

/// The `IPsec` folder of the configuration (SoftEther's defaults: all off,
/// secret `vpn`, default hub `DEFAULT`), not enforced: RustEther has no
/// IPsec, L2TP or EtherIP server.
pub(super) fn get_ipsec_services(this: &mut ServerBackend<'_>) -> Result<IpsecServices, ErrorCode> {
    Ok(this.server.with_config(|c| {
        let f = c.raw.folder("IPsec");
        let b = |k: &str| f.and_then(|f| f.get_bool(k)).unwrap_or(false);
        let s = |k: &str, d: &str| f.and_then(|f| f.get_str(k)).unwrap_or(d).to_owned();
        IpsecServices {
            l2tp_raw: b("L2TP_Raw"),
            l2tp_ipsec: b("L2TP_IPsec"),
            etherip_ipsec: b("EtherIP_IPsec"),
            ipsec_secret: s("IPsec_Secret", "vpn"),
            l2tp_default_hub: s("L2TP_DefaultHub", "DEFAULT"),
        }
    }))
}

/// The entries of `IPsec/EtherIP_IDSettingsList` as stored.
pub(super) fn enum_etherip_id(this: &mut ServerBackend<'_>) -> Result<Vec<EtherIpId>, ErrorCode> {
    Ok(this.server.with_config(|c| {
        let Some(list) = c
            .raw
            .folder("IPsec")
            .and_then(|f| f.folder("EtherIP_IDSettingsList"))
        else {
            return Vec::new();
        };
        list.folders
            .iter()
            .map(|f| {
                let s = |k: &str| f.get_str(k).unwrap_or("").to_owned();
                EtherIpId {
                    id: s("Id"),
                    hub_name: s("HubName"),
                    user_name: s("UserName"),
                    password: s("Password"),
                }
            })
            .collect()
    }))
}
