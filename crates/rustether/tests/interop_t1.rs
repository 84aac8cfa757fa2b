//! Interop tests (issue 2): our vpnserver with the real SoftEther VPN Client
//! 5.01 (`softether-vpnclient`, driven by `softether-vpncmd`) in network
//! namespaces without any route outside.
//!
//! Prerequisites (root, namespaces, `/dev/net/tun`, the SoftEther packages,
//! ping, iperf3) go through `rustether_testkit::prereq::require`: without
//! them a test is skipped visibly and counted, and fails when `CI` is set.
//!
//! `RUSTETHER_INTEROP_SERVER=softether cargo test -p rustether --test interop_t1`
//! runs the same test bodies against the real SoftEther vpnserver instead of
//! ours: that is how the harness and the expectations are proven.
//! `interop_harness_selftest_real_softether` always does so for a short T1.
//! `RUSTETHER_KEEP_LOGS=1` keeps the working directories (logs, configs).

use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;

use rustether_testkit::anyhow::{ensure, Context, Result};
use rustether_testkit::client::AccountSpec;
use rustether_testkit::cmd::run;
use rustether_testkit::exclusive;
use rustether_testkit::measure::{iperf3, ping, IperfOptions};
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::ServerConfigSpec;
use rustether_testkit::server::{Server, ServerKind};
use rustether_testkit::softether::parse_table;
use rustether_testkit::t1::{T1Lab, T1Options, HUB, PORT, SERVER_ADDR};

/// What every lab of this file needs.
const LAB: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("ping"),
    Prereq::Program("iperf3"),
];

/// The server under test: ours, unless `RUSTETHER_INTEROP_SERVER=softether`.
fn server_under_test() -> ServerKind {
    ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"))
}

/// Start a T1 lab or fail the test with the setup error and log tails.
fn start_lab(label: &str, kind: &ServerKind, opts: T1Options) -> T1Lab {
    match T1Lab::start(label, kind, opts) {
        Ok(lab) => lab,
        Err(e) => panic!("{e:#}"),
    }
}

/// 20 pings (0.2 s apart) from client 0 to client 1's inner address: all answered.
fn ping_20_no_loss(lab: &T1Lab) -> Result<()> {
    let dst = lab.clients[1].inner;
    let p = ping(lab.client_ns(0), dst, 20, Duration::from_millis(200))?;
    ensure!(
        p.sent == 20 && p.received == 20 && p.loss_pct == 0.0,
        "ping {} -> {dst}: {p:?}",
        lab.clients[0].inner
    );
    Ok(())
}

/// iperf3 for 5 s from client 0 to client 1 through the hub: non-zero rate.
fn iperf_5s_nonzero(lab: &T1Lab) -> Result<f64> {
    let (src, dst) = (lab.clients[0].inner, lab.clients[1].inner);
    let mut o = IperfOptions::new(5);
    o.bind = Some(src);
    let r = iperf3(
        lab.client_ns(1),
        lab.client_ns(0),
        dst,
        &o,
        &lab.dir().join("logs"),
    )?;
    ensure!(
        r.mbps > 0.0,
        "iperf3 {src} -> {dst}: zero throughput: {r:?}"
    );
    eprintln!("iperf3 {src} -> {dst}: {:.1} Mbit/s", r.mbps);
    Ok(r.mbps)
}

/// Logins that must be refused, on a second virtual NIC of client 0 while
/// the lab's two sessions stay up: wrong password and unknown user → error 9
/// (ERR_AUTH_FAILED), unknown hub → error 8 (ERR_HUB_NOT_FOUND), with the
/// text the real client shows. Afterwards the established sessions still work.
fn refusals(lab: &mut T1Lab) -> Result<()> {
    let ns_name = lab.client_ns(0).name().to_string();
    let server = SocketAddrV4::new(SERVER_ADDR, PORT);
    let u1 = lab.users[0].clone();
    let cases = [
        (
            "wrongpw",
            HUB,
            u1.name.as_str(),
            "not-the-password",
            9,
            "User authentication failed",
        ),
        (
            "nouser",
            HUB,
            "nosuchuser",
            u1.password.as_str(),
            9,
            "User authentication failed",
        ),
        (
            "nohub",
            "NOSUCHHUB",
            u1.name.as_str(),
            u1.password.as_str(),
            8,
            "Virtual Hub does not exist",
        ),
    ];
    {
        let ns = lab.client_ns(0);
        lab.clients[0].client.nic_create(ns, "bad", None)?;
    }
    for (name, hub, user, pw, code, text) in cases {
        let mut spec = AccountSpec::new(name, server, hub, user, pw);
        spec.nic = "bad".into();
        let c = &mut lab.clients[0].client;
        c.account_create(&spec)?;
        let e = c
            .connect_expect_error(name, Duration::from_secs(30))
            .with_context(|| format!("login {name} in {ns_name}"))?;
        ensure!(
            e.code == code && e.message.contains(text),
            "login {name}: expected error {code} ({text}), the client shows {e:?}"
        );
        eprintln!("login {name}: refused as expected: {e:?}");
    }
    lab.server
        .as_mut()
        .expect("server started")
        .ensure_running()?;
    for c in &lab.clients {
        let st = c.client.status(&c.account)?;
        ensure!(
            st.established(),
            "{}: session lost after the refused logins",
            c.client.label()
        );
    }
    let p = ping(
        lab.client_ns(0),
        lab.clients[1].inner,
        5,
        Duration::from_millis(200),
    )?;
    ensure!(p.received == 5, "ping after the refused logins: {p:?}");
    Ok(())
}

/// Small T1 against the REAL SoftEther vpnserver: proves the harness itself
/// (namespaces, sandboxes, config writer incl. password hashes, vpnclient
/// driving, ping parsing, error capture) and the error codes the other tests
/// expect.
#[test]
fn interop_harness_selftest_real_softether() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = start_lab("selftest-se", &ServerKind::SoftEther, T1Options::default());
    lab.check(|lab| {
        ping_20_no_loss(lab)?;
        refusals(lab)
    });
}

/// Issue 2, T1: two real vpnclients log in as u1 and u2 to hub DEFAULT;
/// 2 TCP connections per session (MAXTCP 1 + QoS), encrypted; 20 pings with
/// 0 % loss; iperf3 5 s non-zero; wrong password / unknown user / unknown
/// hub refused with the right error while the sessions stay up.
#[test]
fn interop_t1_two_clients_ping_iperf_and_refusals() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let kind = server_under_test();
    let mut lab = start_lab("t1", &kind, T1Options::default());
    lab.check(|lab| {
        for c in &lab.clients {
            let st = c.client.status(&c.account)?;
            let cipher = st.cipher().unwrap_or_default();
            ensure!(
                !cipher.is_empty() && cipher != "none",
                "{}: session not encrypted: {st:?}",
                c.client.label()
            );
        }
        lab.wait_tcp_connections(0, 2, Duration::from_secs(30))?;
        ping_20_no_loss(lab)?;
        iperf_5s_nonzero(lab)?;
        refusals(lab)
    });
}

/// Issue 2, T1 with the clients set to 8 TCP connections (MAXTCP 8):
/// 8 connections per session, 20 pings with 0 % loss, iperf3 5 s non-zero.
#[test]
fn interop_t1_eight_tcp_connections() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let kind = server_under_test();
    let opts = T1Options {
        max_tcp: 8,
        ..T1Options::default()
    };
    let mut lab = start_lab("t1-maxtcp8", &kind, opts);
    lab.check(|lab| {
        lab.wait_tcp_connections(0, 8, Duration::from_secs(30))?;
        lab.wait_tcp_connections(1, 8, Duration::from_secs(30))?;
        ping_20_no_loss(lab)?;
        iperf_5s_nonzero(lab)?;
        Ok(())
    });
}

/// Issue 2, sessions: clients with encryption off (`AccountEncryptDisable`:
/// plain TCP after the login) and compression asked for
/// (`AccountCompressEnable`): the client shows no encryption and
/// compression in use (the server agreed in its Welcome); 20 pings with 0 %
/// loss; pings with zero-filled 1200-byte payloads cross the hub and the
/// client's "Use of Compression" shows a saving (bytes on the wire below
/// bytes carried, SoftEther's own counters), so blocks really are zlib
/// compressed both ways (our server decompresses the client's and the
/// client decompresses ours); the server lists the sessions with
/// compression on (vpncmd SessionGet); iperf3 5 s non-zero.
#[test]
fn interop_t1_encryption_off_and_compression() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let kind = server_under_test();
    let opts = T1Options {
        encrypt: false,
        compress: true,
        ..T1Options::default()
    };
    let mut lab = start_lab("t1-plain", &kind, opts);
    lab.check(|lab| {
        for c in &lab.clients {
            let st = c.client.status(&c.account)?;
            ensure!(
                st.cipher().as_deref() == Some("none"),
                "{}: encryption should be off: {:?}",
                c.client.label(),
                st.get("Encryption")
            );
            ensure!(
                st.compression() == Some(true),
                "{}: compression should be in use: {:?}",
                c.client.label(),
                st.get("Use of Compression")
            );
        }
        ping_20_no_loss(lab)?;
        // Highly compressible frames: 1200 zero bytes of ICMP payload.
        let dst = lab.clients[1].inner.to_string();
        let out = run(
            &mut lab.client_ns(0).command(
                "ping",
                &[
                    "-n", "-q", "-c", "20", "-i", "0.1", "-W", "2", "-s", "1200", "-p", "00", &dst,
                ],
            ),
            Duration::from_secs(60),
        )?;
        ensure!(
            out.status.success() && out.stdout.contains(" 0% packet loss"),
            "zero-filled pings through the compressed sessions: {}",
            out.combined()
        );
        for c in &lab.clients {
            let st = c.client.status(&c.account)?;
            let pct = st.compression_percent();
            eprintln!(
                "{}: Use of Compression: {:?}",
                c.client.label(),
                st.get("Use of Compression")
            );
            ensure!(
                pct.is_some_and(|p| p > 0),
                "{}: no compression saving after zero-filled pings: {:?}",
                c.client.label(),
                st.get("Use of Compression")
            );
        }
        server_sessions_compressed(lab)?;
        iperf_5s_nonzero(lab)?;
        Ok(())
    });
}

/// The server under test lists the lab users' sessions (vpncmd SessionList
/// and SessionGet on hub DEFAULT) with "Use of Compression" on.
fn server_sessions_compressed(lab: &T1Lab) -> Result<()> {
    let server = lab.server.as_ref().context("server started")?;
    let list = server.vpncmd(None, Some(HUB), &["SessionList"])?;
    // One block per session: `Session Name` first, then its `User Name`.
    let mut sessions: Vec<(String, String)> = Vec::new();
    for (k, v) in parse_table(&list) {
        match k.as_str() {
            "Session Name" => sessions.push((v, String::new())),
            "User Name" => {
                if let Some(last) = sessions.last_mut() {
                    last.1 = v;
                }
            }
            _ => {}
        }
    }
    let mut compressed = 0;
    for (name, user) in &sessions {
        if !lab.users.iter().any(|u| &u.name == user) {
            continue;
        }
        let info = server.vpncmd(None, Some(HUB), &["SessionGet", name])?;
        let items = parse_table(&info);
        let v = items
            .iter()
            .find(|(k, _)| k == "Use of Compression")
            .map(|(_, v)| v.as_str());
        ensure!(
            v.is_some_and(|v| v.starts_with("Yes")),
            "session {name} of {user:?}: Use of Compression {v:?} on the server:\n{info}"
        );
        compressed += 1;
    }
    ensure!(
        compressed == lab.clients.len(),
        "{compressed} compressed sessions of the lab's users on the server, expected {}:\n{list}",
        lab.clients.len()
    );
    Ok(())
}

/// Issue 2: a vpn_server.config written by the REAL SoftEther vpnserver
/// loads. The real server starts from a minimal file (listener, no hub); the
/// real vpncmd creates hub DEFAULT and users u1/u2 with passwords and makes
/// it save (`Flush`); it is stopped by pid; then the server under test runs
/// on that saved file and two real vpnclients log in as u1/u2 and ping.
#[test]
fn interop_softether_written_config_loads() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let kind = server_under_test();
    let mut lab = match T1Lab::prepare("se-config", T1Options::default()) {
        Ok(l) => l,
        Err(e) => panic!("{e:#}"),
    };
    let saved = lab.dir().join("softether-written.config");
    lab.check(|lab| write_config_with_real_softether(lab, &saved));
    lab.check(|lab| {
        let text = std::fs::read_to_string(&saved)?;
        for needle in [
            "declare DEFAULT",
            "declare u1",
            "declare u2",
            "byte ServerCert",
            "byte ServerKey",
        ] {
            ensure!(text.contains(needle), "the saved config lacks {needle:?}");
        }
        lab.start_server_with_file(&kind, &saved)?;
        lab.start_clients()?;
        lab.connect_all()?;
        lab.wait_inner_ping(0, 1, Duration::from_secs(20))?;
        let p = ping(
            lab.client_ns(0),
            lab.clients[1].inner,
            5,
            Duration::from_millis(200),
        )?;
        ensure!(p.received == 5, "{p:?}");
        Ok(())
    });
}

fn write_config_with_real_softether(lab: &mut T1Lab, saved: &Path) -> Result<()> {
    let work = lab.dir().join("real-writer");
    let mut real = Server::start(
        &ServerKind::SoftEther,
        &lab.topo.server,
        SERVER_ADDR,
        PORT,
        &work,
        &ServerConfigSpec::minimal(PORT),
    )?;
    let r = (|| -> Result<()> {
        real.vpncmd(None, None, &["HubCreate", HUB, "/PASSWORD:rt-hub-admin"])?;
        for u in &lab.users {
            real.vpncmd(
                None,
                Some(HUB),
                &[
                    "UserCreate",
                    &u.name,
                    "/GROUP:none",
                    "/REALNAME:none",
                    "/NOTE:none",
                ],
            )?;
            real.vpncmd(
                None,
                Some(HUB),
                &[
                    "UserPasswordSet",
                    &u.name,
                    &format!("/PASSWORD:{}", u.password),
                ],
            )?;
        }
        real.vpncmd(None, None, &["Flush"])?;
        Ok(())
    })();
    let log = real.log_tail(20);
    real.stop()?;
    r.with_context(|| format!("provisioning the real server; its log:\n{log}"))?;
    std::fs::copy(real.config_path(), saved)
        .with_context(|| format!("copying {}", real.config_path().display()))?;
    Ok(())
}
