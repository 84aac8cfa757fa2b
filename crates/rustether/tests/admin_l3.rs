//! The Virtual Layer 3 Switch of our running server, administered with the
//! real SoftEther `vpncmd` 5.01 `Router*` commands (issue 12 item 10),
//! checked by effect: two real `vpnclient`s on two hubs, with static
//! addresses in two subnets and routes via the switch's interfaces, ping
//! each other (and the switch) through it; `SessionList` of each hub shows
//! the switch's session as SoftEther does; stopping the switch cuts the
//! path.
//!
//! Needs root (network namespaces), `/dev/net/tun` and the SoftEther Debian
//! packages (`testkit::prereq`). Everything runs in namespaces without a
//! default route.

mod admin_support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use admin_support::*;
use rustether_testkit::client::AccountSpec;
use rustether_testkit::exclusive;
use rustether_testkit::measure::wait_ping;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options, HUB, PORT, SERVER_ADDR};

const NEEDS: &[Prereq] = &[Prereq::Netns, Prereq::Tun, Prereq::SoftEther];

/// Client `i`'s address (subnet 10.88.(i+1).0/24) and its router's.
fn addrs(i: usize) -> (Ipv4Addr, Ipv4Addr) {
    let n = i as u8 + 1;
    (Ipv4Addr::new(10, 88, n, 10), Ipv4Addr::new(10, 88, n, 1))
}

#[test]
fn vpncmd_router_between_two_hubs() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let kind = ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"));
    let mut lab = T1Lab::prepare("admin-l3", T1Options::default()).unwrap();
    lab.start_server(&kind).unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let vdir = lab.dir().join("vpncmd");
    std::fs::create_dir_all(&vdir).unwrap();
    let v = Vpncmd::new(&lab.topo.server, &vdir, target).unwrap();

    // Hub HUBB with user u2 (client 1); client 0 stays on DEFAULT as u1.
    v.ok(&["/CMD", "HubCreate", "HUBB", "/PASSWORD:hubb-pw"]);
    let u2 = lab.users[1].clone();
    v.ok(&[
        "/ADMINHUB:HUBB",
        "/CMD",
        "UserCreate",
        &u2.name,
        "/GROUP:none",
        "/REALNAME:none",
        "/NOTE:none",
    ]);
    v.ok(&[
        "/ADMINHUB:HUBB",
        "/CMD",
        "UserPasswordSet",
        &u2.name,
        &format!("/PASSWORD:{}", u2.password),
    ]);

    // --- the switch, with SoftEther's errors on the way
    v.fails(93, &["/CMD", "RouterIfList", "R1"]);
    v.ok(&["/CMD", "RouterAdd", "R1"]);
    v.fails(92, &["/CMD", "RouterAdd", "r1"]);
    v.fails(102, &["/CMD", "RouterStart", "R1"]);
    let (ip0, gw0) = addrs(0);
    let (ip1, gw1) = addrs(1);
    v.ok(&[
        "/CMD",
        "RouterIfAdd",
        "R1",
        &format!("/HUB:{HUB}"),
        &format!("/IP:{gw0}/255.255.255.0"),
    ]);
    v.fails(
        97,
        &[
            "/CMD",
            "RouterIfAdd",
            "R1",
            &format!("/HUB:{HUB}"),
            "/IP:10.77.0.1/24",
        ],
    );
    v.ok(&[
        "/CMD",
        "RouterIfAdd",
        "R1",
        "/HUB:HUBB",
        &format!("/IP:{gw1}/24"),
    ]);
    // A static route (listed; not used by the pings).
    let route = [
        "/CMD",
        "RouterTableAdd",
        "R1",
        "/NETWORK:172.30.0.0/255.255.0.0",
        "/GATEWAY:10.88.2.254",
        "/METRIC:5",
    ];
    v.ok(&route);
    v.fails(98, &route);
    let o = v.ok(&["/CMD", "RouterTableList", "R1"]);
    assert!(o.text.contains("172.30.0.0"), "{}", o.text);
    assert!(o.text.contains("255.255.0.0"), "{}", o.text);
    assert!(o.text.contains("10.88.2.254"), "{}", o.text);
    let o = v.ok(&["/CMD", "RouterIfList", "R1"]);
    assert!(
        o.text.contains(&gw0.to_string()) && o.text.contains("HUBB"),
        "{}",
        o.text
    );
    v.ok(&["/CMD", "RouterStart", "R1"]);
    // Interfaces and routes change only while stopped (`L3AddIf`).
    v.fails(
        95,
        &[
            "/CMD",
            "RouterIfAdd",
            "R1",
            "/HUB:OTHER",
            "/IP:10.66.0.1/24",
        ],
    );
    v.wait_for(&["/CMD", "RouterList"], Duration::from_secs(10), |o| {
        o.text.contains("Start (Running)")
    });

    // --- clients with static addresses and routes via the switch
    lab.start_clients().unwrap();
    for i in 0..2 {
        let ns = lab.client_ns(i);
        let (ip, gw) = addrs(i);
        let (other, _) = addrs(1 - i);
        let net = Ipv4Addr::from(u32::from(other) & 0xffff_ff00);
        ns.ip(&["addr", "flush", "dev", "vpn_vpn"]).unwrap();
        ns.ip(&["addr", "add", &format!("{ip}/24"), "dev", "vpn_vpn"])
            .unwrap();
        ns.ip(&["route", "add", &format!("{net}/24"), "via", &gw.to_string()])
            .unwrap();
    }
    for i in 0..2 {
        let hub = if i == 0 { HUB } else { "HUBB" };
        let u = lab.users[i].clone();
        let spec = AccountSpec::new("l3", target, hub, &u.name, &u.password);
        let c = &mut lab.clients[i].client;
        c.account_create(&spec).unwrap();
        c.connect("l3").unwrap();
        c.wait_established("l3", Duration::from_secs(30)).unwrap();
    }
    // Each client pings its router interface, then the other client.
    wait_ping(lab.client_ns(0), gw0, Duration::from_secs(20)).unwrap();
    wait_ping(lab.client_ns(0), gw1, Duration::from_secs(10)).unwrap();
    wait_ping(lab.client_ns(0), ip1, Duration::from_secs(20)).unwrap();
    wait_ping(lab.client_ns(1), ip0, Duration::from_secs(20)).unwrap();

    // --- SessionList of each hub shows the switch's session
    for hub in [HUB, "HUBB"] {
        let o = v.ok(&[&format!("/ADMINHUB:{hub}"), "/CMD", "SessionList"]);
        assert!(
            o.rows("Session Name")
                .iter()
                .any(|s| s.starts_with("SID-L3-R1-")),
            "{}",
            o.text
        );
        assert!(o.rows("User Name").contains(&"L3SW_R1"), "{}", o.text);
        let sid = o
            .rows("Session Name")
            .into_iter()
            .find(|s| s.starts_with("SID-L3-R1-"))
            .unwrap()
            .to_owned();
        // `StGetSessionStatus` answers for the switch's session too.
        let o = v.ok(&[&format!("/ADMINHUB:{hub}"), "/CMD", "SessionGet", &sid]);
        assert!(o.text.contains("L3SW_R1"), "{}", o.text);
        assert!(o.text.contains(&sid), "{}", o.text);
        // `StDeleteSession`: ERR_LAYER3_CANT_DISCONNECT.
        v.fails(
            91,
            &[
                &format!("/ADMINHUB:{hub}"),
                "/CMD",
                "SessionDisconnect",
                &sid,
            ],
        );
    }

    // --- stopped: the path is cut, the sessions are gone; then deleted
    v.ok(&["/CMD", "RouterStop", "R1"]);
    let o = v.ok(&["/CMD", "RouterList"]);
    assert!(o.text.contains("Stop"), "{}", o.text);
    let o = v.ok(&["/ADMINHUB:HUBB", "/CMD", "SessionList"]);
    assert!(!o.text.contains("SID-L3-R1-"), "{}", o.text);
    assert!(
        wait_ping(lab.client_ns(0), ip1, Duration::from_secs(2)).is_err(),
        "ping through a stopped switch"
    );
    v.ok(&["/CMD", "RouterIfDel", "R1", "/HUB:HUBB"]);
    v.ok(&[
        "/CMD",
        "RouterTableDel",
        "R1",
        "/NETWORK:172.30.0.0/255.255.0.0",
        "/GATEWAY:10.88.2.254",
        "/METRIC:5",
    ]);
    v.ok(&["/CMD", "RouterDelete", "R1"]);
    v.fails(93, &["/CMD", "RouterDelete", "R1"]);
}
