//! Trusted CA certificates of a hub (`rustether_admin::rpc::ca`) over
//! `SecurityAccountDatabase/CertList` ([`HubConfig::trusted_certs`]). The
//! list is read at each certificate login (`crate::certauth`), so a change
//! applies to the next login.
//!
//! A certificate's `Key` is derived from its DER bytes (the first four
//! bytes of its SHA-0 hash, never 0), so it stays the same across restarts
//! (SoftEther uses the address of its in-memory copy).
//!
//! [`HubConfig::trusted_certs`]: rustether_config::HubConfig::trusted_certs

use rustether_admin::rpc::*;
use rustether_proto::softether::time::from_unix_ms;
use rustether_proto::ErrorCode;
use tracing::info;

use super::ServerBackend;
use crate::certauth;

/// Most trusted certificates per hub (SoftEther has no limit; the list is
/// read at every certificate login). Beyond: error 110.
const MAX_TRUSTED_CAS: usize = 1024;

/// The `Key` of a trusted certificate.
fn key_of(der: &[u8]) -> u32 {
    let h = rustether_proto::sha0::sha0(der);
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]).max(1)
}

pub(super) fn add_ca(this: &mut ServerBackend<'_>, req: &HubAddCa) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    // `PackGetX`: what does not parse as a certificate is no certificate.
    if certauth::describe(&req.cert).is_none() {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let mut list = h.trusted_certs();
        // `AddRootCert`: a certificate already in the list is not added again.
        if list.contains(&req.cert) {
            return Ok(());
        }
        if list.len() >= MAX_TRUSTED_CAS {
            return Err(ErrorCode::TOO_MANY_ITEMS);
        }
        list.push(req.cert.clone());
        h.set_trusted_certs(&list);
        Ok(())
    })?;
    info!(hub = %req.hub_name, "admin: trusted CA certificate added");
    Ok(())
}

pub(super) fn enum_ca(this: &mut ServerBackend<'_>, hub: &str) -> Result<HubEnumCa, ErrorCode> {
    this.bridge_edition()?;
    let (name, list) = this.server.with_config(|c| {
        c.hub(hub)
            .map(|h| (h.name.clone(), h.trusted_certs()))
            .ok_or(ErrorCode::HUB_NOT_FOUND)
    })?;
    Ok(HubEnumCa {
        hub_name: name,
        items: list
            .iter()
            .map(|der| {
                let (subject_name, issuer_name, expires) =
                    certauth::describe(der).unwrap_or_default();
                HubEnumCaItem {
                    key: key_of(der),
                    subject_name,
                    issuer_name,
                    expires: from_unix_ms(u64::try_from(expires).unwrap_or(0).saturating_mul(1000)),
                }
            })
            .collect(),
    })
}

pub(super) fn get_ca(
    this: &mut ServerBackend<'_>,
    hub: &str,
    key: u32,
) -> Result<HubGetCa, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let cert = h
            .trusted_certs()
            .into_iter()
            .find(|d| key_of(d) == key)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok(HubGetCa {
            hub_name: h.name.clone(),
            key,
            cert,
        })
    })
}

pub(super) fn delete_ca(
    this: &mut ServerBackend<'_>,
    hub: &str,
    key: u32,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let mut list = h.trusted_certs();
        let before = list.len();
        list.retain(|d| key_of(d) != key);
        if list.len() == before {
            return Err(ErrorCode::OBJECT_NOT_FOUND);
        }
        h.set_trusted_certs(&list);
        Ok(())
    })?;
    info!(hub = %hub, key, "admin: trusted CA certificate deleted");
    Ok(())
}
