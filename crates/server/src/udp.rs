//! UDP acceleration at the edge (docs/udp-acceleration.md): the per-session
//! UDP socket and the counters administration shows. The protocol itself
//! is the sans-IO [`rustether_proto::udpaccel`].
//!
//! As in SoftEther (`NewUdpAccel`, `src/Cedar/UdpAccel.c`), each session
//! that uses UDP acceleration gets its own socket, bound to the local
//! address of its login connection and to a free port of
//! [`SERVER_PORTS`] (40000–44999); only when the whole range is taken does
//! the OS pick the port. The firewall must let UDP to 40000–44999 in.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rand::Rng;
use rustether_proto::udpaccel::{
    ClientOffer, DatagramBatch, GsoRun, ServerOffer, UdpAccel, UdpStats, MAX_DATAGRAM, SERVER_PORTS,
};
use tracing::{debug, info};

/// The UDP half of a session: socket and protocol state, owned by the
/// session task.
pub struct UdpPath {
    /// Bound, non-blocking socket registered with the runtime.
    pub sock: tokio::net::UdpSocket,
    /// Protocol state.
    pub accel: UdpAccel,
    /// Clamp the TCP MSS of SYNs (`false` under the hub option
    /// `DisableAdjustTcpMss`).
    pub clamp_mss: bool,
}

impl std::fmt::Debug for UdpPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpPath")
            .field("accel", &self.accel)
            .finish()
    }
}

/// What administration sees of a session's UDP acceleration (SoftEther
/// `IsUdpAccelerationEnabled`/`IsUsingUdpAcceleration`, plus byte and
/// frame counters SoftEther does not have).
#[derive(Debug, Default)]
pub struct UdpInfo {
    /// 1 or 2.
    pub version: u32,
    /// The server's UDP port of this session.
    pub port: u16,
    /// TCP MSS clamped on SYNs to and from the session (0 = not clamped,
    /// hub option `DisableAdjustTcpMss`).
    pub mss: u16,
    /// `RC4`, `ChaCha20-Poly1305` or `None`.
    pub cipher: &'static str,
    /// Frames go over UDP now.
    pub in_use: AtomicBool,
    /// Datagram bytes sent.
    pub sent_bytes: AtomicU64,
    /// Datagram bytes accepted.
    pub recv_bytes: AtomicU64,
    /// Frames sent over UDP.
    pub sent_frames: AtomicU64,
    /// Frames received over UDP.
    pub recv_frames: AtomicU64,
    /// Datagrams dropped (failed authentication, stale, malformed).
    pub dropped: AtomicU64,
}

impl UdpInfo {
    /// Copies the protocol counters.
    pub fn update(&self, st: &UdpStats, in_use: bool) {
        self.in_use.store(in_use, Ordering::Relaxed);
        self.sent_bytes.store(st.sent_bytes, Ordering::Relaxed);
        self.recv_bytes.store(st.recv_bytes, Ordering::Relaxed);
        self.sent_frames.store(st.sent_frames, Ordering::Relaxed);
        self.recv_frames.store(st.recv_frames, Ordering::Relaxed);
        self.dropped.store(st.dropped, Ordering::Relaxed);
    }

    /// SoftEther's `ProtocolDetails` fragment (`ServerAccept`).
    pub fn protocol_details(&self) -> String {
        format!(
            "UDPAccel_Ver={} {} UDPAccel_MSS={}",
            self.version, self.cipher, self.mss
        )
    }
}

/// Socket buffer size asked for in both directions (SoftEther
/// `UDP_MAX_BUFFER_SIZE`, `NewUDPEx2`); the kernel caps it at
/// `net.core.rmem_max`/`wmem_max`. With the default 208 KiB a burst of the
/// inner TCP overflows the receive buffer and throughput collapses.
pub const UDP_BUFFER_SIZE: usize = 11_911_168;

fn bind_at(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: a smaller buffer still works.
    let _ = s.set_recv_buffer_size(UDP_BUFFER_SIZE);
    let _ = s.set_send_buffer_size(UDP_BUFFER_SIZE);
    s.bind(&addr.into())?;
    Ok(s.into())
}

/// Binds a UDP socket on `ip` at a free port of 40000–44999, scanning from
/// a random start, else at a port the OS picks (`NewUdpAccel`).
fn bind(ip: IpAddr) -> std::io::Result<std::net::UdpSocket> {
    let n = u32::from(*SERVER_PORTS.end() - *SERVER_PORTS.start()) + 1;
    let start = rand::thread_rng().gen_range(0..n);
    for i in 0..n {
        let port = *SERVER_PORTS.start() + ((start + i) % n) as u16;
        if let Ok(s) = bind_at(SocketAddr::new(ip, port)) {
            return Ok(s);
        }
    }
    bind_at(SocketAddr::new(ip, 0))
}

/// Grants `offer` (server side of `ServerAccept`): a socket on the login
/// connection's `local` address and the state for a client at `peer`.
/// `None` (the welcome then carries no grant and the client uses TCP
/// only) when no socket can be had; logged.
pub fn grant(
    offer: &ClientOffer,
    peer: SocketAddr,
    local: SocketAddr,
    encrypt: bool,
) -> Option<(UdpPath, ServerOffer)> {
    let local_ip = local.ip().to_canonical();
    let peer_ip = peer.ip().to_canonical();
    if local_ip.is_ipv4() != peer_ip.is_ipv4() {
        return None;
    }
    let std_sock = match bind(local_ip).and_then(|s| {
        s.set_nonblocking(true)?;
        Ok(s)
    }) {
        Ok(s) => s,
        Err(e) => {
            info!(%peer, "UDP acceleration not offered: no UDP socket: {e}");
            return None;
        }
    };
    let bound = match std_sock.local_addr() {
        Ok(a) => a,
        Err(e) => {
            info!(%peer, "UDP acceleration not offered: {e}");
            return None;
        }
    };
    let sock = match tokio::net::UdpSocket::from_std(std_sock) {
        Ok(s) => s,
        Err(e) => {
            info!(%peer, "UDP acceleration not offered: {e}");
            return None;
        }
    };
    let (accel, grant) = UdpAccel::server(offer, peer_ip, bound, encrypt, &mut rand::thread_rng());
    debug!(%peer, port = bound.port(), version = grant.version, "UDP acceleration granted");
    Some((
        UdpPath {
            sock,
            accel,
            clamp_mss: true,
        },
        grant,
    ))
}

/// The info record for a granted path; `clamp_mss` false under the hub
/// option `DisableAdjustTcpMss`.
pub fn info_for(path: &UdpPath, clamp_mss: bool) -> UdpInfo {
    UdpInfo {
        version: path.accel.version(),
        mss: if clamp_mss { path.accel.mss() } else { 0 },
        port: path.sock.local_addr().map(|a| a.port()).unwrap_or(0),
        cipher: path.accel.cipher_name(),
        ..UdpInfo::default()
    }
}

/// Most datagrams in one segmented send (the kernel's `UDP_MAX_SEGMENTS`
/// is 64 on older kernels, 128 since Linux 6.9).
pub const GSO_MAX_SEGMENTS: usize = 64;
/// Most bytes in one segmented send: below the 65 507-byte UDP payload
/// limit of IPv4.
pub const GSO_MAX_BYTES: usize = 65_000;

/// Whether a session's socket still tries segmented sends (Linux UDP GSO,
/// `UDP_SEGMENT`): on at first, off for good after the kernel refused one
/// (a route whose device cannot checksum, an old kernel).
#[derive(Debug, Clone, Copy)]
pub struct Gso(bool);

impl Default for Gso {
    fn default() -> Gso {
        Gso(cfg!(any(target_os = "linux", target_os = "android")))
    }
}

impl Gso {
    /// Off: every datagram through `sendmmsg(2)`.
    pub fn off() -> Gso {
        Gso(false)
    }

    /// Segmented sends are still tried.
    pub fn is_on(&self) -> bool {
        self.0
    }
}

/// Sends every datagram of `batch` with as few system calls as the kernel
/// takes, waiting for the socket to be writable in between. Runs of
/// datagrams of one size to one peer (full-size frames) go as one
/// segmented send each, so the kernel and the receiver handle one buffer
/// instead of one per datagram (`gso`, turned off when the kernel refuses
/// it); the rest go with `sendmmsg(2)`. A datagram the kernel refuses (an
/// ICMP unreachable reported on the socket, a firewall) is skipped: the
/// path going down is the keep-alive timeout's business, as with one
/// `sendto` per datagram before.
pub async fn send_batch(sock: &tokio::net::UdpSocket, batch: &DatagramBatch, gso: &mut Gso) {
    let mut next = 0;
    while next < batch.len() {
        // The datagrams up to `end` go in this step: one segmented run, or
        // the singles before the next run.
        let mut end = batch.len();
        if gso.0 {
            let Some(run) = batch.gso_run(next, GSO_MAX_SEGMENTS, GSO_MAX_BYTES) else {
                break;
            };
            if run.count > 1 {
                match sock.try_io(tokio::io::Interest::WRITABLE, || send_segmented(sock, &run)) {
                    Ok(()) => next += run.count,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        if let Err(e) = sock.writable().await {
                            debug!("UDP acceleration send failed: {e}");
                            return;
                        }
                    }
                    Err(e) if gso_refused(&e) => {
                        info!(to = %run.to, "UDP acceleration: segmented sends refused ({e}); one datagram per message from now on");
                        gso.0 = false;
                    }
                    Err(e) => {
                        debug!(to = %run.to, "UDP acceleration send failed: {e}");
                        next += run.count;
                    }
                }
                continue;
            }
            end = next + 1;
            while batch
                .gso_run(end, GSO_MAX_SEGMENTS, GSO_MAX_BYTES)
                .is_some_and(|r| r.count == 1)
            {
                end += 1;
            }
        }
        match sock.try_io(tokio::io::Interest::WRITABLE, || {
            sendmmsg_range(sock, batch, next, end)
        }) {
            Ok(n) => next += n.max(1),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Err(e) = sock.writable().await {
                    debug!("UDP acceleration send failed: {e}");
                    return;
                }
            }
            Err(e) => {
                if let Some((_, to)) = batch.get(next) {
                    debug!(%to, "UDP acceleration send failed: {e}");
                }
                next += 1;
            }
        }
    }
}

/// Errors by which the kernel says it cannot segment (rather than that the
/// datagrams could not go): `EIO` (no checksum offload on the route),
/// `EINVAL`, `ENOPROTOOPT`, `EOPNOTSUPP` (as quinn-udp reads them).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn gso_refused(e: &std::io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EIO | Errno::EINVAL | Errno::ENOPROTOOPT | Errno::EOPNOTSUPP)
    )
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn gso_refused(_e: &std::io::Error) -> bool {
    true
}

/// One `sendmsg(2)` of `run` with `UDP_SEGMENT`: the kernel cuts it into
/// `run.count` datagrams.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_segmented(sock: &tokio::net::UdpSocket, run: &GsoRun<'_>) -> std::io::Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, SockaddrStorage};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    let seg =
        u16::try_from(run.segment).map_err(|_| std::io::Error::from(nix::errno::Errno::EINVAL))?;
    let to = SockaddrStorage::from(run.to);
    sendmsg(
        sock.as_raw_fd(),
        &[IoSlice::new(run.bytes)],
        &[ControlMessage::UdpGsoSegments(&seg)],
        MsgFlags::empty(),
        Some(&to),
    )?;
    Ok(())
}

/// Without UDP GSO: never called ([`Gso`] starts off).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_segmented(_sock: &tokio::net::UdpSocket, _run: &GsoRun<'_>) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// One `sendmmsg(2)` of the datagrams `first..end` of `batch`: how many the
/// kernel took.
#[cfg(unix)]
fn sendmmsg_range(
    sock: &tokio::net::UdpSocket,
    batch: &DatagramBatch,
    first: usize,
    end: usize,
) -> std::io::Result<usize> {
    use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;
    let n = end.min(batch.len()).saturating_sub(first);
    if n == 0 {
        return Ok(0);
    }
    let mut iovs: Vec<[IoSlice<'_>; 1]> = Vec::with_capacity(n);
    let mut addrs: Vec<Option<SockaddrStorage>> = Vec::with_capacity(n);
    for (d, to) in batch.iter().skip(first).take(n) {
        iovs.push([IoSlice::new(d)]);
        addrs.push(Some(SockaddrStorage::from(to)));
    }
    // The headers hold raw pointers (not `Send`): built per call, outside
    // any await, one allocation per batch rather than per datagram.
    let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(n, None);
    let sent = sendmmsg(
        sock.as_raw_fd(),
        &mut hdrs,
        &iovs,
        &addrs,
        [] as [nix::sys::socket::ControlMessage<'_>; 0],
        MsgFlags::empty(),
    )?;
    Ok(sent.count())
}

/// Without `sendmmsg(2)`: one `send_to` per datagram, as many as go
/// without blocking.
#[cfg(not(unix))]
fn sendmmsg_range(
    sock: &tokio::net::UdpSocket,
    batch: &DatagramBatch,
    first: usize,
    end: usize,
) -> std::io::Result<usize> {
    let mut sent = 0;
    for (d, to) in batch.iter().skip(first).take(end.saturating_sub(first)) {
        match sock.try_send_to(d, to) {
            Ok(_) => sent += 1,
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
    }
    Ok(sent)
}

/// Most datagrams read per `recvmmsg(2)`.
pub const RECV_BATCH: usize = 32;

/// Receive buffers for `recvmmsg(2)`: up to [`RECV_BATCH`] datagrams of
/// [`MAX_DATAGRAM`] bytes per system call, reused from call to call. The
/// number of slots follows the load: doubled after a read that filled them
/// all, back to one by [`RecvBatch::trim`], which the session calls from
/// its timer (at most every 20 ms), so that an idle session holds 2 KiB,
/// not 64 KiB. Shrinking on the read path itself made every wake-up of a
/// lightly loaded session grow the buffer (one full read of one slot) and
/// shrink it again: two reallocations per datagram.
#[derive(Debug, Default)]
pub struct RecvBatch {
    buf: Vec<u8>,
    /// Length and source of each datagram of the last read.
    got: Vec<(usize, SocketAddr)>,
    /// The last read filled every slot: more may be waiting.
    full: bool,
}

impl RecvBatch {
    /// Reads what the socket has, up to the current number of slots:
    /// how many datagrams (≥ 1), or `WouldBlock` when none is waiting.
    /// Datagrams longer than [`MAX_DATAGRAM`] are cut (and then fail to
    /// authenticate), as with SoftEther's fixed receive buffer.
    pub fn recv(&mut self, sock: &tokio::net::UdpSocket) -> std::io::Result<usize> {
        #[cfg(not(unix))]
        {
            // Without recvmmsg(2): one datagram per call.
            self.buf.resize(MAX_DATAGRAM, 0);
            self.got.clear();
            let (len, src) = sock.try_recv_from(&mut self.buf)?;
            self.got.push((len.min(MAX_DATAGRAM), src));
            self.full = false;
            Ok(1)
        }
        #[cfg(unix)]
        self.recv_mmsg(sock)
    }

    #[cfg(unix)]
    fn recv_mmsg(&mut self, sock: &tokio::net::UdpSocket) -> std::io::Result<usize> {
        use nix::sys::socket::{recvmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        let slots = (self.buf.len() / MAX_DATAGRAM).clamp(1, RECV_BATCH);
        self.buf.resize(slots * MAX_DATAGRAM, 0);
        self.got.clear();
        // An empty read (`WouldBlock`) counts as not full.
        self.full = false;
        let got = &mut self.got;
        let buf = &mut self.buf;
        sock.try_io(tokio::io::Interest::READABLE, || {
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> = buf
                .chunks_mut(MAX_DATAGRAM)
                .map(|c| [IoSliceMut::new(c)])
                .collect();
            let mut hdrs = MultiHeaders::<SockaddrStorage>::preallocate(slots, None);
            let res = recvmmsg(
                sock.as_raw_fd(),
                &mut hdrs,
                iovs.iter_mut(),
                MsgFlags::empty(),
                None,
            )?;
            for m in res {
                let src = m.address.as_ref().and_then(|a| {
                    a.as_sockaddr_in()
                        .map(|a| SocketAddr::V4((*a).into()))
                        .or_else(|| a.as_sockaddr_in6().map(|a| SocketAddr::V6((*a).into())))
                });
                // A datagram without an IP source cannot be answered: length 0
                // makes the caller drop it.
                let len = if src.is_some() {
                    m.bytes.min(MAX_DATAGRAM)
                } else {
                    0
                };
                got.push((len, src.unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0)))));
            }
            Ok(())
        })?;
        let n = self.got.len();
        self.full = n == slots;
        if n == 0 {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        if n == slots && slots < RECV_BATCH {
            self.buf
                .resize((slots * 2).min(RECV_BATCH) * MAX_DATAGRAM, 0);
        }
        Ok(n)
    }

    /// Gives the slots beyond the first back unless the last read filled
    /// them all (the session is busy). Called from the session's timer.
    pub fn trim(&mut self) {
        if !self.full && self.buf.len() > MAX_DATAGRAM {
            self.buf.truncate(MAX_DATAGRAM);
            self.buf.shrink_to_fit();
        }
    }

    /// The `i`th datagram of the last read (to decrypt in place) and its
    /// source; `None` past the end.
    pub fn datagram_mut(&mut self, i: usize) -> Option<(&mut [u8], SocketAddr)> {
        let (len, src) = *self.got.get(i)?;
        let start = i * MAX_DATAGRAM;
        Some((self.buf.get_mut(start..start + len)?, src))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use rustether_proto::udpaccel::{Received, MAX_BATCH_DATAGRAMS};

    /// A granted server path and the matching client state, over loopback.
    async fn pair() -> (UdpPath, UdpAccel, tokio::net::UdpSocket) {
        let client = bind_at("127.0.0.1:0".parse().unwrap()).unwrap();
        client.set_nonblocking(true).unwrap();
        let client = tokio::net::UdpSocket::from_std(client).unwrap();
        let caddr = client.local_addr().unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let offer = ClientOffer::new(&mut rng, caddr.ip(), caddr.port());
        let local: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let (path, grant) = grant(&offer, caddr, local, true).unwrap();
        let c = UdpAccel::client(&offer, &grant, caddr.ip(), &mut rng);
        (path, c, client)
    }

    /// Receives until `n` frames arrived (bounded wait), with the source;
    /// notes the most datagrams one call read in `MOST`.
    async fn frames(
        rb: &mut RecvBatch,
        sock: &tokio::net::UdpSocket,
        a: &mut UdpAccel,
        n: usize,
    ) -> Vec<(Vec<u8>, SocketAddr)> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while got.len() < n {
            let ready = tokio::time::timeout_at(deadline, sock.readable()).await;
            assert!(ready.is_ok(), "only {} of {n} frames arrived", got.len());
            let k = match rb.recv(sock) {
                Ok(k) => k,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            };
            assert!(k <= RECV_BATCH);
            MOST.fetch_max(k, std::sync::atomic::Ordering::Relaxed);
            for i in 0..k {
                let (d, src) = rb.datagram_mut(i).unwrap();
                if let Ok(Received::Frame(f)) = a.receive(d, src, 10) {
                    got.push((f.to_vec(), src));
                }
            }
        }
        got
    }

    static MOST: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    #[tokio::test]
    async fn batches_go_out_in_order_and_come_in_with_their_source() {
        let (mut path, mut client, csock) = pair().await;
        let saddr = path.sock.local_addr().unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        // More than one batch: full batches plus the rest, each read
        // before the next is sent (the receive buffer is the kernel's).
        let sent: Vec<Vec<u8>> = (0..150u32)
            .map(|i| vec![i as u8; 60 + (i as usize * 9) % 1400])
            .collect();
        let mut b = DatagramBatch::new(MAX_BATCH_DATAGRAMS);
        let mut rb = RecvBatch::default();
        let mut got = Vec::new();
        let mut gso = Gso::off();
        for chunk in sent.chunks(MAX_BATCH_DATAGRAMS) {
            for f in chunk {
                assert!(b.push_frame(&mut path.accel, f, 10, &mut rng));
            }
            send_batch(&path.sock, &b, &mut gso).await;
            b.clear();
            got.extend(frames(&mut rb, &csock, &mut client, chunk.len()).await);
        }
        let bodies: Vec<Vec<u8>> = got.iter().map(|(f, _)| f.clone()).collect();
        assert_eq!(bodies, sent, "every frame, in order (loopback keeps order)");
        assert!(got.iter().all(|(_, src)| *src == saddr));
        // The slots grew under the burst: one recvmmsg read several.
        assert!(MOST.load(std::sync::atomic::Ordering::Relaxed) > 1);
        // Lone datagrams after the burst keep the slots (no reallocation
        // per wake-up); the timer's trim gives the memory back.
        let grown = rb.buf.len();
        assert!(grown > MAX_DATAGRAM);
        for _ in 0..3 {
            b.push_frame(&mut path.accel, b"lone", 10, &mut rng);
            send_batch(&path.sock, &b, &mut gso).await;
            b.clear();
            let got = frames(&mut rb, &csock, &mut client, 1).await;
            assert_eq!(got[0].0, b"lone");
            assert_eq!(rb.buf.len(), grown, "no shrink on the read path");
        }
        rb.trim();
        assert_eq!(rb.buf.len(), MAX_DATAGRAM);
        assert_eq!(rb.buf.capacity(), MAX_DATAGRAM);

        // The other way.
        let mut out = Vec::new();
        let to = client.encode(b"hello", false, 10, &mut rng, &mut out);
        assert_eq!(to, saddr);
        csock.send_to(&out, to).await.unwrap();
        let mut srb = RecvBatch::default();
        let got = frames(&mut srb, &path.sock, &mut path.accel, 1).await;
        assert_eq!(got[0].0, b"hello");
        assert_eq!(got[0].1, csock.local_addr().unwrap());
    }

    /// Full-size frames (one size of datagram) mixed with small ones:
    /// with segmented sends every datagram arrives once, in order, as its
    /// own datagram, and the kernel (loopback) keeps accepting them.
    #[tokio::test]
    async fn segmented_sends_deliver_every_datagram_in_order() {
        let (mut path, mut client, csock) = pair().await;
        let mut rng = StdRng::seed_from_u64(11);
        let full = usize::from(path.accel.mss()) + 54;
        // Runs of full-size frames broken by small ones (acknowledgements)
        // and by a batch boundary.
        let sent: Vec<Vec<u8>> = (0..200u32)
            .map(|i| match i % 50 {
                17 | 18 => vec![i as u8; 66],
                _ => vec![i as u8; full],
            })
            .collect();
        let mut gso = Gso::default();
        let mut b = DatagramBatch::new(MAX_BATCH_DATAGRAMS);
        let mut rb = RecvBatch::default();
        let mut got = Vec::new();
        for chunk in sent.chunks(MAX_BATCH_DATAGRAMS) {
            for f in chunk {
                assert!(b.push_frame(&mut path.accel, f, 10, &mut rng));
            }
            assert!(b.gso_run(0, GSO_MAX_SEGMENTS, GSO_MAX_BYTES).unwrap().count > 1);
            send_batch(&path.sock, &b, &mut gso).await;
            b.clear();
            got.extend(frames(&mut rb, &csock, &mut client, chunk.len()).await);
        }
        let bodies: Vec<Vec<u8>> = got.into_iter().map(|(f, _)| f).collect();
        assert_eq!(bodies, sent);
        #[cfg(target_os = "linux")]
        assert!(gso.is_on(), "loopback takes UDP_SEGMENT");
    }

    #[tokio::test]
    async fn a_forged_datagram_in_a_batch_is_dropped_and_moves_nothing() {
        let (mut path, mut client, csock) = pair().await;
        let saddr = path.sock.local_addr().unwrap();
        let caddr = csock.local_addr().unwrap();
        let mut rng = StdRng::seed_from_u64(5);
        let attacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        // The attacker's garbage lands between two genuine datagrams.
        let mut out = Vec::new();
        client.encode(b"one", false, 10, &mut rng, &mut out);
        csock.send_to(&out, saddr).await.unwrap();
        attacker.send_to(&[0x42; 200], saddr).await.unwrap();
        client.encode(b"two", false, 11, &mut rng, &mut out);
        csock.send_to(&out, saddr).await.unwrap();
        let mut rb = RecvBatch::default();
        let got = frames(&mut rb, &path.sock, &mut path.accel, 2).await;
        assert_eq!(got.len(), 2);
        assert!(got.iter().all(|(_, src)| *src == caddr));
        assert_eq!(path.accel.peer(), caddr);
        assert_eq!(path.accel.stats().dropped, 1);
    }
}
