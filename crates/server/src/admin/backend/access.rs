//! Access list, source IP access control and hub message RPCs
//! (`rustether_admin::rpc::access`, `RpcMsg`) over the
//! configuration's `VirtualHUB/<hub>/AccessList` ([`AccessRule`] list in
//! evaluation order). A change reaches the hub's switch when the
//! configuration is committed (`Server::sync_hubs` → `Hub::set_access_list`),
//! so the next frame is filtered by the new list.

use rustether_proto::softether::access::{
    sorted_ac_list, sorted_list, AcEntry, AccessRule, MAX_ACCESSLISTS,
};
use rustether_proto::ErrorCode;
use tracing::info;

use super::ServerBackend;

pub(super) fn enum_access(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<Vec<AccessRule>, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok(h.access_list
            .iter()
            .map(|a| AccessRule {
                unique_id: a.stable_unique_id(),
                ..a.clone()
            })
            .collect())
    })
}

pub(super) fn add_access(
    this: &mut ServerBackend<'_>,
    hub: &str,
    rule: &AccessRule,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let n = this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let mut list = std::mem::take(&mut h.access_list);
        list.push(AccessRule {
            unique_id: 0,
            ..rule.clone()
        });
        h.access_list = sorted_list(list);
        Ok(h.access_list.len())
    })?;
    info!(hub, entries = n, "admin: access list entry added");
    Ok(())
}

pub(super) fn delete_access(
    this: &mut ServerBackend<'_>,
    hub: &str,
    id: u32,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        // `StDeleteAccess`: an `Id` below MAX_ACCESSLISTS, else a `UniqueId`.
        let i = h
            .access_list
            .iter()
            .position(|a| {
                if id < MAX_ACCESSLISTS {
                    a.id == id
                } else {
                    a.stable_unique_id() == id
                }
            })
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        h.access_list.remove(i);
        Ok(())
    })?;
    info!(hub, id, "admin: access list entry deleted");
    Ok(())
}

pub(super) fn set_access_list(
    this: &mut ServerBackend<'_>,
    hub: &str,
    rules: &[AccessRule],
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let list = sorted_list(
        rules
            .iter()
            .map(|a| AccessRule {
                unique_id: 0,
                ..a.clone()
            })
            .collect(),
    );
    let n = list.len();
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        h.access_list = list;
        Ok(())
    })?;
    info!(hub, entries = n, "admin: access list replaced");
    Ok(())
}

pub(super) fn get_ac_list(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<Vec<AcEntry>, ErrorCode> {
    this.bridge_edition()?;
    this.server
        .with_config(|c| Ok(c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?.ac_list.clone()))
}

/// `StSetAcList`: the new list applies to the next login
/// (`Server::authenticate`, `ERR_IP_ADDRESS_DENIED`).
pub(super) fn set_ac_list(
    this: &mut ServerBackend<'_>,
    hub: &str,
    list: &[AcEntry],
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let list = sorted_ac_list(list.to_vec());
    let n = list.len();
    this.server.update_config_blocking(|c| {
        c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?.ac_list = list;
        Ok(())
    })?;
    info!(
        hub,
        entries = n,
        "admin: source IP access control list replaced"
    );
    Ok(())
}

pub(super) fn get_hub_msg(this: &mut ServerBackend<'_>, hub: &str) -> Result<String, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok(h.message.clone().unwrap_or_default())
    })
}

/// `StSetHubMsg`: stored in `Message/MessageText`; the next logins get it
/// in their welcome (`Msg`), which the client shows.
pub(super) fn set_hub_msg(
    this: &mut ServerBackend<'_>,
    hub: &str,
    msg: &str,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        h.message = (!msg.is_empty()).then(|| msg.to_owned());
        Ok(())
    })?;
    info!(hub, chars = msg.chars().count(), "admin: hub message set");
    Ok(())
}
