//! SecureNAT with the real SoftEther programs: vpncmd enables it on a hub,
//! the real vpnclient's virtual NIC gets an address from the virtual DHCP
//! server (busybox udhcpc with the test's own event script, so nothing
//! touches the machine's /etc/resolv.conf), pings the virtual host, and
//! reaches a host that only the server's namespace can reach ("far", no
//! route back to the client pool) with ICMP, TCP and UDP (iperf3) through
//! the NAT. The server runs as nobody without capabilities (User Mode),
//! without a local bridge. DhcpSet/DhcpGet,
//! DhcpTable and NatTable are checked with the real vpncmd.

mod admin_support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use admin_support::*;
use rustether_testkit::client::{AccountSpec, VpnClient};
use rustether_testkit::exclusive;
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::process::Proc;
use rustether_testkit::seconfig::ServerConfigSpec;
use rustether_testkit::t1::{Topology, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;

const PORT: u16 = 5555;
const NEEDS: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("busybox"),
    Prereq::Program("iperf3"),
    Prereq::Program("ping"),
    Prereq::Program("sysctl"),
    Prereq::Program("setpriv"),
    Prereq::Program("dnsmasq"),
    Prereq::Program("curl"),
];
/// The far host, on a link of the server's namespace only.
const FAR_SRV: Ipv4Addr = Ipv4Addr::new(10, 233, 0, 1);
const FAR: Ipv4Addr = Ipv4Addr::new(10, 233, 0, 2);
const T: Duration = Duration::from_secs(30);

/// `ip netns exec` bind-mounts `/etc/netns/<ns>/resolv.conf` over
/// `/etc/resolv.conf`: the server's DNS proxy then forwards to the test's
/// own DNS server, and nothing touches the machine's resolv.conf. Removed
/// on drop.
struct NsResolvConf(std::path::PathBuf);

impl NsResolvConf {
    fn new(ns: &str, nameserver: Ipv4Addr) -> NsResolvConf {
        let d = std::path::PathBuf::from(format!("/etc/netns/{ns}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("resolv.conf"), format!("nameserver {nameserver}\n")).unwrap();
        NsResolvConf(d)
    }
}

impl Drop for NsResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn real_client_gets_a_lease_and_reaches_a_far_host_through_securenat() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("securenat").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let srv_ns = &topo.server;
    let far = Netns::new("snfar").unwrap();
    srv_ns.veth_to("far0", &far, "eth0").unwrap();
    srv_ns.add_addr("far0", FAR_SRV, 24).unwrap();
    far.add_addr("eth0", FAR, 24).unwrap();
    srv_ns.link_up("far0").unwrap();
    far.link_up("eth0").unwrap();
    // Unprivileged ICMP sockets for the server (a fresh namespace: "1 0").
    srv_ns
        .run(
            "sysctl",
            &["-w", "net.ipv4.ping_group_range=0 2147483647"],
            T,
        )
        .unwrap();

    // The test's DNS server on the far host, for the server's DNS proxy.
    let _resolv = NsResolvConf::new(srv_ns.name(), FAR);
    let far_s = FAR.to_string();
    let _dns = Proc::spawn(
        "dnsmasq-far",
        far.command(
            "dnsmasq",
            &[
                "--no-daemon",
                "--no-resolv",
                "--no-hosts",
                "--bind-interfaces",
                &format!("--listen-address={far_s}"),
                "--address=/far.securenat.test/10.233.0.2",
                "--user=root",
                "--pid-file=",
            ],
        ),
        &dir.path().join("logs"),
    )
    .unwrap();
    // A small web server there too, for an HTTP fetch with curl.
    let www = dir.subdir("www").unwrap();
    std::fs::write(www.join("token.txt"), "securenat-http-ok\n").unwrap();
    let www_s = www.to_string_lossy().into_owned();
    let _httpd = Proc::spawn(
        "httpd-far",
        far.command(
            "busybox",
            &["httpd", "-f", "-p", &format!("{far_s}:8080"), "-h", &www_s],
        ),
        &dir.path().join("logs"),
    )
    .unwrap();

    let spec = ServerConfigSpec::minimal(PORT);
    // An ordinary user (nobody, no capabilities) in User Mode.
    let mut server = OurServer::start_unprivileged(
        srv_ns,
        dir.path(),
        "server",
        PORT,
        &config_text(&spec, false),
    )
    .unwrap();
    let uid = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")
                .map(|v| v.split_whitespace().next().unwrap_or("").to_string())
        });
    assert_eq!(
        uid.as_deref(),
        Some("65534"),
        "the server runs unprivileged"
    );
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let v = Vpncmd::new(srv_ns, &dir.subdir("vpncmd").unwrap(), target).unwrap();
    v.ok(&["/CMD", "HubCreate", "NAT", "/PASSWORD:hubpw"]);
    let hub = "/ADMINHUB:NAT";
    v.ok(&[
        hub,
        "/CMD",
        "UserCreate",
        "bob",
        "/GROUP:none",
        "/REALNAME:none",
        "/NOTE:none",
    ]);
    v.ok(&[hub, "/CMD", "UserPasswordSet", "bob", "/PASSWORD:Secret1"]);
    v.ok(&[hub, "/CMD", "SecureNatEnable"]);
    // SecureNAT is a session of the hub, as in SoftEther.
    let o = v.ok(&[hub, "/CMD", "SessionList"]);
    assert!(o.text.contains("SID-SECURENAT-1"), "{}", o.text);
    let o = v.ok(&[hub, "/CMD", "SecureNatHostGet"]);
    assert!(o.text.contains("192.168.30.1"), "{}", o.text);
    v.ok(&[
        hub,
        "/CMD",
        "NatSet",
        "/MTU:1500",
        "/TCPTIMEOUT:1200",
        "/UDPTIMEOUT:60",
        "/LOG:yes",
    ]);
    let o = v.ok(&[hub, "/CMD", "NatGet"]);
    assert!(o.text.contains("1200"), "{}", o.text);
    // DhcpSet (GetSecureNATOption + SetSecureNATOption) changes the pool,
    // the lease time and the domain; DhcpGet shows them.
    v.ok(&[
        hub,
        "/CMD",
        "DhcpSet",
        "/START:192.168.30.100",
        "/END:192.168.30.150",
        "/MASK:255.255.255.0",
        "/EXPIRE:3600",
        "/GW:192.168.30.1",
        "/DNS:192.168.30.1",
        "/DNS2:0.0.0.0",
        "/DOMAIN:vpn.test",
        "/LOG:yes",
    ]);
    let o = v.ok(&[hub, "/CMD", "DhcpGet"]);
    assert!(o.text.contains("192.168.30.150"), "{}", o.text);

    let c1 = &topo.clients[0];
    let mut client = VpnClient::start(c1, dir.path(), "c1").unwrap();
    let dev = client.nic_create(c1, "vpn", None).unwrap();
    client
        .account_create(&AccountSpec::new("acct", target, "NAT", "bob", "Secret1"))
        .unwrap();
    client.connect("acct").unwrap();
    client
        .wait_established("acct", Duration::from_secs(40))
        .unwrap();

    // DHCP with busybox udhcpc and an event script of our own.
    let out = dir.path().join("lease.env");
    let script = dir.path().join("udhcpc.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n bound|renew)\n  ip addr flush dev \"$interface\"\n  ip addr add \"$ip/$subnet\" dev \"$interface\"\n  env > {}\n  ;;\nesac\nexit 0\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let script_s = script.to_string_lossy().into_owned();
    c1.run(
        "busybox",
        &[
            "udhcpc", "-i", &dev, "-n", "-q", "-f", "-t", "10", "-T", "2", "-s", &script_s,
        ],
        Duration::from_secs(60),
    )
    .unwrap();
    let env = std::fs::read_to_string(&out).unwrap();
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::to_string)
    };
    let ip = get("ip").unwrap_or_default();
    let last: u8 = ip
        .strip_prefix("192.168.30.")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    assert!(
        (100..=150).contains(&last),
        "leased address in the pool set by DhcpSet: {env}"
    );
    assert_eq!(get("router").as_deref(), Some("192.168.30.1"), "{env}");
    assert_eq!(
        get("dns").as_deref().map(str::trim),
        Some("192.168.30.1"),
        "{env}"
    );
    assert_eq!(get("subnet").as_deref(), Some("255.255.255.0"), "{env}");
    assert_eq!(get("lease").as_deref(), Some("3600"), "{env}");
    assert_eq!(get("domain").as_deref(), Some("vpn.test"), "{env}");

    // DhcpTable lists the lease.
    let o = v.ok(&[hub, "/CMD", "DhcpTable"]);
    assert!(o.text.contains(&ip), "{}", o.text);
    assert_ne!(o.row("Leased at"), o.row("Expires at"), "{}", o.text);

    // The virtual host answers pings, also ones over the MTU: the client's
    // kernel fragments the request and checks the reassembled reply.
    c1.run("ping", &["-c", "2", "-W", "3", "192.168.30.1"], T)
        .unwrap();
    c1.run(
        "ping",
        &["-c", "2", "-W", "3", "-s", "4000", "192.168.30.1"],
        T,
    )
    .unwrap();

    // Through the NAT to the far host: ICMP, TCP and UDP.
    c1.ip(&["route", "add", "10.233.0.0/24", "via", "192.168.30.1"])
        .unwrap();
    c1.run("ping", &["-c", "2", "-W", "3", &FAR.to_string()], T)
        .unwrap();
    let _iperf = Proc::spawn(
        "iperf3-far",
        far.command("iperf3", &["-s", "-B", &far_s, "-p", "5201"]),
        &dir.path().join("logs"),
    )
    .unwrap();
    eventually("iperf3 in far to listen", T, || far.tcp_listening(5201));
    let tcp = c1
        .run(
            "iperf3",
            &["-c", &far_s, "-p", "5201", "-t", "2"],
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(tcp.contains("receiver"), "{tcp}");
    let udp = c1
        .run(
            "iperf3",
            &[
                "-c", &far_s, "-p", "5201", "-u", "-b", "2M", "-t", "2", "-J",
            ],
            Duration::from_secs(60),
        )
        .unwrap();
    let j: serde_json::Value = serde_json::from_str(&udp).unwrap();
    let sum = &j["end"]["sum"];
    let (packets, lost) = (sum["packets"].as_u64(), sum["lost_packets"].as_u64());
    assert!(
        matches!((packets, lost), (Some(p), Some(l)) if p > 0 && l * 2 < p),
        "UDP through the NAT arrives: {sum}"
    );

    // DNS through the proxy on 192.168.30.1 to the test's dnsmasq, and an
    // HTTP fetch with curl from the far host's web server.
    let dns = c1
        .run(
            "busybox",
            &["nslookup", "-type=a", "far.securenat.test", "192.168.30.1"],
            T,
        )
        .unwrap();
    assert!(dns.contains("10.233.0.2"), "{dns}");
    eventually("httpd in far to listen", T, || far.tcp_listening(8080));
    let body = c1
        .run(
            "curl",
            &[
                "-sS",
                "--max-time",
                "10",
                "http://10.233.0.2:8080/token.txt",
            ],
            T,
        )
        .unwrap();
    assert_eq!(body.trim(), "securenat-http-ok");

    // The guard: the server's own address on the far link (where the
    // server listens on 5555) is refused through the NAT, while a port on
    // the far host right beside it connects.
    let connect = |addr: &str, port: &str| {
        c1.run(
            "busybox",
            &["nc", "-w", "5", addr, port, "-e", "/bin/true"],
            Duration::from_secs(20),
        )
    };
    connect(&far_s, "5201").expect("TCP to the far host through the NAT");
    assert!(
        srv_ns.tcp_listening(PORT),
        "the server listens on all addresses"
    );
    assert!(
        connect(&FAR_SRV.to_string(), &PORT.to_string()).is_err(),
        "the server itself must not be reachable through the NAT"
    );

    // SecureNatStatusGet counts the lease.
    let o = v.ok(&[hub, "/CMD", "SecureNatStatusGet"]);
    assert_eq!(
        o.row("Allocated DHCP Clients"),
        Some("1 Client"),
        "{}",
        o.text
    );
    assert_eq!(
        o.row("NAT UDP/IP Sessions"),
        Some("1 Session"),
        "{}",
        o.text
    );

    // NatTable lists the UDP flow (idle timeout 60 s) to the far host and
    // the DNS flow.
    let o = v.ok(&[hub, "/CMD", "NatTable"]);
    assert!(o.text.contains(&far_s), "{}", o.text);
    assert!(o.text.contains("DNS"), "{}", o.text);

    client.disconnect("acct").unwrap();
    v.ok(&[hub, "/CMD", "SecureNatDisable"]);
    v.fails(80, &[hub, "/CMD", "NatTable"]);
    server.ensure_running().unwrap();
}
