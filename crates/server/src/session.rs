//! VPN sessions in the data phase.
//!
//! A session owns 1..=32 TCP connections (docs/protocol-sslvpn.md §6). Each
//! connection's read half runs in its own task that decodes the block stream
//! and switches whole batches through the hub. One session task owns the
//! session's hub queue and the write halves: it batches queued frames into
//! one data item per write (several blocks per TLS write), sends keep-alives,
//! enforces the receive timeout. A session whose last connection the peer
//! closed waits, without connections, for the client to resume it with an
//! additional connection until the receive timeout has passed since it
//! last received anything (as SoftEther; docs/protocol-sslvpn.md §6.3).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use parking_lot::Mutex;
use rand::SeedableRng;
use rustether_hub::SessionId;
use rustether_proto::block::{keepalive_interval_ms, BlockDecoder, BlockEncoder, BlockEvent};
use rustether_proto::messages::Direction;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, watch, Notify};
use tokio::task::JoinHandle;
use tracing::{debug, info};

use crate::clock::now_ms;
use crate::hub::{DataDrop, Hub, PortReceiver, PortStats};
use crate::transport::{DataReader, DataStream, DataWriter};
use crate::udp::{UdpInfo, UdpPath};
use rustether_proto::udpaccel::{DatagramBatch, Received, UdpAccel, MAX_BATCH_DATAGRAMS};

/// Hard limit of TCP connections per session (SoftEther `MAX_TCP_CONNECTION`).
pub const MAX_TCP_CONNECTION: u32 = 32;
/// Most frames taken from the queue for one data item.
const MAX_BATCH_FRAMES: usize = 512;
/// Most bytes put into one data item before it is written.
const MAX_BATCH_BYTES: usize = 256 * 1024;
/// Read buffer sizes: idle connections keep a small buffer, busy ones grow.
const READ_BUF_MIN: usize = 2 * 1024;
const READ_BUF_MAX: usize = 128 * 1024;

/// Negotiated parameters of a session (the welcome PACK's values).
#[derive(Debug, Clone, Copy)]
pub struct SessionParams {
    /// Maximum TCP connections the client may open.
    pub max_connection: u32,
    /// Data phase inside TLS (`true`) or on raw TCP.
    pub use_encrypt: bool,
    /// Per-block zlib compression.
    pub use_compress: bool,
    /// Half-duplex connections.
    pub half_connection: bool,
    /// QoS flag as negotiated.
    pub qos: bool,
    /// Receive timeout in milliseconds.
    pub timeout_ms: u32,
}

/// The session's share of its policy (SoftEther `POLICY`): traffic shaping
/// and the forced disconnect. `Default` = no limits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionLimits {
    /// Policy `MaxUpload`: client → hub rate in bit/s; 0 = unlimited.
    pub max_upload_bps: u32,
    /// Policy `MaxDownload`: hub → client rate in bit/s; 0 = unlimited.
    pub max_download_bps: u32,
    /// Policy `AutoDisconnect`: the session ends this many seconds after
    /// login; 0 = never.
    pub auto_disconnect_secs: u32,
}

impl SessionLimits {
    /// The limits of an effective policy.
    pub fn from_policy(p: &rustether_proto::softether::policy::PolicyValues) -> SessionLimits {
        use rustether_proto::softether::policy::PolicyId;
        SessionLimits {
            max_upload_bps: p.get(PolicyId::MaxUpload),
            max_download_bps: p.get(PolicyId::MaxDownload),
            auto_disconnect_secs: p.get(PolicyId::AutoDisconnect),
        }
    }
}

/// A token bucket in bits: `rate` bit/s, holding at most one second's worth
/// (SoftEther's limiter measures over `LIMITER_SAMPLING_SPAN`, 1 s, and
/// drops what exceeds the rate). Frames over the rate are dropped, not
/// delayed, as in SoftEther (`StorePacketFilterByTrafficLimiter`).
#[derive(Debug)]
pub struct TokenBucket {
    rate: u64,
    tokens: u64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket for `rate_bps` bit/s (> 0) at time `now_ms`.
    pub fn new(rate_bps: u32, now_ms: u64) -> TokenBucket {
        TokenBucket {
            rate: u64::from(rate_bps),
            tokens: u64::from(rate_bps),
            last_ms: now_ms,
        }
    }

    /// Takes a frame of `bytes` bytes at `now_ms` (monotonic ms): `false`
    /// when the rate is exceeded (the frame is to be dropped).
    pub fn take(&mut self, bytes: usize, now_ms: u64) -> bool {
        let elapsed = now_ms.saturating_sub(self.last_ms);
        if elapsed > 0 {
            self.tokens = self
                .tokens
                .saturating_add(self.rate.saturating_mul(elapsed) / 1000)
                .min(self.rate);
            self.last_ms = now_ms;
        }
        let need = (bytes as u64).saturating_mul(8);
        if need <= self.tokens {
            self.tokens -= need;
            true
        } else {
            false
        }
    }
}

/// Drops the frames of `batch` that exceed `bucket`; returns how many.
fn shape(bucket: &mut TokenBucket, batch: &mut Vec<Bytes>) -> u64 {
    let now = now_ms();
    let before = batch.len();
    batch.retain(|f| bucket.take(f.len(), now));
    (before - batch.len()) as u64
}

/// Descriptive data for administration (SessionList / SessionGet).
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// User name as it appears in the configuration.
    pub username: String,
    /// Client address of the login connection.
    pub client_addr: SocketAddr,
    /// Client product string (`client_str`).
    pub client_str: String,
    /// Client host name reported by the client, if any.
    pub client_hostname: String,
    /// Wall-clock login time, ms since 1970.
    pub created_unix_ms: u64,
    /// Session runs in bridge/routing mode.
    pub bridge_mode: bool,
    /// Session is a cascade or local bridge created by this server.
    pub server_side: bool,
}

#[derive(Debug, Default)]
struct ConnCounts {
    total: u32,
    server_to_client: u32,
    client_to_server: u32,
}

/// A new data-phase connection handed to a session.
pub struct NewConnection {
    /// The negotiated stream.
    pub stream: DataStream,
    /// Bytes already read past the last negotiation message.
    pub leftover: BytesMut,
    /// What this connection carries.
    pub direction: Direction,
    /// Peer address, for logs.
    pub peer: SocketAddr,
}

/// A live session, shared between the registry, the hub and admin.
pub struct Session {
    /// Hub port id.
    pub id: SessionId,
    /// `SID-<USER>-<n>`.
    pub name: String,
    /// 20-byte key clients use for `additional_connect`.
    pub key: [u8; 20],
    /// Hub the session is attached to.
    pub hub: Arc<Hub>,
    /// Negotiated parameters.
    pub params: SessionParams,
    /// Descriptive data.
    pub info: SessionInfo,
    /// Hub port counters.
    pub stats: Arc<PortStats>,
    /// Bytes received from the client on all connections.
    pub recv_bytes: AtomicU64,
    /// Policy limits.
    pub limits: SessionLimits,
    /// Frames dropped by `MaxUpload`/`MaxDownload` shaping (also counted
    /// as [`DataDrop::Shaping`] in [`PortStats::drops`]).
    pub shaped_frames: AtomicU64,
    /// Upload shaping, shared by the session's connections.
    upload: Option<Mutex<TokenBucket>>,
    conns: Mutex<ConnCounts>,
    ctl: mpsc::Sender<NewConnection>,
    stop: Notify,
    stopping: AtomicBool,
    /// Server or client end.
    pub role: Role,
    /// UDP acceleration, when granted (docs/udp-acceleration.md).
    pub udp: Option<UdpInfo>,
    ended: Notify,
    ended_flag: AtomicBool,
    /// What it has reported to [`Registry::accounting`].
    acct: Mutex<crate::accounting::SessionMark>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("name", &self.name).finish()
    }
}

/// Why an additional connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachError {
    /// The session already has more connections than `max_connection`
    /// (`ERR_TOO_MANY_CONNECTION`, 15).
    TooMany,
    /// The session is ending (`ERR_SESSION_TIMEOUT`, 13).
    Gone,
}

impl Session {
    /// Number of TCP connections currently attached.
    pub fn connection_count(&self) -> u32 {
        self.conns.lock().total
    }

    /// Reserves a slot for an additional connection and picks its direction
    /// (docs/protocol-sslvpn.md §6.1 item 4 and §6.2). The slot is released when
    /// the connection ends, or by [`Session::release_slot`] if the hand-off
    /// fails.
    pub fn reserve_additional(&self) -> Result<Direction, AttachError> {
        if self.stopping.load(Ordering::Relaxed) {
            return Err(AttachError::Gone);
        }
        let mut c = self.conns.lock();
        // SoftEther refuses only when the count is already greater than the
        // maximum, so one connection beyond it is accepted (verified).
        if c.total > self.params.max_connection {
            return Err(AttachError::TooMany);
        }
        let dir = if self.params.half_connection {
            rustether_proto::messages::next_direction(
                c.server_to_client as usize,
                c.client_to_server as usize,
            )
        } else {
            Direction::Both
        };
        count(&mut c, dir, 1);
        Ok(dir)
    }

    /// Gives back a slot taken by [`Session::reserve_additional`].
    pub fn release_slot(&self, dir: Direction) {
        count(&mut self.conns.lock(), dir, -1);
    }

    /// Hands a negotiated connection to the session task.
    pub async fn add_connection(&self, conn: NewConnection) -> Result<(), AttachError> {
        let dir = conn.direction;
        self.ctl.send(conn).await.map_err(|_| {
            self.release_slot(dir);
            AttachError::Gone
        })
    }

    /// Waits until the session task has ended.
    pub async fn wait_ended(&self) {
        loop {
            let notified = self.ended.notified();
            if self.ended_flag.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }

    /// Whether the session task has ended.
    pub fn has_ended(&self) -> bool {
        self.ended_flag.load(Ordering::Acquire)
    }

    /// What [`crate::accounting`] needs of this session.
    fn view(&self) -> crate::accounting::SessionView<'_> {
        crate::accounting::SessionView {
            hub: self.hub.name(),
            user: &self.info.username,
            login: self.role == Role::Server && !self.info.server_side,
            created_unix_ms: self.info.created_unix_ms,
            stats: &self.stats,
            mark: &self.acct,
        }
    }

    /// Asks the session to end (admin SessionDisconnect, hub deletion).
    pub fn disconnect(&self) {
        self.stopping.store(true, Ordering::Relaxed);
        self.stop.notify_one();
    }
}

fn count(c: &mut ConnCounts, dir: Direction, delta: i32) {
    let apply = |v: &mut u32| *v = v.saturating_add_signed(delta);
    apply(&mut c.total);
    match dir {
        Direction::ServerToClient => apply(&mut c.server_to_client),
        Direction::ClientToServer => apply(&mut c.client_to_server),
        Direction::Both => {}
    }
}

/// A session's place in the [`Registry`]: its role and its 20-byte key.
type RegistryKey = (Role, [u8; 20]);

/// Sessions by role and key, across all hubs (additional connections carry
/// only the key). The role is part of the key: a cascade's local session
/// carries the key the *remote* server issued, so that server could
/// otherwise attach connections to it, and a cascade into this very server
/// would replace the session it logged in to (issue 9 item 7).
#[derive(Default)]
pub struct Registry {
    by_key: Mutex<HashMap<RegistryKey, Arc<Session>>>,
    next_id: AtomicU64,
    /// Login statistics and traffic counters not yet saved.
    pub accounting: crate::accounting::Accounting,
}

impl Registry {
    /// Looks a session this server accepted ([`Role::Server`]) up by its
    /// 20-byte key: the only sessions an inbound additional connection may
    /// join. Cascade sessions ([`Role::Client`]) are never found.
    pub fn get(&self, key: &[u8]) -> Option<Arc<Session>> {
        let key: [u8; 20] = key.try_into().ok()?;
        self.by_key.lock().get(&(Role::Server, key)).cloned()
    }

    /// All live sessions.
    pub fn all(&self) -> Vec<Arc<Session>> {
        self.by_key.lock().values().cloned().collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.by_key.lock().len()
    }

    /// True when no session is live.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn insert(&self, s: &Arc<Session>) {
        self.by_key.lock().insert((s.role, s.key), s.clone());
        self.accounting
            .registered(&s.view(), rustether_config::model::now_ms());
    }

    /// Removes a session; what it counted since its last report goes to
    /// [`Registry::accounting`].
    fn remove(&self, role: Role, key: &[u8; 20]) {
        let gone = self.by_key.lock().remove(&(role, *key));
        if let Some(s) = gone {
            self.accounting.collect(&s.view(), crate::clock::unix_ms());
        }
    }

    /// Moves every live session's counters since its last report into
    /// [`Registry::accounting`] (before a statistics report or a save).
    pub fn collect_statistics(&self) {
        let now = crate::clock::unix_ms();
        for s in self.all() {
            self.accounting.collect(&s.view(), now);
        }
    }

    /// Allocates a hub port id.
    pub fn next_id(&self) -> SessionId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// Which end of the protocol this session is: it decides which connection
/// directions we send on and which are subject to the receive timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We accepted the session (VPN client logged in to us).
    Server,
    /// We logged in to a remote server (cascade).
    Client,
}

impl Role {
    /// Whether we may send on a connection of this direction.
    pub fn sends_on(self, d: Direction) -> bool {
        match self {
            Role::Server => d.server_sends(),
            Role::Client => d.client_sends(),
        }
    }

    /// Whether the peer may send to us on a connection of this direction.
    pub fn receives_on(self, d: Direction) -> bool {
        match self {
            Role::Server => d.client_sends(),
            Role::Client => d.server_sends(),
        }
    }
}

/// Everything needed to start a session.
pub struct SessionStart {
    /// Hub to attach to.
    pub hub: Arc<Hub>,
    /// `SID-...` name.
    pub name: String,
    /// Session key.
    pub key: [u8; 20],
    /// Negotiated parameters.
    pub params: SessionParams,
    /// Descriptive data.
    pub info: SessionInfo,
    /// Switching policy of the hub port.
    pub policy: rustether_hub::SessionPolicy,
    /// Shaping and forced disconnect.
    pub limits: SessionLimits,
    /// Server or client end.
    pub role: Role,
    /// The UDP acceleration path granted in the welcome, if any.
    pub udp: Option<UdpPath>,
    /// Whether the session outlives its last TCP connection until its
    /// receive timeout, so that the client can resume it with an additional
    /// connection, as SoftEther's server does unless `DisableSessionReconnect`
    /// is set (src/Cedar/Connection.c `DISCONNECT_THIS_TCP` only removes the
    /// socket; src/Cedar/Session.c `SessionMain` ends the session on
    /// `LastCommTime`). `false` = it ends with its last connection.
    pub resumable: bool,
}

/// Creates the session, registers it, and spawns its task with the login
/// connection. Returns the shared handle.
pub fn spawn(
    registry: &Arc<Registry>,
    start: SessionStart,
    first: NewConnection,
    shutdown: watch::Receiver<bool>,
) -> Arc<Session> {
    let id = registry.next_id();
    let (frames_rx, stats) = start.hub.attach(id, start.policy);
    // SoftEther writes a client's physical IP, not that of its own links.
    let phys = if start.info.server_side {
        String::new()
    } else {
        start.info.client_addr.ip().to_string()
    };
    start.hub.name_port(id, &start.name, &phys);
    let (ctl_tx, ctl_rx) = mpsc::channel(4);
    let mut counts = ConnCounts::default();
    count(&mut counts, first.direction, 1);
    let session = Arc::new(Session {
        id,
        name: start.name,
        key: start.key,
        hub: start.hub,
        params: start.params,
        info: start.info,
        stats,
        recv_bytes: AtomicU64::new(0),
        limits: start.limits,
        shaped_frames: AtomicU64::new(0),
        upload: (start.limits.max_upload_bps != 0)
            .then(|| Mutex::new(TokenBucket::new(start.limits.max_upload_bps, now_ms()))),
        conns: Mutex::new(counts),
        ctl: ctl_tx,
        stop: Notify::new(),
        stopping: AtomicBool::new(false),
        role: start.role,
        udp: start
            .udp
            .as_ref()
            .map(|p| crate::udp::info_for(p, p.clamp_mss)),
        ended: Notify::new(),
        ended_flag: AtomicBool::new(false),
        acct: Mutex::default(),
    });
    registry.insert(&session);
    let task = SessionTask {
        session: session.clone(),
        registry: registry.clone(),
        frames_rx,
        ctl_rx,
        shutdown,
        udp: start.udp,
        resumable: start.resumable,
    };
    tokio::spawn(task.run(first));
    session
}

/// Registers a session whose frames another protocol carries (OpenVPN,
/// crate::openvpn): attaches it to the hub and the registry so it shows in
/// SessionList, without a session task. Returns the session and its hub
/// queue. The caller forwards frames with [`Hub::forward`], waits for
/// [`Session::stop_requested`] and ends with [`Session::end_external`].
pub fn register_external(
    registry: &Arc<Registry>,
    start: SessionStart,
) -> (Arc<Session>, PortReceiver) {
    let id = registry.next_id();
    let (frames_rx, stats) = start.hub.attach(id, start.policy);
    // SoftEther writes a client's physical IP, not that of its own links.
    let phys = if start.info.server_side {
        String::new()
    } else {
        start.info.client_addr.ip().to_string()
    };
    start.hub.name_port(id, &start.name, &phys);
    // No SoftEther connections join it: the receiver is dropped at once,
    // so `add_connection` fails with `Gone`.
    let (ctl_tx, _) = mpsc::channel(1);
    let session = Arc::new(Session {
        id,
        udp: None,
        name: start.name,
        key: start.key,
        hub: start.hub,
        params: start.params,
        info: start.info,
        stats,
        recv_bytes: AtomicU64::new(0),
        limits: start.limits,
        shaped_frames: AtomicU64::new(0),
        upload: None,
        conns: Mutex::new(ConnCounts {
            total: 1,
            ..ConnCounts::default()
        }),
        ctl: ctl_tx,
        stop: Notify::new(),
        stopping: AtomicBool::new(false),
        role: start.role,
        ended: Notify::new(),
        ended_flag: AtomicBool::new(false),
        acct: Mutex::default(),
    });
    registry.insert(&session);
    (session, frames_rx)
}

impl Session {
    /// Writes SoftEther's `LH_END_SESSION` to the hub's security log (the
    /// sizes as `SessionGet` shows them: incoming is not counted yet).
    fn log_end(&self) {
        let bytes = self.recv_bytes.load(Ordering::Relaxed);
        self.hub.security_log(&format!(
            "Session \"{}\": The session has been terminated. The statistical information is as follows: Total outgoing data size: {} bytes, Total incoming data size: {} bytes.",
            self.name,
            bytes,
            0
        ));
    }

    /// Resolves once [`Session::disconnect`] was called (admin
    /// SessionDisconnect, hub stopped or deleted).
    pub async fn stop_requested(&self) {
        loop {
            let n = self.stop.notified();
            if self.stopping.load(Ordering::Relaxed) {
                return;
            }
            n.await;
        }
    }

    /// Ends a session made by [`register_external`]: leaves the registry
    /// and the hub, wakes [`Session::wait_ended`].
    pub fn end_external(&self, registry: &Registry) {
        self.stopping.store(true, Ordering::Relaxed);
        registry.remove(self.role, &self.key);
        self.hub.detach(self.id);
        self.log_end();
        self.ended_flag.store(true, Ordering::Release);
        self.ended.notify_waiters();
    }
}

struct Writer {
    conn: u64,
    half: DataWriter,
    /// When we last sent anything on this connection (ms, [`now_ms`]).
    last_send_ms: u64,
    /// Current keep-alive interval, random in [timeout/5, timeout/2).
    keepalive_ms: u64,
}

struct ReaderSlot {
    task: JoinHandle<()>,
    last_recv_ms: Arc<AtomicU64>,
    /// Connections that may carry client→server data are subject to the
    /// receive timeout (docs/protocol-sslvpn.md §6.2).
    timed: bool,
    direction: Direction,
}

struct SessionTask {
    session: Arc<Session>,
    registry: Arc<Registry>,
    frames_rx: PortReceiver,
    ctl_rx: mpsc::Receiver<NewConnection>,
    shutdown: watch::Receiver<bool>,
    udp: Option<UdpPath>,
    resumable: bool,
}

/// Waits until the UDP socket is readable; never, without one.
async fn udp_readable(sock: Option<&tokio::net::UdpSocket>) {
    match sock {
        Some(s) if s.readable().await.is_ok() => {}
        _ => std::future::pending().await,
    }
}

/// Lowers the TCP MSS of SYN frames to and from a session with UDP
/// acceleration (SoftEther Hub.c, `AdjustTcpMssL2` with `UdpAccelMss`), so
/// that segments fit one datagram. Only SYNs are copied.
/// Frames received from the client (over TCP or UDP) into the hub: MSS
/// clamping, the upload shaping policy (drops counted), then forwarding.
/// Back-pressure: while a unicast destination's queue is above its
/// high-water mark this waits, so the caller stops reading its connection
/// or socket (bounded per destination, crate::hub).
async fn ingress(s: &Session, batch: &mut Vec<Bytes>) {
    clamp_mss(s, batch);
    if let Some(b) = &s.upload {
        let n = shape(&mut b.lock(), batch);
        if n > 0 {
            s.shaped_frames.fetch_add(n, Ordering::Relaxed);
            s.hub.count_drop(&s.stats, DataDrop::Shaping, n);
        }
    }
    if !batch.is_empty() {
        s.hub.forward(s.id, batch).relieve().await;
    }
}

fn clamp_mss(s: &Session, batch: &mut [Bytes]) {
    let Some(mss) = s.udp.as_ref().map(|u| u.mss).filter(|m| *m != 0) else {
        return;
    };
    for f in batch.iter_mut() {
        if rustether_hub::mss::needs_mss_clamp(f, mss) {
            let mut m = BytesMut::from(&f[..]);
            rustether_hub::mss::clamp_tcp_mss(&mut m, mss);
            *f = m.freeze();
        }
    }
}

/// Publishes the UDP counters and state; logs when the path comes up or
/// goes down.
fn note_udp(s: &Session, a: &UdpAccel, ready: bool) {
    if let Some(i) = &s.udp {
        if i.in_use.load(Ordering::Relaxed) != ready {
            info!(
                session = %s.name,
                peer = %a.peer(),
                "UDP acceleration {}",
                if ready { "in use" } else { "not in use: frames go over TCP" }
            );
        }
        i.update(a.stats(), ready);
    }
}

/// Sends `data` to `to` and, if given, `also`; errors (ICMP unreachable
/// reported on the socket, full buffers) are the path going down, which
/// the keep-alive timeout detects.
async fn udp_send(
    sock: &tokio::net::UdpSocket,
    data: &[u8],
    to: SocketAddr,
    also: Option<SocketAddr>,
) {
    if data.is_empty() {
        return;
    }
    for a in std::iter::once(to).chain(also) {
        if let Err(e) = sock.send_to(data, a).await {
            debug!(to = %a, "UDP acceleration send failed: {e}");
        }
    }
}

impl SessionTask {
    async fn run(mut self, first: NewConnection) {
        let s = self.session.clone();
        let timeout_ms = u64::from(s.params.timeout_ms.max(5_000));
        // (connection, whether it broke the protocol)
        let (dead_tx, mut dead_rx) = mpsc::unbounded_channel::<(u64, bool)>();
        let mut writers: Vec<Writer> = Vec::new();
        let mut readers: HashMap<u64, ReaderSlot> = HashMap::new();
        let mut next_conn = 0u64;
        let mut encoder = BlockEncoder::new(s.params.use_compress);
        let mut out = BytesMut::new();
        let mut batch: Vec<Bytes> = Vec::new();
        let mut rng = rand::rngs::StdRng::from_entropy();
        let (udp_sock, mut accel) = match self.udp.take() {
            Some(p) => (Some(p.sock), Some(p.accel)),
            None => (None, None),
        };
        let mut udp_in = crate::udp::RecvBatch::default();
        let mut udp_dgrams = DatagramBatch::new(MAX_BATCH_DATAGRAMS);
        let mut udp_gso = crate::udp::Gso::default();
        let mut udp_out: Vec<u8> = Vec::new();
        let mut udp_batch: Vec<Bytes> = Vec::new();
        // One timer per session, re-armed only when it fires: keep-alives and
        // receive timeouts are checked at the earliest deadline, so an idle
        // session wakes up a few times per timeout period, not per tick.
        let timer = tokio::time::sleep(Duration::ZERO);
        tokio::pin!(timer);
        // Policy AutoDisconnect.
        let auto_disconnect = s.limits.auto_disconnect_secs;
        let auto = async move {
            if auto_disconnect == 0 {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(Duration::from_secs(u64::from(auto_disconnect))).await;
        };
        tokio::pin!(auto);
        let mut download = (s.limits.max_download_bps != 0)
            .then(|| TokenBucket::new(s.limits.max_download_bps, now_ms()));

        let mut add = |c: NewConnection,
                       writers: &mut Vec<Writer>,
                       readers: &mut HashMap<u64, ReaderSlot>| {
            next_conn += 1;
            let conn = next_conn;
            let (r, w) = c.stream.split();
            let last = Arc::new(AtomicU64::new(now_ms()));
            let task = tokio::spawn(read_loop(
                r,
                c.leftover,
                s.clone(),
                last.clone(),
                conn,
                dead_tx.clone(),
            ));
            readers.insert(
                conn,
                ReaderSlot {
                    task,
                    last_recv_ms: last,
                    timed: s.role.receives_on(c.direction),
                    direction: c.direction,
                },
            );
            if s.role.sends_on(c.direction) {
                // Each side sends a keep-alive right away (§7.1): last_send 0
                // makes the next timer check send one.
                writers.push(Writer {
                    conn,
                    half: w,
                    last_send_ms: 0,
                    keepalive_ms: 0,
                });
            }
            debug!(session = %s.name, peer = %c.peer, dir = ?c.direction, "connection attached");
        };
        add(first, &mut writers, &mut readers);
        let mut reason = "the client disconnected";
        // Last time (ms, [`now_ms`]) anything was received on a connection
        // that is gone: a resumable session without connections lives until
        // this plus the receive timeout.
        let mut last_comm_ms = now_ms();
        let resumable = self.resumable;

        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.changed() => { reason = "the server is shutting down"; break; }
                _ = s.stop.notified() => { reason = "an administrator disconnected it"; break; }
                _ = &mut auto => { reason = "its policy AutoDisconnect expired"; break; }
                Some(c) = self.ctl_rx.recv() => {
                    if readers.is_empty() {
                        info!(session = %s.name, "the client resumed the session with a new connection");
                    }
                    add(c, &mut writers, &mut readers);
                    timer.as_mut().reset(tokio::time::Instant::now());
                }
                Some((conn, violation)) = dead_rx.recv() => {
                    last_comm_ms = last_comm_ms.max(drop_conn(&s, conn, &mut writers, &mut readers));
                    if readers.is_empty() {
                        // A client that broke the protocol cannot resume
                        // (ours; SoftEther waits for the timeout either way).
                        if !resumable || violation {
                            if violation { reason = "its connection broke the protocol"; }
                            break;
                        }
                        await_resume(&s, timeout_ms);
                        timer.as_mut().reset(tokio::time::Instant::now());
                    }
                }
                f = self.frames_rx.recv() => {
                    let Some(f) = f else { break };
                    let mut bytes = f.len();
                    batch.push(f);
                    while batch.len() < MAX_BATCH_FRAMES && bytes < MAX_BATCH_BYTES {
                        match self.frames_rx.try_recv() {
                            Some(f) => { bytes += f.len(); batch.push(f); }
                            None => break,
                        }
                    }
                    clamp_mss(&s, &mut batch);
                    if let Some(b) = download.as_mut() {
                        let n = shape(b, &mut batch);
                        if n > 0 {
                            s.shaped_frames.fetch_add(n, Ordering::Relaxed);
                            s.hub.count_drop(&s.stats, DataDrop::Shaping, n);
                        }
                        if batch.is_empty() { continue; }
                    }
                    if let (Some(a), Some(sock)) = (accel.as_mut(), udp_sock.as_ref()) {
                        // While the UDP path is up every frame that fits
                        // goes over it (`UdpAccelIsSendReady`, Connection.c).
                        let now = now_ms();
                        if a.is_send_ready(now) {
                            // Encoded back to back, sent with one
                            // sendmmsg per MAX_BATCH_DATAGRAMS.
                            let mut rest = Vec::new();
                            for f in batch.drain(..) {
                                if !UdpAccel::fits(f.len()) {
                                    rest.push(f);
                                    continue;
                                }
                                if udp_dgrams.is_full() {
                                    crate::udp::send_batch(sock, &udp_dgrams, &mut udp_gso).await;
                                    udp_dgrams.clear();
                                }
                                udp_dgrams.push_frame(a, &f, now, &mut rng);
                            }
                            crate::udp::send_batch(sock, &udp_dgrams, &mut udp_gso).await;
                            udp_dgrams.clear();
                            batch = rest;
                            note_udp(&s, a, true);
                            if batch.is_empty() { continue; }
                        }
                    }
                    if writers.is_empty() {
                        s.hub.count_drop(&s.stats, DataDrop::NoConnection, batch.len() as u64);
                        batch.clear();
                        continue;
                    }
                    out.clear();
                    encoder.encode_frames(&mut out, batch.iter().map(|b| &b[..]));
                    batch.clear();
                    let w = &mut writers[0];
                    let conn = w.conn;
                    let ok = write_bounded(&mut w.half, &out, timeout_ms).await;
                    if ok {
                        // Data postpones the keep-alive.
                        w.last_send_ms = now_ms();
                    } else {
                        last_comm_ms = last_comm_ms.max(drop_conn(&s, conn, &mut writers, &mut readers));
                        if readers.is_empty() {
                            if !resumable { break; }
                            await_resume(&s, timeout_ms);
                            timer.as_mut().reset(tokio::time::Instant::now());
                        }
                    }
                    if self.frames_rx.is_empty() && out.capacity() > 16 * 1024 {
                        // Idle again: do not keep a burst-sized buffer per session.
                        out = BytesMut::new();
                    }
                }
                _ = udp_readable(udp_sock.as_ref()) => {
                    let (Some(a), Some(sock)) = (accel.as_mut(), udp_sock.as_ref()) else { continue };
                    let now = now_ms();
                    let mut bytes = 0u64;
                    // A bounded batch per wake-up so the TCP side and the
                    // other branches keep their turn; recvmmsg reads up to
                    // RECV_BATCH datagrams per system call. Reading on
                    // until the socket is empty clears its readiness here,
                    // so the loop does not come back for an empty read
                    // before the destination's task runs.
                    let mut read = 0;
                    while read < MAX_BATCH_FRAMES {
                        let got = match udp_in.recv(sock) {
                            Ok(got) => got,
                            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                            Err(e) => { debug!(session = %s.name, "UDP receive error: {e}"); break; }
                        };
                        read += got;
                        for i in 0..got {
                            let Some((d, src)) = udp_in.datagram_mut(i) else { break };
                            let n = d.len() as u64;
                            match a.receive(d, src, now) {
                                Ok(Received::Frame(f)) => {
                                    bytes += n;
                                    udp_batch.push(Bytes::copy_from_slice(&f));
                                }
                                Ok(Received::KeepAlive) => bytes += n,
                                Err(e) => debug!(session = %s.name, %src, "UDP datagram dropped: {e}"),
                            }
                        }
                    }
                    s.recv_bytes.fetch_add(bytes, Ordering::Relaxed);
                    // While a destination is full, the datagrams wait in
                    // the socket buffer.
                    ingress(&s, &mut udp_batch).await;
                    udp_batch.clear();
                    let ready = a.is_send_ready(now);
                    note_udp(&s, a, ready);
                }
                _ = &mut timer => {
                    let now = now_ms();
                    if let (Some(a), Some(sock)) = (accel.as_mut(), udp_sock.as_ref()) {
                        if let Some((to, also)) = a.poll_keepalive(now, &mut rng, &mut udp_out) {
                            udp_send(sock, &udp_out, to, also).await;
                        }
                        if udp_dgrams.capacity() > 16 * 1024 {
                            // Do not keep a burst-sized buffer per session.
                            udp_dgrams = DatagramBatch::new(MAX_BATCH_DATAGRAMS);
                        }
                        udp_in.trim();
                        let ready = a.is_send_ready(now);
                        note_udp(&s, a, ready);
                    }
                    if readers.is_empty() {
                        // Resumable and without connections (SoftEther's
                        // `LastCommTime` check).
                        if now.saturating_sub(last_comm_ms) > timeout_ms {
                            info!(session = %s.name, "session timed out: nothing received for {} ms and no connection", timeout_ms);
                            reason = "it timed out";
                            break;
                        }
                        let next = (last_comm_ms + timeout_ms + 1).clamp(now + 20, now + 60_000);
                        timer.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(next - now));
                        continue;
                    }
                    let stale: Vec<u64> = readers.iter()
                        .filter(|(_, r)| r.timed && now.saturating_sub(r.last_recv_ms.load(Ordering::Relaxed)) > timeout_ms)
                        .map(|(c, _)| *c).collect();
                    for conn in stale {
                        info!(session = %s.name, "connection timed out: nothing received for {} ms", timeout_ms);
                        drop_conn(&s, conn, &mut writers, &mut readers);
                    }
                    if readers.is_empty() { reason = "it timed out"; break; }
                    let mut failed = Vec::new();
                    for w in writers.iter_mut() {
                        if now.saturating_sub(w.last_send_ms) >= w.keepalive_ms {
                            out.clear();
                            let len = rand::Rng::gen_range(&mut rng, 0..512);
                            encoder.encode_keepalive(&mut out, &mut rng, len);
                            if write_bounded(&mut w.half, &out, timeout_ms).await {
                                w.last_send_ms = now;
                                w.keepalive_ms = keepalive_interval_ms(&mut rng, s.params.timeout_ms);
                            } else {
                                failed.push(w.conn);
                            }
                        }
                    }
                    for conn in failed {
                        last_comm_ms = last_comm_ms.max(drop_conn(&s, conn, &mut writers, &mut readers));
                    }
                    if readers.is_empty() {
                        if !resumable { break; }
                        await_resume(&s, timeout_ms);
                        timer.as_mut().reset(tokio::time::Instant::now());
                        continue;
                    }
                    let mut next = next_deadline(&writers, &readers, timeout_ms);
                    if let Some(a) = &accel { next = next.min(a.next_wakeup()); }
                    let next = next.clamp(now + 20, now + 60_000);
                    timer.as_mut().reset(tokio::time::Instant::now() + Duration::from_millis(next - now));
                }
            }
        }

        s.stopping.store(true, Ordering::Relaxed);
        self.registry.remove(s.role, &s.key);
        s.hub.detach(s.id);
        for (_, r) in readers.drain() {
            r.task.abort();
        }
        for mut w in writers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_millis(200), w.half.shutdown()).await;
        }
        info!(
            hub = %s.hub.name(),
            session = %s.name,
            user = %s.info.username,
            "session ended because {reason}"
        );
        s.log_end();
        if s.stats.drops.total() > 0 {
            // Where its frames were lost, for an administrator without /metrics.
            let by_reason: Vec<String> = DataDrop::ALL
                .iter()
                .filter(|r| s.stats.drops.get(**r) > 0)
                .map(|r| format!("{} {}", r.as_str(), s.stats.drops.get(*r)))
                .collect();
            info!(
                session = %s.name,
                "frames of the session dropped: {}",
                by_reason.join(", ")
            );
        }
        s.ended_flag.store(true, Ordering::Release);
        s.ended.notify_waiters();
    }
}

/// Earliest time (ms, [`now_ms`]) at which a keep-alive is due or a
/// connection may have timed out.
fn next_deadline(writers: &[Writer], readers: &HashMap<u64, ReaderSlot>, timeout_ms: u64) -> u64 {
    let ka = writers
        .iter()
        .map(|w| w.last_send_ms + w.keepalive_ms)
        .min()
        .unwrap_or(u64::MAX);
    let rx = readers
        .values()
        .filter(|r| r.timed)
        .map(|r| r.last_recv_ms.load(Ordering::Relaxed) + timeout_ms + 1)
        .min()
        .unwrap_or(u64::MAX);
    ka.min(rx)
}

/// A resumable session has lost its last connection: it waits for an
/// additional connection until its receive timeout. A new session of the
/// same client must not find its addresses held here (ours; see
/// `Switch::forget_addresses`).
fn await_resume(s: &Session, timeout_ms: u64) {
    info!(session = %s.name, "the session's last connection is gone; it waits {} ms for the client to resume it", timeout_ms);
    s.hub.forget_addresses(s.id);
}

/// Removes connection `conn`; returns when it last received anything (ms,
/// [`now_ms`]), 0 if it was not attached.
fn drop_conn(
    s: &Session,
    conn: u64,
    writers: &mut Vec<Writer>,
    readers: &mut HashMap<u64, ReaderSlot>,
) -> u64 {
    writers.retain(|w| w.conn != conn);
    let Some(r) = readers.remove(&conn) else {
        return 0;
    };
    r.task.abort();
    count(&mut s.conns.lock(), r.direction, -1);
    r.last_recv_ms.load(Ordering::Relaxed)
}

async fn write_bounded(w: &mut DataWriter, data: &[u8], timeout_ms: u64) -> bool {
    let fut = async {
        w.write_all(data).await?;
        w.flush().await
    };
    matches!(
        tokio::time::timeout(Duration::from_millis(timeout_ms), fut).await,
        Ok(Ok(()))
    )
}

/// Reads one connection's block stream and switches its frames.
async fn read_loop(
    mut r: DataReader,
    mut buf: BytesMut,
    s: Arc<Session>,
    last_recv_ms: Arc<AtomicU64>,
    conn: u64,
    dead: mpsc::UnboundedSender<(u64, bool)>,
) {
    let mut violation = false;
    let mut dec = BlockDecoder::new(s.params.use_compress);
    let mut batch: Vec<Bytes> = Vec::with_capacity(64);
    let mut want = READ_BUF_MIN;
    let result: Result<(), String> = async {
        loop {
            loop {
                match dec.next_event(&mut buf) {
                    Ok(Some(BlockEvent::Frame(f))) => batch.push(f),
                    Ok(Some(BlockEvent::KeepAlive)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        s.hub.count_drop(&s.stats, DataDrop::Decode, 1);
                        violation = true;
                        return Err(format!("bad block stream: {e}"));
                    }
                }
            }
            ingress(&s, &mut batch).await;
            if buf.is_empty() && buf.capacity() > READ_BUF_MIN && want == READ_BUF_MIN {
                // Idle again: give the big buffer back.
                buf = BytesMut::new();
            }
            if buf.capacity() - buf.len() < want / 2 {
                buf.reserve(want);
            }
            let n = r.read_buf(&mut buf).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return Ok(());
            }
            // Grow while reads fill the buffer, shrink when they stop.
            want = if n >= want / 2 {
                (want * 2).min(READ_BUF_MAX)
            } else {
                READ_BUF_MIN
            };
            last_recv_ms.store(now_ms(), Ordering::Relaxed);
            s.recv_bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }
    .await;
    if let Err(e) = result {
        info!(session = %s.name, "connection closed: {e}");
    }
    let _ = dead.send((conn, violation));
}

#[cfg(test)]
mod tests {
    use super::TokenBucket;

    #[test]
    fn token_bucket_allows_one_second_then_the_rate() {
        // 8 000 bit/s = 1 000 bytes/s; the bucket starts full.
        let mut b = TokenBucket::new(8_000, 0);
        assert!(b.take(600, 0));
        assert!(b.take(400, 0));
        assert!(!b.take(1, 0));
        // 100 ms later 100 bytes are available again.
        assert!(!b.take(101, 100));
        assert!(b.take(100, 100));
        // Never more than one second's worth.
        assert!(!b.take(1_001, 10_000));
        assert!(b.take(1_000, 10_000));
    }
}
