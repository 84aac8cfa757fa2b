//! Attack suite, security policies (issue 9, item 1): each test plays what
//! an authenticated user would try against a hub and checks that the
//! SoftEther policy stops it, with SoftEther's error codes at login.
//!
//! Most tests run our server in-process on a loopback port and drive it
//! with our own client code (`rustether_server::client`); the monitor-mode
//! test uses the real SoftEther vpnclient (`AccountDetailSet /MONITOR:yes`)
//! in network namespaces without any route outside. Every wait is bounded
//! by a deadline that only guards against a hang; nothing is timed.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rustether_config::model::now_ms;
use rustether_config::{Edition, Policy, UserAuth, UserConfig};
use rustether_proto::block::{BlockDecoder, BlockEncoder, BlockEvent};
use rustether_proto::error::ErrorCode;
use rustether_proto::messages::{LoginRequest, Welcome};
use rustether_proto::password::{hash_password, secure_password};
use rustether_server::client::{self, ClientTarget};
use rustether_server::server::Server;
use rustether_server::transport::{DataReader, DataWriter};
use rustether_server::worker::Services;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Deadline of a wait for something that must happen (never a speed limit).
const LONG: Duration = Duration::from_secs(30);
/// How long a test waits for a frame that must NOT arrive. A frame that is
/// switched arrives within milliseconds on loopback; the negative checks
/// are always paired with a positive one sent after it (see `assert_only`).
const QUIET: Duration = Duration::from_millis(300);

const PW: &str = "pw";

/// Our server in-process on a loopback port, hub DEFAULT.
struct TestServer {
    server: Arc<Server>,
    addr: SocketAddr,
    _services: Services,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// A server whose hub DEFAULT has one user per `(name, policy)`, all
    /// with password [`PW`]; `None` = no own policy (the default applies).
    async fn start(users: &[(&str, Option<Policy>)]) -> TestServer {
        rustether_server::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::open(Edition::Server, dir.path()).unwrap();
        let users: Vec<UserConfig> = users
            .iter()
            .map(|(n, p)| {
                let mut u = UserConfig::new(
                    n,
                    UserAuth::Password {
                        hash: hash_password(n, PW),
                        nt_hash: None,
                    },
                    now_ms(),
                );
                u.policy = p.clone();
                u
            })
            .collect();
        server
            .update_config(move |c| {
                c.hub_mut("DEFAULT").unwrap().users.extend(users);
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

    /// Logs in as `user` like a VPN client (no bridge, no monitor mode),
    /// after `tweak` changed the request.
    async fn login(
        &self,
        user: &str,
        tweak: impl FnOnce(&mut LoginRequest),
    ) -> Result<Peer, ErrorCode> {
        let (welcome, conn) = client::login(&self.target(), |h| {
            let sp = secure_password(&hash_password(user, PW), &h.random);
            let mut r = LoginRequest::cascade("DEFAULT", user, sp, [7u8; 20]);
            r.client_str = "SoftEther VPN Client".into();
            r.require_bridge_routing_mode = false;
            tweak(&mut r);
            r
        })
        .await
        .map_err(|e| e.code)?;
        let compress = welcome.use_compress;
        let (stream, leftover) = conn.into_data(welcome.use_encrypt);
        let (r, w) = stream.split();
        Ok(Peer {
            r,
            w,
            buf: leftover,
            dec: BlockDecoder::new(compress),
            enc: BlockEncoder::new(compress),
            welcome,
        })
    }
}

/// A logged-in session: its data halves and codecs.
struct Peer {
    r: DataReader,
    w: DataWriter,
    buf: BytesMut,
    dec: BlockDecoder,
    enc: BlockEncoder,
    welcome: Welcome,
}

impl Peer {
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

    /// Frame tags (byte 14 of our test frames, or the whole frame's last
    /// byte for protocol frames) received until the frame tagged `until`.
    async fn tags_until(&mut self, until: u8) -> Vec<u8> {
        let mut got = Vec::new();
        loop {
            let f = self.recv(LONG).await.expect("the marker frame arrives");
            let tag = *f.last().unwrap();
            got.push(tag);
            if tag == until {
                return got;
            }
        }
    }

    async fn close(self) {
        let mut w = self.w;
        let _ = w.shutdown().await;
    }
}

/// A 60-byte frame with EtherType 0x88B5 (local experimental); the last
/// byte is the tag.
fn frame(dst: [u8; 6], src: [u8; 6], tag: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12] = 0x88;
    f[13] = 0xb5;
    f[59] = tag;
    f
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

const BCAST: [u8; 6] = [0xff; 6];

fn policy(f: impl FnOnce(&mut Policy)) -> Option<Policy> {
    let mut p = Policy::default();
    f(&mut p);
    Some(p)
}

// ============================================================== login

/// Monitor mode (a copy of every frame of the hub) is refused with
/// `ERR_MONITOR_MODE_DENIED` (107) unless the user's policy has
/// `MonitorPort` (SoftEther `ServerAccept`). Before the fix the server
/// granted it to whoever asked.
#[tokio::test]
async fn monitor_mode_needs_monitor_port() {
    let ts =
        TestServer::start(&[("plain", None), ("mon", policy(|p| p.monitor_port = true))]).await;
    let monitor = |r: &mut LoginRequest| r.require_monitor_mode = true;
    assert_eq!(
        ts.login("plain", monitor).await.err(),
        Some(ErrorCode::MONITOR_MODE_DENIED)
    );
    // A group's policy counts when the user has none; here the user has
    // none and no group: SoftEther's default policy, no MonitorPort.
    let mut m = ts
        .login("mon", monitor)
        .await
        .expect("MonitorPort allows it");
    assert_eq!(m.welcome.policy_value("MonitorPort"), Some(1));
    // The monitor sees unicast traffic between two other sessions.
    let mut a = ts.login("plain", |_| {}).await.unwrap();
    let mut b = ts.login("plain", |_| {}).await.unwrap();
    b.send(&[&frame(BCAST, mac(0xb), 1)]).await;
    assert_eq!(a.recv(LONG).await.unwrap()[59], 1);
    a.send(&[&frame(mac(0xb), mac(0xa), 2)]).await;
    assert_eq!(b.recv(LONG).await.unwrap()[59], 2);
    assert!(m.tags_until(2).await.contains(&2));
    // Without asking for it, a MonitorPort user is an ordinary session.
    let n = ts.login("mon", |_| {}).await.unwrap();
    assert_eq!(n.welcome.policy_value("MonitorPort"), Some(0));
}

/// Bridge/routing mode is refused with `ERR_BRIDGE_MODE_DENIED` (108) when
/// the policy has both `NoBridge` and `NoRouting`; the default policy
/// allows it. Before the fix every bridge-mode login was accepted.
#[tokio::test]
async fn bridge_mode_refused_under_no_bridge_and_no_routing() {
    let ts = TestServer::start(&[
        ("plain", None),
        (
            "nobr",
            policy(|p| {
                p.no_bridge = true;
                p.no_routing = true;
            }),
        ),
        ("nobronly", policy(|p| p.no_bridge = true)),
    ])
    .await;
    let bridge = |r: &mut LoginRequest| r.require_bridge_routing_mode = true;
    assert_eq!(
        ts.login("nobr", bridge).await.err(),
        Some(ErrorCode::BRIDGE_MODE_DENIED)
    );
    // A VPN Bridge / Server cascade names itself in client_str: same check.
    assert_eq!(
        ts.login("nobr", |r| r.client_str = "SoftEther VPN Bridge".into())
            .await
            .err(),
        Some(ErrorCode::BRIDGE_MODE_DENIED)
    );
    // Ordinary client mode is fine under that policy.
    ts.login("nobr", |_| {}).await.expect("client mode");
    // One of the two is not enough to refuse, and the default allows it.
    ts.login("nobronly", bridge).await.expect("NoRouting off");
    ts.login("plain", bridge).await.expect("default policy");
}

/// `MultiLogins` limits the concurrent sessions of one user: the second
/// login with `MultiLogins 1` is refused with `ERR_TOO_MANY_USER_SESSION`
/// (20), and allowed again once the first session has no connection,
/// although it still waits for its client to resume it: SoftEther counts
/// only sessions with a TCP connection (src/Cedar/Protocol.c,
/// `CurrentNumTcp != 0`). Before the fix the limit was stored and ignored.
#[tokio::test]
async fn multi_logins_limits_concurrent_sessions() {
    let ts = TestServer::start(&[("one", policy(|p| p.multi_logins = 1)), ("many", None)]).await;
    let first = ts.login("one", |_| {}).await.expect("first session");
    assert_eq!(
        ts.login("ONE", |_| {}).await.err(),
        Some(ErrorCode::TOO_MANY_USER_SESSION)
    );
    // The default policy has no limit.
    let _m1 = ts.login("many", |_| {}).await.unwrap();
    let _m2 = ts.login("many", |_| {}).await.unwrap();
    let key = first.welcome.session_key;
    first.close().await;
    let closed = ts
        .server
        .sessions
        .all()
        .into_iter()
        .find(|s| s.key == key)
        .expect("the first session");
    let deadline = tokio::time::Instant::now() + LONG;
    while closed.connection_count() != 0 {
        assert!(tokio::time::Instant::now() < deadline, "not closed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _second = ts
        .login("one", |_| {})
        .await
        .expect("login while the first session has no connection");
    assert!(!closed.has_ended(), "the first session waits to be resumed");
    assert_eq!(
        ts.login("one", |_| {}).await.err(),
        Some(ErrorCode::TOO_MANY_USER_SESSION),
        "the second session has a connection and counts"
    );
}

/// The real SoftEther vpnclient asking for monitor mode
/// (`AccountDetailSet /MONITOR:yes`) is refused with 107 under the default
/// policy, and connects once the user's policy has `MonitorPort`
/// (`UserPolicySet`, as a SoftEther administrator would do it).
#[test]
fn real_vpnclient_monitor_mode_follows_monitor_port() {
    use rustether_testkit::client::AccountSpec;
    use rustether_testkit::prereq::{require, Prereq};
    use rustether_testkit::server::ServerKind;
    use rustether_testkit::t1::{T1Lab, T1Options, HUB, PORT, SERVER_ADDR};

    if !require(&[Prereq::Netns, Prereq::Tun, Prereq::SoftEther]) {
        return;
    }
    let _x = rustether_testkit::exclusive();
    let kind = ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"));
    let opts = T1Options {
        n_clients: 1,
        ..Default::default()
    };
    let mut lab = T1Lab::prepare("attack-policies-monitor", opts).expect("lab");
    lab.check(|lab| {
        lab.start_server(&kind)?;
        lab.start_clients()?;
        let user = lab.users[0].clone();
        let server = std::net::SocketAddrV4::new(SERVER_ADDR, PORT);
        let spec = AccountSpec::new("mon", server, HUB, &user.name, &user.password);
        let c = &mut lab.clients[0].client;
        c.account_create(&spec)?;
        c.vpncmd(&[
            "AccountDetailSet",
            "mon",
            "/MAXTCP:1",
            "/INTERVAL:1",
            "/TTL:0",
            "/HALF:no",
            "/BRIDGE:no",
            "/MONITOR:yes",
            "/NOTRACK:no",
            "/NOQOS:yes",
            "/DISABLEUDP:yes",
        ])?;
        let e = c.connect_expect_error("mon", Duration::from_secs(60))?;
        rustether_testkit::anyhow::ensure!(e.code == 107, "expected error 107, got {e:?}");
        lab.server()?.vpncmd(
            None,
            Some(HUB),
            &[
                "UserPolicySet",
                &user.name,
                "/NAME:MonitorPort",
                "/VALUE:yes",
            ],
        )?;
        let c = &mut lab.clients[0].client;
        c.connect("mon")?;
        c.wait_established("mon", Duration::from_secs(60))?;
        Ok(())
    });
}

// ============================================================== data path

/// An IPv4 frame (src 10.0.0.`ip`) with protocol `proto` and L4 header
/// `l4`, padded to 60 bytes; the last byte is the tag.
fn ipv4(dst: [u8; 6], src: [u8; 6], ip: u8, proto: u8, l4: &[u8], tag: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, ip, 10, 0, 0, 254]);
    f.extend_from_slice(l4);
    f.resize(f.len().max(59), 0);
    f.push(tag);
    f
}

/// A DHCPOFFER (BOOTP op 2, UDP 67 → 68), broadcast.
fn dhcp_offer(src: [u8; 6], tag: u8) -> Vec<u8> {
    ipv4(BCAST, src, 1, 17, &[0, 67, 0, 68, 0, 0, 0, 0, 2], tag)
}

/// A TCP SYN-ACK (a server accepting a connection) to `dst`.
fn syn_ack(dst: [u8; 6], src: [u8; 6], ip: u8, tag: u8) -> Vec<u8> {
    let tcp = [
        0, 80, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
    ];
    ipv4(dst, src, ip, 6, &tcp, tag)
}

/// MAC flooding: a session sending from 200 MAC addresses registers at
/// most `MaxMac` of them, and the others' frames are dropped. Before the
/// fix the hub learned all 200 (and up to its 65 536-entry table).
#[tokio::test]
async fn mac_flooding_stops_at_max_mac() {
    let ts = TestServer::start(&[("flood", policy(|p| p.max_mac = 5)), ("obs", None)]).await;
    let mut obs = ts.login("obs", |_| {}).await.unwrap();
    let mut atk = ts.login("flood", |_| {}).await.unwrap();
    let frames: Vec<Vec<u8>> = (0..200u32)
        .map(|i| frame(BCAST, [0x02, 0xee, 0, 0, (i >> 8) as u8, i as u8], 1))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    atk.send(&refs).await;
    // Marker from an address the session already owns.
    atk.send(&[&frame(BCAST, [0x02, 0xee, 0, 0, 0, 0], 9)])
        .await;
    let got = obs.tags_until(9).await;
    assert_eq!(got.len(), 5 + 1, "5 learned sources + the marker: {got:?}");
    let hub = ts.server.hub("DEFAULT").unwrap();
    assert!(hub.mac_count() <= 5 + 1, "MAC table: {}", hub.mac_count());
}

/// MAC spoofing: a `CheckMac` session sending from the MAC address of
/// another session (refreshed within 13 s) does not take it over, so the
/// victim keeps receiving its unicast traffic and the attacker gets none.
/// Before the fix `CheckMac` was ignored and the attacker stole the
/// traffic.
#[tokio::test]
async fn mac_spoofing_blocked_by_check_mac() {
    let ts = TestServer::start(&[
        ("victim", None),
        ("peer", None),
        ("spoof", policy(|p| p.check_mac = true)),
    ])
    .await;
    let mut v = ts.login("victim", |_| {}).await.unwrap();
    let mut p = ts.login("peer", |_| {}).await.unwrap();
    let mut a = ts.login("spoof", |_| {}).await.unwrap();
    v.send(&[&frame(BCAST, mac(0xa), 1)]).await;
    assert_eq!(p.recv(LONG).await.unwrap()[59], 1);
    assert_eq!(a.recv(LONG).await.unwrap()[59], 1);
    // The attacker claims the victim's MAC (and would flood with it).
    a.send(&[&frame(BCAST, mac(0xa), 2), &frame(BCAST, mac(0xc), 3)])
        .await;
    assert_eq!(p.tags_until(3).await, [3], "the spoofed frame is dropped");
    // Traffic for the victim still goes to the victim only.
    p.send(&[&frame(mac(0xa), mac(0xb), 4)]).await;
    assert_eq!(v.tags_until(4).await.last(), Some(&4));
    p.send(&[&frame(mac(0xc), mac(0xb), 5)]).await;
    assert_eq!(a.tags_until(5).await, [5], "the attacker got nothing else");
}

/// Privacy filter: two `PrivacyFilter` sessions exchange nothing (not even
/// broadcasts), while an ordinary session still reaches both. Before the
/// fix they saw each other.
#[tokio::test]
async fn privacy_filter_sessions_do_not_see_each_other() {
    let ts = TestServer::start(&[
        ("priv", policy(|p| p.set_value("PrivacyFilter", 1))),
        ("open", None),
    ])
    .await;
    let mut p1 = ts.login("priv", |_| {}).await.unwrap();
    let mut p2 = ts.login("priv", |_| {}).await.unwrap();
    let mut o = ts.login("open", |_| {}).await.unwrap();
    p2.send(&[&frame(BCAST, mac(0x2), 1)]).await;
    assert_eq!(o.tags_until(1).await, [1]);
    p1.send(&[&frame(BCAST, mac(0x1), 2), &frame(mac(0x2), mac(0x1), 3)])
        .await;
    assert_eq!(o.tags_until(2).await, [2]);
    // The ordinary session reaches p2; p2 must not have seen 2 or 3 first.
    o.send(&[&frame(mac(0x2), mac(0xf), 4)]).await;
    assert_eq!(p2.tags_until(4).await, [4]);
    assert!(p2.recv(QUIET).await.is_none());
}

/// A rogue DHCP server (`DHCPNoServer`) cannot hand out addresses, and a
/// `DHCPFilter` session neither sends nor receives DHCP; other traffic
/// passes. `NoServer` stops TCP SYN-ACKs (acting as a server). Before the
/// fix all of them passed.
#[tokio::test]
async fn dhcp_and_server_filters() {
    let ts = TestServer::start(&[
        (
            "rogue",
            policy(|p| {
                p.set_value("DHCPNoServer", 1);
                p.set_value("NoServer", 1);
            }),
        ),
        ("filtered", policy(|p| p.set_value("DHCPFilter", 1))),
        ("open", None),
    ])
    .await;
    let mut rogue = ts.login("rogue", |_| {}).await.unwrap();
    let mut filt = ts.login("filtered", |_| {}).await.unwrap();
    let mut o = ts.login("open", |_| {}).await.unwrap();
    // Learn o's MAC so that unicast goes straight to it.
    o.send(&[&frame(BCAST, mac(0x3), 1)]).await;
    assert_eq!(rogue.tags_until(1).await, [1]);
    assert_eq!(filt.tags_until(1).await, [1]);
    rogue
        .send(&[
            &dhcp_offer(mac(0x1), 2),
            &syn_ack(mac(0x3), mac(0x1), 5, 3),
            &frame(BCAST, mac(0x1), 4),
        ])
        .await;
    assert_eq!(o.tags_until(4).await, [4], "offer and SYN-ACK dropped");
    assert_eq!(filt.tags_until(4).await, [4]);
    // An allowed DHCP server (o) does not reach the DHCPFilter session…
    o.send(&[&dhcp_offer(mac(0x3), 5), &frame(BCAST, mac(0x3), 6)])
        .await;
    assert_eq!(rogue.tags_until(6).await, [5, 6]);
    assert_eq!(filt.tags_until(6).await, [6]);
    // …which cannot send DHCP either.
    filt.send(&[&dhcp_offer(mac(0x2), 7), &frame(BCAST, mac(0x2), 8)])
        .await;
    assert_eq!(o.tags_until(8).await, [8]);
}

/// `MaxUpload`/`MaxDownload` (bit/s): a session cannot push more than its
/// rate into the hub, nor receive more than its rate; what exceeds it is
/// dropped (SoftEther's traffic limiter). Measured in frames against the
/// one-second bucket, not in time. Before the fix all 100 frames passed.
#[tokio::test]
async fn max_upload_and_max_download_shape_traffic() {
    // 80 000 bit/s = 10 000 bytes/s: about 10 frames of 1 000 bytes per second.
    let ts = TestServer::start(&[
        ("up", policy(|p| p.set_value("MaxUpload", 80_000))),
        ("down", policy(|p| p.set_value("MaxDownload", 80_000))),
        ("open", None),
    ])
    .await;
    let mut up = ts.login("up", |_| {}).await.unwrap();
    let mut down = ts.login("down", |_| {}).await.unwrap();
    let mut o = ts.login("open", |_| {}).await.unwrap();
    let big = |src: [u8; 6], tag: u8| {
        let mut f = frame(BCAST, src, tag);
        f.resize(999, 0);
        f.push(tag);
        f
    };
    let burst: Vec<Vec<u8>> = (0..100).map(|_| big(mac(0x1), 1)).collect();
    let refs: Vec<&[u8]> = burst.iter().map(|f| &f[..]).collect();
    up.send(&refs).await;
    let session = |user: &str| {
        ts.server
            .sessions
            .all()
            .into_iter()
            .find(|s| s.info.username == user)
            .unwrap()
    };
    let su = session("up");
    let deadline = tokio::time::Instant::now() + LONG;
    // Every frame is either switched or shaped.
    while su
        .stats
        .sent_frames
        .load(std::sync::atomic::Ordering::Relaxed)
        + su.shaped_frames.load(std::sync::atomic::Ordering::Relaxed)
        < 100
    {
        assert!(tokio::time::Instant::now() < deadline, "frames unaccounted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let passed = su
        .stats
        .sent_frames
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!((1..=30).contains(&passed), "upload passed {passed} of 100");
    // Download: the open session sends 100 frames, the shaped one gets few.
    let burst: Vec<Vec<u8>> = (0..100).map(|_| big(mac(0x3), 2)).collect();
    let refs: Vec<&[u8]> = burst.iter().map(|f| &f[..]).collect();
    o.send(&refs).await;
    let sd = session("down");
    let deadline = tokio::time::Instant::now() + LONG;
    let mut got = 0u64;
    loop {
        let shaped = sd.shaped_frames.load(std::sync::atomic::Ordering::Relaxed);
        if got + shaped >= 100 + passed {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "frames unaccounted");
        if down.recv(Duration::from_millis(50)).await.is_some() {
            got += 1;
        }
    }
    assert!(got <= 30 + passed, "download received {got}");
    assert!(sd.shaped_frames.load(std::sync::atomic::Ordering::Relaxed) >= 70);
}

/// `AutoDisconnect` ends the session after the given number of seconds;
/// without it a session stays. Before the fix the session stayed forever.
#[tokio::test]
async fn auto_disconnect_ends_the_session() {
    let ts = TestServer::start(&[("brief", policy(|p| p.set_value("AutoDisconnect", 1)))]).await;
    let mut b = ts.login("brief", |_| {}).await.unwrap();
    // The client keeps sending, so the receive time-out (20 s) never ends
    // the session; only AutoDisconnect can, long before the deadline.
    let deadline = tokio::time::Instant::now() + LONG;
    while !ts.server.sessions.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "session still alive"
        );
        let mut out = BytesMut::new();
        b.enc
            .encode_frames(&mut out, [&frame(BCAST, mac(0x1), 1)[..]]);
        let _ = b.w.write_all(&out).await;
        let _ = b.w.flush().await;
        let _ = b.recv(Duration::from_millis(100)).await;
    }
}

/// `VLanId`: a session's frames are tagged with its VLAN id in the hub, and
/// it receives only frames of that VLAN (untagged). Untagged sessions do
/// not reach it. Before the fix the policy was ignored and the session saw
/// the whole hub.
#[tokio::test]
async fn vlan_id_confines_the_session_to_its_vlan() {
    let ts =
        TestServer::start(&[("v5", policy(|p| p.set_value("VLanId", 5))), ("open", None)]).await;
    let mut v1 = ts.login("v5", |_| {}).await.unwrap();
    assert_eq!(v1.welcome.vlan_id, 5);
    let mut v2 = ts.login("v5", |_| {}).await.unwrap();
    let mut o1 = ts.login("open", |_| {}).await.unwrap();
    let mut o2 = ts.login("open", |_| {}).await.unwrap();
    // Untagged traffic: seen by o2 (so it has been switched), not by v2.
    o1.send(&[&frame(BCAST, mac(0x3), 1)]).await;
    assert_eq!(o2.tags_until(1).await, [1]);
    // v1's broadcast reaches v2 as sent, and the open sessions tagged.
    let sent = frame(BCAST, mac(0x1), 2);
    v1.send(&[&sent]).await;
    let got = v2.recv(LONG).await.unwrap();
    assert_eq!(
        &got[..],
        &sent[..],
        "v2 got the frame untagged, and nothing before"
    );
    let tagged = o2.recv(LONG).await.unwrap();
    assert_eq!(tagged.len(), sent.len() + 4);
    assert_eq!(&tagged[12..16], &[0x81, 0x00, 0x00, 0x05]);
    // A frame tagged with VLAN 5 from an open session reaches v1 untagged.
    let mut t = frame(BCAST, mac(0x3), 3);
    t.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
    o1.send(&[&t]).await;
    let got = v1.tags_until(3).await;
    assert_eq!(got, [3]);
}

/// The ICMPv6 checksum of an IPv6 packet (`ip6` = IPv6 header + ICMPv6).
fn icmpv6_checksum(ip6: &[u8]) -> u16 {
    use rustether_proto::inet::{fold, ipv6_pseudo_sum, sum};
    let (src, dst): ([u8; 16], [u8; 16]) = (
        ip6[8..24].try_into().unwrap(),
        ip6[24..40].try_into().unwrap(),
    );
    let payload = &ip6[40..];
    !fold(sum(payload, ipv6_pseudo_sum(&src, &dst, 58, payload.len())))
}

/// A router advertisement (router lifetime 1800 s) from `src`, to all nodes.
fn router_advertisement(src: [u8; 6], tag: u8) -> Vec<u8> {
    let mut ra = vec![
        134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, tag,
    ];
    let mut ip6 = vec![0x60, 0, 0, 0, 0, ra.len() as u8, 58, 255];
    ip6.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ip6.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    ip6.extend_from_slice(&ra);
    let c = icmpv6_checksum(&ip6);
    ra[2..4].copy_from_slice(&c.to_be_bytes());
    ip6.truncate(40);
    ip6.extend_from_slice(&ra);
    let mut f = vec![0x33, 0x33, 0, 0, 0, 1];
    f.extend_from_slice(&src);
    f.extend_from_slice(&[0x86, 0xdd]);
    f.extend_from_slice(&ip6);
    f
}

/// `NoIPv6DefaultRouterInRA`: router advertisements reach the session with
/// router lifetime 0 (and a valid checksum), so a rogue router cannot
/// become its default gateway; other sessions get them unchanged; and
/// `RAFilter` stops a session from advertising at all. Before the fix the
/// RAs passed unchanged.
#[tokio::test]
async fn router_advertisements_filtered_and_stripped() {
    let ts = TestServer::start(&[
        (
            "nodr",
            policy(|p| p.set_value("NoIPv6DefaultRouterInRA", 1)),
        ),
        ("noadv", policy(|p| p.set_value("RAFilter", 1))),
        ("open", None),
    ])
    .await;
    let mut nodr = ts.login("nodr", |_| {}).await.unwrap();
    let mut noadv = ts.login("noadv", |_| {}).await.unwrap();
    let mut o = ts.login("open", |_| {}).await.unwrap();
    let ra = router_advertisement(mac(0x3), 1);
    o.send(&[&ra]).await;
    let got = nodr.recv(LONG).await.unwrap();
    assert_eq!(got.len(), ra.len());
    assert_eq!(&got[14 + 40 + 6..14 + 40 + 8], &[0, 0], "router lifetime");
    assert_eq!(icmpv6_checksum(&got[14..]), 0, "checksum still valid");
    assert_eq!(&noadv.recv(LONG).await.unwrap()[..], &ra[..]);
    // The RA-filtered session cannot advertise.
    noadv
        .send(&[
            &router_advertisement(mac(0x2), 2),
            &frame(BCAST, mac(0x2), 3),
        ])
        .await;
    assert_eq!(o.tags_until(3).await, [3]);
}

/// IP spoofing and address hoarding: a `CheckIP` session cannot send from
/// an IPv4 address another session used within 13 s, and a `MaxIP` 4
/// session cannot use a fifth address. Before the fix both passed.
#[tokio::test]
async fn ip_spoofing_blocked_by_check_ip_and_max_ip() {
    let ts = TestServer::start(&[
        (
            "strict",
            policy(|p| {
                p.set_value("CheckIP", 1);
                p.set_value("MaxIP", 4);
            }),
        ),
        ("open", None),
    ])
    .await;
    let mut s = ts.login("strict", |_| {}).await.unwrap();
    let mut o = ts.login("open", |_| {}).await.unwrap();
    let udp = [0, 9, 0, 9, 0, 8, 0, 0];
    // The victim (open) uses 10.0.0.1.
    o.send(&[&ipv4(BCAST, mac(0x3), 1, 17, &udp, 1)]).await;
    assert_eq!(s.tags_until(1).await, [1]);
    // The strict session claims it, then uses four own addresses, then a fifth.
    let frames: Vec<Vec<u8>> = [(1, 2), (20, 3), (21, 4), (22, 5), (23, 6), (24, 7)]
        .iter()
        .map(|&(ip, tag)| ipv4(BCAST, mac(0x1), ip, 17, &udp, tag))
        .collect();
    let refs: Vec<&[u8]> = frames.iter().map(|f| &f[..]).collect();
    s.send(&refs).await;
    s.send(&[&ipv4(BCAST, mac(0x1), 20, 17, &udp, 8)]).await;
    assert_eq!(o.tags_until(8).await, [3, 4, 5, 6, 8]);
}

/// An IPv6 frame to the all-nodes multicast group with next header `next`
/// and payload `l4`; the last byte is the tag.
fn ipv6_multicast(src: [u8; 6], next: u8, l4: &[u8], tag: u8) -> Vec<u8> {
    let mut f = vec![0x33, 0x33, 0, 0, 0, 1];
    f.extend_from_slice(&src);
    f.extend_from_slice(&[
        0x86,
        0xdd,
        0x60,
        0,
        0,
        0,
        0,
        (l4.len() + 1) as u8,
        next,
        255,
    ]);
    f.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, src[5]]);
    f.extend_from_slice(&[0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    f.extend_from_slice(l4);
    f.push(tag);
    f
}

/// An ARP request (Ethernet/IPv4) from `src`, broadcast; the last byte is
/// the tag.
fn arp_request(src: [u8; 6], tag: u8) -> Vec<u8> {
    use rustether_proto::inet::{arp_packet, ethernet_frame, ETHERTYPE_ARP};
    let (spa, tpa) = (
        Ipv4Addr::new(10, 0, 0, src[5]),
        Ipv4Addr::new(10, 0, 0, 254),
    );
    let mut f = ethernet_frame(
        BCAST,
        src,
        ETHERTYPE_ARP,
        &arp_packet(1, src, spa, [0; 6], tpa),
    );
    f.resize(59, 0);
    f.push(tag);
    f
}

/// `FilterIPv4`, `FilterIPv6`, `FilterNonIP` and `ArpDhcpOnly`: a session
/// receives (and sends) only the EtherTypes and broadcasts its policy
/// allows (SoftEther `StorePacketFilterByPolicy`). Frames, in order, from
/// an unrestricted session: 1 IPv4 UDP broadcast, 2 ARP, 3 IPv6 UDP
/// multicast, 4 non-IP broadcast, 5 ICMPv6 multicast (neighbour
/// solicitation). Each receiver gets exactly its allowed subset, then
/// nothing more.
#[tokio::test]
async fn ethertype_and_broadcast_filters() {
    let ts = TestServer::start(&[
        ("noip4", policy(|p| p.set_value("FilterIPv4", 1))),
        ("noip6", policy(|p| p.set_value("FilterIPv6", 1))),
        ("nonip", policy(|p| p.set_value("FilterNonIP", 1))),
        ("arpdhcp", policy(|p| p.set_value("ArpDhcpOnly", 1))),
        ("open", None),
    ])
    .await;
    let mut noip4 = ts.login("noip4", |_| {}).await.unwrap();
    let mut noip6 = ts.login("noip6", |_| {}).await.unwrap();
    let mut nonip = ts.login("nonip", |_| {}).await.unwrap();
    let mut arpdhcp = ts.login("arpdhcp", |_| {}).await.unwrap();
    let mut o = ts.login("open", |_| {}).await.unwrap();
    let src = mac(0x5);
    let udp = [0, 9, 0, 9, 0, 8, 0, 0];
    o.send(&[
        &ipv4(BCAST, src, 5, 17, &udp, 1),
        &arp_request(src, 2),
        &ipv6_multicast(src, 17, &udp, 3),
        &frame(BCAST, src, 4),
        &ipv6_multicast(src, 58, &[135, 0, 0, 0], 5),
    ])
    .await;
    assert_eq!(noip4.tags_until(5).await, [3, 4, 5], "FilterIPv4");
    assert_eq!(noip6.tags_until(4).await, [1, 2, 4], "FilterIPv6");
    assert_eq!(nonip.tags_until(5).await, [1, 2, 3, 5], "FilterNonIP");
    assert_eq!(arpdhcp.tags_until(5).await, [2, 5], "ArpDhcpOnly");
    assert!(noip6.recv(QUIET).await.is_none(), "FilterIPv6: no ICMPv6");
    // Sending is filtered the same way.
    noip4
        .send(&[
            &ipv4(BCAST, mac(0x1), 1, 17, &udp, 6),
            &frame(BCAST, mac(0x1), 7),
        ])
        .await;
    assert_eq!(o.tags_until(7).await, [7], "FilterIPv4 sender");
    arpdhcp
        .send(&[&frame(BCAST, mac(0x4), 8), &arp_request(mac(0x4), 9)])
        .await;
    assert_eq!(o.tags_until(9).await, [9], "ArpDhcpOnly sender");
}
