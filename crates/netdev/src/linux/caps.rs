//! Capability checks (`capget(2)` through the `caps` crate).

use crate::error::{NetdevError, Result};
use crate::linux::sys;

use ::caps::{CapSet, Capability};

/// Whether `cap` is in the calling thread's effective set (`capget`).
fn has_effective(cap: Capability) -> Result<bool> {
    ::caps::has_cap(None, CapSet::Effective, cap)
        .map_err(|e| NetdevError::io("capget", std::io::Error::other(e.to_string())))
}

/// Check that the process may run a local bridge.
///
/// `CAP_NET_RAW` is always needed (an `AF_PACKET` socket; SoftEther's `IsEthSupported`).
/// `need_admin` adds `CAP_NET_ADMIN`, needed for promiscuous mode, offload changes and TAP
/// devices. Checks the calling thread's *effective* set, which is what the kernel checks.
///
/// Errors: [`NetdevError::MissingCapability`] naming the first missing capability, with
/// `action` describing what it is needed for; its message gives the remedies (run as root,
/// `setcap cap_net_raw,cap_net_admin+ep`, systemd `AmbientCapabilities`).
pub fn check_capabilities(need_admin: bool) -> Result<()> {
    if !has_effective(Capability::CAP_NET_RAW)? {
        return Err(NetdevError::MissingCapability {
            cap: "CAP_NET_RAW",
            action: "local bridge (raw packet socket)".into(),
        });
    }
    if need_admin && !has_effective(Capability::CAP_NET_ADMIN)? {
        return Err(NetdevError::MissingCapability {
            cap: "CAP_NET_ADMIN",
            action: "local bridge (promiscuous mode, offload settings, TAP device)".into(),
        });
    }
    Ok(())
}

/// Whether a local bridge can be used at all: an `AF_PACKET` raw socket can be opened.
/// This is SoftEther's `IsEthSupported()` on Linux (docs/process-model.md §9.1), which
/// decides between a device list and error 84 (`ERR_LOCAL_BRIDGE_UNSUPPORTED`).
pub fn is_bridge_supported() -> bool {
    sys::socket(
        libc::AF_PACKET,
        libc::SOCK_RAW,
        i32::from((libc::ETH_P_ALL as u16).to_be()),
    )
    .is_ok()
}
