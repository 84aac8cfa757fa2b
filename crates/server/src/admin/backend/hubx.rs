//! Hub administration options, extended options and cascade renaming
//! (`rustether_admin::rpc::hubx`). Both option lists live in the hub's
//! folder of vpn_server.config where SoftEther keeps them:
//! `VirtualHUB/<hub>/AdminOption` (one uint per option) and
//! `VirtualHUB/<hub>/Option` (`SiWriteHubOptionCfg`).

use rustether_admin::hub_admin_option as opt;
use rustether_admin::hub_ext_option::{ExtKind, EXT_OPTIONS};
use rustether_admin::rpc::{AdminOptionItem, CrlEntry, EnumCrlItem, RpcRadius};
use rustether_config::{CfgValue, Folder};
use rustether_proto::ErrorCode;

use super::{key_eq, Deferred, ServerBackend};
use crate::certauth::{hub_crl, set_hub_crl, RevokedCert, MAX_HUB_CRLS};

/// `VlanTypeId` when 0 or missing (`MAC_PROTO_TAGVLAN`,
/// `SiLoadHubOptionCfg`).
const DEFAULT_VLAN_TYPE_ID: u32 = 0x8100;

fn item(name: &str, value: u32) -> AdminOptionItem {
    AdminOptionItem {
        name: name.to_owned(),
        value,
        descrption: String::new(),
    }
}

pub(super) fn get_hub_admin_options(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<Vec<AdminOptionItem>, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let f = h.raw.folder("AdminOption");
        let mut items: Vec<AdminOptionItem> = f
            .map(|f| {
                f.items
                    .iter()
                    .filter_map(|(n, v)| match v {
                        CfgValue::Uint(v) => Some(item(n, *v)),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        for n in opt::DEFAULT_NAMES {
            if !items.iter().any(|i| key_eq(&i.name, n)) {
                items.push(item(n, 0));
            }
        }
        // SoftEther's `AdminOptionList` is sorted (`CompareAdminOption`,
        // case-insensitive).
        items.sort_by_key(|i| i.name.to_ascii_lowercase());
        Ok(items)
    })
}

pub(super) fn set_hub_admin_options(
    this: &mut ServerBackend<'_>,
    hub: &str,
    items: &[AdminOptionItem],
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        // `DeleteAllHubAdminOption` + the given ones +
        // `AddHubAdminOptionsDefaults`.
        let mut f = Folder::new("AdminOption");
        for n in opt::DEFAULT_NAMES {
            f.set_uint(n, 0);
        }
        for i in items {
            f.set_uint(&i.name, i.value);
        }
        h.raw.add_folder(f);
        Ok(())
    })
}

/// The RPC value of an `Option` item (bool → 0/1, hex string → number).
fn ext_value(f: Option<&Folder>, key: &str, kind: ExtKind) -> u32 {
    let v = f.and_then(|f| f.item(key));
    match (kind, v) {
        (_, Some(CfgValue::Bool(b))) => u32::from(*b),
        (_, Some(CfgValue::Uint(u))) => *u,
        (ExtKind::Hex, Some(CfgValue::String(s))) => {
            let t = s.trim();
            let t = t
                .strip_prefix("0x")
                .or_else(|| t.strip_prefix("0X"))
                .unwrap_or(t);
            match u32::from_str_radix(t, 16) {
                Ok(v) if v != 0 => v,
                _ => DEFAULT_VLAN_TYPE_ID,
            }
        }
        (ExtKind::Hex, _) => DEFAULT_VLAN_TYPE_ID,
        _ => 0,
    }
}

pub(super) fn get_hub_ext_options(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<Vec<AdminOptionItem>, ErrorCode> {
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let f = h.raw.folder("Option");
        Ok(EXT_OPTIONS
            .iter()
            .map(|o| item(o.name, ext_value(f, o.key, o.kind)))
            .collect())
    })
}

pub(super) fn set_hub_ext_options(
    this: &mut ServerBackend<'_>,
    hub: &str,
    items: &[AdminOptionItem],
) -> Result<(), ErrorCode> {
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let f = h.raw.folder_or_insert("Option");
        for i in items {
            let Some(o) = EXT_OPTIONS.iter().find(|o| o.name == i.name) else {
                continue;
            };
            match o.kind {
                ExtKind::Bool => f.set_bool(o.key, i.value != 0),
                ExtKind::Uint => f.set_uint(o.key, i.value),
                ExtKind::Hex => {
                    let v = if i.value == 0 {
                        DEFAULT_VLAN_TYPE_ID
                    } else {
                        i.value
                    };
                    f.set_str(o.key, &format!("0x{v:x}"));
                }
            }
        }
        Ok(())
    })
}

pub(super) fn rename_link(
    this: &mut ServerBackend<'_>,
    hub: &str,
    old: &str,
    new: &str,
) -> Result<(), ErrorCode> {
    let (hub_name, old_name, cfg, run) = this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let hub_online = h.online;
        let i = h
            .cascades
            .iter()
            .position(|x| key_eq(&x.account_name, old))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        if h.cascades.iter().any(|x| key_eq(&x.account_name, new)) {
            return Err(ErrorCode::LINK_ALREADY_EXISTS);
        }
        let x = &mut h.cascades[i];
        let old_name = std::mem::replace(&mut x.account_name, new.to_owned());
        Ok((h.name.clone(), old_name, x.clone(), x.online && hub_online))
    })?;
    // The running cascade is known by its name: stop it under the old
    // name and start it under the new one (SoftEther renames in place).
    this.deferred.push(Deferred::RestartCascade {
        hub: hub_name.clone(),
        name: old_name,
        cfg: None,
    });
    if run {
        this.deferred.push(Deferred::RestartCascade {
            hub: hub_name,
            name: cfg.account_name.clone(),
            cfg: Some(Box::new(cfg)),
        });
    }
    Ok(())
}

/// The RPC form of a CRL entry and back (empty = not set).
fn to_entry(r: &RevokedCert) -> CrlEntry {
    let s = |v: &Option<String>| v.clone().unwrap_or_default();
    CrlEntry {
        serial: r.serial.clone().unwrap_or_default(),
        common_name: s(&r.common_name),
        organization: s(&r.organization),
        unit: s(&r.unit),
        country: s(&r.country),
        state: s(&r.state),
        local: s(&r.local),
        digest_md5: r.digest_md5.unwrap_or([0; 16]),
        digest_sha1: r.digest_sha1.unwrap_or([0; 20]),
    }
}

fn from_entry(c: &CrlEntry) -> RevokedCert {
    let s = |v: &str| Some(v.trim().to_owned()).filter(|v| !v.is_empty());
    RevokedCert {
        serial: Some(c.serial.clone()).filter(|v| !v.is_empty()),
        common_name: s(&c.common_name),
        organization: s(&c.organization),
        unit: s(&c.unit),
        country: s(&c.country),
        state: s(&c.state),
        local: s(&c.local),
        digest_md5: Some(c.digest_md5).filter(|d| *d != [0; 16]),
        digest_sha1: Some(c.digest_sha1).filter(|d| *d != [0; 20]),
    }
}

/// The `Key` of a CRL entry: stable while the entry is unchanged (SoftEther
/// uses the entry's address).
fn crl_key(r: &RevokedCert) -> u32 {
    let h = rustether_proto::sha0::sha0(rustether_config::write_text(&r.to_folder("k")).as_bytes());
    u32::from_be_bytes([h[0], h[1], h[2], h[3]]).max(1)
}

fn update_crl<T>(
    this: &mut ServerBackend<'_>,
    hub: &str,
    f: impl FnOnce(&mut Vec<RevokedCert>) -> Result<T, ErrorCode>,
) -> Result<T, ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let mut list = hub_crl(&h.raw);
        let out = f(&mut list)?;
        set_hub_crl(&mut h.raw, &list);
        Ok(out)
    })
}

pub(super) fn enum_crl(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<Vec<EnumCrlItem>, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        Ok(hub_crl(&h.raw)
            .iter()
            .map(|r| EnumCrlItem {
                key: crl_key(r),
                crl_info: r.info(),
            })
            .collect())
    })
}

pub(super) fn get_crl(
    this: &mut ServerBackend<'_>,
    hub: &str,
    key: u32,
) -> Result<CrlEntry, ErrorCode> {
    this.bridge_edition()?;
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        hub_crl(&h.raw)
            .iter()
            .find(|r| crl_key(r) == key)
            .map(to_entry)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)
    })
}

pub(super) fn add_crl(
    this: &mut ServerBackend<'_>,
    hub: &str,
    crl: &CrlEntry,
) -> Result<(), ErrorCode> {
    let r = from_entry(crl);
    update_crl(this, hub, |list| {
        if list.len() >= MAX_HUB_CRLS {
            return Err(ErrorCode::TOO_MANY_ITEMS);
        }
        // The same entry twice would share its key; once is enough.
        if !list.contains(&r) {
            list.push(r);
        }
        Ok(())
    })
}

pub(super) fn del_crl(this: &mut ServerBackend<'_>, hub: &str, key: u32) -> Result<(), ErrorCode> {
    update_crl(this, hub, |list| {
        let i = list
            .iter()
            .position(|r| crl_key(r) == key)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        list.remove(i);
        Ok(())
    })
}

pub(super) fn set_crl(
    this: &mut ServerBackend<'_>,
    hub: &str,
    key: u32,
    crl: &CrlEntry,
) -> Result<(), ErrorCode> {
    let r = from_entry(crl);
    update_crl(this, hub, |list| {
        let e = list
            .iter_mut()
            .find(|x| crl_key(x) == key)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        *e = r;
        Ok(())
    })
}

/// `GetHubRadius`: the hub folder's `RadiusServerName`, `RadiusServerPort`,
/// `RadiusSecret` (bytes) and `RadiusRetryInterval` (`SiWriteHubCfg`).
pub(super) fn get_hub_radius(
    this: &mut ServerBackend<'_>,
    hub: &str,
) -> Result<RpcRadius, ErrorCode> {
    this.server.with_config(|c| {
        let h = c.hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let f = &h.raw;
        let name = f.get_str("RadiusServerName").unwrap_or("").to_owned();
        if name.is_empty() {
            return Ok(RpcRadius::default());
        }
        let secret = f.get_bytes("RadiusSecret").unwrap_or(&[]);
        Ok(RpcRadius {
            radius_server_name: name,
            radius_port: f.get_uint("RadiusServerPort").unwrap_or(0),
            hub_name: String::new(),
            radius_secret: String::from_utf8_lossy(secret).into_owned(),
            radius_retry_interval: f
                .get_uint("RadiusRetryInterval")
                .filter(|v| *v != 0)
                .unwrap_or(rustether_admin::dispatch::RADIUS_RETRY_INTERVAL_MS),
            radius_retry_timeout: 0,
        })
    })
}

/// `SetHubRadius`: stored where SoftEther keeps it; an empty server name
/// removes the server and its secret.
pub(super) fn set_hub_radius(
    this: &mut ServerBackend<'_>,
    req: &RpcRadius,
) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        let f = &mut h.raw;
        if req.radius_server_name.is_empty() {
            f.remove_item("RadiusServerName");
            f.remove_item("RadiusSecret");
        } else {
            f.set_str("RadiusServerName", &req.radius_server_name);
            f.set_bytes("RadiusSecret", req.radius_secret.as_bytes());
        }
        f.set_uint("RadiusServerPort", req.radius_port);
        f.set_uint("RadiusRetryInterval", req.radius_retry_interval);
        Ok(())
    })
}
