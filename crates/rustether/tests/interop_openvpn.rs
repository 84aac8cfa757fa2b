//! OpenVPN interop with the real `openvpn` 2.6 client (docs/openvpn.md):
//! OpenVPN switched on with the real vpncmd (`ProtoOptionsSet`,
//! `PortsUDPSet`, checked with `ProtoOptionsGet`, `PortsUDPGet` and in the
//! saved configuration); one client over UDP 1194, one over TCP on the SoftEther
//! listener 5555 (recognised by its first bytes), both `dev tap` on hub
//! DEFAULT; they ping each other across the hub; SessionList (real vpncmd)
//! shows both sessions as OpenVPN sessions; a wrong password is refused
//! with AUTH_FAILED; SessionDisconnect ends a session. The client files
//! have the shape of SoftEther's sample file (data-ciphers
//! negotiated, our certificate in `<ca>`).

mod admin_support;

use std::net::SocketAddrV4;
use std::time::Duration;

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
];
const T: Duration = Duration::from_secs(40);

/// A client file in the shape of SoftEther's `openvpn_sample.ovpn`.
fn client_file(proto: &str, port: u16, ca_pem: &str, auth: &str) -> String {
    format!(
        "client\ndev tap\nproto {proto}\nremote {SERVER_ADDR} {port}\nresolv-retry infinite\nnobind\n\
         persist-key\npersist-tun\nverb 3\nauth-user-pass {auth}\nconnect-retry-max 3\n\
         <ca>\n{ca_pem}</ca>\n"
    )
}

fn pem(der: &[u8]) -> String {
    let b64 = base64_encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or(""));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

fn start_openvpn(ns: &Netns, dir: &std::path::Path, name: &str, file: &str, user: &str, pw: &str) -> Proc {
    let auth = dir.join(format!("{name}.auth"));
    std::fs::write(&auth, format!("{user}\n{pw}\n")).unwrap();
    let conf = dir.join(format!("{name}.ovpn"));
    std::fs::write(&conf, file.replace("AUTHFILE", &auth.to_string_lossy())).unwrap();
    let conf_s = conf.to_string_lossy().into_owned();
    Proc::spawn(name, ns.command("openvpn", &["--config", &conf_s]), &dir.join("logs")).unwrap()
}

#[test]
fn openvpn_tap_clients_over_udp_and_tcp_reach_each_other_through_the_hub() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("openvpn").unwrap();
    let topo = Topology::new(2, false).unwrap();
    let srv_ns = &topo.server;
    let spec = ServerConfigSpec::with_hub(PORT, "DEFAULT", &[UserSpec::new("alice", "Secret1"), UserSpec::new("bob", "Secret2")]);
    let mut server = OurServer::start(srv_ns, dir.path(), "server", PORT, &config_text(&spec, false)).unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let v = Vpncmd::new(srv_ns, &dir.subdir("vpncmd").unwrap(), target).unwrap();
    // Off in a fresh configuration; switched on with the real vpncmd.
    let o = v.ok(&["/CMD", "ProtoOptionsGet", "OpenVPN"]);
    assert!(o.text.contains("Enabled") && o.text.contains("DefaultClientOption"), "{}", o.text);
    v.ok(&["/CMD", "ProtoOptionsSet", "OpenVPN", "/NAME:Enabled", "/VALUE:yes"]);
    v.ok(&["/CMD", "PortsUDPSet", "1194"]);
    let o = v.ok(&["/CMD", "PortsUDPGet"]);
    assert!(o.text.contains("1194"), "{}", o.text);
    // Unknown option: error 29 (ERR_OBJECT_NOT_FOUND) from vpncmd itself.
    let o = v.run(&["/CMD", "ProtoOptionsSet", "OpenVPN", "/NAME:NoSuchOption", "/VALUE:1"]);
    assert!(!o.text.contains(DONE), "{}", o.text);
    // As SoftEther keeps them; the UDP socket opens at the next start.
    server.restart(srv_ns).unwrap();
    let saved = server.saved_config();
    assert_eq!(saved.server.raw.get_str("PortsUDP"), Some("1194"));
    let ovpn = saved.server.raw.folder("Proto").and_then(|p| p.folder("OpenVPN")).and_then(|f| f.get_bool("Enabled"));
    assert_eq!(ovpn, Some(true));
    let ca = pem(&saved.server.server_cert_der);

    let (c1, c2) = (&topo.clients[0], &topo.clients[1]);
    let udp = start_openvpn(c1, dir.path(), "ovpn-udp", &client_file("udp", 1194, &ca, "AUTHFILE"), "alice", "Secret1");
    // `user@hub` form over TCP on the SoftEther listener.
    let tcp = start_openvpn(c2, dir.path(), "ovpn-tcp", &client_file("tcp-client", PORT, &ca, "AUTHFILE"), "bob@DEFAULT", "Secret2");
    for p in [&udp, &tcp] {
        eventually("the openvpn client initialised", T, || {
            p.log_since(0).contains("Initialization Sequence Completed")
        });
    }
    let log = udp.log_since(0);
    assert!(log.contains("Data Channel: cipher 'AES-256-GCM'"), "negotiated cipher: {log}");
    c1.ip(&["addr", "add", "192.168.231.11/24", "dev", "tap0"]).unwrap();
    c1.link_up("tap0").unwrap();
    c2.ip(&["addr", "add", "192.168.231.12/24", "dev", "tap0"]).unwrap();
    c2.link_up("tap0").unwrap();
    eventually("ping across the hub", T, || {
        c1.run("ping", &["-c", "1", "-W", "2", "192.168.231.12"], Duration::from_secs(5)).is_ok()
    });
    c2.run("ping", &["-c", "3", "-i", "0.2", "-W", "2", "192.168.231.11"], T).unwrap();

    // SessionList: both sessions, named as SoftEther names OpenVPN sessions.
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionList"]);
    let names = o.rows("Session Name");
    assert!(names.iter().any(|n| n.starts_with("SID-ALICE-[OPENVPN_L2]-")), "{}", o.text);
    let bob = names.iter().find(|n| n.starts_with("SID-BOB-[OPENVPN_L2]-")).unwrap_or_else(|| panic!("{}", o.text)).to_string();
    let o = v.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SessionGet", &bob]);
    assert!(o.text.contains("OpenVPN Client"), "{}", o.text);

    // Wrong password: AUTH_FAILED, the client gives up.
    let mut bad = start_openvpn(c1, dir.path(), "ovpn-bad", &client_file("udp", 1194, &ca, "AUTHFILE").replace("dev tap", "dev tap\ndev-node /dev/net/tun\ndev tap9"), "alice", "wrong");
    eventually("AUTH_FAILED for a wrong password", T, || bad.log_since(0).contains("AUTH_FAILED"));
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
    drop((udp, tcp));
}
