//! Group RPCs (`rustether_admin::rpc::group`) over the configuration's
//! `SecurityAccountDatabase/GroupList` ([`GroupConfig`]). Group policies
//! take effect at the members' next login (user policy first, then the
//! group's, as SoftEther `ServerAccept`; crates/server/src/server.rs).

use rustether_admin::hub_admin_option as opt;
use rustether_admin::rpc::*;
use rustether_config::GroupConfig;
use rustether_proto::ErrorCode;
use tracing::info;

use super::{key_eq, ServerBackend, MAX_USERS_PER_HUB};
use crate::admin::convert;

pub(super) fn create_group(this: &mut ServerBackend<'_>, req: &SetGroup) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let f = &req.fields;
    let max_groups = super::hub::hub_admin_option(this, &f.hub_name, opt::MAX_GROUPS);
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if h.group(&f.name).is_some() {
            return Err(ErrorCode::GROUP_ALREADY_EXISTS);
        }
        // `StCreateGroup`: `i_max_users_per_hub` and the hub's `max_groups`
        if h.groups.len() >= MAX_USERS_PER_HUB
            || (max_groups != 0 && h.groups.len() >= max_groups as usize)
        {
            return Err(ErrorCode::TOO_MANY_GROUP);
        }
        let mut g = GroupConfig::new(&f.name);
        apply_group(&mut g, req);
        h.groups.push(g);
        Ok(())
    })?;
    info!(hub = %f.hub_name, group = %f.name, "admin: group created");
    Ok(())
}

pub(super) fn set_group(this: &mut ServerBackend<'_>, req: &SetGroup) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let f = &req.fields;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let g = h.group_mut(&f.name).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        apply_group(g, req);
        Ok(())
    })?;
    info!(hub = %f.hub_name, group = %f.name, "admin: group changed");
    Ok(())
}

pub(super) fn get_group(
    this: &mut ServerBackend<'_>,
    hub: &str,
    name: &str,
) -> Result<SetGroup, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_statistics(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let g = h.group(name).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok(SetGroup {
            fields: SetGroupFields {
                hub_name: h.name.clone(),
                name: g.name.clone(),
                realname: g.realname.clone(),
                note: g.note.clone(),
            },
            traffic: convert::traffic_of(&g.raw, "Traffic"),
            policy: g.policy.as_ref().map(convert::policy_from_config),
        })
    })
}

pub(super) fn delete_group(
    this: &mut ServerBackend<'_>,
    hub: &str,
    name: &str,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let i = h
            .groups
            .iter()
            .position(|g| key_eq(&g.name, name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        h.groups.remove(i);
        // `AcDeleteGroup`: the members now belong to no group
        for u in h.users.iter_mut() {
            if u.group.as_deref().is_some_and(|g| key_eq(g, name)) {
                u.group = None;
            }
        }
        Ok(())
    })?;
    info!(hub, group = name, "admin: group deleted");
    Ok(())
}

pub(super) fn enum_group(this: &mut ServerBackend<'_>, hub: &str) -> Result<EnumGroup, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok(EnumGroup {
            hub_name: h.name.clone(),
            groups: h
                .groups
                .iter()
                .map(|g| EnumGroupItem {
                    name: g.name.clone(),
                    realname: g.realname.clone(),
                    note: g.note.clone(),
                    num_users: h
                        .users
                        .iter()
                        .filter(|u| u.group.as_deref().is_some_and(|x| key_eq(x, &g.name)))
                        .count() as u32,
                    deny_access: g.policy.as_ref().is_some_and(|p| !p.access),
                })
                .collect(),
        })
    })
}

/// The group fields an RPC may change (`StSetGroup`: texts and policy).
fn apply_group(g: &mut GroupConfig, req: &SetGroup) {
    g.realname = req.fields.realname.clone();
    g.note = req.fields.note.clone();
    g.policy = req.policy.as_ref().map(convert::policy_to_config);
}
