//! `RawDevice`: an `AF_PACKET` raw socket bound to one interface.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

use crate::error::{NetdevError, Result};
use crate::frame::{self, GsoKind, Segmenter};
use crate::linux::{caps, ethtool, sys};
use crate::{FrameMeta, RawOptions, RawStats};

/// Internal receive buffer: a GSO/GRO super-frame is at most 64 KiB of IP packet plus the
/// Ethernet header (larger only with "BIG TCP", which is then reported as truncated).
const RX_BUF: usize = 65_536 + 64;
/// How often an idle `recv` checks that the interface still exists. The kernel signals a
/// deleted interface with `ENETDOWN`, except when it was already down when deleted.
const ALIVE_CHECK: Duration = Duration::from_millis(500);
/// Requested socket receive buffer (the kernel caps it at `net.core.rmem_max`).
const SO_RCVBUF_BYTES: libc::c_int = 4 << 20;

struct Counters {
    rx_frames: AtomicU64,
    rx_bytes: AtomicU64,
    tx_frames: AtomicU64,
    tx_bytes: AtomicU64,
    rx_checksums_completed: AtomicU64,
    rx_superframes: AtomicU64,
    rx_dropped: AtomicU64,
    rx_truncated: AtomicU64,
    tx_dropped: AtomicU64,
}

/// A stripped 802.1Q/802.1ad tag to put back into the frame.
#[derive(Debug, Clone, Copy)]
struct VlanTag {
    tpid: u16,
    tci: u16,
}

struct RxState {
    buf: Vec<u8>,
    /// A super-frame in `buf[..len]` being cut into segments.
    seg: Option<(Segmenter, usize, Option<VlanTag>)>,
}

enum Rx {
    Frame(FrameMeta),
    Skip,
}

/// An `AF_PACKET`/`SOCK_RAW` socket receiving every protocol (`ETH_P_ALL`) on one
/// interface: the I/O of a SoftEther local bridge on a network interface
/// (`OpenEthLinux`, docs/process-model.md §9.3).
///
/// * **Promiscuous mode** ([`RawOptions::promiscuous`]) through the socket option
///   `PACKET_ADD_MEMBERSHIP` / `PACKET_MR_PROMISC`: the kernel counts it in the interface's
///   `promiscuity` and removes it when the socket is closed, even if the process crashes.
///   SoftEther instead sets `IFF_PROMISC` with `SIOCSIFFLAGS` and never clears it (verified
///   still set after `BridgeDelete`). The kernel itself would allow the membership with
///   `CAP_NET_RAW` alone; we require `CAP_NET_ADMIN` for it like SoftEther does, so that a
///   bridge's state does not depend on the mechanism (docs/process-model.md §9.1).
/// * **Offloads** ([`RawOptions::disable_offloads`]): the receive-aggregation and
///   segmentation features in [`crate::MANAGED_OFFLOADS`] are switched off with the
///   ethtool ioctl and the previous *requested* state is restored when the last raw
///   device of the process on that interface is dropped (devices on one interface share
///   the state, so a second bridge is not disturbed by the first one closing). SoftEther runs
///   `ethtool -K <if> rx off tx off sg off tso off ...` through `/bin/sh` once per interface
///   per process lifetime and never restores anything.
/// * **Frames as on the wire**: the socket uses `PACKET_VNET_HDR`, so the kernel says for
///   every frame whether its TCP/UDP checksum is only partial (`CHECKSUM_PARTIAL`, typical
///   for frames from a veth peer with TX checksum offload) and whether it is a GSO/GRO
///   super-frame and with which segment size. Partial checksums are completed and
///   super-frames are cut into wire-sized segments ([`crate::frame`]), so `recv` returns
///   what a NIC would have put on a wire. SoftEther repairs checksums in its virtual hub
///   instead.
/// * **VLAN tags** the kernel stripped (it always moves an 802.1Q tag out of the frame
///   before packet sockets see it) are put back from `PACKET_AUXDATA`, as SoftEther does.
/// * Frames the host itself sends through the interface (`PACKET_OUTGOING`) are not
///   received (`PACKET_IGNORE_OUTGOING`, plus a check of `sll_pkttype` for kernels before
///   4.20), nor are the frames sent through this socket.
///
/// All methods take `&self`: one task may `recv` while another `send`s. Must be opened and
/// used inside a Tokio runtime with I/O and time drivers enabled.
pub struct RawDevice {
    fd: AsyncFd<OwnedFd>,
    name: String,
    ifindex: u32,
    mac: [u8; 6],
    mtu: u32,
    promiscuous: bool,
    offloads: Option<ethtool::OffloadHold>,
    rx: Mutex<RxState>,
    counters: Counters,
}

impl std::fmt::Debug for RawDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawDevice")
            .field("name", &self.name)
            .field("ifindex", &self.ifindex)
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

fn raw_socket_err(name: &str, e: io::Error) -> NetdevError {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => NetdevError::MissingCapability {
            cap: "CAP_NET_RAW",
            action: format!("open raw packet socket for {name}"),
        },
        _ => NetdevError::io(format!("socket(AF_PACKET) for {name}"), e),
    }
}

impl RawDevice {
    /// Open interface `name` of the caller's network namespace.
    ///
    /// Checks capabilities first ([`crate::check_capabilities`] with `need_admin` =
    /// `promiscuous || disable_offloads`), then binds the socket, joins promiscuous mode and
    /// switches offloads off. A device that is down can be opened; it receives once it is up.
    ///
    /// Errors: [`NetdevError::MissingCapability`], [`NetdevError::NoSuchDevice`],
    /// [`NetdevError::NameTooLong`], [`NetdevError::InvalidName`], [`NetdevError::Io`]
    /// (including "no Tokio runtime"). A device without ethtool support (or whose offloads
    /// cannot be read) is opened anyway, with a warning in the log.
    pub fn open(name: &str, opts: RawOptions) -> Result<RawDevice> {
        sys::check_ifname(name)?;
        caps::check_capabilities(opts.promiscuous || opts.disable_offloads)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(NetdevError::io(
                format!("open {name}"),
                io::Error::other("RawDevice must be opened inside a Tokio runtime"),
            ));
        }
        // Protocol 0 until bind: no frames of other interfaces queue up meanwhile.
        let sock = sys::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_NONBLOCK, 0)
            .map_err(|e| raw_socket_err(name, e))?;
        let fd = sock.as_raw_fd();
        let ifindex = sys::if_index(fd, name)?;
        let one: libc::c_int = 1;
        sys::setsockopt(fd, libc::SOL_PACKET, sys::PACKET_VNET_HDR, &one)
            .map_err(|e| NetdevError::io(format!("PACKET_VNET_HDR on {name}"), e))?;
        sys::setsockopt(fd, libc::SOL_PACKET, sys::PACKET_AUXDATA, &one)
            .map_err(|e| NetdevError::io(format!("PACKET_AUXDATA on {name}"), e))?;
        // Linux >= 4.20; older kernels: recv filters on sll_pkttype.
        let _ = sys::setsockopt(fd, libc::SOL_PACKET, sys::PACKET_IGNORE_OUTGOING, &one);
        let _ = sys::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &SO_RCVBUF_BYTES);
        bind(fd, ifindex).map_err(|e| sys::if_err(name, "bind(AF_PACKET)", e))?;
        let (_, mac) = sys::if_hwaddr(fd, name)?;
        let mtu = sys::if_mtu(fd, name)?;

        if opts.promiscuous {
            let mreq = sys::PacketMreq {
                mr_ifindex: ifindex as libc::c_int,
                mr_type: sys::PACKET_MR_PROMISC,
                mr_alen: 0,
                mr_address: [0; 8],
            };
            sys::setsockopt(fd, libc::SOL_PACKET, sys::PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(|e| sys::if_err(name, "PACKET_ADD_MEMBERSHIP (promiscuous)", e))?;
        }
        let offloads = if opts.disable_offloads {
            match ethtool::hold(fd, ifindex, name) {
                Ok(hold) => {
                    if !hold.disabled().is_empty() {
                        tracing::info!(interface = name, disabled = ?hold.disabled(), "offloads switched off for the local bridge");
                    }
                    Some(hold)
                }
                Err(e @ NetdevError::MissingCapability { .. }) => return Err(e),
                Err(e) => {
                    tracing::warn!(interface = name, error = %e, "cannot switch offloads off; large frames will be segmented in software");
                    None
                }
            }
        } else {
            None
        };
        // SAFETY: `sock` is an open OwnedFd that the AsyncFd owns from now on, so the
        // descriptor stays open and the same for the AsyncFd's whole lifetime.
        let fd = unsafe {
            AsyncFd::register_with_interest(sock, Interest::READABLE | Interest::WRITABLE)
        }
        .map_err(|e| {
            NetdevError::io(
                format!("register {name} with the Tokio reactor"),
                e.into_parts().1,
            )
        });
        let fd = match fd {
            Ok(fd) => fd,
            Err(e) => {
                // Put the offloads back before reporting (the socket closes by itself).
                if let Some(hold) = offloads {
                    if let Ok(ctl) = sys::control_socket() {
                        let _ = ethtool::release(hold, ctl.as_raw_fd(), name, true);
                    }
                }
                return Err(e);
            }
        };
        tracing::debug!(interface = name, ifindex, mtu, "raw device open");
        Ok(RawDevice {
            fd,
            name: name.to_owned(),
            ifindex,
            mac,
            mtu,
            promiscuous: opts.promiscuous,
            offloads,
            rx: Mutex::new(RxState {
                buf: vec![0; RX_BUF],
                seg: None,
            }),
            counters: Counters {
                rx_frames: AtomicU64::new(0),
                rx_bytes: AtomicU64::new(0),
                tx_frames: AtomicU64::new(0),
                tx_bytes: AtomicU64::new(0),
                rx_checksums_completed: AtomicU64::new(0),
                rx_superframes: AtomicU64::new(0),
                rx_dropped: AtomicU64::new(0),
                rx_truncated: AtomicU64::new(0),
                tx_dropped: AtomicU64::new(0),
            },
        })
    }

    /// Interface name as given to [`RawDevice::open`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Interface index at open time.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// MAC address of the interface at open time.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// MTU of the interface at open time (bytes of IP packet; frames are up to MTU + 14,
    /// or + 18 with a VLAN tag).
    pub fn mtu(&self) -> u32 {
        self.mtu
    }

    /// Whether promiscuous membership was requested at open.
    pub fn is_promiscuous(&self) -> bool {
        self.promiscuous
    }

    /// Names of the offload features switched off for this device (by it, or by the first
    /// device of this process open on the same interface) and restored when the last such
    /// device closes.
    pub fn disabled_offloads(&self) -> &[String] {
        self.offloads.as_ref().map_or(&[], |h| h.disabled())
    }

    /// Counters since open.
    pub fn stats(&self) -> RawStats {
        let c = &self.counters;
        RawStats {
            rx_frames: c.rx_frames.load(Relaxed),
            rx_bytes: c.rx_bytes.load(Relaxed),
            tx_frames: c.tx_frames.load(Relaxed),
            tx_bytes: c.tx_bytes.load(Relaxed),
            rx_checksums_completed: c.rx_checksums_completed.load(Relaxed),
            rx_superframes: c.rx_superframes.load(Relaxed),
            rx_dropped: c.rx_dropped.load(Relaxed),
            rx_truncated: c.rx_truncated.load(Relaxed),
            tx_dropped: c.tx_dropped.load(Relaxed),
        }
    }

    /// `false` once the interface this socket is bound to no longer exists under our name.
    pub fn is_alive(&self) -> bool {
        !matches!(sys::if_name(self.fd.as_raw_fd(), self.ifindex), Ok(n) if n.as_deref() != Some(self.name.as_str()))
    }

    /// Receive one frame into `buf` and return its length.
    ///
    /// Errors: [`NetdevError::Truncated`] (frame longer than `buf`, the frame is consumed),
    /// [`NetdevError::Gone`] (interface deleted), [`NetdevError::Io`].
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_meta(buf).await.map(|m| m.len)
    }

    /// Receive one frame into `buf`, with details of what was done to it.
    ///
    /// Frames are exactly as they would be on a wire: stripped VLAN tags re-inserted,
    /// partial checksums completed, super-frames cut into segments (one per call). A frame
    /// that is still longer than `buf` is reported as [`NetdevError::Truncated`] with the
    /// first `buf.len()` bytes in `buf`. While the interface is down the call just waits;
    /// when the interface is deleted it returns [`NetdevError::Gone`] (within about 0.5 s
    /// even if the kernel sends no notice).
    pub async fn recv_meta(&self, buf: &mut [u8]) -> Result<FrameMeta> {
        loop {
            if let Some(r) = self.next_pending_segment(buf) {
                return r;
            }
            let ready = tokio::time::timeout(ALIVE_CHECK, self.fd.readable()).await;
            let mut guard = match ready {
                Err(_elapsed) => {
                    if !self.is_alive() {
                        return Err(NetdevError::Gone(self.name.clone()));
                    }
                    continue;
                }
                Ok(g) => g.map_err(|e| NetdevError::io(format!("poll {}", self.name), e))?,
            };
            let r = guard.try_io(|fd| match self.recv_once(fd.as_raw_fd(), buf) {
                Err(NetdevError::Io { source, .. })
                    if source.kind() == io::ErrorKind::WouldBlock =>
                {
                    Err(source)
                }
                other => Ok(other),
            });
            match r {
                Err(_would_block) => continue,
                Ok(Err(e)) => return Err(NetdevError::io(format!("recv on {}", self.name), e)),
                Ok(Ok(Ok(Rx::Frame(meta)))) => return Ok(meta),
                Ok(Ok(Ok(Rx::Skip))) => continue,
                Ok(Ok(Err(e))) => match e {
                    NetdevError::Io { ref source, .. }
                        if source.raw_os_error() == Some(libc::ENETDOWN) =>
                    {
                        if !self.is_alive() {
                            return Err(NetdevError::Gone(self.name.clone()));
                        }
                        // Down, not deleted: the kernel re-attaches the socket on "up".
                        tracing::debug!(interface = %self.name, "interface went down");
                        continue;
                    }
                    e => return Err(e),
                },
            }
        }
    }

    /// Non-blocking receive: `Ok(None)` when no frame is queued. Same frame processing and
    /// errors as [`RawDevice::recv_meta`] (except that it never waits).
    pub fn try_recv(&self, buf: &mut [u8]) -> Result<Option<FrameMeta>> {
        loop {
            if let Some(r) = self.next_pending_segment(buf) {
                return r.map(Some);
            }
            match self.recv_once(self.fd.as_raw_fd(), buf) {
                Ok(Rx::Frame(m)) => return Ok(Some(m)),
                Ok(Rx::Skip) => continue,
                Err(NetdevError::Io { source, .. })
                    if source.kind() == io::ErrorKind::WouldBlock =>
                {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Receive up to `bufs.len()` frames that are already queued, without waiting: frame
    /// `i` goes to `bufs[i]`, its length to `lens[i]`; returns how many were received.
    /// Use after `recv` returned to drain a burst with fewer wake-ups.
    ///
    /// One `recvmsg` per frame rather than `recvmmsg`: each message would need its own
    /// 64 KiB spill area to receive a super-frame whole. A `recvmmsg` fast path for
    /// small frames is a possible later optimisation (see `rawbench` in crates/bench).
    ///
    /// Errors: as [`RawDevice::try_recv`]; frames received before an error are kept (the
    /// count is lost, so on error treat the batch as empty).
    pub fn try_recv_batch(&self, bufs: &mut [&mut [u8]], lens: &mut [usize]) -> Result<usize> {
        let mut n = 0;
        while n < bufs.len() && n < lens.len() {
            match self.try_recv(bufs[n])? {
                Some(m) => {
                    lens[n] = m.len;
                    n += 1;
                }
                None => break,
            }
        }
        Ok(n)
    }

    /// Send one Ethernet frame (destination MAC first, no FCS) out of the interface.
    ///
    /// Frames are sent as given; the kernel accepts up to MTU + 14 bytes (+ 4 with a VLAN
    /// tag). When the interface queue is full (`ENOBUFS`) the frame is dropped, as a
    /// congested NIC would, and counted in [`RawStats::tx_dropped`].
    ///
    /// Errors: [`NetdevError::BadFrame`] (shorter than 14 bytes, longer than the MTU
    /// allows), [`NetdevError::Gone`] (interface deleted), [`NetdevError::Io`] (e.g.
    /// `ENETDOWN` while the interface is down).
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
            match guard.try_io(|fd| send_frame(fd.as_raw_fd(), frame)) {
                Err(_would_block) => continue,
                Ok(Ok(())) => {
                    self.counters.tx_frames.fetch_add(1, Relaxed);
                    self.counters
                        .tx_bytes
                        .fetch_add(frame.len() as u64, Relaxed);
                    return Ok(());
                }
                Ok(Err(e)) => return self.map_send_error(frame.len(), e),
            }
        }
    }

    /// Send the frames of `frames` with one `sendmmsg` (at most [`SEND_BATCH_MAX`]), waiting
    /// only until the socket accepts the first one. Returns how many frames were consumed
    /// from the front of `frames` (sent, or dropped by a full interface queue as
    /// [`RawDevice::send`] does): call again with the rest.
    ///
    /// Errors: for the first frame only, as [`RawDevice::send`]; skip it and go on with the
    /// next.
    pub async fn send_batch<F: AsRef<[u8]>>(&self, frames: &[F]) -> Result<usize> {
        // Up to the first frame too short to be Ethernet; that one is refused alone.
        let good = frames
            .iter()
            .take(SEND_BATCH_MAX)
            .take_while(|f| f.as_ref().len() >= 14)
            .count();
        let Some(first) = frames.first() else {
            return Ok(0);
        };
        if good == 0 {
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
            match guard.try_io(|fd| send_frames(fd.as_raw_fd(), &frames[..good])) {
                Err(_would_block) => continue,
                Ok(Ok(n)) => {
                    let bytes: usize = frames[..n].iter().map(|f| f.as_ref().len()).sum();
                    self.counters.tx_frames.fetch_add(n as u64, Relaxed);
                    self.counters.tx_bytes.fetch_add(bytes as u64, Relaxed);
                    return Ok(n);
                }
                Ok(Err(e)) => return self.map_send_error(first.as_ref().len(), e).map(|()| 1),
            }
        }
    }

    /// Non-blocking send: `Ok(false)` when the socket's send buffer is full.
    ///
    /// Errors: as [`RawDevice::send`].
    pub fn try_send(&self, frame: &[u8]) -> Result<bool> {
        if frame.len() < 14 {
            return Err(NetdevError::BadFrame {
                len: frame.len(),
                reason: "shorter than an Ethernet header",
            });
        }
        match send_frame(self.fd.as_raw_fd(), frame) {
            Ok(()) => {
                self.counters.tx_frames.fetch_add(1, Relaxed);
                self.counters
                    .tx_bytes
                    .fetch_add(frame.len() as u64, Relaxed);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => self.map_send_error(frame.len(), e).map(|()| true),
        }
    }

    fn map_send_error(&self, len: usize, e: io::Error) -> Result<()> {
        match e.raw_os_error() {
            Some(libc::ENOBUFS) => {
                self.counters.tx_dropped.fetch_add(1, Relaxed);
                Ok(())
            }
            Some(libc::EMSGSIZE) => Err(NetdevError::BadFrame {
                len,
                reason: "longer than the interface MTU allows",
            }),
            Some(libc::EINVAL) => Err(NetdevError::BadFrame {
                len,
                reason: "refused by the interface",
            }),
            Some(libc::ENXIO) | Some(libc::ENODEV) | Some(libc::ENETDOWN) if !self.is_alive() => {
                Err(NetdevError::Gone(self.name.clone()))
            }
            _ => Err(NetdevError::io(format!("send on {}", self.name), e)),
        }
    }

    /// The next segment of a super-frame being cut, if any.
    fn next_pending_segment(&self, out: &mut [u8]) -> Option<Result<FrameMeta>> {
        let mut st = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let RxState { buf, seg } = &mut *st;
        let (segmenter, len, vlan) = seg.as_mut()?;
        let (len, vlan) = (*len, *vlan);
        let seg_len = segmenter.next_len().unwrap_or(0);
        let r = segmenter.next_segment(&buf[..len], out);
        if segmenter.next_len().is_none() {
            *seg = None;
        }
        match r {
            None => {
                *seg = None;
                None
            }
            Some(Err(_)) => {
                // The segment does not fit the caller's buffer: report it as truncated.
                self.counters.rx_truncated.fetch_add(1, Relaxed);
                Some(Err(NetdevError::Truncated {
                    len: seg_len,
                    cap: out.len(),
                }))
            }
            Some(Ok(n)) => Some(self.finish(out, n, vlan, false, true)),
        }
    }

    /// Put back a stripped VLAN tag and count the frame.
    fn finish(
        &self,
        out: &mut [u8],
        len: usize,
        vlan: Option<VlanTag>,
        checksum_completed: bool,
        segmented: bool,
    ) -> Result<FrameMeta> {
        let mut len = len;
        if let Some(tag) = vlan {
            if len + 4 > out.len() {
                self.counters.rx_truncated.fetch_add(1, Relaxed);
                return Err(NetdevError::Truncated {
                    len: len + 4,
                    cap: out.len(),
                });
            }
            out.copy_within(12..len, 16);
            out[12..14].copy_from_slice(&tag.tpid.to_be_bytes());
            out[14..16].copy_from_slice(&tag.tci.to_be_bytes());
            len += 4;
        }
        self.counters.rx_frames.fetch_add(1, Relaxed);
        self.counters.rx_bytes.fetch_add(len as u64, Relaxed);
        Ok(FrameMeta {
            len,
            vlan_reinserted: vlan.is_some(),
            checksum_completed,
            segmented,
        })
    }

    /// One `recvmsg` and the processing of its frame. `io::ErrorKind::WouldBlock` (as
    /// `NetdevError::Io`) when nothing is queued.
    ///
    /// The frame lands directly in `out`; only what does not fit spills into the internal
    /// 64 KiB buffer (a super-frame, or a buffer too small), so the common case copies
    /// nothing.
    fn recv_once(&self, fd: RawFd, out: &mut [u8]) -> Result<Rx, NetdevError> {
        let mut guard = self.rx.lock().unwrap_or_else(|p| p.into_inner());
        let st = &mut *guard;
        let mut vnet = [0u8; sys::VNET_HDR_LEN];
        let got = match recv_packet(fd, &mut vnet, out, &mut st.buf) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                return Err(NetdevError::io("recv", e));
            }
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                // The kernel could not describe the frame in a virtio_net_hdr (e.g. a
                // tunnel GSO super-frame) and dropped it.
                self.counters.rx_dropped.fetch_add(1, Relaxed);
                tracing::debug!(interface = %self.name, "super-frame of an unsupported GSO type dropped by the kernel");
                return Ok(Rx::Skip);
            }
            Err(e) => return Err(NetdevError::io(format!("recv on {}", self.name), e)),
        };
        if got.pkttype == sys::PACKET_OUTGOING {
            return Ok(Rx::Skip);
        }
        let vlan = (got.aux.tp_status & sys::TP_STATUS_VLAN_VALID != 0).then_some(VlanTag {
            tpid: if got.aux.tp_status & sys::TP_STATUS_VLAN_TPID_VALID != 0
                && got.aux.tp_vlan_tpid != 0
            {
                got.aux.tp_vlan_tpid
            } else {
                0x8100
            },
            tci: got.aux.tp_vlan_tci,
        });
        let len = got.len;
        if got.truncated {
            self.counters.rx_truncated.fetch_add(1, Relaxed);
            return Err(NetdevError::Truncated {
                len: (got.aux.tp_len as usize).max(len),
                cap: out.len(),
            });
        }
        let hdr = sys::VirtioNetHdr::parse(&vnet);
        let gso = hdr.gso_type & !sys::VIRTIO_NET_HDR_GSO_ECN;
        let is_gso = gso != sys::VIRTIO_NET_HDR_GSO_NONE && hdr.gso_size > 0;
        if len > out.len() || is_gso {
            // Make the frame contiguous in the internal buffer: the tail that spilled over
            // moves up behind room for the head, which comes from `out`.
            let head = len.min(out.len());
            if st.buf.len() < len {
                // Only when the caller's own buffer is larger than 64 KiB: bounded by it.
                st.buf.resize(len, 0);
            }
            st.buf.copy_within(0..len - head, head);
            st.buf[..head].copy_from_slice(&out[..head]);
        }
        if is_gso {
            let kind = match gso {
                sys::VIRTIO_NET_HDR_GSO_TCPV4 | sys::VIRTIO_NET_HDR_GSO_TCPV6 => GsoKind::Tcp,
                sys::VIRTIO_NET_HDR_GSO_UDP_L4 => GsoKind::UdpL4,
                _ => {
                    // UFO (IP fragmentation offload) and unknown types.
                    self.counters.rx_dropped.fetch_add(1, Relaxed);
                    return Ok(Rx::Skip);
                }
            };
            match Segmenter::new(&st.buf[..len], kind, usize::from(hdr.gso_size)) {
                Ok(s) => {
                    self.counters.rx_superframes.fetch_add(1, Relaxed);
                    st.seg = Some((s, len, vlan));
                }
                Err(e) => {
                    self.counters.rx_dropped.fetch_add(1, Relaxed);
                    tracing::debug!(interface = %self.name, error = %e, len, "super-frame dropped");
                    return Ok(Rx::Skip);
                }
            }
            drop(guard);
            return match self.next_pending_segment(out) {
                Some(r) => r.map(Rx::Frame),
                None => Ok(Rx::Skip),
            };
        }
        if len > out.len() {
            // Not a super-frame, just longer than the caller's buffer (jumbo MTU).
            self.counters.rx_truncated.fetch_add(1, Relaxed);
            let extra = if vlan.is_some() { 4 } else { 0 };
            return Err(NetdevError::Truncated {
                len: len + extra,
                cap: out.len(),
            });
        }
        let mut checksum_completed = false;
        let needs_csum = hdr.flags & sys::VIRTIO_NET_HDR_F_NEEDS_CSUM != 0;
        if needs_csum || got.aux.tp_status & sys::TP_STATUS_CSUMNOTREADY != 0 {
            let r = if needs_csum {
                frame::complete_partial_checksum(
                    &mut out[..len],
                    usize::from(hdr.csum_start),
                    usize::from(hdr.csum_offset),
                )
            } else {
                frame::recompute_l4_checksum(&mut out[..len]).map(|_| ())
            };
            if let Err(e) = r {
                self.counters.rx_dropped.fetch_add(1, Relaxed);
                tracing::debug!(interface = %self.name, error = %e, "frame with partial checksum dropped");
                return Ok(Rx::Skip);
            }
            self.counters.rx_checksums_completed.fetch_add(1, Relaxed);
            checksum_completed = true;
        }
        self.finish(out, len, vlan, checksum_completed, false)
            .map(Rx::Frame)
    }
}

impl Drop for RawDevice {
    fn drop(&mut self) {
        // The promiscuous membership goes away with the socket (kernel-refcounted).
        let Some(hold) = self.offloads.take() else {
            return;
        };
        // Deleted (or a different interface now has the name): nothing to restore.
        let alive = self.is_alive();
        match ethtool::release(hold, self.fd.as_raw_fd(), &self.name, alive) {
            Ok(true) => tracing::info!(interface = %self.name, "offloads restored"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(interface = %self.name, error = %e, "cannot restore offloads")
            }
        }
    }
}

fn bind(fd: RawFd, ifindex: u32) -> io::Result<()> {
    // SAFETY: all-zero is a valid sockaddr_ll.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as libc::c_ushort;
    sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
    sll.sll_ifindex = ifindex as libc::c_int;
    // SAFETY: `sll` is a valid sockaddr_ll and the length passed is its size.
    let rc = unsafe {
        libc::bind(
            fd,
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(sys::errno())
    } else {
        Ok(())
    }
}

struct Received {
    /// Bytes of frame received (after the virtio header), in `buf` then `spill`.
    len: usize,
    truncated: bool,
    pkttype: u8,
    aux: sys::TpacketAuxdata,
}

/// `recvmsg` of one frame: virtio header into `vnet`, frame into `buf` continuing into
/// `spill`, and the `PACKET_AUXDATA`.
fn recv_packet(
    fd: RawFd,
    vnet: &mut [u8; sys::VNET_HDR_LEN],
    buf: &mut [u8],
    spill: &mut [u8],
) -> io::Result<Received> {
    let mut iov = [
        libc::iovec {
            iov_base: vnet.as_mut_ptr().cast(),
            iov_len: vnet.len(),
        },
        libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        },
        libc::iovec {
            iov_base: spill.as_mut_ptr().cast(),
            iov_len: spill.len(),
        },
    ];
    // SAFETY: all-zero is a valid sockaddr_ll / msghdr.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    // u64 elements keep the control buffer aligned for cmsghdr.
    let mut control = [0u64; 8];
    // SAFETY: as above.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_name = (&mut sll as *mut libc::sockaddr_ll).cast();
    msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
    msg.msg_iov = iov.as_mut_ptr();
    msg.msg_iovlen = iov.len() as _;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: `msg` points at live buffers (iov entries, sll, control) whose sizes it states.
    let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(sys::errno());
    }
    let n = n as usize;
    if n < sys::VNET_HDR_LEN {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    let mut aux = sys::TpacketAuxdata::default();
    // SAFETY: the CMSG_* helpers walk the control buffer the kernel filled, bounded by
    // msg_controllen; an auxdata message carries a full tpacket_auxdata, read unaligned.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_PACKET
                && (*c).cmsg_type == sys::PACKET_AUXDATA
                && (*c).cmsg_len as usize
                    >= libc::CMSG_LEN(std::mem::size_of::<sys::TpacketAuxdata>() as u32) as usize
            {
                aux = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<sys::TpacketAuxdata>());
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    Ok(Received {
        len: n - sys::VNET_HDR_LEN,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        pkttype: sll.sll_pkttype,
        aux,
    })
}

/// Most frames [`RawDevice::send_batch`] hands to one `sendmmsg`.
pub(crate) const SEND_BATCH_MAX: usize = 64;

/// `sendmmsg` of up to [`SEND_BATCH_MAX`] frames, each behind an all-zero virtio header,
/// through nix (no `unsafe` here). Returns how many were sent (at least one), or the error
/// of the first.
fn send_frames<F: AsRef<[u8]>>(fd: RawFd, frames: &[F]) -> io::Result<usize> {
    use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};
    use std::io::IoSlice;
    let n = frames.len().min(SEND_BATCH_MAX);
    let vnet = [0u8; sys::VNET_HDR_LEN];
    let iovs: Vec<[IoSlice<'_>; 2]> = frames[..n]
        .iter()
        .map(|f| [IoSlice::new(&vnet), IoSlice::new(f.as_ref())])
        .collect();
    // The socket is bound to the interface: no destination address.
    let addrs: Vec<Option<SockaddrStorage>> = vec![None; n];
    let cmsgs: [ControlMessage<'_>; 0] = [];
    let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(n, None);
    let sent = sendmmsg(
        fd,
        &mut headers,
        &iovs,
        &addrs,
        cmsgs,
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?
    .count();
    Ok(sent)
}

/// `sendmsg` of one frame behind an all-zero virtio header (no offload requested).
fn send_frame(fd: RawFd, frame: &[u8]) -> io::Result<()> {
    let vnet = [0u8; sys::VNET_HDR_LEN];
    let iov = [
        libc::iovec {
            iov_base: vnet.as_ptr() as *mut libc::c_void,
            iov_len: vnet.len(),
        },
        libc::iovec {
            iov_base: frame.as_ptr() as *mut libc::c_void,
            iov_len: frame.len(),
        },
    ];
    // SAFETY: all-zero is a valid msghdr.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = iov.len() as _;
    // SAFETY: `msg` points at two live iovecs; the kernel only reads through them.
    let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        Err(sys::errno())
    } else {
        Ok(())
    }
}
