//! User RPCs (`rustether_admin::rpc::user`).

use rustether_admin::rpc::*;
use rustether_config::model::now_ms;
use rustether_config::{HubConfig, UserConfig};
use rustether_proto::softether::names::is_user_name;
use rustether_proto::ErrorCode;

use super::{key_eq, ServerBackend, MAX_USERS_PER_HUB};
use crate::admin::convert;

pub(super) fn create_user(this: &mut ServerBackend<'_>, req: &SetUser) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let f = &req.fields;
    if !is_user_name(&f.name) {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if h.user(&f.name).is_some() {
            return Err(ErrorCode::USER_ALREADY_EXISTS);
        }
        check_group(h, &f.group_name)?;
        // `StCreateUser`: the server's limit and the hub's `max_users`
        // (for every administrator).
        let max_users = h
            .raw
            .folder("AdminOption")
            .and_then(|f| f.get_uint(rustether_admin::hub_admin_option::MAX_USERS))
            .unwrap_or(0) as usize;
        if h.users.len() >= MAX_USERS_PER_HUB || (max_users != 0 && h.users.len() >= max_users) {
            return Err(ErrorCode::TOO_MANY_USER);
        }
        let mut u = UserConfig::new(&f.name, req.auth.clone(), rustether_config::model::now_ms());
        apply_user(&mut u, req)?;
        h.users.push(u);
        Ok(())
    })
}

pub(super) fn set_user(this: &mut ServerBackend<'_>, req: &SetUser) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    let f = &req.fields;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&f.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        check_group(h, &f.group_name)?;
        let u = h.user_mut(&f.name).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        apply_user(u, req)?;
        u.updated_time = now_ms();
        Ok(())
    })
}

pub(super) fn get_user(
    this: &mut ServerBackend<'_>,
    hub: &str,
    name: &str,
) -> Result<SetUser, ErrorCode> {
    this.server.with_statistics(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let u = h.user(name).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok(user_to_rpc(&h.name, u))
    })
}

pub(super) fn delete_user(
    this: &mut ServerBackend<'_>,
    hub: &str,
    name: &str,
) -> Result<(), ErrorCode> {
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let i = h
            .users
            .iter()
            .position(|u| key_eq(&u.name, name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        h.users.remove(i);
        Ok(())
    })
}

pub(super) fn enum_user(this: &mut ServerBackend<'_>, hub: &str) -> Result<EnumUser, ErrorCode> {
    this.server.with_statistics(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok(EnumUser {
            hub_name: h.name.clone(),
            users: h
                .users
                .iter()
                .map(|u| EnumUserItem {
                    fields: EnumUserItemFields {
                        name: u.name.clone(),
                        group_name: u.group.clone().unwrap_or_default(),
                        realname: u.realname.clone(),
                        note: u.note.clone(),
                        auth_type: u.auth.auth_type(),
                        last_login_time: u.last_login_time,
                        num_login: u.num_login,
                        deny_access: u.policy.as_ref().is_some_and(|p| !p.access),
                        is_traffic_filled: true,
                        is_expires_filled: true,
                        expires: u.expire_time,
                    },
                    traffic: convert::traffic_of(&u.raw, "Traffic"),
                })
                .collect(),
        })
    })
}

fn user_to_rpc(hub: &str, u: &UserConfig) -> SetUser {
    SetUser {
        fields: SetUserFields {
            hub_name: hub.to_owned(),
            name: u.name.clone(),
            group_name: u.group.clone().unwrap_or_default(),
            realname: u.realname.clone(),
            note: u.note.clone(),
            created_time: u.created_time,
            updated_time: u.updated_time,
            expire_time: u.expire_time,
        },
        auth: u.auth.clone(),
        num_login: u.num_login,
        traffic: convert::traffic_of(&u.raw, "Traffic"),
        policy: u.policy.as_ref().map(convert::policy_from_config),
    }
}

/// Sets the user fields an RPC may change (`CreateUser`/`SetUser`).
fn apply_user(u: &mut UserConfig, req: &SetUser) -> Result<(), ErrorCode> {
    u.auth = req.auth.clone();
    u.realname = req.fields.realname.clone();
    u.note = req.fields.note.clone();
    u.group = Some(req.fields.group_name.clone()).filter(|g| !g.is_empty());
    u.expire_time = req.fields.expire_time;
    u.policy = req.policy.as_ref().map(convert::policy_to_config);
    Ok(())
}

fn check_group(h: &HubConfig, group: &str) -> Result<(), ErrorCode> {
    if !group.is_empty() && h.group(group).is_none() {
        return Err(ErrorCode::GROUP_NOT_FOUND);
    }
    Ok(())
}
