//! Capability checks (`capget(2)`).

use crate::error::{NetdevError, Result};
use crate::linux::sys;

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// Capability numbers from `<linux/capability.h>`.
pub(crate) const CAP_NET_ADMIN: u32 = 12;
pub(crate) const CAP_NET_RAW: u32 = 13;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Effective capability set of the calling thread as a 64-bit mask.
fn effective_caps() -> Result<u64> {
    let mut hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget with a version-3 header reads the header and writes exactly two
    // CapData entries, which `data` provides.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capget,
            &mut hdr as *mut CapHeader,
            data.as_mut_ptr(),
        )
    };
    if rc < 0 {
        return Err(NetdevError::io("capget", sys::errno()));
    }
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
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
    let eff = effective_caps()?;
    if eff & (1 << CAP_NET_RAW) == 0 {
        return Err(NetdevError::MissingCapability {
            cap: "CAP_NET_RAW",
            action: "local bridge (raw packet socket)".into(),
        });
    }
    if need_admin && eff & (1 << CAP_NET_ADMIN) == 0 {
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
