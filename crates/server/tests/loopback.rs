//! The server on a loopback port, driven by our own client code and by raw
//! malformed input. These tests check robustness and the hub's behaviour;
//! compatibility with the real SoftEther programs is proven separately by
//! the interop tests in `crates/rustether/tests/`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustether_config::{Edition, Policy, UserAuth, UserConfig};
use rustether_proto::block::{BlockDecoder, BlockEncoder, BlockEvent};
use rustether_proto::messages::{ClientAuth, Direction, Hello, LoginRequest};
use rustether_proto::password::{hash_password, secure_password};
use rustether_proto::ErrorCode;
use rustether_server::client::{self, ClientTarget};
use rustether_server::server::Server;
use rustether_server::transport::{DataReader, DataWriter};
use rustether_server::worker::Services;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct TestServer {
    server: Arc<Server>,
    addr: SocketAddr,
    _services: Services,
    _dir: tempfile::TempDir,
}

impl TestServer {
    async fn start() -> TestServer {
        rustether_server::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::open(Edition::Server, dir.path()).unwrap();
        server
            .update_config(|c| {
                let hub = c.hub_mut("DEFAULT").unwrap();
                hub.users.push(UserConfig::new(
                    "test",
                    UserAuth::Password {
                        hash: hash_password("test", "testpass"),
                        nt_hash: None,
                    },
                    rustether_config::model::now_ms(),
                ));
                let mut quick = UserConfig::new(
                    "quick",
                    UserAuth::Password {
                        hash: hash_password("quick", "pw"),
                        nt_hash: None,
                    },
                    rustether_config::model::now_ms(),
                );
                quick.policy = Some(Policy {
                    access: true,
                    timeout_secs: 5,
                    ..Default::default()
                });
                hub.users.push(quick);
                Ok(())
            })
            .await
            .unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let services = Services::new(server.clone());
        services.serve(l);
        TestServer {
            server,
            addr,
            _services: services,
            _dir: dir,
        }
    }

    fn target(&self) -> ClientTarget {
        ClientTarget {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
            source: None,
            not_this_host: false,
        }
    }
}

fn login_req(hello: &Hello, hub: &str, user: &str, pw: &str) -> LoginRequest {
    let sp = secure_password(&hash_password(user, pw), &hello.random);
    let mut r = LoginRequest::cascade(hub, user, sp, [7u8; 20]);
    r.require_bridge_routing_mode = false;
    r
}

/// A logged-in test session: its data halves and codecs.
struct Peer {
    r: DataReader,
    w: DataWriter,
    buf: BytesMut,
    dec: BlockDecoder,
    enc: BlockEncoder,
}

impl Peer {
    async fn login(
        ts: &TestServer,
        user: &str,
        pw: &str,
        tweak: impl FnOnce(&mut LoginRequest),
    ) -> (Peer, rustether_proto::messages::Welcome) {
        let (welcome, conn) = client::login(&ts.target(), |h| {
            let mut r = login_req(h, "DEFAULT", user, pw);
            tweak(&mut r);
            r
        })
        .await
        .expect("login");
        (Peer::from_conn(conn, &welcome), welcome)
    }

    /// The data phase of a connection of the session `welcome` set up.
    fn from_conn(conn: client::ClientConn, welcome: &rustether_proto::messages::Welcome) -> Peer {
        let (stream, leftover) = conn.into_data(welcome.use_encrypt);
        let (r, w) = stream.split();
        Peer {
            r,
            w,
            buf: leftover,
            dec: BlockDecoder::new(welcome.use_compress),
            enc: BlockEncoder::new(welcome.use_compress),
        }
    }

    async fn send(&mut self, frames: &[&[u8]]) {
        let mut out = BytesMut::new();
        self.enc.encode_frames(&mut out, frames.iter().copied());
        self.w.write_all(&out).await.unwrap();
        self.w.flush().await.unwrap();
    }

    /// Next frame within `wait`, skipping keep-alives.
    async fn recv(&mut self, wait: Duration) -> Option<Bytes> {
        tokio::time::timeout(wait, async {
            loop {
                match self.dec.next_event(&mut self.buf).unwrap() {
                    Some(BlockEvent::Frame(f)) => return Some(f),
                    Some(BlockEvent::KeepAlive) => continue,
                    None => {}
                }
                if self.r.read_buf(&mut self.buf).await.ok()? == 0 {
                    return None;
                }
            }
        })
        .await
        .ok()
        .flatten()
    }
}

/// Waits (deadline [`LONG`]) until `session` has no connection left.
async fn wait_no_connection(session: &rustether_server::session::Session) {
    let deadline = tokio::time::Instant::now() + LONG;
    while session.connection_count() != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: connections not closed",
            session.name
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn frame(dst: [u8; 6], src: [u8; 6], tag: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12] = 0x88;
    f[13] = 0xb5;
    f[14] = tag;
    f
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];
const BCAST: [u8; 6] = [0xff; 6];
/// Deadline of a wait for something that must happen (never a speed limit).
const LONG: Duration = Duration::from_secs(30);

async fn switching_between_two_sessions(tweak: fn(&mut LoginRequest)) {
    let ts = TestServer::start().await;
    let (mut a, wa) = Peer::login(&ts, "test", "testpass", tweak).await;
    let (mut b, _) = Peer::login(&ts, "TEST", "testpass", tweak).await;
    assert!(wa.session_name.starts_with("SID-TEST-"));
    // Broadcast from A reaches B, not A.
    a.send(&[&frame(BCAST, MAC_A, 1)]).await;
    let got = b.recv(LONG).await.expect("B gets A's broadcast");
    assert_eq!(got[14], 1);
    // B answers A by unicast; A's MAC is learned. The hub queued any echo
    // of A's broadcast to A before B could see it, so A's first frame
    // being B's answer shows there was no echo (no quiet window needed).
    b.send(&[&frame(MAC_A, MAC_B, 2), &frame(MAC_A, MAC_B, 3)])
        .await;
    assert_eq!(a.recv(LONG).await.unwrap()[14], 2, "no echo to the sender");
    assert_eq!(a.recv(LONG).await.unwrap()[14], 3);
    // A to B by unicast now that B is known.
    a.send(&[&frame(MAC_B, MAC_A, 4)]).await;
    assert_eq!(b.recv(LONG).await.unwrap()[14], 4);
    assert_eq!(ts.server.sessions.len(), 2);
}

#[tokio::test]
async fn two_sessions_switch_frames_over_tls() {
    switching_between_two_sessions(|_| {}).await;
}

#[tokio::test]
async fn two_sessions_switch_frames_without_encryption() {
    switching_between_two_sessions(|r| r.use_encrypt = false).await;
}

#[tokio::test]
async fn two_sessions_switch_frames_with_compression() {
    switching_between_two_sessions(|r| r.use_compress = true).await;
}

#[tokio::test]
async fn refusals_carry_softether_error_codes() {
    let ts = TestServer::start().await;
    let t = ts.target();
    let err = |r: Result<_, client::ClientError>| r.err().expect("refused").code;
    assert_eq!(
        err(client::login(&t, |h| login_req(h, "DEFAULT", "test", "wrong")).await),
        ErrorCode::AUTH_FAILED
    );
    assert_eq!(
        err(client::login(&t, |h| login_req(h, "DEFAULT", "nobody", "x")).await),
        ErrorCode::AUTH_FAILED
    );
    assert_eq!(
        err(client::login(&t, |h| login_req(h, "NOHUB", "test", "testpass")).await),
        ErrorCode::HUB_NOT_FOUND
    );
    for authtype in [4u32, 96, 97, 98, 1234] {
        let code = err(client::login(&t, |h| {
            let mut r = login_req(h, "DEFAULT", "test", "testpass");
            r.auth = ClientAuth::Unsupported(authtype);
            r
        })
        .await);
        assert_eq!(
            code,
            ErrorCode::AUTHTYPE_NOT_SUPPORTED,
            "authtype {authtype}"
        );
    }
    // Plain password (authtype 2) works, the hub name is case-insensitive.
    let ok = client::login(&t, |h| {
        let mut r = login_req(h, "default", "test", "testpass");
        r.auth = ClientAuth::PlainPassword {
            password: "testpass".into(),
        };
        r
    })
    .await;
    assert!(ok.is_ok(), "{:?}", ok.err());
    // An offline hub refuses with 10.
    ts.server
        .update_config(|c| {
            c.hub_mut("DEFAULT").unwrap().online = false;
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(
        err(client::login(&t, |h| login_req(h, "DEFAULT", "test", "testpass")).await),
        ErrorCode::HUB_STOPPING
    );
}

#[tokio::test]
async fn additional_connections_follow_max_connection_and_half_duplex() {
    let ts = TestServer::start().await;
    let t = ts.target();
    let (welcome, first) = client::login(&t, |h| {
        let mut r = login_req(h, "DEFAULT", "test", "testpass");
        r.max_connection = 4;
        r.half_connection = true;
        r
    })
    .await
    .unwrap();
    assert_eq!(welcome.max_connection, 4);
    assert!(welcome.half_connection);
    let cert = first.server_cert.clone();
    let _keep = first.into_data(true);
    // docs/protocol-sslvpn.md §6.2: additional directions go 1, 1, 2, 1 after a
    // client→server first one.
    let mut dirs = Vec::new();
    let mut conns = Vec::new();
    for _ in 0..4 {
        let (d, c) = client::additional_connect(&t, welcome.session_key, &cert)
            .await
            .unwrap();
        dirs.push(d);
        conns.push(c.into_data(true));
    }
    assert_eq!(
        dirs,
        vec![
            Direction::ServerToClient,
            Direction::ServerToClient,
            Direction::ClientToServer,
            Direction::ServerToClient
        ]
    );
    // Now 5 > 4: refused with 15.
    let e = client::additional_connect(&t, welcome.session_key, &cert)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::TOO_MANY_CONNECTION);
    // Unknown key: 13.
    let e = client::additional_connect(&t, [9u8; 20], &cert)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::SESSION_TIMEOUT);
}

/// A session whose only connection closes waits for the client to resume
/// it (SoftEther: the session ends on `LastCommTime` + timeout, not with
/// its last socket, src/Cedar/Session.c `SessionMain`): an additional
/// connection with its key joins it and frames flow again. With
/// `DisableSessionReconnect` the session ends with its last connection and
/// the key is refused with 13.
#[tokio::test]
async fn session_outlives_its_last_connection_until_resumed() {
    let ts = TestServer::start().await;
    let t = ts.target();
    let (welcome, first) = client::login(&t, |h| login_req(h, "DEFAULT", "test", "testpass"))
        .await
        .unwrap();
    let cert = first.server_cert.clone();
    let session = ts.server.sessions.all().pop().expect("the session");
    let (stream, _) = first.into_data(welcome.use_encrypt);
    drop(stream);
    wait_no_connection(&session).await;
    assert!(!session.has_ended(), "ended with its last connection");
    assert_eq!(ts.server.sessions.len(), 1);
    let (dir, conn) = client::additional_connect(&t, welcome.session_key, &cert)
        .await
        .expect("resumed");
    assert_eq!(dir, Direction::Both);
    let mut resumed = Peer::from_conn(conn, &welcome);
    let (mut other, _) = Peer::login(&ts, "test", "testpass", |_| {}).await;
    other.send(&[&frame(BCAST, MAC_B, 31)]).await;
    assert_eq!(resumed.recv(LONG).await.unwrap()[14], 31);
    resumed.send(&[&frame(MAC_B, MAC_A, 32)]).await;
    assert_eq!(other.recv(LONG).await.unwrap()[14], 32);
    assert!(!session.has_ended());

    // DisableSessionReconnect: gone with its connection.
    ts.server
        .update_config(|c| {
            c.server.disable_session_reconnect = true;
            Ok(())
        })
        .await
        .unwrap();
    let (welcome, first) = client::login(&t, |h| login_req(h, "DEFAULT", "test", "testpass"))
        .await
        .unwrap();
    let brief = ts
        .server
        .sessions
        .all()
        .into_iter()
        .find(|s| s.key == welcome.session_key)
        .expect("the new session");
    drop(first.into_data(welcome.use_encrypt));
    let deadline = tokio::time::Instant::now() + LONG;
    while !brief.has_ended() {
        assert!(tokio::time::Instant::now() < deadline, "session not ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let e = client::additional_connect(&t, welcome.session_key, &cert)
        .await
        .err()
        .unwrap();
    assert_eq!(e.code, ErrorCode::SESSION_TIMEOUT);
}

/// Sends raw bytes inside TLS and returns everything the server answers
/// until it closes (bounded).
async fn raw_exchange(ts: &TestServer, payload: &[u8]) -> Vec<u8> {
    let tcp = tokio::net::TcpStream::connect(ts.addr).await.unwrap();
    let connector =
        tokio_rustls::TlsConnector::from(rustether_server::tls::client_config_no_verify());
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    tls.write_all(payload).await.unwrap();
    tls.flush().await.unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        let mut b = [0u8; 4096];
        loop {
            match tls.read(&mut b).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&b[..n]),
            }
            // The server keeps the connection open after most pages.
            if got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() > 100 {
                break;
            }
        }
    })
    .await;
    got
}

fn signature() -> Vec<u8> {
    b"POST /vpnsvc/connect.cgi HTTP/1.1\r\nContent-Type: image/jpeg\r\nContent-Length: 10\r\n\r\nVPNCONNECT"
        .to_vec()
}

fn pack_request(body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST /vpnsvc/vpn.cgi HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// The `error` value of the last PACK in an HTTP exchange, read from the
/// raw reply bytes.
fn error_in(reply: &[u8]) -> Option<u32> {
    let text_end = reply.windows(4).rposition(|w| w == b"\r\n\r\n")? + 4;
    let p = rustether_proto::pack::Pack::decode(&reply[text_end..]).ok()?;
    p.get_int("error")
}

#[tokio::test]
async fn malformed_input_is_refused_and_the_server_keeps_serving() {
    let ts = TestServer::start().await;
    // A browser: GET / → 403; unknown POST target → 404; PUT → 501.
    let r = raw_exchange(&ts, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        r.starts_with(b"HTTP/1.1 403"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    let r = raw_exchange(&ts, b"PUT /x HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await;
    assert!(
        r.starts_with(b"HTTP/1.1 501"),
        "{}",
        String::from_utf8_lossy(&r)
    );
    // A wrong watermark (right length, wrong bytes) → 403.
    let mut bad = b"POST /vpnsvc/connect.cgi HTTP/1.1\r\nContent-Length: 1411\r\n\r\n".to_vec();
    bad.extend(std::iter::repeat_n(0x47, 1411));
    let r = raw_exchange(&ts, &bad).await;
    assert!(
        r.starts_with(b"HTTP/1.1 403"),
        "{}",
        String::from_utf8_lossy(&r)
    );

    // Duplicate element names → error 3.
    let mut dup = Vec::new();
    dup.extend_from_slice(&2u32.to_be_bytes());
    for _ in 0..2 {
        dup.extend_from_slice(&7u32.to_be_bytes());
        dup.extend_from_slice(b"method");
        dup.extend_from_slice(&2u32.to_be_bytes());
        dup.extend_from_slice(&1u32.to_be_bytes());
        dup.extend_from_slice(&5u32.to_be_bytes());
        dup.extend_from_slice(b"login");
    }
    let mut req = signature();
    req.extend(pack_request(&dup));
    let r = raw_exchange(&ts, &req).await;
    assert_eq!(error_in(&r), Some(3), "{}", String::from_utf8_lossy(&r));
    // Truncated PACK → error 3.
    let mut req = signature();
    req.extend(pack_request(&dup[..dup.len() - 3]));
    assert_eq!(error_in(&raw_exchange(&ts, &req).await), Some(3));
    // Oversized PACK (70 000 bytes) → error 3 without reading it all.
    let mut req = signature();
    req.extend(pack_request(&vec![0u8; 70_000]));
    assert_eq!(error_in(&raw_exchange(&ts, &req).await), Some(3));
    // A PACK without `method` → error 4.
    let mut p = rustether_proto::pack::Pack::new();
    p.add_str("hubname", "DEFAULT");
    let mut req = signature();
    req.extend(pack_request(&p.encode()));
    assert_eq!(error_in(&raw_exchange(&ts, &req).await), Some(4));

    // Not TLS at all: the connection is closed.
    let mut tcp = tokio::net::TcpStream::connect(ts.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut b = [0u8; 256];
    let n = tokio::time::timeout(LONG, tcp.read(&mut b))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert!(n == 0 || b[0] == 0x15, "closed or TLS alert");

    // Still serving.
    assert!(client::login(&ts.target(), |h| login_req(
        h, "DEFAULT", "test", "testpass"
    ))
    .await
    .is_ok());
}

#[tokio::test]
async fn oversized_block_closes_only_that_session() {
    let ts = TestServer::start().await;
    let (mut a, _) = Peer::login(&ts, "test", "testpass", |_| {}).await;
    let (mut b, _) = Peer::login(&ts, "test", "testpass", |_| {}).await;
    // One data item with a block of 3201 bytes (> MAX_BLOCK_SIZE).
    let mut raw = Vec::new();
    raw.extend_from_slice(&1u32.to_be_bytes());
    raw.extend_from_slice(&3201u32.to_be_bytes());
    raw.extend(std::iter::repeat_n(0u8, 3201));
    a.w.write_all(&raw).await.unwrap();
    a.w.flush().await.unwrap();
    // A's session ends; B still works with a new peer.
    let deadline = tokio::time::Instant::now() + LONG;
    while ts.server.sessions.len() != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "A's session did not end"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (mut c, _) = Peer::login(&ts, "test", "testpass", |_| {}).await;
    c.send(&[&frame(BCAST, MAC_A, 9)]).await;
    assert_eq!(b.recv(LONG).await.unwrap()[14], 9);
}

/// Log lines of the server in this test, each stamped with the Unix time
/// in ms at which the server logged it.
#[derive(Clone, Default)]
struct LogCapture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogCapture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogCapture {
    type Writer = LogCapture;
    fn make_writer(&'a self) -> LogCapture {
        self.clone()
    }
}

struct UnixMs;

impl tracing_subscriber::fmt::time::FormatTime for UnixMs {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        write!(w, "{}", rustether_server::clock::unix_ms())
    }
}

impl LogCapture {
    /// Captures the server's events on this thread (the test runtime is
    /// single-threaded, so that is every server task) until the guard drops.
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let sub = tracing_subscriber::fmt()
            .with_writer(self.clone())
            .with_timer(UnixMs)
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::set_default(sub)
    }

    /// (Unix ms, line) of every captured line containing all of `needles`.
    fn lines(&self, needles: &[&str]) -> Vec<(u64, String)> {
        let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
        text.lines()
            .filter(|l| needles.iter().all(|n| l.contains(n)))
            .filter_map(|l| Some((l.split_whitespace().next()?.parse().ok()?, l.to_owned())))
            .collect()
    }
}

/// A session whose client sends nothing is closed by the server once
/// nothing was received for the session's timeout (5 s here). Shown with
/// the server's own clock: its "timed out" log line comes at least the
/// timeout after the session was created.
#[tokio::test]
async fn silent_session_times_out() {
    let logs = LogCapture::default();
    let _g = logs.install();
    let ts = TestServer::start().await;
    let (mut q, w) = Peer::login(&ts, "quick", "pw", |_| {}).await;
    assert_eq!(w.timeout_ms, 5_000);
    let timeout = Duration::from_millis(u64::from(w.timeout_ms));
    let session = ts.server.sessions.all().pop().expect("the session");
    // We send nothing; the server sends keep-alives (skipped by recv) and
    // closes the connection. Deadline only: three timeouts.
    let closed = tokio::time::timeout(timeout * 3, async {
        while q.recv(timeout * 3).await.is_some() {}
    })
    .await;
    assert!(closed.is_ok(), "the silent session was not closed");
    let deadline = tokio::time::Instant::now() + LONG;
    while !ts.server.sessions.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session not removed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lines = logs.lines(&[
        &session.name,
        &format!(
            "connection timed out: nothing received for {} ms",
            w.timeout_ms
        ),
    ]);
    assert_eq!(lines.len(), 1, "{lines:?}");
    let waited = lines[0].0 - session.info.created_unix_ms;
    assert!(
        waited >= u64::from(w.timeout_ms),
        "the server timed the session out {waited} ms after it was created: {}",
        lines[0].1
    );
}

#[tokio::test]
async fn cascade_joins_two_servers_hubs() {
    use rustether_config::{CascadeAuth, CascadeConfig};
    use rustether_server::cascade::CascadeStatus;
    let remote = TestServer::start().await;
    let local = TestServer::start().await;
    let mut cfg = CascadeConfig::new(
        "to-remote",
        "127.0.0.1",
        remote.addr.port(),
        "DEFAULT",
        CascadeAuth::HashedPassword {
            username: "test".into(),
            hash: hash_password("test", "testpass"),
        },
    );
    cfg.max_connection = 2;
    local
        .server
        .update_config(move |c| {
            c.hub_mut("DEFAULT").unwrap().cascades.push(cfg);
            Ok(())
        })
        .await
        .unwrap();
    local
        .server
        .set_cascade_online("DEFAULT", "to-remote", true)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        match local.server.cascade_status("DEFAULT", "to-remote") {
            CascadeStatus::Online { connections: 2, .. } => break,
            s => assert!(tokio::time::Instant::now() < deadline, "not online: {s:?}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The remote side sees one session (the cascade) with two connections.
    assert_eq!(remote.server.sessions.len(), 1);
    let cascade = remote
        .server
        .sessions
        .all()
        .pop()
        .expect("the cascade's session");
    let timeout = Duration::from_millis(u64::from(cascade.params.timeout_ms));
    let (mut on_remote, _) = Peer::login(&remote, "test", "testpass", |_| {}).await;
    let (mut on_local, _) = Peer::login(&local, "test", "testpass", |_| {}).await;
    on_local.send(&[&frame(BCAST, MAC_A, 21)]).await;
    assert_eq!(on_remote.recv(LONG).await.unwrap()[14], 21);
    on_remote.send(&[&frame(MAC_A, MAC_B, 22)]).await;
    assert_eq!(on_local.recv(LONG).await.unwrap()[14], 22);
    // Offline: the remote session goes away (once its receive timeout
    // has passed without the cascade resuming it, as on SoftEther) and the
    // status says so.
    local
        .server
        .set_cascade_online("DEFAULT", "to-remote", false)
        .await
        .unwrap();
    assert_eq!(
        local.server.cascade_status("DEFAULT", "to-remote"),
        CascadeStatus::Offline
    );
    // First it has no connection but waits for the cascade to resume it.
    wait_no_connection(&cascade).await;
    assert!(!cascade.has_ended(), "ended before its receive timeout");
    let deadline = tokio::time::Instant::now() + timeout + LONG;
    while !cascade.has_ended() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cascade session not gone"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn hub_max_session_refuses_with_hub_is_busy() {
    let ts = TestServer::start().await;
    ts.server
        .update_config(|c| {
            c.hub_mut("DEFAULT").unwrap().max_session = 1;
            Ok(())
        })
        .await
        .unwrap();
    let (_first, _) = Peer::login(&ts, "test", "testpass", |_| {}).await;
    let e = client::login(&ts.target(), |h| {
        login_req(h, "DEFAULT", "test", "testpass")
    })
    .await
    .err()
    .expect("second session refused");
    assert_eq!(e.code, ErrorCode::HUB_IS_BUSY);
    // The hub administrator is not limited (SoftEther: `admin_mode`).
    ts.server
        .update_config(|c| {
            let h = c.hub_mut("DEFAULT").unwrap();
            h.secure_password = rustether_proto::password::hash_password("administrator", "hubpw");
            Ok(())
        })
        .await
        .unwrap();
    let r = client::login(&ts.target(), |h| {
        login_req(h, "DEFAULT", "administrator", "hubpw")
    })
    .await;
    assert!(r.is_ok(), "the hub administrator refused: {:?}", r.err());
}

/// UDP acceleration (docs/udp-acceleration.md) is granted to a login that
/// asks for it — its own UDP port in 40000–44999 — and not to one that does
/// not (the 5.01 client with `/DISABLEUDP`).
#[tokio::test]
async fn udp_acceleration_is_granted_only_when_asked() {
    use rustether_proto::udpaccel::{ClientOffer, SERVER_PORTS};
    let ts = TestServer::start().await;
    let (_a, wa) = Peer::login(&ts, "test", "testpass", |r| {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1);
        r.udp_accel = Some(ClientOffer::new(&mut rng, [0, 0, 0, 0].into(), 5000));
    })
    .await;
    let (_b, wb) = Peer::login(&ts, "TEST", "testpass", |_| {}).await;
    let by_name = |n: &str| {
        ts.server
            .sessions
            .all()
            .into_iter()
            .find(|s| s.name == n)
            .expect("session")
    };
    let a = by_name(&wa.session_name);
    let udp = a.udp.as_ref().expect("granted to the login that asked");
    assert!(SERVER_PORTS.contains(&udp.port), "port {}", udp.port);
    assert_eq!(udp.version, 2);
    assert_eq!(udp.mss, 1309);
    assert!(
        by_name(&wb.session_name).udp.is_none(),
        "not asked, not granted"
    );
}

/// Hub administration options applied at login (`ServerAccept`):
/// `max_sessions` refuses with `ERR_HUB_IS_BUSY` (16) and
/// `max_multilogins_per_user` with `ERR_TOO_MANY_USER_SESSION` (20).
#[tokio::test]
async fn hub_admin_options_limit_logins() {
    let ts = TestServer::start().await;
    let set = |name: &'static str, v: u32| {
        let server = ts.server.clone();
        async move {
            server
                .update_config(move |c| {
                    let h = c.hub_mut("DEFAULT").unwrap();
                    h.raw.folder_or_insert("AdminOption").set_uint(name, v);
                    Ok(())
                })
                .await
                .unwrap();
        }
    };
    let second = |user: &'static str, pw: &'static str| {
        let t = ts.target();
        async move {
            client::login(&t, |h| {
                let mut r = login_req(h, "DEFAULT", user, pw);
                as_vpn_client(&mut r);
                r
            })
            .await
            .err()
            .map(|e| e.code)
        }
    };
    set("max_sessions", 1).await;
    let (_first, _) = Peer::login(&ts, "test", "testpass", as_vpn_client).await;
    assert_eq!(second("quick", "pw").await, Some(ErrorCode::HUB_IS_BUSY));
    set("max_sessions", 0).await;
    set("max_multilogins_per_user", 1).await;
    assert_eq!(
        second("test", "testpass").await,
        Some(ErrorCode::TOO_MANY_USER_SESSION)
    );
    let (_other, _) = Peer::login(&ts, "quick", "pw", as_vpn_client).await;
}

/// A login as the VPN Client sends it (no bridge/routing mode, so that
/// `MultiLogins` counts it).
fn as_vpn_client(r: &mut LoginRequest) {
    r.client_str = "SoftEther VPN Client".into();
}

/// RADIUS PAP (`SamAuthUserByPlainPassword` → `RadiusLogin`): a responder
/// of the test's own on loopback checks the shared secret (through the
/// Message-Authenticator) and one password. A RADIUS user and, through
/// the `*` user, an unknown name log in with the right password; a wrong
/// password, a wrong shared secret and a hashed-password login are refused
/// with `ERR_AUTH_FAILED` (9).
#[tokio::test]
async fn radius_users_log_in_through_a_pap_responder() {
    use rustether_proto::radius;
    const SECRET: &[u8] = b"radius-secret";
    let ts = TestServer::start().await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = udp.local_addr().unwrap().port();
    let seen = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let responder = tokio::spawn(async move {
        let mut buf = vec![0u8; radius::MAX_PACKET];
        loop {
            let (n, from) = udp.recv_from(&mut buf).await.unwrap();
            let p = &buf[..n];
            let attrs = radius::request_attributes(p).unwrap();
            let get = |t: u8| attrs.iter().find(|a| a.0 == t).map(|a| a.1);
            // The Message-Authenticator proves the server knows the secret.
            let ma = get(80).unwrap().to_vec();
            let mut zeroed = p.to_vec();
            let at = zeroed.len() - 16;
            zeroed[at..].fill(0);
            use hmac::Mac;
            let mut m = <hmac::Hmac<md5::Md5> as Mac>::new_from_slice(SECRET).unwrap();
            m.update(&zeroed);
            if m.verify_slice(&ma).is_err() {
                // Play a forger who does not know the server's secret: an
                // Access-Accept signed with another secret.
                log.lock().unwrap().push("bad secret".into());
                let forged = radius::encode_reply(2, p, SECRET).unwrap();
                udp.send_to(&forged, from).await.unwrap();
                continue;
            }
            let ra: [u8; 16] = p[4..20].try_into().unwrap();
            let pw = radius::reveal_password(get(2).unwrap(), SECRET, &ra).unwrap();
            let name = String::from_utf8_lossy(get(1).unwrap()).into_owned();
            log.lock().unwrap().push(name.clone());
            let ok = pw == b"rad-pass" && (name == "r-alice" || name == "walk-in");
            let code = if ok { 2 } else { 3 };
            let reply = radius::encode_reply(code, p, SECRET).unwrap();
            udp.send_to(&reply, from).await.unwrap();
        }
    });
    let set_radius = |secret: &'static [u8]| {
        let server = ts.server.clone();
        async move {
            server
                .update_config(move |c| {
                    let h = c.hub_mut("DEFAULT").unwrap();
                    h.raw.set_str("RadiusServerName", "127.0.0.1");
                    h.raw.set_bytes("RadiusSecret", secret);
                    h.raw.set_uint("RadiusServerPort", u32::from(port));
                    h.raw.set_uint("RadiusRetryInterval", 1000);
                    Ok(())
                })
                .await
                .unwrap();
        }
    };
    set_radius(SECRET).await;
    ts.server
        .update_config(|c| {
            let h = c.hub_mut("DEFAULT").unwrap();
            let now = rustether_config::model::now_ms();
            h.users.push(UserConfig::new(
                "alice",
                UserAuth::Radius {
                    username: "r-alice".into(),
                },
                now,
            ));
            h.users.push(UserConfig::new(
                "*",
                UserAuth::Radius {
                    username: String::new(),
                },
                now,
            ));
            Ok(())
        })
        .await
        .unwrap();
    let t = ts.target();
    let plain = |user: &'static str, pw: &'static str| {
        let t = t.clone();
        async move {
            client::login(&t, |h| {
                let mut r = login_req(h, "DEFAULT", user, "x");
                r.auth = ClientAuth::PlainPassword {
                    password: pw.into(),
                };
                r
            })
            .await
            .err()
            .map(|e| e.code)
        }
    };
    assert_eq!(plain("alice", "rad-pass").await, None);
    assert_eq!(plain("alice", "wrong").await, Some(ErrorCode::AUTH_FAILED));
    assert_eq!(plain("walk-in", "rad-pass").await, None);
    assert_eq!(plain("walk-in", "nope").await, Some(ErrorCode::AUTH_FAILED));
    // A hashed password cannot be checked by RADIUS.
    let hashed = client::login(&t, |h| login_req(h, "DEFAULT", "alice", "rad-pass")).await;
    assert_eq!(hashed.err().map(|e| e.code), Some(ErrorCode::AUTH_FAILED));
    assert_eq!(
        *seen.lock().unwrap(),
        ["r-alice", "r-alice", "walk-in", "walk-in"]
    );
    // The server configured with another shared secret: the responder's
    // Access-Accepts do not verify and are dropped; the request is resent
    // each second and the login is refused (9) after the 10 s time-out.
    set_radius(b"not-the-secret").await;
    assert_eq!(
        plain("alice", "rad-pass").await,
        Some(ErrorCode::AUTH_FAILED)
    );
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| *s == "bad secret")
            .count()
            >= 2
    );
    responder.abort();
}
