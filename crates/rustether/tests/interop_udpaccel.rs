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
    Ok(st.get("UDP Acceleration is Active").map(|v| v.trim() == "Yes"))
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
    let body = json!({"jsonrpc": "2.0", "id": "rt", "method": method, "params": params}).to_string();
    let url = format!("https://{SERVER_ADDR}:{PORT}/api/");
    let ns = &lab.topo.server;
    let out = run(
        &mut ns.command(
            "curl",
            &[
                "-sk", "-m", "20", "-H", "X-VPNADMIN-PASSWORD: x", "-H",
                "Content-Type: application/json", "--data-binary", &body, &url,
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

/// UDP counters of every session on hub DEFAULT (our server only).
fn server_udp(lab: &T1Lab) -> Result<Vec<UdpCounters>> {
    let list = jsonrpc(lab, "EnumSession", json!({"HubName_str": HUB}))?;
    let names: Vec<String> = list["SessionList"]
        .as_array()
        .context("EnumSession: no SessionList")?
        .iter()
        .filter_map(|s| s["Name_str"].as_str().map(str::to_owned))
        .collect();
    ensure!(names.len() == lab.clients.len(), "sessions: {names:?}");
    names
        .iter()
        .map(|n| {
            let s = jsonrpc(lab, "GetSessionStatus", json!({"HubName_str": HUB, "Name_str": n}))?;
            let u = |k: &str| s[k].as_u64().unwrap_or(0);
            Ok(UdpCounters {
                enabled: s["IsUdpAccelerationEnabled_bool"].as_bool().unwrap_or(false),
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

fn block_udp(lab: &T1Lab, i: usize) -> Result<()> {
    let ns = lab.client_ns(i);
    let t = BLOCK_TABLE;
    ns.run("nft", &["add", "table", "inet", t], Duration::from_secs(10))?;
    for (chain, hook) in [("in", "input"), ("out", "output")] {
        let spec = format!("{{ type filter hook {hook} priority 0 ; }}");
        ns.run("nft", &["add", "chain", "inet", t, chain, &spec], Duration::from_secs(10))?;
        ns.run(
            "nft",
            &["add", "rule", "inet", t, chain, "meta", "l4proto", "udp", "drop"],
            Duration::from_secs(10),
        )?;
    }
    Ok(())
}

fn unblock_udp(lab: &T1Lab, i: usize) -> Result<()> {
    lab.client_ns(i)
        .run("nft", &["delete", "table", "inet", BLOCK_TABLE], Duration::from_secs(10))
        .map(drop)
}

fn ping_ok(lab: &T1Lab, n: u32) -> Result<()> {
    let dst = lab.clients[1].inner;
    let p = ping(lab.client_ns(0), dst, n, Duration::from_millis(200))?;
    ensure!(p.received == n, "ping -> {dst}: {p:?}");
    Ok(())
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
    let mut lab = match T1Lab::start("udpaccel", &kind, opts) {
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

        // UDP blocked in client 0's namespace: back to TCP, still working.
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
