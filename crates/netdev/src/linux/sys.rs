//! Thin, documented wrappers around the system calls the crate needs. Every `unsafe`
//! block of the crate's Linux code that is not about one specific feature lives here.
//!
//! Kernel ABI constants and structures are spelled out here (from the Linux UAPI headers
//! named next to each) instead of taken from `libc`, whose coverage of `if_packet.h`,
//! `ethtool.h` and `virtio_net.h` varies between versions.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use crate::error::{NetdevError, Result};

// <linux/if_packet.h>
pub(crate) const PACKET_ADD_MEMBERSHIP: libc::c_int = 1;
pub(crate) const PACKET_MR_PROMISC: libc::c_ushort = 1;
pub(crate) const PACKET_AUXDATA: libc::c_int = 8;
pub(crate) const PACKET_VNET_HDR: libc::c_int = 15;
pub(crate) const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
pub(crate) const PACKET_OUTGOING: u8 = 4;
pub(crate) const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
pub(crate) const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
pub(crate) const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;

/// `struct packet_mreq` from `<linux/if_packet.h>`.
#[repr(C)]
pub(crate) struct PacketMreq {
    pub(crate) mr_ifindex: libc::c_int,
    pub(crate) mr_type: libc::c_ushort,
    pub(crate) mr_alen: libc::c_ushort,
    pub(crate) mr_address: [u8; 8],
}

/// `struct tpacket_auxdata` from `<linux/if_packet.h>` (the `PACKET_AUXDATA` cmsg).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TpacketAuxdata {
    pub(crate) tp_status: u32,
    pub(crate) tp_len: u32,
    pub(crate) tp_snaplen: u32,
    pub(crate) tp_mac: u16,
    pub(crate) tp_net: u16,
    pub(crate) tp_vlan_tci: u16,
    pub(crate) tp_vlan_tpid: u16,
}

/// `struct virtio_net_hdr` from `<linux/virtio_net.h>` (10 bytes, host byte order for
/// AF_PACKET on a little-endian host; packet sockets use the legacy native-endian layout).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct VirtioNetHdr {
    pub(crate) flags: u8,
    pub(crate) gso_type: u8,
    pub(crate) hdr_len: u16,
    pub(crate) gso_size: u16,
    pub(crate) csum_start: u16,
    pub(crate) csum_offset: u16,
}
pub(crate) const VNET_HDR_LEN: usize = 10;
pub(crate) const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;
pub(crate) const VIRTIO_NET_HDR_GSO_NONE: u8 = 0;
pub(crate) const VIRTIO_NET_HDR_GSO_TCPV4: u8 = 1;
pub(crate) const VIRTIO_NET_HDR_GSO_TCPV6: u8 = 4;
pub(crate) const VIRTIO_NET_HDR_GSO_UDP_L4: u8 = 5;
pub(crate) const VIRTIO_NET_HDR_GSO_ECN: u8 = 0x80;

impl VirtioNetHdr {
    pub(crate) fn parse(b: &[u8; VNET_HDR_LEN]) -> Self {
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VirtioNetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        }
    }
}

// <linux/if.h>
pub(crate) const IFF_UP: libc::c_short = 0x1;
pub(crate) const IFF_LOOPBACK: libc::c_short = 0x8;
pub(crate) const IFF_RUNNING: libc::c_short = 0x40;
pub(crate) const IFF_PROMISC: libc::c_short = 0x100;
// <linux/if_arp.h>
pub(crate) const ARPHRD_ETHER: u16 = 1;
// <linux/sockios.h>
const SIOCGIFNAME: libc::c_ulong = 0x8910;
const SIOCGIFFLAGS: libc::c_ulong = 0x8913;
const SIOCSIFFLAGS: libc::c_ulong = 0x8914;
const SIOCGIFMTU: libc::c_ulong = 0x8921;
const SIOCGIFHWADDR: libc::c_ulong = 0x8927;
const SIOCSIFHWADDR: libc::c_ulong = 0x8924;
const SIOCGIFINDEX: libc::c_ulong = 0x8933;
pub(crate) const SIOCETHTOOL: libc::c_ulong = 0x8946;

/// Kernel limit on interface names, without the terminating NUL (`IFNAMSIZ - 1`).
pub const IFNAME_MAX: usize = 15;

pub(crate) fn errno() -> io::Error {
    io::Error::last_os_error()
}

/// Check `name` the way the kernel's `dev_valid_name` does.
pub(crate) fn check_ifname(name: &str) -> Result<()> {
    if name.len() > IFNAME_MAX {
        return Err(NetdevError::NameTooLong(name.to_owned()));
    }
    if name.is_empty()
        || name == "."
        || name == ".."
        || name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
    {
        return Err(NetdevError::InvalidName(name.to_owned()));
    }
    Ok(())
}

/// A zeroed `ifreq` carrying `name`.
pub(crate) fn ifreq(name: &str) -> Result<libc::ifreq> {
    check_ifname(name)?;
    // SAFETY: ifreq is a plain C struct/union of integers, arrays and a raw pointer, for
    // which all-zero bytes are a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in ifr.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(ifr)
}

/// `ioctl(fd, req, ifr)` for the `SIOC*IF*` family.
pub(crate) fn ioctl_ifreq(fd: RawFd, req: libc::c_ulong, ifr: &mut libc::ifreq) -> io::Result<()> {
    // SAFETY: every request passed here reads and/or writes one `struct ifreq` (or, for
    // SIOCETHTOOL, follows `ifr_data`, which the caller points at a live, large enough
    // buffer); `ifr` is a valid exclusive reference for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, req as _, ifr as *mut libc::ifreq) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Map an ioctl error on interface `name`: `ENODEV` means the interface does not exist.
pub(crate) fn if_err(name: &str, action: &str, e: io::Error) -> NetdevError {
    if e.raw_os_error() == Some(libc::ENODEV) {
        NetdevError::NoSuchDevice(name.to_owned())
    } else {
        NetdevError::io(format!("{action} on {name}"), e)
    }
}

/// A socket for interface ioctls that needs no privilege: `AF_UNIX` datagram sockets have
/// no ioctls of their own, so the kernel hands `SIOC*` requests to the generic
/// `dev_ioctl` of the caller's network namespace.
pub(crate) fn control_socket() -> Result<OwnedFd> {
    socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0).map_err(|e| NetdevError::io("socket(AF_UNIX)", e))
}

/// `socket(2)` with `SOCK_CLOEXEC` (socket2 adds it); `ty` may carry
/// `SOCK_NONBLOCK`.
pub(crate) fn socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
) -> io::Result<OwnedFd> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(
        Domain::from(domain),
        Type::from(ty),
        Some(Protocol::from(proto)),
    )?;
    Ok(OwnedFd::from(s))
}

/// `setsockopt(2)` with a value of type `T`.
pub(crate) fn setsockopt<T>(
    fd: RawFd,
    level: libc::c_int,
    opt: libc::c_int,
    val: &T,
) -> io::Result<()> {
    // SAFETY: `val` points at a live `T` of `size_of::<T>()` bytes; the kernel only reads it.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (val as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

pub(crate) fn if_index(fd: RawFd, name: &str) -> Result<u32> {
    let mut ifr = ifreq(name)?;
    ioctl_ifreq(fd, SIOCGIFINDEX, &mut ifr).map_err(|e| if_err(name, "SIOCGIFINDEX", e))?;
    // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
    Ok(unsafe { ifr.ifr_ifru.ifru_ifindex } as u32)
}

/// Name of the interface with index `ifindex`, or `None` when no such interface exists.
pub(crate) fn if_name(fd: RawFd, ifindex: u32) -> io::Result<Option<String>> {
    // SAFETY: all-zero is a valid ifreq (see `ifreq`).
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    ifr.ifr_ifru.ifru_ifindex = ifindex as libc::c_int;
    match ioctl_ifreq(fd, SIOCGIFNAME, &mut ifr) {
        Ok(()) => {
            // SAFETY: the kernel wrote a NUL-terminated name of < IFNAMSIZ bytes into
            // ifr_name, which was zeroed before, so a NUL is always within the array.
            let c = unsafe { CStr::from_ptr(ifr.ifr_name.as_ptr()) };
            Ok(Some(c.to_string_lossy().into_owned()))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

pub(crate) fn if_flags(fd: RawFd, name: &str) -> Result<libc::c_short> {
    let mut ifr = ifreq(name)?;
    ioctl_ifreq(fd, SIOCGIFFLAGS, &mut ifr).map_err(|e| if_err(name, "SIOCGIFFLAGS", e))?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    Ok(unsafe { ifr.ifr_ifru.ifru_flags })
}

pub(crate) fn set_if_flags(fd: RawFd, name: &str, flags: libc::c_short) -> Result<()> {
    let mut ifr = ifreq(name)?;
    ifr.ifr_ifru.ifru_flags = flags;
    ioctl_ifreq(fd, SIOCSIFFLAGS, &mut ifr).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => NetdevError::MissingCapability {
            cap: "CAP_NET_ADMIN",
            action: format!("set flags of {name}"),
        },
        _ => if_err(name, "SIOCSIFFLAGS", e),
    })
}

pub(crate) fn if_mtu(fd: RawFd, name: &str) -> Result<u32> {
    let mut ifr = ifreq(name)?;
    ioctl_ifreq(fd, SIOCGIFMTU, &mut ifr).map_err(|e| if_err(name, "SIOCGIFMTU", e))?;
    // SAFETY: SIOCGIFMTU filled the mtu member of the union.
    Ok(unsafe { ifr.ifr_ifru.ifru_mtu } as u32)
}

/// Hardware address family (`ARPHRD_*`) and the first 6 bytes of the address.
pub(crate) fn if_hwaddr(fd: RawFd, name: &str) -> Result<(u16, [u8; 6])> {
    let mut ifr = ifreq(name)?;
    ioctl_ifreq(fd, SIOCGIFHWADDR, &mut ifr).map_err(|e| if_err(name, "SIOCGIFHWADDR", e))?;
    // SAFETY: SIOCGIFHWADDR filled the hwaddr (struct sockaddr) member of the union.
    let sa = unsafe { ifr.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok((sa.sa_family, mac))
}

pub(crate) fn set_if_hwaddr(fd: RawFd, name: &str, mac: [u8; 6]) -> Result<()> {
    let mut ifr = ifreq(name)?;
    // SAFETY: writing a plain struct sockaddr into the (zeroed) union.
    unsafe {
        ifr.ifr_ifru.ifru_hwaddr.sa_family = ARPHRD_ETHER;
        for (d, s) in ifr.ifr_ifru.ifru_hwaddr.sa_data.iter_mut().zip(mac) {
            *d = s as libc::c_char;
        }
    }
    ioctl_ifreq(fd, SIOCSIFHWADDR, &mut ifr).map_err(|e| match e.raw_os_error() {
        Some(libc::EPERM) => NetdevError::MissingCapability {
            cap: "CAP_NET_ADMIN",
            action: format!("set MAC address of {name}"),
        },
        _ => if_err(name, "SIOCSIFHWADDR", e),
    })
}

/// Names of all interfaces of the caller's network namespace (`if_nameindex(3)`, which
/// lists interfaces that are down too).
pub(crate) fn interface_names() -> Result<Vec<(u32, String)>> {
    let list = nix::net::if_::if_nameindex()
        .map_err(|e| NetdevError::io("if_nameindex", io::Error::from(e)))?;
    Ok(list
        .iter()
        .map(|i| (i.index(), i.name().to_string_lossy().into_owned()))
        .collect())
}

/// Fill `buf` with random bytes from the kernel (`/dev/urandom`, the
/// same pool as `getrandom(2)`).
pub(crate) fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

/// The raw fd of anything that has one (shortcut for the many ioctls).
pub(crate) fn raw<T: AsRawFd>(t: &T) -> RawFd {
    t.as_raw_fd()
}
