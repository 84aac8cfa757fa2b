//! Virtual Layer 3 Switch RPCs (`rustether_admin::rpc::l3`) over the
//! `VirtualLayer3SwitchList` folder ([`crate::l3`]) and the started
//! switches, with SoftEther's rules (src/Cedar/Admin.c `StAddL3Switch` …,
//! src/Cedar/Layer3.c `L3AddIf`, `L3AddTable`): interfaces and routes
//! change only while the switch is stopped.

use rustether_admin::rpc::*;
use rustether_hub::router::{L3Interface, L3Route};
use rustether_proto::ErrorCode;
use tracing::info;

use super::ServerBackend;
use crate::l3::{self, L3SwitchConfig};

/// Runs `f` on the switch list of the configuration and saves it.
fn update<T>(
    this: &mut ServerBackend<'_>,
    f: impl FnOnce(&mut Vec<L3SwitchConfig>) -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let mut list = l3::switches_from_root(&c.raw);
        let r = f(&mut list)?;
        l3::store_in_root(&mut c.raw, &list);
        Ok(r)
    })
}

fn read(this: &ServerBackend<'_>) -> Result<Vec<L3SwitchConfig>, ErrorCode> {
    this.bridge_edition()?;
    Ok(this.server.with_config(|c| l3::switches_from_root(&c.raw)))
}

fn find<'a>(
    list: &'a mut [L3SwitchConfig],
    name: &str,
) -> Result<&'a mut L3SwitchConfig, ErrorCode> {
    list.iter_mut()
        .find(|s| s.name.eq_ignore_ascii_case(name))
        .ok_or(ErrorCode::LAYER3_SW_NOT_FOUND)
}

pub(super) fn add_l3_switch(this: &mut ServerBackend<'_>, name: &str) -> Result<(), ErrorCode> {
    update(this, |list| {
        if list.iter().any(|s| s.name.eq_ignore_ascii_case(name)) {
            return Err(ErrorCode::LAYER3_SW_EXISTS);
        }
        if list.len() >= l3::MAX_NUM_L3_SWITCH {
            return Err(ErrorCode::INTERNAL_ERROR);
        }
        list.push(L3SwitchConfig::new(name));
        list.sort_by_key(|s| s.name.to_ascii_uppercase());
        Ok(())
    })?;
    info!(switch = %name, "admin: Virtual Layer 3 Switch added");
    Ok(())
}

pub(super) fn del_l3_switch(this: &mut ServerBackend<'_>, name: &str) -> Result<(), ErrorCode> {
    update(this, |list| {
        let n = list.len();
        list.retain(|s| !s.name.eq_ignore_ascii_case(name));
        if list.len() == n {
            return Err(ErrorCode::LAYER3_SW_NOT_FOUND);
        }
        Ok(())
    })?;
    this.server.stop_l3(name);
    info!(switch = %name, "admin: Virtual Layer 3 Switch deleted");
    Ok(())
}

pub(super) fn enum_l3_switch(this: &mut ServerBackend<'_>) -> Result<EnumL3Sw, ErrorCode> {
    let list = read(this)?;
    Ok(EnumL3Sw {
        items: list
            .iter()
            .map(|s| EnumL3SwItem {
                name: s.name.clone(),
                num_interfaces: s.ifs.len() as u32,
                num_tables: s.routes.len() as u32,
                active: this.server.l3(&s.name).is_some(),
                online: this.server.l3(&s.name).is_some_and(|p| p.is_online()),
            })
            .collect(),
    })
}

pub(super) fn set_l3_switch_active(
    this: &mut ServerBackend<'_>,
    name: &str,
    active: bool,
) -> Result<(), ErrorCode> {
    update(this, |list| {
        let s = find(list, name)?;
        // `StStartL3Switch`: no interface → 102.
        if active && s.ifs.is_empty() {
            return Err(ErrorCode::LAYER3_CANT_START_SWITCH);
        }
        s.active = active;
        Ok(())
    })?;
    if active {
        this.server.start_l3(name);
    } else {
        this.server.stop_l3(name);
    }
    info!(switch = %name, active, "admin: Virtual Layer 3 Switch started/stopped");
    Ok(())
}

pub(super) fn add_l3_if(this: &mut ServerBackend<'_>, req: &L3If) -> Result<(), ErrorCode> {
    update(this, |list| {
        let s = find(list, &req.name)?;
        if s.ifs
            .iter()
            .any(|i| i.hub.eq_ignore_ascii_case(&req.hub_name))
        {
            return Err(ErrorCode::LAYER3_IF_EXISTS);
        }
        // `L3AddIf`: a safe hub name, switch stopped, room left.
        if s.active
            || req.hub_name.is_empty()
            || !rustether_proto::softether::names::is_safe_str(&req.hub_name)
            || s.ifs.len() >= l3::MAX_NUM_L3_IF
        {
            return Err(ErrorCode::LAYER3_IF_ADD_FAILED);
        }
        s.ifs.push(L3Interface {
            hub: req.hub_name.clone(),
            ip: req.ip_address,
            mask: req.subnet_mask,
        });
        s.sort();
        Ok(())
    })?;
    info!(switch = %req.name, hub = %req.hub_name, "admin: Virtual Layer 3 interface added");
    Ok(())
}

pub(super) fn del_l3_if(
    this: &mut ServerBackend<'_>,
    name: &str,
    hub: &str,
) -> Result<(), ErrorCode> {
    update(this, |list| {
        let s = find(list, name)?;
        let n = s.ifs.len();
        if s.active {
            return Err(ErrorCode::LAYER3_IF_DEL_FAILED);
        }
        s.ifs.retain(|i| !i.hub.eq_ignore_ascii_case(hub));
        if s.ifs.len() == n {
            return Err(ErrorCode::LAYER3_IF_DEL_FAILED);
        }
        Ok(())
    })?;
    info!(switch = %name, hub = %hub, "admin: Virtual Layer 3 interface deleted");
    Ok(())
}

pub(super) fn enum_l3_if(this: &mut ServerBackend<'_>, name: &str) -> Result<EnumL3If, ErrorCode> {
    let mut list = read(this)?;
    let s = find(&mut list, name)?;
    Ok(EnumL3If {
        name: s.name.clone(),
        items: s
            .ifs
            .iter()
            .map(|i| EnumL3IfItem {
                hub_name: i.hub.clone(),
                ip_address: i.ip,
                subnet_mask: i.mask,
            })
            .collect(),
    })
}

fn route_of(req: &L3Table) -> L3Route {
    L3Route {
        network: req.network_address,
        mask: req.subnet_mask,
        gateway: req.gateway_address,
        metric: req.metric,
    }
}

pub(super) fn add_l3_table(this: &mut ServerBackend<'_>, req: &L3Table) -> Result<(), ErrorCode> {
    let r = route_of(req);
    update(this, |list| {
        let s = find(list, &req.name)?;
        // `L3AddTable`: metric ≥ 1, switch stopped, no duplicate, room left.
        if r.metric == 0
            || s.active
            || s.routes.contains(&r)
            || s.routes.len() >= l3::MAX_NUM_L3_TABLE
        {
            return Err(ErrorCode::LAYER3_TABLE_ADD_FAILED);
        }
        s.routes.push(r);
        s.sort();
        Ok(())
    })?;
    info!(switch = %req.name, network = %req.network_address, "admin: Virtual Layer 3 route added");
    Ok(())
}

pub(super) fn del_l3_table(this: &mut ServerBackend<'_>, req: &L3Table) -> Result<(), ErrorCode> {
    let r = route_of(req);
    update(this, |list| {
        let s = find(list, &req.name)?;
        let n = s.routes.len();
        if s.active {
            return Err(ErrorCode::LAYER3_TABLE_DEL_FAILED);
        }
        s.routes.retain(|x| *x != r);
        if s.routes.len() == n {
            return Err(ErrorCode::LAYER3_TABLE_DEL_FAILED);
        }
        Ok(())
    })?;
    info!(switch = %req.name, network = %req.network_address, "admin: Virtual Layer 3 route deleted");
    Ok(())
}

pub(super) fn enum_l3_table(
    this: &mut ServerBackend<'_>,
    name: &str,
) -> Result<EnumL3Table, ErrorCode> {
    let mut list = read(this)?;
    let s = find(&mut list, name)?;
    Ok(EnumL3Table {
        name: s.name.clone(),
        items: s
            .routes
            .iter()
            .map(|r| EnumL3TableItem {
                network_address: r.network,
                subnet_mask: r.mask,
                gateway_address: r.gateway,
                metric: r.metric,
            })
            .collect(),
    })
}
