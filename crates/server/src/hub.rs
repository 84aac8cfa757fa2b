//! Runtime virtual hub: the layer-2 [`Switch`] of `rustether-hub` plus one
//! bounded frame queue per attached session.
//!
//! Every participant of a hub (VPN client session, cascade, local bridge) is
//! a *port*: frames it sends enter through [`Hub::forward`], frames for it
//! leave through the receiver returned by [`Hub::attach`]. A slow receiver
//! never stalls the hub: when its queue is full the frame is dropped and
//! counted (SoftEther drops beyond `MAX_STORED_QUEUE_NUM` = 1024 too,
//! docs/process-model.md §12.3).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rustether_hub::{
    IpEntryView, MacEntryView, Route, SessionId, SessionPolicy, Switch, SwitchConfig,
};
use rustether_proto::softether::policy::{PolicyId, PolicyValues};
use tokio::sync::mpsc;

use crate::clock::now_ms;

/// Frames a port's queue holds before new ones are dropped
/// (SoftEther `MAX_STORED_QUEUE_NUM`).
pub const PORT_QUEUE_FRAMES: usize = 1024;

/// Queue depth from which frames are copied into a queue instead of
/// shared. A frame is a slice of its sender's read buffer (up to 128 KiB)
/// and keeps all of it alive; a stalled receiver would otherwise pin
/// `PORT_QUEUE_FRAMES` whole buffers (128 MiB). With the copy, a stalled
/// port pins at most `ZERO_COPY_DEPTH` read buffers (8 MiB) plus its own
/// copies of the other frames (issue 9 item 7); a receiver that keeps up
/// never reaches this depth and stays zero-copy.
pub const ZERO_COPY_DEPTH: usize = 64;

/// Counters of one port, shared with the session that owns it.
#[derive(Debug, Default)]
pub struct PortStats {
    /// Frames delivered into this port's queue.
    pub queued: AtomicU64,
    /// Frames dropped because this port's queue was full.
    pub dropped_full: AtomicU64,
    /// Frames this port sent into the hub.
    pub sent_frames: AtomicU64,
    /// Bytes this port sent into the hub.
    pub sent_bytes: AtomicU64,
}

struct Port {
    tx: mpsc::Sender<Bytes>,
    stats: Arc<PortStats>,
    /// Policy `VLanId` (0 = none).
    vlan: u16,
    /// Policy `NoIPv6DefaultRouterInRA` (effective).
    no_ra_router: bool,
}

struct HubCore {
    switch: Switch,
    ports: HashMap<SessionId, Port>,
}

/// A running virtual hub.
pub struct Hub {
    name: String,
    online: AtomicBool,
    core: Mutex<HubCore>,
    /// Per-hub counter for session names (`SID-<USER>-<n>`).
    session_seq: AtomicU64,
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
            }),
            session_seq: AtomicU64::new(0),
        }
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

    /// Next session number for `SID-<USER>-<n>` names.
    pub fn next_session_number(&self) -> u64 {
        self.session_seq.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Attaches a port. Returns the receiving end of its frame queue and its
    /// counters.
    pub fn attach(
        &self,
        id: SessionId,
        policy: SessionPolicy,
    ) -> (mpsc::Receiver<Bytes>, Arc<PortStats>) {
        let (tx, rx) = mpsc::channel(PORT_QUEUE_FRAMES);
        let stats = Arc::new(PortStats::default());
        let vlan = policy.vlan_id & 0x0fff;
        let no_ra_router = policy.no_default_router_in_ra;
        let mut core = self.core.lock();
        core.switch.add_session(id, policy);
        core.ports.insert(
            id,
            Port {
                tx,
                stats: stats.clone(),
                vlan,
                no_ra_router,
            },
        );
        (rx, stats)
    }

    /// Detaches a port and forgets the MAC addresses learned on it.
    pub fn detach(&self, id: SessionId) {
        let mut core = self.core.lock();
        core.switch.remove_session(id);
        core.ports.remove(&id);
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
    /// One lock acquisition per batch; enqueueing never waits.
    pub fn forward(&self, src: SessionId, frames: &mut Vec<Bytes>) {
        if frames.is_empty() {
            return;
        }
        let now = now_ms();
        let mut guard = self.core.lock();
        let core = &mut *guard;
        let mut src_vlan = 0;
        if let Some(p) = core.ports.get(&src) {
            src_vlan = p.vlan;
            let bytes: usize = frames.iter().map(|f| f.len()).sum();
            p.stats
                .sent_frames
                .fetch_add(frames.len() as u64, Ordering::Relaxed);
            p.stats
                .sent_bytes
                .fetch_add(bytes as u64, Ordering::Relaxed);
        }
        for frame in frames.drain(..) {
            let frame = if src_vlan != 0 {
                insert_vlan_tag(&frame, src_vlan)
            } else {
                frame
            };
            let route = core.switch.route(src, &frame, now);
            for m in core.switch.monitors() {
                if m != src {
                    deliver(&core.ports, m, frame.clone());
                }
            }
            match route {
                Route::Unicast(dst) => deliver(&core.ports, dst, frame),
                Route::Flood => {
                    for dst in core.switch.flood_targets(src) {
                        deliver(&core.ports, dst, frame.clone());
                    }
                }
                Route::Drop(_) => {}
            }
        }
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
    // HC' = ~(~HC + ~m + m'), m' = 0.
    let mut sum = u32::from(!hc) + u32::from(!old);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    let hc2 = !(sum as u16);
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

fn deliver(ports: &HashMap<SessionId, Port>, dst: SessionId, frame: Bytes) {
    if let Some(p) = ports.get(&dst) {
        let frame = if p.vlan != 0 {
            match remove_vlan_tag(&frame, p.vlan) {
                Some(f) => f,
                None => return,
            }
        } else {
            frame
        };
        let frame = if p.no_ra_router {
            without_default_router(frame)
        } else {
            frame
        };
        let depth = p.tx.max_capacity() - p.tx.capacity();
        let frame = if depth >= ZERO_COPY_DEPTH {
            Bytes::copy_from_slice(&frame)
        } else {
            frame
        };
        match p.tx.try_send(frame) {
            Ok(()) => {
                p.stats.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                p.stats.dropped_full.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
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
        let mut buffers = Vec::new();
        for _ in 0..PORT_QUEUE_FRAMES {
            let mut big = vec![0u8; 128 * 1024];
            big[..6].copy_from_slice(&BC);
            big[6..12].copy_from_slice(&A);
            big[12] = 0x08;
            let big = Bytes::from(big);
            hub.forward(1, &mut vec![big.slice(..60)]);
            buffers.push(big);
        }
        let mut shared = 0;
        let mut n = 0;
        while let Ok(f) = stalled.try_recv() {
            n += 1;
            let p = f.as_ptr() as usize;
            if buffers.iter().any(|b| {
                let s = b.as_ptr() as usize;
                p >= s && p < s + b.len()
            }) {
                shared += 1;
            }
        }
        assert_eq!(n, PORT_QUEUE_FRAMES, "every frame queued");
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
        hub.forward(1, &mut vec![frame(BC, A, 60)]);
        assert!(ra.try_recv().is_err(), "no echo to the source");
        assert_eq!(rb.try_recv().unwrap()[6..12], A);
        assert_eq!(rc.try_recv().unwrap()[6..12], A);
        // B answers A: A is known, so only A receives it.
        hub.forward(2, &mut vec![frame(A, B, 60)]);
        assert_eq!(ra.try_recv().unwrap()[6..12], B);
        assert!(rc.try_recv().is_err());
    }

    #[tokio::test]
    async fn full_queue_drops_and_counts() {
        let hub = Hub::new("T", true);
        let (_ra, _) = hub.attach(1, SessionPolicy::default());
        let (_rb, sb) = hub.attach(2, SessionPolicy::default());
        let mut batch: Vec<Bytes> = (0..PORT_QUEUE_FRAMES + 10)
            .map(|_| frame(BC, A, 60))
            .collect();
        hub.forward(1, &mut batch);
        assert_eq!(sb.queued.load(Ordering::Relaxed), PORT_QUEUE_FRAMES as u64);
        assert_eq!(sb.dropped_full.load(Ordering::Relaxed), 10);
    }

    #[tokio::test]
    async fn hubs_are_isolated_and_detach_forgets() {
        let h1 = Hub::new("ONE", true);
        let h2 = Hub::new("TWO", true);
        let (_r1, _) = h1.attach(1, SessionPolicy::default());
        let (mut r2, _) = h1.attach(2, SessionPolicy::default());
        let (mut r3, _) = h2.attach(3, SessionPolicy::default());
        h1.forward(1, &mut vec![frame(BC, A, 60)]);
        assert!(r2.try_recv().is_ok());
        assert!(r3.try_recv().is_err());
        assert_eq!(h1.mac_count(), 1);
        h1.detach(1);
        assert_eq!(h1.mac_count(), 0);
        assert_eq!(h1.port_count(), 1);
    }
}
