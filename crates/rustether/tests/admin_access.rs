//! Access lists administered with the real SoftEther `vpncmd` 5.01 (issue
//! 12 item 2), checked by effect on real `vpnclient`s: a discard entry
//! drops pings to one client while pings to another pass; a pass entry of
//! higher priority for one user lets that user's pings through; a
//! destination user name entry drops frames on their way to that user;
//! `AccessDisable` / `AccessEnable` / `AccessDelete` take effect on the next
//! frame; the list is stored in `VirtualHUB/<hub>/AccessList` of
//! `vpn_server.config` and is back after a restart. The source IP access
//! control list (`AcAdd`, `AcAdd6`, `AcList`, `AcDel`) refuses a client's
//! login from a denied address with error 109 while another client still
//! logs in.
//!
//! Needs root (network namespaces), `/dev/net/tun` and the SoftEther Debian
//! packages (`testkit::prereq`). `RUSTETHER_INTEROP_SERVER=softether` runs
//! the same checks against SoftEther's vpnserver (except the checks of what
//! this server does not support and of its own file).

mod admin_support;

use std::net::SocketAddrV4;
use std::time::Duration;

use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{client_inner, client_underlay, T1Lab, T1Options, PORT, SERVER_ADDR};

const NEEDS: &[Prereq] = &[Prereq::Netns, Prereq::Tun, Prereq::SoftEther];

/// True if one of two pings from client `from` to client `to` is answered.
fn ping(lab: &T1Lab, from: usize, to: usize) -> bool {
    let t = client_inner(to).to_string();
    lab.client_ns(from)
        .command("ping", &["-n", "-c", "2", "-W", "1", &t])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The vpncmd arguments of `AccessAdd` with every parameter given (vpncmd
/// prompts for missing ones).
fn access_add<'a>(rule: &'a [&'a str]) -> Vec<String> {
    let mut args: Vec<String> = ["/ADMINHUB:DEFAULT", "/CMD", "AccessAdd"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let defaults = [
        "/MEMO:",
        "/PRIORITY:",
        "/SRCUSERNAME:",
        "/DESTUSERNAME:",
        "/SRCMAC:",
        "/DESTMAC:",
        "/SRCIP:0.0.0.0/0",
        "/DESTIP:0.0.0.0/0",
        "/PROTOCOL:",
        "/SRCPORT:",
        "/DESTPORT:",
        "/TCPSTATE:",
    ];
    args.push(rule[0].to_string());
    for d in defaults {
        let key = &d[..d.find(':').map_or(d.len(), |i| i + 1)];
        match rule[1..].iter().find(|r| r.starts_with(key)) {
            Some(r) => args.push(r.to_string()),
            None => args.push(d.to_string()),
        }
    }
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn vpncmd_access_list_filters_pings() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let t0 = std::time::Instant::now();
    let phase = |what: &str| eprintln!("admin_access: {what} at {:?}", t0.elapsed());
    let kind = ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"));
    let ours = matches!(kind, ServerKind::Ours(_));
    let opts = T1Options {
        n_clients: 3,
        ..T1Options::default()
    };
    let mut lab = T1Lab::start("accesslist-acl", &kind, opts).unwrap();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let vdir = lab.dir().join("vpncmd");
    std::fs::create_dir_all(&vdir).unwrap();
    let v = Vpncmd::new(&lab.topo.server, &vdir, target).unwrap();
    let hub = "/ADMINHUB:DEFAULT";
    lab.wait_inner_ping(0, 2, Duration::from_secs(20)).unwrap();
    lab.wait_inner_ping(2, 1, Duration::from_secs(20)).unwrap();

    phase("lab up");
    // --- a discard entry drops pings to client 1; pings to client 2 pass
    let to1 = format!("/DESTIP:{}/32", client_inner(1));
    v.ok(&strs(&access_add(&[
        "discard",
        "/MEMO:no ping to c1",
        "/PRIORITY:100",
        &to1,
        "/PROTOCOL:icmp",
    ])));
    assert!(!ping(&lab, 0, 1), "the discard entry should drop 0 -> 1");
    assert!(ping(&lab, 0, 2), "0 -> 2 is not covered by the entry");

    phase("discard entry");
    // --- a pass entry with higher priority for user u3 (client 2) wins
    v.ok(&strs(&access_add(&[
        "pass",
        "/MEMO:u3 may ping",
        "/PRIORITY:10",
        "/SRCUSERNAME:u3",
        "/PROTOCOL:icmp",
    ])));
    assert!(ping(&lab, 2, 1), "u3's pass entry comes first");
    assert!(!ping(&lab, 0, 1), "u1 is still refused");

    let o = v.ok(&[hub, "/CMD", "AccessList"]);
    assert!(o.text.contains("no ping to c1"), "{}", o.text);
    assert!(o.text.contains("u3 may ping"), "{}", o.text);
    // Priority order: the pass entry (10) got Id 1, the discard entry Id 2.
    let ids = o.rows("ID");
    assert_eq!(ids, ["1", "2"], "{}", o.text);
    let actions = o.rows("Action");
    assert_eq!(actions, ["Pass", "Discard"], "{}", o.text);
    if ours {
        let cfg = std::fs::read_to_string(lab.server().unwrap().config_path()).unwrap();
        assert!(cfg.contains("declare AccessList"), "{cfg}");
        assert!(cfg.contains("string Note no$20ping$20to$20c1"), "{cfg}");
    }

    phase("pass entry");
    // --- AccessDisable / AccessEnable / AccessDelete act on the next frame
    v.ok(&[hub, "/CMD", "AccessDisable", "2"]);
    assert!(ping(&lab, 0, 1), "disabled entry must not drop");
    v.ok(&[hub, "/CMD", "AccessEnable", "2"]);
    assert!(!ping(&lab, 0, 1), "re-enabled entry drops again");
    v.fails(29, &[hub, "/CMD", "AccessEnable", "9"]);

    phase("enable/disable");
    // --- the list survives a restart (read back from the file)
    if ours {
        let path = lab.server().unwrap().config_path().to_path_buf();
        lab.stop_server().unwrap();
        let saved = lab.dir().join("acl-saved.config");
        std::fs::copy(&path, &saved).unwrap();
        lab.start_server_with_file(&kind, &saved).unwrap();
        let o = v.wait_for(&[hub, "/CMD", "AccessList"], Duration::from_secs(20), |o| {
            o.rows("ID").len() == 2
        });
        assert_eq!(o.rows("Action"), ["Pass", "Discard"], "{}", o.text);
        for c in &mut lab.clients {
            let a = c.account.clone();
            let _ = c.client.disconnect(&a);
            c.client.connect(&a).unwrap();
            c.client
                .wait_established(&a, Duration::from_secs(30))
                .unwrap();
        }
        lab.wait_inner_ping(0, 2, Duration::from_secs(30)).unwrap();
        assert!(!ping(&lab, 0, 1), "the loaded entry drops 0 -> 1");
    }
    v.ok(&[hub, "/CMD", "AccessDelete", "2"]);
    v.fails(29, &[hub, "/CMD", "AccessDelete", "2"]);
    lab.wait_inner_ping(0, 1, Duration::from_secs(10)).unwrap();

    phase("restart");
    // --- a destination user entry: frames to u3 are dropped on the way
    v.ok(&strs(&access_add(&[
        "discard",
        "/MEMO:nothing to u3",
        "/PRIORITY:50",
        "/DESTUSERNAME:u3",
        "/PROTOCOL:icmp",
    ])));
    assert!(!ping(&lab, 0, 2), "frames to u3 are dropped");
    assert!(ping(&lab, 0, 1), "frames to u2 pass");
    v.ok(&[hub, "/CMD", "AccessDelete", "2"]);
    lab.wait_inner_ping(0, 2, Duration::from_secs(10)).unwrap();

    phase("destination user");
    // --- IPv6 entries are stored and listed
    v.ok(&[
        hub,
        "/CMD",
        "AccessAdd6",
        "discard",
        "/MEMO:v6",
        "/PRIORITY:200",
        "/SRCUSERNAME:",
        "/DESTUSERNAME:",
        "/SRCMAC:",
        "/DESTMAC:",
        "/SRCIP:fd00::/64",
        "/DESTIP:::/0",
        "/PROTOCOL:tcp",
        "/SRCPORT:",
        "/DESTPORT:22",
        "/TCPSTATE:",
    ]);
    // AccessAddEx / AccessAddEx6 without delay, jitter or loss are plain entries
    let ex_tail = ["/SRCUSERNAME:", "/DESTUSERNAME:", "/SRCMAC:", "/DESTMAC:"];
    let mut ex6 = vec![
        hub,
        "/CMD",
        "AccessAddEx6",
        "pass",
        "/MEMO:ex6",
        "/PRIORITY:210",
    ];
    ex6.extend(ex_tail);
    ex6.extend([
        "/SRCIP:::/0",
        "/DESTIP:fd00::2/128",
        "/PROTOCOL:udp",
        "/SRCPORT:",
        "/DESTPORT:53",
        "/TCPSTATE:",
        "/DELAY:0",
        "/JITTER:0",
        "/LOSS:0",
    ]);
    v.ok(&ex6);
    let mut ex4 = vec![
        hub,
        "/CMD",
        "AccessAddEx",
        "pass",
        "/MEMO:ex4",
        "/PRIORITY:220",
    ];
    ex4.extend(ex_tail);
    ex4.extend([
        "/SRCIP:0.0.0.0/0",
        "/DESTIP:10.9.9.9/32",
        "/PROTOCOL:tcp",
        "/SRCPORT:",
        "/DESTPORT:80",
        "/TCPSTATE:established",
        "/DELAY:0",
        "/JITTER:0",
        "/LOSS:0",
    ]);
    v.ok(&ex4);
    let o = v.ok(&[hub, "/CMD", "AccessList"]);
    assert!(o.text.contains("fd00::/64"), "{}", o.text);
    assert_eq!(o.rows("ID").len(), 4, "{}", o.text);
    assert!(
        o.text.contains("ex6") && o.text.contains("ex4"),
        "{}",
        o.text
    );

    phase("ipv6 entries");
    // --- what this server does not apply is refused, not stored
    if ours {
        v.fails(
            33,
            &[
                hub,
                "/CMD",
                "AccessAddEx",
                "pass",
                "/MEMO:slow",
                "/PRIORITY:300",
                "/SRCUSERNAME:",
                "/DESTUSERNAME:",
                "/SRCMAC:",
                "/DESTMAC:",
                "/SRCIP:0.0.0.0/0",
                "/DESTIP:0.0.0.0/0",
                "/PROTOCOL:",
                "/SRCPORT:",
                "/DESTPORT:",
                "/TCPSTATE:",
                "/DELAY:100",
                "/JITTER:0",
                "/LOSS:0",
            ],
        );
        let o = v.ok(&[hub, "/CMD", "AccessList"]);
        assert!(!o.text.contains("slow"), "{}", o.text);
    }

    phase("unsupported");
    // --- source IP access control: client 0's address is refused at login
    let c0 = format!("/IP:{}/32", client_underlay(0));
    v.ok(&[hub, "/CMD", "AcAdd", "deny", "/PRIORITY:10", &c0]);
    v.ok(&[
        hub,
        "/CMD",
        "AcAdd6",
        "allow",
        "/PRIORITY:5",
        "/IP:fd00::/64",
    ]);
    let o = v.ok(&[hub, "/CMD", "AcList"]);
    assert!(
        o.text.contains(&client_underlay(0).to_string()),
        "{}",
        o.text
    );
    assert!(o.text.contains("fd00::"), "{}", o.text);
    for i in [0, 1] {
        let c = &mut lab.clients[i];
        let a = c.account.clone();
        c.client.disconnect(&a).unwrap();
        if i == 0 {
            let e = c
                .client
                .connect_expect_error(&a, Duration::from_secs(30))
                .unwrap();
            assert_eq!(e.code, 109, "{e:?}");
        } else {
            c.client.connect(&a).unwrap();
            c.client
                .wait_established(&a, Duration::from_secs(30))
                .unwrap();
        }
    }
    if ours {
        let cfg = std::fs::read_to_string(lab.server().unwrap().config_path()).unwrap();
        assert!(cfg.contains("declare IPAccessControlList"), "{cfg}");
        assert!(cfg.contains("declare Acl1"), "{cfg}");
    }
    phase("ac deny");
    // AcDel of the deny entry (Id 2 after the allow entry of priority 5)
    v.ok(&[hub, "/CMD", "AcDel", "2"]);
    let c = &mut lab.clients[0];
    let a = c.account.clone();
    let _ = c.client.disconnect(&a);
    c.client.connect(&a).unwrap();
    c.client
        .wait_established(&a, Duration::from_secs(30))
        .unwrap();
    phase("done");
}
