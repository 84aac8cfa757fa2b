//! vpncmd-built cascades and bridges with the REAL SoftEther programs
//! (issue 8, item 4):
//!
//! - a cascade from our vpnserver to SoftEther's vpnserver, created and
//!   changed with the real vpncmd (`CascadeCreate`, `CascadeGet`,
//!   `CascadeSet`, `CascadePasswordSet`, `CascadeOnline`): it is
//!   established and SoftEther's server lists the cascade user's session;
//! - the real vpncmd managing our `vpnbridge`: a cascade to our vpnserver
//!   and a TAP-mode local bridge (`BridgeCreate /TAP:yes`) created with
//!   vpncmd carry pings from the bridge's TAP device through the cascade to
//!   a LAN behind our server's local bridge.
//!
//! Everything runs in network namespaces without a default route;
//! prerequisites go through `rustether_testkit::prereq` (skipped visibly
//! without them, failing when `CI` is set).

mod admin_support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use admin_support::{config_text, eventually, OurServer, Vpncmd};
use rustether_testkit::cascadecfg::{bridge_config, BRIDGE_HUB};
use rustether_testkit::exclusive;
use rustether_testkit::measure::{ping, wait_ping};
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::server::{Server, ServerKind};
use rustether_testkit::tmp::TestDir;
use rustether_testkit::vpnbridge::{BridgeKind, VpnBridge};

const NEEDS: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("ping"),
];

/// Our server's port and the SoftEther server's / our bridge's port.
const OUR_PORT: u16 = 5555;
const OTHER_PORT: u16 = 5566;

/// A cascade from our vpnserver (hub TEST) to the real SoftEther vpnserver
/// (hub REMOTE, user bob), built with the real vpncmd: created pointing at
/// a wrong hub, inspected with `CascadeGet`, corrected with `CascadeSet`
/// (seen in `CascadeGet` and the saved file), given bob's password, put
/// online: `CascadeList` shows it established and SoftEther's own vpncmd
/// lists bob's session on REMOTE. `CascadeOffline` ends that session.
#[test]
fn vpncmd_cascade_from_our_server_to_softether() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("realprog-casc").unwrap();
    let ns = Netns::new("rpcasc").unwrap();
    let lo = Ipv4Addr::LOCALHOST;
    let se = Server::start(
        &ServerKind::SoftEther,
        &ns,
        lo,
        OTHER_PORT,
        &dir.path().join("softether"),
        &ServerConfigSpec::with_hub(OTHER_PORT, "REMOTE", &[UserSpec::new("bob", "bob-pw-1")]),
    )
    .unwrap();
    let mut ours = OurServer::start(
        &ns,
        dir.path(),
        "ours",
        OUR_PORT,
        &config_text(&ServerConfigSpec::with_hub(OUR_PORT, "TEST", &[]), false),
    )
    .unwrap();
    let v = Vpncmd::new(
        &ns,
        &dir.subdir("vpncmd").unwrap(),
        SocketAddrV4::new(lo, OUR_PORT),
    )
    .unwrap();
    let hub = "/ADMINHUB:TEST";
    let server_arg = format!("/SERVER:127.0.0.1:{OTHER_PORT}");

    v.ok(&[
        hub,
        "/CMD",
        "CascadeCreate",
        "tose",
        &server_arg,
        "/HUB:NOPE",
        "/USERNAME:bob",
    ]);
    let o = v.ok(&[hub, "/CMD", "CascadeGet", "tose"]);
    assert_eq!(
        o.row("VPN Connection Setting Name"),
        Some("tose"),
        "{}",
        o.text
    );
    assert_eq!(
        o.row("Destination VPN Server Host Name"),
        Some("127.0.0.1"),
        "{}",
        o.text
    );
    assert_eq!(
        o.row("Destination VPN Server Port Number"),
        Some(OTHER_PORT.to_string().as_str()),
        "{}",
        o.text
    );
    assert_eq!(
        o.row("Destination VPN Server Virtual Hub Name"),
        Some("NOPE"),
        "{}",
        o.text
    );
    assert_eq!(o.row("User Name"), Some("bob"), "{}", o.text);

    v.ok(&[
        hub,
        "/CMD",
        "CascadeSet",
        "tose",
        &server_arg,
        "/HUB:REMOTE",
    ]);
    let o = v.ok(&[hub, "/CMD", "CascadeGet", "tose"]);
    assert_eq!(
        o.row("Destination VPN Server Virtual Hub Name"),
        Some("REMOTE"),
        "{}",
        o.text
    );
    let saved = ours.saved_config();
    let c = saved.hub("TEST").unwrap().cascade("tose").unwrap();
    assert_eq!(
        (c.hostname.as_str(), c.port, c.hub_name.as_str()),
        ("127.0.0.1", OTHER_PORT, "REMOTE")
    );

    v.ok(&[
        hub,
        "/CMD",
        "CascadePasswordSet",
        "tose",
        "/PASSWORD:bob-pw-1",
        "/TYPE:standard",
    ]);
    v.ok(&[hub, "/CMD", "CascadeOnline", "tose"]);
    v.wait_for(
        &[hub, "/CMD", "CascadeList"],
        Duration::from_secs(60),
        |o| o.row("Status") == Some("Online (Established)"),
    );
    let bob_sessions = || -> usize {
        let out = se
            .vpncmd(None, Some("REMOTE"), &["SessionList"])
            .expect("SoftEther's SessionList");
        rustether_testkit::softether::parse_table(&out)
            .iter()
            .filter(|(k, v)| k == "User Name" && v == "bob")
            .count()
    };
    assert_eq!(bob_sessions(), 1, "SoftEther lists bob's cascade session");

    v.ok(&[hub, "/CMD", "CascadeOffline", "tose"]);
    eventually(
        "bob's session on SoftEther's server to end",
        Duration::from_secs(30),
        || bob_sessions() == 0,
    );
    ours.ensure_running().unwrap();
    drop(se);
}

/// The real vpncmd manages our `vpnbridge`: on its hub BRIDGE it creates a
/// cascade to our vpnserver (user bob) and a TAP-mode local bridge
/// (`BridgeCreate BRIDGE /DEVICE:rpt /TAP:yes`: device `tap_rpt`). Our
/// vpnserver bridges its hub to a LAN namespace (veth, `BridgeCreate`).
/// Pings from `tap_rpt` in the bridge's namespace cross the bridge's hub,
/// the cascade and the server's hub to the LAN host.
#[test]
fn vpncmd_manages_our_vpnbridge() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("realprog-vbr").unwrap();
    let ns = Netns::new("rpvbr").unwrap();
    let lan = Netns::new("rpvbrlan").unwrap();
    ns.disable_ipv6().unwrap();
    lan.disable_ipv6().unwrap();
    ns.veth_to("rplan", &lan, "eth0").unwrap();
    lan.add_addr("eth0", Ipv4Addr::new(192, 168, 77, 100), 24)
        .unwrap();
    lan.tx_offload_off("eth0");
    ns.tx_offload_off("rplan");
    let lo = Ipv4Addr::LOCALHOST;

    let mut server = OurServer::start(
        &ns,
        dir.path(),
        "server",
        OUR_PORT,
        &config_text(
            &ServerConfigSpec::with_hub(OUR_PORT, "DEFAULT", &[UserSpec::new("bob", "bob-pw-2")]),
            false,
        ),
    )
    .unwrap();
    let mut bridge = VpnBridge::start(
        &BridgeKind::Ours(env!("CARGO_BIN_EXE_vpnbridge").into()),
        &ns,
        lo,
        OTHER_PORT,
        dir.path(),
        &bridge_config(OTHER_PORT, None, &[]).unwrap(),
    )
    .unwrap();
    let vs = Vpncmd::new(
        &ns,
        &dir.subdir("vpncmd").unwrap(),
        SocketAddrV4::new(lo, OUR_PORT),
    )
    .unwrap();
    let vb = vs.with_port(OTHER_PORT);
    let bhub = format!("/ADMINHUB:{BRIDGE_HUB}");
    let bhub = bhub.as_str();

    // the server's side: its hub bridged to the LAN
    vs.ok(&["/CMD", "BridgeCreate", "DEFAULT", "/DEVICE:rplan"]);

    // vpncmd sees a VPN Bridge
    let o = vb.ok(&["/CMD", "ServerInfoGet"]);
    assert!(
        o.row("Product Name").is_some_and(|p| p.contains("Bridge")),
        "{}",
        o.text
    );
    // cascade from the bridge to our server
    let server_arg = format!("/SERVER:127.0.0.1:{OUR_PORT}");
    vb.ok(&[
        bhub,
        "/CMD",
        "CascadeCreate",
        "up",
        &server_arg,
        "/HUB:DEFAULT",
        "/USERNAME:bob",
    ]);
    vb.ok(&[
        bhub,
        "/CMD",
        "CascadePasswordSet",
        "up",
        "/PASSWORD:bob-pw-2",
        "/TYPE:standard",
    ]);
    vb.ok(&[bhub, "/CMD", "CascadeOnline", "up"]);
    vb.wait_for(
        &[bhub, "/CMD", "CascadeList"],
        Duration::from_secs(60),
        |o| o.row("Status") == Some("Online (Established)"),
    );
    let o = vs.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
    assert!(
        o.rows("User Name").contains(&"bob"),
        "the server lists the bridge's cascade:\n{}",
        o.text
    );

    // TAP-mode local bridge on the VPN Bridge
    vb.ok(&[
        "/CMD",
        "BridgeCreate",
        BRIDGE_HUB,
        "/DEVICE:rpt",
        "/TAP:yes",
    ]);
    eventually("device tap_rpt", Duration::from_secs(20), || {
        ns.link_exists("tap_rpt")
    });
    let o = vb.wait_for(&["/CMD", "BridgeList"], Duration::from_secs(20), |o| {
        o.text.lines().any(|l| {
            let c: Vec<&str> = l.split('|').map(str::trim).collect();
            c.len() == 4 && c[2] == "rpt" && c[3] == "Operating"
        })
    });
    assert!(o.text.contains(BRIDGE_HUB), "{}", o.text);
    let text = std::fs::read_to_string(bridge.config_path()).unwrap();
    assert!(
        text.contains("bool TapMode true") && text.contains("string DeviceName rpt"),
        "the bridge saved the TAP-mode local bridge:\n{text}"
    );

    // traffic: tap_rpt -> bridge hub -> cascade -> server hub -> rplan -> LAN
    ns.add_addr("tap_rpt", Ipv4Addr::new(192, 168, 77, 1), 24)
        .unwrap();
    ns.link_up("tap_rpt").unwrap();
    ns.tx_offload_off("tap_rpt");
    wait_ping(
        &ns,
        Ipv4Addr::new(192, 168, 77, 100),
        Duration::from_secs(30),
    )
    .unwrap_or_else(|e| panic!("{e:#}\nbridge log:\n{}", bridge.log_tail(30)));
    let p = ping(
        &ns,
        Ipv4Addr::new(192, 168, 77, 100),
        10,
        Duration::from_millis(200),
    )
    .unwrap();
    assert_eq!(p.received, 10, "{p:?}");
    bridge.ensure_running().unwrap();
    server.ensure_running().unwrap();
}
