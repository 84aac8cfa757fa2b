//! UDP acceleration with the real SoftEther VPN Client 5.01 (issue 11 item
//! 2, docs/udp-acceleration.md): two vpnclients with UDP acceleration
//! allowed (`/DISABLEUDP:no`) in namespaces without any route outside.
//!
//! * both clients report "UDP Acceleration is Active" (`AccountStatusGet`) —
//!   the real client only says so after 10 s of datagrams from us that it
//!   decrypts and that echo its ticks, so this checks our packet format;
//! * our server's session status agrees, and its UDP byte counters
//!   (JSON-RPC `GetSessionStatus`, `UdpAccelRecvBytes`/`UdpAccelSendBytes`)
//!   grow by the iperf3 traffic between the two clients;
//! * UDP blocked in client 0's namespace with nftables: the client and the
//!   server stop using UDP and the sessions keep working over TCP (ping);
//! * unblocked: UDP is used again, as SoftEther does.
//!
//! `RUSTETHER_INTEROP_SERVER=softether` runs the client side of the same
//! test against the real SoftEther vpnserver (its counters are not read).
//! Prerequisites via `rustether_testkit::prereq` (skipped visibly, failing
//! under `CI`). Every wait has a deadline.

use std::time::{Duration, Instant};

use rustether_testkit::anyhow::{bail, ensure, Context, Result};
use rustether_testkit::cmd::run;
use rustether_testkit::exclusive;
use rustether_testkit::measure::{iperf3, ping, IperfOptions};
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options, HUB, PORT, SERVER_ADDR};
use serde_json::{json, Value};

const LAB: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("ping"),
    Prereq::Program("iperf3"),
    Prereq::Program("nft"),
    Prereq::Program("curl"),
];

/// The nftables table that blocks UDP in a client namespace.
const BLOCK_TABLE: &str = "rt_udpaccel_block";

fn server_under_test() -> ServerKind {
    ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"))
}

/// `UDP Acceleration is Active` of lab client `i`: `Some(true)` for "Yes".
fn client_udp_active(lab: &T1Lab, i: usize) -> Result<Option<bool>> {
    let c = &lab.clients[i];
    let st = c.client.status(&c.account)?;
    Ok(st
        .get("UDP Acceleration is Active")
        .map(|v| v.trim() == "Yes"))
}

/// Polls until every lab client reports UDP acceleration `want`.
fn wait_clients_udp(lab: &T1Lab, want: bool, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let states = (0..lab.clients.len())
            .map(|i| client_udp_active(lab, i))
            .collect::<Result<Vec<_>>>()?;
        if states.iter().all(|s| *s == Some(want)) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("UDP acceleration active = {want} expected within {timeout:?}; the clients report {states:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// One session of our server as JSON-RPC `GetSessionStatus` shows it.
#[derive(Debug, Clone, Copy, PartialEq)]
struct UdpCounters {
    enabled: bool,
    in_use: bool,
    sent: u64,
    recv: u64,
}

fn jsonrpc(lab: &T1Lab, method: &str, params: Value) -> Result<Value> {
    let body =
        json!({"jsonrpc": "2.0", "id": "rt", "method": method, "params": params}).to_string();
    let url = format!("https://{SERVER_ADDR}:{PORT}/api/");
    let ns = &lab.topo.server;
    let out = run(
        &mut ns.command(
            "curl",
            &[
                "-sk",
                "-m",
                "20",
                "-H",
                "X-VPNADMIN-PASSWORD: x",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &body,
                &url,
            ],
        ),
        Duration::from_secs(30),
    )?;
    let v: Value = serde_json::from_str(&out.stdout)
        .with_context(|| format!("{method}: not JSON: {}", out.combined()))?;
    v.get("result")
        .cloned()
        .with_context(|| format!("{method}: no result: {v}"))
}

/// Session names on hub DEFAULT.
fn server_sessions(lab: &T1Lab) -> Result<Vec<String>> {
    let list = jsonrpc(lab, "EnumSession", json!({"HubName_str": HUB}))?;
    Ok(list["SessionList"]
        .as_array()
        .context("EnumSession: no SessionList")?
        .iter()
        .filter_map(|s| s["Name_str"].as_str().map(str::to_owned))
        .collect())
}

/// UDP counters of every session on hub DEFAULT (our server only).
fn server_udp(lab: &T1Lab) -> Result<Vec<UdpCounters>> {
    let names = server_sessions(lab)?;
    ensure!(names.len() == lab.clients.len(), "sessions: {names:?}");
    names
        .iter()
        .map(|n| {
            let s = jsonrpc(
                lab,
                "GetSessionStatus",
                json!({"HubName_str": HUB, "Name_str": n}),
            )?;
            let u = |k: &str| s[k].as_u64().unwrap_or(0);
            Ok(UdpCounters {
                enabled: s["IsUdpAccelerationEnabled_bool"]
                    .as_bool()
                    .unwrap_or(false),
                in_use: s["IsUsingUdpAcceleration_bool"].as_bool().unwrap_or(false),
                sent: u("UdpAccelSendBytes_u64"),
                recv: u("UdpAccelRecvBytes_u64"),
            })
        })
        .collect()
}

fn wait_server_udp(lab: &T1Lab, want: bool, timeout: Duration) -> Result<Vec<UdpCounters>> {
    let deadline = Instant::now() + timeout;
    loop {
        let c = server_udp(lab)?;
        if c.iter().all(|s| s.enabled && s.in_use == want) {
            return Ok(c);
        }
        if Instant::now() >= deadline {
            bail!("server: UDP in use = {want} expected within {timeout:?}: {c:?}");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Drops UDP between client `i` and the server, on the way in at both
/// ends: client `i`'s namespace drops all UDP it receives, the server's
/// namespace all UDP from client `i`. (Dropping on output would make the
/// client's `sendto` fail, and the 5.01 client then ends the whole session:
/// `UdpAccel->FatalError`, Session.c.)
fn block_udp(lab: &T1Lab, i: usize) -> Result<()> {
    let from = rustether_testkit::t1::client_underlay(lab.clients[i].index).to_string();
    let t = BLOCK_TABLE;
    let spec = "{ type filter hook input priority 0 ; }";
    let ten = Duration::from_secs(10);
    for (ns, rule) in [
        (lab.client_ns(i), vec!["meta", "l4proto", "udp", "drop"]),
        (
            &lab.topo.server,
            vec![
                "ip",
                "saddr",
                from.as_str(),
                "meta",
                "l4proto",
                "udp",
                "drop",
            ],
        ),
    ] {
        ns.run("nft", &["add", "table", "inet", t], ten)?;
        ns.run("nft", &["add", "chain", "inet", t, "in", spec], ten)?;
        let mut args = vec!["add", "rule", "inet", t, "in"];
        args.extend(rule);
        ns.run("nft", &args, ten)?;
    }
    Ok(())
}

fn unblock_udp(lab: &T1Lab, _i: usize) -> Result<()> {
    let ten = Duration::from_secs(10);
    for ns in [lab.client_ns(0), &lab.topo.server] {
        ns.run("nft", &["delete", "table", "inet", BLOCK_TABLE], ten)?;
    }
    Ok(())
}

fn ping_ok(lab: &T1Lab, n: u32) -> Result<()> {
    let dst = lab.clients[1].inner;
    let p = ping(lab.client_ns(0), dst, n, Duration::from_millis(200))?;
    ensure!(p.received == n, "ping -> {dst}: {p:?}");
    Ok(())
}

/// The T1 lab with the JSON-RPC API on (the counters are read through it).
fn start_lab(kind: &ServerKind, opts: T1Options) -> Result<T1Lab> {
    let mut lab = T1Lab::prepare("udpaccel", opts)?;
    let r = (|| -> Result<()> {
        let text = lab.config_spec().render()?;
        let on = text.replace(
            "bool DisableJsonRpcWebApi true",
            "bool DisableJsonRpcWebApi false",
        );
        ensure!(
            on != text,
            "the testkit configuration must name DisableJsonRpcWebApi"
        );
        let file = lab.dir().join("udpaccel.config");
        std::fs::write(&file, on)?;
        lab.start_server_with_file(kind, &file)?;
        lab.start_clients()?;
        lab.connect_all()?;
        lab.wait_inner_ping(0, 1, Duration::from_secs(20))
    })();
    if let Err(e) = r {
        lab.keep_dir();
        bail!("{e:#}\n{}", lab.diagnostics());
    }
    Ok(lab)
}

#[test]
fn udp_acceleration_with_the_real_client_and_fallback_to_tcp() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let kind = server_under_test();
    let ours = matches!(kind, ServerKind::Ours(_));
    let opts = T1Options {
        udp_accel: true,
        qos: false,
        ..T1Options::default()
    };
    let mut lab = match start_lab(&kind, opts) {
        Ok(l) => l,
        Err(e) => panic!("{e:#}"),
    };
    lab.check(|lab| {
        // The client needs 10 s of steady UDP before it uses it.
        wait_clients_udp(lab, true, Duration::from_secs(40))
            .context("UDP acceleration did not come up")?;
        let before = if ours {
            Some(wait_server_udp(lab, true, Duration::from_secs(10))?)
        } else {
            None
        };
        let mut o = IperfOptions::new(3);
        o.bind = Some(lab.clients[0].inner);
        let r = iperf3(
            lab.client_ns(1),
            lab.client_ns(0),
            lab.clients[1].inner,
            &o,
            &lab.dir().join("logs"),
        )?;
        ensure!(r.mbps > 0.0, "iperf3 over UDP acceleration: {r:?}");
        eprintln!("iperf3 with UDP acceleration: {:.1} Mbit/s", r.mbps);
        // Kernel UDP counters (RcvbufErrors = datagrams lost to full
        // socket buffers), for diagnosis.
        for ns in [&lab.topo.server, lab.client_ns(0), lab.client_ns(1)] {
            let snmp = ns.run("cat", &["/proc/net/snmp"], Duration::from_secs(10))?;
            let udp: Vec<&str> = snmp.lines().filter(|l| l.starts_with("Udp:")).collect();
            eprintln!("{}: {}", ns.name(), udp.join(" | "));
        }
        if let Some(before) = &before {
            let after = server_udp(lab)?;
            let grown = |f: fn(&UdpCounters) -> u64| {
                after.iter().map(f).sum::<u64>() - before.iter().map(f).sum::<u64>()
            };
            let (rx, tx) = (grown(|c| c.recv), grown(|c| c.sent));
            eprintln!("server UDP counters grew by {rx} bytes received, {tx} sent: {after:?}");
            // The sender's session received the stream, the receiver's
            // session sent it: each is far more than keep-alives.
            let bytes = (r.mbps * 1e6 / 8.0 * 3.0) as u64;
            ensure!(
                rx >= bytes / 2 && tx >= bytes / 2,
                "iperf3 moved ~{bytes} bytes but the UDP counters grew by {rx}/{tx}: {before:?} -> {after:?}"
            );
        }

        // UDP blocked between client 0 and the server: back to TCP, still
        // working, on the same session.
        let session_names = |lab: &T1Lab| -> Result<Vec<Option<String>>> {
            lab.clients
                .iter()
                .map(|c| Ok(c.client.status(&c.account)?.get("Session Name").map(str::to_owned)))
                .collect()
        };
        let sessions_before = session_names(lab)?;
        block_udp(lab, 0)?;
        let deadline = Instant::now() + Duration::from_secs(20);
        while client_udp_active(lab, 0)? != Some(false) {
            ensure!(Instant::now() < deadline, "client 0 still reports UDP in use after the block");
            std::thread::sleep(Duration::from_millis(300));
        }
        if ours {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let s = server_udp(lab)?;
                if s.iter().filter(|c| !c.in_use).count() >= 1 {
                    break;
                }
                ensure!(Instant::now() < deadline, "server still uses UDP for every session: {s:?}");
                std::thread::sleep(Duration::from_millis(300));
            }
        }
        lab.wait_inner_ping(0, 1, Duration::from_secs(20))?;
        ping_ok(lab, 10).context("over TCP after UDP was blocked")?;
        if ours {
            // Nothing more arrives over UDP from the blocked client.
            let a = server_udp(lab)?;
            ping_ok(lab, 5)?;
            let b = server_udp(lab)?;
            let rx = |v: &[UdpCounters]| v.iter().map(|c| c.recv).sum::<u64>();
            let other = |v: &[UdpCounters]| v.iter().filter(|c| c.in_use).map(|c| c.recv).sum::<u64>();
            // Only the unblocked session may still receive (its keep-alives).
            ensure!(
                rx(&b) - rx(&a) <= other(&b).saturating_sub(other(&a)) + 1_000,
                "UDP bytes still arrive from the blocked client: {a:?} -> {b:?}"
            );
        }

        ensure!(
            session_names(lab)? == sessions_before,
            "the sessions changed while UDP was blocked: {sessions_before:?}"
        );

        // Unblocked: UDP is used again.
        unblock_udp(lab, 0)?;
        wait_clients_udp(lab, true, Duration::from_secs(40))
            .context("UDP acceleration did not come back")?;
        if ours {
            wait_server_udp(lab, true, Duration::from_secs(10))?;
        }
        ping_ok(lab, 5)?;
        Ok(())
    });
}
