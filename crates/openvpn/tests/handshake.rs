//! A whole session against a client built from the same parts plus a
//! rustls client: reset, TLS, key-method 2, authentication, push-reply,
//! EKM keys, frames both ways, over a link that loses, duplicates and
//! reorders packets. (The real openvpn client is exercised by
//! crates/rustether/tests/interop_openvpn.rs.)

use std::io::{Read, Write};
use std::sync::Arc;

use rustether_openvpn::cbc::Auth;
use rustether_openvpn::data::{DataChannel, PING};
use rustether_openvpn::keymethod::{client_message, ClientKeyMethod};
use rustether_openvpn::packet::{
    data_header, decode, encode_control, Acks, ControlPacket, Opcode, Packet,
};
use rustether_openvpn::prf::{key_expansion, KeySource};
use rustether_openvpn::reliable::{ReliableRecv, ReliableSend};
use rustether_openvpn::session::EKM_LABEL;
use rustether_openvpn::{Cipher, CloseReason, Config, Event, ServerSession};

fn tls_configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let ck = rcgen::generate_simple_self_signed(vec!["vpn.example".into()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let srv = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let cli = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(srv), Arc::new(cli))
}

struct Client {
    sid: [u8; 8],
    server_sid: Option<[u8; 8]>,
    tls: rustls::ClientConnection,
    send: ReliableSend,
    recv: ReliableRecv,
    plain: Vec<u8>,
    sent_km: bool,
    sent_push: bool,
    push_reply: Option<String>,
    auth_failed: bool,
    data: Option<DataChannel>,
    peer_id: Option<u32>,
    frames: Vec<Vec<u8>>,
    user: String,
    password: String,
    /// Options string and peer-info of the key-method message.
    options: String,
    peer_info: String,
    /// The server's key-method randoms (for TLS-PRF keys).
    server_random: Option<([u8; 32], [u8; 32])>,
}

impl Client {
    fn new(cfg: Arc<rustls::ClientConfig>, user: &str, password: &str) -> Client {
        Client {
            sid: [0x11; 8],
            server_sid: None,
            tls: rustls::ClientConnection::new(cfg, "vpn.example".try_into().unwrap()).unwrap(),
            send: ReliableSend::new(1),
            recv: ReliableRecv::new(0),
            plain: Vec::new(),
            sent_km: false,
            sent_push: false,
            push_reply: None,
            auth_failed: false,
            data: None,
            peer_id: None,
            frames: Vec::new(),
            user: user.into(),
            password: password.into(),
            options: "V4,dev-type tap,link-mtu 1559,tun-mtu 1500,proto UDPv4,cipher AES-256-CBC,key-method 2,tls-client".into(),
            peer_info: "IV_VER=2.6.14\nIV_PROTO=990\nIV_CIPHERS=CHACHA20-POLY1305:AES-128-GCM\n".into(),
            server_random: None,
        }
    }

    fn reset(&self) -> Vec<u8> {
        let mut out = Vec::new();
        encode_control(
            &ControlPacket {
                op: Opcode::HardResetClientV2,
                key_id: 0,
                sid: self.sid,
                acks: Acks::default(),
                packet_id: Some(0),
                payload: &[],
            },
            &mut out,
        );
        out
    }

    fn input(&mut self, raw: &[u8]) {
        match decode(raw).unwrap() {
            Packet::Control(c) => {
                self.server_sid = Some(c.sid);
                for id in c.acks.ids {
                    self.send.ack(id);
                }
                if let Some(id) = c.packet_id {
                    self.recv.receive(id, c.payload);
                }
                while let Some(p) = self.recv.pop_in_order() {
                    let mut rd = &p[..];
                    while !rd.is_empty() {
                        self.tls.read_tls(&mut rd).unwrap();
                        self.tls.process_new_packets().unwrap();
                    }
                }
                let mut buf = [0u8; 4096];
                while let Ok(n) = self.tls.reader().read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    self.plain.extend_from_slice(&buf[..n]);
                }
                // The server's key-method message: u32 0, method, random1,
                // random2.
                if self.server_random.is_none() && self.plain.len() >= 69 {
                    let r = |a: usize| -> [u8; 32] { self.plain[a..a + 32].try_into().unwrap() };
                    self.server_random = Some((r(5), r(37)));
                }
                let text = String::from_utf8_lossy(&self.plain).into_owned();
                if let Some(i) = text.find("PUSH_REPLY") {
                    let reply = text[i..].split('\0').next().unwrap().to_string();
                    // Without a pushed cipher, the client's own (no NCP).
                    let cipher = reply
                        .split(',')
                        .find_map(|o| o.strip_prefix("cipher "))
                        .or_else(|| {
                            self.options
                                .split(',')
                                .find_map(|o| o.strip_prefix("cipher "))
                        })
                        .and_then(Cipher::from_name)
                        .unwrap();
                    let auth = self
                        .options
                        .split(',')
                        .find_map(|o| o.strip_prefix("auth "))
                        .map_or(Auth::Sha1, |a| Auth::from_name(a).unwrap());
                    self.peer_id = reply
                        .split(',')
                        .find_map(|o| o.strip_prefix("peer-id "))
                        .map(|p| p.parse().unwrap());
                    let mut km = [0u8; 256];
                    if reply.contains("tls-ekm") {
                        self.tls
                            .export_keying_material(&mut km[..], EKM_LABEL, None)
                            .unwrap();
                    } else {
                        let (s1, s2) = self.server_random.unwrap();
                        km = key_expansion(&KeySource {
                            pre_master: &[1; 48],
                            client_random: (&[2; 32], &[3; 32]),
                            server_random: (&s1, &s2),
                            client_sid: self.sid,
                            server_sid: self.server_sid.unwrap(),
                        });
                    }
                    self.data = DataChannel::with_auth(cipher, auth, &km, false);
                    self.push_reply = Some(reply);
                    self.plain.clear();
                }
                if text.contains("AUTH_FAILED") {
                    self.auth_failed = true;
                }
            }
            Packet::Data {
                header, payload, ..
            } => {
                // Before the push-reply arrived there are no keys: dropped,
                // as openvpn does.
                let Some(dc) = self.data.as_mut() else { return };
                let plain = dc.decrypt(header, payload).unwrap();
                if plain != PING {
                    self.frames.push(plain);
                }
            }
        }
    }

    fn output(&mut self, now: u64) -> Vec<Vec<u8>> {
        if !self.tls.is_handshaking() && !self.sent_km {
            let km = ClientKeyMethod {
                pre_master: [1; 48],
                random1: [2; 32],
                random2: [3; 32],
                options: self.options.clone(),
                username: self.user.clone(),
                password: self.password.clone(),
                peer_info: self.peer_info.clone(),
            };
            self.tls.writer().write_all(&client_message(&km)).unwrap();
            self.sent_km = true;
        }
        if self.sent_km && !self.sent_push && self.plain.len() > 4 {
            self.tls.writer().write_all(b"PUSH_REQUEST\0").unwrap();
            self.sent_push = true;
        }
        let mut ct = Vec::new();
        while self.tls.wants_write() {
            self.tls.write_tls(&mut ct).unwrap();
        }
        for c in ct.chunks(1000) {
            self.send.push(c.to_vec()).unwrap();
        }
        let mut out = Vec::new();
        let Some(server_sid) = self.server_sid else {
            return out;
        };
        for (id, payload) in self.send.due(now).unwrap() {
            let ids = self.recv.take_acks(8);
            let acks = if ids.is_empty() {
                Acks::default()
            } else {
                Acks {
                    ids,
                    remote_sid: Some(server_sid),
                }
            };
            let mut b = Vec::new();
            encode_control(
                &ControlPacket {
                    op: Opcode::ControlV1,
                    key_id: 0,
                    sid: self.sid,
                    acks,
                    packet_id: Some(id),
                    payload: &payload,
                },
                &mut b,
            );
            out.push(b);
        }
        if self.recv.has_acks() {
            let mut b = Vec::new();
            let ids = self.recv.take_acks(8);
            encode_control(
                &ControlPacket {
                    op: Opcode::AckV1,
                    key_id: 0,
                    sid: self.sid,
                    acks: Acks {
                        ids,
                        remote_sid: Some(server_sid),
                    },
                    packet_id: None,
                    payload: &[],
                },
                &mut b,
            );
            out.push(b);
        }
        out
    }

    fn data_packet(&mut self, plain: &[u8]) -> Vec<u8> {
        let (h, n) = data_header(0, self.peer_id);
        let mut pkt = Vec::new();
        self.data
            .as_mut()
            .unwrap()
            .encrypt(&h[..n], plain, &mut pkt)
            .unwrap();
        pkt
    }
}

/// Applies a deterministic lossy link: drop every 5th, duplicate every 7th,
/// swap neighbours every 3rd batch.
fn link(pkts: Vec<Vec<u8>>, counter: &mut u32) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for p in pkts {
        *counter += 1;
        if (*counter).is_multiple_of(5) {
            continue;
        }
        if (*counter).is_multiple_of(7) {
            out.push(p.clone());
        }
        out.push(p);
    }
    if (*counter).is_multiple_of(3) && out.len() >= 2 {
        out.swap(0, 1);
    }
    out
}

/// Runs a session to completion or `max_ms` of simulated time; returns the
/// server's events.
fn run(
    client: &mut Client,
    srv_cfg: Arc<Config>,
    password_ok: &str,
    lossy: bool,
    max_ms: u64,
) -> (ServerSession, Vec<Event>) {
    let mut now = 0u64;
    let first = client.reset();
    let Packet::Control(reset) = decode(&first).unwrap() else {
        panic!()
    };
    let mut srv = ServerSession::new(srv_cfg, [0x22; 8], reset.sid, 0, 5, false, now).unwrap();
    let mut events = Vec::new();
    let (mut c1, mut c2) = (0, 2);
    let mut frame_sent = false;
    while now < max_ms {
        let mut to_client = Vec::new();
        while let Some(p) = srv.poll_output() {
            to_client.push(p);
        }
        if lossy {
            to_client = link(to_client, &mut c1);
        }
        for p in to_client {
            client.input(&p);
        }
        let mut to_server = client.output(now);
        if client.data.is_some() && !frame_sent {
            to_server.push(client.data_packet(b"client frame"));
            frame_sent = true;
        }
        if lossy {
            to_server = link(to_server, &mut c2);
        }
        for p in to_server {
            let _ = srv.handle_packet(&p, now);
        }
        while let Some(e) = srv.poll_event() {
            if let Event::Authenticate { password, .. } = &e {
                srv.auth_result(password == password_ok, now);
            }
            events.push(e);
        }
        // Until the client has it (the first copy may overtake the
        // push-reply on the lossy link).
        if srv.is_established() && client.frames.is_empty() {
            assert!(srv.send_frame(b"server frame", now));
        }
        if srv.is_closed()
            || (!client.frames.is_empty()
                && frame_sent
                && events.iter().any(|e| matches!(e, Event::Frame(_))))
        {
            break;
        }
        now += 500;
        srv.handle_timeout(now);
    }
    (srv, events)
}

#[test]
fn handshake_and_frames_over_a_clean_and_a_lossy_link() {
    for lossy in [false, true] {
        let (s, c) = tls_configs();
        let mut client = Client::new(c, "alice@HUB", "pw");
        let (srv, events) = run(&mut client, Arc::new(Config::new(s)), "pw", lossy, 120_000);
        assert!(srv.is_established(), "lossy={lossy}: {events:?}");
        assert!(events.contains(&Event::Authenticate {
            username: "alice@HUB".into(),
            password: "pw".into(),
            dev_type: "tap".into(),
            peer_info: "IV_VER=2.6.14\nIV_PROTO=990\nIV_CIPHERS=CHACHA20-POLY1305:AES-128-GCM\n"
                .into(),
        }));
        // Server preference among the client's list: AES-128-GCM.
        assert!(
            events.contains(&Event::Established {
                cipher: Cipher::Aes128Gcm
            }),
            "{events:?}"
        );
        assert!(events.contains(&Event::Frame(b"client frame".to_vec())));
        assert_eq!(client.frames[0], b"server frame".to_vec());
        let reply = client.push_reply.clone().unwrap();
        assert!(reply.contains(",peer-id 5"), "{reply}");
        assert!(reply.contains("key-derivation tls-ekm"), "{reply}");
    }
}

#[test]
fn wrong_password_gets_auth_failed() {
    let (s, c) = tls_configs();
    let mut client = Client::new(c, "alice", "bad");
    let (mut srv, events) = run(&mut client, Arc::new(Config::new(s)), "pw", false, 20_000);
    assert!(
        events.contains(&Event::Closed(CloseReason::AuthFailed)),
        "{events:?}"
    );
    // Deliver the remaining output; the client sees AUTH_FAILED.
    while let Some(p) = srv.poll_output() {
        client.input(&p);
    }
    assert!(client.auth_failed);
    assert!(!srv.is_established());
    srv.handle_timeout(60_000);
    assert!(srv.is_closed());
}

#[test]
fn silent_client_hits_the_handshake_deadline() {
    let (s, _) = tls_configs();
    let mut cfg = Config::new(s);
    cfg.handshake_timeout_ms = 10_000;
    let mut srv = ServerSession::new(Arc::new(cfg), [1; 8], [2; 8], 0, 0, false, 0).unwrap();
    let mut sent = 0;
    let mut now = 0;
    while !srv.is_closed() && now < 100_000 {
        while srv.poll_output().is_some() {
            sent += 1;
        }
        now = srv.next_timeout().max(now + 1);
        srv.handle_timeout(now);
    }
    assert!(srv.is_closed());
    assert!(now <= 10_000, "closed at {now}");
    assert!(sent >= 2, "the reset was retransmitted ({sent})");
    assert_eq!(
        srv.poll_event(),
        Some(Event::Closed(CloseReason::HandshakeTimeout))
    );
}

#[test]
fn garbage_and_forged_packets_are_dropped_without_panic() {
    let (s, _) = tls_configs();
    let mut srv =
        ServerSession::new(Arc::new(Config::new(s)), [1; 8], [2; 8], 0, 0, false, 0).unwrap();
    let _ = srv.poll_output();
    for raw in [
        &[][..],
        &[0xff; 40][..],
        &[0x20, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 1, 0x16][..],
        &[0x48, 0, 0, 0, 1, 2, 3][..],
    ] {
        let _ = srv.handle_packet(raw, 1);
    }
    // Wrong session id: ignored.
    let mut b = Vec::new();
    encode_control(
        &ControlPacket {
            op: Opcode::ControlV1,
            key_id: 0,
            sid: [9; 8],
            acks: Acks::default(),
            packet_id: Some(1),
            payload: b"x",
        },
        &mut b,
    );
    assert!(srv.handle_packet(&b, 1).is_err());
    assert!(!srv.is_closed());
    // Garbage TLS from the right session id closes it with an error.
    encode_control(
        &ControlPacket {
            op: Opcode::ControlV1,
            key_id: 0,
            sid: [2; 8],
            acks: Acks::default(),
            packet_id: Some(2),
            payload: &[0x99; 64],
        },
        &mut b,
    );
    assert!(srv.handle_packet(&b, 1).is_err());
    assert!(matches!(
        srv.poll_event(),
        Some(Event::Closed(CloseReason::Error(_)))
    ));
}

fn soft_reset(sid: [u8; 8], key_id: u8) -> Vec<u8> {
    let mut b = Vec::new();
    encode_control(
        &ControlPacket {
            op: Opcode::SoftResetV1,
            key_id,
            sid,
            acks: Acks::default(),
            packet_id: Some(0),
            payload: &[],
        },
        &mut b,
    );
    b
}

/// The soft resets among `out` as their key ids.
fn soft_resets(out: &[Vec<u8>]) -> Vec<u8> {
    out.iter()
        .filter_map(|p| match decode(p) {
            Ok(Packet::Control(c)) if c.op == Opcode::SoftResetV1 => Some(c.key_id),
            _ => None,
        })
        .collect()
}

#[test]
fn client_soft_reset_starts_a_renegotiation_and_a_storm_is_refused() {
    let (s, c) = tls_configs();
    let mut cfg = Config::new(s);
    cfg.ping_restart_secs = 1000;
    let mut client = Client::new(c, "alice", "pw");
    let (mut srv, _) = run(&mut client, Arc::new(cfg), "pw", false, 20_000);
    assert!(srv.is_established());
    let now = 200_000;
    // A wrong key id, then the right one (key 1 after key 0).
    assert!(srv.handle_packet(&soft_reset(client.sid, 5), now).is_err());
    srv.handle_packet(&soft_reset(client.sid, 1), now).unwrap();
    let mut out = Vec::new();
    while let Some(p) = srv.poll_output() {
        out.push(p);
    }
    assert_eq!(soft_resets(&out), vec![1], "our soft reset for key 1");
    // More soft resets while it runs: refused, the session stays up and
    // keeps its data keys.
    for k in [2u8, 3, 4] {
        assert!(srv.handle_packet(&soft_reset(client.sid, k), now).is_err());
    }
    assert!(srv.is_established());
    assert_eq!(srv.data_key_id(), 0);
    assert!(srv.send_frame(b"still up", now));
    // A renegotiation that never finishes ends the session in the
    // handshake deadline.
    srv.handle_timeout(now + 60_000);
    assert!(matches!(
        srv.poll_event(),
        Some(Event::Closed(CloseReason::Error(_)))
    ));
}

#[test]
fn server_starts_a_renegotiation_after_reneg_secs() {
    let (s, c) = tls_configs();
    let mut cfg = Config::new(s);
    cfg.reneg_secs = 30;
    let mut client = Client::new(c, "alice", "pw");
    let (mut srv, _) = run(&mut client, Arc::new(cfg), "pw", false, 20_000);
    assert!(srv.is_established());
    while srv.poll_output().is_some() {}
    // Pings every 10 s, then the soft reset (before ping-restart).
    let mut out = Vec::new();
    let mut at = 0;
    for _ in 0..10 {
        at = srv.next_timeout();
        srv.handle_timeout(at);
        while let Some(p) = srv.poll_output() {
            out.push(p);
        }
        if !soft_resets(&out).is_empty() {
            break;
        }
    }
    assert_eq!(
        soft_resets(&out),
        vec![1],
        "soft reset for key 1 at {at} ms"
    );
    assert!(srv.is_established() && at <= 60_000, "{at}");
}

/// Clients without TLS EKM (OpenVPN 2.4 and older: `IV_PROTO` without
/// bit 3) get TLS-PRF keys; a client without NCP (2.3: neither `IV_NCP`
/// nor `IV_CIPHERS`) keeps its own CBC cipher and `auth`, and is pushed no
/// cipher; a 2.6 client limited to CBC gets CBC with EKM keys. Frames flow
/// both ways in each case, over a lossy link.
#[test]
fn legacy_clients_get_prf_keys_and_cbc_ciphers() {
    let opts = |tail: &str| {
        format!(
            "V4,dev-type tap,link-mtu 1559,tun-mtu 1500,proto UDPv4,{tail},key-method 2,tls-client"
        )
    };
    for (peer_info, options, cipher, pushed_cipher, ekm) in [
        (
            "IV_VER=2.4.12\nIV_PROTO=2\nIV_NCP=2\n",
            opts("cipher AES-128-CBC,auth SHA1,keysize 128"),
            Cipher::Aes256Gcm,
            true,
            false,
        ),
        (
            "IV_VER=2.3.18\n",
            opts("cipher AES-128-CBC,auth SHA256,keysize 128"),
            Cipher::Aes128Cbc,
            false,
            false,
        ),
        (
            "IV_VER=2.6.14\nIV_PROTO=990\nIV_CIPHERS=AES-256-CBC\n",
            opts("cipher AES-256-CBC,auth SHA512,keysize 256"),
            Cipher::Aes256Cbc,
            true,
            true,
        ),
    ] {
        let (s, c) = tls_configs();
        let mut client = Client::new(c, "alice", "pw");
        client.peer_info = peer_info.into();
        client.options = options;
        let (srv, events) = run(&mut client, Arc::new(Config::new(s)), "pw", true, 120_000);
        assert!(srv.is_established(), "{peer_info}: {events:?}");
        assert!(
            events.contains(&Event::Established { cipher }),
            "{peer_info}: {events:?}"
        );
        assert!(events.contains(&Event::Frame(b"client frame".to_vec())));
        assert_eq!(client.frames[0], b"server frame".to_vec());
        let reply = client.push_reply.clone().unwrap();
        assert_eq!(reply.contains(",cipher "), pushed_cipher, "{reply}");
        assert_eq!(reply.contains("tls-ekm"), ekm, "{reply}");
    }
}

/// A CBC client whose `auth` digest we do not have is refused at once.
#[test]
fn unknown_auth_digest_is_refused() {
    let (s, c) = tls_configs();
    let mut client = Client::new(c, "alice", "pw");
    client.peer_info = "IV_VER=2.3.18\n".into();
    client.options = "V4,dev-type tap,cipher AES-128-CBC,auth MD5,key-method 2,tls-client".into();
    let (srv, events) = run(&mut client, Arc::new(Config::new(s)), "pw", false, 20_000);
    assert!(srv.is_closed());
    assert!(
        events.iter().any(
            |e| matches!(e, Event::Closed(CloseReason::Error(m)) if m.contains("auth digest"))
        ),
        "{events:?}"
    );
}
