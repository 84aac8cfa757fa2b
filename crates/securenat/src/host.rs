//! The virtual host: SoftEther's `VH` (src/Cedar/Virtual.c) as a sans-IO
//! state machine. Ethernet frames go in with [`VirtualHost::input`], frames
//! come out of [`VirtualHost::pop_frame`]; time is whatever the caller
//! passes (a monotonic [`Duration`] since any origin).
//!
//! ARP, IPv4 reassembly and TCP are smoltcp's; echo requests to the host
//! come out of smoltcp (reassembled) and are answered here; the DHCP server
//! is intercepted at layer 2 before IP, as SoftEther's `VirtualLayer2`
//! does, and answered by [`crate::dhcp`].

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::Duration;

use dhcproto::Encodable;
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use smoltcp::wire::{
    ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    HardwareAddress, IpCidr, IpProtocol, Ipv4Packet, Ipv4Repr, UdpPacket, UdpRepr,
};

use std::collections::HashMap;
use std::net::SocketAddrV4;

use smoltcp::iface::SocketHandle;
use smoltcp::socket::{raw, tcp};
use smoltcp::wire::{
    Icmpv4Message, Icmpv4Packet, Icmpv4Repr, IpListenEndpoint, IpVersion, TcpControl, TcpPacket,
    TcpRepr, TcpSeqNumber,
};

use crate::dhcp::{DhcpServer, Lease};
use crate::nat::{FlowId, FlowKey, Guard, NatEntry, NatLimits, NatProto, NatTable};
use crate::settings::{mask_prefix, VhOption};

/// Largest frame accepted, bytes (SoftEther `MAX_PACKET_SIZE` is 1600; a
/// 1500-byte MTU frame with a VLAN tag is 1518).
pub const MAX_FRAME: usize = 1600;

/// Most frames waiting in [`VirtualHost::pop_frame`]'s queue; beyond it
/// smoltcp is told the link is busy and new frames are dropped and counted.
pub const MAX_OUT_FRAMES: usize = 1024;

/// DHCP replies are padded to this size (SoftEther `DHCP_MIN_SIZE`).
const DHCP_MIN_SIZE: usize = 300;

const DHCP_SERVER_PORT: u16 = 67;

/// Longest IPv4 header, bytes (IHL 15 words).
const MAX_IPV4_HEADER: usize = 60;

/// Largest ICMP message to the host (ICMP header included) answered,
/// bytes; larger echo requests are dropped. smoltcp itself reassembles
/// larger datagrams: with `std` its reassembly buffers grow up to the
/// largest fragment offset (under 68 KiB each, 4 of them).
const MAX_HOST_ICMP: usize = 16 * 1024;

/// A receive-only raw smoltcp socket for IPv4 datagrams of `proto` (after
/// reassembly) with payloads up to `max_payload` bytes. Room for two: the
/// socket is emptied after every input frame, and a ring needs twice the
/// size to always fit one.
fn receive_socket(proto: IpProtocol, max_payload: usize) -> raw::Socket<'static> {
    raw::Socket::new(
        Some(IpVersion::Ipv4),
        Some(proto),
        raw::PacketBuffer::new(
            vec![raw::PacketMetadata::EMPTY; 2],
            vec![0u8; 2 * (MAX_IPV4_HEADER + max_payload)],
        ),
        raw::PacketBuffer::new(Vec::new(), Vec::new()),
    )
}

/// Bound on extra egress passes per [`VirtualHost::poll`].
const MAX_EGRESS_PASSES: usize = 512;

/// Counters for the status RPC and for tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HostStats {
    /// Frames accepted by [`VirtualHost::input`].
    pub frames_in: u64,
    /// Frames dropped on input (too short/long, malformed, not for us).
    pub frames_dropped: u64,
    /// Frames dropped because the output queue was full.
    pub out_dropped: u64,
    /// DHCP messages answered.
    pub dhcp_replies: u64,
}

/// smoltcp device over a one-frame input slot and an output queue.
#[derive(Debug)]
struct QueueDevice {
    /// The frame smoltcp takes next when `rx_ready` (reused: no allocation
    /// per input frame).
    rx: Vec<u8>,
    rx_ready: bool,
    tx: VecDeque<Vec<u8>>,
    mtu: usize,
    out_dropped: u64,
}

impl QueueDevice {
    fn put_rx(&mut self, frame: &[u8]) {
        self.rx.clear();
        self.rx.extend_from_slice(frame);
        self.rx_ready = true;
    }
}

struct RxTok<'a>(&'a [u8]);
struct TxTok<'a> {
    tx: &'a mut VecDeque<Vec<u8>>,
    out_dropped: &'a mut u64,
}

impl phy::RxToken for RxTok<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = vec![0u8; len];
        let r = f(&mut buf);
        if self.tx.len() < MAX_OUT_FRAMES {
            self.tx.push_back(buf);
        } else {
            *self.out_dropped += 1;
        }
        r
    }
}

impl phy::Device for QueueDevice {
    type RxToken<'a> = RxTok<'a>;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxTok<'_>, TxTok<'_>)> {
        if !std::mem::take(&mut self.rx_ready) {
            return None;
        }
        Some((
            RxTok(&self.rx),
            TxTok {
                tx: &mut self.tx,
                out_dropped: &mut self.out_dropped,
            },
        ))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxTok<'_>> {
        if self.tx.len() >= MAX_OUT_FRAMES {
            return None;
        }
        Some(TxTok {
            tx: &mut self.tx,
            out_dropped: &mut self.out_dropped,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // Layer-4 checksums of the clients' frames are not verified (they
        // come through the session's authenticated tunnel; SoftEther's
        // virtual host checks only the IPv4 header's, Virtual.c
        // `IpCheckChecksum`): computing them was the NAT's largest cost
        // after copies. Outgoing checksums are still filled in.
        caps.checksum.tcp = phy::Checksum::Tx;
        caps.checksum.udp = phy::Checksum::Tx;
        // smoltcp counts the Ethernet header in an Ethernet device's MTU.
        caps.max_transmission_unit = self.mtu + EthernetFrame::<&[u8]>::header_len();
        caps
    }
}

fn instant(now: Duration) -> Instant {
    Instant::from_micros(i64::try_from(now.as_micros()).unwrap_or(i64::MAX))
}

/// The virtual host of one hub.
pub struct VirtualHost {
    opt: VhOption,
    mac: EthernetAddress,
    iface: Interface,
    dev: QueueDevice,
    sockets: SocketSet<'static>,
    dhcp: DhcpServer,
    stats: HostStats,
    nat: NatTable,
    guard: Guard,
    limits: NatLimits,
    dns_servers: Vec<SocketAddrV4>,
    tcp: HashMap<FlowId, TcpFlow>,
    events: VecDeque<NatEvent>,
    /// Payload bytes held by `events` (bounded by [`MAX_EVENT_BYTES`]).
    event_bytes: usize,
    /// Raw smoltcp socket receiving the UDP datagrams smoltcp reassembled
    /// from fragments (unfragmented UDP never reaches smoltcp).
    frag_udp: SocketHandle,
    /// Raw smoltcp socket receiving the ICMP messages smoltcp accepted,
    /// reassembled when fragmented: echo requests to the host are answered
    /// by [`VirtualHost::host_icmp`]. smoltcp's own answer is off: when it
    /// fragments an answer over the MTU, it emits ICMP errors into its whole
    /// fragmentation buffer (a panic) and checksums echo replies over the
    /// stale rest of that buffer (smoltcp 0.12 and 0.13.1).
    host_icmp: SocketHandle,
    /// Aborted sockets kept for one poll so their RST is sent.
    closing: Vec<SocketHandle>,
    /// Frames went into smoltcp since its last egress pass, at this time:
    /// egress runs once for a batch of input frames (one ACK for several
    /// segments) when frames are taken or timers run.
    egress_due: Option<Duration>,
    /// IPv4 identification of the datagrams fragmented here.
    ip_ident: u16,
    /// NAT/DHCP log lines while `SaveLog` is on ([`VirtualHost::pop_log`]).
    log: VecDeque<String>,
}

/// Most log lines waiting in [`VirtualHost::pop_log`]; older ones are
/// dropped first.
pub const MAX_LOG_LINES: usize = 256;

/// Per-TCP-flow state beside the NAT entry.
#[derive(Debug)]
struct TcpFlow {
    /// The client's SYN frame, held until the server-side connect is done.
    syn: Option<Vec<u8>>,
    /// The smoltcp socket once connected.
    handle: Option<SocketHandle>,
}

/// Work for the I/O side (the glue owning real sockets). Events for a flow
/// come in order; after [`NatEvent::Close`] the id is dead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NatEvent {
    /// Connect a TCP socket to `dst`; answer with
    /// [`VirtualHost::tcp_connected`] or [`VirtualHost::tcp_failed`].
    TcpConnect {
        /// Flow.
        id: FlowId,
        /// Destination.
        dst: SocketAddrV4,
    },
    /// Send one UDP datagram to `dst` from the flow's socket (created on
    /// first use); replies go to [`VirtualHost::udp_reply`].
    UdpSend {
        /// Flow.
        id: FlowId,
        /// Destination (for DNS flows: the resolver).
        dst: SocketAddrV4,
        /// Payload.
        payload: Vec<u8>,
    },
    /// Send an ICMP echo request to `dst`; replies go to
    /// [`VirtualHost::icmp_reply`].
    IcmpEcho {
        /// Flow.
        id: FlowId,
        /// Destination.
        dst: Ipv4Addr,
        /// Sequence number.
        seq: u16,
        /// Echo data.
        data: Vec<u8>,
    },
    /// Drop the flow's socket.
    Close {
        /// Flow.
        id: FlowId,
    },
}

/// What the glue needs to know of a TCP flow to splice it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFlowState {
    /// Bytes from the client waiting in the stack.
    pub recv_queue: usize,
    /// Room for bytes to the client.
    pub send_capacity: usize,
    /// The client sent FIN and everything before it has been read.
    pub client_eof: bool,
}

/// Most queued [`NatEvent`]s; beyond it UDP/ICMP packets are dropped.
pub const MAX_EVENTS: usize = 4096;

/// Most payload bytes in queued [`NatEvent`]s; beyond it UDP/ICMP packets
/// are dropped (reassembled datagrams are up to 16 KiB each, so
/// [`MAX_EVENTS`] alone would allow 64 MiB).
pub const MAX_EVENT_BYTES: usize = 8 * 1024 * 1024;

/// TCP buffer per direction per flow, bytes (SoftEther `NAT_SEND_BUF_SIZE`,
/// `NAT_RECV_BUF_SIZE`: 64 KiB).
pub const TCP_BUF: usize = 64 * 1024;

impl std::fmt::Debug for VirtualHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualHost")
            .field("opt", &self.opt)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl VirtualHost {
    /// A host with settings `opt` (checked with [`VhOption::validate`]
    /// first) at time `now`.
    ///
    /// # Errors
    /// The settings' [`crate::settings::SettingsError`].
    pub fn new(opt: VhOption, now: Duration) -> Result<Self, crate::settings::SettingsError> {
        opt.validate()?;
        let mac = EthernetAddress(opt.mac);
        let mut dev = QueueDevice {
            rx: Vec::with_capacity(MAX_FRAME),
            rx_ready: false,
            tx: VecDeque::new(),
            mtu: usize::from(opt.mtu),
            out_dropped: 0,
        };
        let mut config = Config::new(HardwareAddress::Ethernet(mac));
        config.random_seed = rand::random();
        let mut iface = Interface::new(config, &mut dev, instant(now));
        // NAT: accept IP for any destination routed via the host; input()
        // decides what reaches smoltcp, and ARP is filtered to our address.
        iface.set_any_ip(true);
        if iface.routes_mut().add_default_ipv4_route(opt.ip).is_err() {
            tracing::warn!("SecureNAT: route table full");
        }
        let prefix = mask_prefix(opt.mask).unwrap_or(24);
        iface.update_ip_addrs(|addrs| {
            // One address, capacity is at least one: cannot fail.
            let _ = addrs.push(IpCidr::new(opt.ip.into(), prefix));
        });
        let mut sockets = SocketSet::new(Vec::new());
        let frag_udp = sockets.add(receive_socket(IpProtocol::Udp, nat_io::MAX_REASSEMBLED_UDP));
        let host_icmp = sockets.add(receive_socket(IpProtocol::Icmp, MAX_HOST_ICMP));
        Ok(Self {
            opt,
            mac,
            iface,
            dev,
            sockets,
            dhcp: DhcpServer::new(),
            stats: HostStats::default(),
            nat: NatTable::new(),
            guard: Guard::default(),
            limits: NatLimits::default(),
            dns_servers: Vec::new(),
            tcp: HashMap::new(),
            events: VecDeque::new(),
            event_bytes: 0,
            frag_udp,
            host_icmp,
            closing: Vec::new(),
            egress_due: None,
            ip_ident: rand::random(),
            log: VecDeque::new(),
        })
    }

    /// The settings in force.
    pub fn options(&self) -> &VhOption {
        &self.opt
    }

    /// The DHCP leases (for `DhcpTable`).
    pub fn leases(&self) -> &[Lease] {
        self.dhcp.leases()
    }

    /// Takes back leases of an earlier run (see [`DhcpServer::restore`]);
    /// times on this host's clock.
    pub fn restore_leases(&mut self, leases: Vec<Lease>, now: Duration) {
        self.dhcp.restore(&self.opt, leases, now);
    }

    /// Changes whenever the lease table changes ([`DhcpServer::generation`]).
    pub fn lease_generation(&self) -> u64 {
        self.dhcp.generation()
    }

    /// Counters.
    pub fn stats(&self) -> HostStats {
        HostStats {
            out_dropped: self.dev.out_dropped,
            ..self.stats
        }
    }

    /// Next NAT/DHCP log line, oldest first: SoftEther's `NLog` messages
    /// (`LH_NAT_TCP_CREATED`, `LH_NAT_DHCP_CREATED`, … of its string
    /// table, without the "SecureNAT: " prefix), produced only while the
    /// setting `SaveLog` is on. The I/O side writes them to the log.
    pub fn pop_log(&mut self) -> Option<String> {
        self.log.pop_front()
    }

    /// Queues a log line if `SaveLog` is on (bounded, oldest dropped).
    pub(crate) fn nlog(&mut self, line: impl FnOnce() -> String) {
        if !self.opt.save_log {
            return;
        }
        if self.log.len() >= MAX_LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(line());
    }

    /// Next frame to send to the hub, oldest first. Runs smoltcp's egress
    /// first when frames went in since the last one.
    pub fn pop_frame(&mut self) -> Option<Vec<u8>> {
        if let Some(now) = self.egress_due {
            self.egress(now);
        }
        self.dev.tx.pop_front()
    }

    /// How long until [`VirtualHost::poll`] has timer work (retransmits,
    /// ARP retries, lease expiry), `None` for nothing pending.
    pub fn poll_delay(&mut self, now: Duration) -> Option<Duration> {
        if self.egress_due.is_some() {
            return Some(Duration::ZERO);
        }
        self.iface
            .poll_delay(instant(now), &self.sockets)
            .map(|d| Duration::from_micros(d.total_micros()))
    }

    /// Runs timers: smoltcp's and lease expiry.
    pub fn poll(&mut self, now: Duration) {
        self.dhcp.expire(now);
        self.nat_maintain(now);
        self.poll_stack(now);
    }

    /// Runs smoltcp's timers and sends what its sockets have queued (data
    /// given with [`VirtualHost::tcp_send`], ACKs and window updates after
    /// [`VirtualHost::tcp_recv`]), without [`VirtualHost::poll`]'s NAT and
    /// lease maintenance, which is O(flows): for the I/O side after each
    /// batch of frames and socket data.
    pub fn poll_sockets(&mut self, now: Duration) {
        self.poll_stack(now);
    }

    /// Runs smoltcp alone: ingress of a queued frame, then egress.
    fn poll_stack(&mut self, now: Duration) {
        self.iface
            .poll(instant(now), &mut self.dev, &mut self.sockets);
        self.egress(now);
    }

    /// smoltcp's egress until it has nothing more to send.
    fn egress(&mut self, now: Duration) {
        self.egress_due = None;
        let now = instant(now);
        // smoltcp sends one IPv4 fragment per egress pass: keep going while
        // passes produce frames (bounded: a 16 KiB datagram at the minimum
        // MTU is under 400 fragments, and the queue is bounded anyway).
        for _ in 0..MAX_EGRESS_PASSES {
            let before = self.dev.tx.len();
            self.iface
                .poll_egress(now, &mut self.dev, &mut self.sockets);
            if self.dev.tx.len() == before {
                break;
            }
        }
    }

    /// Takes one Ethernet frame from the hub. Frames not for the host
    /// (another unicast MAC, ARP for another address), malformed or over
    /// [`MAX_FRAME`] are dropped and counted; never panics. smoltcp's
    /// answers (TCP ACKs, data) are made by the next
    /// [`VirtualHost::pop_frame`] or poll, once for all frames input since.
    pub fn input(&mut self, frame: &[u8], now: Duration) {
        if frame.len() > MAX_FRAME {
            self.stats.frames_dropped += 1;
            return;
        }
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            self.stats.frames_dropped += 1;
            return;
        };
        let dst = eth.dst_addr();
        if (dst != self.mac && !dst.is_broadcast()) || eth.src_addr() == self.mac {
            self.stats.frames_dropped += 1;
            return;
        }
        self.stats.frames_in += 1;
        match eth.ethertype() {
            EthernetProtocol::Ipv4 => {
                if self.opt.use_dhcp && self.try_dhcp(eth.src_addr().0, eth.payload(), now) {
                    return;
                }
                if dst != self.mac {
                    // Broadcast IP is not the virtual host's business.
                    return;
                }
                // A source no host can have (0.0.0.0, broadcast, multicast):
                // smoltcp would answer it and then assert on the unspecified
                // destination (found by the `securenat_frames` fuzz target);
                // SoftEther's Virtual.c does not answer such sources either.
                let bad_src = Ipv4Packet::new_checked(eth.payload()).map_or(true, |ip| {
                    let src = ip.src_addr();
                    src.is_unspecified() || src.is_broadcast() || src.is_multicast()
                });
                if bad_src {
                    self.stats.frames_dropped += 1;
                    return;
                }
                if !self.nat_input(eth.src_addr().0, frame, now) {
                    return;
                }
            }
            EthernetProtocol::Arp => {
                // smoltcp answers ARP for any address once NAT routing is
                // on; the virtual host owns only its own address.
                let ours = ArpPacket::new_checked(eth.payload())
                    .ok()
                    .and_then(|p| ArpRepr::parse(&p).ok())
                    .is_some_and(|r| match r {
                        ArpRepr::EthernetIpv4 {
                            target_protocol_addr,
                            ..
                        } => target_protocol_addr == self.opt.ip,
                        _ => false,
                    });
                if !ours {
                    return;
                }
            }
            _ => {
                self.stats.frames_dropped += 1;
                return;
            }
        }
        // Ingress only: egress runs once per batch of frames (pop_frame,
        // poll), so that smoltcp acknowledges several segments at once.
        self.dev.put_rx(frame);
        self.iface
            .poll_ingress_single(instant(now), &mut self.dev, &mut self.sockets);
        self.egress_due = Some(now);
        self.reassembled_udp(eth.src_addr().0, now);
        self.host_icmp(eth.src_addr());
    }

    /// Answers the echo requests to the host's address that smoltcp passed
    /// to the `host_icmp` socket (whole, if they came in fragments; split
    /// to the MTU again by `push_fragmented`). Other ICMP messages, and ones
    /// with a bad checksum, are ignored, as SoftEther's `VirtualIcmpReceived`
    /// (Virtual.c) does. `mac` sent the last frame in.
    fn host_icmp(&mut self, mac: EthernetAddress) {
        // The socket holds at most two messages: bounded.
        while let Ok(pkt) = self.sockets.get_mut::<raw::Socket>(self.host_icmp).recv() {
            let echo = Ipv4Packet::new_checked(pkt).ok().and_then(|ip| {
                if ip.dst_addr() != self.opt.ip {
                    return None;
                }
                let body = pkt.get(usize::from(ip.header_len())..)?;
                if body.len() > MAX_HOST_ICMP {
                    return None;
                }
                let icmp = Icmpv4Packet::new_checked(body).ok()?;
                match Icmpv4Repr::parse(&icmp, &ChecksumCapabilities::default()).ok()? {
                    Icmpv4Repr::EchoRequest {
                        ident,
                        seq_no,
                        data,
                    } => Some((ip.src_addr(), ident, seq_no, data.to_vec())),
                    _ => None,
                }
            });
            let Some((src, ident, seq, data)) = echo else {
                continue;
            };
            let frame = self.echo_reply_frame(mac, self.opt.ip, src, ident, seq, &data);
            self.push_fragmented(frame);
        }
    }

    /// Handles a DHCP request if `ip` is one (unfragmented UDP to port 67);
    /// true if it was consumed.
    fn try_dhcp(&mut self, src_mac: [u8; 6], ip: &[u8], now: Duration) -> bool {
        let Ok(ipp) = Ipv4Packet::new_checked(ip) else {
            return false;
        };
        if ipp.next_header() != IpProtocol::Udp || ipp.more_frags() || ipp.frag_offset() != 0 {
            return false;
        }
        let Ok(udp) = UdpPacket::new_checked(ipp.payload()) else {
            return false;
        };
        if udp.dst_port() != DHCP_SERVER_PORT {
            return false;
        }
        let dst_ip = ipp.dst_addr();
        if !dst_ip.is_broadcast() && dst_ip != self.opt.ip {
            return false;
        }
        let src_ip = ipp.src_addr();
        let src_port = udp.src_port();
        let req = match crate::dhcp::decode_request(udp.payload()) {
            Ok(m) => m,
            Err(e) => {
                tracing::debug!("SecureNAT DHCP: dropped message from {src_ip}: {e}");
                self.stats.frames_dropped += 1;
                return true;
            }
        };
        let generation = self.dhcp.generation();
        let reply = self.dhcp.handle(&self.opt, src_mac, src_ip, &req, now);
        if self.dhcp.generation() != generation {
            if let Some(l) = self
                .dhcp
                .leases()
                .iter()
                .find(|l| l.mac == src_mac)
                .cloned()
            {
                let secs = self.opt.lease_secs();
                self.nlog(|| {
                    format!(
                        "The DHCP entry {} has been created. MAC address: {}, IP address: {}, host name: {}, expiration span: {} seconds",
                        l.id,
                        crate::dhcp::fmt_mac(l.mac),
                        l.ip,
                        l.hostname,
                        secs
                    )
                });
            }
        }
        if let Some(reply) = reply {
            match reply.msg.to_vec() {
                Ok(mut payload) => {
                    if payload.len() < DHCP_MIN_SIZE {
                        payload.resize(DHCP_MIN_SIZE, 0);
                    }
                    let dst_mac = if reply.dst_ip.is_broadcast() {
                        EthernetAddress::BROADCAST
                    } else {
                        EthernetAddress(src_mac)
                    };
                    let frame =
                        self.udp_frame(dst_mac, reply.dst_ip, DHCP_SERVER_PORT, src_port, &payload);
                    self.push_out(frame);
                    self.stats.dhcp_replies += 1;
                }
                Err(e) => tracing::warn!("SecureNAT DHCP: cannot encode reply: {e}"),
            }
        }
        true
    }

    fn push_out(&mut self, frame: Vec<u8>) {
        if self.dev.tx.len() < MAX_OUT_FRAMES {
            self.dev.tx.push_back(frame);
        } else {
            self.dev.out_dropped += 1;
        }
    }

    /// An Ethernet/IPv4/UDP frame from the host.
    fn udp_frame(
        &self,
        dst_mac: EthernetAddress,
        dst_ip: Ipv4Addr,
        src_port: u16,
        dst_port: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        self.udp_frame_from(
            dst_mac,
            SocketAddrV4::new(self.opt.ip, src_port),
            SocketAddrV4::new(dst_ip, dst_port),
            payload,
        )
    }
}

pub use nat_io::{MAX_DATAGRAM, MAX_REASSEMBLED_UDP};

#[path = "host_nat.rs"]
mod nat_io;

#[cfg(test)]
#[path = "host_tests.rs"]
mod tests;
