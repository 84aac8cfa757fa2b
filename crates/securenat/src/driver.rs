//! The I/O edge of SecureNAT: a tokio task that owns one [`VirtualHost`],
//! takes the hub's frames, runs the [`NatEvent`]s with ordinary sockets of
//! the server process (TCP connect + splice, UDP per flow, ICMP datagram
//! sockets) and hands frames back. No privileges needed.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::JoinHandle;

use crate::dhcp::Lease;
use crate::host::{NatEvent, VirtualHost};
use crate::nat::{FlowId, Guard, NatEntry, NatLimits};
use crate::settings::{SettingsError, VhOption};

/// Server-side TCP connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Bytes read from a remote per chunk.
const CHUNK: usize = 16 * 1024;
/// Bytes from a remote a flow may have waiting for the client's window
/// (back-pressure: the remote is not read beyond it).
const DOWN_CREDIT: usize = 64 * 1024;
/// Most bytes of one chunk towards a remote (one write each).
const UP_CHUNK: usize = 32 * 1024;
/// Chunks queued towards a remote per flow.
const UP_CHUNKS: usize = 2;
/// Frames from the hub, or messages from socket tasks, handled per wake-up
/// before the host's answers go out: one egress pass (and one ACK for
/// several segments) per batch instead of per frame.
const BATCH: usize = 64;
/// Least time between two NAT/lease maintenance passes (timeouts, finished
/// flows: O(flows)) while frames keep coming.
const MAINTAIN_EVERY: Duration = Duration::from_millis(10);
/// Messages from socket tasks to the driver.
const IO_QUEUE: usize = 1024;
/// Receive buffer per UDP/ICMP flow: one byte more than the largest
/// datagram the host forwards ([`crate::host::MAX_DATAGRAM`] minus the
/// headers), so that a longer (truncated) one is recognised and dropped.
/// Keeps 4096 flows at 32 MiB.
const DGRAM_BUF: usize = crate::host::MAX_DATAGRAM - 28 + 1;
/// Frames queued towards the hub.
pub const FRAME_QUEUE: usize = 1024;
/// Restarts of the virtual host after an internal error (a panic, e.g. in
/// smoltcp, whose maintainers do not claim it is hardened against hostile
/// peers) allowed within [`RESTART_WINDOW`]; the next error stops SecureNAT
/// on the hub, so that input that always fails cannot keep a core busy.
pub const MAX_RESTARTS: usize = 5;
/// See [`MAX_RESTARTS`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(60);

/// Where the driver's sockets may not go and what it forwards DNS to.
#[derive(Debug, Clone, Default)]
pub struct DriverConfig {
    /// Addresses of the server host (see [`Guard`]); [`local_guard`] reads them.
    pub guard: Guard,
    /// Session limits.
    pub limits: NatLimits,
    /// DNS proxy upstreams; [`resolv_conf_servers`] reads them.
    pub dns_servers: Vec<SocketAddrV4>,
    /// Leases of an earlier run to take back (wall-clock times).
    pub leases: Vec<SavedLease>,
    /// Where the lease table is published whenever it changes (wall-clock
    /// times), so that it outlives this run.
    pub lease_book: Option<Arc<tokio::sync::watch::Sender<Vec<SavedLease>>>>,
    /// Hub name for the `SaveLog` lines (`[HUB "name"] SecureNAT: …`, as
    /// SoftEther's hub log writes them).
    pub hub_name: String,
}

/// A DHCP lease with wall-clock times, kept outside a running SecureNAT so
/// that leases survive its restart (hub offline/online, new settings, a
/// server restart), as SoftEther keeps them across a hub restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedLease {
    /// The lease; `leased_at`/`expires_at` are ignored here.
    pub lease: Lease,
    /// When leased, Unix ms.
    pub leased_unix_ms: u64,
    /// When it expires, Unix ms.
    pub expires_unix_ms: u64,
}

/// Longest lease age taken back (older leases' start times are clamped).
const MAX_LEASE_AGE: Duration = Duration::from_secs(400 * 24 * 3600);

fn unix_ms_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The host clock's origin such that every saved lease start is at or
/// after it: (origin, its Unix ms).
fn clock_origin(saved: &[SavedLease]) -> (Instant, u64) {
    let now = Instant::now();
    let now_ms = unix_ms_now();
    let oldest = saved
        .iter()
        .map(|l| l.leased_unix_ms)
        .min()
        .unwrap_or(now_ms);
    let age = Duration::from_millis(now_ms.saturating_sub(oldest)).min(MAX_LEASE_AGE);
    match now.checked_sub(age) {
        Some(o) => (o, now_ms.saturating_sub(age.as_millis() as u64)),
        None => (now, now_ms),
    }
}

/// The server host's IPv4 addresses from `getifaddrs(3)` as a [`Guard`]
/// (127.0.0.0/8 is refused anyway). Off Unix (the Windows build is only
/// compiled, not run) the list is empty.
pub fn local_guard() -> Guard {
    #[allow(unused_mut)]
    let mut local_addrs = Vec::new();
    #[cfg(unix)]
    if let Ok(list) = nix::ifaddrs::getifaddrs() {
        for ifa in list {
            if let Some(a) = ifa.address.as_ref().and_then(|a| a.as_sockaddr_in()) {
                local_addrs.push(a.ip());
            }
        }
    }
    local_addrs.sort_unstable();
    local_addrs.dedup();
    Guard { local_addrs }
}

/// IPv4 `nameserver` lines of a resolv.conf text (at most 3, as glibc).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddrV4> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next()?.parse::<Ipv4Addr>().ok())
                .flatten()
        })
        .map(|ip| SocketAddrV4::new(ip, 53))
        .take(3)
        .collect()
}

/// The server's resolvers from `/etc/resolv.conf` (read up to 64 KiB).
pub fn resolv_conf_servers() -> Vec<SocketAddrV4> {
    match std::fs::read("/etc/resolv.conf") {
        Ok(b) => parse_resolv_conf(&String::from_utf8_lossy(&b[..b.len().min(64 * 1024)])),
        Err(e) => {
            tracing::warn!("SecureNAT DNS proxy: cannot read /etc/resolv.conf: {e}");
            Vec::new()
        }
    }
}

enum Ctl {
    Nat(oneshot::Sender<Vec<NatEntry>>),
    Leases(oneshot::Sender<Vec<Lease>>),
}

enum Io {
    Connected(FlowId, TcpStream),
    ConnectFailed(FlowId),
    Data(FlowId, Bytes),
    Eof(FlowId),
    Reset(FlowId),
    Udp(FlowId, Vec<u8>),
    Echo(FlowId, u16, Vec<u8>),
}

/// Handle of a running SecureNAT; dropping it stops the task.
#[derive(Debug)]
pub struct SecureNat {
    origin: Instant,
    frames_in: mpsc::Sender<Bytes>,
    ctl: mpsc::Sender<Ctl>,
    task: JoinHandle<()>,
}

impl Drop for SecureNat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SecureNat {
    /// Starts the virtual host on the current tokio runtime. Frames for the
    /// hub come out of the returned receiver (bounded, [`FRAME_QUEUE`]).
    ///
    /// # Errors
    /// Invalid settings.
    pub fn start(
        opt: VhOption,
        cfg: DriverConfig,
    ) -> Result<(Self, mpsc::Receiver<Vec<u8>>), SettingsError> {
        let (origin, origin_ms) = clock_origin(&cfg.leases);
        let setup = HostSetup {
            opt,
            guard: cfg.guard,
            limits: cfg.limits,
            dns_servers: cfg.dns_servers,
            origin,
            origin_ms,
        };
        let host = setup.build(cfg.leases)?;
        let book = cfg.lease_book.map(|tx| LeaseBook { tx, origin_ms });
        let (frames_in, frames_rx) = mpsc::channel(FRAME_QUEUE);
        let (out_tx, out_rx) = mpsc::channel(FRAME_QUEUE);
        let (ctl, ctl_rx) = mpsc::channel(16);
        let hub = cfg.hub_name;
        let task = tokio::spawn(supervise(host, setup, book, hub, frames_rx, out_tx, ctl_rx));
        Ok((
            Self {
                origin,
                frames_in,
                ctl,
                task,
            },
            out_rx,
        ))
    }

    /// The virtual host's clock now: times in [`NatEntry`] and [`Lease`]
    /// are on it.
    pub fn elapsed(&self) -> Duration {
        self.origin.elapsed()
    }

    /// Gives a frame from the hub; dropped (false) when the queue is full.
    pub fn input(&self, frame: Bytes) -> bool {
        self.frames_in.try_send(frame).is_ok()
    }

    /// The NAT table now.
    pub async fn nat_table(&self) -> Vec<NatEntry> {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Ctl::Nat(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The DHCP leases now.
    pub async fn leases(&self) -> Vec<Lease> {
        let (tx, rx) = oneshot::channel();
        if self.ctl.send(Ctl::Leases(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }
}

/// Socket side of one TCP flow.
struct TcpIo {
    up: Option<mpsc::Sender<Vec<u8>>>,
    /// Bytes from the remote not yet taken by the client's window.
    pending: std::collections::VecDeque<Bytes>,
    credit: Arc<Semaphore>,
    remote_eof: bool,
    fin_sent: bool,
    tasks: [JoinHandle<()>; 2],
}

impl Drop for TcpIo {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

enum FlowIo {
    Connecting(JoinHandle<()>),
    Tcp(TcpIo),
    /// Sending side (a std clone: a fresh tokio socket reports no write
    /// readiness until the reactor has polled it) and the reader task.
    Udp(std::net::UdpSocket, JoinHandle<()>),
    /// ICMP socket, or `None` when unprivileged ICMP is not allowed.
    Icmp(Option<(std::net::UdpSocket, JoinHandle<()>)>),
}

impl Drop for FlowIo {
    fn drop(&mut self) {
        match self {
            FlowIo::Connecting(t) | FlowIo::Udp(_, t) | FlowIo::Icmp(Some((_, t))) => t.abort(),
            _ => {}
        }
    }
}

struct Driver {
    host: VirtualHost,
    origin: Instant,
    io_tx: mpsc::Sender<Io>,
    flows: HashMap<FlowId, FlowIo>,
    icmp_warned: bool,
    /// Scratch list of [`Driver::pump`].
    ids: Vec<FlowId>,
}

/// Publishes the lease table with wall-clock times.
struct LeaseBook {
    tx: Arc<tokio::sync::watch::Sender<Vec<SavedLease>>>,
    origin_ms: u64,
}

impl LeaseBook {
    fn publish(&self, leases: &[Lease]) {
        let ms = |d: Duration| {
            self.origin_ms
                .saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        };
        let saved = leases
            .iter()
            .map(|l| SavedLease {
                lease: l.clone(),
                leased_unix_ms: ms(l.leased_at),
                expires_unix_ms: ms(l.expires_at),
            })
            .collect();
        self.tx.send_replace(saved);
    }
}

/// What a virtual host is built from, kept to build it again after an
/// internal error.
struct HostSetup {
    opt: VhOption,
    guard: Guard,
    limits: NatLimits,
    dns_servers: Vec<SocketAddrV4>,
    /// The host clock's origin, and its Unix ms ([`clock_origin`]).
    origin: Instant,
    origin_ms: u64,
}

impl HostSetup {
    /// A virtual host with `leases` (wall-clock times) taken back.
    fn build(&self, leases: Vec<SavedLease>) -> Result<VirtualHost, SettingsError> {
        let mut host = VirtualHost::new(self.opt.clone(), self.origin.elapsed())?;
        host.set_guard(self.guard.clone());
        host.set_limits(self.limits);
        host.set_dns_servers(self.dns_servers.clone());
        let to_host = |ms: u64| Duration::from_millis(ms.saturating_sub(self.origin_ms));
        let restored = leases
            .into_iter()
            .map(|s| Lease {
                leased_at: to_host(s.leased_unix_ms),
                expires_at: to_host(s.expires_unix_ms),
                ..s.lease
            })
            .collect();
        host.restore_leases(restored, self.origin.elapsed());
        Ok(host)
    }
}

/// Runs the virtual host; after an internal error (a panic inside it) logs
/// it and runs a new one with the same settings, the hub's queues and the
/// DHCP leases last published to `book`. The NAT sessions of the failed
/// host are dropped (their sockets close). At most [`MAX_RESTARTS`] within
/// [`RESTART_WINDOW`]; after that SecureNAT stays stopped (logged) until it
/// is started again, and the hub's side sees the output queue close.
async fn supervise(
    mut host: VirtualHost,
    setup: HostSetup,
    book: Option<LeaseBook>,
    hub: String,
    mut frames: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Vec<u8>>,
    mut ctl: mpsc::Receiver<Ctl>,
) {
    use futures_util::FutureExt;
    let mut restarts = std::collections::VecDeque::new();
    loop {
        let body = run(
            host,
            setup.origin,
            book.as_ref(),
            &hub,
            &mut frames,
            &out,
            &mut ctl,
        );
        // Unwind safety: everything the failed run owned is dropped; what
        // it borrowed (the queues, the book) is valid in any state.
        let Err(panic) = std::panic::AssertUnwindSafe(body).catch_unwind().await else {
            return;
        };
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect::<String>();
        let now = Instant::now();
        while restarts
            .front()
            .is_some_and(|t: &Instant| now.duration_since(*t) >= RESTART_WINDOW)
        {
            restarts.pop_front();
        }
        if restarts.len() >= MAX_RESTARTS {
            tracing::error!(
                "[HUB \"{hub}\"] SecureNAT: internal error ({what}), the {}th within {} s: SecureNAT is stopped on this hub until it is enabled again (SecureNatEnable) or the hub restarts",
                MAX_RESTARTS + 1,
                RESTART_WINDOW.as_secs()
            );
            return;
        }
        restarts.push_back(now);
        let leases = book
            .as_ref()
            .map(|b| b.tx.borrow().clone())
            .unwrap_or_default();
        host = match setup.build(leases) {
            Ok(h) => h,
            // The settings were valid at start and have not changed.
            Err(e) => {
                tracing::error!("[HUB \"{hub}\"] SecureNAT: cannot restart: {e}");
                return;
            }
        };
        tracing::error!(
            "[HUB \"{hub}\"] SecureNAT: internal error ({what}); the virtual host was restarted: its NAT sessions were dropped, the DHCP leases kept"
        );
    }
}

async fn run(
    host: VirtualHost,
    origin: Instant,
    book: Option<&LeaseBook>,
    hub: &str,
    frames: &mut mpsc::Receiver<Bytes>,
    out: &mpsc::Sender<Vec<u8>>,
    ctl: &mut mpsc::Receiver<Ctl>,
) {
    let (io_tx, mut io_rx) = mpsc::channel(IO_QUEUE);
    let mut d = Driver {
        host,
        origin,
        io_tx,
        flows: HashMap::new(),
        icmp_warned: false,
        ids: Vec::new(),
    };
    let mut generation = d.host.lease_generation();
    if let Some(b) = book {
        b.publish(d.host.leases());
    }
    let mut last_maintain = d.now();
    // One timer, moved only when the host needs an earlier wake-up: an
    // early wake-up is harmless (poll), re-arming per frame is not free.
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep);
    let mut armed: Option<tokio::time::Instant> = None;
    loop {
        if d.host.lease_generation() != generation {
            generation = d.host.lease_generation();
            if let Some(b) = book {
                b.publish(d.host.leases());
            }
        }
        d.events();
        let now = d.now();
        if d.pump(now) {
            d.host.poll_sockets(now);
        }
        if now.saturating_sub(last_maintain) >= MAINTAIN_EVERY {
            last_maintain = now;
            d.host.poll(now);
            d.events();
        }
        while let Some(line) = d.host.pop_log() {
            tracing::info!("[HUB \"{hub}\"] SecureNAT: {line}");
        }
        while let Some(f) = d.host.pop_frame() {
            if out.send(f).await.is_err() {
                return;
            }
        }
        let now = d.now();
        let delay = d
            .host
            .poll_delay(now)
            .unwrap_or(Duration::from_secs(1))
            .min(Duration::from_secs(1));
        let at = tokio::time::Instant::now() + delay;
        if armed.is_none_or(|a| at < a) {
            sleep.as_mut().reset(at);
            armed = Some(at);
        }
        tokio::select! {
            f = frames.recv() => match f {
                Some(f) => {
                    let now = d.now();
                    d.input(&f, now);
                    for _ in 1..BATCH {
                        let Ok(f) = frames.try_recv() else { break };
                        d.input(&f, now);
                    }
                }
                None => return,
            },
            Some(m) = io_rx.recv() => {
                d.io(m);
                for _ in 1..BATCH {
                    let Ok(m) = io_rx.try_recv() else { break };
                    d.io(m);
                }
            }
            Some(c) = ctl.recv() => match c {
                Ctl::Nat(tx) => { let _ = tx.send(d.host.nat_entries().cloned().collect()); }
                Ctl::Leases(tx) => { let _ = tx.send(d.host.leases().to_vec()); }
            },
            () = &mut sleep => {
                armed = None;
                let now = d.now();
                last_maintain = now;
                d.host.poll(now);
            }
        }
    }
}

impl Driver {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    fn input(&mut self, frame: &[u8], now: Duration) {
        // Fault injection for the supervisor's tests.
        #[cfg(test)]
        assert!(frame != tests::FAULT_FRAME, "injected fault");
        self.host.input(frame, now);
    }

    fn events(&mut self) {
        while let Some(e) = self.host.pop_event() {
            match e {
                NatEvent::TcpConnect { id, dst } => {
                    let tx = self.io_tx.clone();
                    let t = tokio::spawn(async move {
                        let r =
                            tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(dst)).await;
                        let m = match r {
                            Ok(Ok(s)) => Io::Connected(id, s),
                            _ => Io::ConnectFailed(id),
                        };
                        let _ = tx.send(m).await;
                    });
                    self.flows.insert(id, FlowIo::Connecting(t));
                }
                NatEvent::UdpSend { id, dst, payload } => self.udp_send(id, dst, &payload),
                NatEvent::IcmpEcho { id, dst, seq, data } => self.icmp_send(id, dst, seq, data),
                NatEvent::Close { id } => {
                    self.flows.remove(&id);
                }
            }
        }
    }

    fn udp_send(&mut self, id: FlowId, dst: SocketAddrV4, payload: &[u8]) {
        if !self.flows.contains_key(&id) {
            let sock = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).and_then(|s| {
                s.connect(dst)?;
                s.set_nonblocking(true)?;
                let send = s.try_clone()?;
                Ok((send, Arc::new(UdpSocket::from_std(s)?)))
            });
            let (send, sock) = match sock {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("SecureNAT: UDP socket to {dst}: {e}");
                    self.host.flow_closed(id);
                    return;
                }
            };
            let tx = self.io_tx.clone();
            let t = tokio::spawn(async move {
                let mut buf = vec![0u8; DGRAM_BUF];
                while let Ok(n) = sock.recv(&mut buf).await {
                    if n == DGRAM_BUF {
                        // Truncated: longer than the host forwards.
                        continue;
                    }
                    if tx.send(Io::Udp(id, buf[..n].to_vec())).await.is_err() {
                        break;
                    }
                }
            });
            self.flows.insert(id, FlowIo::Udp(send, t));
        }
        if let Some(FlowIo::Udp(s, _)) = self.flows.get(&id) {
            // Non-blocking: a full socket buffer drops, as a router would.
            let _ = s.send(payload);
        }
    }

    fn icmp_send(&mut self, id: FlowId, dst: Ipv4Addr, seq: u16, data: Vec<u8>) {
        if !self.flows.contains_key(&id) {
            let sock = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::ICMPV4),
            )
            .and_then(|s| {
                s.set_nonblocking(true)?;
                let s = std::net::UdpSocket::from(s);
                let send = s.try_clone()?;
                Ok((send, UdpSocket::from_std(s)?))
            });
            let io = match sock {
                Ok((send, r)) => {
                    let tx = self.io_tx.clone();
                    let t = tokio::spawn(async move {
                        let mut buf = vec![0u8; DGRAM_BUF];
                        while let Ok(n) = r.recv(&mut buf).await {
                            // Kernel ping sockets deliver the ICMP message.
                            if (8..DGRAM_BUF).contains(&n) && buf[0] == 0 {
                                let seq = u16::from_be_bytes([buf[6], buf[7]]);
                                if tx
                                    .send(Io::Echo(id, seq, buf[8..n].to_vec()))
                                    .await
                                    .is_err()
                                {
                                    break;
                                }
                            }
                        }
                    });
                    Some((send, t))
                }
                Err(e) => {
                    if !self.icmp_warned {
                        self.icmp_warned = true;
                        tracing::warn!(
                            "SecureNAT: no ICMP socket ({e}); pings through the NAT are answered by the virtual host itself. Allow them with sysctl net.ipv4.ping_group_range covering the server's group"
                        );
                    }
                    None
                }
            };
            self.flows.insert(id, FlowIo::Icmp(io));
        }
        match self.flows.get(&id) {
            Some(FlowIo::Icmp(Some((s, _)))) => {
                let mut pkt = vec![8u8, 0, 0, 0, 0, 0];
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(&data);
                // The kernel fills identifier and checksum.
                let _ = s.send_to(&pkt, SocketAddr::V4(SocketAddrV4::new(dst, 0)));
            }
            Some(FlowIo::Icmp(None)) => {
                let now = self.now();
                self.host.icmp_reply(id, seq, &data, now);
            }
            _ => {}
        }
    }

    fn io(&mut self, m: Io) {
        let now = self.now();
        match m {
            Io::Connected(id, stream) => {
                if !matches!(self.flows.get(&id), Some(FlowIo::Connecting(_))) {
                    return;
                }
                let _ = stream.set_nodelay(true);
                let (mut rd, mut wr) = stream.into_split();
                let (up_tx, mut up_rx) = mpsc::channel::<Vec<u8>>(UP_CHUNKS);
                let credit = Arc::new(Semaphore::new(DOWN_CREDIT));
                let (c, tx) = (credit.clone(), self.io_tx.clone());
                let reader = tokio::spawn(async move {
                    // Chunks are split off one buffer: a remote sending a
                    // byte at a time costs a byte each, not a chunk each.
                    let mut buf = BytesMut::new();
                    loop {
                        let Ok(permit) = c.acquire_many(CHUNK as u32).await else {
                            break;
                        };
                        permit.forget();
                        buf.reserve(CHUNK);
                        let mut lim = (&mut buf).limit(CHUNK);
                        let m = match rd.read_buf(&mut lim).await {
                            Ok(0) => Io::Eof(id),
                            Ok(n) => {
                                c.add_permits(CHUNK - n);
                                Io::Data(id, buf.split().freeze())
                            }
                            Err(_) => Io::Reset(id),
                        };
                        let end = !matches!(m, Io::Data(..));
                        if tx.send(m).await.is_err() || end {
                            break;
                        }
                    }
                });
                let tx = self.io_tx.clone();
                let writer = tokio::spawn(async move {
                    while let Some(b) = up_rx.recv().await {
                        if wr.write_all(&b).await.is_err() {
                            let _ = tx.send(Io::Reset(id)).await;
                            return;
                        }
                    }
                    // Client half-closed: FIN to the remote.
                    let _ = wr.shutdown().await;
                });
                self.flows.insert(
                    id,
                    FlowIo::Tcp(TcpIo {
                        up: Some(up_tx),
                        pending: std::collections::VecDeque::new(),
                        credit,
                        remote_eof: false,
                        fin_sent: false,
                        tasks: [reader, writer],
                    }),
                );
                self.host.tcp_connected(id, now);
            }
            Io::ConnectFailed(id) => {
                self.flows.remove(&id);
                self.host.tcp_failed(id, now);
            }
            Io::Data(id, b) => {
                if let Some(FlowIo::Tcp(t)) = self.flows.get_mut(&id) {
                    t.pending.push_back(b);
                }
            }
            Io::Eof(id) => {
                if let Some(FlowIo::Tcp(t)) = self.flows.get_mut(&id) {
                    t.remote_eof = true;
                }
            }
            Io::Reset(id) => {
                self.host.tcp_remote_reset(id);
                self.host.poll_sockets(now);
            }
            Io::Udp(id, b) => self.host.udp_reply(id, &b, now),
            Io::Echo(id, seq, b) => self.host.icmp_reply(id, seq, &b, now),
        }
    }

    /// Moves bytes both ways for every connected TCP flow; true if any
    /// moved (the host then has segments to send).
    fn pump(&mut self, now: Duration) -> bool {
        let mut ids = std::mem::take(&mut self.ids);
        ids.clear();
        ids.extend(self.host.tcp_flows());
        let mut moved = false;
        for &id in &ids {
            let Some(FlowIo::Tcp(t)) = self.flows.get_mut(&id) else {
                continue;
            };
            // Remote → client, as far as the client's window allows.
            while let Some(front) = t.pending.front_mut() {
                let n = self.host.tcp_send(id, front, now);
                if n == 0 {
                    break;
                }
                front.advance(n);
                if front.is_empty() {
                    t.pending.pop_front();
                }
                t.credit.add_permits(n);
                moved = true;
            }
            if t.pending.is_empty() && t.remote_eof && !t.fin_sent {
                t.fin_sent = true;
                self.host.tcp_remote_eof(id);
                moved = true;
            }
            // Client → remote, while the remote's queue has room.
            while let Some(up) = &t.up {
                let Ok(permit) = up.try_reserve() else {
                    break;
                };
                let b = self.host.tcp_recv_vec(id, UP_CHUNK, now);
                if b.is_empty() {
                    break;
                }
                permit.send(b);
                moved = true;
            }
            if t.up.is_some() && self.host.tcp_state(id).is_some_and(|s| s.client_eof) {
                t.up = None;
            }
        }
        self.ids = ids;
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{
        ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol,
        EthernetRepr,
    };

    /// A frame that makes the driver panic (test builds only).
    pub(super) const FAULT_FRAME: &[u8] = b"rustether test: injected fault";

    const HOST_MAC: [u8; 6] = [0x5E, 1, 2, 3, 4, 5];
    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

    /// "Who has 192.168.30.1" from a client.
    fn arp_request() -> Bytes {
        let eth = EthernetRepr {
            src_addr: EthernetAddress(CLIENT_MAC),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EthernetProtocol::Arp,
        };
        let arp = ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(CLIENT_MAC),
            source_protocol_addr: Ipv4Addr::new(192, 168, 30, 10),
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: Ipv4Addr::new(192, 168, 30, 1),
        };
        let mut b = vec![0u8; eth.buffer_len() + arp.buffer_len()];
        let mut f = EthernetFrame::new_unchecked(&mut b[..]);
        eth.emit(&mut f);
        arp.emit(&mut ArpPacket::new_unchecked(f.payload_mut()));
        Bytes::from(b)
    }

    /// The next frame for the hub, or None when the driver has ended.
    async fn next(out: &mut mpsc::Receiver<Vec<u8>>) -> Option<Vec<u8>> {
        tokio::time::timeout(Duration::from_secs(10), out.recv())
            .await
            .expect("a frame or the end of the driver within 10 s")
    }

    fn is_arp_reply(f: &[u8]) -> bool {
        let Ok(e) = EthernetFrame::new_checked(f) else {
            return false;
        };
        let reply = ArpPacket::new_checked(e.payload())
            .ok()
            .and_then(|p| ArpRepr::parse(&p).ok());
        e.src_addr() == EthernetAddress(HOST_MAC)
            && matches!(
                reply,
                Some(ArpRepr::EthernetIpv4 {
                    operation: ArpOperation::Reply,
                    ..
                })
            )
    }

    #[tokio::test]
    async fn the_virtual_host_is_restarted_after_an_internal_error_with_its_leases() {
        let now = unix_ms_now();
        let kept = SavedLease {
            lease: Lease {
                id: 1,
                mac: [2, 0, 0, 0, 0, 9],
                ip: Ipv4Addr::new(192, 168, 30, 50),
                mask: Ipv4Addr::new(255, 255, 255, 0),
                hostname: "kept".into(),
                leased_at: Duration::ZERO,
                expires_at: Duration::ZERO,
            },
            leased_unix_ms: now - 1000,
            expires_unix_ms: now + 3_600_000,
        };
        let book = Arc::new(tokio::sync::watch::channel(Vec::new()).0);
        let cfg = DriverConfig {
            leases: vec![kept],
            lease_book: Some(book.clone()),
            hub_name: "TEST".into(),
            ..DriverConfig::default()
        };
        let opt = VhOption {
            mac: HOST_MAC,
            ..VhOption::default()
        };
        let (nat, mut out) = SecureNat::start(opt, cfg).unwrap();
        assert!(nat.input(arp_request()));
        assert!(is_arp_reply(&next(&mut out).await.unwrap()));
        for round in 0..MAX_RESTARTS {
            assert!(nat.input(Bytes::from_static(FAULT_FRAME)));
            // A new host answers, with the lease of the failed one.
            assert!(nat.input(arp_request()));
            let f = next(&mut out).await.expect("the driver still runs");
            assert!(is_arp_reply(&f), "round {round}");
            let leases = nat.leases().await;
            assert!(
                leases.iter().any(|l| l.hostname == "kept"),
                "round {round}: {leases:?}"
            );
        }
        // One error more within the window: SecureNAT stops, and the hub's
        // side of the queue sees the end.
        assert!(nat.input(Bytes::from_static(FAULT_FRAME)));
        assert!(next(&mut out).await.is_none());
        assert!(book.borrow().iter().any(|l| l.lease.hostname == "kept"));
    }

    #[test]
    fn resolv_conf_nameservers_ipv4_at_most_three() {
        let text = "# c\nsearch x\nnameserver 10.0.0.53\nnameserver ::1\nnameserver 127.0.0.53\nnameserver 1.1.1.1\nnameserver 8.8.8.8\nnameserver bogus\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 53), 53),
                SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 53), 53),
                SocketAddrV4::new(Ipv4Addr::new(1, 1, 1, 1), 53),
            ]
        );
        assert!(parse_resolv_conf("").is_empty());
    }

    #[test]
    fn local_guard_lists_loopback_and_refuses_it() {
        let g = local_guard();
        assert!(g.local_addrs.contains(&Ipv4Addr::LOCALHOST));
        assert!(!g.allows(Ipv4Addr::LOCALHOST));
    }
}
