//! Interop tests of issue 4 (local bridge, TAP mode, cascade connections,
//! the VPN Bridge program, User Mode without privileges): our vpnserver and
//! vpnbridge with the real SoftEther 5.01 vpnclient, vpnserver and
//! vpnbridge, in network namespaces without any route outside.
//!
//! Prerequisites (root, namespaces, `/dev/net/tun`, the SoftEther packages,
//! ping, iperf3, ethtool, setpriv) go through
//! `rustether_testkit::prereq::require`: without them a test is skipped
//! visibly and counted, and fails when `CI` is set. Each test
//! builds its namespaces once, runs several checks, and cleans up (RAII
//! guards in rustether-testkit). `RUSTETHER_KEEP_LOGS=1` keeps the working
//! directories (logs, configurations).
//!
//! `RUSTETHER_INTEROP_SERVER=softether` runs the T2 test against the real
//! SoftEther vpnserver instead of ours (proves the harness);
//! `interop_cascade_harness_selftest_real_softether` always runs the
//! cascade lab with SoftEther's server and bridge.

use std::time::{Duration, Instant};

use rustether_testkit::anyhow::{bail, ensure, Context, Result};
use rustether_testkit::bridge_lab::{
    cascade_user, CascadeLab, CascadeOptions, CASCADE_NAME, OURS_CASCADE_ATTEMPT,
    OURS_CASCADE_ENDED, OURS_CASCADE_ESTABLISHED, OURS_CASCADE_FAILED,
};
use rustether_testkit::cascadecfg::{bridge_config, CascadeSpec, BRIDGE_HUB};
use rustether_testkit::cmd::{run, wait_until};
use rustether_testkit::exclusive;
use rustether_testkit::logtime::{gap_ms, time_of_day_ms};
use rustether_testkit::measure::{iperf3, ping, IperfOptions};
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::{BridgeSpec, UserSpec};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options, HUB, LAN_BRIDGE_DEV, LAN_INNER, PORT, SERVER_ADDR};
use rustether_testkit::t2::{tap_name, BridgeMode, T2Lab};
use rustether_testkit::vpnbridge::BridgeKind;

/// What every lab of this file needs.
const LAB: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("ping"),
    Prereq::Program("iperf3"),
];

fn ours_server() -> ServerKind {
    ServerKind::Ours(env!("CARGO_BIN_EXE_vpnserver").into())
}

fn ours_bridge() -> BridgeKind {
    BridgeKind::Ours(env!("CARGO_BIN_EXE_vpnbridge").into())
}

/// The server under test: ours, unless `RUSTETHER_INTEROP_SERVER=softether`.
fn server_under_test() -> ServerKind {
    ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"))
}

/// `count` pings 0.2 s apart from `src` to `dst`: every one answered.
fn ping_no_loss(src: &Netns, dst: std::net::Ipv4Addr, count: u32) -> Result<()> {
    let p = ping(src, dst, count, Duration::from_millis(200))?;
    ensure!(
        p.sent == count && p.received == count && p.loss_pct == 0.0,
        "ping {dst} from {}: {p:?}",
        src.name()
    );
    eprintln!(
        "ping {dst}: {count}/{count} answered, avg {:?} ms",
        p.rtt_avg_ms
    );
    Ok(())
}

/// iperf3 for `secs` s from `src_addr` in `src` to the LAN host in `lan`:
/// non-zero rate. Returns Mbit/s.
fn iperf_to_lan(
    src: &Netns,
    src_addr: std::net::Ipv4Addr,
    lan: &Netns,
    secs: u32,
    logs: &std::path::Path,
) -> Result<f64> {
    let mut o = IperfOptions::new(secs);
    o.bind = Some(src_addr);
    let r = iperf3(lan, src, LAN_INNER, &o, logs)?;
    ensure!(
        r.mbps > 0.0,
        "iperf3 {src_addr} -> {LAN_INNER}: zero throughput: {r:?}"
    );
    eprintln!("iperf3 {src_addr} -> {LAN_INNER}: {:.1} Mbit/s", r.mbps);
    Ok(r.mbps)
}

/// `promiscuity N` of `dev` (`ip -d link show`): how many users asked for
/// promiscuous mode.
fn promiscuity(ns: &Netns, dev: &str) -> Result<u32> {
    let out = ns.ip(&["-d", "link", "show", dev])?;
    let n = out
        .split_whitespace()
        .skip_while(|w| *w != "promiscuity")
        .nth(1)
        .context("no promiscuity in `ip -d link show`")?;
    Ok(n.parse()?)
}

/// MAC address of `dev` (`link/ether` of `ip link show`).
fn link_mac(ns: &Netns, dev: &str) -> Result<String> {
    let out = ns.ip(&["link", "show", dev])?;
    out.split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .map(str::to_string)
        .context("no link/ether in `ip link show`")
}

/// `ethtool -k dev`: the offload settings as ethtool prints them (the
/// test gates on the ethtool program, so a missing one is never "equal").
fn offloads(ns: &Netns, dev: &str) -> Result<String> {
    let out = run(
        &mut ns.command("ethtool", &["-k", dev]),
        Duration::from_secs(10),
    )?;
    ensure!(
        out.status.success() && out.stdout.contains("tcp-segmentation-offload:"),
        "ethtool -k {dev} in {}: {}",
        ns.name(),
        out.combined()
    );
    Ok(out.stdout)
}

// ------------------------------------------------------------------ no root

/// The VPN Bridge configuration the tests write (hub BRIDGE, local bridge,
/// cascade with a hashed password) loads in our configuration model with
/// the values the tests rely on.
#[test]
fn bridge_config_written_by_the_harness_loads_in_our_model() {
    let user = UserSpec::new("casc", "rt-pass-casc");
    let spec = CascadeSpec::new(
        "casc1",
        std::net::SocketAddrV4::new(SERVER_ADDR, PORT),
        HUB,
        &user,
    );
    let text = bridge_config(
        PORT,
        Some(BridgeSpec {
            device: "lanbr".into(),
            tap_mode: false,
        }),
        &[spec],
    )
    .unwrap();
    let root = rustether_config::parse_text(&text).unwrap();
    let cfg = rustether_config::ServerConfig::from_root(&root).unwrap();
    let hub = cfg.hub(BRIDGE_HUB).expect("hub BRIDGE");
    let c = hub.cascade("casc1").expect("cascade casc1");
    assert!(c.online);
    assert_eq!(c.hostname, SERVER_ADDR.to_string());
    assert_eq!(c.port, PORT);
    assert_eq!(c.hub_name, HUB);
    assert_eq!(c.max_connection, 8);
    assert_eq!(c.retry_interval_secs, 10);
    assert!(c.use_encrypt);
    match &c.auth {
        rustether_config::CascadeAuth::HashedPassword { username, hash } => {
            assert_eq!(username, "casc");
            assert_eq!(
                *hash,
                rustether_testkit::sha0::password_hash("casc", "rt-pass-casc")
            );
        }
        other => panic!("unexpected cascade auth {other:?}"),
    }
    assert_eq!(cfg.local_bridges.len(), 1);
    assert_eq!(cfg.local_bridges[0].device_name, "lanbr");
    assert_eq!(cfg.local_bridges[0].hub_name, BRIDGE_HUB);
    assert!(!cfg.local_bridges[0].tap_mode);
    assert!(cfg.ddns_disabled);
}

// ------------------------------------------------------------------ 1. T2

/// Issue 4, T2 as the lab measures it: a real vpnclient, the server with hub
/// DEFAULT bridged to a veth into a LAN namespace.
///
/// Device mode: the LAN host answers 20 pings with 0 % loss and iperf3
/// (5 s) has a non-zero rate; the veth is promiscuous while the server runs
/// and, once the server stopped, its promiscuity and offload settings are
/// back to what they were before (ours only: SoftEther never clears them).
/// TAP mode, same namespaces: the server creates `tap_lanbr`, the test puts
/// it and the veth in a Linux bridge; the same ping and iperf3 checks; the
/// TAP device disappears when the server stops.
/// Device mode again: the veth is deleted and created again while the
/// server runs: the LAN host answers again (the bridge reopens the
/// interface; the time is printed).
#[test]
fn interop_t2_local_bridge_device_and_tap_modes() {
    if !require(LAB) || !require(&[Prereq::Program("ethtool")]) {
        return;
    }
    let _x = exclusive();
    let kind = server_under_test();
    let opts = T1Options {
        n_clients: 1,
        ..T1Options::default()
    };
    let mut lab = match T2Lab::prepare("t2", opts) {
        Ok(l) => l,
        Err(e) => panic!("{e:#}"),
    };
    lab.check(|lab| {
        let srv = lab.server_ns();
        let promisc_before = promiscuity(srv, LAN_BRIDGE_DEV)?;
        let offloads_before = offloads(srv, LAN_BRIDGE_DEV)?;

        // Device mode.
        lab.start_server(&kind, BridgeMode::Device)?;
        lab.connect()?;
        lab.wait_lan_ping(Duration::from_secs(30))?;
        ping_no_loss(lab.client_ns(), LAN_INNER, 20)?;
        let logs = lab.lab.dir().join("logs");
        iperf_to_lan(lab.client_ns(), lab.client_inner(), lab.lan_ns(), 5, &logs)?;
        let p = promiscuity(lab.server_ns(), LAN_BRIDGE_DEV)?;
        ensure!(
            p > promisc_before,
            "{LAN_BRIDGE_DEV} is not promiscuous while bridged (promiscuity {p})"
        );
        lab.lab.server.as_mut().expect("started").ensure_running()?;
        lab.lab.stop_server()?;
        if matches!(kind, ServerKind::Ours(_)) {
            let srv = lab.server_ns();
            let p = promiscuity(srv, LAN_BRIDGE_DEV)?;
            ensure!(
                p == promisc_before,
                "promiscuity of {LAN_BRIDGE_DEV} not restored after the server stopped: {p} (before {promisc_before})"
            );
            let after = offloads(srv, LAN_BRIDGE_DEV)?;
            ensure!(
                after == offloads_before,
                "offload settings of {LAN_BRIDGE_DEV} not restored after the server stopped:\nbefore:\n{offloads_before}\nafter:\n{after}"
            );
        }

        // TAP mode, same namespaces and client.
        lab.start_server(&kind, BridgeMode::Tap)?;
        lab.connect()?;
        lab.wait_lan_ping(Duration::from_secs(30))?;
        ping_no_loss(lab.client_ns(), LAN_INNER, 20)?;
        iperf_to_lan(lab.client_ns(), lab.client_inner(), lab.lan_ns(), 5, &logs)?;
        lab.lab.server.as_mut().expect("started").ensure_running()?;
        lab.lab.stop_server()?;
        let tap = tap_name(LAN_BRIDGE_DEV);
        wait_until(
            &format!("{tap} to disappear after the server stopped"),
            Duration::from_secs(5),
            Duration::from_millis(100),
            || Ok(!lab.server_ns().link_exists(&tap)),
        )?;

        // Device mode again: the veth disappears and comes back while the
        // server runs; the bridge reopens it and the LAN host answers again.
        lab.start_server(&kind, BridgeMode::Device)?;
        lab.connect()?;
        lab.wait_lan_ping(Duration::from_secs(30))?;
        // The LAN host keeps its MAC (as after a cable pull): the client's
        // ARP entry stays valid, so only the bridge is under test.
        let lan_mac = link_mac(lab.lan_ns(), "eth0")?;
        lab.server_ns().ip(&["link", "del", LAN_BRIDGE_DEV])?;
        std::thread::sleep(Duration::from_secs(1));
        let t0 = Instant::now();
        lab.server_ns()
            .veth_to(LAN_BRIDGE_DEV, lab.lan_ns(), "eth0")?;
        lab.lan_ns()
            .ip(&["link", "set", "eth0", "address", &lan_mac])?;
        lab.lan_ns().add_addr("eth0", LAN_INNER, 24)?;
        lab.lan_ns().tx_offload_off("eth0");
        lab.server_ns().tx_offload_off(LAN_BRIDGE_DEV);
        // Deadline only: the bridge retries opening its device every second.
        lab.wait_lan_ping(Duration::from_secs(30))
            .context("after the bridged interface was deleted and created again")?;
        eprintln!(
            "LAN host answers again {:.1} s after the interface came back",
            t0.elapsed().as_secs_f64()
        );
        ping_no_loss(lab.client_ns(), LAN_INNER, 10)?;
        lab.lab.server.as_mut().expect("started").ensure_running()
    });
}

// ------------------------------------------------------------------ cascades

/// The remote server's sessions (vpncmd SessionList on hub DEFAULT) include
/// one of the cascade user: the link really is a cascade session there.
fn remote_has_cascade_session(lab: &CascadeLab) -> Result<()> {
    let out = lab.server()?.vpncmd(None, Some(HUB), &["SessionList"])?;
    let items = rustether_testkit::softether::parse_table(&out);
    let user = cascade_user().name;
    ensure!(
        items.iter().any(|(k, v)| k == "User Name" && *v == user),
        "no session of user {user} on the server:\n{out}"
    );
    Ok(())
}

/// Wait until the real SoftEther vpnbridge reports cascade `casc1` with a
/// status for which `pred` holds (vpncmd CascadeList), at most `timeout`.
/// Returns the status.
fn wait_real_bridge_status(
    lab: &CascadeLab,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Result<String> {
    let t0 = Instant::now();
    loop {
        let last = match lab.bridge()?.cascade_status(CASCADE_NAME) {
            Ok(s) if pred(&s) => return Ok(s),
            Ok(s) => s,
            Err(e) => format!("{e:#}"),
        };
        if t0.elapsed() >= timeout {
            bail!("the real vpnbridge's cascade did not become {what} within {timeout:?}; last status: {last}");
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Our vpnbridge's cascade status through the real vpncmd (CascadeList)
/// must satisfy `pred`.
fn check_our_status(lab: &CascadeLab, what: &str, pred: impl Fn(&str) -> bool) -> Result<()> {
    let s = lab
        .bridge()?
        .cascade_status(CASCADE_NAME)
        .with_context(|| format!("vpncmd CascadeList on our vpnbridge (expecting {what})"))?;
    ensure!(
        pred(&s),
        "our vpnbridge's CascadeList shows {s:?}, expected {what}"
    );
    eprintln!("our vpnbridge CascadeList ({what}): {s}");
    Ok(())
}

/// Scheduling allowance on top of the longest retry wait when our bridge's
/// own log timestamps are compared with the configured interval (a timer
/// fires, then the process must get a CPU to log).
const WAKEUP_ALLOWANCE: Duration = Duration::from_secs(2);

/// The waits of our bridge's cascade between the end of an attempt (its
/// session ended, or the attempt failed) and the start of the next one, by
/// the bridge's own log timestamps, in `log`. Each must be the configured
/// RetryInterval ± 20 % (plus [`WAKEUP_ALLOWANCE`] above). Returns the
/// waits in ms; errors when there is none or one is out of range.
fn check_retry_waits(log: &str, opts: &CascadeOptions) -> Result<Vec<u64>> {
    let min = opts.retry_interval().as_millis() as u64 * 4 / 5;
    let max = (opts.max_retry_wait() + WAKEUP_ALLOWANCE).as_millis() as u64;
    let mut waits = Vec::new();
    let mut ended: Option<u64> = None;
    for line in log.lines() {
        let Some(t) = time_of_day_ms(line) else {
            continue;
        };
        if line.contains(OURS_CASCADE_FAILED) || line.contains(OURS_CASCADE_ENDED) {
            ended = Some(t);
        } else if line.contains(OURS_CASCADE_ATTEMPT) {
            if let Some(e) = ended.take() {
                let w = gap_ms(e, t);
                ensure!(
                    (min..=max).contains(&w),
                    "our bridge waited {w} ms before a cascade attempt; RetryInterval is {} s (±20 %):\n{line}",
                    opts.retry_interval_secs
                );
                waits.push(w);
            }
        }
    }
    ensure!(
        !waits.is_empty(),
        "no retry wait in our bridge's log:\n{log}"
    );
    Ok(waits)
}

/// Issue 4, checks 5 with our vpnbridge: stop the remote server (by its
/// pid): our bridge's cascade fails its next attempt ("cascade connection
/// failed", status Error); start the server again: the cascade is
/// established again, and the client (connected again) pings the LAN host
/// again. Deadlines come from the cascade's RetryInterval
/// ([`CascadeOptions::reconnect_deadline`]); the waits between attempts are
/// checked with the bridge's own log timestamps ([`check_retry_waits`]).
fn our_cascade_survives_server_restart(lab: &mut CascadeLab, server: &ServerKind) -> Result<()> {
    check_our_status(lab, "established", |s| s.starts_with("Online"))?;
    // The client is not under test here: no automatic client retries.
    lab.disconnect_client()?;
    let deadline = lab.opts.reconnect_deadline();
    let off = lab.bridge()?.log_len();
    lab.stop_server()?;
    // Established session ends, the bridge waits RetryInterval (±20 %) and
    // the next attempt is refused.
    lab.bridge_mut()?
        .wait_log(off, OURS_CASCADE_FAILED, deadline)
        .context("after the remote server stopped")?;
    check_our_status(lab, "failing", |s| {
        s.starts_with("Error") || s == "Connecting"
    })?;
    let off_start = lab.bridge()?.log_len();
    lab.start_server(server)?;
    lab.bridge_mut()?
        .wait_log(off_start, OURS_CASCADE_ESTABLISHED, deadline)
        .context("after the remote server started again")?;
    check_our_status(lab, "established again", |s| s.starts_with("Online"))?;
    let waits = check_retry_waits(&lab.bridge()?.log_since(off), &lab.opts)?;
    eprintln!("our bridge's waits between cascade attempts (its log timestamps): {waits:?} ms");
    lab.connect_client()?;
    lab.wait_lan_ping(Duration::from_secs(30))?;
    ping_no_loss(&lab.topo.client, LAN_INNER, 10)?;
    Ok(())
}

/// The same with the real SoftEther vpnbridge (its status read with vpncmd
/// CascadeList): it leaves `Online` after the server stopped, and is
/// `Online` again once the server runs again (deadline from the cascade's
/// RetryInterval); with `traffic`, a fresh client pings the LAN host again.
///
/// `traffic` is off only for SoftEther's own server: in this harness the
/// real vpnbridge's cascade (like a real vpnclient process) that reconnects
/// to a restarted real vpnserver gets a session on which the server never
/// receives anything (the client closes its connection after the first
/// record), so the SoftEther-only run checks the statuses alone.
fn real_bridge_survives_server_restart(
    lab: &mut CascadeLab,
    server: &ServerKind,
    traffic: bool,
) -> Result<()> {
    let deadline = lab.opts.reconnect_deadline();
    lab.disconnect_client()?;
    lab.stop_server()?;
    let s = wait_real_bridge_status(lab, "not online", deadline, |s| !s.starts_with("Online"))?;
    eprintln!("real vpnbridge after the server stopped: {s}");
    lab.start_server(server)?;
    let s = wait_real_bridge_status(lab, "online again", deadline, |s| s.starts_with("Online"))?;
    eprintln!("real vpnbridge after the server started again: {s}");
    if !traffic {
        return Ok(());
    }
    lab.connect_client()?;
    lab.wait_lan_ping(Duration::from_secs(30))?;
    ping_no_loss(&lab.topo.client, LAN_INNER, 10)?;
    Ok(())
}

fn start_cascade_lab(label: &str, server: &ServerKind, bridge: &BridgeKind) -> CascadeLab {
    match CascadeLab::start(label, server, bridge, CascadeOptions::default()) {
        Ok(l) => l,
        Err(e) => panic!("{e:#}"),
    }
}

/// The cascade lab with SoftEther's server AND SoftEther's bridge: proves
/// the harness (cascade and vpn_bridge.config writer, vpncmd CascadeList
/// parsing, SessionList of the remote) against the reference programs.
#[test]
fn interop_cascade_harness_selftest_real_softether() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = start_cascade_lab("casc-se-se", &ServerKind::SoftEther, &BridgeKind::SoftEther);
    lab.check(|lab| {
        let s = wait_real_bridge_status(lab, "online", Duration::from_secs(5), |s| {
            s.starts_with("Online")
        })?;
        eprintln!("real vpnbridge CascadeList status: {s}");
        remote_has_cascade_session(lab)?;
        ping_no_loss(&lab.topo.client, LAN_INNER, 10)?;
        real_bridge_survives_server_restart(lab, &ServerKind::SoftEther, false)
    });
}

/// Issue 4: OUR vpnbridge cascades to the REAL SoftEther vpnserver; a real
/// vpnclient on that server pings (20, 0 % loss) and runs iperf3 (5 s) to
/// the host behind our bridge's local bridge; the real server lists the
/// cascade user's session; our bridge logged the cascade as established.
/// Then the real server is stopped and started again: our cascade fails
/// while it is down and is back after one RetryInterval (± 20 %, by our
/// bridge's log timestamps), traffic flows again.
#[test]
fn interop_our_vpnbridge_cascades_to_real_vpnserver() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = start_cascade_lab("casc-ours-se", &ServerKind::SoftEther, &ours_bridge());
    lab.check(|lab| {
        ensure!(
            lab.bridge()?
                .log_since(0)
                .contains(OURS_CASCADE_ESTABLISHED),
            "our vpnbridge did not log the cascade as established"
        );
        remote_has_cascade_session(lab)?;
        ping_no_loss(&lab.topo.client, LAN_INNER, 20)?;
        let logs = lab.dir().join("logs");
        iperf_to_lan(
            &lab.topo.client,
            lab.client_inner(),
            &lab.topo.lan,
            5,
            &logs,
        )?;
        our_cascade_survives_server_restart(lab, &ServerKind::SoftEther)?;
        Ok(())
    });
}

/// Issue 4: the REAL SoftEther vpnbridge cascades into OUR vpnserver: the
/// real bridge reports the cascade `Online (Established)`; a real vpnclient
/// on our server pings (20, 0 % loss) and runs iperf3 (5 s) to the host
/// behind the real bridge. Then our server is stopped: the real bridge's
/// cascade leaves Online; our server starts again: the real bridge is Online
/// again (deadline from its RetryInterval) and traffic flows again.
#[test]
fn interop_real_vpnbridge_cascades_into_our_vpnserver() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = start_cascade_lab("casc-se-ours", &ours_server(), &BridgeKind::SoftEther);
    lab.check(|lab| {
        wait_real_bridge_status(lab, "online", Duration::from_secs(5), |s| {
            s.starts_with("Online")
        })?;
        ping_no_loss(&lab.topo.client, LAN_INNER, 20)?;
        let logs = lab.dir().join("logs");
        iperf_to_lan(
            &lab.topo.client,
            lab.client_inner(),
            &lab.topo.lan,
            5,
            &logs,
        )?;

        real_bridge_survives_server_restart(lab, &ours_server(), true)?;
        Ok(())
    });
}

/// Issue 4: OUR vpnbridge cascades into OUR vpnserver: ping (20, 0 % loss)
/// and iperf3 (5 s) from a real vpnclient on the server to the host behind
/// the bridge. Then (check 5) the server is stopped by pid: the cascade's
/// next attempt fails (logged, status Error); the server starts again: the
/// cascade is established again after one RetryInterval (± 20 %, by the
/// bridge's log timestamps) and traffic flows again.
#[test]
fn interop_our_vpnbridge_cascades_into_our_vpnserver_and_reconnects() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = start_cascade_lab("casc-ours-ours", &ours_server(), &ours_bridge());
    lab.check(|lab| {
        ensure!(
            lab.bridge()?
                .log_since(0)
                .contains(OURS_CASCADE_ESTABLISHED),
            "our vpnbridge did not log the cascade as established"
        );
        ping_no_loss(&lab.topo.client, LAN_INNER, 20)?;
        let logs = lab.dir().join("logs");
        iperf_to_lan(
            &lab.topo.client,
            lab.client_inner(),
            &lab.topo.lan,
            5,
            &logs,
        )?;
        our_cascade_survives_server_restart(lab, &ours_server())?;
        // The bridge itself never stopped.
        lab.bridge_mut()?.ensure_running()
    });
}

// ------------------------------------------------------------------ 6. user mode

/// A wrapper "binary" that starts our vpnserver as user nobody with the
/// given capability arguments for setpriv; the state directory is handed
/// to nobody first (the harness writes the configuration as root).
fn unprivileged_wrapper(
    dir: &std::path::Path,
    name: &str,
    caps: &[&str],
) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let state = dir.join("server-rustether").join("state");
    let script = format!(
        "#!/bin/sh\n\
         # written by interop_bridge.rs: run our vpnserver as nobody\n\
         chown -R 65534:65534 '{state}' || exit 97\n\
         exec setpriv --reuid=65534 --regid=65534 --clear-groups {caps} -- '{bin}' \"$@\"\n",
        state = state.display(),
        caps = caps.join(" "),
        bin = env!("CARGO_BIN_EXE_vpnserver"),
    );
    let p = dir.join(name);
    std::fs::write(&p, script)?;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))?;
    Ok(p)
}

/// Capability sets of a running process from /proc (`CapEff` as hex).
fn cap_eff(pid: i32) -> Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let v = s
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .context("no CapEff")?;
    Ok(u64::from_str_radix(v.trim(), 16)?)
}

fn uid_of(pid: i32) -> Result<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let v = s
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .context("no Uid")?;
    Ok(v.split_whitespace().nth(1).context("no euid")?.parse()?)
}

/// One unprivileged run: start our server through `wrapper` (the
/// configuration has a local bridge to the LAN veth), connect both clients,
/// and check that (a) the server runs as nobody with exactly `want_caps`,
/// (b) its log names `missing_cap` and the bridge device, (c) the clients
/// ping each other (20, 0 % loss): sessions work, (d) the LAN host is not
/// reachable and the veth not promiscuous: no bridge runs.
fn unprivileged_run(
    lab: &mut T1Lab,
    wrapper: &std::path::Path,
    want_caps: u64,
    missing_cap: &str,
    first: bool,
) -> Result<()> {
    // stdout/stderr of our server (foreground mode logs there), appended
    // across restarts: only the part written by this run counts.
    let log_file = lab.dir().join("logs").join("server-rustether.log");
    let offset = std::fs::metadata(&log_file).map(|m| m.len()).unwrap_or(0);
    let run_log = || -> String {
        let all = std::fs::read(&log_file).unwrap_or_default();
        String::from_utf8_lossy(all.get(offset as usize..).unwrap_or_default()).into_owned()
    };
    lab.start_server(&ServerKind::Ours(wrapper.to_path_buf()))?;
    let pid = lab.server()?.pid();
    ensure!(uid_of(pid)? == 65534, "the server does not run as nobody");
    let caps = cap_eff(pid)?;
    ensure!(
        caps == want_caps,
        "the server's effective capabilities are {caps:#x}, expected {want_caps:#x}"
    );
    if first {
        lab.start_clients()?;
        lab.connect_all()?;
    } else {
        let timeout = lab.opts.connect_timeout;
        for c in &mut lab.clients {
            let _ = c.client.disconnect(&c.account);
            c.client.connect(&c.account)?;
            c.client.wait_established(&c.account, timeout)?;
        }
    }
    // A line about the bridge's device whose first capability name is the
    // missing one (remedy texts may name others after it).
    let first_cap = |l: &str| -> Option<String> {
        let i = l.find("CAP_NET_")?;
        Some(
            l[i..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                .collect(),
        )
    };
    let bridge_line = || {
        run_log()
            .lines()
            .find(|l| l.contains(LAN_BRIDGE_DEV) && first_cap(l).is_some())
            .map(str::to_string)
    };
    wait_until(
        "a log line about the local bridge naming a capability",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || Ok(bridge_line().is_some()),
    )
    .with_context(|| format!("server log of this run:\n{}", run_log()))?;
    let line = bridge_line().unwrap_or_default();
    eprintln!("server log: {line}");
    ensure!(
        first_cap(&line).as_deref() == Some(missing_cap),
        "the local bridge message should name {missing_cap} first: {line}"
    );
    if first {
        create_bridge_via_vpncmd(lab, &run_log, &first_cap)?;
    }
    lab.wait_inner_ping(0, 1, Duration::from_secs(20))?;
    ping_no_loss(lab.client_ns(0), lab.clients[1].inner, 20)?;
    let p = ping(lab.client_ns(0), LAN_INNER, 3, Duration::from_millis(200))?;
    ensure!(
        p.received == 0,
        "the LAN host answered although no local bridge can run: {p:?}"
    );
    let promisc = promiscuity(&lab.topo.server, LAN_BRIDGE_DEV)?;
    ensure!(
        promisc == 0,
        "{LAN_BRIDGE_DEV} became promiscuous ({promisc})"
    );
    lab.server.as_mut().expect("started").ensure_running()?;
    Ok(())
}

/// Without any capability, `vpncmd BridgeCreate` of a new bridge (device
/// `rtdummy0`, which does not exist: harmless even if it ran) fails with
/// SoftEther's error 84 (`ERR_LOCAL_BRIDGE_UNSUPPORTED`), and the server
/// log names CAP_NET_RAW first for that device.
fn create_bridge_via_vpncmd(
    lab: &T1Lab,
    run_log: &dyn Fn() -> String,
    first_cap: &dyn Fn(&str) -> Option<String>,
) -> Result<()> {
    let srv = lab.server()?;
    srv.vpncmd(None, None, &["ServerInfoGet"])
        .context("vpncmd ServerInfoGet on our unprivileged server")?;
    let answer = match srv.vpncmd(
        None,
        None,
        &["BridgeCreate", HUB, "/DEVICE:rtdummy0", "/TAP:no"],
    ) {
        Ok(out) => bail!("BridgeCreate without capabilities succeeded:\n{out}"),
        Err(e) => format!("{e:#}"),
    };
    eprintln!(
        "vpncmd BridgeCreate without capabilities: {}",
        answer
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default()
    );
    ensure!(
        answer.contains("Error code: 84"),
        "BridgeCreate without capabilities must fail with error 84:\n{answer}"
    );
    let named = |t: &str| {
        t.lines()
            .any(|l| l.contains("rtdummy0") && first_cap(l).as_deref() == Some("CAP_NET_RAW"))
    };
    wait_until(
        "a log line naming CAP_NET_RAW for rtdummy0",
        Duration::from_secs(10),
        Duration::from_millis(100),
        || Ok(named(&run_log())),
    )
    .with_context(|| format!("server log of this run:\n{}", run_log()))?;
    let o = srv.vpncmd(None, None, &["BridgeList"])?;
    ensure!(
        !o.contains("rtdummy0"),
        "a refused bridge must not be stored:\n{o}"
    );
    Ok(())
}

/// Issue 4, privileges: our server in User Mode as an ordinary user
/// (nobody, no capabilities at all, state directory owned by it, port
/// 5555). Its configuration has a local bridge: starting it fails with a
/// log message naming CAP_NET_RAW and the device, and client sessions still
/// work. Then with CAP_NET_RAW only (ambient): the message names
/// CAP_NET_ADMIN, and sessions still work.
#[test]
fn interop_unprivileged_server_local_bridge_fails_clearly() {
    if !require(LAB) || !require(&[Prereq::Program("setpriv")]) {
        return;
    }
    let _x = exclusive();
    let opts = T1Options {
        lan: true,
        ..T1Options::default()
    };
    let mut lab = match T1Lab::prepare("unpriv", opts) {
        Ok(l) => l,
        Err(e) => panic!("{e:#}"),
    };
    lab.check(|lab| {
        let dir = lab.dir_buf();
        let none = unprivileged_wrapper(&dir, "vpnserver-nobody", &["--inh-caps=-all"])?;
        unprivileged_run(lab, &none, 0, "CAP_NET_RAW", true)?;
        let raw_only = unprivileged_wrapper(
            &dir,
            "vpnserver-nobody-netraw",
            &["--inh-caps=-all,+net_raw", "--ambient-caps=+net_raw"],
        )?;
        const CAP_NET_RAW_BIT: u64 = 1 << 13;
        unprivileged_run(lab, &raw_only, CAP_NET_RAW_BIT, "CAP_NET_ADMIN", false)?;
        Ok(())
    });
}
