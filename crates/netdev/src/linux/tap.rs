//! `TapDevice`: a kernel TAP interface created for a tap-mode local bridge.

use std::fs::File;
use std::io::{self, IoSliceMut, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Mutex;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::error::{NetdevError, Result};
use crate::linux::{caps, sys};

/// `_IOW('T', 202, int)` from `<linux/if_tun.h>`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
/// A TAP frame is at most 64 KiB (+ Ethernet header).
const OVERFLOW: usize = 65_536 + 64;

/// Interface name of the TAP device for local bridge `bridge_name`: `tap_` followed by the
/// name trimmed and lower-cased, as SoftEther builds it (docs/process-model.md §9.5:
/// `MyTap` → `tap_mytap`).
///
/// Errors: [`NetdevError::NameTooLong`] when the result exceeds 15 bytes (SoftEther
/// silently truncates to 15, so two long bridge names could share one interface; we
/// refuse instead), [`NetdevError::InvalidName`] for an empty name or one with `/`, `:` or
/// whitespace.
pub fn tap_interface_name(bridge_name: &str) -> Result<String> {
    let trimmed = bridge_name.trim();
    if trimmed.is_empty() {
        return Err(NetdevError::InvalidName(bridge_name.to_owned()));
    }
    let name = format!("tap_{}", trimmed.to_lowercase());
    sys::check_ifname(&name)?;
    Ok(name)
}

/// A random locally administered unicast MAC address starting with `5E`, the form of the
/// addresses SoftEther generates for TAP devices (`GenMacAddress`, e.g. `5E-64-50-13-EA-43`),
/// to be saved as the bridge's `TapMacAddress`.
///
/// Errors: [`NetdevError::Io`] if the kernel random source fails.
pub fn generate_tap_mac() -> Result<[u8; 6]> {
    let mut mac = [0u8; 6];
    sys::random_bytes(&mut mac[1..]).map_err(|e| NetdevError::io("getrandom", e))?;
    mac[0] = 0x5E;
    Ok(mac)
}

/// A non-persistent TAP interface `tap_<name>` (`/dev/net/tun`, `IFF_TAP | IFF_NO_PI`, no
/// virtio header, no offloads), brought up at creation. The kernel deletes the interface
/// when the device is dropped (or the process exits).
///
/// Frames written with [`TapDevice::send`] enter the host's network stack as if received
/// on `tap_<name>`; frames the host transmits on `tap_<name>` come out of
/// [`TapDevice::recv`]. Without offload flags the kernel hands out complete, wire-sized
/// frames.
///
/// Differences from SoftEther (docs/process-model.md §9.5): no `mknod`/`chmod` of
/// `/dev/net/tun` (a missing node is an error), names longer than 15 bytes are refused
/// instead of truncated.
pub struct TapDevice {
    fd: AsyncFd<File>,
    name: String,
    /// Second read buffer behind the caller's, so that a frame longer than the caller's
    /// buffer is detected (a TAP read cuts frames silently).
    overflow: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for TapDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapDevice")
            .field("name", &self.name)
            .field("fd", &self.fd.as_raw_fd())
            .finish()
    }
}

impl TapDevice {
    /// Create `tap_<bridge_name>` (see [`tap_interface_name`]) in the caller's network
    /// namespace, set its MAC address to `mac` (or keep the kernel's random one) and bring
    /// it up. Must be called inside a Tokio runtime.
    ///
    /// Errors: [`NetdevError::NameTooLong`], [`NetdevError::InvalidName`],
    /// [`NetdevError::MissingCapability`] (`CAP_NET_ADMIN`), [`NetdevError::Io`]
    /// (`/dev/net/tun` missing or not accessible, `EBUSY` when an interface of that name
    /// exists and is not a free TAP device, no Tokio runtime).
    pub fn create(bridge_name: &str, mac: Option<[u8; 6]>) -> Result<TapDevice> {
        let name = tap_interface_name(bridge_name)?;
        caps::check_capabilities(true)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NetdevError::io(
                format!("create {name}"),
                io::Error::other("TapDevice must be created inside a Tokio runtime"),
            ));
        }
        let tun = open_tun().map_err(|e| {
            NetdevError::io(
                "open /dev/net/tun (TAP mode needs the tun module and read/write access to the node)",
                e,
            )
        })?;
        let fd = tun.as_raw_fd();
        let mut ifr = sys::ifreq(&name)?;
        ifr.ifr_ifru.ifru_flags = IFF_TAP | IFF_NO_PI;
        sys::ioctl_ifreq(fd, TUNSETIFF, &mut ifr).map_err(|e| match e.raw_os_error() {
            Some(libc::EPERM) => NetdevError::MissingCapability {
                cap: "CAP_NET_ADMIN",
                action: format!("create TAP device {name}"),
            },
            _ => NetdevError::io(format!("TUNSETIFF {name}"), e),
        })?;
        // TUNSETIFF wrote back the (NUL-terminated, < IFNAMSIZ) name it used.
        let used: Vec<u8> = ifr
            .ifr_name
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as u8)
            .collect();
        let actual = String::from_utf8_lossy(&used).into_owned();
        let ctl = sys::control_socket()?;
        let cfd = ctl.as_raw_fd();
        if let Some(mac) = mac {
            sys::set_if_hwaddr(cfd, &actual, mac)?;
        }
        let flags = sys::if_flags(cfd, &actual)?;
        sys::set_if_flags(cfd, &actual, flags | sys::IFF_UP)?;
        // SAFETY: `tun` is an open File that the AsyncFd owns from now on, so the
        // descriptor stays open and the same for the AsyncFd's whole lifetime. (tokio
        // made this registration `unsafe` for I/O safety; no safe constructor is left.)
        let fd = unsafe {
            AsyncFd::register_with_interest(tun, Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| {
            NetdevError::io(
                format!("register {actual} with the Tokio reactor"),
                e.into_parts().1,
            )
        })?;
        tracing::debug!(interface = %actual, "TAP device created");
        Ok(TapDevice {
            fd,
            name: actual,
            overflow: Mutex::new(vec![0; OVERFLOW]),
        })
    }

    /// Interface name, `tap_<name>`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Current MAC address of the interface.
    ///
    /// Errors: [`NetdevError::Io`].
    pub fn mac(&self) -> Result<[u8; 6]> {
        let ctl = sys::control_socket()?;
        Ok(sys::if_hwaddr(ctl.as_raw_fd(), &self.name)?.1)
    }

    /// Receive one frame the host transmitted on the interface; returns its length.
    ///
    /// Errors: [`NetdevError::Truncated`] (frame longer than `buf`; the first `buf.len()`
    /// bytes are in `buf`), [`NetdevError::Io`].
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        loop {
            let mut guard = self
                .fd
                .readable()
                .await
                .map_err(|e| NetdevError::io(format!("poll {}", self.name), e))?;
            let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
            match guard.try_io(|fd| read2(fd.get_ref(), buf, &mut overflow)) {
                Err(_would_block) => continue,
                Ok(Err(e)) => return Err(NetdevError::io(format!("read {}", self.name), e)),
                // The kernel cuts frames silently to the buffer: the overflow area shows it.
                Ok(Ok(n)) if n > buf.len() => {
                    return Err(NetdevError::Truncated {
                        len: n,
                        cap: buf.len(),
                    })
                }
                Ok(Ok(n)) => return Ok(n),
            }
        }
    }

    /// Non-blocking receive: `Ok(None)` when no frame is queued. Use after
    /// [`TapDevice::recv`] to drain a burst with one wake-up.
    ///
    /// Errors: as [`TapDevice::recv`].
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<usize>> {
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        match read2(self.fd.get_ref(), buf, &mut overflow) {
            Ok(n) if n > buf.len() => Err(NetdevError::Truncated {
                len: n,
                cap: buf.len(),
            }),
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(NetdevError::io(format!("read {}", self.name), e)),
        }
    }

    /// Hand the frames of `frames` to the host, as many as the device takes
    /// after one wait for writability (a TAP device takes one frame per
    /// `write`; batching saves the wake-ups). Returns how many were
    /// consumed from the front.
    ///
    /// Errors: for the first frame only, as [`TapDevice::send`].
    pub async fn send_batch<F: AsRef<[u8]>>(&self, frames: &[F]) -> Result<usize> {
        let Some(first) = frames.first() else {
            return Ok(0);
        };
        if first.as_ref().len() < 14 {
            return Err(NetdevError::BadFrame {
                len: first.as_ref().len(),
                reason: "shorter than an Ethernet header",
            });
        }
        loop {
            let mut guard = self
                .fd
                .writable()
                .await
                .map_err(|e| NetdevError::io(format!("poll {}", self.name), e))?;
            let r = guard.try_io(|fd| {
                let mut n = 0;
                for f in frames {
                    let f = f.as_ref();
                    if f.len() < 14 && n > 0 {
                        break;
                    }
                    match fd.get_ref().write(f) {
                        Ok(_) => n += 1,
                        Err(_) if n > 0 => break,
                        Err(e) => return Err(e),
                    }
                }
                Ok(n)
            });
            match r {
                Err(_would_block) => continue,
                Ok(Ok(n)) => return Ok(n),
                Ok(Err(e)) => return Err(NetdevError::io(format!("write {}", self.name), e)),
            }
        }
    }

    /// Hand one Ethernet frame to the host as if received on the interface.
    ///
    /// Errors: [`NetdevError::BadFrame`] (shorter than 14 bytes), [`NetdevError::Io`]
    /// (`EIO` while the interface is down).
    pub async fn send(&self, frame: &[u8]) -> Result<()> {
        if frame.len() < 14 {
            return Err(NetdevError::BadFrame {
                len: frame.len(),
                reason: "shorter than an Ethernet header",
            });
        }
        loop {
            let mut guard = self
                .fd
                .writable()
                .await
                .map_err(|e| NetdevError::io(format!("poll {}", self.name), e))?;
            match guard.try_io(|fd| fd.get_ref().write(frame)) {
                Err(_would_block) => continue,
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(e)) => return Err(NetdevError::io(format!("write {}", self.name), e)),
            }
        }
    }
}

/// Opens `/dev/net/tun` read/write, non-blocking and close-on-exec (std
/// always adds `O_CLOEXEC`).
fn open_tun() -> io::Result<File> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/net/tun")
}

/// `readv` into `buf`, continuing into `overflow`; returns the total length read.
fn read2(mut file: &File, buf: &mut [u8], overflow: &mut [u8]) -> io::Result<usize> {
    file.read_vectored(&mut [IoSliceMut::new(buf), IoSliceMut::new(overflow)])
}
