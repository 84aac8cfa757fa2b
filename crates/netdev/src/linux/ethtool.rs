//! Offload features through the ethtool ioctl (`SIOCETHTOOL`), not the `ethtool` program.
//!
//! Uses the generic feature interface (`ETHTOOL_GFEATURES` / `ETHTOOL_SFEATURES`, Linux
//! 2.6.39+): feature *names* come from the `ETH_SS_FEATURES` string set, so the bit
//! positions (kernel-internal, not ABI) are looked up at run time. This sets exactly the
//! named features and restores exactly the previous *requested* ("wanted") bits, which
//! the legacy per-feature commands (`ETHTOOL_STSO`, ...) cannot: they switch whole
//! groups (all TSO variants at once).

use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

use crate::error::{NetdevError, Result};
use crate::linux::sys;

const ETHTOOL_GSTRINGS: u32 = 0x1b;
const ETHTOOL_GSSET_INFO: u32 = 0x37;
const ETHTOOL_GFEATURES: u32 = 0x3a;
const ETHTOOL_SFEATURES: u32 = 0x3b;
const ETH_SS_FEATURES: u32 = 4;
const ETH_GSTRING_LEN: usize = 32;
/// Sanity bound on the feature count (Linux has about 70).
const MAX_FEATURES: u32 = 1024;

/// Features a local bridge switches off (kernel names as `ethtool -k` shows them in
/// parentheses, e.g. `generic-receive-offload` is `rx-gro`).
///
/// * Receive aggregation — `rx-gro`, `rx-lro`, `rx-gro-hw`, `rx-gro-list`,
///   `rx-udp-gro-forwarding` — is what matters: it merges received segments into up to
///   64 KiB super-frames *before* the raw socket sees them.
/// * Transmit segmentation — `tx-generic-segmentation`, `tx-tcp*-segmentation`,
///   `tx-udp-segmentation`, `tx-udp-fragmentation` — only affects frames the host itself
///   sends through the interface, which the bridge does not forward (it skips
///   `PACKET_OUTGOING`); switched off anyway for parity with SoftEther's `ethtool -K ... tso
///   off gso off` so that a capture of the bridged interface shows wire-sized frames.
///
/// TX *checksum* offload is left alone on purpose: partial checksums reach the bridge from
/// the *peer* of a veth (a container), whose settings the bridge cannot change; the raw
/// device completes them in software instead (see [`crate::frame`]). SoftEther's list also
/// has `rx`, `tx`, `sg`, `rxvlan`, `txvlan`, `ntuple`, `rxhash` (docs/process-model.md §9.3);
/// VLAN tags stripped by the NIC are re-inserted from `PACKET_AUXDATA` instead.
pub const MANAGED_OFFLOADS: &[&str] = &[
    "rx-gro",
    "rx-lro",
    "rx-gro-hw",
    "rx-gro-list",
    "rx-udp-gro-forwarding",
    "tx-generic-segmentation",
    "tx-tcp-segmentation",
    "tx-tcp-ecn-segmentation",
    "tx-tcp-mangleid-segmentation",
    "tx-tcp6-segmentation",
    "tx-udp-segmentation",
    "tx-udp-fragmentation",
];

/// Whether a local bridge switches feature `name` off: one of [`MANAGED_OFFLOADS`], or a
/// TCP segmentation variant newer than that list (`tx-tcp*-segmentation`, e.g. Linux
/// 6.18's `tx-tcp-accecn-segmentation`), which `ethtool -K <if> tso off` also covers.
pub fn is_managed_offload(name: &str) -> bool {
    MANAGED_OFFLOADS.contains(&name)
        || (name.starts_with("tx-tcp") && name.ends_with("-segmentation"))
}

/// State of one offload feature of an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffloadFeature {
    /// Kernel feature name, e.g. `rx-gro`, `tx-tcp-segmentation`.
    pub name: String,
    /// Currently in effect.
    pub active: bool,
    /// Requested ("wanted") by the administrator; may differ from `active` when a
    /// dependency is off (TSO needs TX checksumming).
    pub requested: bool,
    /// The driver lets it be changed (`ethtool -k` does not print `[fixed]`).
    pub changeable: bool,
}

/// The feature string set and the feature words of one interface.
struct Features {
    names: Vec<String>,
    /// Per 32-feature block: available, requested, active, never_changed.
    blocks: Vec<[u32; 4]>,
}

impl Features {
    fn bit(&self, i: usize, word: usize) -> bool {
        self.blocks[i / 32][word] & (1 << (i % 32)) != 0
    }
    fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
    fn feature(&self, i: usize) -> OffloadFeature {
        OffloadFeature {
            name: self.names[i].clone(),
            active: self.bit(i, 2),
            requested: self.bit(i, 1),
            changeable: self.bit(i, 0) && !self.bit(i, 3),
        }
    }
}

/// `ioctl(fd, SIOCETHTOOL)` with `ifr_data` pointing at `buf`.
fn ethtool<T>(fd: RawFd, ifname: &str, buf: &mut [T], what: &str) -> Result<()> {
    let mut ifr = sys::ifreq(ifname)?;
    ifr.ifr_ifru.ifru_data = buf.as_mut_ptr().cast();
    sys::ioctl_ifreq(fd, sys::SIOCETHTOOL, &mut ifr).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => NetdevError::MissingCapability {
            cap: "CAP_NET_ADMIN",
            action: format!("change offload settings ({what}) of {ifname}"),
        },
        _ => sys::if_err(ifname, &format!("SIOCETHTOOL {what}"), e),
    })
}

fn read_features(fd: RawFd, ifname: &str) -> Result<Features> {
    // struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[1]; }
    #[repr(C)]
    struct SsetInfo {
        cmd: u32,
        reserved: u32,
        sset_mask: u64,
        data: [u32; 1],
    }
    let mut info = [SsetInfo {
        cmd: ETHTOOL_GSSET_INFO,
        reserved: 0,
        sset_mask: 1 << ETH_SS_FEATURES,
        data: [0],
    }];
    ethtool(fd, ifname, &mut info, "ETHTOOL_GSSET_INFO")?;
    let count = info[0].data[0];
    if info[0].sset_mask & (1 << ETH_SS_FEATURES) == 0 || count == 0 || count > MAX_FEATURES {
        return Err(NetdevError::io(
            format!("ETHTOOL_GSSET_INFO on {ifname}: {count} features"),
            std::io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        ));
    }
    let n = count as usize;

    // struct ethtool_gstrings { u32 cmd; u32 string_set; u32 len; u8 data[]; }
    let mut strings = vec![0u32; 3 + n * ETH_GSTRING_LEN / 4];
    strings[0] = ETHTOOL_GSTRINGS;
    strings[1] = ETH_SS_FEATURES;
    strings[2] = count;
    ethtool(fd, ifname, &mut strings, "ETHTOOL_GSTRINGS")?;
    let bytes: Vec<u8> = strings[3..].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let names = bytes
        .chunks_exact(ETH_GSTRING_LEN)
        .map(|c| {
            let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
            String::from_utf8_lossy(&c[..end]).into_owned()
        })
        .collect();

    // struct ethtool_gfeatures { u32 cmd; u32 size; struct { u32 available, requested,
    // active, never_changed; } features[size]; }
    let nblocks = n.div_ceil(32);
    let mut g = vec![0u32; 2 + 4 * nblocks];
    g[0] = ETHTOOL_GFEATURES;
    g[1] = nblocks as u32;
    ethtool(fd, ifname, &mut g, "ETHTOOL_GFEATURES")?;
    let blocks = g[2..]
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect();
    Ok(Features { names, blocks })
}

/// `ETHTOOL_SFEATURES` for the features at `indices`, all set to `on`.
fn set_features(fd: RawFd, ifname: &str, f: &Features, indices: &[usize], on: bool) -> Result<()> {
    // struct ethtool_sfeatures { u32 cmd; u32 size; struct { u32 valid, requested; } features[size]; }
    let nblocks = f.blocks.len();
    let mut s = vec![0u32; 2 + 2 * nblocks];
    s[0] = ETHTOOL_SFEATURES;
    s[1] = nblocks as u32;
    for &i in indices {
        s[2 + 2 * (i / 32)] |= 1 << (i % 32);
        if on {
            s[3 + 2 * (i / 32)] |= 1 << (i % 32);
        }
    }
    ethtool(fd, ifname, &mut s, "ETHTOOL_SFEATURES")
}

/// Indices of the managed features the interface knows, in the kernel's order.
fn managed_indices(f: &Features) -> impl Iterator<Item = usize> + '_ {
    (0..f.names.len()).filter(|&i| is_managed_offload(&f.names[i]))
}

/// State of the managed offloads ([`is_managed_offload`]) the interface knows (kernel order), read through the
/// ethtool ioctl on socket `fd` (any socket of the interface's network namespace).
pub(crate) fn managed_offloads_fd(fd: RawFd, ifname: &str) -> Result<Vec<OffloadFeature>> {
    let f = read_features(fd, ifname)?;
    Ok(managed_indices(&f).map(|i| f.feature(i)).collect())
}

/// State of the offload features a local bridge manages ([`is_managed_offload`]) on
/// interface `ifname` of the caller's network namespace; features the kernel does not know
/// are absent. Needs no capability.
///
/// Errors: [`NetdevError::NoSuchDevice`], [`NetdevError::Io`] (e.g. `EOPNOTSUPP` for a
/// device without ethtool support).
pub fn offload_features(ifname: &str) -> Result<Vec<OffloadFeature>> {
    let ctl = sys::control_socket()?;
    managed_offloads_fd(sys::raw(&ctl), ifname)
}

/// Set one offload feature by kernel name (e.g. `rx-gro`) on `ifname`. Needs
/// `CAP_NET_ADMIN`. Mostly for tests and tools; bridges use [`crate::RawDevice`].
///
/// Errors: [`NetdevError::Io`] with `ENOENT` for an unknown name, `EOPNOTSUPP` when the
/// feature is fixed; [`NetdevError::MissingCapability`].
pub fn set_offload(ifname: &str, feature: &str, on: bool) -> Result<()> {
    let ctl = sys::control_socket()?;
    let fd = sys::raw(&ctl);
    let f = read_features(fd, ifname)?;
    let i = f.index(feature).ok_or_else(|| {
        NetdevError::io(
            format!("offload feature {feature:?} of {ifname}"),
            std::io::Error::from_raw_os_error(libc::ENOENT),
        )
    })?;
    if !f.feature(i).changeable {
        return Err(NetdevError::io(
            format!("offload feature {feature:?} of {ifname} is fixed"),
            std::io::Error::from_raw_os_error(libc::EOPNOTSUPP),
        ));
    }
    set_features(fd, ifname, &f, &[i], on)
}

/// What [`disable_managed`] switched off, to be switched back on by [`restore`].
#[derive(Debug, Default)]
pub(crate) struct SavedOffloads {
    /// Names of the features that were requested on and were switched off.
    pub(crate) disabled: Vec<String>,
}

/// Switch off every changeable managed feature that is requested on; return
/// what was switched off.
pub(crate) fn disable_managed(fd: RawFd, ifname: &str) -> Result<SavedOffloads> {
    let f = read_features(fd, ifname)?;
    let indices: Vec<usize> = managed_indices(&f)
        .filter(|&i| {
            let feat = f.feature(i);
            feat.changeable && feat.requested
        })
        .collect();
    if !indices.is_empty() {
        set_features(fd, ifname, &f, &indices, false)?;
    }
    Ok(SavedOffloads {
        disabled: indices.iter().map(|&i| f.names[i].clone()).collect(),
    })
}

/// Switch the features in `saved` back on (names are looked up again).
pub(crate) fn restore(fd: RawFd, ifname: &str, saved: &SavedOffloads) -> Result<()> {
    if saved.disabled.is_empty() {
        return Ok(());
    }
    let f = read_features(fd, ifname)?;
    let indices: Vec<usize> = saved.disabled.iter().filter_map(|n| f.index(n)).collect();
    set_features(fd, ifname, &f, &indices, true)
}

/// Interfaces whose offloads raw devices of this process switched off, shared by all
/// devices open on the same interface: the first one switches them off, the last one to
/// close restores them. Without this a second bridge on the same interface would record
/// "already off" and the first one's close would switch them back on under it.
static HELD: Mutex<Vec<Held>> = Mutex::new(Vec::new());

struct Held {
    key: HoldKey,
    users: usize,
    saved: Arc<SavedOffloads>,
}

/// (network namespace cookie, ifindex): ifindexes are per namespace.
type HoldKey = (u64, u32);

/// One raw device's share in the offload state of its interface.
#[derive(Debug)]
pub(crate) struct OffloadHold {
    key: HoldKey,
    saved: Arc<SavedOffloads>,
}

impl OffloadHold {
    pub(crate) fn disabled(&self) -> &[String] {
        &self.saved.disabled
    }
}

/// `SO_NETNS_COOKIE` (Linux 5.14+) of socket `fd`; 0 when unknown.
fn netns_cookie(fd: RawFd) -> u64 {
    const SO_NETNS_COOKIE: libc::c_int = 71;
    let mut cookie: u64 = 0;
    let mut len = std::mem::size_of::<u64>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `cookie` and updates `len`.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            SO_NETNS_COOKIE,
            (&mut cookie as *mut u64).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        0
    } else {
        cookie
    }
}

/// Switch the managed offloads of interface `ifname` (index `ifindex`, in the namespace of
/// socket `fd`) off, or join the devices that already did.
pub(crate) fn hold(fd: RawFd, ifindex: u32, ifname: &str) -> Result<OffloadHold> {
    let key = (netns_cookie(fd), ifindex);
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(h) = held.iter_mut().find(|h| h.key == key) {
        h.users += 1;
        return Ok(OffloadHold {
            key,
            saved: h.saved.clone(),
        });
    }
    let saved = Arc::new(disable_managed(fd, ifname)?);
    held.push(Held {
        key,
        users: 1,
        saved: saved.clone(),
    });
    Ok(OffloadHold { key, saved })
}

/// Give up a share; the last one restores the offloads when `alive` (the interface is
/// still the one the hold was taken on).
pub(crate) fn release(h: OffloadHold, fd: RawFd, ifname: &str, alive: bool) -> Result<bool> {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let Some(pos) = held.iter().position(|x| x.key == h.key) else {
        return Ok(false);
    };
    held[pos].users -= 1;
    if held[pos].users > 0 {
        return Ok(false);
    }
    held.swap_remove(pos);
    if !alive || h.saved.disabled.is_empty() {
        return Ok(false);
    }
    restore(fd, ifname, &h.saved).map(|()| true)
}
