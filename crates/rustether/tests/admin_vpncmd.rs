//! Administration of our running `vpnserver` with the real SoftEther
//! `vpncmd` 5.01 (issue 5): every command of the issue, each checked by its
//! effect — a real `vpnclient` logging in with a password set through
//! vpncmd, a session disconnected, ports opened and closed, a hub taken
//! offline, a local bridge on a veth, the configuration file on disk,
//! cascades to a second server, a user that survives SIGKILL, wrong admin
//! passwords refused with error 9 and slowed down.
//!
//! Needs root (network namespaces), `/dev/net/tun` and the SoftEther Debian
//! packages (`testkit::prereq`: skipped visibly and counted without them,
//! failing when `CI` is set). Everything runs in namespaces without a default route; vpncmd
//! and vpnclient get private state directories. `RUSTETHER_KEEP_LOGS=1`
//! keeps the working directory (server and client logs).

mod admin_support;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use admin_support::*;
use rustether_admin::throttle::ThrottlePolicy;
use rustether_config::{write_text, HubConfig, ListenerConfig, UserAuth};
use rustether_testkit::client::{AccountSpec, VpnClient};
use rustether_testkit::exclusive;
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::sha0::password_hash;
use rustether_testkit::t1::{Topology, LAN_BRIDGE_DEV, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;

const PORT: u16 = 5555;

/// What the tests of this file need: namespaces, the real vpncmd and
/// vpnclient (tap devices).
const NEEDS: &[Prereq] = &[Prereq::Netns, Prereq::Tun, Prereq::SoftEther];

/// Hubs, users, sessions with a real client, hub online state, listeners,
/// local bridges, configuration get/set/flush, hub-administrator rights,
/// the local-only rule, the audit log, wrong passwords and throttling,
/// hub deletion — against one server.
#[test]
fn vpncmd_manages_the_running_server() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("admin-vpncmd").unwrap();
    // server namespace (br0 10.231.0.1), client c1 (10.231.0.11), and a
    // LAN namespace behind veth `lanbr` in the server namespace
    let topo = Topology::new(1, true).unwrap();
    let srv_ns = &topo.server;
    let spec = ServerConfigSpec::minimal(PORT);
    let mut server = OurServer::start(
        srv_ns,
        dir.path(),
        "server",
        PORT,
        &config_text(&spec, false),
    )
    .unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    // vpncmd beside the server: its source address is the server's own
    let v = Vpncmd::new(srv_ns, &dir.subdir("vpncmd").unwrap(), target).unwrap();
    // vpncmd on another machine
    let remote = Vpncmd::new(&topo.clients[0], &dir.subdir("vpncmd-c1").unwrap(), target).unwrap();

    // --- no server password: administration only from the server itself
    let o = remote.fails(51, &["/CMD", "HubList"]);
    assert!(o.text.contains("prohibited"), "{}", o.text);
    let o = v.ok(&["/CMD", "ServerInfoGet"]);
    assert!(
        o.text
            .contains("You have administrator privileges for the entire VPN Server."),
        "{}",
        o.text
    );
    assert_eq!(o.row("Product Name"), Some("RustEther VPN Server"));
    assert_eq!(o.row("Server Type"), Some("Standalone Server"));

    // --- HubCreate / HubList, visible in the saved configuration
    v.ok(&["/CMD", "HubCreate", "TEST", "/PASSWORD:hubpw"]);
    v.fails(57, &["/CMD", "HubCreate", "test", "/PASSWORD:x"]);
    let o = v.ok(&["/CMD", "HubList"]);
    assert!(o.rows("Virtual Hub Name").contains(&"TEST"), "{}", o.text);
    assert!(server.saved_config().hub("TEST").is_some());
    let o = v.ok(&["/CMD", "ServerStatusGet"]);
    assert_eq!(o.row("Number of Virtual Hubs"), Some("1"), "{}", o.text);

    // --- users: UserCreate + UserPasswordSet, then a real client logs in
    let hub = "/ADMINHUB:TEST";
    v.ok(&[
        hub,
        "/CMD",
        "UserCreate",
        "alice",
        "/GROUP:none",
        "/REALNAME:Alice A",
        "/NOTE:none",
    ]);
    v.fails(
        66,
        &[
            hub,
            "/CMD",
            "UserCreate",
            "alice",
            "/GROUP:none",
            "/REALNAME:x",
            "/NOTE:x",
        ],
    );
    v.ok(&[hub, "/CMD", "UserPasswordSet", "alice", "/PASSWORD:Secret1"]);
    let saved = server.saved_config();
    let alice = saved.hub("TEST").unwrap().user("alice").unwrap();
    assert!(
        matches!(alice.auth, UserAuth::Password { hash, .. } if hash == password_hash("alice", "Secret1")),
        "{:?}",
        alice.auth
    );
    let o = v.ok(&[hub, "/CMD", "UserList"]);
    assert_eq!(o.row("User Name"), Some("alice"), "{}", o.text);
    assert_eq!(o.row("Auth Method"), Some("Password Authentication"));
    let o = v.ok(&[hub, "/CMD", "UserGet", "alice"]);
    assert_eq!(o.row("Full Name"), Some("Alice A"), "{}", o.text);
    assert_eq!(o.row("Expiration Date"), Some("(None)"), "{}", o.text);
    v.fails(29, &[hub, "/CMD", "UserGet", "nobody"]);
    // GetUser + SetUser commands keep the password and change the rest
    v.ok(&[
        hub,
        "/CMD",
        "UserSet",
        "alice",
        "/GROUP:none",
        "/REALNAME:Alice B",
        "/NOTE:sales",
    ]);
    v.ok(&[
        hub,
        "/CMD",
        "UserExpiresSet",
        "alice",
        "/EXPIRES:2030/01/01 00:00:00",
    ]);
    v.ok(&[
        hub,
        "/CMD",
        "UserPolicySet",
        "alice",
        "/NAME:MaxConnection",
        "/VALUE:4",
    ]);
    let o = v.ok(&[hub, "/CMD", "UserGet", "alice"]);
    assert_eq!(o.row("Full Name"), Some("Alice B"), "{}", o.text);
    assert_eq!(o.row("Description"), Some("sales"), "{}", o.text);
    assert_eq!(
        o.row("Expiration Date"),
        Some("2030-01-01 (Tue) 00:00:00"),
        "{}",
        o.text
    );
    let saved = server.saved_config();
    let alice = saved.hub("TEST").unwrap().user("alice").unwrap();
    assert!(
        matches!(alice.auth, UserAuth::Password { hash, .. } if hash == password_hash("alice", "Secret1")),
        "the password survives UserSet: {:?}",
        alice.auth
    );
    assert_eq!(alice.policy.as_ref().map(|p| p.max_connection), Some(4));
    assert_ne!(alice.expire_time, 0);

    let c1 = &topo.clients[0];
    let mut client = VpnClient::start(c1, dir.path(), "c1").unwrap();
    client
        .nic_create(c1, "vpn", Some((Ipv4Addr::new(192, 168, 231, 11), 24)))
        .unwrap();
    let acct = AccountSpec::new("acct", target, "TEST", "alice", "Secret1");
    client.account_create(&acct).unwrap();
    client.connect("acct").unwrap();
    client
        .wait_established("acct", Duration::from_secs(30))
        .unwrap();

    // --- SessionList / SessionGet / SessionDisconnect
    let o = v.ok(&[hub, "/CMD", "SessionList"]);
    let sid = o
        .rows("Session Name")
        .into_iter()
        .find(|s| s.starts_with("SID-ALICE-"))
        .unwrap_or_else(|| panic!("no session of alice:\n{}", o.text))
        .to_owned();
    assert_eq!(o.row("User Name"), Some("alice"), "{}", o.text);
    let o = v.ok(&[hub, "/CMD", "SessionGet", &sid]);
    assert_eq!(
        o.row("Client IP Address"),
        Some("10.231.0.11"),
        "{}",
        o.text
    );
    v.ok(&[hub, "/CMD", "SessionDisconnect", &sid]);
    let o = v.ok(&[hub, "/CMD", "SessionList"]);
    assert!(
        !o.rows("Session Name").contains(&sid.as_str()),
        "{sid} must be gone:\n{}",
        o.text
    );
    v.fails(29, &[hub, "/CMD", "SessionDisconnect", &sid]);
    client.disconnect("acct").unwrap();

    // --- hub Offline refuses logins (error 10), Online allows them again
    v.ok(&[hub, "/CMD", "Offline"]);
    assert!(!server.saved_config().hub("TEST").unwrap().online);
    let o = v.ok(&["/CMD", "HubList"]);
    assert!(o.text.contains("Offline"), "{}", o.text);
    let e = client
        .connect_expect_error("acct", Duration::from_secs(30))
        .unwrap();
    assert_eq!(e.code, 10, "{e:?}");
    v.ok(&[hub, "/CMD", "Online"]);
    client.connect("acct").unwrap();
    client
        .wait_established("acct", Duration::from_secs(40))
        .unwrap();
    client.disconnect("acct").unwrap();

    // --- hub administration option deny_empty_password (AdminOptionSet):
    // an anonymous user (an empty password for SoftEther) is refused from
    // another machine with error 51, and accepted again when it is off
    v.ok(&[hub, "/CMD", "UserAnonymousSet", "alice"]);
    v.ok(&[
        hub,
        "/CMD",
        "AdminOptionSet",
        "deny_empty_password",
        "/VALUE:1",
    ]);
    let o = v.ok(&[hub, "/CMD", "AdminOptionList"]);
    assert_eq!(
        option_value(&o, "deny_empty_password"),
        Some("1"),
        "{}",
        o.text
    );
    let e = client
        .connect_expect_error("acct", Duration::from_secs(30))
        .unwrap();
    assert_eq!(e.code, 51, "{e:?}");
    v.ok(&[
        hub,
        "/CMD",
        "AdminOptionSet",
        "deny_empty_password",
        "/VALUE:0",
    ]);
    client.connect("acct").unwrap();
    client
        .wait_established("acct", Duration::from_secs(40))
        .unwrap();
    client.disconnect("acct").unwrap();
    v.ok(&[hub, "/CMD", "UserPasswordSet", "alice", "/PASSWORD:Secret1"]);

    // --- RADIUS authentication (PAP): a responder of the test's own in the
    // server's namespace knows one user, password and shared secret; the
    // real vpnclient logs in as a RADIUS user (`UserRadiusSet`) with its
    // password sent for RADIUS (`/TYPE:radius`), a wrong one gets error 9
    let responder = RadiusResponder::start(srv_ns, b"radsecret", "r-alice", b"RadPass1");
    let radius_server = format!("127.0.0.1:{}", responder.port);
    v.ok(&[
        hub,
        "/CMD",
        "RadiusServerSet",
        &radius_server,
        "/SECRET:radsecret",
        "/RETRY_INTERVAL:1000",
    ]);
    v.ok(&[hub, "/CMD", "UserRadiusSet", "alice", "/ALIAS:r-alice"]);
    let o = v.ok(&[hub, "/CMD", "UserList"]);
    assert_eq!(
        o.row("Auth Method"),
        Some("RADIUS Authentication"),
        "{}",
        o.text
    );
    client
        .vpncmd(&[
            "AccountPasswordSet",
            "acct",
            "/PASSWORD:RadPass1",
            "/TYPE:radius",
        ])
        .unwrap();
    client.connect("acct").unwrap();
    client
        .wait_established("acct", Duration::from_secs(40))
        .unwrap();
    client.disconnect("acct").unwrap();
    client
        .vpncmd(&[
            "AccountPasswordSet",
            "acct",
            "/PASSWORD:wrong",
            "/TYPE:radius",
        ])
        .unwrap();
    let e = client
        .connect_expect_error("acct", Duration::from_secs(30))
        .unwrap();
    assert_eq!(e.code, 9, "{e:?}");
    // The real client retries a refused login after its retry interval, so
    // a second attempt may reach the responder before the test disconnects
    // the account: one accept, then only rejects.
    let seen = responder.stop();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("r-alice accept"),
        "{seen:?}"
    );
    assert!(
        seen.len() >= 2 && seen[1..].iter().all(|s| s == "r-alice reject"),
        "{seen:?}"
    );
    client
        .vpncmd(&[
            "AccountPasswordSet",
            "acct",
            "/PASSWORD:Secret1",
            "/TYPE:standard",
        ])
        .unwrap();
    v.ok(&[hub, "/CMD", "UserPasswordSet", "alice", "/PASSWORD:Secret1"]);
    v.ok(&[hub, "/CMD", "RadiusServerDelete"]);

    // --- SecureNatEnable / SecureNatDisable: saved in the hub's SecureNAT
    // folder where SoftEther keeps it (`Disabled`)
    let snat_disabled = |server: &OurServer| {
        server
            .saved_config()
            .hub("TEST")
            .unwrap()
            .raw
            .folder("SecureNAT")
            .and_then(|f| f.get_bool("Disabled"))
    };
    assert_eq!(snat_disabled(&server), Some(true));
    v.ok(&[hub, "/CMD", "SecureNatEnable"]);
    assert_eq!(snat_disabled(&server), Some(false));
    v.ok(&[hub, "/CMD", "SecureNatDisable"]);
    assert_eq!(snat_disabled(&server), Some(true));

    // --- UserDelete: the password no longer works
    v.ok(&[hub, "/CMD", "UserDelete", "alice"]);
    v.fails(29, &[hub, "/CMD", "UserDelete", "alice"]);
    let e = client
        .connect_expect_error("acct", Duration::from_secs(30))
        .unwrap();
    assert_eq!(e.code, 9, "{e:?}");
    drop(client);

    // --- listeners: create opens a port that speaks our protocol, disable
    // and delete close it
    v.ok(&["/CMD", "ListenerCreate", "5556"]);
    eventually("port 5556 to accept", Duration::from_secs(10), || {
        tcp_accepts(srv_ns, "10.231.0.1", 5556)
    });
    v.with_port(5556).ok(&["/CMD", "ServerInfoGet"]);
    let o = v.ok(&["/CMD", "ListenerList"]);
    assert_eq!(o.row("TCP 5556"), Some("Listening"), "{}", o.text);
    v.fails(54, &["/CMD", "ListenerCreate", "5556"]);
    v.ok(&["/CMD", "ListenerDisable", "5556"]);
    eventually("port 5556 to close", Duration::from_secs(10), || {
        !tcp_accepts(srv_ns, "10.231.0.1", 5556)
    });
    let o = v.ok(&["/CMD", "ListenerList"]);
    assert_eq!(o.row("TCP 5556"), Some("Stopped"), "{}", o.text);
    v.ok(&["/CMD", "ListenerEnable", "5556"]);
    eventually("port 5556 to accept again", Duration::from_secs(10), || {
        tcp_accepts(srv_ns, "10.231.0.1", 5556)
    });
    v.ok(&["/CMD", "ListenerDelete", "5556"]);
    eventually(
        "port 5556 to close for good",
        Duration::from_secs(10),
        || !tcp_accepts(srv_ns, "10.231.0.1", 5556),
    );
    assert!(!server
        .saved_config()
        .listeners
        .iter()
        .any(|l| l.port == 5556));
    v.fails(53, &["/CMD", "ListenerDelete", "5557"]);
    v.fails(53, &["/CMD", "ListenerEnable", "5557"]);

    // --- local bridges: a veth is Operating, a missing device shows Error
    let o = v.ok(&["/CMD", "BridgeDeviceList"]);
    assert!(
        o.text.lines().any(|l| l.trim() == LAN_BRIDGE_DEV),
        "{}",
        o.text
    );
    let dev = format!("/DEVICE:{LAN_BRIDGE_DEV}");
    v.ok(&["/CMD", "BridgeCreate", "TEST", &dev]);
    v.ok(&["/CMD", "BridgeCreate", "TEST", "/DEVICE:nodev0"]);
    let o = v.wait_for(&["/CMD", "BridgeList"], Duration::from_secs(10), |o| {
        bridge_status(&o.text, LAN_BRIDGE_DEV) == Some("Operating".into())
    });
    assert_eq!(
        bridge_status(&o.text, "nodev0").as_deref(),
        Some("Error"),
        "{}",
        o.text
    );
    assert_eq!(server.saved_config().local_bridges.len(), 2);
    let o = v.ok(&[hub, "/CMD", "SessionList"]);
    let bridge_sid = o
        .rows("Session Name")
        .into_iter()
        .find(|s| s.starts_with("SID-LOCALBRIDGE-"))
        .unwrap_or_else(|| panic!("no local bridge session:\n{}", o.text))
        .to_owned();
    v.fails(82, &[hub, "/CMD", "SessionDisconnect", &bridge_sid]);
    v.ok(&["/CMD", "BridgeDelete", "TEST", &dev]);
    v.ok(&["/CMD", "BridgeDelete", "TEST", "/DEVICE:nodev0"]);
    v.fails(29, &["/CMD", "BridgeDelete", "TEST", "/DEVICE:nodev0"]);
    let o = v.ok(&["/CMD", "BridgeList"]);
    assert_eq!(bridge_status(&o.text, LAN_BRIDGE_DEV), None, "{}", o.text);
    assert!(server.saved_config().local_bridges.is_empty());

    // --- ConfigGet returns a file that ConfigSet accepts back; a changed
    // file takes effect at once (hub and listener)
    v.ok(&["/CMD", "ConfigGet", "got.config"]);
    let got = std::fs::read(v.dir().join("got.config")).unwrap();
    assert_eq!(
        got,
        std::fs::read(server.config_path()).unwrap(),
        "ConfigGet returns the file as saved"
    );
    let cfg =
        rustether_config::ServerConfig::from_root(&rustether_config::parse_bytes(&got).unwrap())
            .unwrap();
    assert!(cfg.hub("TEST").is_some());
    v.ok(&["/CMD", "ConfigSet", "got.config"]);
    let o = v.ok(&["/CMD", "HubList"]);
    assert!(o.rows("Virtual Hub Name").contains(&"TEST"), "{}", o.text);
    let mut changed = cfg.clone();
    changed.hubs.push(HubConfig::new(
        "CFGSET",
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    ));
    changed.listeners.push(ListenerConfig {
        port: 5570,
        enabled: true,
        disable_dos: false,
    });
    std::fs::write(v.dir().join("new.config"), write_text(&changed.to_root())).unwrap();
    v.ok(&["/CMD", "ConfigSet", "new.config"]);
    let o = v.ok(&["/CMD", "HubList"]);
    assert!(o.rows("Virtual Hub Name").contains(&"CFGSET"), "{}", o.text);
    eventually(
        "port 5570 from ConfigSet to accept",
        Duration::from_secs(10),
        || tcp_accepts(srv_ns, "10.231.0.1", 5570),
    );
    assert!(server.saved_config().hub("CFGSET").is_some());
    std::fs::write(v.dir().join("bad.config"), "declare root\n{\n").unwrap();
    v.fails(38, &["/CMD", "ConfigSet", "bad.config"]);
    assert!(
        server.saved_config().hub("CFGSET").is_some(),
        "a bad file changes nothing"
    );
    v.ok(&["/CMD", "HubDelete", "CFGSET"]);

    // --- Flush reports the size of the file on disk
    let o = v.ok(&["/CMD", "Flush"]);
    let size = std::fs::metadata(server.config_path()).unwrap().len();
    assert!(
        o.text
            .contains(&format!("The file size is {} bytes.", thousands(size))),
        "{size}:\n{}",
        o.text
    );

    // --- a hub administrator is confined to the hub
    let ha = ["/HUB:TEST", "/PASSWORD:hubpw"];
    let o = v.ok(&[ha[0], ha[1], "/CMD", "HubList"]);
    assert_eq!(o.rows("Virtual Hub Name"), vec!["TEST"], "{}", o.text);
    v.fails(
        52,
        &[ha[0], ha[1], "/CMD", "HubCreate", "X2", "/PASSWORD:a"],
    );
    v.fails(52, &[ha[0], ha[1], "/CMD", "ListenerCreate", "5590"]);
    v.fails(52, &[ha[0], ha[1], "/CMD", "ConfigGet"]);
    v.fails(9, &["/HUB:TEST", "/PASSWORD:wrong", "/CMD", "UserList"]);
    v.fails(8, &["/HUB:NOPE", "/PASSWORD:x", "/CMD", "UserList"]);

    // --- hub administration options restrict the hub administrator: it
    // may read them, change them only with allow_hub_admin_change_option,
    // and is refused what no_change_users forbids; max_users limits
    // everyone; all saved in the hub's AdminOption folder
    let has = |args: &[&'static str]| -> Vec<&'static str> {
        let mut a = vec![ha[0], ha[1], "/CMD"];
        a.extend_from_slice(args);
        a
    };
    let o = v.ok(&has(&["AdminOptionList"]));
    assert_eq!(option_value(&o, "no_change_users"), Some("0"), "{}", o.text);
    v.fails(52, &has(&["AdminOptionSet", "no_change_users", "/VALUE:1"]));
    v.ok(&[hub, "/CMD", "AdminOptionSet", "no_change_users", "/VALUE:1"]);
    let create_bob = has(&[
        "UserCreate",
        "bob",
        "/GROUP:none",
        "/REALNAME:none",
        "/NOTE:none",
    ]);
    v.fails(52, &create_bob);
    v.ok(&[
        hub,
        "/CMD",
        "AdminOptionSet",
        "allow_hub_admin_change_option",
        "/VALUE:1",
    ]);
    v.ok(&has(&["AdminOptionSet", "no_change_users", "/VALUE:0"]));
    v.ok(&create_bob);
    v.ok(&[hub, "/CMD", "AdminOptionSet", "max_users", "/VALUE:1"]);
    v.fails(
        63,
        &[
            hub,
            "/CMD",
            "UserCreate",
            "carol",
            "/GROUP:none",
            "/REALNAME:none",
            "/NOTE:none",
        ],
    );
    let saved = server.saved_config();
    let ao = saved
        .hub("TEST")
        .unwrap()
        .raw
        .folder("AdminOption")
        .unwrap();
    assert_eq!(ao.get_uint("max_users"), Some(1));
    assert_eq!(ao.get_uint("allow_hub_admin_change_option"), Some(1));
    v.ok(&[hub, "/CMD", "AdminOptionSet", "max_users", "/VALUE:0"]);
    // extended options: stored under SoftEther's keys in the hub's Option
    // folder; deny_hub_admin_change_ext_option locks the hub administrator out
    let o = v.ok(&has(&["ExtOptionList"]));
    assert_eq!(
        option_value(&o, "NoAddressPollingIPv4"),
        Some("0"),
        "{}",
        o.text
    );
    assert_eq!(option_value(&o, "VlanTypeId"), Some("33024"), "{}", o.text);
    v.ok(&has(&["ExtOptionSet", "NoAddressPollingIPv4", "/VALUE:1"]));
    let saved = server.saved_config();
    let ho = saved.hub("TEST").unwrap().raw.folder("Option").unwrap();
    assert_eq!(ho.get_bool("NoArpPolling"), Some(true));
    v.ok(&[
        hub,
        "/CMD",
        "AdminOptionSet",
        "deny_hub_admin_change_ext_option",
        "/VALUE:1",
    ]);
    v.fails(52, &has(&["ExtOptionSet", "NoIpTable", "/VALUE:1"]));
    v.ok(&[hub, "/CMD", "ExtOptionSet", "NoIpTable", "/VALUE:1"]);
    let o = v.ok(&has(&["ExtOptionList"]));
    assert_eq!(option_value(&o, "NoIpTable"), Some("1"), "{}", o.text);

    // --- RadiusServerSet / RadiusServerGet / RadiusServerDelete: stored in
    // the hub folder where SoftEther keeps it
    v.ok(&[
        hub,
        "/CMD",
        "RadiusServerSet",
        "192.0.2.10:1645",
        "/SECRET:s3cret",
        "/RETRY_INTERVAL:2000",
    ]);
    let o = v.ok(&[hub, "/CMD", "RadiusServerGet"]);
    assert_eq!(o.row("Use RADIUS Server"), Some("Enable"), "{}", o.text);
    assert_eq!(
        o.row("RADIUS Server Port Number"),
        Some("1645"),
        "{}",
        o.text
    );
    assert_eq!(o.row("Shared Secret"), Some("s3cret"), "{}", o.text);
    assert_eq!(
        o.row("Retry Interval (in milliseconds)"),
        Some("2000"),
        "{}",
        o.text
    );
    let saved = server.saved_config();
    let raw = &saved.hub("TEST").unwrap().raw;
    assert_eq!(raw.get_str("RadiusServerName"), Some("192.0.2.10"));
    assert_eq!(raw.get_bytes("RadiusSecret"), Some(&b"s3cret"[..]));
    assert_eq!(raw.get_uint("RadiusServerPort"), Some(1645));

    v.ok(&[hub, "/CMD", "RadiusServerDelete"]);
    let o = v.ok(&[hub, "/CMD", "RadiusServerGet"]);
    assert_eq!(o.row("Use RADIUS Server"), Some("Disable"), "{}", o.text);

    // --- every action is logged with its source address
    let log = server.log();
    for line in [
        "admin: 10.231.0.1 CreateHub hub=TEST ok",
        "admin: 10.231.0.1 CreateUser hub=TEST ok",
        "admin: 10.231.0.1 DeleteSession hub=TEST ok",
        "admin: 10.231.0.1 CreateHub hub=test error 57",
        "admin: 10.231.0.11 login as server administrator refused",
    ] {
        assert!(log.contains(line), "log lacks {line:?}");
    }

    // --- a server password: wrong passwords get error 9 and are slowed down
    v.ok(&["/CMD", "ServerPasswordSet", "adminpw"]);
    assert_ne!(
        server.saved_config().server.hashed_password,
        rustether_config::model::empty_password_hash()
    );
    // The server states each lockout in its log ("next attempt in N ms"):
    // 3 free failures, then 1 s, doubling with each further failure. The
    // test waits out what the server stated before the next wrong attempt,
    // so that it is checked (and counted) rather than throttled.
    let throttle = ThrottlePolicy::default();
    let policy = |failures: u32| throttle.delay_after(failures).as_millis() as u64;
    let mut off = server.log().len();
    for failures in 1..=5u32 {
        v.fails(9, &["/PASSWORD:wrong", "/CMD", "HubList"]);
        let log = server.log();
        let stated = lockout_ms(&log[off..]);
        off = log.len();
        let want = policy(failures);
        assert_eq!(
            stated,
            (want > 0).then_some(want),
            "lockout after {failures} failures, as the server logged it:\n{}",
            &log[log.len().saturating_sub(2000)..]
        );
        if failures < 5 {
            std::thread::sleep(Duration::from_millis(want));
        }
    }
    // Locked out for 4 s now: an attempt even with the right password is
    // held for the rest of the lockout, then refused without checking it.
    v.fails(9, &["/PASSWORD:adminpw", "/CMD", "HubList"]);
    let log = server.log();
    let held = throttled_ms(&log[off..]).expect("the server logs the throttled attempt");
    assert!(
        held > 0 && held <= policy(5),
        "held {held} ms of a {} ms lockout",
        policy(5)
    );
    // Held until the lockout ended: the next attempt is checked at once.
    let o = v.ok(&["/PASSWORD:adminpw", "/CMD", "HubList"]);
    assert!(o.rows("Virtual Hub Name").contains(&"TEST"));
    // with a password, other machines may administer
    remote.ok(&["/PASSWORD:adminpw", "/CMD", "HubList"]);
    v.fails(9, &["/CMD", "HubList"]);

    // --- HubDelete
    let pw = "/PASSWORD:adminpw";
    v.ok(&[pw, "/CMD", "HubDelete", "TEST"]);
    v.fails(8, &[pw, "/CMD", "HubDelete", "TEST"]);
    let o = v.ok(&[pw, "/CMD", "HubList"]);
    assert!(!o.rows("Virtual Hub Name").contains(&"TEST"), "{}", o.text);
    assert!(server.saved_config().hub("TEST").is_none());
    server.ensure_running().unwrap();

    // --- Reboot (RebootServer): not for a hub administrator; the server
    // restarts in the same process on the same listener with its saved
    // configuration, and with /RESETCONFIG:yes from the initial one
    v.ok(&[pw, "/CMD", "HubCreate", "KEEP", "/PASSWORD:keeppw"]);
    v.fails(52, &["/HUB:KEEP", "/PASSWORD:keeppw", "/CMD", "Reboot"]);
    let pid = server.pid();
    let restarted = |server: &OurServer, off: usize| {
        let log = server.log();
        log.len() > off && log[off..].contains("started; listening on")
    };
    let off = server.log().len();
    v.ok(&[pw, "/CMD", "Reboot"]);
    eventually("the server restarted", Duration::from_secs(30), || {
        restarted(&server, off)
    });
    let o = v.ok(&[pw, "/CMD", "HubList"]);
    assert!(o.rows("Virtual Hub Name").contains(&"KEEP"), "{}", o.text);
    assert_eq!(server.pid(), pid, "restarted in the same process");
    let off = server.log().len();
    v.ok(&[pw, "/CMD", "Reboot", "/RESETCONFIG:yes"]);
    eventually(
        "the server restarted with the initial configuration",
        Duration::from_secs(30),
        || restarted(&server, off),
    );
    // the initial configuration: no administrator password, hub DEFAULT
    let o = v.ok(&["/CMD", "HubList"]);
    assert!(!o.rows("Virtual Hub Name").contains(&"KEEP"), "{}", o.text);
    assert!(
        o.rows("Virtual Hub Name").contains(&"DEFAULT"),
        "{}",
        o.text
    );
    assert!(server.saved_config().hub("KEEP").is_none());
    server.ensure_running().unwrap();
}

/// The value column of option `name` in vpncmd's `AdminOptionList` /
/// `ExtOptionList` output (an `Item |name` line, then `Value |v`).
/// A RADIUS PAP responder on 127.0.0.1 of a namespace (UDP socket bound
/// from a thread that joined it): answers Access-Accept to `user` with
/// `password` (revealed with `secret`, so a wrong secret or password gets
/// Access-Reject) and records `"<user> accept|reject"` per request.
struct RadiusResponder {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<String>>,
}

impl RadiusResponder {
    fn start(
        ns: &Netns,
        secret: &'static [u8],
        user: &'static str,
        password: &'static [u8],
    ) -> Self {
        use rustether_proto::radius;
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let path = format!("/var/run/netns/{}", ns.name());
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let f = std::fs::File::open(&path).expect("open the namespace");
            nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            let sock = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
            sock.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            tx.send(sock.local_addr().unwrap().port()).unwrap();
            let mut seen = Vec::new();
            let mut buf = vec![0u8; radius::MAX_PACKET];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let p = &buf[..n];
                let attrs = radius::request_attributes(p).expect("request");
                let get = |t: u8| attrs.iter().find(|a| a.0 == t).map(|a| a.1).unwrap_or(&[]);
                let ra: [u8; 16] = p[4..20].try_into().unwrap();
                let name = String::from_utf8_lossy(get(1)).into_owned();
                let ok = name == user
                    && radius::reveal_password(get(2), secret, &ra).as_deref() == Some(password);
                seen.push(format!("{name} {}", if ok { "accept" } else { "reject" }));
                let code = if ok {
                    radius::CODE_ACCESS_ACCEPT
                } else {
                    radius::CODE_ACCESS_REJECT
                };
                let reply = radius::encode_reply(code, p, secret).expect("reply");
                let _ = sock.send_to(&reply, from);
            }
            seen
        });
        let port = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("responder port");
        RadiusResponder { port, stop, thread }
    }

    /// Stops the responder; what it saw.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().expect("responder thread")
    }
}

fn option_value<'a>(o: &'a Out, name: &str) -> Option<&'a str> {
    let mut lines = o.text.lines().filter_map(|l| l.split_once('|'));
    while let Some((k, v)) = lines.next() {
        if k.trim_end() == "Item" && v.trim() == name {
            return lines
                .next()
                .filter(|(k, _)| k.trim_end() == "Value")
                .map(|(_, v)| v.trim());
        }
    }
    None
}

/// The lockout the server logged in `log` ("repeated failed logins; next
/// attempt in N ms"), if any.
fn lockout_ms(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        let rest = l.split("repeated failed logins; next attempt in ").nth(1)?;
        rest.strip_suffix(" ms")?.trim().parse().ok()
    })
}

/// How long the server held a throttled login, as it logged it ("login
/// throttled after repeated failures; refused after N ms").
fn throttled_ms(log: &str) -> Option<u64> {
    log.lines().rev().find_map(|l| {
        let rest = l
            .split("login throttled after repeated failures; refused after ")
            .nth(1)?;
        rest.strip_suffix(" ms")?.trim().parse().ok()
    })
}

/// The status column of the `BridgeList` row of `device`
/// (`1 |TEST |lanbr |Operating`).
fn bridge_status(text: &str, device: &str) -> Option<String> {
    text.lines().find_map(|l| {
        let cols: Vec<&str> = l.split('|').map(str::trim).collect();
        (cols.len() == 4 && cols[2] == device).then(|| cols[3].to_owned())
    })
}

/// Cascades between two of our servers (CascadeCreate, CascadePasswordSet,
/// CascadeList, CascadeStatusGet, CascadeOnline, CascadeOffline,
/// CascadeDelete), then a user created just before a SIGKILL is there after
/// the restart.
#[test]
fn vpncmd_cascades_and_crash_safety() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("admin-cascade").unwrap();
    let ns = Netns::new("admcasc").unwrap();
    let lo = Ipv4Addr::LOCALHOST;
    let a_port = PORT;
    let b_port = 5565;
    let mut a = OurServer::start(
        &ns,
        dir.path(),
        "server-a",
        a_port,
        &config_text(&ServerConfigSpec::with_hub(a_port, "TEST", &[]), false),
    )
    .unwrap();
    let mut b = OurServer::start(
        &ns,
        dir.path(),
        "server-b",
        b_port,
        &config_text(
            &ServerConfigSpec::with_hub(b_port, "REMOTE", &[UserSpec::new("bob", "bobpw")]),
            false,
        ),
    )
    .unwrap();
    let va = Vpncmd::new(
        &ns,
        &dir.subdir("vpncmd").unwrap(),
        SocketAddrV4::new(lo, a_port),
    )
    .unwrap();
    let vb = va.with_port(b_port);
    let hub = "/ADMINHUB:TEST";

    let server_arg = format!("/SERVER:127.0.0.1:{b_port}");
    va.ok(&[
        hub,
        "/CMD",
        "CascadeCreate",
        "l1",
        &server_arg,
        "/HUB:REMOTE",
        "/USERNAME:bob",
    ]);
    va.fails(
        59,
        &[
            hub,
            "/CMD",
            "CascadeCreate",
            "L1",
            &server_arg,
            "/HUB:REMOTE",
            "/USERNAME:bob",
        ],
    );
    va.ok(&[
        hub,
        "/CMD",
        "CascadePasswordSet",
        "l1",
        "/PASSWORD:bobpw",
        "/TYPE:standard",
    ]);
    let saved = a.saved_config();
    let c = saved.hub("TEST").unwrap().cascade("l1").unwrap();
    assert!(!c.online, "cascades are created offline");
    assert_eq!((c.hostname.as_str(), c.port), ("127.0.0.1", b_port));
    let o = va.ok(&[hub, "/CMD", "CascadeList"]);
    assert_eq!(o.row("Setting Name"), Some("l1"), "{}", o.text);
    assert_eq!(o.row("Status"), Some("Offline (Stopped)"), "{}", o.text);
    va.fails(61, &[hub, "/CMD", "CascadeStatusGet", "l1"]);

    va.ok(&[hub, "/CMD", "CascadeOnline", "l1"]);
    assert!(
        a.saved_config()
            .hub("TEST")
            .unwrap()
            .cascade("l1")
            .unwrap()
            .online
    );
    let o = va.wait_for(
        &[hub, "/CMD", "CascadeList"],
        Duration::from_secs(30),
        |o| o.row("Status") == Some("Online (Established)"),
    );
    assert_eq!(
        o.row("Destination VPN Server"),
        Some("127.0.0.1"),
        "{}",
        o.text
    );
    let o = va.ok(&[hub, "/CMD", "CascadeStatusGet", "l1"]);
    assert_eq!(
        o.row("Session Status"),
        Some("Connection Completed (Session Established)"),
        "{}",
        o.text
    );
    // the remote end is a session of bob on server B
    let o = vb.ok(&["/ADMINHUB:REMOTE", "/CMD", "SessionList"]);
    assert!(
        o.rows("Session Name")
            .iter()
            .any(|s| s.starts_with("SID-BOB-")),
        "{}",
        o.text
    );
    // the local end cannot be disconnected (73)
    let o = va.ok(&[hub, "/CMD", "SessionList"]);
    let link = o
        .rows("Session Name")
        .into_iter()
        .find(|s| s.starts_with("SID-LINK-"))
        .unwrap_or_else(|| panic!("no cascade session:\n{}", o.text))
        .to_owned();
    assert_eq!(o.row("User Name"), Some("Cascade"), "{}", o.text);
    va.fails(73, &[hub, "/CMD", "SessionDisconnect", &link]);

    // --- CascadeRename (RenameLink): a running cascade keeps running under
    // its new name, saved under that name
    va.fails(29, &[hub, "/CMD", "CascadeRename", "nope", "/NEW:x"]);
    for (old, new) in [("l1", "l2"), ("l2", "l1")] {
        va.ok(&[hub, "/CMD", "CascadeRename", old, &format!("/NEW:{new}")]);
        va.wait_for(
            &[hub, "/CMD", "CascadeList"],
            Duration::from_secs(30),
            |o| {
                o.row("Setting Name") == Some(new)
                    && o.row("Status") == Some("Online (Established)")
            },
        );
        let saved = a.saved_config();
        let h = saved.hub("TEST").unwrap();
        assert!(h.cascade(new).is_some() && h.cascade(old).is_none());
    }

    va.ok(&[hub, "/CMD", "CascadeOffline", "l1"]);
    let o = va.ok(&[hub, "/CMD", "CascadeList"]);
    assert_eq!(o.row("Status"), Some("Offline (Stopped)"), "{}", o.text);
    vb.wait_for(
        &["/ADMINHUB:REMOTE", "/CMD", "SessionList"],
        Duration::from_secs(20),
        |o| !o.text.contains("SID-BOB-"),
    );
    va.ok(&[hub, "/CMD", "CascadeDelete", "l1"]);
    va.fails(29, &[hub, "/CMD", "CascadeDelete", "l1"]);
    let o = va.ok(&[hub, "/CMD", "CascadeList"]);
    assert_eq!(o.row("Setting Name"), None, "{}", o.text);
    assert!(a.saved_config().hub("TEST").unwrap().cascades.is_empty());
    b.ensure_running().unwrap();
    drop(b);

    // --- SIGKILL right after UserCreate + UserPasswordSet: nothing is lost
    va.ok(&[
        hub,
        "/CMD",
        "UserCreate",
        "carol",
        "/GROUP:none",
        "/REALNAME:none",
        "/NOTE:none",
    ]);
    va.ok(&[
        hub,
        "/CMD",
        "UserPasswordSet",
        "carol",
        "/PASSWORD:CarolPw1",
    ]);
    let pid = a.pid();
    a.kill9();
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the server must be gone"
    );
    a.restart(&ns).unwrap();
    let o = va.ok(&[hub, "/CMD", "UserGet", "carol"]);
    assert_eq!(o.row("User Name"), Some("carol"), "{}", o.text);
    let saved = a.saved_config();
    let carol = saved.hub("TEST").unwrap().user("carol").unwrap();
    assert!(
        matches!(carol.auth, UserAuth::Password { hash, .. } if hash == password_hash("carol", "CarolPw1")),
        "{:?}",
        carol.auth
    );
}
