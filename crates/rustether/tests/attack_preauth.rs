//! Attack suite, issue 9 items 2 and 3: what an unauthenticated peer can do
//! to our running `vpnserver` before it logs in, played against the real
//! server in network namespaces (own client code for the attacks, the
//! real SoftEther `vpncmd` for the logins that must keep working).
//!
//! * A connection flood from one address (TLS connections trickling header
//!   bytes) is cut at `MaxConnectionsPerIP`; the over-limit connections are
//!   closed at once, heads over the head budget are closed, the bytes the
//!   server keeps for them are bounded (its own counter, logged), and
//!   logins from another address still succeed; a flood spread over
//!   several addresses is cut at `MaxUnestablishedConnections`; a
//!   slow-loris head is cut at the handshake deadline.
//! * Guessing the server administrator password while interleaving
//!   successful logins with a known hub-administrator password is still
//!   throttled (the server counts the throttled attempts in its log); so
//!   is guessing a VPN user's password between another user's logins.
//! * `OPTIONS` requests do not lift the per-connection cap of the JSON-RPC
//!   web API.
//!
//! Needs root (network namespaces) and the SoftEther Debian packages
//! (`testkit::prereq`: skipped visibly without them, failing when `CI` is
//! set). Namespaces have no default route; every process and socket is
//! owned by the test and ends with it.

mod admin_support;

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream};
use std::time::Duration;

use admin_support::*;
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::t1::{Topology, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;

const PORT: u16 = 5555;

/// What the tests of this file need: namespaces and the real vpncmd.
const NEEDS: &[Prereq] = &[Prereq::Netns, Prereq::SoftEther];

/// `MaxConnectionsPerIP` of the flood test (SoftEther's default is 256; a
/// smaller value keeps the test short and shows the setting is read).
const PER_IP: usize = 40;

/// The server's head budget (`rustether_proto::http::MAX_HEAD_BYTES`).
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// Runs `f` on a thread that lives in network namespace `ns`: sockets it
/// opens belong to that namespace (setns affects only the calling thread).
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/var/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open the namespace");
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("namespace thread")
}

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

/// SoftEther's client timeout per connect step (`CONNECTING_TIMEOUT`).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(15);

/// TCP connect and TLS handshake (certificate not checked, as SoftEther's
/// clients by default), each read and write bounded by [`CLIENT_TIMEOUT`];
/// `Err` if the server closes or resets first.
fn tls_connect(target: SocketAddr) -> std::io::Result<Tls> {
    let tcp = TcpStream::connect_timeout(&target, CLIENT_TIMEOUT)?;
    tcp.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    tcp.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let cfg = rustether_server::tls::client_config_no_verify();
    let conn = rustls::ClientConnection::new(cfg, "vpn.example".try_into().expect("name"))
        .map_err(std::io::Error::other)?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        let (rd, wr) = tls.conn.complete_io(&mut tls.sock)?;
        if rd == 0 && wr == 0 && tls.conn.is_handshaking() {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(tls)
}

/// True once the server closed `tls` (EOF or reset), waiting at most for
/// the socket's read timeout.
fn closed_by_server(tls: &mut Tls) -> bool {
    let mut b = [0u8; 4096];
    loop {
        match tls.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true,
        }
    }
}

/// A header line of `len` bytes (line end included) whose value is not
/// UTF-8 (each byte would become a 3-byte U+FFFD in a lossy conversion).
fn junk_header(len: usize) -> Vec<u8> {
    let mut l = b"X-Pad: ".to_vec();
    l.resize(len - 2, 0xff);
    l.extend_from_slice(b"\r\n");
    l
}

/// The counters of the last "connection refused before login" line.
fn refusal_counters(log: &str) -> Option<(u64, u64, u64)> {
    let line = log
        .lines()
        .rev()
        .find(|l| l.contains("connection refused before login"))?;
    let field = |name: &str| -> Option<u64> {
        let rest = line.split(&format!("{name}=")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Some((
        field("refused")?,
        field("unestablished")?,
        field("kept_bytes")?,
    ))
}

/// A connection flood from one namespace address: at most
/// `MaxConnectionsPerIP` unestablished connections are kept, the others are
/// closed at once; the kept bytes stay bounded; heads over the budget are
/// closed; and from another address the server administrator logs in with
/// the real vpncmd and a user logs in to the hub with our client every
/// time, within the clients' usual timeouts.
///
/// Before issue 9 item 2 every flood connection was kept (nothing is
/// refused, no counter is logged) and this test fails.
#[test]
fn flood_from_one_address_is_cut_and_others_still_log_in() {
    if !require(NEEDS) {
        return;
    }
    let dir = TestDir::new("attack-preauth-flood").unwrap();
    let topo = Topology::new(2, false).unwrap();
    let spec = ServerConfigSpec::with_hub(PORT, "TEST", &[UserSpec::new("u1", "pw1")]);
    let text = config_text(&spec, false).replacen(
        "declare ServerConfiguration\n\t{\n",
        &format!("declare ServerConfiguration\n\t{{\n\t\tuint MaxConnectionsPerIP {PER_IP}\n"),
        1,
    );
    assert!(text.contains("MaxConnectionsPerIP"));
    let mut server = OurServer::start(&topo.server, dir.path(), "server", PORT, &text).unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let local = Vpncmd::new(&topo.server, &dir.subdir("vpncmd").unwrap(), target).unwrap();
    local.ok(&["/CMD", "ServerPasswordSet", "srvpw"]);
    let remote = Vpncmd::new(&topo.clients[1], &dir.subdir("vpncmd-c2").unwrap(), target).unwrap();

    // The attacker (c1) opens PER_IP + 20 TLS connections and starts a
    // signature request on each, sending two 4 KiB header lines of non-UTF-8
    // bytes and then nothing more (a slow-loris head).
    let flood = PER_IP + 20;
    let (held, refused) = in_netns(&topo.clients[0], move || {
        let mut held: Vec<Tls> = Vec::new();
        let mut refused = 0usize;
        for _ in 0..flood {
            match tls_connect(SocketAddr::V4(target)) {
                Ok(mut tls) => {
                    let mut head = b"POST /vpnsvc/connect.cgi HTTP/1.1\r\n".to_vec();
                    head.extend_from_slice(&junk_header(4096));
                    head.extend_from_slice(&junk_header(4096));
                    if tls.write_all(&head).and_then(|_| tls.flush()).is_ok() {
                        held.push(tls);
                    } else {
                        refused += 1;
                    }
                }
                Err(_) => refused += 1,
            }
        }
        (held, refused)
    });
    assert!(
        held.len() <= PER_IP && refused >= flood - PER_IP,
        "{} of {flood} flood connections held, {refused} refused (limit {PER_IP})",
        held.len()
    );

    // Meanwhile logins from another address succeed, each within vpncmd's
    // own connect timeout.
    let mut ok = 0;
    for _ in 0..3 {
        let o = remote.run(&["/PASSWORD:srvpw", "/CMD", "ServerInfoGet"]);
        if o.code == 0 && o.text.contains(DONE) {
            ok += 1;
        }
    }
    assert_eq!(ok, 3, "admin logins from another address during the flood");
    // and so do VPN logins (our own client, SoftEther's login PACK), each
    // within the client's usual 15 s per step
    let vpn_ok = in_netns(&topo.clients[1], move || {
        (0..3)
            .filter(|_| vpn_login(SocketAddr::V4(target), "TEST", "u1", "pw1").is_ok())
            .count()
    });
    assert_eq!(
        vpn_ok, 3,
        "VPN logins from another address during the flood"
    );

    // More from the flooding address are refused; the server's counters
    // say how many it refused and how many bytes the held ones keep (it
    // logs at most one refusal a second, so try until one is logged).
    let held_n = held.len();
    let mut counters = None;
    let mut extra = 0;
    eventually(
        "a refusal with its counters in the log",
        Duration::from_secs(30),
        || {
            let admitted = in_netns(&topo.clients[0], move || {
                tls_connect(SocketAddr::V4(target)).is_ok()
            });
            assert!(!admitted, "a connection over MaxConnectionsPerIP is closed");
            extra += 1;
            counters = refusal_counters(&server.log());
            counters.is_some_and(|(r, _, _)| r as usize >= refused + extra)
        },
    );
    let (refused_srv, unestablished, kept) = counters.unwrap();
    assert!(
        unestablished as usize <= PER_IP,
        "{unestablished} unestablished"
    );
    // Each held connection keeps at most its head budget plus one read
    // buffer; 8 KiB of non-UTF-8 header bytes are kept as 8 KiB, not 24.
    let bound = held_n * (MAX_HEAD_BYTES + 8 * 1024);
    assert!(
        kept as usize <= bound,
        "{kept} bytes kept by {held_n} connections (bound {bound})"
    );
    assert!(
        kept as usize >= held_n * 8 * 1024,
        "the counter sees the kept head bytes: {kept}"
    );
    assert!(refused_srv as usize >= refused + extra);

    // The held connections now send more header lines than the head
    // budget allows: each is closed by the server.
    let closed = in_netns(&topo.clients[0], move || {
        let mut held = held;
        let line = junk_header(4096);
        let mut cut = vec![false; held.len()];
        for (tls, cut) in held.iter_mut().zip(cut.iter_mut()) {
            for _ in 0..(MAX_HEAD_BYTES / 4096 + 1) {
                if tls.write_all(&line).and_then(|_| tls.flush()).is_err() {
                    *cut = true;
                    break;
                }
            }
        }
        let mut closed = 0;
        for (tls, cut) in held.iter_mut().zip(cut) {
            if cut || closed_by_server(tls) {
                closed += 1;
            }
        }
        closed
    });
    assert_eq!(closed, held_n, "heads over the budget are closed");
    // and the source's budget is free again
    let again = in_netns(&topo.clients[0], move || {
        tls_connect(SocketAddr::V4(target)).is_ok()
    });
    assert!(again, "a new connection once the flood is gone");
    server.ensure_running().unwrap();
}

/// Opens `n` TLS connections to `target` that each start a signature
/// request; returns those the server kept and the number it refused.
fn open_heads(target: SocketAddr, n: usize) -> (Vec<Tls>, usize) {
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..n {
        match tls_connect(target) {
            Ok(mut tls) => {
                let start = b"POST /vpnsvc/connect.cgi HTTP/1.1\r\nX-A: b\r\n";
                if tls.write_all(start).and_then(|_| tls.flush()).is_ok() {
                    held.push(tls);
                } else {
                    refused += 1;
                }
            }
            Err(_) => refused += 1,
        }
    }
    (held, refused)
}

/// A flood spread over two addresses: each stays under
/// `MaxConnectionsPerIP`, together they reach `MaxUnestablishedConnections`
/// and the connections over it are closed at once.
///
/// Before issue 9 item 2 all 40 were kept; this test fails there.
#[test]
fn flood_from_many_addresses_is_cut_at_the_total() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let dir = TestDir::new("attack-preauth-total").unwrap();
    let topo = Topology::new(2, false).unwrap();
    let text = config_text(&ServerConfigSpec::minimal(PORT), false).replacen(
        "declare ServerConfiguration\n\t{\n",
        "declare ServerConfiguration\n\t{\n\t\tuint MaxConnectionsPerIP 25\n\t\tuint MaxUnestablishedConnections 30\n",
        1,
    );
    let mut server = OurServer::start(&topo.server, dir.path(), "server", PORT, &text).unwrap();
    let target = SocketAddr::V4(SocketAddrV4::new(SERVER_ADDR, PORT));
    let (a, a_refused) = in_netns(&topo.clients[0], move || open_heads(target, 20));
    assert_eq!((a.len(), a_refused), (20, 0), "under both limits");
    let (b, b_refused) = in_netns(&topo.clients[1], move || open_heads(target, 20));
    assert_eq!(
        (b.len(), b_refused),
        (10, 10),
        "MaxUnestablishedConnections 30 in total"
    );
    // once the first address gives up, the second gets its place
    drop(a);
    let mut more = Vec::new();
    eventually("the total frees up", Duration::from_secs(30), || {
        let (h, _) = in_netns(&topo.clients[1], move || open_heads(target, 1));
        more.extend(h);
        !more.is_empty()
    });
    drop(b);
    server.ensure_running().unwrap();
}

/// A tenant who knows its hub-administrator password guesses the server
/// administrator password with the real vpncmd, logging in to its hub
/// between guesses. The guesses are throttled all the same: the server
/// refuses attempts without checking them (it logs each one as throttled).
///
/// Before issue 9 item 3 every hub login reset the source's record and no
/// guess was ever throttled; this test fails there.
#[test]
fn interleaved_hub_admin_successes_do_not_reset_the_server_admin_throttle() {
    if !require(NEEDS) {
        return;
    }
    let dir = TestDir::new("attack-preauth-throttle").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let text = config_text(&ServerConfigSpec::minimal(PORT), false);
    let mut server = OurServer::start(&topo.server, dir.path(), "server", PORT, &text).unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let local = Vpncmd::new(&topo.server, &dir.subdir("vpncmd").unwrap(), target).unwrap();
    local.ok(&["/CMD", "HubCreate", "TENANT", "/PASSWORD:hubpw"]);
    local.ok(&["/CMD", "ServerPasswordSet", "srvpw"]);
    let tenant = Vpncmd::new(&topo.clients[0], &dir.subdir("vpncmd-c1").unwrap(), target).unwrap();

    let throttled = |log: &str| {
        log.lines()
            .filter(|l| l.contains("vpncmd login throttled after repeated failures"))
            .count()
    };
    let before = throttled(&server.log());
    const GUESSES: usize = 10;
    for _ in 0..GUESSES {
        // a guess: refused (error 9, checked or throttled)
        let o = tenant.run(&["/PASSWORD:guess", "/CMD", "ServerInfoGet"]);
        assert_ne!(o.code, 0, "{}", o.text);
        // the tenant's own login works every time
        tenant.ok(&["/HUB:TENANT", "/PASSWORD:hubpw", "/CMD", "UserList"]);
    }
    let n = throttled(&server.log()) - before;
    // 3 free guesses, then the lockouts (1 s, 2 s, 4 s, … doubling) outgrow
    // the time a guess and a hub login take
    assert!(n >= 3, "{n} of {GUESSES} guesses throttled");
    server.ensure_running().unwrap();
}

/// A slow-loris head: one short header line every 10 s, each within the
/// 15 s per-read timeout. The server closes the connection once the
/// handshake deadline from accept has passed (and says so in its log).
///
/// Before issue 9 item 2 only the per-read timeout existed and the
/// connection stayed open for all 13 lines; this test fails there.
#[test]
fn slow_handshake_is_cut_at_the_deadline() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let dir = TestDir::new("attack-preauth-slow").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let text = config_text(&ServerConfigSpec::minimal(PORT), false);
    let mut server = OurServer::start(&topo.server, dir.path(), "server", PORT, &text).unwrap();
    let target = SocketAddr::V4(SocketAddrV4::new(SERVER_ADDR, PORT));
    let lines_sent = in_netns(&topo.clients[0], move || {
        let mut tls = tls_connect(target).expect("TLS");
        tls.sock
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        if tls
            .write_all(b"POST /vpnsvc/connect.cgi HTTP/1.1\r\n")
            .and_then(|_| tls.flush())
            .is_err()
        {
            return None;
        }
        // 13 lines: 130 s, more than twice the 60 s deadline
        for sent in 1..=13 {
            if tls
                .write_all(b"X-Slow: 1\r\n")
                .and_then(|_| tls.flush())
                .is_err()
            {
                return Some(sent);
            }
            // waits up to 10 s for the server to close
            if closed_by_server(&mut tls) {
                return Some(sent);
            }
        }
        None
    });
    assert!(
        lines_sent.is_some(),
        "the server kept a handshake open for 13 lines at 10 s intervals"
    );
    assert!(
        server.log().contains("handshake deadline passed"),
        "closed by the deadline, not by the per-read timeout"
    );
    server.ensure_running().unwrap();
}

/// One VPN password login with our own client code (signature, hello,
/// login PACK as SoftEther's client sends it): `Ok` for a welcome,
/// `Err(code)` for an error PACK (`u32::MAX` if the connection failed).
fn vpn_login(target: SocketAddr, hub: &str, user: &str, password: &str) -> Result<(), u32> {
    use rustether_proto::messages::LoginRequest;
    use rustether_proto::negotiate::ClientNegotiation;
    use rustether_proto::password::{hash_password, secure_password};
    let failed = |_| u32::MAX;
    let mut tls = tls_connect(target).map_err(failed)?;
    let mut nego = ClientNegotiation::new(target.ip().to_string(), 1_800_000_000);
    let mut out = Vec::new();
    nego.start(&mut out);
    tls.write_all(&out).map_err(failed)?;
    let mut buf = bytes::BytesMut::new();
    let mut chunk = [0u8; 16 * 1024];
    let mut read = |tls: &mut Tls, buf: &mut bytes::BytesMut| -> Result<(), u32> {
        match tls.read(&mut chunk) {
            Ok(0) | Err(_) => Err(u32::MAX),
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    };
    let hello = loop {
        if let Some(h) = nego.on_hello(&mut buf).map_err(|_| u32::MAX)? {
            break h;
        }
        read(&mut tls, &mut buf)?;
    };
    let proof = secure_password(&hash_password(user, password), &hello.random);
    let mut login = LoginRequest::cascade(hub, user, proof, [7; 20]);
    login.require_bridge_routing_mode = false;
    out.clear();
    nego.send_request(&login.to_pack(), &mut out);
    tls.write_all(&out).map_err(failed)?;
    let answer = loop {
        if let Some(p) = nego.on_response(&mut buf).map_err(|_| u32::MAX)? {
            break p;
        }
        read(&mut tls, &mut buf)?;
    };
    match answer.get_int("error") {
        Some(e) if e != 0 => Err(e),
        _ => Ok(()),
    }
}

/// Brute force on a VPN user's password with our own client, with
/// successful logins of another user of the same hub from the same address
/// between the guesses: the guesses are throttled (the server refuses
/// attempts without checking them and logs each one), the other user logs
/// in every time.
///
/// Before issue 9 item 3 VPN logins were not throttled at all; this test
/// fails there.
#[test]
fn vpn_password_guessing_is_throttled() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let dir = TestDir::new("attack-preauth-vpnlogin").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let spec = ServerConfigSpec::with_hub(
        PORT,
        "TEST",
        &[
            UserSpec::new("victim", "secret1"),
            UserSpec::new("mallory", "mine"),
        ],
    );
    let text = config_text(&spec, false);
    let mut server = OurServer::start(&topo.server, dir.path(), "server", PORT, &text).unwrap();
    let target = SocketAddr::V4(SocketAddrV4::new(SERVER_ADDR, PORT));
    let throttled = |log: &str| {
        log.lines()
            .filter(|l| l.contains("VPN login throttled after repeated failures"))
            .count()
    };
    const GUESSES: usize = 8;
    let (guesses, own) = in_netns(&topo.clients[0], move || {
        let mut guesses = Vec::new();
        let mut own = 0;
        for i in 0..GUESSES {
            guesses.push(vpn_login(target, "TEST", "victim", &format!("guess{i}")));
            if vpn_login(target, "TEST", "mallory", "mine").is_ok() {
                own += 1;
            }
        }
        (guesses, own)
    });
    assert!(
        guesses.iter().all(|g| *g == Err(9)),
        "every guess refused with ERR_AUTH_FAILED: {guesses:?}"
    );
    assert_eq!(own, GUESSES, "the other user logs in every time");
    let n = throttled(&server.log());
    // 3 free guesses, then every other guess arrives during the lockout
    assert!(n >= 3, "{n} of {GUESSES} guesses throttled");
    server.ensure_running().unwrap();
}

/// `OPTIONS` requests are not authenticated: like any other unauthenticated
/// request they count towards the 19 requests a connection may make before
/// it is closed (SoftEther counts them as authenticated, so one connection
/// could be kept for ever).
///
/// Before issue 9 item 3 the 25 requests below were all answered.
#[test]
fn options_requests_do_not_lift_the_request_cap() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let dir = TestDir::new("attack-preauth-options").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let text = config_text(&ServerConfigSpec::minimal(PORT), true);
    let mut server = OurServer::start(&topo.server, dir.path(), "server", PORT, &text).unwrap();
    let target = SocketAddr::V4(SocketAddrV4::new(SERVER_ADDR, PORT));
    let answered = in_netns(&topo.clients[0], move || {
        let mut tls = tls_connect(target).expect("TLS");
        let req = b"OPTIONS /api/ HTTP/1.1\r\nHost: vpn\r\nContent-Length: 0\r\n\r\n";
        let mut answered = 0;
        let mut pending = Vec::new();
        for _ in 0..25 {
            if tls.write_all(req).and_then(|_| tls.flush()).is_err() {
                break;
            }
            // read one answer (head only: the body is empty)
            let mut b = [0u8; 4096];
            let got = loop {
                if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&pending[..end]).into_owned();
                    pending.drain(..end + 4);
                    break Some(head);
                }
                match tls.read(&mut b) {
                    Ok(0) | Err(_) => break None,
                    Ok(n) => pending.extend_from_slice(&b[..n]),
                }
            };
            match got {
                Some(h) if h.starts_with("HTTP/1.1 200") => answered += 1,
                _ => break,
            }
        }
        answered
    });
    assert!(
        answered < 25,
        "{answered} OPTIONS answered on one connection"
    );
    assert!(answered >= 1, "OPTIONS is answered at all");
    server.ensure_running().unwrap();
}
