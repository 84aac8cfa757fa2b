//! Device I/O of the **local bridge** (SoftEther's "Local Bridge" between a virtual hub
//! and a network interface or a TAP device), Linux only.
//!
//! # What is here
//!
//! * [`list_devices`] — the interfaces a local bridge can use (`BridgeDeviceList`).
//! * [`check_capabilities`] / [`is_bridge_supported`] — privilege checks with messages
//!   that name the missing capability and the remedy.
//! * [`RawDevice`] — an `AF_PACKET` raw socket on one interface: promiscuous mode,
//!   offloads switched off and restored, frames exactly as on the wire.
//! * [`TapDevice`] — the `tap_<name>` interface of a tap-mode bridge.
//! * [`ResilientDevice`] / [`wait_for_device`] — reopen a bridge device when its interface
//!   disappears and comes back.
//! * [`frame`] — sans-IO checksum completion and segmentation of offloaded frames.
//!
//! # How SoftEther 5.01 does it, and what we do differently
//!
//! (Facts from `docs/process-model.md` §9–10, verified against the real programs.)
//!
//! | | SoftEther 5.01 | rustether-netdev |
//! |---|---|---|
//! | support test | can open `socket(PF_PACKET, SOCK_RAW, ETH_P_ALL)`; else error 84 | [`is_bridge_supported`], same test; [`check_capabilities`] names `CAP_NET_RAW` / `CAP_NET_ADMIN` |
//! | device list | probe `SIOCGIFNAME` ifindex 0.. until 64 misses; Ethernet-ish types; skip `tap_*`; sort | `if_nameindex`, `ARPHRD_ETHER` only, skip loopback and `tap_*`, sort |
//! | promiscuous | `SIOCSIFFLAGS` `IFF_PROMISC`, **never cleared** | `PACKET_ADD_MEMBERSHIP`/`PACKET_MR_PROMISC`: kernel-refcounted, gone when the socket closes (even on a crash) |
//! | offloads | `ethtool -K <if> rx tx sg tso ufo gso gro lro rxvlan txvlan ntuple rxhash off` via `/bin/sh`, once per interface per process, never restored | ethtool ioctl (`ETHTOOL_SFEATURES`) on GRO/LRO/GSO/TSO families ([`MANAGED_OFFLOADS`]); exact previous state restored on drop |
//! | partial checksums, super-frames | hub repairs checksums (`DisableCorrectIpOffloadChecksum`); frames > 1600 bytes dropped | completed / segmented in [`RawDevice::recv`] from `PACKET_VNET_HDR` data ([`frame`]) |
//! | stripped VLAN tags | re-inserted from `PACKET_AUXDATA` | same |
//! | host's own outgoing frames | (received) | not received (`PACKET_IGNORE_OUTGOING`) |
//! | device gone | session retries `OpenEth` every 1 s | [`ResilientDevice`], same 1 s default |
//! | TAP | `/dev/net/tun`, `IFF_TAP|IFF_NO_PI`, name `tap_<lower(name)>` truncated to 15, `mknod`+`chmod` through the shell on every retry | same device setup; name longer than 15 → [`NetdevError::NameTooLong`]; never touches `/dev/net/tun` |
//!
//! # Privileges
//!
//! A raw socket needs `CAP_NET_RAW`. Promiscuous mode, offload changes and TAP devices
//! need `CAP_NET_ADMIN` (the kernel would accept the promiscuous membership with
//! `CAP_NET_RAW` alone; we ask for `CAP_NET_ADMIN` like SoftEther so a bridge either fully
//! works or fails with a clear message). TAP mode additionally needs read/write access to
//! `/dev/net/tun` (mode 0600 root on some systems). Grant them with `setcap
//! cap_net_raw,cap_net_admin+ep <program>` or systemd `AmbientCapabilities=CAP_NET_RAW
//! CAP_NET_ADMIN`, or run as root.
//!
//! # Network namespaces
//!
//! Every function works in the network namespace of the *calling thread* at the time of
//! the call (sockets keep the namespace they were created in).
//!
//! # Other platforms
//!
//! The same API exists everywhere; off Linux every operation returns
//! [`NetdevError::Unsupported`].

pub mod error;
pub mod frame;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(not(target_os = "linux"))]
mod unsupported;

pub use error::{NetdevError, Result};

#[cfg(target_os = "linux")]
pub use linux::{
    caps::{check_capabilities, is_bridge_supported},
    devices::{device_info, list_devices},
    ethtool::{
        is_managed_offload, offload_features, set_offload, OffloadFeature, MANAGED_OFFLOADS,
    },
    raw::RawDevice,
    resilient::{wait_for_device, ResilientDevice, DEFAULT_RETRY_INTERVAL},
    sys::IFNAME_MAX,
    tap::{generate_tap_mac, tap_interface_name, TapDevice},
};
#[cfg(not(target_os = "linux"))]
pub use unsupported::{
    check_capabilities, device_info, generate_tap_mac, is_bridge_supported, is_managed_offload,
    list_devices, offload_features, set_offload, tap_interface_name, wait_for_device,
    OffloadFeature, RawDevice, ResilientDevice, TapDevice, DEFAULT_RETRY_INTERVAL, IFNAME_MAX,
    MANAGED_OFFLOADS,
};

/// An interface a local bridge can be attached to (one row of `BridgeDeviceList`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Interface name, at most 15 bytes.
    pub name: String,
    /// Kernel interface index.
    pub ifindex: u32,
    /// Hardware (MAC) address.
    pub mac: [u8; 6],
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Operationally up, e.g. carrier present (`IFF_RUNNING`).
    pub running: bool,
    /// The administrative promiscuous flag `IFF_PROMISC` is set (`ip link set <if> promisc
    /// on`, or SoftEther's bridge, which sets it and never clears it). Promiscuous
    /// *memberships* of packet sockets, which [`RawDevice`] uses, only count in the
    /// kernel's `promiscuity` counter (`ip -d link`) and do not show here.
    pub promiscuous: bool,
    /// MTU in bytes (IP packet size; Ethernet frames are up to MTU + 14).
    pub mtu: u32,
}

/// How [`RawDevice::open`] sets up the interface.
///
/// The defaults are SoftEther's defaults: promiscuous unless the bridge has
/// `NoPromiscuousMode true`, offloads off unless `LocalBridgeList/DoNotDisableOffloading
/// true` (docs/process-model.md §9.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawOptions {
    /// Receive frames for every MAC address (needed to bridge other hosts' traffic).
    /// Needs `CAP_NET_ADMIN`.
    pub promiscuous: bool,
    /// Switch the [`MANAGED_OFFLOADS`] off while open and restore them on close. Needs
    /// `CAP_NET_ADMIN`.
    pub disable_offloads: bool,
}

impl Default for RawOptions {
    fn default() -> Self {
        RawOptions {
            promiscuous: true,
            disable_offloads: true,
        }
    }
}

/// What [`RawDevice::recv_meta`] did to produce a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameMeta {
    /// Frame length in the caller's buffer.
    pub len: usize,
    /// An 802.1Q/802.1ad tag the kernel had stripped was put back.
    pub vlan_reinserted: bool,
    /// The TCP/UDP checksum was only partial (sender with TX checksum offload) and was
    /// completed.
    pub checksum_completed: bool,
    /// The frame is one segment cut from a GSO/GRO super-frame.
    pub segmented: bool,
}

/// Counters of a [`RawDevice`] since open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RawStats {
    /// Frames returned by `recv` (segments counted one by one).
    pub rx_frames: u64,
    /// Bytes returned by `recv`.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames whose partial checksum was completed.
    pub rx_checksums_completed: u64,
    /// Super-frames cut into segments.
    pub rx_superframes: u64,
    /// Frames dropped because they could not be repaired (unsupported GSO type,
    /// malformed headers).
    pub rx_dropped: u64,
    /// Frames reported as [`NetdevError::Truncated`].
    pub rx_truncated: u64,
    /// Frames dropped by the interface queue (`ENOBUFS`).
    pub tx_dropped: u64,
}

/// State of a [`ResilientDevice`], matching SoftEther's `BridgeList` states for a running
/// bridge session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Not opened yet.
    Opening,
    /// Device open (`Operating`).
    Operating,
    /// Device not open; the text says why (`Error`). Retrying.
    Error(String),
}
