//! OpenVPN clients on the hubs (docs/openvpn.md): the I/O edge of the
//! sans-IO `rustether-openvpn` crate.
//!
//! - UDP: one socket per `PortsUDP` port; [`OpenVpn::run_udp`] answers
//!   client resets statelessly (session-id cookies) and starts a session
//!   only when the client echoes the cookie, within [`MAX_PENDING`]
//!   unfinished sessions ([`MAX_PENDING_PER_IP`] per address).
//! - TCP: [`is_openvpn_tcp`] recognises an OpenVPN client on any TCP
//!   listener by its first bytes, as SoftEther's protocol detection does;
//!   [`OpenVpn::serve_tcp`] takes the connection over.
//! - Authentication as SoftEther's `PPPParseUsername` + `ServerAccept`:
//!   `user@hub` (the `UsernameHubSeparator`), `hub\user`, else the default
//!   hub `IPsec/L2TP_DefaultHub`; the hub's users and policies through
//!   [`Server::authenticate`] with the plain password; the VPN login
//!   throttle applies. `dev tap` clients become hub sessions named
//!   `SID-<USER>-[OPENVPN_L2]-<n>` with client product "OpenVPN Client"
//!   (SoftEther src/Cedar/Proto_OpenVPN.h); `dev tun` clients become
//!   `SID-<USER>-[OPENVPN_L3]-<n>` sessions whose virtual adapter
//!   ([`L3Adapter`]) gets an address from the hub's DHCP server before the
//!   push-reply carries it (`ifconfig`, `route-gateway`, `dhcp-option`).
//!
//! Settings as SoftEther stores them: `ServerConfiguration/Proto/OpenVPN/
//! Enabled` and `ServerConfiguration/PortsUDP` (docs/config-format.md).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::hub::PortReceiver;
use bytes::Bytes;
use parking_lot::Mutex;
use rand::RngCore;
use rustether_admin::throttle::{vpn_account, Admission};
use rustether_openvpn::cookie::{reset_reply, CookieKey};
use rustether_openvpn::l3::L3Adapter;
use rustether_openvpn::packet::{decode, Opcode, Packet, TcpFramer};
use rustether_openvpn::{CloseReason, Config, Event, ServerSession};
use rustether_proto::messages::{ClientAuth, LoginRequest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use crate::preauth::{Gate, PreAuthSlot, HANDSHAKE_DEADLINE};
use crate::server::Server;
use crate::session::{self, Session, SessionInfo, SessionParams, SessionStart};

/// Unfinished (not yet authenticated) OpenVPN sessions over UDP, in all.
pub const MAX_PENDING: usize = 256;
/// Unfinished UDP sessions per client address.
pub const MAX_PENDING_PER_IP: usize = 8;
/// Packets queued from the UDP demultiplexer to one session.
const SESSION_QUEUE: usize = 512;
/// Frames taken from the hub queue per wake-up.
const HUB_BATCH: usize = 256;
/// SoftEther's client product name of OpenVPN sessions
/// (`OPENVPN_IPC_CLIENT_NAME`).
pub const CLIENT_NAME: &str = "OpenVPN Client";
/// SoftEther's default OpenVPN UDP port (`OPENVPN_UDP_PORT`).
pub const DEFAULT_UDP_PORT: u16 = 1194;

/// True when `ServerConfiguration/Proto/OpenVPN/Enabled` is set.
pub fn enabled(server: &Server) -> bool {
    server.with_config(|c| {
        c.server
            .raw
            .folder("Proto")
            .and_then(|p| p.folder("OpenVPN"))
            .and_then(|o| o.get_bool("Enabled"))
            .unwrap_or(false)
    })
}

/// The UDP ports of `ServerConfiguration/PortsUDP` (SoftEther `StrToIntList`:
/// numbers separated by commas or spaces; 0 and duplicates dropped; at most
/// 64).
pub fn parse_ports_udp(s: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for t in s.split([',', ' ', '\t', ';']) {
        if let Ok(p) = t.trim().parse::<u16>() {
            if p != 0 && !out.contains(&p) && out.len() < 64 {
                out.push(p);
            }
        }
    }
    out
}

/// The configured UDP ports.
pub fn udp_ports(server: &Server) -> Vec<u16> {
    server.with_config(|c| parse_ports_udp(c.server.raw.get_str("PortsUDP").unwrap_or("")))
}

/// True when the first bytes of a TCP connection are an OpenVPN client's
/// reset (needs ≥ 3 bytes; see `rustether_openvpn::packet::is_openvpn_tcp_start`).
pub fn is_openvpn_tcp(first: &[u8]) -> bool {
    rustether_openvpn::packet::is_openvpn_tcp_start(first)
}

/// Splits an OpenVPN username into `(user, hub)` as SoftEther's
/// `PPPParseUsername` (src/Cedar/Proto_PPP.c): `hub\user` when the hub
/// exists; else `user<sep>hub` at the last separator (`UsernameHubSeparator`,
/// default `@`) when the hub exists;
/// else the whole name is the user and the hub is `IPsec/L2TP_DefaultHub`
/// (`DEFAULT` if unset).
pub fn parse_username(server: &Server, src: &str) -> (String, String) {
    let src = src.trim();
    let exists = |h: &str| server.hub(h).is_some();
    if let Some(i) = src.find('\\') {
        if i >= 1 && i < src.len() - 1 && exists(&src[..i]) {
            return (src[i + 1..].to_string(), src[..i].to_string());
        }
    }
    let (sep, default_hub) = server.with_config(|c| {
        (
            // SoftEther uses the setting's first character when it is
            // printable ASCII, else '@' (SiLoadServerCfg).
            Some(
                c.server
                    .username_hub_separator
                    .chars()
                    .next()
                    .filter(|ch| (' '..='~').contains(ch))
                    .unwrap_or('@'),
            ),
            c.raw
                .folder("IPsec")
                .and_then(|f| f.get_str("L2TP_DefaultHub"))
                .filter(|h| !h.is_empty())
                .unwrap_or("DEFAULT")
                .to_string(),
        )
    });
    if let Some(sep) = sep {
        if let Some(i) = src.rfind(sep) {
            let hub = &src[i + sep.len_utf8()..];
            if !hub.is_empty() && exists(hub) {
                return (src[..i].to_string(), hub.to_string());
            }
        }
    }
    (src.to_string(), default_hub)
}

/// The OpenVPN service of one server: cookies, limits, session counter.
pub struct OpenVpn {
    server: Arc<Server>,
    gate: Arc<Gate>,
    cookies: CookieKey,
    peer_ids: AtomicU32,
}

impl std::fmt::Debug for OpenVpn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenVpn")
    }
}

struct UdpEntry {
    tx: mpsc::Sender<Vec<u8>>,
    established: Arc<AtomicBool>,
}

type UdpMap = Arc<Mutex<HashMap<SocketAddr, UdpEntry>>>;

/// Where a session's packets go.
enum Link {
    Udp(Arc<UdpSocket>),
    Tcp(tokio::net::tcp::OwnedWriteHalf),
}

impl Link {
    fn name(&self) -> &'static str {
        match self {
            Link::Udp(_) => "UDP",
            Link::Tcp(_) => "TCP",
        }
    }

    async fn send(&mut self, peer: SocketAddr, pkt: &[u8]) -> bool {
        match self {
            Link::Udp(s) => {
                let _ = s.send_to(pkt, peer).await;
                true
            }
            Link::Tcp(w) => {
                let framed = TcpFramer::frame(pkt);
                matches!(
                    tokio::time::timeout(Duration::from_secs(10), w.write_all(&framed)).await,
                    Ok(Ok(()))
                )
            }
        }
    }
}

fn now_ms() -> u64 {
    crate::clock::now_ms()
}

impl OpenVpn {
    /// The service for `server`; `gate` supplies the VPN login throttle.
    pub fn new(server: Arc<Server>, gate: Arc<Gate>) -> Arc<OpenVpn> {
        Arc::new(OpenVpn {
            server,
            gate,
            cookies: CookieKey::random(),
            peer_ids: AtomicU32::new(0),
        })
    }

    /// Session settings: the server certificate, and the pre-login
    /// handshake deadline of SoftEther-protocol connections
    /// ([`HANDSHAKE_DEADLINE`]) for the whole OpenVPN handshake.
    fn config(&self) -> Arc<Config> {
        let mut c = Config::new(self.server.tls_config());
        c.handshake_timeout_ms = HANDSHAKE_DEADLINE.as_millis() as u64;
        Arc::new(c)
    }

    fn next_peer_id(&self) -> u32 {
        self.peer_ids.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff
    }

    /// Serves one UDP socket until the server shuts down.
    pub async fn run_udp(self: Arc<Self>, sock: UdpSocket) {
        let sock = Arc::new(sock);
        let map: UdpMap = Arc::new(Mutex::new(HashMap::new()));
        let mut shutdown = self.server.shutdown_signal();
        let mut buf = vec![0u8; 65536];
        loop {
            let (n, peer) = tokio::select! {
                r = sock.recv_from(&mut buf) => match r {
                    Ok(x) => x,
                    Err(e) => { debug!("OpenVPN UDP receive: {e}"); continue; }
                },
                _ = shutdown.changed() => return,
            };
            let raw = &buf[..n];
            let existing = map.lock().get(&peer).map(|e| e.tx.clone());
            if let Some(tx) = existing {
                // A full queue drops the packet, as a congested link would.
                if tx.try_send(raw.to_vec()).is_ok() {
                    continue;
                }
                if !tx.is_closed() {
                    continue;
                }
                map.lock().remove(&peer);
            }
            self.udp_stateless(&sock, &map, raw, peer);
        }
    }

    /// A packet from an address without a session: answer a reset with a
    /// cookie, start a session on a valid cookie echo, drop the rest.
    fn udp_stateless(
        self: &Arc<Self>,
        sock: &Arc<UdpSocket>,
        map: &UdpMap,
        raw: &[u8],
        peer: SocketAddr,
    ) {
        let Ok(Packet::Control(c)) = decode(raw) else {
            return;
        };
        let now = now_ms();
        match c.op {
            Opcode::HardResetClientV2 if c.packet_id == Some(0) => {
                let sid = self.cookies.sid(&peer, &c.sid, now);
                let _ = sock.try_send_to(&reset_reply(c.key_id, sid, c.sid), peer);
            }
            Opcode::ControlV1 | Opcode::AckV1 => {
                let Some(our_sid) = c.acks.remote_sid else {
                    return;
                };
                if !self.cookies.verify(&peer, &c.sid, &our_sid, now) {
                    return;
                }
                let mut m = map.lock();
                let pending: Vec<_> = m
                    .iter()
                    .filter(|(_, e)| !e.established.load(Ordering::Relaxed))
                    .map(|(a, _)| a.ip())
                    .collect();
                if pending.len() >= MAX_PENDING
                    || pending.iter().filter(|ip| **ip == peer.ip()).count() >= MAX_PENDING_PER_IP
                {
                    debug!(%peer, "OpenVPN: too many unfinished sessions; packet dropped");
                    return;
                }
                let session = match ServerSession::new(
                    self.config(),
                    our_sid,
                    c.sid,
                    c.key_id,
                    self.next_peer_id(),
                    true,
                    now,
                ) {
                    Ok(s) => s,
                    Err(e) => {
                        warn!(%peer, "OpenVPN session not started: {e}");
                        return;
                    }
                };
                let (tx, rx) = mpsc::channel(SESSION_QUEUE);
                let established = Arc::new(AtomicBool::new(false));
                let _ = tx.try_send(raw.to_vec());
                m.insert(
                    peer,
                    UdpEntry {
                        tx,
                        established: established.clone(),
                    },
                );
                drop(m);
                let me = self.clone();
                let link = Link::Udp(sock.clone());
                let map = map.clone();
                tokio::spawn(async move {
                    me.run_session(session, link, rx, peer, established, None)
                        .await;
                    map.lock().remove(&peer);
                });
            }
            _ => {}
        }
    }

    /// Takes over a TCP connection whose first bytes [`is_openvpn_tcp`]
    /// recognised. `slot` is its place in the pre-authentication budget,
    /// released once the client authenticated.
    pub async fn serve_tcp(self: Arc<Self>, tcp: TcpStream, peer: SocketAddr, slot: PreAuthSlot) {
        let _ = tcp.set_nodelay(true);
        let (mut rd, wr) = tcp.into_split();
        let (tx, rx) = mpsc::channel(SESSION_QUEUE);
        // The first packet must be the reset; it decides the session ids.
        let mut framer = TcpFramer::new();
        let mut buf = vec![0u8; 16 * 1024];
        let first = loop {
            let n = match tokio::time::timeout(Duration::from_secs(15), rd.read(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => n,
                _ => return,
            };
            match framer.push(&buf[..n]) {
                Ok(mut pkts) if !pkts.is_empty() => {
                    let first = pkts.remove(0);
                    for p in pkts {
                        let _ = tx.try_send(p);
                    }
                    break first;
                }
                Ok(_) => {}
                Err(e) => {
                    info!(%peer, "OpenVPN over TCP: {e}");
                    return;
                }
            }
        };
        let Ok(Packet::Control(c)) = decode(&first) else {
            return;
        };
        if !matches!(c.op, Opcode::HardResetClientV2) || c.packet_id != Some(0) {
            info!(%peer, "OpenVPN over TCP: first packet is not a client reset");
            return;
        }
        let mut our_sid = [0u8; 8];
        rand::thread_rng().fill_bytes(&mut our_sid);
        let session = match ServerSession::new(
            self.config(),
            our_sid,
            c.sid,
            c.key_id,
            self.next_peer_id(),
            false,
            now_ms(),
        ) {
            Ok(s) => s,
            Err(e) => {
                warn!(%peer, "OpenVPN session not started: {e}");
                return;
            }
        };
        let reader = tokio::spawn(async move {
            loop {
                let n = match rd.read(&mut buf).await {
                    Ok(n) if n > 0 => n,
                    _ => return,
                };
                match framer.push(&buf[..n]) {
                    Ok(pkts) => {
                        for p in pkts {
                            if tx.send(p).await.is_err() {
                                return;
                            }
                        }
                    }
                    Err(_) => return,
                }
            }
        });
        self.run_session(
            session,
            Link::Tcp(wr),
            rx,
            peer,
            Arc::new(AtomicBool::new(false)),
            Some(slot),
        )
        .await;
        reader.abort();
    }

    async fn run_session(
        self: Arc<Self>,
        mut s: ServerSession,
        mut link: Link,
        mut rx: mpsc::Receiver<Vec<u8>>,
        peer: SocketAddr,
        established: Arc<AtomicBool>,
        mut slot: Option<PreAuthSlot>,
    ) {
        let proto = link.name();
        let mut hub: Option<Arc<Session>> = None;
        let mut queue: Option<PortReceiver> = None;
        let mut shutdown = self.server.shutdown_signal();
        let mut frames: Vec<Bytes> = Vec::new();
        let mut link_ok = true;
        let mut end_reason = String::from("the session ended");
        // dev tun: the virtual adapter that gets the address by DHCP; the
        // push-reply (auth_result) waits for its lease, as SoftEther's
        // IPCAsync does.
        let mut l3: Option<L3Adapter> = None;
        let mut l3_waiting = false;
        loop {
            // Send what the session produced.
            while let Some(p) = s.poll_output() {
                if link_ok && !link.send(peer, &p).await {
                    link_ok = false;
                }
            }
            // Act on events.
            while let Some(ev) = s.poll_event() {
                match ev {
                    Event::Authenticate {
                        username,
                        password,
                        dev_type,
                        peer_info,
                    } => {
                        let ok = match self
                            .login(&username, &password, &dev_type, &peer_info, peer, proto)
                        {
                            Some((sess, q)) => {
                                if dev_type == "tun" {
                                    let mut mac = [0u8; 6];
                                    rand::thread_rng().fill_bytes(&mut mac);
                                    // SoftEther's generated MACs start 5E.
                                    mac[0] = 0x5E;
                                    l3 = Some(L3Adapter::new(
                                        mac,
                                        &sess.info.client_hostname,
                                        now_ms(),
                                    ));
                                    l3_waiting = true;
                                }
                                hub = Some(sess);
                                queue = Some(q);
                                established.store(true, Ordering::Relaxed);
                                if let Some(sl) = slot.as_mut() {
                                    sl.establish();
                                }
                                true
                            }
                            None => false,
                        };
                        if !ok || !l3_waiting {
                            s.auth_result(ok, now_ms());
                        }
                    }
                    Event::Established { cipher } => {
                        if let Some(sess) = &hub {
                            info!(%peer, session = %sess.name, "OpenVPN ({proto}) data channel up, cipher {}", cipher.name());
                        }
                    }
                    Event::Rekeyed { key_id } => {
                        if let Some(sess) = &hub {
                            info!(%peer, session = %sess.name, "OpenVPN ({proto}) data channel re-keyed: key id {key_id}, renegotiation {}", s.renegotiations());
                        }
                    }
                    Event::Frame(f) => match l3.as_mut() {
                        Some(a) => {
                            a.send_ip(&f, now_ms());
                        }
                        None => frames.push(Bytes::from(f)),
                    },
                    Event::Closed(reason) => {
                        end_reason = match reason {
                            CloseReason::ClientExit => "the client disconnected".into(),
                            CloseReason::PingTimeout => {
                                "the client stopped answering (ping-restart)".into()
                            }
                            CloseReason::HandshakeTimeout => {
                                "the handshake did not finish in time".into()
                            }
                            CloseReason::AuthFailed => "authentication failed".into(),
                            CloseReason::Local => "the server ended it".into(),
                            CloseReason::Error(e) => format!("of a protocol error: {e}"),
                        };
                        queue = None;
                        if let Some(sess) = hub.take() {
                            sess.end_external(&self.server.sessions);
                            info!(%peer, session = %sess.name, "OpenVPN session ended because {end_reason}");
                        } else {
                            debug!(%peer, "OpenVPN handshake ended because {end_reason}");
                        }
                    }
                }
            }
            if let Some(a) = l3.as_mut() {
                while let Some(f) = a.poll_frame() {
                    frames.push(Bytes::from(f));
                }
                if l3_waiting {
                    if let Some(lease) = a.take_bound() {
                        l3_waiting = false;
                        if let Some(sess) = &hub {
                            info!(%peer, session = %sess.name, "OpenVPN dev tun client got {} / {} from the hub's DHCP server {}", lease.client, lease.mask, lease.server);
                        }
                        s.set_push_options(&lease.push_options());
                        s.auth_result(true, now_ms());
                        continue;
                    }
                    if a.failed() {
                        l3_waiting = false;
                        warn!(%peer, "OpenVPN dev tun client: no address from the hub's DHCP server (SecureNAT or a bridged DHCP server needed)");
                        s.begin_close(CloseReason::Error("no DHCP lease".into()));
                        continue;
                    }
                } else if a.failed() {
                    warn!(%peer, "OpenVPN dev tun client: the hub's DHCP server refused the lease renewal");
                    s.begin_close(CloseReason::Error("DHCP lease lost".into()));
                    l3 = None;
                    continue;
                }
            }
            if !frames.is_empty() {
                if let Some(sess) = &hub {
                    let bytes: usize = frames.iter().map(|f| f.len()).sum();
                    sess.recv_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                    // Back-pressure as on the SoftEther read path
                    // (crate::hub): packets wait in the socket meanwhile.
                    sess.hub.forward(sess.id, &mut frames).relieve().await;
                }
                frames.clear();
            }
            if s.is_closed() || !link_ok {
                break;
            }
            let next = s
                .next_timeout()
                .min(l3.as_ref().map_or(u64::MAX, |a| a.next_timeout()));
            let wait_ms = next.saturating_sub(now_ms()).min(60_000);
            let deadline = tokio::time::Instant::now() + Duration::from_millis(wait_ms);
            let watched = hub.clone();
            let stop = async move {
                match watched {
                    Some(sess) => sess.stop_requested().await,
                    None => std::future::pending().await,
                }
            };
            let hub_rx = async {
                match queue.as_mut() {
                    Some(q) => q.recv().await,
                    None => std::future::pending().await,
                }
            };
            let mut from_hub = None;
            tokio::select! {
                p = rx.recv() => match p {
                    Some(p) => {
                        if let Err(e) = s.handle_packet(&p, now_ms()) {
                            debug!(%peer, "OpenVPN packet dropped: {e}");
                        }
                    }
                    None => { s.begin_close(CloseReason::Local); s.handle_timeout(u64::MAX); }
                },
                f = hub_rx => from_hub = f,
                _ = tokio::time::sleep_until(deadline) => {
                    let now = now_ms();
                    s.handle_timeout(now);
                    if let Some(a) = l3.as_mut() {
                        a.handle_timeout(now);
                    }
                }
                _ = stop => s.begin_close(CloseReason::Local),
                _ = shutdown.changed() => s.begin_close(CloseReason::Local),
            }
            if let Some(f) = from_hub {
                let now = now_ms();
                let mut deliver = |s: &mut ServerSession, f: &[u8]| match l3.as_mut() {
                    Some(a) => {
                        a.handle_frame(f, now);
                        while let Some(p) = a.poll_packet() {
                            s.send_frame(&p, now);
                        }
                    }
                    None => {
                        s.send_frame(f, now);
                    }
                };
                deliver(&mut s, &f[..]);
                if let Some(q) = queue.as_mut() {
                    for _ in 0..HUB_BATCH {
                        match q.try_recv() {
                            Some(f) => deliver(&mut s, &f[..]),
                            None => break,
                        }
                    }
                }
            }
        }
        if let Some(sess) = hub.take() {
            sess.end_external(&self.server.sessions);
            info!(%peer, session = %sess.name, "OpenVPN session ended because {end_reason}");
        }
    }

    /// Authenticates as SoftEther does for OpenVPN and attaches the session
    /// to its hub. `None` = refused (logged).
    fn login(
        &self,
        username: &str,
        password: &str,
        dev_type: &str,
        peer_info: &str,
        peer: SocketAddr,
        proto: &str,
    ) -> Option<(Arc<Session>, PortReceiver)> {
        let mode = match dev_type {
            "tap" => "OPENVPN_L2",
            "tun" => "OPENVPN_L3",
            other => {
                warn!(%peer, "OpenVPN client with dev {other} refused: only dev tap and dev tun are supported");
                return None;
            }
        };
        let (user, hubname) = parse_username(&self.server, username);
        let account = vpn_account(&hubname, &user);
        let at = std::time::Instant::now();
        if let Admission::Throttled { .. } =
            self.gate.vpn_throttle.lock().check(peer.ip(), &account, at)
        {
            warn!(%peer, "OpenVPN login throttled after repeated failures");
            return None;
        }
        let req = LoginRequest {
            hubname: hubname.clone(),
            username: user.clone(),
            auth: ClientAuth::PlainPassword {
                password: password.to_string(),
            },
            client_str: CLIENT_NAME.into(),
            client_ver: 0,
            client_build: 0,
            hello: CLIENT_NAME.into(),
            max_connection: 1,
            use_encrypt: true,
            use_compress: false,
            half_connection: false,
            qos: false,
            require_bridge_routing_mode: false,
            require_monitor_mode: false,
            unique_id: None,
            client_id: 0,
            udp_accel: None,
        };
        let accepted = match self.server.authenticate(&req, &[0u8; 20], peer.ip()) {
            Ok(a) => {
                self.gate
                    .vpn_throttle
                    .lock()
                    .record_success(peer.ip(), &account);
                a
            }
            Err(code) => {
                if code == rustether_proto::ErrorCode::AUTH_FAILED {
                    self.gate
                        .vpn_throttle
                        .lock()
                        .record_failure(peer.ip(), &account, at);
                }
                warn!(%peer, hub = %hubname, user = %user, "OpenVPN login refused: {} ({})", code.message(), code.name());
                return None;
            }
        };
        let n = accepted.hub.next_session_number();
        let name = format!(
            "SID-{}-[{mode}]-{}",
            accepted.username.to_ascii_uppercase(),
            n
        );
        let mut key = [0u8; 20];
        rand::thread_rng().fill_bytes(&mut key);
        let hostname = peer_info
            .lines()
            .find_map(|l| {
                l.strip_prefix("UV_HOSTNAME=")
                    .or_else(|| l.strip_prefix("IV_HWADDR="))
            })
            .unwrap_or("")
            .chars()
            .take(255)
            .collect();
        let start = SessionStart {
            udp: None,
            resumable: false,
            hub: accepted.hub.clone(),
            name,
            key,
            params: SessionParams {
                max_connection: 1,
                use_encrypt: true,
                use_compress: false,
                half_connection: false,
                qos: false,
                timeout_ms: accepted.timeout_ms,
            },
            info: SessionInfo {
                username: accepted.username.clone(),
                client_addr: peer,
                client_str: CLIENT_NAME.into(),
                client_hostname: hostname,
                created_unix_ms: crate::clock::unix_ms(),
                bridge_mode: accepted.bridge_mode,
                server_side: false,
            },
            policy: crate::hub::switch_policy(&accepted.policy),
            limits: session::SessionLimits::from_policy(&accepted.policy),
            role: session::Role::Server,
        };
        let (sess, rx) = session::register_external(&self.server.sessions, start);
        info!(%peer, hub = %accepted.hub.name(), user = %accepted.username, session = %sess.name, "OpenVPN ({proto}) session established");
        Some((sess, rx))
    }
}

/// Binds the OpenVPN UDP sockets (`PortsUDP`) on `ip`; ports that cannot
/// be bound are logged and skipped.
pub fn bind_udp(ip: IpAddr, ports: &[u16]) -> Vec<std::net::UdpSocket> {
    let mut out = Vec::new();
    for &p in ports {
        match std::net::UdpSocket::bind(SocketAddr::new(ip, p)) {
            Ok(s) => {
                let _ = s.set_nonblocking(true);
                out.push(s);
            }
            Err(e) => warn!("OpenVPN UDP port {p} not bound: {e}"),
        }
    }
    out
}

/// One sample client file in the shape of SoftEther's
/// `openvpn_sample.ovpn` (`OpenVpnMakeConfig`), usable as it is by
/// `openvpn --config`: `dev` (`tun` or `tap`), `proto` (`udp` or `tcp`),
/// the server address and port, our certificate in `<ca>`. No `cipher`
/// lines: the server negotiates (docs/openvpn.md).
pub fn client_file(dev: &str, proto: &str, host: &str, port: u16, cert_der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(cert_der);
    let mut ca = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        ca.push_str(&String::from_utf8_lossy(line));
        ca.push('\n');
    }
    ca.push_str("-----END CERTIFICATE-----\n");
    format!(
        "# OpenVPN client configuration for RustEther VPN Server\n\
         # (generated by OpenVpnMakeConfig; see docs/openvpn.md).\n\
         #\n\
         # Log in as USER@HUB (or USER for the default hub) with the hub user's\n\
         # password. The server negotiates the data cipher (AES-256-GCM,\n\
         # AES-128-GCM or CHACHA20-POLY1305).\n\
         # Check the address after `remote`: it is one of the server's own.\n\
         \n\
         client\n\
         dev {dev}\n\
         proto {proto}\n\
         remote {host} {port}\n\
         resolv-retry infinite\n\
         nobind\n\
         persist-key\n\
         persist-tun\n\
         push-peer-info\n\
         verb 3\n\
         auth-user-pass\n\
         \n\
         <ca>\n{ca}</ca>\n"
    )
}

/// The address put after `remote` in the sample files: the first
/// non-loopback IPv4 address of the machine (SoftEther asks the internet
/// for its global address, which RustEther never does), else the host name.
fn sample_host() -> String {
    crate::hostaddr::local_addrs()
        .into_iter()
        .find(|ip| ip.is_ipv4() && !ip.is_loopback() && !ip.is_unspecified())
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| crate::hostaddr::host_name().unwrap_or_else(|| "localhost".into()))
}

/// `MakeOpenVpnConfigFile`: a zip as SoftEther's (src/Cedar/Admin.c
/// `StMakeOpenVpnConfigFile`): `readme.txt`,
/// `<host>_openvpn_remote_access_l3.ovpn` (dev tun) and
/// `<host>_openvpn_site_to_site_bridge_l2.ovpn` (dev tap). UDP with port
/// 1194 if `PortsUDP` has it (else its first port); without UDP ports, TCP
/// on the first enabled listener. (SoftEther's `readme.pdf` is left out.)
pub fn sample_zip(udp_ports: &[u16], tcp_port: Option<u16>, cert_der: &[u8]) -> Vec<u8> {
    let (proto, port) = match (udp_ports.first(), tcp_port) {
        (Some(first), _) => (
            "udp",
            if udp_ports.contains(&DEFAULT_UDP_PORT) {
                DEFAULT_UDP_PORT
            } else {
                *first
            },
        ),
        (None, Some(p)) => ("tcp", p),
        (None, None) => ("udp", DEFAULT_UDP_PORT),
    };
    let host = sample_host();
    let mut prefix: String = crate::hostaddr::host_name()
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    if !prefix.is_empty() {
        prefix.push('_');
    }
    let readme = "OpenVPN client configuration files for RustEther VPN Server.\r\n\r\n\
        *_openvpn_remote_access_l3.ovpn: dev tun (layer 3): the client gets an address\r\n\
        from the hub's DHCP server (SecureNAT or a DHCP server on a bridged LAN).\r\n\
        *_openvpn_site_to_site_bridge_l2.ovpn: dev tap (layer 2): the client joins the\r\n\
        virtual hub as an Ethernet segment.\r\n\r\n\
        Log in as USER@HUB with the password of the hub's user.\r\n";
    let files = [
        ("readme.txt".to_string(), readme.as_bytes().to_vec()),
        (
            format!("{prefix}openvpn_remote_access_l3.ovpn"),
            client_file("tun", proto, &host, port, cert_der).into_bytes(),
        ),
        (
            format!("{prefix}openvpn_site_to_site_bridge_l2.ovpn"),
            client_file("tap", proto, &host, port, cert_der).into_bytes(),
        ),
    ];
    zip_stored(&files)
}

/// A zip archive of `files` without compression ("stored", as SoftEther's
/// `ZipPacker`), no timestamps (1980-01-01).
fn zip_stored(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    fn u16le(v: &mut Vec<u8>, x: u16) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn u32le(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data) in files {
        let mut crc = flate2::Crc::new();
        crc.update(data);
        let (crc, len, offset) = (crc.sum(), data.len() as u32, out.len() as u32);
        // Local file header.
        u32le(&mut out, 0x0403_4b50);
        for x in [20u16, 0, 0, 0, 0x21] {
            u16le(&mut out, x);
        }
        for x in [crc, len, len] {
            u32le(&mut out, x);
        }
        u16le(&mut out, name.len() as u16);
        u16le(&mut out, 0);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(data);
        // Central directory entry.
        u32le(&mut central, 0x0201_4b50);
        for x in [20u16, 20, 0, 0, 0, 0x21] {
            u16le(&mut central, x);
        }
        for x in [crc, len, len] {
            u32le(&mut central, x);
        }
        for x in [name.len() as u16, 0, 0, 0, 0] {
            u16le(&mut central, x);
        }
        u32le(&mut central, 0);
        u32le(&mut central, offset);
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_offset, cd_len) = (out.len() as u32, central.len() as u32);
    out.extend_from_slice(&central);
    u32le(&mut out, 0x0605_4b50);
    for x in [0u16, 0, files.len() as u16, files.len() as u16] {
        u16le(&mut out, x);
    }
    u32le(&mut out, cd_len);
    u32le(&mut out, cd_offset);
    u16le(&mut out, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_udp_parsing() {
        assert_eq!(parse_ports_udp("1194"), vec![1194]);
        assert_eq!(parse_ports_udp("1194, 1195,0,1194 x"), vec![1194, 1195]);
        assert!(parse_ports_udp("").is_empty());
    }

    #[test]
    fn sample_zip_shape() {
        let z = sample_zip(&[1195, 1194], Some(5555), b"cert");
        assert_eq!(&z[..4], b"PK\x03\x04");
        let text = String::from_utf8_lossy(&z);
        assert!(text.contains("openvpn_site_to_site_bridge_l2.ovpn"));
        assert!(text.contains("dev tap\nproto udp\nremote "));
        assert!(text.contains(" 1194\n"));
        assert!(text.contains("<ca>\n-----BEGIN CERTIFICATE-----\nY2VydA==\n"));
        let tcp = String::from_utf8_lossy(&sample_zip(&[], Some(5555), b"c")).into_owned();
        assert!(tcp.contains("proto tcp\n") && tcp.contains(" 5555\n"));
    }
}
