//! Interface enumeration for `BridgeDeviceList`.

use crate::error::{NetdevError, Result};
use crate::linux::sys;
use crate::DeviceInfo;

/// Ethernet interfaces of the caller's network namespace that a local bridge can use,
/// sorted by name.
///
/// Kept: hardware type `ARPHRD_ETHER` (physical NICs, veth, bridges, bonds, VLAN
/// interfaces, Wi-Fi in managed mode — all report Ethernet). Left out: loopback and every
/// other hardware type (tun, ip tunnels, ...) and, like SoftEther, names starting with
/// `tap_` (the TAP devices local bridges create themselves). SoftEther's `GetEthListLinux`
/// (docs/process-model.md §9.2) also accepts the rare hardware types 2, 6, 800 and 801;
/// we do not, because frames on them are not Ethernet frames.
///
/// Needs no capability. SoftEther returns an empty list when the process cannot open a raw
/// socket; the caller reproduces that with [`crate::is_bridge_supported`].
///
/// Errors: [`NetdevError::Io`] when the interface list itself cannot be read. Interfaces
/// that disappear while being examined are skipped.
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    let ctl = sys::control_socket()?;
    let fd = sys::raw(&ctl);
    let mut out = Vec::new();
    for (ifindex, name) in sys::interface_names()? {
        if name.starts_with("tap_") {
            continue;
        }
        match examine(fd, ifindex, &name) {
            Ok(Some(info)) => out.push(info),
            Ok(None) => {}
            // Deleted meanwhile, or a name the ioctls cannot carry: not a bridge candidate.
            Err(NetdevError::NoSuchDevice(_))
            | Err(NetdevError::NameTooLong(_))
            | Err(NetdevError::InvalidName(_)) => {}
            Err(e) => return Err(e),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

fn examine(fd: i32, ifindex: u32, name: &str) -> Result<Option<DeviceInfo>> {
    let flags = sys::if_flags(fd, name)?;
    if flags & sys::IFF_LOOPBACK != 0 {
        return Ok(None);
    }
    let (family, mac) = sys::if_hwaddr(fd, name)?;
    if family != sys::ARPHRD_ETHER {
        return Ok(None);
    }
    Ok(Some(DeviceInfo {
        name: name.to_owned(),
        ifindex,
        mac,
        up: flags & sys::IFF_UP != 0,
        running: flags & sys::IFF_RUNNING != 0,
        promiscuous: flags & sys::IFF_PROMISC != 0,
        mtu: sys::if_mtu(fd, name)?,
    }))
}

/// Look up one interface by name (any hardware type).
///
/// Errors: [`NetdevError::NoSuchDevice`], [`NetdevError::NameTooLong`],
/// [`NetdevError::InvalidName`].
pub fn device_info(name: &str) -> Result<DeviceInfo> {
    let ctl = sys::control_socket()?;
    let fd = sys::raw(&ctl);
    let ifindex = sys::if_index(fd, name)?;
    let flags = sys::if_flags(fd, name)?;
    let (_, mac) = sys::if_hwaddr(fd, name)?;
    Ok(DeviceInfo {
        name: name.to_owned(),
        ifindex,
        mac,
        up: flags & sys::IFF_UP != 0,
        running: flags & sys::IFF_RUNNING != 0,
        promiscuous: flags & sys::IFF_PROMISC != 0,
        mtu: sys::if_mtu(fd, name)?,
    })
}
