//! Session features of our vpnserver with the REAL SoftEther VPN Client 5.01
//! and vpncmd (issue 8, item 4): half-duplex connections and QoS off,
//! anonymous and plain-password logins, the idle timeout of a user policy,
//! `ConfigSet` while real clients are connected, and the hub settings
//! vpncmd changes (`StatusGet`, `OptionsGet`, `SetMaxSession`,
//! `SetHubPassword`, `SetEnumDeny`/`SetEnumAllow`, `KeepGet`/`KeepDisable`),
//! each checked by its effect on a real client or on the server's state.
//!
//! Everything runs in network namespaces without a default route (the T1
//! topology of `rustether_testkit::t1`); prerequisites go through
//! `rustether_testkit::prereq` (skipped visibly without them, failing when
//! `CI` is set). `RUSTETHER_KEEP_LOGS=1` keeps the working directories.

mod admin_support;

use std::net::SocketAddrV4;
use std::time::Duration;

use admin_support::{Out, Vpncmd};
use rustether_testkit::anyhow::{self, ensure, Context, Result};
use rustether_testkit::client::{AccountSpec, AccountStatus};
use rustether_testkit::cmd::wait_until;
use rustether_testkit::exclusive;
use rustether_testkit::measure::ping;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options, HUB, PORT, SERVER_ADDR};

/// What every lab of this file needs.
const LAB: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("ping"),
    Prereq::Program("curl"),
];

/// `/ADMINHUB:` argument of the lab's hub.
const ADMINHUB: &str = "/ADMINHUB:DEFAULT";

fn ours() -> ServerKind {
    ServerKind::Ours(env!("CARGO_BIN_EXE_vpnserver").into())
}

/// Topology with `n` client namespaces, our server (hub DEFAULT, users
/// u1, u2), a vpnclient with NIC `vpn` in each client namespace; no
/// account yet.
fn lab(label: &str, n: usize) -> T1Lab {
    let opts = T1Options {
        n_clients: n,
        ..T1Options::default()
    };
    let r = (|| -> Result<T1Lab> {
        let mut lab = T1Lab::prepare(label, opts)?;
        lab.start_server(&ours())?;
        lab.start_clients()?;
        Ok(lab)
    })();
    r.unwrap_or_else(|e| panic!("{e:#}"))
}

/// The real vpncmd in the server's namespace, aimed at the lab's server.
fn vpncmd(lab: &T1Lab) -> Vpncmd {
    let dir = lab.dir().join("vpncmd");
    Vpncmd::new(&lab.topo.server, &dir, SocketAddrV4::new(SERVER_ADDR, PORT))
        .expect("vpncmd sandbox")
}

/// Account `name` on lab client `i` as `user`/`password`, one TCP
/// connection, QoS on (the lab defaults); not connected.
fn account(lab: &T1Lab, i: usize, name: &str, user: &str, password: &str) -> Result<()> {
    let spec = AccountSpec::new(
        name,
        SocketAddrV4::new(SERVER_ADDR, PORT),
        HUB,
        user,
        password,
    );
    lab.clients[i].client.account_create(&spec)
}

/// Connect account `name` of client `i` and wait until it is established.
fn connect(lab: &mut T1Lab, i: usize, name: &str) -> Result<AccountStatus> {
    let c = &mut lab.clients[i].client;
    c.connect(name)?;
    c.wait_established(name, Duration::from_secs(60))
}

/// (session name, user name) of every session in `SessionList` output.
fn sessions(o: &Out) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = Vec::new();
    for line in o.text.lines() {
        let Some((k, val)) = line.split_once('|') else {
            continue;
        };
        match k.trim_end() {
            "Session Name" => v.push((val.trim().to_owned(), String::new())),
            "User Name" => {
                if let Some(last) = v.last_mut() {
                    last.1 = val.trim().to_owned();
                }
            }
            _ => {}
        }
    }
    v
}

/// The name of the one session of `user` on the hub.
fn session_of(v: &Vpncmd, user: &str) -> Result<String> {
    let o = v.ok(&[ADMINHUB, "/CMD", "SessionList"]);
    let mine: Vec<String> = sessions(&o)
        .into_iter()
        .filter(|(_, u)| u == user)
        .map(|(s, _)| s)
        .collect();
    ensure!(
        mine.len() == 1,
        "expected one session of {user}, got {mine:?}:\n{}",
        o.text
    );
    Ok(mine[0].clone())
}

/// Hub names an anonymous client gets from our server with `enum_hub`
/// (SoftEther `src/Cedar/Protocol.c`, the hub list of the client's account
/// dialog): curl in the server's namespace sends the signature POST and
/// then the `method=enum_hub` PACK on the same TLS connection; the answer
/// PACK is decoded with `rustether_proto`.
fn anonymous_enum_hub(lab: &T1Lab, dir: &std::path::Path) -> Result<Vec<String>> {
    use rustether_proto::messages::{ClientRequest, EnumHubReply};
    use rustether_proto::pack::Pack;
    let req = dir.join("enum_hub.pack");
    let reply = dir.join("enum_hub.reply");
    let _ = std::fs::remove_file(&reply);
    std::fs::write(&req, ClientRequest::EnumHub.to_pack().encode())?;
    let base = format!("https://{SERVER_ADDR}:{PORT}/vpnsvc");
    let (sig, vpn) = (format!("{base}/connect.cgi"), format!("{base}/vpn.cgi"));
    let req_arg = format!("@{}", req.display());
    let reply_s = reply.to_string_lossy().into_owned();
    let out = rustether_testkit::cmd::run(
        &mut lab.topo.server.command(
            "curl",
            &[
                "-sSk",
                "--http1.1",
                "-H",
                "Content-Type: image/jpeg",
                "--data-binary",
                "VPNCONNECT",
                "-o",
                "/dev/null",
                &sig,
                "--next",
                "-sSk",
                "--http1.1",
                "-H",
                "Content-Type: application/octet-stream",
                "--data-binary",
                &req_arg,
                "-o",
                &reply_s,
                &vpn,
            ],
        ),
        Duration::from_secs(30),
    )?;
    ensure!(out.status.success(), "curl enum_hub: {}", out.combined());
    let bytes = std::fs::read(&reply)?;
    let pack = Pack::decode(&bytes).map_err(|e| anyhow::anyhow!("enum_hub reply: {e}"))?;
    let r = EnumHubReply::from_pack(&pack)
        .map_err(|e| anyhow::anyhow!("enum_hub reply: error {e:?}"))?;
    Ok(r.hubs)
}

/// 10 pings 0.2 s apart from client `from` to client `to`: all answered.
fn ping_ok(lab: &T1Lab, from: usize, to: usize) -> Result<()> {
    let dst = lab.clients[to].inner;
    let p = ping(lab.client_ns(from), dst, 10, Duration::from_millis(200))?;
    ensure!(
        p.sent == 10 && p.received == 10,
        "ping client {from} -> {dst}: {p:?}"
    );
    Ok(())
}

/// Half-duplex connections and QoS off: client 0 asks for 4 TCP connections
/// in half-duplex mode (`AccountDetailSet /MAXTCP:4 /HALF:yes /NOQOS:yes`).
/// The session comes up with 4 connections, 2 uplink and 2 downlink (the
/// server assigns each additional connection a direction), the client
/// shows half-duplex mode and QoS disabled, our server's SessionGet agrees,
/// and traffic crosses the hub both ways.
#[test]
fn real_client_half_duplex_without_qos() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = lab("sess-half", 2);
    lab.check(|lab| {
        account(lab, 0, "half", "u1", "rt-pass-u1")?;
        lab.clients[0].client.vpncmd(&[
            "AccountDetailSet",
            "half",
            "/MAXTCP:4",
            "/INTERVAL:1",
            "/TTL:0",
            "/HALF:yes",
            "/BRIDGE:no",
            "/MONITOR:no",
            "/NOTRACK:no",
            "/NOQOS:yes",
            "/DISABLEUDP:yes",
        ])?;
        account(lab, 1, "full", "u2", "rt-pass-u2")?;
        connect(lab, 0, "half")?;
        connect(lab, 1, "full")?;
        let c = &lab.clients[0].client;
        let mut st = c.status("half")?;
        wait_until(
            "4 TCP connections of the half-duplex session",
            Duration::from_secs(60),
            Duration::from_millis(300),
            || {
                st = c.status("half")?;
                Ok(st.tcp_connections() == Some(4))
            },
        )
        .with_context(|| format!("last status: {:?}", st.items))?;
        ensure!(
            st.get("Half Duplex TCP Connection Mode") == Some("Yes (Half Duplex Mode)"),
            "half-duplex mode: {:?}",
            st.items
        );
        ensure!(
            st.get("VoIP / QoS Function") == Some("Disabled"),
            "QoS: {:?}",
            st.items
        );
        let up = st.get("Number of Uplink TCP Connections");
        let down = st.get("Number of Downlink TCP Connections");
        ensure!(
            up == Some("2") && down == Some("2"),
            "directions: uplink {up:?}, downlink {down:?}: {:?}",
            st.items
        );
        // The full-duplex client keeps QoS on and full duplex.
        let st1 = lab.clients[1].client.status("full")?;
        ensure!(
            st1.get("Half Duplex TCP Connection Mode") == Some("No (Full Duplex Mode)")
                && st1.get("VoIP / QoS Function") == Some("Enabled"),
            "full-duplex client: {:?}",
            st1.items
        );
        // Our server's view of the half-duplex session.
        let v = vpncmd(lab);
        let sid = session_of(&v, "u1")?;
        let o = v.ok(&[ADMINHUB, "/CMD", "SessionGet", &sid]);
        ensure!(
            o.row("Half Duplex TCP Connection Mode") == Some("Yes (Half Duplex Mode)")
                && o.row("VoIP / QoS Function") == Some("Disabled")
                && o.row("Number of TCP Connections") == Some("4"),
            "SessionGet {sid}:\n{}",
            o.text
        );
        ping_ok(lab, 0, 1)?;
        ping_ok(lab, 1, 0)?;
        Ok(())
    });
}

/// Anonymous and plain-password logins of the real client.
///
/// - user `guest` created with vpncmd `UserCreate` + `UserAnonymousSet`:
///   the client with `AccountAnonymousSet` logs in and its traffic crosses
///   the hub;
/// - user u2 (a password user on our side) with the client's plain password
///   type (`AccountPasswordSet /TYPE:radius`: the password itself is sent,
///   as for RADIUS / NT domain users) logs in; the wrong plain password is
///   refused with error 9;
/// - anonymous authentication as password user u1 is refused with error 9.
#[test]
fn real_client_anonymous_and_plain_password_logins() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = lab("sess-anon", 2);
    lab.check(|lab| {
        let v = vpncmd(lab);
        v.ok(&[
            ADMINHUB,
            "/CMD",
            "UserCreate",
            "guest",
            "/GROUP:none",
            "/REALNAME:none",
            "/NOTE:none",
        ]);
        v.ok(&[ADMINHUB, "/CMD", "UserAnonymousSet", "guest"]);
        let o = v.ok(&[ADMINHUB, "/CMD", "UserGet", "guest"]);
        ensure!(
            o.row("Auth Type") == Some("Anonymous Authentication"),
            "{}",
            o.text
        );

        // anonymous as a password user: refused
        account(lab, 0, "anonbad", "u1", "unused")?;
        lab.clients[0]
            .client
            .vpncmd(&["AccountAnonymousSet", "anonbad"])?;
        let e = lab.clients[0]
            .client
            .connect_expect_error("anonbad", Duration::from_secs(30))?;
        ensure!(e.code == 9, "anonymous login as u1: {e:?}");

        // wrong plain password: refused
        account(lab, 1, "plainbad", "u2", "unused")?;
        lab.clients[1].client.vpncmd(&[
            "AccountPasswordSet",
            "plainbad",
            "/PASSWORD:not-the-password",
            "/TYPE:radius",
        ])?;
        let e = lab.clients[1]
            .client
            .connect_expect_error("plainbad", Duration::from_secs(30))?;
        ensure!(e.code == 9, "wrong plain password: {e:?}");

        // anonymous guest
        account(lab, 0, "anon", "guest", "unused")?;
        lab.clients[0]
            .client
            .vpncmd(&["AccountAnonymousSet", "anon"])?;
        let st = connect(lab, 0, "anon")?;
        ensure!(st.established(), "{:?}", st.items);

        // plain password of u2
        account(lab, 1, "plain", "u2", "unused")?;
        lab.clients[1].client.vpncmd(&[
            "AccountPasswordSet",
            "plain",
            "/PASSWORD:rt-pass-u2",
            "/TYPE:radius",
        ])?;
        connect(lab, 1, "plain")?;

        let o = v.ok(&[ADMINHUB, "/CMD", "SessionList"]);
        let users: Vec<String> = sessions(&o).into_iter().map(|(_, u)| u).collect();
        ensure!(
            users.iter().any(|u| u == "guest") && users.iter().any(|u| u == "u2"),
            "sessions of guest and u2 expected:\n{}",
            o.text
        );
        lab.wait_inner_ping(0, 1, Duration::from_secs(20))?;
        ping_ok(lab, 0, 1)?;
        Ok(())
    });
}

/// The idle timeout of a user policy with a real client: u1 gets policy
/// `TimeOut` 10 s (vpncmd `UserPolicySet`). Connected and idle, the client's
/// keep-alives hold the session across two timeout periods (same
/// session, no timeout logged). When the client's underlay is cut (its
/// `eth0` down), our server drops the session, logging the policy's
/// 10000 ms (the default would be 20000 ms), and the session leaves
/// SessionList; with the link up again the client logs in again (a new
/// session).
#[test]
fn real_client_idle_timeout_policy() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = lab("sess-idle", 1);
    lab.check(|lab| {
        let v = vpncmd(lab);
        v.ok(&[
            ADMINHUB,
            "/CMD",
            "UserPolicySet",
            "u1",
            "/NAME:TimeOut",
            "/VALUE:10",
        ]);
        account(lab, 0, "idle", "u1", "rt-pass-u1")?;
        connect(lab, 0, "idle")?;
        let sid = session_of(&v, "u1")?;
        let needle = "nothing received for 10000 ms";
        let server_log = |lab: &T1Lab| -> Result<String> {
            let s = lab.server()?;
            let p = s.log_dir().join(format!("server-{}.log", s.kind().label()));
            std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
        };
        // Idle for two timeout periods: the client's keep-alives hold it.
        std::thread::sleep(Duration::from_secs(20));
        ensure!(
            lab.clients[0].client.status("idle")?.established(),
            "the idle session dropped while the client was alive"
        );
        ensure!(
            session_of(&v, "u1")? == sid,
            "the idle session was replaced"
        );
        ensure!(
            !server_log(lab)?.contains(needle),
            "a timeout was logged while the client was alive"
        );

        // Cut the client's underlay: nothing reaches the server any more.
        let ns = lab.client_ns(0);
        ns.ip(&["link", "set", "eth0", "down"])?;
        let r = wait_until(
            "the server to time the silent client's session out",
            Duration::from_secs(60),
            Duration::from_millis(300),
            || {
                let o = v.run(&[ADMINHUB, "/CMD", "SessionList"]);
                let gone = !o.text.contains(&sid);
                Ok(gone && server_log(lab)?.contains(needle))
            },
        );
        ns.link_up("eth0")?;
        r.with_context(|| {
            format!(
                "server log tail:\n{}",
                lab.server().map(|s| s.log_tail(20)).unwrap_or_default()
            )
        })?;
        // The client notices (its status may still show the old session
        // for a moment) and logs in again: a new session on the server.
        wait_until(
            "the client to log in again after the timeout",
            Duration::from_secs(90),
            Duration::from_millis(500),
            || {
                let o = v.run(&[ADMINHUB, "/CMD", "SessionList"]);
                Ok(sessions(&o).iter().any(|(s, u)| u == "u1" && *s != sid))
            },
        )?;
        let c = &mut lab.clients[0].client;
        c.wait_established("idle", Duration::from_secs(30))?;
        Ok(())
    });
}

/// After the real vpnclient disconnects (`AccountDisconnect`), the server
/// keeps the session, without connections, until its receive timeout has
/// passed (the client could resume it with an additional connection), then
/// removes it: SoftEther's behaviour (src/Cedar/Session.c `SessionMain`
/// ends a session on `LastCommTime`, not with its last socket), checked on
/// SoftEther's server and ours in the same test.
#[test]
fn real_client_disconnect_leaves_the_session_until_its_timeout() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    for kind in [ServerKind::SoftEther, ours()] {
        let label = format!("sess-linger-{}", &kind.label()[..4]);
        let mut lab = (|| -> Result<T1Lab> {
            let mut lab = T1Lab::prepare(
                &label,
                T1Options {
                    n_clients: 1,
                    ..T1Options::default()
                },
            )?;
            lab.start_server(&kind)?;
            lab.start_clients()?;
            Ok(lab)
        })()
        .unwrap_or_else(|e| panic!("{e:#}"));
        let what = kind.label();
        lab.check(|lab| {
            let v = vpncmd(lab);
            account(lab, 0, "linger", "u1", "rt-pass-u1")?;
            connect(lab, 0, "linger")?;
            let sid = session_of(&v, "u1")?;
            lab.clients[0].client.disconnect("linger")?;
            // The default policy's 20 s timeout counts from the last
            // keep-alive, sent at most 10 s before the disconnect.
            let o = v.run(&[ADMINHUB, "/CMD", "SessionList"]);
            ensure!(
                o.text.contains(&sid),
                "{what}: the session left at once:\n{}",
                o.text
            );
            wait_until(
                "the session to leave after its timeout",
                Duration::from_secs(60),
                Duration::from_millis(500),
                || {
                    Ok(!v
                        .run(&[ADMINHUB, "/CMD", "SessionList"])
                        .text
                        .contains(&sid))
                },
            )
            .with_context(|| what.to_string())?;
            Ok(())
        });
    }
}

/// `ConfigSet` while two real clients are connected: the configuration
/// fetched with ConfigGet, with a hub added, is uploaded with ConfigSet; the
/// new hub exists at once, both clients stay connected in the same
/// sessions, and traffic keeps crossing the hub. A password changed in an
/// uploaded file takes effect at once: u2's old password is refused.
#[test]
fn configset_while_real_clients_are_connected() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = lab("sess-cfgset", 2);
    lab.check(|lab| {
        lab.connect_all()?;
        lab.wait_inner_ping(0, 1, Duration::from_secs(20))?;
        let v = vpncmd(lab);
        let s1 = session_of(&v, "u1")?;
        let s2 = session_of(&v, "u2")?;

        v.ok(&["/CMD", "ConfigGet", "got.config"]);
        let got = std::fs::read(v.dir().join("got.config"))?;
        let mut cfg =
            rustether_config::ServerConfig::from_root(&rustether_config::parse_bytes(&got)?)?;
        cfg.hubs.push(rustether_config::HubConfig::new(
            "LIVE2",
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        ));
        std::fs::write(
            v.dir().join("new.config"),
            rustether_config::write_text(&cfg.to_root()),
        )?;
        v.ok(&["/CMD", "ConfigSet", "new.config"]);
        let o = v.ok(&["/CMD", "HubList"]);
        ensure!(o.rows("Virtual Hub Name").contains(&"LIVE2"), "{}", o.text);
        for c in &lab.clients {
            let st = c.client.status(&c.account)?;
            ensure!(
                st.established(),
                "{}: dropped by ConfigSet: {:?}",
                c.client.label(),
                st.items
            );
        }
        ensure!(
            session_of(&v, "u1")? == s1 && session_of(&v, "u2")? == s2,
            "the sessions were replaced by ConfigSet"
        );
        ping_ok(lab, 0, 1)?;

        // A password changed by ConfigSet applies to the next login.
        v.ok(&[
            ADMINHUB,
            "/CMD",
            "UserPasswordSet",
            "u2",
            "/PASSWORD:changed-pw",
        ]);
        // Back to the file with the old password: the old one works again,
        // the one set in between not.
        v.ok(&["/CMD", "ConfigSet", "new.config"]);
        lab.clients[1].client.disconnect("t1")?;
        account(lab, 1, "newpw", "u2", "changed-pw")?;
        let e = lab.clients[1]
            .client
            .connect_expect_error("newpw", Duration::from_secs(30))?;
        ensure!(
            e.code == 9,
            "the password replaced by ConfigSet still works: {e:?}"
        );
        let c = &mut lab.clients[1].client;
        c.connect("t1")?;
        c.wait_established("t1", Duration::from_secs(60))?;
        ping_ok(lab, 0, 1)?;
        Ok(())
    });
}

/// Hub settings through vpncmd, each checked by its effect:
/// - `StatusGet` counts the hub's sessions (0, then 1 with a real client);
/// - `SetMaxSession`: a local bridge (`BridgeCreate /TAP:yes`) does not
///   count, so with 2 a second real client gets in; with 1 (`OptionsGet`
///   shows 1) it is refused with error 16 (ERR_HUB_IS_BUSY) while the
///   first stays; `SetMaxSession 0` lets it in;
/// - `SetHubPassword`: the hub administrator logs in with the new password
///   (`/HUB:DEFAULT`), the old one is refused with error 9;
/// - `SetEnumDeny` / `SetEnumAllow`: `OptionsGet` and the saved `NoEnum`;
/// - `KeepGet` / `KeepEnable` / `KeepDisable`: the state shown and saved.
#[test]
fn vpncmd_hub_settings_take_effect() {
    if !require(LAB) {
        return;
    }
    let _x = exclusive();
    let mut lab = lab("sess-hubset", 2);
    lab.check(|lab| {
        let v = vpncmd(lab);
        let o = v.ok(&[ADMINHUB, "/CMD", "StatusGet"]);
        ensure!(o.row("Sessions") == Some("0"), "{}", o.text);
        ensure!(o.row("Users") == Some("2"), "{}", o.text);

        account(lab, 0, "a", "u1", "rt-pass-u1")?;
        account(lab, 1, "b", "u2", "rt-pass-u2")?;
        connect(lab, 0, "a")?;
        let o = v.ok(&[ADMINHUB, "/CMD", "StatusGet"]);
        ensure!(o.row("Sessions") == Some("1"), "{}", o.text);

        // --- Hub: selects a hub for the following commands (a batch file)
        std::fs::write(v.dir().join("hub.txt"), "Hub DEFAULT\nStatusGet\n")?;
        let o = v.ok(&["/IN:hub.txt"]);
        ensure!(
            o.text
                .contains("The Virtual Hub \"DEFAULT\" has been selected.")
                && o.row("Virtual Hub Name") == Some("DEFAULT"),
            "{}",
            o.text
        );
        v.fails(8, &["/CMD", "Hub", "NOSUCHHUB"]);

        // --- SetMaxSession. A TAP-mode local bridge on the hub does not
        // count (as SoftEther's `hub->NumSessions`, src/Cedar/Protocol.c):
        // with MaxSession 2, client a and the bridge, client b still gets in.
        v.ok(&["/CMD", "BridgeCreate", HUB, "/DEVICE:msb", "/TAP:yes"]);
        v.wait_for(&["/CMD", "BridgeList"], Duration::from_secs(20), |o| {
            o.text.contains("msb") && o.text.contains("Operating")
        });
        let o = v.ok(&[ADMINHUB, "/CMD", "StatusGet"]);
        ensure!(
            o.row("Sessions") == Some("2"),
            "client a and the local bridge:\n{}",
            o.text
        );
        v.ok(&[ADMINHUB, "/CMD", "SetMaxSession", "2"]);
        connect(lab, 1, "b")?;
        lab.clients[1].client.disconnect("b")?;
        // As on SoftEther the session waits for the client to resume it
        // until its receive timeout (20 s) has passed.
        v.wait_for(
            &[ADMINHUB, "/CMD", "SessionList"],
            Duration::from_secs(60),
            |o| !sessions(o).iter().any(|(_, u)| u == "u2"),
        );
        v.ok(&[ADMINHUB, "/CMD", "SetMaxSession", "1"]);
        let o = v.ok(&[ADMINHUB, "/CMD", "OptionsGet"]);
        ensure!(o.row("Max Number of Sessions") == Some("1"), "{}", o.text);
        let e = lab.clients[1]
            .client
            .connect_expect_error("b", Duration::from_secs(30))?;
        ensure!(e.code == 16, "second client with MaxSession 1: {e:?}");
        ensure!(
            lab.clients[0].client.status("a")?.established(),
            "the first client must stay"
        );
        v.ok(&[ADMINHUB, "/CMD", "SetMaxSession", "0"]);
        let o = v.ok(&[ADMINHUB, "/CMD", "OptionsGet"]);
        ensure!(
            o.row("Max Number of Sessions") == Some("Infinite"),
            "{}",
            o.text
        );
        connect(lab, 1, "b")?;
        let o = v.ok(&[ADMINHUB, "/CMD", "StatusGet"]);
        ensure!(o.row("Sessions") == Some("3"), "{}", o.text);

        // --- SetHubPassword
        v.ok(&[ADMINHUB, "/CMD", "SetHubPassword", "hubpw-1"]);
        let o = v.ok(&["/HUB:DEFAULT", "/PASSWORD:hubpw-1", "/CMD", "UserList"]);
        ensure!(o.rows("User Name").contains(&"u1"), "{}", o.text);
        v.ok(&[ADMINHUB, "/CMD", "SetHubPassword", "hubpw-2"]);
        v.fails(
            9,
            &["/HUB:DEFAULT", "/PASSWORD:hubpw-1", "/CMD", "UserList"],
        );
        v.ok(&["/HUB:DEFAULT", "/PASSWORD:hubpw-2", "/CMD", "UserList"]);

        // --- SetEnumDeny / SetEnumAllow
        let saved_no_enum = |lab: &T1Lab| -> Result<bool> {
            let s = lab.server()?;
            let bytes = std::fs::read(s.config_path())?;
            let cfg =
                rustether_config::ServerConfig::from_root(&rustether_config::parse_bytes(&bytes)?)?;
            Ok(cfg.hub(HUB).context("hub DEFAULT saved")?.no_enum)
        };
        let enum_row = "Enumeration of Virtual Hub for Anonymous User";
        let o = v.ok(&[ADMINHUB, "/CMD", "OptionsGet"]);
        ensure!(o.row(enum_row) == Some("Allow"), "{}", o.text);
        v.ok(&["/CMD", "HubCreate", "SHOWN", "/PASSWORD:x"]);
        let hubs = anonymous_enum_hub(lab, v.dir())?;
        ensure!(
            hubs.iter().any(|h| h == HUB) && hubs.iter().any(|h| h == "SHOWN"),
            "anonymous enumeration before SetEnumDeny: {hubs:?}"
        );
        v.ok(&[ADMINHUB, "/CMD", "SetEnumDeny"]);
        let hubs = anonymous_enum_hub(lab, v.dir())?;
        ensure!(
            !hubs.iter().any(|h| h == HUB) && hubs.iter().any(|h| h == "SHOWN"),
            "anonymous enumeration after SetEnumDeny must hide {HUB}: {hubs:?}"
        );
        let o = v.ok(&[ADMINHUB, "/CMD", "OptionsGet"]);
        ensure!(o.row(enum_row) == Some("Deny"), "{}", o.text);
        ensure!(saved_no_enum(lab)?, "NoEnum saved after SetEnumDeny");
        v.ok(&[ADMINHUB, "/CMD", "SetEnumAllow"]);
        let o = v.ok(&[ADMINHUB, "/CMD", "OptionsGet"]);
        ensure!(o.row(enum_row) == Some("Allow"), "{}", o.text);
        ensure!(!saved_no_enum(lab)?, "NoEnum cleared after SetEnumAllow");
        let hubs = anonymous_enum_hub(lab, v.dir())?;
        ensure!(
            hubs.iter().any(|h| h == HUB),
            "anonymous enumeration after SetEnumAllow: {hubs:?}"
        );

        // --- KeepGet / KeepEnable / KeepDisable
        let saved_keep = |lab: &T1Lab| -> Result<bool> {
            let s = lab.server()?;
            let bytes = std::fs::read(s.config_path())?;
            let cfg =
                rustether_config::ServerConfig::from_root(&rustether_config::parse_bytes(&bytes)?)?;
            Ok(cfg.server.use_keep_connect)
        };
        let o = v.ok(&["/CMD", "KeepGet"]);
        ensure!(o.row("Current Status") == Some("Disable"), "{}", o.text);
        v.ok(&["/CMD", "KeepEnable"]);
        let o = v.ok(&["/CMD", "KeepGet"]);
        ensure!(o.row("Current Status") == Some("Enable"), "{}", o.text);
        ensure!(saved_keep(lab)?, "UseKeepConnect saved after KeepEnable");
        v.ok(&["/CMD", "KeepDisable"]);
        let o = v.ok(&["/CMD", "KeepGet"]);
        ensure!(o.row("Current Status") == Some("Disable"), "{}", o.text);
        ensure!(
            !saved_keep(lab)?,
            "UseKeepConnect cleared after KeepDisable"
        );

        for c in &lab.clients {
            ensure!(c
                .client
                .status(if c.index == 0 { "a" } else { "b" })?
                .established());
        }
        Ok(())
    });
}
