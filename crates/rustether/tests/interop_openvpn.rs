//! OpenVPN interop with the real `openvpn` 2.6 client (docs/openvpn.md):
//! OpenVPN switched on with the real vpncmd (`ProtoOptionsSet`,
//! `PortsUDPSet`, checked with `ProtoOptionsGet`, `PortsUDPGet` and in the
//! saved configuration); one client over UDP 1194, one over TCP on the SoftEther
//! listener 5555 (recognised by its first bytes), both `dev tap` on hub
//! DEFAULT; they ping each other across the hub; SessionList (real vpncmd)
//! shows both sessions as OpenVPN sessions; a wrong password is refused
//! with AUTH_FAILED; SessionDisconnect ends a session. The client file is
//! the layer-2 sample of `OpenVpnMakeConfig` (real vpncmd), used as it is
//! (over TCP with `proto`/`remote` changed).
//!
//! Then `dev tun` with the layer-3 sample file (plus `reneg-sec 4`): with
//! SecureNAT on the hub (real vpncmd `SecureNatEnable`) the client gets its
//! address from SecureNAT's DHCP through the server's virtual adapter,
//! pings the virtual host 192.168.30.1, shows as `[OPENVPN_L3]` in
//! SessionList and in SecureNAT's DHCP table; the client renegotiates every
//! 4 s while pinging without losing a packet or its session (the server
//! logs the key ids). Beyond SecureNAT: the client pings a host that only
//! the server's namespace reaches and runs iperf3 to it through the NAT;
//! the run spans a renegotiation (both logs show the new key) and
//! completes, the session survives.

mod admin_support;

use std::net::SocketAddrV4;
use std::time::Duration;

use admin_support::openvpn::start_openvpn;
use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::process::Proc;
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::t1::{Topology, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;

const PORT: u16 = 5555;
const NEEDS: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("openvpn"),
    Prereq::Program("ping"),
    Prereq::Program("busybox"),
    Prereq::Program("iperf3"),
];
/// The host beyond SecureNAT (on a link of the server's namespace only).
const FAR: &str = "10.234.0.2";
const T: Duration = Duration::from_secs(40);

#[test]
fn openvpn_tap_clients_over_udp_and_tcp_reach_each_other_through_the_hub() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("openvpn").unwrap();
    let topo = Topology::new(2, false).unwrap();
    let srv_ns = &topo.server;
    let spec = ServerConfigSpec::with_hub(
        PORT,
        "DEFAULT",
        &[
            UserSpec::new("alice", "Secret1"),
            UserSpec::new("bob", "Secret2"),
        ],
    );
    let mut server = OurServer::start(
        srv_ns,
        dir.path(),
        "server",
        PORT,
        &config_text(&spec, false),
    )
    .unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let v = Vpncmd::new(srv_ns, &dir.subdir("vpncmd").unwrap(), target).unwrap();
    // Off in a fresh configuration; switched on with the real vpncmd.
    let o = v.ok(&["/CMD", "ProtoOptionsGet", "OpenVPN"]);
    assert!(
        o.text.contains("Enabled") && o.text.contains("DefaultClientOption"),
        "{}",
        o.text
    );
    v.ok(&[
        "/CMD",
        "ProtoOptionsSet",
        "OpenVPN",
        "/NAME:Enabled",
        "/VALUE:yes",
    ]);
    v.ok(&["/CMD", "PortsUDPSet", "1194"]);
    let o = v.ok(&["/CMD", "PortsUDPGet"]);
    assert!(o.text.contains("1194"), "{}", o.text);
    // Unknown option: error 29 (ERR_OBJECT_NOT_FOUND) from vpncmd itself.
    let o = v.run(&[
        "/CMD",
        "ProtoOptionsSet",
        "OpenVPN",
        "/NAME:NoSuchOption",
        "/VALUE:1",
    ]);
    assert!(!o.text.contains(DONE), "{}", o.text);
    // As SoftEther keeps them; the UDP socket opens at the next start.
    server.restart(srv_ns).unwrap();
    let saved = server.saved_config();
    assert_eq!(saved.server.raw.get_str("PortsUDP"), Some("1194"));
    let ovpn = saved
        .server
        .raw
        .folder("Proto")
        .and_then(|p| p.folder("OpenVPN"))
        .and_then(|f| f.get_bool("Enabled"));
    assert_eq!(ovpn, Some(true));
    // OpenVpnMakeConfig: SoftEther's zip of sample files, our certificate
    // in <ca>; the layer-2 file is used as it is.
    // (A relative name: vpncmd takes "/..." for a parameter; it runs in
    // its sandbox directory.)
    v.ok(&["/CMD", "OpenVpnMakeConfig", "openvpn_config.zip"]);
    let zip_s = v
        .dir()
        .join("openvpn_config.zip")
        .to_string_lossy()
        .into_owned();
    let unz = dir.subdir("unzipped").unwrap();
    let unz_s = unz.to_string_lossy().into_owned();
    srv_ns
        .run("busybox", &["unzip", "-o", &zip_s, "-d", &unz_s], T)
        .unwrap();
    let mut l2 = None;
    let mut l3 = None;
    let mut names = Vec::new();
    for e in std::fs::read_dir(&unz).unwrap() {
        let p = e.unwrap().path();
        names.push(p.file_name().unwrap().to_string_lossy().into_owned());
        if p.to_string_lossy()
            .ends_with("openvpn_site_to_site_bridge_l2.ovpn")
        {
            l2 = Some(std::fs::read_to_string(&p).unwrap());
        }
        if p.to_string_lossy()
            .ends_with("openvpn_remote_access_l3.ovpn")
        {
            l3 = Some(std::fs::read_to_string(&p).unwrap());
        }
    }
    assert!(
        names.iter().any(|n| n == "readme.txt") && names.iter().any(|n| n.ends_with("_l3.ovpn")),
        "{names:?}"
    );
    let l2 = l2.unwrap_or_else(|| panic!("no layer-2 file in {names:?}"));
    let cert_b64 = base64_encode(&saved.server.server_cert_der);
    assert!(
        l2.contains(&cert_b64[..60]),
        "our certificate in <ca>: {l2}"
    );
    assert!(
        l2.contains(&format!("remote {SERVER_ADDR} 1194\n")) && l2.contains("proto udp\n"),
        "{l2}"
    );
    // The same file for TCP on the SoftEther listener.
    let l2_tcp = l2.replace("proto udp\n", "proto tcp-client\n").replace(
        &format!("remote {SERVER_ADDR} 1194"),
        &format!("remote {SERVER_ADDR} {PORT}"),
    );

    let (c1, c2) = (&topo.clients[0], &topo.clients[1]);
    let udp = start_openvpn(c1, dir.path(), "ovpn-udp", &l2, ("alice", "Secret1"), &[]);
    // `user@hub` form over TCP on the SoftEther listener.
    let tcp = start_openvpn(
        c2,
        dir.path(),
        "ovpn-tcp",
        &l2_tcp,
        ("bob@DEFAULT", "Secret2"),
        &[],
    );
    for p in [&udp, &tcp] {
        eventually("the openvpn client initialised", T, || {
            p.log_since(0).contains("Initialization Sequence Completed")
        });
    }
    let log = udp.log_since(0);
    assert!(
        log.contains("Data Channel: cipher 'AES-256-GCM'"),
        "negotiated cipher: {log}"
    );
    c1.ip(&["addr", "add", "192.168.231.11/24", "dev", "tap0"])
        .unwrap();
    c1.link_up("tap0").unwrap();
    c2.ip(&["addr", "add", "192.168.231.12/24", "dev", "tap0"])
        .unwrap();
    c2.link_up("tap0").unwrap();
    eventually("ping across the hub", T, || {
        c1.run(
            "ping",
            &["-c", "1", "-W", "2", "192.168.231.12"],
            Duration::from_secs(5),
        )
        .is_ok()
    });
    c2.run(
        "ping",
        &["-c", "3", "-i", "0.2", "-W", "2", "192.168.231.11"],
        T,
    )
    .unwrap();

    // SessionList: both sessions, named as SoftEther names OpenVPN sessions.
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
    let names = o.rows("Session Name");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("SID-ALICE-[OPENVPN_L2]-")),
        "{}",
        o.text
    );
    let bob = names
        .iter()
        .find(|n| n.starts_with("SID-BOB-[OPENVPN_L2]-"))
        .unwrap_or_else(|| panic!("{}", o.text))
        .to_string();
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionGet", &bob]);
    assert!(o.text.contains("OpenVPN Client"), "{}", o.text);

    // Wrong password: AUTH_FAILED, the client gives up.
    let mut bad = start_openvpn(
        c1,
        dir.path(),
        "ovpn-bad",
        &l2.replace("dev tap\n", "dev tap9\n"),
        ("alice", "wrong"),
        &[],
    );
    eventually("AUTH_FAILED for a wrong password", T, || {
        bad.log_since(0).contains("AUTH_FAILED")
    });
    eventually("the refused client exits", T, || !bad.is_running());
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
    assert_eq!(o.rows("Session Name").len(), 2, "{}", o.text);

    // SessionDisconnect ends bob's session.
    // (The client is told to RESTART and comes back as a new session.)
    v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionDisconnect", &bob]);
    eventually("bob's session gone", T, || {
        let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
        !o.rows("Session Name").contains(&bob.as_str())
    });

    // dev tun: an address from SecureNAT's DHCP through the server's
    // virtual adapter; renegotiation every 4 s loses nothing.
    let l3 = l3.unwrap_or_else(|| panic!("no layer-3 file in {names:?}"));
    assert!(
        l3.contains("dev tun\n") && l3.contains(&cert_b64[..60]),
        "{l3}"
    );
    v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SecureNatEnable"]);
    let tun = start_openvpn(
        c1,
        dir.path(),
        "ovpn-tun",
        &format!("{l3}reneg-sec 4\n"),
        ("alice", "Secret1"),
        &[],
    );
    eventually("the dev tun client initialised", T, || {
        tun.log_since(0)
            .contains("Initialization Sequence Completed")
    });
    let log = tun.log_since(0);
    let ip = log
        .split("ifconfig ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("no ifconfig pushed: {log}"))
        .to_string();
    assert!(
        ip.starts_with("192.168.30.") && log.contains("route-gateway 192.168.30.1"),
        "a SecureNAT lease pushed: {log}"
    );
    eventually("ping to SecureNAT's virtual host", T, || {
        c1.run(
            "ping",
            &["-c", "1", "-W", "2", "192.168.30.1"],
            Duration::from_secs(5),
        )
        .is_ok()
    });
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
    let l3_name = o
        .rows("Session Name")
        .into_iter()
        .find(|n| n.starts_with("SID-ALICE-[OPENVPN_L3]-"))
        .unwrap_or_else(|| panic!("{}", o.text))
        .to_string();
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "DhcpTable"]);
    assert!(o.text.contains(&ip), "{}", o.text);
    // 40 pings over 8 s span at least one renegotiation: all answered.
    let out = c1
        .run(
            "ping",
            &["-c", "40", "-i", "0.2", "-W", "2", "192.168.30.1"],
            T,
        )
        .unwrap();
    assert!(
        out.contains("40 received"),
        "no loss across renegotiation: {out}"
    );
    eventually("the server re-keyed the session twice", T, || {
        let slog = server.log();
        slog.contains(&l3_name)
            && slog.contains("re-keyed: key id 1")
            && slog.contains("re-keyed: key id 2")
    });

    // Beyond SecureNAT: a host only the server's namespace reaches, through
    // SecureNAT's NAT (the server's own sockets). ICMP, then an iperf3 TCP
    // run that spans a renegotiation (reneg-sec 4) and completes.
    let far = Netns::new("ovbfar").unwrap();
    srv_ns.veth_to("far0", &far, "eth0").unwrap();
    srv_ns
        .ip(&["addr", "add", "10.234.0.1/24", "dev", "far0"])
        .unwrap();
    far.ip(&["addr", "add", &format!("{FAR}/24"), "dev", "eth0"])
        .unwrap();
    srv_ns.link_up("far0").unwrap();
    far.link_up("eth0").unwrap();
    // (openvpn cannot apply the pushed `redirect-gateway def1` in a
    // namespace without a default route: the far network by hand.)
    c1.ip(&["route", "replace", "10.234.0.0/24", "via", "192.168.30.1"])
        .unwrap();
    eventually("ping to the far host through SecureNAT", T, || {
        c1.run("ping", &["-c", "1", "-W", "2", FAR], Duration::from_secs(5))
            .is_ok()
    });
    let mut iperf_srv = Proc::spawn(
        "iperf3-far",
        far.command("iperf3", &["-s", "-1", "-B", FAR, "-p", "5201"]),
        &dir.path().join("logs"),
    )
    .unwrap();
    iperf_srv.set_stop_timeout(Duration::from_secs(3));
    eventually("iperf3 on the far host listens", T, || {
        far.tcp_listening(5201)
    });
    let (slog0, clog0) = (server.log().len(), tun.log_len());
    let out = c1
        .run(
            "iperf3",
            &["-c", FAR, "-p", "5201", "-t", "7", "-J"],
            Duration::from_secs(60),
        )
        .unwrap();
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    let bytes = j["end"]["sum_received"]["bytes"].as_u64().unwrap_or(0);
    assert!(bytes > 0, "iperf3 through SecureNAT completed: {out}");
    let slog = server.log();
    assert!(
        slog[slog0..].contains("re-keyed: key id"),
        "a renegotiation during the iperf3 run: {}",
        &slog[slog0..]
    );
    // The client's side: a soft reset, then a new TLS session for the new
    // key (openvpn logs the data-channel cipher only for the first key).
    let during = tun.log_since(clog0);
    let reset = during.find("TLS: soft reset");
    assert!(
        reset.is_some_and(|i| during[i..].contains("Control Channel: TLS")),
        "the client renegotiated during iperf3: {during}"
    );
    let log = tun.log_since(0);
    assert!(
        !log.contains("SIGUSR1")
            && !log.contains("AUTH_FAILED")
            && !log.contains("Inactivity timeout"),
        "the client never restarted: {log}"
    );
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
    assert!(
        o.rows("Session Name").contains(&l3_name.as_str()),
        "{}",
        o.text
    );
    drop((udp, tcp, tun, iperf_srv, far));
}
