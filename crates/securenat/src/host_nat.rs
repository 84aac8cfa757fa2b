//! NAT on the virtual host: frames to other destinations become flows in
//! the [`NatTable`] and [`NatEvent`]s for the I/O side; TCP is terminated in
//! smoltcp (SoftEther terminates it in its own stack in Virtual.c too).

use super::*;

/// Payload bytes an event holds (for [`MAX_EVENT_BYTES`]).
fn event_len(e: &NatEvent) -> usize {
    match e {
        NatEvent::UdpSend { payload, .. } => payload.len(),
        NatEvent::IcmpEcho { data, .. } => data.len(),
        NatEvent::TcpConnect { .. } | NatEvent::Close { .. } => 0,
    }
}

/// The parts of an IPv4 frame the NAT looks at.
struct Parsed {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: IpProtocol,
    fragment: bool,
}

fn parse_ipv4(frame: &[u8]) -> Option<(Parsed, &[u8])> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    let payload = &frame[EthernetFrame::<&[u8]>::header_len()..];
    let _ = eth;
    let ip = Ipv4Packet::new_checked(payload).ok()?;
    let hl = usize::from(ip.header_len());
    let total = usize::from(ip.total_len());
    let body = payload.get(hl..total)?;
    Some((
        Parsed {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            proto: ip.next_header(),
            fragment: ip.more_frags() || ip.frag_offset() != 0,
        },
        body,
    ))
}

/// Largest IPv4 datagram (header included) forwarded to a client from a
/// UDP or ICMP flow, bytes; larger ones are dropped. Over the MTU they are
/// fragmented. The driver reads datagrams into buffers of this size.
pub const MAX_DATAGRAM: usize = 8 * 1024;

/// Largest UDP datagram (UDP header included, IP header not) reassembled
/// from a client's IPv4 fragments and forwarded, bytes; larger ones are
/// dropped. Reassembly itself is smoltcp's (at most 4 datagrams at once,
/// 60 s timeout on the clock passed in), shared with ICMP and TCP.
pub const MAX_REASSEMBLED_UDP: usize = 16 * 1024;

impl VirtualHost {
    /// Sets the server host's own addresses (never reachable through the
    /// NAT; 127.0.0.0/8 always refused) — see [`Guard`].
    pub fn set_guard(&mut self, guard: Guard) {
        self.guard = guard;
    }

    /// Sets the session limits.
    pub fn set_limits(&mut self, limits: NatLimits) {
        self.limits = limits;
    }

    /// Sets the resolvers DNS queries to the host's port 53 go to (the
    /// server's `/etc/resolv.conf`); empty = no DNS proxy.
    pub fn set_dns_servers(&mut self, servers: Vec<SocketAddrV4>) {
        self.dns_servers = servers;
    }

    /// The NAT flows (for `NatTable`).
    pub fn nat_entries(&self) -> impl Iterator<Item = &NatEntry> {
        self.nat.entries()
    }

    /// Next piece of work for the I/O side.
    pub fn pop_event(&mut self) -> Option<NatEvent> {
        let e = self.events.pop_front()?;
        self.event_bytes = self.event_bytes.saturating_sub(event_len(&e));
        Some(e)
    }

    /// TCP flows whose server-side socket is connected.
    pub fn tcp_flows(&self) -> impl Iterator<Item = FlowId> + '_ {
        self.tcp
            .iter()
            .filter(|(_, f)| f.handle.is_some())
            .map(|(id, _)| *id)
    }

    fn push_event(&mut self, e: NatEvent) -> bool {
        let n = event_len(&e);
        if self.events.len() >= MAX_EVENTS || self.event_bytes + n > MAX_EVENT_BYTES {
            self.stats.frames_dropped += 1;
            return false;
        }
        self.event_bytes += n;
        self.events.push_back(e);
        true
    }

    /// Takes the UDP datagrams smoltcp reassembled from fragments (the raw
    /// socket sees them after reassembly) into the same path as
    /// unfragmented ones; `mac` sent the last fragment.
    pub(super) fn reassembled_udp(&mut self, mac: [u8; 6], now: Duration) {
        // The socket holds at most two datagrams: bounded.
        while let Ok(pkt) = self.sockets.get_mut::<raw::Socket>(self.frag_udp).recv() {
            // smoltcp re-emits the header with the last fragment's length:
            // only the addresses are read from it.
            let parsed = Ipv4Packet::new_checked(pkt).ok().and_then(|ip| {
                let body = pkt.get(usize::from(ip.header_len())..)?;
                Some((ip.src_addr(), ip.dst_addr(), body.to_vec()))
            });
            let Some((src, dst, body)) = parsed else {
                self.stats.frames_dropped += 1;
                continue;
            };
            if body.len() > MAX_REASSEMBLED_UDP {
                tracing::debug!(
                    "SecureNAT: reassembled UDP datagram of {} bytes from {src} dropped (max {MAX_REASSEMBLED_UDP})",
                    body.len()
                );
                self.stats.frames_dropped += 1;
                continue;
            }
            let p = Parsed {
                src,
                dst,
                proto: IpProtocol::Udp,
                fragment: false,
            };
            if p.dst == self.opt.ip || self.opt.use_nat {
                self.udp_input(mac, &p, &body, now);
            }
        }
    }

    /// A whole UDP datagram `body` (header included) from the client:
    /// the DNS proxy when to the host's port 53, else a NAT flow.
    fn udp_input(&mut self, mac: [u8; 6], p: &Parsed, body: &[u8], now: Duration) {
        let Ok(u) = UdpPacket::new_checked(body) else {
            self.stats.frames_dropped += 1;
            return;
        };
        if p.dst == self.opt.ip {
            if u.dst_port() == 53 {
                self.dns_input(mac, p, u.src_port(), u.payload(), now);
            }
            return;
        }
        let key = FlowKey {
            proto: NatProto::Udp,
            client: SocketAddrV4::new(p.src, u.src_port()),
            dst: SocketAddrV4::new(p.dst, u.dst_port()),
        };
        self.datagram_out(key, mac, Some(p.dst), key.dst, u.payload(), now);
    }

    /// Takes a frame to our MAC and returns whether smoltcp should see it.
    pub(super) fn nat_input(&mut self, src_mac: [u8; 6], frame: &[u8], now: Duration) -> bool {
        let Some((p, body)) = parse_ipv4(frame) else {
            return false;
        };
        let to_host = p.dst == self.opt.ip;
        if p.proto == IpProtocol::Udp && (to_host || self.opt.use_nat) {
            if p.fragment {
                // smoltcp reassembles; the whole datagram comes back
                // through `reassembled_udp`.
                return true;
            }
            self.udp_input(src_mac, &p, body, now);
            return false;
        }
        if to_host {
            // ICMP and TCP to the host are smoltcp's. Other protocols are
            // ignored, as SoftEther's virtual host does (Virtual.c
            // `IpReceived`): smoltcp would answer "protocol unreachable",
            // and over a small MTU its fragmenting of that answer panics.
            if matches!(p.proto, IpProtocol::Icmp | IpProtocol::Tcp) {
                return true;
            }
            self.stats.frames_dropped += 1;
            return false;
        }
        if !self.opt.use_nat {
            return false;
        }
        match p.proto {
            IpProtocol::Tcp => self.tcp_input(src_mac, &p, body, frame, now),
            IpProtocol::Icmp if !p.fragment => {
                let Ok(ip) = Icmpv4Packet::new_checked(body) else {
                    return false;
                };
                if ip.msg_type() != Icmpv4Message::EchoRequest {
                    return false;
                }
                let key = FlowKey {
                    proto: NatProto::Icmp,
                    client: SocketAddrV4::new(p.src, ip.echo_ident()),
                    dst: SocketAddrV4::new(p.dst, 0),
                };
                let id = match self.flow_for(key, src_mac, Some(p.dst), now) {
                    Some(id) => id,
                    None => return false,
                };
                let data = ip.data().to_vec();
                self.count_up(id, data.len(), now);
                self.push_event(NatEvent::IcmpEcho {
                    id,
                    dst: p.dst,
                    seq: ip.echo_seq_no(),
                    data,
                });
                false
            }
            _ => false,
        }
    }

    fn count_up(&mut self, id: FlowId, n: usize, now: Duration) {
        if let Some(e) = self.nat.get_mut(id) {
            e.bytes_up += n as u64;
            e.last_active = now;
        }
    }

    /// The flow for `key`, created if allowed (refusals are logged).
    fn flow_for(
        &mut self,
        key: FlowKey,
        mac: [u8; 6],
        guarded: Option<Ipv4Addr>,
        now: Duration,
    ) -> Option<FlowId> {
        if let Some(id) = self.nat.lookup(&key) {
            return Some(id);
        }
        match self
            .nat
            .insert(key, mac, guarded, &self.guard, &self.limits, now)
        {
            Ok(id) => {
                let kind = match key.proto {
                    NatProto::Tcp => Some("TCP"),
                    NatProto::Udp | NatProto::Dns => Some("UDP"),
                    // SoftEther logs no ICMP sessions (commented out there).
                    NatProto::Icmp => None,
                };
                if let Some(kind) = kind {
                    self.nlog(|| {
                        format!(
                            "The {kind} session {id} has been created. Connection source {}:{}, Connection destination {}:{}",
                            key.client.ip(),
                            key.client.port(),
                            key.dst.ip(),
                            key.dst.port()
                        )
                    });
                }
                Some(id)
            }
            Err(e) => {
                tracing::info!(
                    "SecureNAT: refused {:?} {} -> {}: {e}",
                    key.proto,
                    key.client,
                    key.dst
                );
                None
            }
        }
    }

    fn datagram_out(
        &mut self,
        key: FlowKey,
        mac: [u8; 6],
        guarded: Option<Ipv4Addr>,
        to: SocketAddrV4,
        payload: &[u8],
        now: Duration,
    ) {
        if let Some(id) = self.flow_for(key, mac, guarded, now) {
            self.count_up(id, payload.len(), now);
            self.push_event(NatEvent::UdpSend {
                id,
                dst: to,
                payload: payload.to_vec(),
            });
        }
    }

    fn dns_input(&mut self, mac: [u8; 6], p: &Parsed, sport: u16, payload: &[u8], now: Duration) {
        let Some(&resolver) = self.dns_servers.first() else {
            tracing::debug!("SecureNAT DNS: no resolver configured; query dropped");
            return;
        };
        let key = FlowKey {
            proto: NatProto::Dns,
            client: SocketAddrV4::new(p.src, sport),
            dst: SocketAddrV4::new(p.dst, 53),
        };
        // The resolver is the server's choice, not the client's: unguarded.
        self.datagram_out(key, mac, None, resolver, payload, now);
    }

    fn tcp_input(
        &mut self,
        mac: [u8; 6],
        p: &Parsed,
        body: &[u8],
        frame: &[u8],
        now: Duration,
    ) -> bool {
        if p.fragment {
            // Reassembled by smoltcp for existing flows.
            return true;
        }
        let Ok(t) = TcpPacket::new_checked(body) else {
            return false;
        };
        let key = FlowKey {
            proto: NatProto::Tcp,
            client: SocketAddrV4::new(p.src, t.src_port()),
            dst: SocketAddrV4::new(p.dst, t.dst_port()),
        };
        if let Some(id) = self.nat.lookup(&key) {
            self.count_up(id, t.payload().len(), now);
            // While connecting, retransmitted SYNs are absorbed.
            return self.tcp.get(&id).is_some_and(|f| f.handle.is_some());
        }
        if !t.syn() || t.ack() {
            // No flow: smoltcp answers with RST.
            return true;
        }
        match self.flow_for(key, mac, Some(p.dst), now) {
            Some(id) => {
                self.tcp.insert(
                    id,
                    TcpFlow {
                        syn: Some(frame.to_vec()),
                        handle: None,
                    },
                );
                if !self.push_event(NatEvent::TcpConnect { id, dst: key.dst }) {
                    self.tcp.remove(&id);
                    self.nat.remove(id);
                }
            }
            None => {
                let rst = self.rst_for_syn(mac, &key, t.seq_number());
                self.push_out(rst);
            }
        }
        false
    }

    /// RST|ACK answering a client's SYN (connection refused).
    fn rst_for_syn(&self, mac: [u8; 6], key: &FlowKey, syn_seq: TcpSeqNumber) -> Vec<u8> {
        let caps = ChecksumCapabilities::default();
        let tcp = TcpRepr {
            src_port: key.dst.port(),
            dst_port: key.client.port(),
            control: TcpControl::Rst,
            seq_number: TcpSeqNumber(0),
            ack_number: Some(syn_seq + 1),
            window_len: 0,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let (src, dst) = (*key.dst.ip(), *key.client.ip());
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: self.mac,
            dst_addr: EthernetAddress(mac),
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = vec![0u8; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut f);
        let mut pk = Ipv4Packet::new_unchecked(f.payload_mut());
        ip.emit(&mut pk, &caps);
        let mut tp = TcpPacket::new_unchecked(pk.payload_mut());
        tcp.emit(&mut tp, &src.into(), &dst.into(), &caps);
        buf
    }

    /// The server-side connect of flow `id` succeeded: the client's SYN is
    /// answered now (SoftEther also answers only after connecting).
    pub fn tcp_connected(&mut self, id: FlowId, now: Duration) {
        let Some(entry) = self.nat.get_mut(id) else {
            return;
        };
        entry.established = true;
        entry.last_active = now;
        let dst = entry.key.dst;
        self.nlog(|| {
            format!(
                "The connection to TCP session {id}: Host \"{} ({})\", Port {} was successful.",
                dst.ip(),
                dst.ip(),
                dst.port()
            )
        });
        let Some(flow) = self.tcp.get_mut(&id) else {
            return;
        };
        let mut sock = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
            tcp::SocketBuffer::new(vec![0u8; TCP_BUF]),
        );
        sock.set_nagle_enabled(false);
        if sock
            .listen(IpListenEndpoint {
                addr: Some((*dst.ip()).into()),
                port: dst.port(),
            })
            .is_err()
        {
            return;
        }
        flow.handle = Some(self.sockets.add(sock));
        if let Some(syn) = flow.syn.take() {
            self.dev.put_rx(&syn);
        }
        // Not poll(): its maintenance would take the fresh listener for a
        // reset one before the SYN reaches it.
        self.poll_stack(now);
    }

    /// The server-side connect of flow `id` failed: the client gets RST.
    pub fn tcp_failed(&mut self, id: FlowId, now: Duration) {
        let _ = now;
        if let Some(e) = self.nat.get(id) {
            let dst = e.key.dst;
            self.nlog(|| {
                format!(
                    "The connection to TCP session {id}: Host \"{}\", Port {} failed.",
                    dst.ip(),
                    dst.port()
                )
            });
        }
        if let (Some(e), Some(f)) = (self.nat.remove(id), self.tcp.remove(&id)) {
            if let Some(seq) = f.syn.as_deref().and_then(|syn| {
                let (_, body) = parse_ipv4(syn)?;
                TcpPacket::new_checked(body).ok().map(|t| t.seq_number())
            }) {
                let rst = self.rst_for_syn(e.client_mac, &e.key, seq);
                self.push_out(rst);
            }
        }
    }

    fn tcp_socket(&mut self, id: FlowId) -> Option<&mut tcp::Socket<'static>> {
        let h = self.tcp.get(&id)?.handle?;
        Some(self.sockets.get_mut::<tcp::Socket>(h))
    }

    /// Splice state of a connected flow, `None` if it is gone.
    pub fn tcp_state(&mut self, id: FlowId) -> Option<TcpFlowState> {
        let s = self.tcp_socket(id)?;
        let client_eof = !s.may_recv()
            && s.recv_queue() == 0
            && !matches!(
                s.state(),
                tcp::State::Listen | tcp::State::SynReceived | tcp::State::SynSent
            );
        Some(TcpFlowState {
            recv_queue: s.recv_queue(),
            send_capacity: if s.may_send() {
                s.send_capacity() - s.send_queue()
            } else {
                0
            },
            client_eof,
        })
    }

    /// Reads up to `buf.len()` bytes the client sent; 0 when none.
    pub fn tcp_recv(&mut self, id: FlowId, buf: &mut [u8], now: Duration) -> usize {
        let n = self
            .tcp_socket(id)
            .and_then(|s| s.recv_slice(buf).ok())
            .unwrap_or(0);
        if n > 0 {
            self.count_up(id, 0, now);
        }
        n
    }

    /// Takes up to `max` bytes the client sent as one buffer of exactly
    /// their size (one copy out of the stack); empty when none.
    pub fn tcp_recv_vec(&mut self, id: FlowId, max: usize, now: Duration) -> Vec<u8> {
        let Some(s) = self.tcp_socket(id) else {
            return Vec::new();
        };
        let want = s.recv_queue().min(max);
        let mut v = Vec::with_capacity(want);
        // The ring may wrap: at most two pieces.
        while v.len() < want {
            let got = s.recv(|b| {
                let k = b.len().min(want - v.len());
                v.extend_from_slice(&b[..k]);
                (k, k)
            });
            if !matches!(got, Ok(k) if k > 0) {
                break;
            }
        }
        if !v.is_empty() {
            self.count_up(id, 0, now);
        }
        v
    }

    /// Queues bytes for the client; returns how many were taken (fewer when
    /// the 64 KiB window is full: back-pressure).
    pub fn tcp_send(&mut self, id: FlowId, data: &[u8], now: Duration) -> usize {
        let n = self
            .tcp_socket(id)
            .and_then(|s| s.send_slice(data).ok())
            .unwrap_or(0);
        if let Some(e) = self.nat.get_mut(id) {
            e.bytes_down += n as u64;
            e.last_active = now;
        }
        n
    }

    /// The remote closed its side: FIN to the client after queued data.
    pub fn tcp_remote_eof(&mut self, id: FlowId) {
        if let Some(s) = self.tcp_socket(id) {
            s.close();
        }
    }

    /// The remote reset (or failed): RST to the client.
    pub fn tcp_remote_reset(&mut self, id: FlowId) {
        if let Some(s) = self.tcp_socket(id) {
            s.abort();
        }
    }

    /// A datagram from the remote of UDP/DNS flow `id` (source `from`) to
    /// the client; dropped if over the MTU.
    pub fn udp_reply(&mut self, id: FlowId, payload: &[u8], now: Duration) {
        let Some(e) = self.nat.get_mut(id) else {
            return;
        };
        e.bytes_down += payload.len() as u64;
        e.last_active = now;
        let (mac, key) = (e.client_mac, e.key);
        if payload.len() + 28 > MAX_DATAGRAM {
            self.stats.frames_dropped += 1;
            return;
        }
        let frame = self.udp_frame_from(EthernetAddress(mac), key.dst, key.client, payload);
        self.push_fragmented(frame);
    }

    /// Queues an Ethernet/IPv4 frame built here (20-byte IP header) for
    /// the client, split into IPv4 fragments of at most the MTU when larger
    /// (SoftEther's virtual host fragments too, `SendIp`).
    pub(super) fn push_fragmented(&mut self, frame: Vec<u8>) {
        const ETH: usize = 14;
        const IP: usize = 20;
        let mtu = usize::from(self.opt.mtu);
        if frame.len() <= ETH + mtu {
            self.push_out(frame);
            return;
        }
        let Some(payload) = frame.get(ETH + IP..) else {
            return;
        };
        // Fragment data is a multiple of 8 bytes except in the last one.
        let chunk = ((mtu - IP) / 8) * 8;
        self.ip_ident = self.ip_ident.wrapping_add(1);
        let ident = self.ip_ident;
        let n = payload.len().div_ceil(chunk);
        for (i, part) in payload.chunks(chunk).enumerate() {
            let mut f = Vec::with_capacity(ETH + IP + part.len());
            f.extend_from_slice(&frame[..ETH + IP]);
            f.extend_from_slice(part);
            let mut e = EthernetFrame::new_unchecked(&mut f[..]);
            let mut p = Ipv4Packet::new_unchecked(e.payload_mut());
            // Sizes are bounded by MAX_DATAGRAM or smoltcp's reassembly
            // buffer (both < 64 KiB).
            p.set_total_len((IP + part.len()) as u16);
            p.set_ident(ident);
            p.set_dont_frag(false);
            p.set_more_frags(i + 1 < n);
            p.set_frag_offset((i * chunk) as u16);
            p.fill_checksum();
            self.push_out(f);
        }
    }

    /// An echo reply for ICMP flow `id`.
    pub fn icmp_reply(&mut self, id: FlowId, seq: u16, data: &[u8], now: Duration) {
        let Some(e) = self.nat.get_mut(id) else {
            return;
        };
        e.bytes_down += data.len() as u64;
        e.last_active = now;
        let (mac, key) = (e.client_mac, e.key);
        if data.len() + 28 > MAX_DATAGRAM {
            self.stats.frames_dropped += 1;
            return;
        }
        let frame = self.echo_reply_frame(
            EthernetAddress(mac),
            *key.dst.ip(),
            *key.client.ip(),
            key.client.port(),
            seq,
            data,
        );
        self.push_fragmented(frame);
    }

    /// An Ethernet frame carrying an ICMP echo reply from `src` to `dst`
    /// (one unfragmented IPv4 datagram: [`VirtualHost::push_fragmented`]
    /// splits it to the MTU).
    pub(super) fn echo_reply_frame(
        &self,
        dst_mac: EthernetAddress,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
        seq: u16,
        data: &[u8],
    ) -> Vec<u8> {
        let caps = ChecksumCapabilities::default();
        let icmp = Icmpv4Repr::EchoReply {
            ident,
            seq_no: seq,
            data,
        };
        let ip = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Icmp,
            payload_len: icmp.buffer_len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: self.mac,
            dst_addr: dst_mac,
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = vec![0u8; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut f);
        let mut pk = Ipv4Packet::new_unchecked(f.payload_mut());
        ip.emit(&mut pk, &caps);
        icmp.emit(&mut Icmpv4Packet::new_unchecked(pk.payload_mut()), &caps);
        buf
    }

    /// The I/O side lost flow `id`'s socket: forget the flow.
    pub fn flow_closed(&mut self, id: FlowId) {
        if let Some(f) = self.tcp.remove(&id) {
            if let Some(h) = f.handle {
                self.sockets.get_mut::<tcp::Socket>(h).abort();
                // Keep the socket one more poll so the RST goes out.
                self.closing.push(h);
            }
        }
        if let Some(e) = self.nat.remove(id) {
            let kind = match e.key.proto {
                NatProto::Tcp => "TCP",
                NatProto::Udp | NatProto::Dns => "UDP",
                NatProto::Icmp => return,
            };
            self.nlog(|| format!("The {kind} session {id} has been deleted."));
        }
    }

    /// An Ethernet/IPv4/UDP frame from the host's MAC, `from` → `to`.
    pub(super) fn udp_frame_from(
        &self,
        dst_mac: EthernetAddress,
        from: SocketAddrV4,
        to: SocketAddrV4,
        payload: &[u8],
    ) -> Vec<u8> {
        let caps = ChecksumCapabilities::default();
        let udp = UdpRepr {
            src_port: from.port(),
            dst_port: to.port(),
        };
        let ip = Ipv4Repr {
            src_addr: *from.ip(),
            dst_addr: *to.ip(),
            next_header: IpProtocol::Udp,
            payload_len: udp.header_len() + payload.len(),
            hop_limit: 64,
        };
        let eth = EthernetRepr {
            src_addr: self.mac,
            dst_addr: dst_mac,
            ethertype: EthernetProtocol::Ipv4,
        };
        let mut buf = vec![0u8; eth.buffer_len() + ip.buffer_len() + ip.payload_len];
        let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
        eth.emit(&mut f);
        let mut p = Ipv4Packet::new_unchecked(f.payload_mut());
        ip.emit(&mut p, &caps);
        let mut u = UdpPacket::new_unchecked(p.payload_mut());
        udp.emit(
            &mut u,
            &(*from.ip()).into(),
            &(*to.ip()).into(),
            payload.len(),
            |b| b.copy_from_slice(payload),
            &caps,
        );
        buf
    }

    /// Timeouts and finished TCP flows (run from [`VirtualHost::poll`]).
    pub(super) fn nat_maintain(&mut self, now: Duration) {
        for h in std::mem::take(&mut self.closing) {
            self.sockets.remove(h);
        }
        let tcp_to = Duration::from_secs(u64::from(self.opt.nat_tcp_timeout));
        let udp_to = Duration::from_secs(u64::from(self.opt.nat_udp_timeout));
        let mut dead = self.nat.idle(now, tcp_to, udp_to);
        for (id, f) in &self.tcp {
            if let Some(h) = f.handle {
                let s = self.sockets.get::<tcp::Socket>(h);
                // Closed/TimeWait: done. Listen again: reset during handshake
                // (smoltcp returns a listener to Listen; it must not take
                // another client's SYN).
                if matches!(
                    s.state(),
                    tcp::State::Closed | tcp::State::TimeWait | tcp::State::Listen
                ) {
                    dead.push(*id);
                }
            }
        }
        dead.sort_unstable();
        dead.dedup();
        for id in dead {
            self.flow_closed(id);
            self.push_event(NatEvent::Close { id });
        }
    }
}
