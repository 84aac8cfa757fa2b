//! One OpenVPN client session on the server side, sans-IO.
//!
//! Feed it every received packet ([`ServerSession::handle_packet`]) and the
//! time ([`ServerSession::handle_timeout`]); send what
//! [`ServerSession::poll_output`] returns, act on
//! [`ServerSession::poll_event`]. Sequence (OpenVPN src/openvpn/ssl.c):
//!
//! 1. client `HARD_RESET_CLIENT_V2` → server `HARD_RESET_SERVER_V2`
//! 2. TLS handshake in `P_CONTROL_V1` payloads (rustls server)
//! 3. client key-method 2 message (username, password, peer-info) →
//!    [`Event::Authenticate`]; the owner answers with
//!    [`ServerSession::auth_result`]; server key-method 2 message
//! 4. client `PUSH_REQUEST` → server `PUSH_REPLY` with the negotiated
//!    `cipher`, `peer-id`, `key-derivation tls-ekm`; data keys from TLS
//!    EKM "EXPORTER-OpenVPN-datakeys", or for clients without EKM from the
//!    TLS 1.0 PRF ([`crate::prf`]) → [`Event::Established`]
//! 5. data packets ↔ [`Event::Frame`] / [`ServerSession::send_frame`];
//!    pings; `ping-restart` timeout; explicit-exit-notify (OCC or `EXIT`).
//!
//! 6. renegotiation (`reneg-sec`, either side): `P_CONTROL_SOFT_RESET_V1`
//!    with the next key id, a new TLS session and reliability layer on it,
//!    key-method 2 again (the same credentials), new EKM keys; the old keys
//!    still decrypt for [`TRANSITION_MS`]; we send with the new keys once
//!    the client used them or acknowledged our key-method message →
//!    [`Event::Rekeyed`]. At most one renegotiation per
//!    [`MIN_RENEG_INTERVAL_MS`] (a storm's extra soft resets are ignored).
//!
//! Not implemented (the session then ends or ignores the packet, with an
//! error): tls-auth/tls-crypt,
//! compression framing.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;

use thiserror::Error;

use crate::cbc::Auth;
use crate::data::{
    negotiate, Cipher, DataChannel, DataError, KEY_MATERIAL_LEN, OCC_EXIT, OCC_MAGIC, PING,
};
use crate::keymethod::{
    iv_proto, server_message, ClientKeyMethod, KeyMethodError, MAX_CLIENT_MESSAGE,
};
use crate::packet::{
    data_header, decode, encode_control, Acks, ControlPacket, Opcode, Packet, SessionId, MAX_ACKS,
};
use crate::reliable::{ReliableRecv, ReliableSend};

/// Largest TLS ciphertext put in one control packet (bytes; OpenVPN's
/// default `tls-mtu` is 1250).
pub const CONTROL_CHUNK: usize = 1100;
/// Largest control-channel plaintext buffered from the client (bytes).
pub const MAX_PLAINTEXT: usize = MAX_CLIENT_MESSAGE + 4096;
/// Longest control message after key-method 2 (`PUSH_REQUEST`, `EXIT`...).
pub const MAX_CONTROL_MESSAGE: usize = 1024;
/// Time a session lingers after `AUTH_FAILED`/`RESTART` so the message is
/// delivered (ms).
pub const LINGER_MS: u64 = 3_000;
/// How long the keys of the previous key id still decrypt after a
/// renegotiation (ms; OpenVPN's `transition-window` default 60 s).
pub const TRANSITION_MS: u64 = 60_000;
/// Shortest interval between two renegotiations of one session (ms); a
/// soft reset sooner is ignored (renegotiation storms cost one TLS
/// handshake per interval at most).
pub const MIN_RENEG_INTERVAL_MS: u64 = 3_000;
/// The TLS EKM label of OpenVPN's data-channel keys.
pub const EKM_LABEL: &[u8] = b"EXPORTER-OpenVPN-datakeys";

/// Settings shared by all sessions of a listener.
#[derive(Debug, Clone)]
pub struct Config {
    /// rustls server configuration (the server certificate).
    pub tls: Arc<rustls::ServerConfig>,
    /// Data ciphers allowed, in preference order.
    pub ciphers: Vec<Cipher>,
    /// Pushed `ping` interval (s); the server pings as often.
    pub ping_secs: u32,
    /// Pushed `ping-restart` (s); the server ends a session silent so long.
    pub ping_restart_secs: u32,
    /// The whole handshake (reset to push-reply) must finish in this (ms);
    /// a renegotiation too.
    pub handshake_timeout_ms: u64,
    /// The server starts a renegotiation after this many seconds of a key
    /// (OpenVPN's `reneg-sec`, default 3600; 0 = only when the client
    /// asks).
    pub reneg_secs: u32,
}

impl Config {
    /// Defaults: all AEAD ciphers, ping 10 s, ping-restart 60 s, handshake
    /// 60 s (OpenVPN's `hand-window`).
    pub fn new(tls: Arc<rustls::ServerConfig>) -> Config {
        Config {
            tls,
            ciphers: Cipher::ALL.to_vec(),
            ping_secs: 10,
            ping_restart_secs: 60,
            handshake_timeout_ms: 60_000,
            reneg_secs: 3600,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client said goodbye (explicit-exit-notify or `EXIT`).
    ClientExit,
    /// Nothing received for `ping-restart` seconds.
    PingTimeout,
    /// Handshake not finished within the deadline.
    HandshakeTimeout,
    /// Authentication refused (after `AUTH_FAILED` was sent).
    AuthFailed,
    /// The owner closed the session.
    Local,
    /// Protocol or TLS error.
    Error(String),
}

/// What the owner must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Check these credentials, then call [`ServerSession::auth_result`].
    Authenticate {
        /// Username as sent (SoftEther form `user@hub` possible).
        username: String,
        /// Password as sent.
        password: String,
        /// The client's `dev-type` option (`tap` or `tun`).
        dev_type: String,
        /// The client's peer-info lines.
        peer_info: String,
    },
    /// Data channel up with this cipher.
    Established {
        /// The negotiated cipher.
        cipher: Cipher,
    },
    /// New data-channel keys after a renegotiation, under this key id.
    Rekeyed {
        /// The new key id (1..=7).
        key_id: u8,
    },
    /// A decrypted data-channel payload (an Ethernet frame for `dev tap`).
    Frame(Vec<u8>),
    /// The session is over for the owner (detach it from the hub). Keep
    /// driving it until [`ServerSession::is_closed`] so a final
    /// `AUTH_FAILED`/`RESTART` gets delivered, then drop it.
    Closed(CloseReason),
}

/// Session errors (each also ends the session with [`CloseReason::Error`]).
#[derive(Debug, Error)]
pub enum SessionError {
    /// TLS failed.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// Key-method message refused.
    #[error("key-method: {0}")]
    KeyMethod(#[from] KeyMethodError),
    /// Something the server does not support.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
    /// The peer broke the protocol (the packet is dropped).
    #[error("protocol: {0}")]
    Protocol(&'static str),
    /// A fatal error: the session is closed ([`Event::Closed`] follows).
    #[error("session closed: {0}")]
    Fatal(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Tls,
    KeyMethod,
    WaitAuth,
    Authed,
    Active,
    Lingering(u64),
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RenegPhase {
    /// We sent our soft reset; the client's is still to come.
    WaitReset,
    Tls,
    KeyMethod,
}

/// The next key id after `k`: 1..=7, 0 only for the first key (OpenVPN
/// ssl.c `key_state_init`).
pub fn next_key_id(k: u8) -> u8 {
    match k.wrapping_add(1) & 7 {
        0 => 1,
        n => n,
    }
}

/// One client session (see the module docs).
pub struct ServerSession {
    cfg: Arc<Config>,
    state: State,
    our_sid: SessionId,
    peer_sid: SessionId,
    key_id: u8,
    tls: rustls::ServerConnection,
    send: ReliableSend,
    recv: ReliableRecv,
    /// Id 0 of `send` is our reset (hard or soft) and not yet acked.
    reset_pending: bool,
    /// The opcode of that reset.
    reset_op: Opcode,
    /// Renegotiation in progress (phase, start ms).
    reneg: Option<(RenegPhase, u64)>,
    /// When the current keys were made (ms).
    keys_since_ms: u64,
    /// Renegotiations completed.
    renegotiations: u32,
    /// Key id of `data` (sending and receiving).
    data_key: u8,
    /// New keys not yet used for sending (key id, keys).
    fresh: Option<(u8, DataChannel)>,
    /// Previous keys, decrypting until the given time (key id, keys, ms).
    lame: Option<(u8, DataChannel, u64)>,
    plain: Vec<u8>,
    client: Option<ClientKeyMethod>,
    cipher: Option<Cipher>,
    /// HMAC digest of a CBC cipher (the client's `auth`, default SHA1).
    auth: Auth,
    /// Our key-method randoms (random1, random2), for the TLS-PRF keys.
    server_random: ([u8; 32], [u8; 32]),
    push_requested: bool,
    /// Options the owner adds to `PUSH_REPLY` (leading commas).
    extra_push: String,
    data: Option<DataChannel>,
    peer_id: u32,
    use_v2: bool,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    started_ms: u64,
    last_recv_ms: u64,
    last_send_ms: u64,
    now_ms: u64,
}

impl std::fmt::Debug for ServerSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerSession")
            .field("state", &self.state)
            .field("peer_id", &self.peer_id)
            .finish()
    }
}

impl ServerSession {
    /// Starts a session for a client whose reset carried `peer_sid` and
    /// `key_id`. `reset_sent`: the reset reply already went out statelessly
    /// (UDP cookie path, see [`crate::cookie`]); otherwise the session sends
    /// it (reliably). `peer_id`: the 24-bit id pushed for `P_DATA_V2`.
    pub fn new(
        cfg: Arc<Config>,
        our_sid: SessionId,
        peer_sid: SessionId,
        key_id: u8,
        peer_id: u32,
        reset_sent: bool,
        now_ms: u64,
    ) -> Result<ServerSession, SessionError> {
        let tls = rustls::ServerConnection::new(cfg.tls.clone())?;
        let mut recv = ReliableRecv::new(0);
        recv.receive(0, &[]);
        let _ = recv.pop_in_order();
        let mut send = ReliableSend::new(if reset_sent { 1 } else { 0 });
        if !reset_sent {
            // An empty message; `flush` sends id 0 as the reset opcode.
            let _ = send.push(Vec::new());
        }
        let mut s = ServerSession {
            cfg,
            state: State::Tls,
            our_sid,
            peer_sid,
            key_id: key_id & 7,
            tls,
            send,
            recv,
            reset_pending: !reset_sent,
            reset_op: Opcode::HardResetServerV2,
            reneg: None,
            keys_since_ms: now_ms,
            renegotiations: 0,
            data_key: key_id & 7,
            fresh: None,
            lame: None,
            plain: Vec::new(),
            client: None,
            cipher: None,
            auth: Auth::Sha1,
            server_random: ([0; 32], [0; 32]),
            push_requested: false,
            extra_push: String::new(),
            data: None,
            peer_id: peer_id & 0x00ff_ffff,
            use_v2: false,
            out: VecDeque::new(),
            events: VecDeque::new(),
            started_ms: now_ms,
            last_recv_ms: now_ms,
            last_send_ms: now_ms,
            now_ms,
        };
        s.flush();
        Ok(s)
    }

    /// The client's session id.
    pub fn peer_sid(&self) -> SessionId {
        self.peer_sid
    }

    /// True once the data channel is up.
    pub fn is_established(&self) -> bool {
        self.state == State::Active
    }

    /// The key id the server sends data with.
    pub fn data_key_id(&self) -> u8 {
        self.data_key
    }

    /// Renegotiations completed so far.
    pub fn renegotiations(&self) -> u32 {
        self.renegotiations
    }

    /// True once the session is over (after [`Event::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    /// The client's key-method message, once received.
    pub fn client_info(&self) -> Option<&ClientKeyMethod> {
        self.client.as_ref()
    }

    /// Next packet to send (a UDP datagram or a TCP frame body).
    pub fn poll_output(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// Next event for the owner.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn close(&mut self, reason: CloseReason) {
        if self.state != State::Closed {
            self.state = State::Closed;
            self.events.push_back(Event::Closed(reason));
        }
    }

    fn fail(&mut self, e: SessionError) {
        // Send what TLS has queued (an alert) before giving up.
        self.flush();
        self.close(CloseReason::Error(e.to_string()));
    }

    /// Handles one received packet. Bad packets are dropped (returned as
    /// an error for logging); fatal errors also close the session.
    pub fn handle_packet(&mut self, raw: &[u8], now_ms: u64) -> Result<(), SessionError> {
        self.now_ms = now_ms;
        if self.state == State::Closed {
            return Ok(());
        }
        let pkt = decode(raw).map_err(|_| SessionError::Protocol("malformed packet"))?;
        let r = match pkt {
            Packet::Control(c) => self.handle_control(c),
            Packet::Data {
                key_id,
                header,
                payload,
                ..
            } => self.handle_data(key_id, header, payload),
        };
        match r {
            Err(
                e @ (SessionError::Tls(_)
                | SessionError::KeyMethod(_)
                | SessionError::Unsupported(_)),
            ) => {
                let msg = e.to_string();
                self.fail(e);
                Err(SessionError::Fatal(msg))
            }
            other => {
                self.flush();
                other
            }
        }
    }

    fn handle_control(&mut self, c: ControlPacket<'_>) -> Result<(), SessionError> {
        if c.sid != self.peer_sid {
            return Err(SessionError::Protocol("unknown session id"));
        }
        if c.key_id == self.key_id && c.acks.remote_sid.is_some_and(|s| s == self.our_sid) {
            for id in &c.acks.ids {
                self.send.ack(*id);
                if *id == 0 {
                    self.reset_pending = false;
                }
            }
        }
        match c.op {
            Opcode::AckV1 => {}
            Opcode::HardResetClientV2 | Opcode::HardResetClientV3 => {
                // A retransmitted reset: ack again.
                if c.packet_id == Some(0) {
                    self.recv.receive(0, &[]);
                }
            }
            Opcode::ControlV1 => {
                if c.key_id != self.key_id {
                    return Err(SessionError::Protocol("control packet for another key id"));
                }
                self.last_recv_ms = self.now_ms;
                let Some(id) = c.packet_id else { return Ok(()) };
                self.recv.receive(id, c.payload);
                while let Some(p) = self.recv.pop_in_order() {
                    self.feed_tls(&p)?;
                }
            }
            Opcode::SoftResetV1 => self.soft_reset(c.key_id, c.packet_id)?,
            _ => return Err(SessionError::Protocol("unexpected control opcode")),
        }
        Ok(())
    }

    fn feed_tls(&mut self, mut ct: &[u8]) -> Result<(), SessionError> {
        while !ct.is_empty() {
            match self.tls.read_tls(&mut ct) {
                Ok(0) => break,
                Ok(_) => {}
                Err(_) => return Err(SessionError::Protocol("TLS input buffer full")),
            }
            self.tls.process_new_packets()?;
            self.read_plaintext()?;
        }
        if self.state == State::Tls && !self.tls.is_handshaking() {
            self.state = State::KeyMethod;
        }
        if matches!(self.reneg, Some((RenegPhase::Tls, _))) && !self.tls.is_handshaking() {
            self.reneg = self.reneg.map(|(_, t)| (RenegPhase::KeyMethod, t));
        }
        self.process_plaintext()
    }

    /// A `P_CONTROL_SOFT_RESET_V1` from the client: starts its
    /// renegotiation, or answers ours.
    fn soft_reset(&mut self, key_id: u8, packet_id: Option<u32>) -> Result<(), SessionError> {
        if self.state != State::Active {
            return Err(SessionError::Protocol(
                "soft reset before the session is up",
            ));
        }
        if packet_id != Some(0) {
            return Err(SessionError::Protocol(
                "soft reset with a packet id other than 0",
            ));
        }
        match self.reneg {
            Some((phase, t)) if key_id == self.key_id => {
                // The client's reset for this renegotiation (again).
                self.recv.receive(0, &[]);
                if phase == RenegPhase::WaitReset {
                    self.reneg = Some((RenegPhase::Tls, t));
                }
                self.drain_control()
            }
            Some(_) => Err(SessionError::Protocol("soft reset during a renegotiation")),
            None if key_id == self.key_id => {
                // A retransmission of the reset of a finished renegotiation.
                self.recv.receive(0, &[]);
                Ok(())
            }
            None => {
                if key_id != next_key_id(self.key_id) {
                    return Err(SessionError::Protocol(
                        "soft reset with an unexpected key id",
                    ));
                }
                if self.now_ms.saturating_sub(self.keys_since_ms) < MIN_RENEG_INTERVAL_MS {
                    return Err(SessionError::Protocol(
                        "renegotiation too soon after the last one (ignored)",
                    ));
                }
                self.start_reneg(key_id, RenegPhase::Tls)?;
                self.recv.receive(0, &[]);
                self.drain_control()
            }
        }
    }

    /// Feeds the in-order control messages to TLS; the empty ones are the
    /// resets.
    fn drain_control(&mut self) -> Result<(), SessionError> {
        while let Some(p) = self.recv.pop_in_order() {
            if !p.is_empty() {
                self.feed_tls(&p)?;
            }
        }
        Ok(())
    }

    /// A new key state on the control channel: TLS session, reliability
    /// layer, our soft reset as its message 0 (OpenVPN ssl.c
    /// `key_state_soft_reset`).
    fn start_reneg(&mut self, key_id: u8, phase: RenegPhase) -> Result<(), SessionError> {
        self.tls = rustls::ServerConnection::new(self.cfg.tls.clone())?;
        self.send = ReliableSend::new(0);
        let _ = self.send.push(Vec::new());
        self.reset_pending = true;
        self.reset_op = Opcode::SoftResetV1;
        self.recv = ReliableRecv::new(0);
        self.plain.clear();
        self.key_id = key_id;
        self.reneg = Some((phase, self.now_ms));
        self.keys_since_ms = self.now_ms;
        Ok(())
    }

    /// The client's key-method message of a renegotiation: the same
    /// credentials as at login, then new keys from the new TLS session.
    fn rekey(&mut self, km: ClientKeyMethod) -> Result<(), SessionError> {
        use subtle::ConstantTimeEq;
        let same = self.client.as_ref().is_some_and(|c| {
            c.username == km.username
                && bool::from(c.password.as_bytes().ct_eq(km.password.as_bytes()))
        });
        if !same {
            return Err(SessionError::Unsupported(
                "renegotiation with other credentials than the login's",
            ));
        }
        let options = km.options.replace("tls-client", "tls-server");
        let r1: [u8; 32] = rand::random();
        let r2: [u8; 32] = rand::random();
        self.write_plain(&server_message(&r1, &r2, &options))?;
        let cipher = self.cipher.ok_or(SessionError::Protocol("no cipher"))?;
        // The same key method as at login: EKM, or the TLS-PRF for clients
        // without it, over this renegotiation's randoms.
        let ekm = self
            .client
            .as_ref()
            .is_some_and(|c| c.iv_proto() & iv_proto::TLS_KEY_EXPORT != 0);
        let material = if ekm {
            let mut material = [0u8; KEY_MATERIAL_LEN];
            self.tls
                .export_keying_material(&mut material[..], EKM_LABEL, None)?;
            material
        } else {
            crate::prf::key_expansion(&crate::prf::KeySource {
                pre_master: &km.pre_master,
                client_random: (&km.random1, &km.random2),
                server_random: (&r1, &r2),
                client_sid: self.peer_sid,
                server_sid: self.our_sid,
            })
        };
        let dc = DataChannel::with_auth(cipher, self.auth, &material, true)
            .ok_or(SessionError::Protocol("key material"))?;
        self.fresh = Some((self.key_id, dc));
        self.reneg = None;
        self.keys_since_ms = self.now_ms;
        self.renegotiations += 1;
        self.events.push_back(Event::Rekeyed {
            key_id: self.key_id,
        });
        Ok(())
    }

    /// Sends with the fresh keys from now on; the old ones decrypt for
    /// [`TRANSITION_MS`] more.
    fn promote(&mut self) {
        if let Some((k, dc)) = self.fresh.take() {
            if let Some(old) = self.data.replace(dc) {
                self.lame = Some((self.data_key, old, self.now_ms + TRANSITION_MS));
            }
            self.data_key = k;
        }
    }

    fn read_plaintext(&mut self) -> Result<(), SessionError> {
        let mut buf = [0u8; 4096];
        loop {
            match self.tls.reader().read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    if self.plain.len() + n > MAX_PLAINTEXT {
                        return Err(SessionError::Protocol(
                            "control channel plaintext over limit",
                        ));
                    }
                    self.plain.extend_from_slice(&buf[..n]);
                }
                Err(_) => return Ok(()), // WouldBlock: nothing more now
            }
        }
    }

    fn process_plaintext(&mut self) -> Result<(), SessionError> {
        let renegotiating = matches!(self.reneg, Some((RenegPhase::KeyMethod, _)));
        if (self.state == State::KeyMethod || renegotiating) && !self.plain.is_empty() {
            match ClientKeyMethod::parse(&self.plain) {
                Err(KeyMethodError::Incomplete) => {
                    if self.plain.len() > MAX_CLIENT_MESSAGE {
                        return Err(KeyMethodError::BadString("message").into());
                    }
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
                Ok((km, used)) => {
                    self.plain.drain(..used);
                    if renegotiating {
                        self.rekey(km)?;
                    } else {
                        self.got_key_method(km)?;
                    }
                }
            }
        }
        if matches!(self.state, State::WaitAuth | State::Authed | State::Active)
            && !matches!(self.reneg, Some((RenegPhase::KeyMethod, _)))
        {
            while let Some(pos) = self.plain.iter().position(|b| *b == 0) {
                let msg: Vec<u8> = self.plain.drain(..=pos).collect();
                let text = String::from_utf8_lossy(&msg[..pos]).into_owned();
                self.control_message(&text)?;
            }
            if self.plain.len() > MAX_CONTROL_MESSAGE {
                return Err(SessionError::Protocol("control message too long"));
            }
        }
        Ok(())
    }

    fn got_key_method(&mut self, km: ClientKeyMethod) -> Result<(), SessionError> {
        let proto = km.iv_proto();
        let cipher = negotiate(
            &self.cfg.ciphers,
            km.peer_var("IV_CIPHERS"),
            km.peer_var("IV_NCP") == Some("2"),
            km.option("cipher"),
        )
        .ok_or(SessionError::Unsupported("no common data cipher"))?;
        if !cipher.is_aead() {
            // OpenVPN does not negotiate `auth`: both sides use the
            // client's (default SHA1), as SoftEther does.
            self.auth = match km.option("auth") {
                None => Auth::Sha1,
                Some(a) => Auth::from_name(a)
                    .ok_or(SessionError::Unsupported("data channel auth digest"))?,
            };
        }
        self.cipher = Some(cipher);
        self.use_v2 = proto & iv_proto::DATA_V2 != 0;
        // Our options string mirrors the client's so its consistency check
        // stays quiet.
        let options = km.options.replace("tls-client", "tls-server");
        let options = if options.is_empty() {
            "V4".to_string()
        } else {
            options
        };
        let r1: [u8; 32] = rand::random();
        let r2: [u8; 32] = rand::random();
        self.server_random = (r1, r2);
        self.write_plain(&server_message(&r1, &r2, &options))?;
        self.events.push_back(Event::Authenticate {
            username: km.username.clone(),
            password: km.password.clone(),
            dev_type: km.option("dev-type").unwrap_or("tun").to_string(),
            peer_info: km.peer_info.clone(),
        });
        self.client = Some(km);
        self.state = State::WaitAuth;
        Ok(())
    }

    fn control_message(&mut self, text: &str) -> Result<(), SessionError> {
        match text {
            "PUSH_REQUEST" => {
                self.push_requested = true;
                self.maybe_push()
            }
            "EXIT" => {
                self.close(CloseReason::ClientExit);
                Ok(())
            }
            _ => Ok(()), // unknown control messages are ignored, as OpenVPN does
        }
    }

    fn write_plain(&mut self, data: &[u8]) -> Result<(), SessionError> {
        use std::io::Write;
        self.tls
            .writer()
            .write_all(data)
            .map_err(|_| SessionError::Protocol("TLS write failed"))
    }

    /// Options appended to `PUSH_REPLY`, each with its leading comma (e.g.
    /// a `dev tun` client's `ifconfig`, from
    /// [`crate::l3::Lease::push_options`]). Call before
    /// [`ServerSession::auth_result`]; at most 1024 bytes are kept.
    pub fn set_push_options(&mut self, extra: &str) {
        self.extra_push = extra.chars().take(1024).collect();
    }

    /// The owner's answer to [`Event::Authenticate`]. A refusal sends
    /// `AUTH_FAILED` and closes the session after [`LINGER_MS`].
    pub fn auth_result(&mut self, ok: bool, now_ms: u64) {
        self.now_ms = now_ms;
        if self.state != State::WaitAuth {
            return;
        }
        if ok {
            self.state = State::Authed;
            if let Err(e) = self.maybe_push() {
                self.fail(e);
                return;
            }
        } else {
            let _ = self.write_plain(b"AUTH_FAILED\0");
            self.state = State::Lingering(now_ms + LINGER_MS);
            self.events
                .push_back(Event::Closed(CloseReason::AuthFailed));
        }
        self.flush();
    }

    /// Sends the push-reply once authenticated and asked for it, or at
    /// once for clients that announce `IV_PROTO_REQUEST_PUSH` (as an
    /// OpenVPN 2.6 server does; saves the client's ~1 s wait).
    fn maybe_push(&mut self) -> Result<(), SessionError> {
        let early = self
            .client
            .as_ref()
            .is_some_and(|c| c.iv_proto() & iv_proto::REQUEST_PUSH != 0);
        if self.state != State::Authed || !(self.push_requested || early) {
            return Ok(());
        }
        let cipher = self.cipher.ok_or(SessionError::Protocol("no cipher"))?;
        let client = self
            .client
            .as_ref()
            .ok_or(SessionError::Protocol("no key-method message"))?;
        let proto = client.iv_proto();
        let ekm = proto & iv_proto::TLS_KEY_EXPORT != 0;
        // Clients that understand a pushed cipher (as OpenVPN 2.6's
        // `tls_peer_supports_ncp`); older ones use their own `cipher`.
        let ncp = client.peer_var("IV_CIPHERS").is_some()
            || client
                .peer_var("IV_NCP")
                .and_then(|v| v.trim().parse::<u32>().ok())
                .is_some_and(|v| v >= 2);
        let km = if ekm {
            let mut km = [0u8; KEY_MATERIAL_LEN];
            self.tls
                .export_keying_material(&mut km[..], EKM_LABEL, None)?;
            km
        } else {
            crate::prf::key_expansion(&crate::prf::KeySource {
                pre_master: &client.pre_master,
                client_random: (&client.random1, &client.random2),
                server_random: (&self.server_random.0, &self.server_random.1),
                client_sid: self.peer_sid,
                server_sid: self.our_sid,
            })
        };
        self.data = Some(
            DataChannel::with_auth(cipher, self.auth, &km, true)
                .ok_or(SessionError::Protocol("key material"))?,
        );
        let mut reply = format!(
            "PUSH_REPLY,ping {},ping-restart {}",
            self.cfg.ping_secs, self.cfg.ping_restart_secs,
        );
        if ncp {
            reply.push_str(&format!(",cipher {}", cipher.name()));
        }
        if ekm {
            reply.push_str(",key-derivation tls-ekm");
        }
        if self.use_v2 {
            reply.push_str(&format!(",peer-id {}", self.peer_id));
        }
        reply.push_str(&self.extra_push);
        reply.push_str(match (proto & iv_proto::CC_EXIT_NOTIFY != 0, ekm) {
            (true, true) => ",protocol-flags cc-exit tls-ekm",
            (false, true) => ",protocol-flags tls-ekm",
            (true, false) => ",protocol-flags cc-exit",
            (false, false) => "",
        });
        reply.push('\0');
        self.write_plain(reply.as_bytes())?;
        self.state = State::Active;
        self.last_recv_ms = self.now_ms;
        self.keys_since_ms = self.now_ms;
        self.events.push_back(Event::Established { cipher });
        Ok(())
    }

    fn handle_data(
        &mut self,
        key_id: u8,
        header: &[u8],
        payload: &[u8],
    ) -> Result<(), SessionError> {
        if self.state != State::Active {
            return Err(SessionError::Protocol("data packet before keys"));
        }
        let fresh = self.fresh.as_ref().is_some_and(|(k, _)| *k == key_id);
        if self
            .lame
            .as_ref()
            .is_some_and(|(_, _, until)| self.now_ms >= *until)
        {
            self.lame = None;
        }
        let dc = if key_id == self.data_key {
            self.data.as_mut()
        } else if fresh {
            self.fresh.as_mut().map(|(_, dc)| dc)
        } else {
            self.lame
                .as_mut()
                .filter(|(k, _, _)| *k == key_id)
                .map(|(_, dc, _)| dc)
        };
        let Some(dc) = dc else {
            return Err(SessionError::Protocol("data packet for an unknown key id"));
        };
        let r = dc.decrypt(header, payload);
        if fresh && r.is_ok() {
            // The client sends with the new keys: so do we.
            self.promote();
        }
        let plain = r.map_err(|e| match e {
            DataError::Replay(_) => SessionError::Protocol("replayed data packet"),
            _ => SessionError::Protocol("data packet failed authentication"),
        })?;
        self.last_recv_ms = self.now_ms;
        if plain == PING {
            return Ok(());
        }
        if plain.len() >= 17 && plain[..16] == OCC_MAGIC {
            if plain[16] == OCC_EXIT {
                self.close(CloseReason::ClientExit);
            }
            return Ok(());
        }
        self.events.push_back(Event::Frame(plain));
        Ok(())
    }

    /// Encrypts and queues one frame for the client; dropped (false) when
    /// the data channel is not up.
    pub fn send_frame(&mut self, frame: &[u8], now_ms: u64) -> bool {
        self.now_ms = now_ms;
        self.send_data(frame)
    }

    fn send_data(&mut self, plain: &[u8]) -> bool {
        if self.state != State::Active {
            return false;
        }
        if self.fresh.is_some() && self.reneg.is_none() && self.send.is_idle() {
            // The client acknowledged our key-method message: it has the
            // new keys.
            self.promote();
        }
        let Some(dc) = self.data.as_mut() else {
            return false;
        };
        let (h, n) = data_header(self.data_key, self.use_v2.then_some(self.peer_id));
        let mut pkt = Vec::with_capacity(plain.len() + 32);
        match dc.encrypt(&h[..n], plain, &mut pkt) {
            Ok(()) => {
                self.out.push_back(pkt);
                self.last_send_ms = self.now_ms;
                true
            }
            Err(_) => {
                // Packet ids exhausted: without renegotiation the client
                // must reconnect.
                self.begin_close(CloseReason::Error("data packet id exhausted".into()));
                false
            }
        }
    }

    /// Ends the session from our side: tells the client to `RESTART`
    /// (OpenVPN's server message for a dropped client), lingers
    /// [`LINGER_MS`] for it to be delivered, then reports
    /// [`Event::Closed`] with `reason`.
    pub fn begin_close(&mut self, reason: CloseReason) {
        if matches!(self.state, State::Closed | State::Lingering(_)) {
            return;
        }
        if !matches!(self.state, State::Tls) {
            let _ = self.write_plain(b"RESTART\0");
        }
        self.state = State::Lingering(self.now_ms + LINGER_MS);
        self.events.push_back(Event::Closed(reason));
        self.flush();
    }

    /// Drives timers: retransmission, pings, ping-restart, handshake
    /// deadline, lingering.
    pub fn handle_timeout(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        match self.state {
            State::Closed => return,
            State::Lingering(until) => {
                if now_ms >= until {
                    self.state = State::Closed;
                    return;
                }
            }
            State::Active => {
                if now_ms.saturating_sub(self.last_recv_ms)
                    >= u64::from(self.cfg.ping_restart_secs) * 1000
                {
                    self.close(CloseReason::PingTimeout);
                    return;
                }
                if let Some((_, started)) = self.reneg {
                    if now_ms.saturating_sub(started) >= self.cfg.handshake_timeout_ms {
                        self.close(CloseReason::Error(
                            "renegotiation did not finish in time".into(),
                        ));
                        return;
                    }
                } else if let Some(at) = self.reneg_due() {
                    if now_ms >= at {
                        let k = next_key_id(self.key_id);
                        if let Err(e) = self.start_reneg(k, RenegPhase::WaitReset) {
                            self.fail(e);
                            return;
                        }
                    }
                }
                if now_ms.saturating_sub(self.last_send_ms) >= u64::from(self.cfg.ping_secs) * 1000
                {
                    self.send_data(&PING);
                }
            }
            _ => {
                if now_ms.saturating_sub(self.started_ms) >= self.cfg.handshake_timeout_ms {
                    self.close(CloseReason::HandshakeTimeout);
                    return;
                }
            }
        }
        self.flush();
    }

    /// When [`ServerSession::handle_timeout`] must next be called (ms).
    pub fn next_timeout(&self) -> u64 {
        let mut t = match self.state {
            State::Closed => u64::MAX,
            State::Lingering(until) => until,
            State::Active => (self.last_recv_ms + u64::from(self.cfg.ping_restart_secs) * 1000)
                .min(self.last_send_ms + u64::from(self.cfg.ping_secs) * 1000)
                .min(match self.reneg {
                    Some((_, started)) => started + self.cfg.handshake_timeout_ms,
                    None => self.reneg_due().unwrap_or(u64::MAX),
                }),
            _ => self.started_ms + self.cfg.handshake_timeout_ms,
        };
        if let Some(r) = self.send.next_timeout() {
            t = t.min(r);
        }
        t
    }

    /// When the server starts its own renegotiation (`reneg_secs` after the
    /// current keys), if it does.
    fn reneg_due(&self) -> Option<u64> {
        (self.cfg.reneg_secs > 0)
            .then(|| self.keys_since_ms + u64::from(self.cfg.reneg_secs) * 1000)
    }

    /// Moves TLS output into the reliable layer and emits due control
    /// packets with piggy-backed acks, then bare acks.
    fn flush(&mut self) {
        let mut tls_out = Vec::new();
        while self.tls.wants_write() {
            if self.tls.write_tls(&mut tls_out).is_err() {
                break;
            }
        }
        for chunk in tls_out.chunks(CONTROL_CHUNK) {
            if self.send.push(chunk.to_vec()).is_err() {
                self.close(CloseReason::Error("control channel send queue full".into()));
                return;
            }
        }
        let due = match self.send.due(self.now_ms) {
            Ok(d) => d,
            Err(e) => {
                self.close(CloseReason::Error(e.to_string()));
                return;
            }
        };
        let mut buf = Vec::new();
        for (id, payload) in due {
            let op = if id == 0 && self.reset_pending {
                self.reset_op
            } else {
                Opcode::ControlV1
            };
            let ids = self.recv.take_acks(MAX_ACKS);
            let acks = if ids.is_empty() {
                Acks::default()
            } else {
                Acks {
                    ids,
                    remote_sid: Some(self.peer_sid),
                }
            };
            encode_control(
                &ControlPacket {
                    op,
                    key_id: self.key_id,
                    sid: self.our_sid,
                    acks,
                    packet_id: Some(id),
                    payload: &payload,
                },
                &mut buf,
            );
            self.out.push_back(std::mem::take(&mut buf));
        }
        while self.recv.has_acks() {
            let ids = self.recv.take_acks(MAX_ACKS);
            encode_control(
                &ControlPacket {
                    op: Opcode::AckV1,
                    key_id: self.key_id,
                    sid: self.our_sid,
                    acks: Acks {
                        ids,
                        remote_sid: Some(self.peer_sid),
                    },
                    packet_id: None,
                    payload: &[],
                },
                &mut buf,
            );
            self.out.push_back(std::mem::take(&mut buf));
        }
    }
}
