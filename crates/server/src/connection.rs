//! One accepted TCP connection: TLS handshake, the HTTP negotiation
//! (signature, hello, request) and dispatch to login, additional connection,
//! hub enumeration or administration (docs/protocol-sslvpn.md §1–6).
//!
//! [`Gateway`] is the listeners' [`Acceptor`] for the VPN protocol.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use rustether_admin::throttle::{vpn_account, Admission, THROTTLED_ERROR};
use tokio::time::Instant;

use bytes::BytesMut;
use rand::RngCore;
use rustether_proto::messages::{
    negotiate_max_connection, AdditionalConnectReply, ClientAuth, ClientRequest, Direction, Hello,
    LoginRequest, Welcome,
};
use rustether_proto::negotiate::{ServerEvent, ServerNegotiation};
use rustether_proto::pack::Pack;
use rustether_proto::softether::policy::{PolicyId, PolicyValues};
use rustether_proto::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, info, warn};

use crate::admin::Admin;
use crate::listener::Acceptor;
use crate::openvpn::OpenVpn;
use crate::preauth::{Gate, PreAuthLimits, PreAuthSlot, HANDSHAKE_DEADLINE};
use crate::server::Server;
use crate::session::{self, NewConnection, SessionInfo, SessionParams, SessionStart};
use crate::transport::{linger, reply_error, BurstReader, DataStream, ServerTls};

/// Time allowed for the TLS handshake and for each negotiation read
/// (SoftEther `CONNECTING_TIMEOUT`, 15 s); the whole handshake has
/// [`HANDSHAKE_DEADLINE`].
pub const CONNECTING_TIMEOUT: Duration = Duration::from_secs(15);

/// Where accepted connections go: the server for logins and additional
/// connections, the administration for admin logins and the web API; the
/// [`Gate`] admits them (pre-authentication budget, VPN login throttle).
#[derive(Debug)]
pub struct Gateway {
    server: Arc<Server>,
    admin: Arc<Admin>,
    gate: Arc<Gate>,
    openvpn: Arc<OpenVpn>,
}

impl Gateway {
    /// A gateway to `server` and its `admin`.
    pub fn new(server: Arc<Server>, admin: Arc<Admin>) -> Gateway {
        let gate = Arc::new(Gate::default());
        Gateway {
            openvpn: OpenVpn::new(server.clone(), gate.clone()),
            server,
            admin,
            gate,
        }
    }

    /// The OpenVPN service (UDP sockets are served by the worker).
    pub fn openvpn(&self) -> &Arc<OpenVpn> {
        &self.openvpn
    }

    /// The administration admin logins go to.
    pub fn admin(&self) -> &Arc<Admin> {
        &self.admin
    }

    /// The pre-authentication state (counters for tests and status).
    pub fn gate(&self) -> &Arc<Gate> {
        &self.gate
    }
}

impl Acceptor for Gateway {
    fn accept(&self, tcp: TcpStream, peer: SocketAddr, local: SocketAddr) {
        let limits = self
            .server
            .with_config(|c| PreAuthLimits::from_settings(&c.server));
        match self.gate.admit(peer.ip(), limits) {
            Ok(slot) => {
                let (server, admin, gate) =
                    (self.server.clone(), self.admin.clone(), self.gate.clone());
                let openvpn = crate::openvpn::enabled(&server).then(|| self.openvpn.clone());
                tokio::spawn(async move {
                    // OpenVPN over TCP shares every listener; its first
                    // bytes tell it apart (SoftEther's protocol detection).
                    if let Some(ovpn) = openvpn {
                        if sniff_openvpn(&tcp).await {
                            ovpn.serve_tcp(tcp, peer, slot).await;
                            return;
                        }
                    }
                    serve(server, admin, gate, slot, tcp, peer, local).await
                });
            }
            Err(why) => {
                // Closed with a reset before any TLS work: the peer learns
                // at once and the server keeps nothing.
                let _ = socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO));
                drop(tcp);
                let (refused, unestablished, kept) = (
                    self.gate.refused(),
                    self.gate.unestablished(),
                    self.gate.kept_bytes(),
                );
                if self.gate.refusal_log_due(std::time::Instant::now()) {
                    info!(
                        %peer,
                        "connection refused before login: {why}; refused={refused} unestablished={unestablished} kept_bytes={kept}"
                    );
                } else {
                    debug!(%peer, "connection refused before login: {why}; refused={refused}");
                }
            }
        }
    }
}

/// Waits for the first 3 bytes of a connection (at most
/// [`CONNECTING_TIMEOUT`]) without consuming them; true if they start an
/// OpenVPN client reset.
async fn sniff_openvpn(tcp: &TcpStream) -> bool {
    let deadline = Instant::now() + CONNECTING_TIMEOUT;
    let mut b = [0u8; 3];
    loop {
        match tokio::time::timeout_at(deadline, tcp.peek(&mut b)).await {
            Ok(Ok(n)) if n >= 3 => return crate::openvpn::is_openvpn_tcp(&b),
            Ok(Ok(n)) if n > 0 => tokio::time::sleep(Duration::from_millis(10)).await,
            _ => return false,
        }
    }
}

/// The end of one handshake step: [`CONNECTING_TIMEOUT`] from now, but
/// never after the handshake's `deadline`.
fn step_deadline(deadline: Instant) -> Instant {
    (Instant::now() + CONNECTING_TIMEOUT).min(deadline)
}

/// Serves one accepted connection until it is handed to a session or closed.
/// Never panics on peer input; every refusal is logged with the peer address.
/// `slot` is its place in the pre-authentication budget, given back once
/// the login completed; the handshake must complete within
/// [`HANDSHAKE_DEADLINE`].
pub async fn serve(
    server: Arc<Server>,
    admin: Arc<Admin>,
    gate: Arc<Gate>,
    mut slot: PreAuthSlot,
    tcp: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) {
    let mut deadline = Instant::now() + HANDSHAKE_DEADLINE;
    let _ = tcp.set_nodelay(true);
    let acceptor = TlsAcceptor::from(server.tls_config());
    let mut tls = match tokio::time::timeout_at(
        step_deadline(deadline),
        acceptor.accept(BurstReader::new(tcp)),
    )
    .await
    {
        Ok(Ok(t)) => {
            server
                .stats
                .tls_handshakes_ok
                .fetch_add(1, Ordering::Relaxed);
            t
        }
        Ok(Err(e)) => {
            server
                .stats
                .tls_handshakes_failed
                .fetch_add(1, Ordering::Relaxed);
            info!(%peer, "TLS handshake failed: {e}");
            return;
        }
        Err(_) => {
            server
                .stats
                .tls_handshakes_timeout
                .fetch_add(1, Ordering::Relaxed);
            info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let hello = Hello::server(&mut rand::thread_rng());
    let random = hello.random;
    let mut nego = ServerNegotiation::new(
        hello,
        local.port(),
        local.ip().to_string(),
        crate::clock::unix_ms() / 1000,
    );
    nego.set_web_api(crate::admin::web_api_enabled(&server));
    nego.set_metrics(crate::metrics::enabled(&server));
    let mut buf = BytesMut::with_capacity(4096);
    let mut out = Vec::new();
    let request = loop {
        let step = nego.on_input_event(&mut buf, &mut out);
        slot.set_kept(buf.capacity().max(buf.len()) + nego.kept_bytes());
        if !out.is_empty() {
            let write = async { tls.write_all(&out).await.and(tls.flush().await) };
            if !matches!(tokio::time::timeout_at(deadline, write).await, Ok(Ok(()))) {
                return;
            }
            out.clear();
        }
        match step {
            Ok(Some(ServerEvent::Request(req))) => break req,
            Ok(Some(ServerEvent::WebApi(head))) => {
                // JSON-RPC at /api/; the connection may carry more requests.
                let served = tokio::time::timeout_at(
                    deadline,
                    crate::admin::web_request(&admin, &mut tls, &mut nego, &mut buf, head, peer),
                )
                .await;
                if served != Ok(true) {
                    return;
                }
                if nego.signature_requests() == 0 {
                    // An authenticated request: the next one gets a
                    // deadline of its own.
                    deadline = Instant::now() + HANDSHAKE_DEADLINE;
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                info!(%peer, "negotiation ended: {e}");
                let _ = tokio::time::timeout_at(deadline, linger(&mut tls)).await;
                return;
            }
        }
        match tokio::time::timeout_at(step_deadline(deadline), tls.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                debug!(%peer, "read error during negotiation: {e}");
                return;
            }
            Err(_) => {
                if Instant::now() >= deadline {
                    info!(
                        %peer,
                        "handshake deadline passed ({} s from accept)",
                        HANDSHAKE_DEADLINE.as_secs()
                    );
                } else {
                    info!(%peer, "negotiation timed out");
                }
                return;
            }
        }
    };
    slot.set_kept(buf.len());

    match request {
        ClientRequest::Login(login) => {
            let login = tokio::time::timeout_at(
                deadline,
                handle_login(
                    &server, &gate, &mut slot, tls, nego, buf, login, peer, local, random,
                ),
            );
            if login.await.is_err() {
                info!(%peer, "login timed out");
            }
        }
        ClientRequest::AdditionalConnect(ac) => {
            let Some(session) = server.sessions.get(&ac.session_key) else {
                info!(%peer, "additional connection for an unknown session");
                let _ = tokio::time::timeout_at(
                    deadline,
                    reply_error(&mut tls, &nego, ErrorCode::SESSION_TIMEOUT),
                )
                .await;
                return;
            };
            let direction = match session.reserve_additional() {
                Ok(d) => d,
                Err(e) => {
                    let code = match e {
                        session::AttachError::TooMany => ErrorCode::TOO_MANY_CONNECTION,
                        session::AttachError::Gone => ErrorCode::SESSION_TIMEOUT,
                    };
                    info!(%peer, session = %session.name, "additional connection refused: {code}");
                    let _ =
                        tokio::time::timeout_at(deadline, reply_error(&mut tls, &nego, code)).await;
                    return;
                }
            };
            let reply = AdditionalConnectReply { direction }.to_pack();
            let mut out = Vec::new();
            nego.write_pack_response(&reply, &mut out);
            let write = async { tls.write_all(&out).await.and(tls.flush().await) };
            if !matches!(tokio::time::timeout_at(deadline, write).await, Ok(Ok(()))) {
                session.release_slot(direction);
                return;
            }
            slot.establish();
            debug!(%peer, session = %session.name, ?direction, "additional connection accepted");
            let (stream, raw) = DataStream::from_tls(tls, session.params.use_encrypt);
            let mut leftover = buf;
            leftover.extend_from_slice(&raw);
            let conn = NewConnection {
                stream,
                leftover,
                direction,
                peer,
            };
            let _ = session.add_connection(conn).await;
        }
        ClientRequest::EnumHub => {
            let mut p = Pack::new();
            let names: Vec<String> = server.with_config(|c| {
                c.hubs
                    .iter()
                    .filter(|h| !h.no_enum)
                    .map(|h| h.name.clone())
                    .collect()
            });
            for n in &names {
                p.push_str("HubName", n);
            }
            p.add_int("NumHub", names.len() as u32);
            let mut out = Vec::new();
            nego.write_pack_response(&p, &mut out);
            let _ = tokio::time::timeout_at(deadline, async {
                let _ = tls.write_all(&out).await;
                let _ = tls.flush().await;
                linger(&mut tls).await;
            })
            .await;
        }
        ClientRequest::Admin(login) => {
            crate::admin::serve(admin, tls, nego, buf, login, peer, random, slot, deadline).await
        }
        other => {
            debug!(%peer, "unsupported request {:?}", std::mem::discriminant(&other));
            let _ = tokio::time::timeout_at(
                deadline,
                reply_error(&mut tls, &nego, ErrorCode::NOT_SUPPORTED),
            )
            .await;
        }
    }
}

/// The VPN login throttle's verdict on `login` from `peer`: `Ok(at)` to
/// check the password, `Err` once a throttled attempt has been held for the
/// rest of its wait (it is then refused with error 9 without a check).
async fn admit_login(gate: &Gate, peer: SocketAddr, account: &str) -> Result<Instant, ()> {
    let now = Instant::now();
    let admission = gate
        .vpn_throttle
        .lock()
        .check(peer.ip(), account, now.into_std());
    match admission {
        Admission::Allowed => Ok(now),
        Admission::Throttled { retry_after } => {
            let n = gate.count_vpn_throttled();
            warn!(
                %peer,
                "VPN login throttled after repeated failures; refused after {} ms (vpn_throttled={n})",
                retry_after.as_millis()
            );
            tokio::time::sleep(retry_after.min(Duration::from_secs(30))).await;
            Err(())
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn handle_login(
    server: &Arc<Server>,
    gate: &Gate,
    slot: &mut PreAuthSlot,
    mut tls: ServerTls,
    nego: ServerNegotiation,
    leftover: BytesMut,
    login: LoginRequest,
    peer: SocketAddr,
    local: SocketAddr,
    random: [u8; 20],
) {
    let account = vpn_account(&login.hubname, &login.username);
    let Ok(at) = admit_login(gate, peer, &account).await else {
        server.stats.login_failed(THROTTLED_ERROR);
        reply_error(&mut tls, &nego, THROTTLED_ERROR).await;
        return;
    };
    // RADIUS users: the UDP exchange runs here, in the async task, before
    // the synchronous check (`SamAuthUserByPlainPassword`).
    let radius_verdict = match (server.radius_job(&login), &login.auth) {
        (Some(job), ClientAuth::PlainPassword { password }) => {
            Some(crate::radius::pap_login(&job, password, peer.ip()).await)
        }
        _ => None,
    };
    let result = server.authenticate_with_radius(&login, &random, peer.ip(), radius_verdict);
    {
        let mut t = gate.vpn_throttle.lock();
        match &result {
            Ok(_) => t.record_success(peer.ip(), &account),
            // Only a wrong password (or unknown user) is a guess.
            Err(code) if *code == ErrorCode::AUTH_FAILED => {
                let wait = t.record_failure(peer.ip(), &account, at.into_std());
                if !wait.is_zero() {
                    warn!(
                        %peer,
                        "VPN login: repeated failed logins; next attempt in {} ms",
                        wait.as_millis()
                    );
                }
            }
            Err(_) => {}
        }
    }
    let accepted = match result {
        Ok(a) => a,
        Err(code) => {
            warn!(
                %peer,
                hub = %login.hubname,
                user = %login.username,
                "login refused: {} ({})",
                code.message(),
                code.name()
            );
            server.stats.login_failed(code);
            if let Some(h) = server.hub(&login.hubname) {
                h.security_log(&crate::hublog::text::login_refused(
                    code,
                    &peer.to_string(),
                    &login.username,
                    peer.ip(),
                ));
            }
            reply_error(&mut tls, &nego, code).await;
            return;
        }
    };
    let max_connection = negotiate_max_connection(
        login.max_connection,
        accepted.max_connection,
        login.half_connection,
        login.qos,
    );
    let params = SessionParams {
        max_connection,
        use_encrypt: login.use_encrypt,
        use_compress: login.use_compress,
        half_connection: login.half_connection,
        // `ServerAccept`: no QoS under NoQoS nor for a monitor.
        qos: login.qos && !accepted.policy.flag(PolicyId::NoQoS) && !accepted.monitor,
        timeout_ms: accepted.timeout_ms,
    };
    let hub = accepted.hub;
    let n = hub.next_session_number();
    let name = format!("SID-{}-{}", accepted.username.to_ascii_uppercase(), n);
    let conn_name = format!("CID-{n}");
    hub.security_log(&crate::hublog::text::auth_ok(
        &conn_name,
        &accepted.username,
    ));
    let mut key = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut key);
    let bridge_mode = accepted.bridge_mode;
    let welcome = Welcome {
        session_name: name.clone(),
        connection_name: conn_name.clone(),
        session_key: key,
        session_key_32: rand::random(),
        timeout_ms: params.timeout_ms,
        max_connection,
        use_encrypt: params.use_encrypt,
        use_compress: params.use_compress,
        half_connection: params.half_connection,
        qos: params.qos,
        // `ServerAccept` sends the session's VLanId policy.
        vlan_id: accepted.policy.get(PolicyId::VLanId),
        // The hub message (`SetHubMsg`), which the client shows.
        msg: server.with_config(|c| {
            c.hub(hub.name())
                .and_then(|h| h.message.clone())
                .unwrap_or_default()
                .into_bytes()
        }),
        policy: welcome_policy(&accepted.policy, &params),
    };
    // UDP acceleration (`ServerAccept`): granted when the client asks
    // (not with /DISABLEUDP) and the hub option DisableUdpAcceleration is
    // off; the grant rides in the welcome.
    let hub_option = |name: &str| {
        server.with_config(|c| {
            c.hubs
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(hub.name()))
                .and_then(|h| h.raw.folder("Option"))
                .and_then(|f| f.get_bool(name))
                .unwrap_or(false)
        })
    };
    let udp = match &login.udp_accel {
        Some(offer) if !hub_option("DisableUdpAcceleration") => {
            crate::udp::grant(offer, peer, local, params.use_encrypt)
        }
        _ => None,
    };
    let udp = udp.map(|(mut path, g)| {
        path.clamp_mss = !hub_option("DisableAdjustTcpMss");
        (path, g)
    });
    let mut welcome_pack = welcome.to_pack();
    if let Some((_, g)) = &udp {
        g.add_to(&mut welcome_pack);
    }
    let udp = udp.map(|(path, _)| path);
    let mut out = Vec::new();
    nego.write_pack_response(&welcome_pack, &mut out);
    if tls.write_all(&out).await.is_err() || tls.flush().await.is_err() {
        return;
    }
    // Logged in: the connection leaves the pre-authentication budget.
    slot.establish();
    let first_dir = if params.half_connection {
        Direction::ClientToServer
    } else {
        Direction::Both
    };
    let info = SessionInfo {
        username: accepted.username.clone(),
        client_addr: peer,
        client_str: login.client_str.clone(),
        client_hostname: String::new(),
        created_unix_ms: crate::clock::unix_ms(),
        bridge_mode,
        server_side: false,
    };
    let mut policy = crate::hub::switch_policy(&accepted.policy);
    policy.access_identity =
        rustether_hub::access::AccessIdentity::new(&accepted.username, &accepted.group);
    // SoftEther's `IPv6Session`: the client is connected over IPv6.
    if peer.ip().to_canonical().is_ipv6()
        && accepted
            .policy
            .flag(PolicyId::NoIPv6DefaultRouterInRAWhenIPv6)
    {
        policy.no_default_router_in_ra = true;
    }
    let (stream, raw) = DataStream::from_tls(tls, params.use_encrypt);
    let mut leftover = leftover;
    leftover.extend_from_slice(&raw);
    let first = NewConnection {
        stream,
        leftover,
        direction: first_dir,
        peer,
    };
    hub.security_log(&crate::hublog::text::new_session(
        &conn_name,
        &name,
        peer.ip(),
        peer.port(),
        if peer.ip().to_canonical().is_ipv6() {
            "Standard TCP/IP (IPv6)"
        } else {
            "Standard TCP/IP (IPv4)"
        },
    ));
    let s = session::spawn(
        &server.sessions,
        SessionStart {
            hub: hub.clone(),
            name,
            key,
            params,
            info,
            policy,
            limits: session::SessionLimits::from_policy(&accepted.policy),
            role: session::Role::Server,
            udp,
            resumable: !server.with_config(|c| c.server.disable_session_reconnect),
        },
        first,
        server.shutdown_signal(),
    );
    server.stats.login_ok();
    info!(
        %peer,
        hub = %hub.name(),
        user = %accepted.username,
        session = %s.name,
        max_connection,
        encrypt = params.use_encrypt,
        compress = params.use_compress,
        half = params.half_connection,
        udp_accel = s.udp.as_ref().map(|u| u.port).unwrap_or(0),
        "session established"
    );
}

/// Policy values sent in the welcome: the session's effective policy
/// (docs/protocol-sslvpn.md §5.7) with the negotiated connection count and
/// timeout.
fn welcome_policy(policy: &PolicyValues, p: &SessionParams) -> Vec<(String, u32)> {
    policy
        .iter()
        .map(|(d, v)| {
            let v = match d.id {
                PolicyId::MaxConnection => p.max_connection.max(1),
                PolicyId::TimeOut => p.timeout_ms / 1000,
                _ => v,
            };
            (d.name.to_string(), v)
        })
        .collect()
}
