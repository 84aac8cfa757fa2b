//! OpenVPN's legacy data channel and the same client file against the real
//! SoftEther server (docs/openvpn.md): our server and SoftEther 5.01's
//! vpnserver run side by side in one server namespace, OpenVPN switched on
//! in both, SecureNAT on our hub (a client gets an address from its DHCP
//! server and pings its virtual host 192.168.30.1). With the real `openvpn` 2.6 client:
//!
//! 1. our `OpenVpnMakeConfig` layer-2 file plus `--data-ciphers AES-128-CBC
//!    --cipher AES-128-CBC` → our server: AES-128-CBC with HMAC-SHA1 in
//!    `P_DATA_V1`/`V2`, ping through the hub;
//! 2. the same file (SoftEther's certificate and UDP port put in) and the
//!    same options → SoftEther's server (which does not negotiate: openvpn
//!    2.6 needs them there): AES-128-CBC with TLS-PRF keys, frames both
//!    ways (SoftEther logs the client's DHCP request; the client stays up
//!    on SoftEther's data-channel pings), proving our file is faithful to
//!    what SoftEther accepts;
//! 3. SoftEther's own generated file (our certificate and port put in) →
//!    our server: it works unchanged (negotiated to an AEAD cipher).

mod admin_support;

use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;

use admin_support::openvpn;
use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::process::Proc;
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::server::{Server, ServerKind};
use rustether_testkit::t1::{Topology, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;

/// Our TCP listener and OpenVPN UDP port.
const OURS: (u16, u16) = (5555, 1194);
/// SoftEther's TCP listener and OpenVPN UDP port.
const THEIRS: (u16, u16) = (5556, 1195);
/// SecureNAT's virtual host on both hubs.
const NAT_HOST: &str = "192.168.30.1";
const NEEDS: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("openvpn"),
    Prereq::Program("ping"),
    Prereq::Program("busybox"),
];
const T: Duration = Duration::from_secs(40);
/// What openvpn 2.6 needs added to talk to SoftEther 5.01's server (its
/// sample file pins `cipher AES-128-CBC`; it does not negotiate).
const CBC: &[&str] = &["--data-ciphers", "AES-128-CBC", "--cipher", "AES-128-CBC"];

/// The testkit configuration with OpenVPN on (UDP `udp`) and the TCP
/// listener `tcp`, as both servers read it.
fn config(tcp: u16, udp: u16) -> String {
    let spec = ServerConfigSpec::with_hub(tcp, "DEFAULT", &[UserSpec::new("alice", "Secret1")]);
    let text = config_text(&spec, false);
    let on = text
        .replace("string PortsUDP $", &format!("string PortsUDP {udp}"))
        .replace(
            "declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled false",
            "declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled true",
        );
    assert_eq!(on.matches(&format!("PortsUDP {udp}")).count(), 1);
    assert!(on.contains("declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled true"));
    on
}

/// `OpenVpnMakeConfig` with the real vpncmd; returns the layer-2 file.
fn make_config(v: &Vpncmd, ns: &Netns, out: &Path) -> String {
    v.ok(&["/CMD", "OpenVpnMakeConfig", "openvpn_config.zip"]);
    let zip = v.dir().join("openvpn_config.zip");
    std::fs::create_dir_all(out).unwrap();
    ns.run(
        "busybox",
        &[
            "unzip",
            "-o",
            &zip.to_string_lossy(),
            "-d",
            &out.to_string_lossy(),
        ],
        T,
    )
    .unwrap();
    for e in std::fs::read_dir(out).unwrap() {
        let p = e.unwrap().path();
        if p.to_string_lossy().ends_with("_l2.ovpn") {
            return std::fs::read_to_string(&p).unwrap();
        }
    }
    panic!("no layer-2 file in {}", out.display());
}

/// The `<ca>...</ca>` block of a client file.
fn ca_block(file: &str) -> &str {
    let a = file.find("<ca>").expect("<ca> in the file");
    let b = file.find("</ca>").expect("</ca> in the file") + "</ca>".len();
    &file[a..b]
}

/// The file with `remote` pointed at the server's address and `port`, and
/// the `<ca>` block of `ca_from`. (Both servers put a `remote` line with
/// the address they find; the tests' namespace address is the same.)
fn retarget(file: &str, port: u16, ca_from: &str) -> String {
    let mut out = String::new();
    for line in file.lines() {
        if line.starts_with("remote ") {
            out.push_str(&format!("remote {SERVER_ADDR} {port}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.replace(ca_block(file), ca_block(ca_from))
}

/// The real openvpn as alice on `tap0` with `extra` options.
fn start_openvpn(ns: &Netns, dir: &Path, name: &str, file: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["--dev", "tap0"];
    args.extend_from_slice(extra);
    openvpn::start_openvpn(ns, dir, name, file, ("alice", "Secret1"), &args)
}

/// Waits for the client, gets tap0 an address from SecureNAT's DHCP
/// server (busybox udhcpc with a script of our own: nothing touches the
/// machine's resolv.conf) and pings SecureNAT's host.
fn ping_through(ns: &Netns, dir: &Path, p: &Proc) {
    eventually("the openvpn client initialised", T, || {
        p.log_since(0).contains("Initialization Sequence Completed")
    });
    ns.link_up("tap0").unwrap();
    let script = dir.join(format!("udhcpc-{}.sh", ns.name()));
    std::fs::write(
        &script,
        "#!/bin/sh\ncase \"$1\" in\n bound|renew)\n  ip addr flush dev \"$interface\"\n  ip addr add \"$ip/$subnet\" dev \"$interface\"\n  ;;\nesac\nexit 0\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script_s = script.to_string_lossy().into_owned();
    ns.run(
        "busybox",
        &[
            "udhcpc", "-i", "tap0", "-n", "-q", "-f", "-t", "10", "-T", "2", "-s", &script_s,
        ],
        T,
    )
    .unwrap();
    eventually("ping to SecureNAT's host through the hub", T, || {
        ns.run(
            "ping",
            &["-c", "1", "-W", "2", NAT_HOST],
            Duration::from_secs(5),
        )
        .is_ok()
    });
}

#[test]
fn openvpn_cbc_client_and_the_same_file_against_softether() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("openvpn-legacy").unwrap();
    let topo = Topology::new(2, false).unwrap();
    let srv_ns = &topo.server;
    let _ours =
        OurServer::start(srv_ns, dir.path(), "ours", OURS.0, &config(OURS.0, OURS.1)).unwrap();
    let theirs_cfg = dir.path().join("softether.config");
    std::fs::write(&theirs_cfg, config(THEIRS.0, THEIRS.1)).unwrap();
    let theirs = Server::start_with_config_file(
        &ServerKind::SoftEther,
        srv_ns,
        SERVER_ADDR,
        THEIRS.0,
        &dir.subdir("softether").unwrap(),
        &theirs_cfg,
    )
    .unwrap();
    let v_ours = Vpncmd::new(
        srv_ns,
        &dir.subdir("vpncmd-ours").unwrap(),
        SocketAddrV4::new(SERVER_ADDR, OURS.0),
    )
    .unwrap();
    let v_theirs = Vpncmd::new(
        srv_ns,
        &dir.subdir("vpncmd-theirs").unwrap(),
        SocketAddrV4::new(SERVER_ADDR, THEIRS.0),
    )
    .unwrap();
    v_ours.ok(&["/ADMINHUB:DEFAULT", "/CMD", "SecureNatEnable"]);
    let ours_file = make_config(&v_ours, srv_ns, &dir.path().join("zip-ours"));
    let theirs_file = make_config(&v_theirs, srv_ns, &dir.path().join("zip-theirs"));
    assert!(
        ours_file.contains(&format!(" {}\n", OURS.1)) && ours_file.contains("dev tap\n"),
        "{ours_file}"
    );
    // SoftEther's sample pins the cipher; ours does not need to.
    assert!(theirs_file.contains("cipher AES-128-CBC"), "{theirs_file}");

    let (c1, c2) = (&topo.clients[0], &topo.clients[1]);
    // 1. Our file, the client limited to AES-128-CBC → our server.
    let cbc = start_openvpn(
        c1,
        dir.path(),
        "cbc-ours",
        &retarget(&ours_file, OURS.1, &ours_file),
        CBC,
    );
    // 2. The same file and options → SoftEther, with SoftEther's
    // certificate.
    let mut same = start_openvpn(
        c2,
        dir.path(),
        "same-file-softether",
        &retarget(&ours_file, THEIRS.1, &theirs_file),
        CBC,
    );
    ping_through(c1, dir.path(), &cbc);
    let log = cbc.log_since(0);
    assert!(
        log.contains("Data Channel: cipher 'AES-128-CBC'") && log.contains("auth 'SHA1'"),
        "negotiated CBC: {log}"
    );
    // SoftEther 5.01's SecureNAT does not answer DHCP in this sandbox, so
    // the data channel is proven by SoftEther's own packet log (a DHCP
    // request from the client's tap, decrypted by SoftEther) and by the
    // client outliving SoftEther's ping-restart (10 s) on its pings (below).
    eventually("the openvpn client initialised", T, || {
        same.log_since(0)
            .contains("Initialization Sequence Completed")
    });
    let same_up = std::time::Instant::now();
    assert!(
        same.log_since(0)
            .contains("Data Channel: cipher 'AES-128-CBC'"),
        "{}",
        same.log_since(0)
    );
    c2.link_up("tap0").unwrap();
    let _ = c2.run(
        "busybox",
        &[
            "udhcpc",
            "-i",
            "tap0",
            "-n",
            "-q",
            "-t",
            "2",
            "-T",
            "1",
            "-s",
            "/bin/true",
        ],
        T,
    );
    eventually("SoftEther decrypted the client's DHCP request", T, || {
        theirs
            .log_tail(400)
            .lines()
            .any(|l| l.contains("SID-ALICE-[OPENVPN_L2]") && l.contains("DHCPv4"))
    });
    drop(cbc);

    // 3. SoftEther's own file (our certificate) → our server, unchanged.
    let eth = start_openvpn(
        c1,
        dir.path(),
        "softether-file-ours",
        &retarget(&theirs_file, OURS.1, &ours_file),
        &[],
    );
    ping_through(c1, dir.path(), &eth);
    drop(eth);
    // SoftEther pings every 3 s with ping-restart 10: a client that could
    // not decrypt them would restart.
    std::thread::sleep(Duration::from_secs(11).saturating_sub(same_up.elapsed()));
    let log = same.log_since(0);
    assert!(
        same.is_running()
            && !log.contains("Decrypt packet error")
            && !log.contains("Inactivity timeout")
            && log.matches("Initialization Sequence Completed").count() == 1,
        "{log}"
    );
    drop(same);
}
