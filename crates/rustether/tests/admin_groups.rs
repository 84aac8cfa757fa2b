//! Groups administered with the real SoftEther `vpncmd` 5.01 (issue 12
//! item 1), checked by effect on a real `vpnclient`: a group policy with
//! `Access` off refuses the login of a member (error 12), the member's own
//! policy wins over the group's, and the group is stored in
//! `SecurityAccountDatabase/GroupList` of `vpn_server.config`.
//!
//! Needs root (network namespaces), `/dev/net/tun` and the SoftEther Debian
//! packages (`testkit::prereq`). `RUSTETHER_INTEROP_SERVER=softether` runs
//! the same checks against SoftEther's vpnserver.

mod admin_support;

use std::net::SocketAddrV4;
use std::time::Duration;

use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options, PORT, SERVER_ADDR};

const NEEDS: &[Prereq] = &[Prereq::Netns, Prereq::Tun, Prereq::SoftEther];

#[test]
fn vpncmd_groups_and_group_policy_at_login() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let kind = ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"));
    let opts = T1Options {
        n_clients: 1,
        ..T1Options::default()
    };
    let mut lab = T1Lab::start("adminbreadth-groups", &kind, opts).unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let vdir = lab.dir().join("vpncmd");
    std::fs::create_dir_all(&vdir).unwrap();
    let v = Vpncmd::new(&lab.topo.server, &vdir, target).unwrap();
    let hub = "/ADMINHUB:DEFAULT";

    // --- GroupCreate / GroupList / GroupSet / GroupGet / GroupJoin
    v.ok(&[
        hub,
        "/CMD",
        "GroupCreate",
        "sales",
        "/REALNAME:Sales",
        "/NOTE:none",
    ]);
    v.fails(
        67,
        &[
            hub,
            "/CMD",
            "GroupCreate",
            "SALES",
            "/REALNAME:x",
            "/NOTE:x",
        ],
    );
    v.ok(&[
        hub,
        "/CMD",
        "GroupSet",
        "sales",
        "/REALNAME:Sales Dept",
        "/NOTE:floor 2",
    ]);
    v.ok(&[hub, "/CMD", "GroupJoin", "sales", "/USERNAME:u1"]);
    v.fails(65, &[hub, "/CMD", "GroupJoin", "nogroup", "/USERNAME:u1"]);
    let o = v.ok(&[hub, "/CMD", "GroupList"]);
    assert_eq!(o.row("Group Name"), Some("sales"), "{}", o.text);
    assert_eq!(o.row("Num Users"), Some("1"), "{}", o.text);
    let o = v.ok(&[hub, "/CMD", "GroupGet", "sales"]);
    assert_eq!(o.row("Full Name"), Some("Sales Dept"), "{}", o.text);
    assert_eq!(o.row("Description"), Some("floor 2"), "{}", o.text);
    assert!(o.text.contains("u1"), "members listed:\n{}", o.text);
    let o = v.ok(&[hub, "/CMD", "UserGet", "u1"]);
    assert_eq!(o.row("Group Name"), Some("sales"), "{}", o.text);

    // --- GroupPolicySet Access=no: the member's next login is refused
    v.ok(&[
        hub,
        "/CMD",
        "GroupPolicySet",
        "sales",
        "/NAME:Access",
        "/VALUE:no",
    ]);
    let o = v.ok(&[hub, "/CMD", "GroupGet", "sales"]);
    assert!(o.text.contains("Access"), "policy listed:\n{}", o.text);
    if matches!(kind, ServerKind::Ours(_)) {
        let cfg = std::fs::read_to_string(lab.server().unwrap().config_path()).unwrap();
        assert!(cfg.contains("declare GroupList"), "{cfg}");
        assert!(cfg.contains("declare sales"), "{cfg}");
    }
    let c = &mut lab.clients[0];
    let account = c.account.clone();
    c.client.disconnect(&account).unwrap();
    let e = c
        .client
        .connect_expect_error(&account, Duration::from_secs(30))
        .unwrap();
    assert_eq!(e.code, 12, "{e:?}");

    // --- the user's own policy wins over the group's
    v.ok(&[
        hub,
        "/CMD",
        "UserPolicySet",
        "u1",
        "/NAME:Access",
        "/VALUE:yes",
    ]);
    c.client.connect(&account).unwrap();
    c.client
        .wait_established(&account, Duration::from_secs(30))
        .unwrap();
    c.client.disconnect(&account).unwrap();
    v.ok(&[hub, "/CMD", "UserPolicyRemove", "u1"]);
    let e = c
        .client
        .connect_expect_error(&account, Duration::from_secs(30))
        .unwrap();
    assert_eq!(e.code, 12, "{e:?}");

    // --- GroupPolicyRemove: the default policy applies again
    v.ok(&[hub, "/CMD", "GroupPolicyRemove", "sales"]);
    c.client.connect(&account).unwrap();
    c.client
        .wait_established(&account, Duration::from_secs(30))
        .unwrap();

    // --- login statistics and traffic (issue 12 item 9), by effect: the
    // member's new session sends broadcast frames of a known size; its
    // traffic shows in UserGet (and in the hub's and the server's
    // totals), the login counts once the session has lived 30 s
    // (SoftEther's NUM_LOGIN_INCREMENT_INTERVAL), and both survive a
    // restart of the server.
    let user_get = || v.ok(&[hub, "/CMD", "UserGet", "u1"]);
    let before = user_get();
    let logins0 = number(before.row("Number of Logins"));
    let bcast0 = number(before.row("Outgoing Broadcast Total Size"));
    let hub0 = number(
        v.ok(&[hub, "/CMD", "StatusGet"])
            .row("Incoming Broadcast Total Size"),
    );
    const FRAMES: u64 = 20;
    const FRAME_BYTES: u64 = 14 + 20 + 8 + 1000; // Ethernet + IPv4 + ICMP + payload
    let _ = rustether_testkit::cmd::run(
        &mut lab.client_ns(0).command(
            "ping",
            &[
                "-b",
                "-n",
                "-q",
                "-c",
                "20",
                "-i",
                "0.05",
                "-s",
                "1000",
                "-w",
                "5",
                "192.168.231.255",
            ],
        ),
        Duration::from_secs(15),
    )
    .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(75);
    let after = loop {
        let o = user_get();
        if number(o.row("Number of Logins")) == logins0 + 1
            && number(o.row("Outgoing Broadcast Total Size")) >= bcast0 + FRAMES * FRAME_BYTES
        {
            break o;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "UserGet: one more login after 30 s and {FRAMES} frames of {FRAME_BYTES} bytes:\n{}",
            o.text
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    let bcast1 = number(after.row("Outgoing Broadcast Total Size"));
    let o = v.ok(&[hub, "/CMD", "StatusGet"]);
    assert!(number(o.row("Num Logins")) >= 1, "{}", o.text);
    // the hub's point of view: it received what the client sent
    assert!(
        number(o.row("Incoming Broadcast Total Size")) >= hub0 + FRAMES * FRAME_BYTES,
        "{}",
        o.text
    );
    let o = v.ok(&["/CMD", "ServerStatusGet"]);
    assert!(
        number(o.row("Incoming Broadcast Total Size")) >= FRAMES * FRAME_BYTES,
        "{}",
        o.text
    );
    // kept across a restart: saved in vpn_server.config at the shutdown
    let saved = lab.dir().join("restart.config");
    let path = lab.server().unwrap().config_path().to_path_buf();
    lab.stop_server().unwrap();
    std::fs::copy(&path, &saved).unwrap();
    if matches!(kind, ServerKind::Ours(_)) {
        let cfg = std::fs::read_to_string(&saved).unwrap();
        assert!(cfg.contains("declare Traffic"), "{cfg}");
    }
    lab.start_server_with_file(&kind, &saved).unwrap();
    let o = user_get();
    assert_eq!(number(o.row("Number of Logins")), logins0 + 1, "{}", o.text);
    assert!(
        number(o.row("Outgoing Broadcast Total Size")) >= bcast1,
        "{}",
        o.text
    );
    let o = v.ok(&[hub, "/CMD", "StatusGet"]);
    assert!(number(o.row("Num Logins")) >= 1, "{}", o.text);
    assert!(
        number(o.row("Incoming Broadcast Total Size")) >= hub0 + FRAMES * FRAME_BYTES,
        "{}",
        o.text
    );

    // --- GroupUnjoin / GroupDelete
    v.ok(&[hub, "/CMD", "GroupUnjoin", "u1"]);
    let o = v.ok(&[hub, "/CMD", "GroupList"]);
    assert_eq!(o.row("Num Users"), Some("0"), "{}", o.text);
    v.ok(&[hub, "/CMD", "GroupJoin", "sales", "/USERNAME:u2"]);
    v.ok(&[hub, "/CMD", "GroupDelete", "sales"]);
    v.fails(29, &[hub, "/CMD", "GroupDelete", "sales"]);
    let o = v.ok(&[hub, "/CMD", "GroupList"]);
    assert_eq!(o.row("Group Name"), None, "{}", o.text);
    let o = v.ok(&[hub, "/CMD", "UserGet", "u2"]);
    assert_eq!(o.row("Group Name"), None, "{}", o.text);
}

/// The number in a vpncmd value such as `20,840 bytes` or `3` (0 if none).
fn number(v: Option<&str>) -> u64 {
    v.unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',')
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}
