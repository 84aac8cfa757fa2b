// throwaway debug harness (not committed)
use rustether_openvpn::cookie::{reset_reply, CookieKey};
use rustether_openvpn::packet::{decode, Opcode, Packet};
use rustether_openvpn::{Config, Event, ServerSession};
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let ck = rcgen::generate_simple_self_signed(vec!["vpn.example".into()]).unwrap();
    std::fs::write("/tmp/ovpn-dbg-ca.pem", ck.cert.pem()).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let srv = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let cfg = Arc::new(Config::new(Arc::new(srv)));
    let sock = UdpSocket::bind("127.0.0.1:1194").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let t0 = Instant::now();
    let cookies = CookieKey::random();
    let mut sessions: HashMap<SocketAddr, ServerSession> = HashMap::new();
    let mut buf = [0u8; 4096];
    loop {
        let now = t0.elapsed().as_millis() as u64;
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let raw = &buf[..n];
            if let Some(s) = sessions.get_mut(&from) {
                if let Err(e) = s.handle_packet(raw, now) {
                    eprintln!("pkt err {e}");
                }
            } else if let Ok(Packet::Control(c)) = decode(raw) {
                eprintln!("stateless {:?} acks {:?}", c.op, c.acks);
                if c.op == Opcode::HardResetClientV2 {
                    let sid = cookies.sid(&from, &c.sid, now);
                    sock.send_to(&reset_reply(c.key_id, sid, c.sid), from)
                        .unwrap();
                } else if let Some(r) = c.acks.remote_sid {
                    if cookies.verify(&from, &c.sid, &r, now) {
                        let mut s =
                            ServerSession::new(cfg.clone(), r, c.sid, 0, 1, true, now).unwrap();
                        if let Err(e) = s.handle_packet(raw, now) {
                            eprintln!("pkt err {e}");
                        }
                        sessions.insert(from, s);
                    }
                }
            }
        }
        let now = t0.elapsed().as_millis() as u64;
        for (a, s) in sessions.iter_mut() {
            s.handle_timeout(now);
            while let Some(e) = s.poll_event() {
                eprintln!("event {e:?}");
                if let Event::Authenticate { .. } = e {
                    s.auth_result(true, now);
                }
                if let Event::Frame(f) = &e {
                    eprintln!("frame {} bytes", f.len());
                }
            }
            while let Some(p) = s.poll_output() {
                sock.send_to(&p, a).unwrap();
            }
        }
    }
}
