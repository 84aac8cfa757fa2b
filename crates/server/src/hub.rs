//! Runtime virtual hub: the layer-2 [`Switch`] of `rustether-hub` plus one
//! frame queue per attached port, bounded in bytes.
//!
//! Every participant of a hub (VPN client session, cascade, local bridge,
//! SecureNAT) is a *port*: frames it sends enter through [`Hub::forward`],
//! frames for it leave through the [`PortReceiver`] returned by
//! [`Hub::attach`].
//!
//! # Queues, back-pressure and drops
//!
//! A port's queue holds at most [`PORT_QUEUE_BYTES`] (frame lengths plus
//! [`FRAME_OVERHEAD`] each), SoftEther's per-session send budget
//! (`MAX_SEND_SOCKET_QUEUE_SIZE`, 1600 × 1600 bytes, src/Cedar/Cedar.h).
//! Beyond it a frame is dropped and counted ([`DataDrop::QueueFull`]).
//! Before that, unicast traffic is slowed instead of dropped: when a
//! unicast frame leaves a destination's queue above [`PORT_HIGH_WATER`],
//! [`Hub::forward`] returns a [`Pressure`] and the sender waits
//! ([`Pressure::relieve`]) before it reads more from its own TCP connection,
//! until the queue is below [`PORT_LOW_WATER`]; SoftEther likewise stops
//! reading a connection while its receive FIFO is full
//! (`MAX_BUFFERING_PACKET_SIZE`, src/Cedar/Connection.c). The wait is
//! bounded by [`STALL_WAIT`]: a receiver that does not drain within it is
//! marked *stalled*, nobody waits for it again until it drains below the
//! low-water mark, and its frames are dropped once its queue is full. So
//! one stalled receiver costs a sender at most one [`STALL_WAIT`] per stall
//! and never slows ports that do not send to it. Flooded frames never wait.
//!
//! Every frame the data path drops is counted by reason, per port
//! ([`PortStats`]) and per hub ([`HubStats`]); the switch's own decisions
//! (policy filters, MAC limits, …) are counted by the switch
//! ([`Hub::switch_drops`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rustether_hub::access::AccessList;
use rustether_hub::{
    DropReason, IpEntryView, MacEntryView, Route, SessionId, SessionPolicy, Switch, SwitchConfig,
};
use rustether_proto::softether::access::AccessRule;
use rustether_proto::softether::policy::{PolicyId, PolicyValues};
use tokio::sync::{mpsc, Notify};

use crate::clock::now_ms;
use crate::hublog::{Logs, PacketRecord};
use rustether_config::model::HubLogSetting;

/// Bytes a port's queue holds before new frames are dropped: SoftEther's
/// `MAX_SEND_SOCKET_QUEUE_SIZE` (1600 × 1600, src/Cedar/Cedar.h). Each frame
/// counts its length plus [`FRAME_OVERHEAD`].
pub const PORT_QUEUE_BYTES: usize = 1600 * 1600;

/// Bytes charged per queued frame on top of its length (its handle and
/// queue slot), so that a flood of tiny frames is bounded as well.
pub const FRAME_OVERHEAD: usize = 64;

/// Queue level (bytes) above which a unicast sender is asked to wait.
pub const PORT_HIGH_WATER: usize = PORT_QUEUE_BYTES / 2;

/// Queue level (bytes) below which waiting senders resume.
pub const PORT_LOW_WATER: usize = PORT_QUEUE_BYTES / 4;

/// Longest a sender waits for one destination before that destination
/// counts as stalled (no more waits for it until it drains).
pub const STALL_WAIT: Duration = Duration::from_millis(250);

/// Queue depth (frames) from which frames are copied into a queue instead
/// of shared. A frame is a slice of its sender's read buffer (up to 128
/// KiB) and keeps all of it alive; with the copy, a stalled port pins at
/// most `ZERO_COPY_DEPTH` read buffers (8 MiB) plus [`PORT_QUEUE_BYTES`] of
/// its own copies (issue 9 item 7); a receiver that keeps up never reaches
/// this depth and stays zero-copy.
pub const ZERO_COPY_DEPTH: usize = 64;

/// Why the data path (not the switch) dropped a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataDrop {
    /// The destination port's queue was full ([`PORT_QUEUE_BYTES`]).
    QueueFull,
    /// The destination's policy `VLanId` did not match the frame's tag.
    VlanMismatch,
    /// Over the rate of policy `MaxUpload`/`MaxDownload` (SoftEther drops
    /// these too, `StorePacketFilterByTrafficLimiter`).
    Shaping,
    /// The session had no connection to send on.
    NoConnection,
    /// A bad block stream closed a connection (one per event; the rest of
    /// the connection's data is lost with it).
    Decode,
    /// A local bridge could not hand the frame to its device (queue full
    /// `ENOBUFS`, device gone, frame refused).
    BridgeTx,
    /// A local bridge could not read a frame from its device (truncated,
    /// unrepairable offload frame).
    BridgeRx,
}

impl DataDrop {
    /// Every reason, in the order of [`DataDrop::index`].
    pub const ALL: [DataDrop; 7] = [
        DataDrop::QueueFull,
        DataDrop::VlanMismatch,
        DataDrop::Shaping,
        DataDrop::NoConnection,
        DataDrop::Decode,
        DataDrop::BridgeTx,
        DataDrop::BridgeRx,
    ];

    /// Position in [`DataDrop::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DataDrop::QueueFull => "queue_full",
            DataDrop::VlanMismatch => "vlan_mismatch",
            DataDrop::Shaping => "shaping",
            DataDrop::NoConnection => "no_connection",
            DataDrop::Decode => "decode",
            DataDrop::BridgeTx => "bridge_tx",
            DataDrop::BridgeRx => "bridge_rx",
        }
    }
}

/// Drop counters by [`DataDrop`] reason.
#[derive(Debug, Default)]
pub struct DropCounters([AtomicU64; DataDrop::ALL.len()]);

impl DropCounters {
    /// Frames dropped for `reason`.
    pub fn get(&self, reason: DataDrop) -> u64 {
        self.0[reason.index()].load(Ordering::Relaxed)
    }

    /// Frames dropped for any reason.
    pub fn total(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn add(&self, reason: DataDrop, n: u64) {
        self.0[reason.index()].fetch_add(n, Ordering::Relaxed);
    }
}

/// Counters of one port, shared with the session that owns it.
#[derive(Debug, Default)]
pub struct PortStats {
    /// Frames delivered into this port's queue.
    pub queued: AtomicU64,
    /// Frames this port sent into the hub.
    pub sent_frames: AtomicU64,
    /// Bytes this port sent into the hub.
    pub sent_bytes: AtomicU64,
    /// Of [`PortStats::sent_frames`]: frames to a broadcast or multicast
    /// MAC (group bit of the destination set, as SoftEther's `SessionMain`
    /// counts `BroadcastCount`).
    pub sent_bcast_frames: AtomicU64,
    /// Bytes of [`PortStats::sent_bcast_frames`].
    pub sent_bcast_bytes: AtomicU64,
    /// Bytes of the frames delivered into this port's queue.
    pub queued_bytes: AtomicU64,
    /// Of [`PortStats::queued`]: broadcast or multicast frames.
    pub queued_bcast_frames: AtomicU64,
    /// Bytes of [`PortStats::queued_bcast_frames`].
    pub queued_bcast_bytes: AtomicU64,
    /// Frames for this port dropped by the data path, by reason.
    pub drops: DropCounters,
}

impl PortStats {
    /// Frames dropped because this port's queue was full.
    pub fn dropped_full(&self) -> u64 {
        self.drops.get(DataDrop::QueueFull)
    }
}

/// Counters of one hub: traffic and data-path drops of all its ports,
/// including ports that have left.
#[derive(Debug, Default)]
pub struct HubStats {
    /// Frames sent into the hub by its ports.
    pub frames_in: AtomicU64,
    /// Bytes sent into the hub by its ports.
    pub bytes_in: AtomicU64,
    /// Frames queued for delivery to ports (a flooded frame counts once
    /// per destination).
    pub frames_out: AtomicU64,
    /// Bytes queued for delivery to ports.
    pub bytes_out: AtomicU64,
    /// Frames dropped by the data path, by reason.
    pub drops: DropCounters,
    /// Times a sender waited for a destination's queue (back-pressure).
    pub backpressure_waits: AtomicU64,
    /// Times such a wait ended at [`STALL_WAIT`] (destination stalled).
    pub stalls: AtomicU64,
}

/// The shared state of one port's queue: its level in bytes and frames,
/// and the signal waiting senders wake on.
#[derive(Debug, Default)]
pub struct PortQueue {
    bytes: AtomicUsize,
    frames: AtomicUsize,
    /// High-water mark reached since attach, bytes.
    peak: AtomicUsize,
    room: Notify,
    stalled: AtomicBool,
    closed: AtomicBool,
}

impl PortQueue {
    /// Bytes queued now (frame lengths plus [`FRAME_OVERHEAD`] each).
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Frames queued now.
    pub fn frames(&self) -> usize {
        self.frames.load(Ordering::Relaxed)
    }

    /// Highest [`PortQueue::bytes`] seen since attach.
    pub fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Whether senders have given up waiting for this port.
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed)
    }

    fn took(&self, len: usize) {
        let cost = len + FRAME_OVERHEAD;
        let before = self.bytes.fetch_sub(cost, Ordering::AcqRel);
        self.frames.fetch_sub(1, Ordering::Relaxed);
        if before >= PORT_LOW_WATER && before - cost < PORT_LOW_WATER {
            self.stalled.store(false, Ordering::Relaxed);
            self.room.notify_waiters();
        }
    }

    /// Waits until the queue is below [`PORT_LOW_WATER`], the receiver is
    /// gone, or [`STALL_WAIT`] passed (then marks the port stalled).
    /// Returns `true` if it gave up because of the stall.
    async fn wait_for_room(&self) -> bool {
        let deadline = tokio::time::Instant::now() + STALL_WAIT;
        loop {
            let notified = self.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.closed.load(Ordering::Acquire)
                || self.stalled.load(Ordering::Relaxed)
                || self.bytes.load(Ordering::Acquire) < PORT_LOW_WATER
            {
                return false;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                self.stalled.store(true, Ordering::Relaxed);
                return true;
            }
        }
    }
}

/// The receiving end of a port's queue ([`Hub::attach`]).
#[derive(Debug)]
pub struct PortReceiver {
    rx: mpsc::UnboundedReceiver<Bytes>,
    queue: Arc<PortQueue>,
}

impl PortReceiver {
    /// The next frame; `None` once the port was detached.
    pub async fn recv(&mut self) -> Option<Bytes> {
        let f = self.rx.recv().await?;
        self.queue.took(f.len());
        Some(f)
    }

    /// The next frame if one is queued.
    pub fn try_recv(&mut self) -> Option<Bytes> {
        let f = self.rx.try_recv().ok()?;
        self.queue.took(f.len());
        Some(f)
    }

    /// Whether no frame is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// The queue's level and state.
    pub fn queue(&self) -> &Arc<PortQueue> {
        &self.queue
    }
}

impl Drop for PortReceiver {
    fn drop(&mut self) {
        // Nobody will drain this queue any more: release waiting senders.
        self.queue.closed.store(true, Ordering::Release);
        self.queue.room.notify_waiters();
    }
}

/// Destinations of a [`Hub::forward`] call whose queues are above
/// [`PORT_HIGH_WATER`]; the sender should [`Pressure::relieve`] before it
/// reads more input.
#[derive(Debug, Default)]
#[must_use = "relieve the pressure, or drop it where the sender cannot wait"]
pub struct Pressure {
    queues: Vec<Arc<PortQueue>>,
    hub: Option<Arc<HubStats>>,
}

impl Pressure {
    /// Whether no destination asked for a wait.
    pub fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Waits (at most [`STALL_WAIT`] per destination) until every congested
    /// destination has drained below [`PORT_LOW_WATER`].
    pub async fn relieve(self) {
        for q in &self.queues {
            if let Some(h) = &self.hub {
                h.backpressure_waits.fetch_add(1, Ordering::Relaxed);
            }
            if q.wait_for_room().await {
                if let Some(h) = &self.hub {
                    h.stalls.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    fn add(&mut self, q: &Arc<PortQueue>) {
        if !self.queues.iter().any(|x| Arc::ptr_eq(x, q)) {
            self.queues.push(q.clone());
        }
    }
}

struct Port {
    tx: mpsc::UnboundedSender<Bytes>,
    queue: Arc<PortQueue>,
    stats: Arc<PortStats>,
    /// Policy `VLanId` (0 = none).
    vlan: u16,
    /// Policy `NoIPv6DefaultRouterInRA` (effective).
    no_ra_router: bool,
}

struct HubCore {
    switch: Switch,
    ports: HashMap<SessionId, Port>,
    /// The access list compiled into `switch` (to recompile only on change).
    access_rules: Vec<AccessRule>,
    /// Session name and physical IP of each named port, for the packet log.
    port_names: HashMap<SessionId, (Arc<str>, Arc<str>)>,
}

/// Where a hub's logs go and what they record.
#[derive(Default)]
struct HubLogState {
    logs: Option<Arc<Logs>>,
    setting: HubLogSetting,
}

/// A running virtual hub.
pub struct Hub {
    name: String,
    online: AtomicBool,
    core: Mutex<HubCore>,
    stats: Arc<HubStats>,
    /// Per-hub counter for session names (`SID-<USER>-<n>`).
    session_seq: AtomicU64,
    /// Security and packet log (read once per batch by [`Hub::forward`]).
    log: arc_swap::ArcSwap<HubLogState>,
    /// The name as shared by packet log records.
    log_name: Arc<str>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("name", &self.name).finish()
    }
}

impl Hub {
    /// Creates an empty hub named `name` (its configured spelling).
    pub fn new(name: &str, online: bool) -> Hub {
        Hub {
            name: name.to_string(),
            online: AtomicBool::new(online),
            core: Mutex::new(HubCore {
                switch: Switch::new(SwitchConfig::default()),
                ports: HashMap::new(),
                access_rules: Vec::new(),
                port_names: HashMap::new(),
            }),
            stats: Arc::new(HubStats::default()),
            session_seq: AtomicU64::new(0),
            log: arc_swap::ArcSwap::from_pointee(HubLogState::default()),
            log_name: Arc::from(name),
        }
    }

    /// Sends this hub's security and packet logs to `logs` with `setting`
    /// (`LogSetting`), from the next line on.
    pub fn set_logging(&self, logs: &Arc<Logs>, setting: HubLogSetting) {
        let cur = self.log.load();
        if cur.setting == setting && cur.logs.as_ref().is_some_and(|l| Arc::ptr_eq(l, logs)) {
            return;
        }
        self.log.store(Arc::new(HubLogState {
            logs: Some(logs.clone()),
            setting,
        }));
    }

    /// The log settings in force.
    pub fn log_setting(&self) -> HubLogSetting {
        self.log.load().setting
    }

    /// Writes `text` to the server log as `[HUB "NAME"] text` and to the
    /// hub's security log when it is saved (SoftEther `HLog`).
    pub fn security_log(&self, text: &str) {
        tracing::info!("[HUB \"{}\"] {}", self.name, text);
        let st = self.log.load();
        if let Some(l) = &st.logs {
            l.security(&self.name, &st.setting, text);
        }
    }

    /// Names port `id` in packet log lines: its session name and the
    /// physical IP address of its client ("" = none).
    pub fn name_port(&self, id: SessionId, name: &str, physical_ip: &str) {
        self.core
            .lock()
            .port_names
            .insert(id, (Arc::from(name), Arc::from(physical_ip)));
    }

    /// The hub's name as configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the hub accepts sessions (SoftEther "Online" status).
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Sets the online flag; an offline hub refuses new logins with
    /// `ERR_HUB_STOPPING` (10).
    pub fn set_online(&self, online: bool) {
        self.online.store(online, Ordering::Relaxed);
    }

    /// Applies the hub's access list (in evaluation order, as the
    /// configuration holds it) from the next frame on; compiles only when
    /// it changed. Entries with settings this server does not enforce
    /// (delay/jitter/loss, redirect URL, `include:`/`exclude:` files) are
    /// logged once here (docs/administration.md).
    pub fn set_access_list(&self, rules: &[AccessRule]) {
        let mut core = self.core.lock();
        if core.access_rules == rules {
            return;
        }
        for r in rules {
            let what = r.unsupported();
            if !what.is_empty() {
                tracing::warn!(
                    hub = %self.name,
                    id = r.id,
                    "access list entry uses {} which RustEther does not apply (docs/administration.md)",
                    what.join(", ")
                );
            }
        }
        core.switch.set_access_list(AccessList::compile(rules));
        core.access_rules = rules.to_vec();
    }

    /// Next session number for `SID-<USER>-<n>` names.
    pub fn next_session_number(&self) -> u64 {
        self.session_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The hub's traffic and drop counters.
    pub fn stats(&self) -> &Arc<HubStats> {
        &self.stats
    }

    /// Frames the switch dropped, by reason (policy filters, MAC and IP
    /// limits, bad source addresses, …), since the hub started.
    pub fn switch_drops(&self) -> Vec<(DropReason, u64)> {
        let core = self.core.lock();
        let st = core.switch.stats();
        DropReason::ALL
            .iter()
            .map(|r| (*r, st.dropped(*r)))
            .collect()
    }

    /// Queue level of every attached port: (port, bytes, frames).
    pub fn queue_levels(&self) -> Vec<(SessionId, usize, usize)> {
        self.core
            .lock()
            .ports
            .iter()
            .map(|(id, p)| (*id, p.queue.bytes(), p.queue.frames()))
            .collect()
    }

    /// Counts `n` frames of port `port` (its `stats`) dropped for `reason`,
    /// in the port's and the hub's counters.
    pub fn count_drop(&self, port: &PortStats, reason: DataDrop, n: u64) {
        if n > 0 {
            port.drops.add(reason, n);
            self.stats.drops.add(reason, n);
        }
    }

    /// Attaches a port. Returns the receiving end of its frame queue and its
    /// counters.
    pub fn attach(&self, id: SessionId, policy: SessionPolicy) -> (PortReceiver, Arc<PortStats>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let queue = Arc::new(PortQueue::default());
        let stats = Arc::new(PortStats::default());
        let vlan = policy.vlan_id & 0x0fff;
        let no_ra_router = policy.no_default_router_in_ra;
        let mut core = self.core.lock();
        core.switch.add_session(id, policy);
        core.ports.insert(
            id,
            Port {
                tx,
                queue: queue.clone(),
                stats: stats.clone(),
                vlan,
                no_ra_router,
            },
        );
        (PortReceiver { rx, queue }, stats)
    }

    /// Detaches a port and forgets the MAC addresses learned on it.
    pub fn detach(&self, id: SessionId) {
        let mut core = self.core.lock();
        core.switch.remove_session(id);
        core.ports.remove(&id);
        core.port_names.remove(&id);
    }

    /// Forgets the MAC and IP table entries of session `id`, which stays
    /// attached ([`rustether_hub::Switch::forget_addresses`]).
    pub fn forget_addresses(&self, id: SessionId) {
        self.core.lock().switch.forget_addresses(id);
    }

    /// The MAC address table (vpncmd `MacTable`), each entry with its
    /// [`mac_key`].
    pub fn mac_table(&self) -> Vec<(u32, MacEntryView)> {
        self.core
            .lock()
            .switch
            .mac_table()
            .map(|e| (mac_key(&e), e))
            .collect()
    }

    /// Deletes the MAC table entry with `key` (vpncmd `MacDelete`);
    /// whether it existed.
    pub fn delete_mac(&self, key: u32) -> bool {
        let mut core = self.core.lock();
        let found = core.switch.mac_table().find(|e| mac_key(e) == key);
        match found {
            Some(e) => core.switch.remove_mac(e.mac, e.vlan),
            None => false,
        }
    }

    /// The IP address table (vpncmd `IpTable`), each entry with its
    /// [`ip_key`].
    pub fn ip_table(&self) -> Vec<(u32, IpEntryView)> {
        let mut core = self.core.lock();
        core.switch.expire_ip_table(now_ms());
        core.switch.ip_table().map(|e| (ip_key(&e), e)).collect()
    }

    /// Number of IP table entries (`NumIpTables`).
    pub fn ip_count(&self) -> usize {
        self.core.lock().switch.ip_count()
    }

    /// Deletes the IP table entry with `key` (vpncmd `IpDelete`); whether
    /// it existed.
    pub fn delete_ip(&self, key: u32) -> bool {
        let mut core = self.core.lock();
        let found = core.switch.ip_table().find(|e| ip_key(e) == key);
        match found {
            Some(e) => core.switch.remove_ip(e.ip),
            None => false,
        }
    }

    /// Number of attached ports.
    pub fn port_count(&self) -> usize {
        self.core.lock().ports.len()
    }

    /// Number of learned MAC addresses.
    pub fn mac_count(&self) -> usize {
        self.core.lock().switch.mac_count()
    }

    /// Switches a batch of frames sent by port `src`, draining `frames`.
    ///
    /// One lock acquisition per batch; enqueueing never waits. Returns the
    /// unicast destinations whose queues are now above [`PORT_HIGH_WATER`]:
    /// a sender that can slow its own input should
    /// [`Pressure::relieve`] before reading more.
    pub fn forward(&self, src: SessionId, frames: &mut Vec<Bytes>) -> Pressure {
        let mut pressure = Pressure::default();
        if frames.is_empty() {
            return pressure;
        }
        let now = now_ms();
        let mut guard = self.core.lock();
        let core = &mut *guard;
        let mut src_vlan = 0;
        let bytes: usize = frames.iter().map(|f| f.len()).sum();
        self.stats
            .frames_in
            .fetch_add(frames.len() as u64, Ordering::Relaxed);
        self.stats
            .bytes_in
            .fetch_add(bytes as u64, Ordering::Relaxed);
        if let Some(p) = core.ports.get(&src) {
            src_vlan = p.vlan;
            p.stats
                .sent_frames
                .fetch_add(frames.len() as u64, Ordering::Relaxed);
            p.stats
                .sent_bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
            let (n, b) = frames
                .iter()
                .filter(|f| is_group_frame(f))
                .fold((0u64, 0u64), |(n, b), f| (n + 1, b + f.len() as u64));
            if n != 0 {
                p.stats.sent_bcast_frames.fetch_add(n, Ordering::Relaxed);
                p.stats.sent_bcast_bytes.fetch_add(b, Ordering::Relaxed);
            }
        }
        let log = self.log.load();
        let plog = log.logs.as_ref().filter(|_| {
            log.setting.save_packet_log && log.setting.packet_log_config.iter().any(|l| *l != 0)
        });
        for frame in frames.drain(..) {
            let frame = if src_vlan != 0 {
                insert_vlan_tag(&frame, src_vlan)
            } else {
                frame
            };
            let route = core.switch.route(src, &frame, now);
            if let Some(l) = plog {
                self.log_packet(l, &log.setting, &core.port_names, src, &route, &frame);
            }
            for m in core.switch.monitors() {
                if m != src {
                    deliver(&core.ports, &self.stats, m, frame.clone(), None);
                }
            }
            match route {
                Route::Unicast(dst) => {
                    deliver(&core.ports, &self.stats, dst, frame, Some(&mut pressure))
                }
                Route::Flood => {
                    for dst in core.switch.flood_targets(src) {
                        deliver(&core.ports, &self.stats, dst, frame.clone(), None);
                    }
                }
                Route::Drop(_) => {}
            }
        }
        if !pressure.is_empty() {
            pressure.hub = Some(self.stats.clone());
        }
        pressure
    }
}

impl Hub {
    /// Queues `frame` for the packet log if the hub's `PacketLogConfig`
    /// asks for it (`PacketLog`: dropped frames are not logged; a
    /// broadcast has no destination session). Never waits.
    fn log_packet(
        &self,
        logs: &Logs,
        setting: &HubLogSetting,
        names: &HashMap<SessionId, (Arc<str>, Arc<str>)>,
        src: SessionId,
        route: &Route,
        frame: &Bytes,
    ) {
        let dst = match route {
            Route::Unicast(d) => Some(*d),
            Route::Flood => None,
            Route::Drop(_) => return,
        };
        let level = rustether_hub::packetlog::level(frame, &setting.packet_log_config);
        if level == 0 {
            return;
        }
        let empty: (Arc<str>, Arc<str>) = (Arc::from(""), Arc::from(""));
        let (src_name, src_ip) = names.get(&src).cloned().unwrap_or_else(|| empty.clone());
        let (dst_name, dst_ip) = dst.and_then(|d| names.get(&d).cloned()).unwrap_or(empty);
        let with_data = level > rustether_hub::packetlog::LEVEL_HEADER;
        let keep = if with_data {
            frame.len()
        } else {
            frame.len().min(rustether_hub::packetlog::HEADER_BYTES)
        };
        logs.packet(PacketRecord {
            hub: self.log_name.clone(),
            switch: setting.packet_log_switch_type,
            at: std::time::SystemTime::now(),
            frame: frame[..keep].to_vec(),
            size: frame.len(),
            with_data,
            src: src_name,
            dst: dst_name,
            src_ip,
            dst_ip,
        });
    }
}

/// `frame` with an 802.1Q tag (TPID 0x8100, priority 0) carrying `vlan`
/// after the MAC addresses (SoftEther `VLanInsertTag`; an existing tag is
/// kept inside, as there).
fn insert_vlan_tag(frame: &[u8], vlan: u16) -> Bytes {
    if frame.len() < 12 {
        return Bytes::copy_from_slice(frame);
    }
    let mut out = Vec::with_capacity(frame.len() + 4);
    out.extend_from_slice(&frame[..12]);
    out.extend_from_slice(&[0x81, 0x00]);
    out.extend_from_slice(&vlan.to_be_bytes());
    out.extend_from_slice(&frame[12..]);
    Bytes::from(out)
}

/// `frame` without its 802.1Q tag if it carries exactly `vlan`, else `None`
/// (SoftEther `VLanRemoveTag`: the frame is not delivered).
fn remove_vlan_tag(frame: &[u8], vlan: u16) -> Option<Bytes> {
    if frame.len() < 18 || frame[12..14] != [0x81, 0x00] {
        return None;
    }
    if u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff != vlan {
        return None;
    }
    let mut out = Vec::with_capacity(frame.len() - 4);
    out.extend_from_slice(&frame[..12]);
    out.extend_from_slice(&frame[16..]);
    Some(Bytes::from(out))
}

/// A router advertisement with its router lifetime set to 0 and the ICMPv6
/// checksum updated (RFC 1624), as SoftEther's
/// `DeleteIPv6DefaultRouterInRA`; any other frame unchanged.
fn without_default_router(frame: Bytes) -> Bytes {
    let Some((_, icmp)) = rustether_hub::classify::router_advertisement(&frame) else {
        return frame;
    };
    let Some(lifetime) = frame.get(icmp + 6..icmp + 8) else {
        return frame;
    };
    let old = u16::from_be_bytes([lifetime[0], lifetime[1]]);
    if old == 0 {
        return frame;
    }
    let mut f = frame.to_vec();
    let hc = u16::from_be_bytes([f[icmp + 2], f[icmp + 3]]);
    let hc2 = rustether_proto::inet::update_checksum(hc, old, 0);
    f[icmp + 2..icmp + 4].copy_from_slice(&hc2.to_be_bytes());
    f[icmp + 6..icmp + 8].copy_from_slice(&[0, 0]);
    Bytes::from(f)
}

/// The `Key` a MAC table entry is shown with (SoftEther uses the entry's
/// pointer): the 48-bit MAC and 12-bit VLAN id folded into 32 bits, stable
/// for the entry's lifetime. Two entries could share a key; `MacDelete`
/// then removes one of them.
pub fn mac_key(e: &MacEntryView) -> u32 {
    let k = e.mac.to_u64() | (u64::from(e.vlan) << 48);
    let k = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((k >> 32) as u32).max(1)
}

/// The `Key` an IP table entry is shown with: the address folded into 32
/// bits, as [`mac_key`].
pub fn ip_key(e: &IpEntryView) -> u32 {
    let k = match e.ip {
        std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        std::net::IpAddr::V6(v6) => u128::from(v6),
    };
    let k = (k as u64) ^ ((k >> 64) as u64);
    let k = k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    ((k >> 32) as u32).max(1)
}

/// Queues `frame` for port `dst`, or drops and counts it. With `pressure`
/// (unicast), a destination left above [`PORT_HIGH_WATER`] is added to it.
fn deliver(
    ports: &HashMap<SessionId, Port>,
    hub: &HubStats,
    dst: SessionId,
    frame: Bytes,
    pressure: Option<&mut Pressure>,
) {
    if let Some(p) = ports.get(&dst) {
        let drop = |reason: DataDrop| {
            p.stats.drops.add(reason, 1);
            hub.drops.add(reason, 1);
        };
        let frame = if p.vlan != 0 {
            match remove_vlan_tag(&frame, p.vlan) {
                Some(f) => f,
                None => return drop(DataDrop::VlanMismatch),
            }
        } else {
            frame
        };
        let frame = if p.no_ra_router {
            without_default_router(frame)
        } else {
            frame
        };
        // Only this function adds to a queue, under the hub lock: the level
        // read here can only have fallen by the time it is raised.
        let q = &p.queue;
        let len = frame.len();
        let group = is_group_frame(&frame);
        let cost = len + FRAME_OVERHEAD;
        let level = q.bytes.load(Ordering::Acquire);
        if level + cost > PORT_QUEUE_BYTES {
            return drop(DataDrop::QueueFull);
        }
        let frame = if q.frames.load(Ordering::Relaxed) >= ZERO_COPY_DEPTH {
            Bytes::copy_from_slice(&frame)
        } else {
            frame
        };
        q.bytes.fetch_add(cost, Ordering::AcqRel);
        q.frames.fetch_add(1, Ordering::Relaxed);
        if p.tx.send(frame).is_err() {
            // The receiver is gone (port detaching): nobody will take it.
            q.bytes.fetch_sub(cost, Ordering::AcqRel);
            q.frames.fetch_sub(1, Ordering::Relaxed);
            return;
        }
        q.peak.fetch_max(level + cost, Ordering::Relaxed);
        p.stats.queued.fetch_add(1, Ordering::Relaxed);
        p.stats
            .queued_bytes
            .fetch_add(len as u64, Ordering::Relaxed);
        if group {
            p.stats.queued_bcast_frames.fetch_add(1, Ordering::Relaxed);
            p.stats
                .queued_bcast_bytes
                .fetch_add(len as u64, Ordering::Relaxed);
        }
        hub.frames_out.fetch_add(1, Ordering::Relaxed);
        hub.bytes_out.fetch_add(len as u64, Ordering::Relaxed);
        if let Some(pr) = pressure {
            if level + cost > PORT_HIGH_WATER && !q.is_stalled() {
                pr.add(q);
            }
        }
    }
}

/// Whether an Ethernet frame goes to a broadcast or multicast MAC (group
/// bit of the destination): SoftEther's broadcast traffic counters
/// (`SessionMain`, src/Cedar/Session.c: frames of at least 14 bytes).
pub(crate) fn is_group_frame(frame: &[u8]) -> bool {
    frame.len() >= 14 && frame[0] & 1 == 1
}

/// The key of a hub in maps: its name trimmed and upper-cased (hub names
/// are case-insensitive, as in SoftEther).
pub(crate) fn hub_key(name: &str) -> String {
    name.trim().to_ascii_uppercase()
}

/// The switch's part of a session's effective policy: MAC and IPv4
/// limits, spoofing checks, privacy filter and the frame filters, as
/// SoftEther applies them (`StorePacket`, `StorePacketFilterByPolicy`,
/// src/Cedar/Hub.c). Computed once per session; per frame the switch only
/// tests bits.
pub fn switch_policy(p: &PolicyValues) -> SessionPolicy {
    use rustether_hub::classify::*;
    let on = |id| p.flag(id);
    let mut ingress = 0;
    let mut egress = 0;
    // (policy, classes it keeps the session from sending, from receiving)
    let rules: [(PolicyId, FrameClass, FrameClass); 12] = [
        (PolicyId::NoServer, CLASS_TCP4_SYN_ACK, 0),
        (PolicyId::NoServerV6, CLASS_TCP6_SYN_ACK, 0),
        (PolicyId::ArpDhcpOnly, CLASS_BCAST_OTHER, CLASS_BCAST_OTHER),
        (
            PolicyId::FilterIPv4,
            CLASS_IPV4 | CLASS_ARP,
            CLASS_IPV4 | CLASS_ARP,
        ),
        (PolicyId::FilterIPv6, CLASS_IPV6, CLASS_IPV6),
        (PolicyId::FilterNonIP, CLASS_NON_IP, CLASS_NON_IP),
        (PolicyId::DHCPFilter, CLASS_DHCP4, CLASS_DHCP4),
        (PolicyId::DHCPv6Filter, CLASS_DHCP6, CLASS_DHCP6),
        (PolicyId::DHCPNoServer, CLASS_DHCP4_REPLY, 0),
        (PolicyId::DHCPv6NoServer, CLASS_DHCP6_SERVER, 0),
        (
            PolicyId::RSandRAFilter,
            CLASS_ICMP6_RS | CLASS_ICMP6_RA,
            CLASS_ICMP6_RS | CLASS_ICMP6_RA,
        ),
        (PolicyId::RAFilter, CLASS_ICMP6_RA, 0),
    ];
    for (id, i, e) in rules {
        if on(id) {
            ingress |= i;
            egress |= e;
        }
    }
    SessionPolicy {
        check_mac: on(PolicyId::CheckMac),
        monitor: on(PolicyId::MonitorPort),
        max_mac: p.get(PolicyId::MaxMac),
        no_bridge: on(PolicyId::NoBridge),
        no_routing: on(PolicyId::NoRouting),
        max_ip: p.get(PolicyId::MaxIP),
        check_ip: on(PolicyId::CheckIP),
        no_routing_v6: on(PolicyId::NoRoutingV6),
        max_ipv6: p.get(PolicyId::MaxIPv6),
        check_ipv6: on(PolicyId::CheckIPv6),
        dhcp_force: on(PolicyId::DHCPForce),
        privacy_filter: on(PolicyId::PrivacyFilter),
        ingress_deny: ingress,
        egress_deny: egress,
        no_default_router_in_ra: on(PolicyId::NoIPv6DefaultRouterInRA),
        vlan_id: u16::try_from(p.get(PolicyId::VLanId))
            .ok()
            .filter(|v| *v <= 4095)
            .unwrap_or(0),
        // Set by the login, which knows the user and group.
        access_identity: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(dst: [u8; 6], src: [u8; 6], len: usize) -> Bytes {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&dst);
        f[6..12].copy_from_slice(&src);
        f[12] = 0x08;
        Bytes::from(f)
    }

    const A: [u8; 6] = [2, 0, 0, 0, 0, 0xa];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 0xb];
    const BC: [u8; 6] = [0xff; 6];

    #[tokio::test]
    async fn a_stalled_port_pins_a_bounded_number_of_read_buffers() {
        let hub = Hub::new("T", true);
        let (_ra, _) = hub.attach(1, SessionPolicy::default());
        let (mut stalled, _) = hub.attach(2, SessionPolicy::default());
        // Each frame is a 60-byte slice of its own 128 KiB "read buffer".
        const N: usize = 1024;
        let mut buffers = Vec::new();
        for _ in 0..N {
            let mut big = vec![0u8; 128 * 1024];
            big[..6].copy_from_slice(&BC);
            big[6..12].copy_from_slice(&A);
            big[12] = 0x08;
            let big = Bytes::from(big);
            let _ = hub.forward(1, &mut vec![big.slice(..60)]);
            buffers.push(big);
        }
        let mut shared = 0;
        let mut n = 0;
        while let Some(f) = stalled.try_recv() {
            n += 1;
            let p = f.as_ptr() as usize;
            if buffers.iter().any(|b| {
                let s = b.as_ptr() as usize;
                p >= s && p < s + b.len()
            }) {
                shared += 1;
            }
        }
        assert_eq!(n, N, "every frame queued");
        assert_eq!(
            shared, ZERO_COPY_DEPTH,
            "only the first frames share a buffer"
        );
    }

    #[tokio::test]
    async fn floods_then_unicasts_and_never_echoes() {
        let hub = Hub::new("T", true);
        let (mut ra, _) = hub.attach(1, SessionPolicy::default());
        let (mut rb, _) = hub.attach(2, SessionPolicy::default());
        let (mut rc, _) = hub.attach(3, SessionPolicy::default());
        let _ = hub.forward(1, &mut vec![frame(BC, A, 60)]);
        assert!(ra.try_recv().is_none(), "no echo to the source");
        assert_eq!(rb.try_recv().unwrap()[6..12], A);
        assert_eq!(rc.try_recv().unwrap()[6..12], A);
        // B answers A: A is known, so only A receives it.
        let _ = hub.forward(2, &mut vec![frame(A, B, 60)]);
        assert_eq!(ra.try_recv().unwrap()[6..12], B);
        assert!(rc.try_recv().is_none());
    }

    #[tokio::test]
    async fn full_queue_drops_and_counts() {
        let hub = Hub::new("T", true);
        let (_ra, _) = hub.attach(1, SessionPolicy::default());
        let (_rb, sb) = hub.attach(2, SessionPolicy::default());
        // Flooded frames never wait: beyond the byte bound they are dropped.
        let fit = PORT_QUEUE_BYTES / (60 + FRAME_OVERHEAD);
        let mut batch: Vec<Bytes> = (0..fit + 10).map(|_| frame(BC, A, 60)).collect();
        let pressure = hub.forward(1, &mut batch);
        assert!(pressure.is_empty(), "floods never ask the sender to wait");
        assert_eq!(sb.queued.load(Ordering::Relaxed), fit as u64);
        assert_eq!(sb.dropped_full(), 10);
        assert_eq!(hub.stats().drops.get(DataDrop::QueueFull), 10);
        assert_eq!(hub.stats().drops.total(), 10);
        let (_, bytes, frames) = hub.queue_levels().into_iter().find(|l| l.0 == 2).unwrap();
        assert_eq!((bytes, frames), (fit * (60 + FRAME_OVERHEAD), fit));
        assert!(bytes <= PORT_QUEUE_BYTES);
    }

    const C: [u8; 6] = [2, 0, 0, 0, 0, 0xc];
    const D: [u8; 6] = [2, 0, 0, 0, 0, 0xd];

    /// A reader task that takes frames from `rx` until it has `want`,
    /// yielding after each one (a receiver slower than the sender).
    fn reader(mut rx: PortReceiver, want: usize) -> tokio::task::JoinHandle<usize> {
        tokio::spawn(async move {
            let mut n = 0;
            while n < want {
                if rx.recv().await.is_none() {
                    break;
                }
                n += 1;
                tokio::task::yield_now().await;
            }
            n
        })
    }

    // Paused time: the clock only moves when every task is idle, so a
    // receiver that keeps draining is never taken for a stalled one, and a
    // stalled one is detected without waiting in real time.
    #[tokio::test(start_paused = true)]
    async fn unicast_to_a_slow_receiver_waits_instead_of_dropping() {
        let hub = Hub::new("T", true);
        let (_ra, sa) = hub.attach(1, SessionPolicy::default());
        let (rc, sc) = hub.attach(3, SessionPolicy::default());
        let _ = hub.forward(3, &mut vec![frame(BC, C, 60)]); // learn C
                                                             // 20 000 full-size frames, about 12 times the queue's byte bound.
        const N: usize = 20_000;
        let got = reader(rc, N);
        for _ in 0..N / 50 {
            let mut batch: Vec<Bytes> = (0..50).map(|_| frame(C, A, 1514)).collect();
            hub.forward(1, &mut batch).relieve().await;
        }
        assert_eq!(got.await.unwrap(), N, "every frame arrived");
        assert_eq!(sc.drops.total(), 0, "nothing dropped");
        assert_eq!(hub.stats().drops.total(), 0);
        assert_eq!(sa.sent_frames.load(Ordering::Relaxed), N as u64);
        assert!(hub.stats().backpressure_waits.load(Ordering::Relaxed) > 0);
        assert_eq!(hub.stats().stalls.load(Ordering::Relaxed), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_receiver_is_bounded_and_does_not_slow_the_others() {
        let hub = Hub::new("T", true);
        let (_ra, _) = hub.attach(1, SessionPolicy::default());
        let (stalled, sb) = hub.attach(2, SessionPolicy::default());
        let (rc, sc) = hub.attach(3, SessionPolicy::default());
        let (_rd, _) = hub.attach(4, SessionPolicy::default());
        for (port, mac) in [(2, B), (3, C), (4, D)] {
            let _ = hub.forward(port, &mut vec![frame(BC, mac, 60)]);
        }
        // Drain the learning floods from B's and C's queues before counting.
        let (mut stalled, mut rc) = (stalled, rc);
        while stalled.try_recv().is_some() {}
        while rc.try_recv().is_some() {}
        let base = sb.queued.load(Ordering::Relaxed);
        // A sends alternately to B (never reads) and C; D sends to C only.
        const PER_DST: usize = 4_000; // 6 MB each, over twice B's bound
        let got = reader(rc, 2 * PER_DST);
        let mut d_waited_for_b = false;
        for _ in 0..PER_DST / 50 {
            let mut batch: Vec<Bytes> = (0..50)
                .flat_map(|_| [frame(B, A, 1514), frame(C, A, 1514)])
                .collect();
            hub.forward(1, &mut batch).relieve().await;
            let mut batch: Vec<Bytes> = (0..50).map(|_| frame(C, D, 1514)).collect();
            let p = hub.forward(4, &mut batch);
            d_waited_for_b |= p.queues.iter().any(|q| Arc::ptr_eq(q, stalled.queue()));
            p.relieve().await;
        }
        // The others: C got every frame of A and D, nothing was dropped.
        assert_eq!(got.await.unwrap(), 2 * PER_DST);
        assert_eq!(sc.drops.total(), 0);
        // The stalled one: its queue stayed within the bound, the rest was
        // dropped and counted, and senders waited for it only once.
        let q = stalled.queue();
        assert!(q.bytes() <= PORT_QUEUE_BYTES, "{}", q.bytes());
        assert!(q.peak_bytes() <= PORT_QUEUE_BYTES);
        assert!(q.is_stalled());
        let queued = sb.queued.load(Ordering::Relaxed) - base;
        let dropped = sb.dropped_full();
        assert_eq!(queued as usize, q.frames());
        assert_eq!(queued + dropped, PER_DST as u64);
        assert!(dropped > 0);
        assert_eq!(hub.stats().drops.get(DataDrop::QueueFull), dropped);
        assert_eq!(hub.stats().stalls.load(Ordering::Relaxed), 1);
        // D never sent to B, so it never had to wait for B.
        assert!(!d_waited_for_b);
        drop(stalled);
    }

    #[tokio::test]
    async fn a_detached_receiver_releases_waiting_senders() {
        let hub = Hub::new("T", true);
        let (_ra, _) = hub.attach(1, SessionPolicy::default());
        let (rb, _) = hub.attach(2, SessionPolicy::default());
        let _ = hub.forward(2, &mut vec![frame(BC, B, 60)]);
        let mut batch: Vec<Bytes> = (0..PORT_HIGH_WATER / 1500 + 1)
            .map(|_| frame(B, A, 1514))
            .collect();
        let p = hub.forward(1, &mut batch);
        assert!(!p.is_empty());
        hub.detach(2);
        drop(rb);
        // Returns at once: the receiver is gone (no stall recorded).
        p.relieve().await;
        assert_eq!(hub.stats().stalls.load(Ordering::Relaxed), 0);
    }

    #[tokio::test]
    async fn hubs_are_isolated_and_detach_forgets() {
        let h1 = Hub::new("ONE", true);
        let h2 = Hub::new("TWO", true);
        let (_r1, _) = h1.attach(1, SessionPolicy::default());
        let (mut r2, _) = h1.attach(2, SessionPolicy::default());
        let (mut r3, _) = h2.attach(3, SessionPolicy::default());
        let _ = h1.forward(1, &mut vec![frame(BC, A, 60)]);
        assert!(r2.try_recv().is_some());
        assert!(r3.try_recv().is_none());
        assert_eq!(h1.mac_count(), 1);
        h1.detach(1);
        assert_eq!(h1.mac_count(), 0);
        assert_eq!(h1.port_count(), 1);
    }
}
