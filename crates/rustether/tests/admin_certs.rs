//! Certificate authentication (issue 12 item 4) with the real SoftEther
//! `vpncmd` 5.01 and `vpnclient`, checked by effect: a user with an
//! individual certificate (`UserCertSet`) logs in with
//! `AccountCertSet /LOADCERT: /LOADKEY:`, another certificate with the same
//! names is refused with `ERR_AUTH_FAILED` (9); a user "signed by a trusted
//! CA" (`UserSignedSet` with `/CN:` and `/SERIAL:`) logs in once the CA is
//! trusted (`CAAdd`, `CAList`, `CAGet`) and is refused when the common
//! name or serial differs or the CA is removed (`CADelete`). Certificates
//! are made in the test with `openssl`.
//!
//! Migration (issue 12): a configuration the real SoftEther vpnserver
//! wrote after being set up with the real vpncmd (a group with a policy,
//! an individual-certificate user, a CA-signed user and its CA, access
//! lists, source IP access control, hub log settings) is loaded unchanged
//! by our server and behaves the same with real vpnclients.
//!
//! Needs root (network namespaces), `/dev/net/tun`, the SoftEther Debian
//! packages and `openssl` (`testkit::prereq`). `RUSTETHER_INTEROP_SERVER=softether`
//! runs the same checks against SoftEther's vpnserver.

mod admin_support;

use std::net::SocketAddrV4;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options, PORT, SERVER_ADDR};

const NEEDS: &[Prereq] = &[
    Prereq::Netns,
    Prereq::Tun,
    Prereq::SoftEther,
    Prereq::Program("openssl"),
];

/// Runs `openssl` with `args` in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.pem`/`ca.key`, CN "Lab Root CA"), a client certificate for
/// u1 signed by it (`u1.pem`/`u1.key`, CN u1, serial 0x1234) and a
/// self-signed one with the same names (`rogue.pem`/`rogue.key`).
fn make_certs(dir: &Path) {
    let days = "3650";
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=Lab Root CA/O=Lab",
            "-days",
            days,
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "u1.key",
            "-out",
            "u1.csr",
            "-subj",
            "/CN=u1/O=Lab",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "u1.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            "0x1234",
            "-days",
            days,
            "-out",
            "u1.pem",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rogue.key",
            "-out",
            "rogue.pem",
            "-subj",
            "/CN=u1/O=Lab",
            "-days",
            days,
        ],
    );
}

#[test]
fn certificate_users_log_in_with_the_real_vpnclient() {
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let kind = ServerKind::from_env(env!("CARGO_BIN_EXE_vpnserver"));
    let opts = T1Options {
        n_clients: 1,
        ..T1Options::default()
    };
    let mut lab = T1Lab::start("adminbreadth-certs", &kind, opts).unwrap();
    let certs = lab.dir().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certs(&certs);
    let file = |n: &str| certs.join(n).to_string_lossy().into_owned();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let vdir = lab.dir().join("vpncmd");
    std::fs::create_dir_all(&vdir).unwrap();
    let v = Vpncmd::new(&lab.topo.server, &vdir, target).unwrap();
    let hub = "/ADMINHUB:DEFAULT";
    let c = &mut lab.clients[0];
    let account = c.account.clone();
    let use_cert = |c: &mut rustether_testkit::t1::LabClient, name: &str| {
        c.client
            .vpncmd(&[
                "AccountCertSet",
                &account,
                &format!("/LOADCERT:{}", file(&format!("{name}.pem"))),
                &format!("/LOADKEY:{}", file(&format!("{name}.key"))),
            ])
            .unwrap();
    };
    let logs_in = |c: &mut rustether_testkit::t1::LabClient| {
        c.client.connect(&account).unwrap();
        c.client
            .wait_established(&account, Duration::from_secs(30))
            .unwrap();
        c.client.disconnect(&account).unwrap();
    };
    let refused = |c: &mut rustether_testkit::t1::LabClient| {
        c.client
            .connect_expect_error(&account, Duration::from_secs(30))
            .unwrap()
            .code
    };
    c.client.disconnect(&account).unwrap();

    // --- an individual certificate (UserCertSet)
    v.ok(&[
        hub,
        "/CMD",
        "UserCertSet",
        "u1",
        &format!("/LOADCERT:{}", file("u1.pem")),
    ]);
    let o = v.ok(&[hub, "/CMD", "UserGet", "u1"]);
    assert!(o.text.contains("Certificate"), "{}", o.text);
    use_cert(c, "u1");
    logs_in(c);
    // The same names with another key: refused with ERR_AUTH_FAILED.
    use_cert(c, "rogue");
    assert_eq!(refused(c), 9);

    // --- signed by a trusted CA (CAAdd, UserSignedSet /CN: /SERIAL:)
    v.ok(&[hub, "/CMD", "UserSignedSet", "u1", "/CN:u1", "/SERIAL:1234"]);
    use_cert(c, "u1");
    assert_eq!(refused(c), 9, "no trusted CA yet");
    // vpncmd reads a positional argument that starts with '/' as a
    // parameter name: CAAdd gets a path relative to its directory.
    std::fs::copy(certs.join("ca.pem"), vdir.join("ca.pem")).unwrap();
    v.ok(&[hub, "/CMD", "CAAdd", "ca.pem"]);
    let o = v.ok(&[hub, "/CMD", "CAList"]);
    assert!(o.text.contains("Lab Root CA"), "{}", o.text);
    let id = o.row("ID").expect("CAList shows an ID").to_owned();
    let saved = vdir.join("ca-back.pem");
    v.ok(&[
        hub,
        "/CMD",
        "CAGet",
        &id,
        &format!("/SAVECERT:{}", saved.display()),
    ]);
    assert!(
        std::fs::read_to_string(&saved)
            .unwrap()
            .contains("BEGIN CERTIFICATE"),
        "CAGet saved the certificate"
    );
    logs_in(c);
    use_cert(c, "rogue");
    assert_eq!(refused(c), 9, "not signed by the trusted CA");
    use_cert(c, "u1");
    v.ok(&[hub, "/CMD", "UserSignedSet", "u1", "/CN:u2", "/SERIAL:1234"]);
    assert_eq!(refused(c), 9, "common name differs");
    v.ok(&[hub, "/CMD", "UserSignedSet", "u1", "/CN:u1", "/SERIAL:1235"]);
    assert_eq!(refused(c), 9, "serial differs");
    v.ok(&[hub, "/CMD", "UserSignedSet", "u1", "/CN:u1", "/SERIAL:1234"]);
    logs_in(c);
    // --- the hub's CRL (CrlAdd, CrlList, CrlGet, CrlDel): a revoked
    // certificate is refused with 9, and logs in again once the entry is
    // deleted; an entry for another serial revokes nothing
    v.ok(&[hub, "/CMD", "CrlAdd", "/SERIAL:9999"]);
    logs_in(c);
    v.ok(&[hub, "/CMD", "CrlAdd", "/SERIAL:1234", "/CN:u1"]);
    let o = v.ok(&[hub, "/CMD", "CrlList"]);
    assert!(o.text.contains("12 34"), "{}", o.text);
    let crl_ids: Vec<String> = o.rows("ID").into_iter().map(str::to_owned).collect();
    assert_eq!(crl_ids.len(), 2, "{}", o.text);
    let revoking = crl_ids
        .iter()
        .find(|id| {
            let o = v.ok(&[hub, "/CMD", "CrlGet", id]);
            o.text.contains("12 34")
        })
        .expect("CrlGet shows the serial")
        .clone();
    assert_eq!(refused(c), 9, "the certificate is revoked");
    v.ok(&[hub, "/CMD", "CrlDel", &revoking]);
    logs_in(c);
    if matches!(kind, ServerKind::Ours(_)) {
        let cfg = std::fs::read_to_string(lab.server().unwrap().config_path()).unwrap();
        assert!(cfg.contains("declare CrlList"), "{cfg}");
        assert!(cfg.contains("string Serial 9999"), "{cfg}");
    }
    if matches!(kind, ServerKind::Ours(_)) {
        let cfg = std::fs::read_to_string(lab.server().unwrap().config_path()).unwrap();
        assert!(cfg.contains("declare CertList"), "{cfg}");
        assert!(cfg.contains("declare Cert0"), "{cfg}");
        assert!(cfg.contains("byte X509"), "{cfg}");
        assert!(cfg.contains("uint AuthType 3"), "{cfg}");
    }
    v.ok(&[hub, "/CMD", "CADelete", &id]);
    let c = &mut lab.clients[0];
    assert_eq!(refused(c), 9, "the CA is no longer trusted");
}

/// Writes `lines` (vpncmd commands, one a line) to `dir/name` for `/IN:`.
fn batch(dir: &Path, name: &str, lines: &[String]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    format!("/IN:{}", path.display())
}

/// Issue 12: a configuration written by the real SoftEther vpnserver 5.01
/// (groups with a policy, certificate users, a trusted CA, access lists,
/// source IP access control, hub log settings), configured with the real
/// vpncmd, loads unchanged into our server and behaves the same, checked
/// by effect with real vpnclients: the group's `Access` off refuses its
/// member (12), the source IP rule refuses a client (109), the
/// individual-certificate user and the CA-signed user log in, the access
/// list drops one ping and passes others, and the log settings show in
/// `LogGet` and in the names of the log files that appear.
#[test]
fn softether_written_config_migrates_and_behaves_the_same() {
    use rustether_testkit::t1::{client_inner, client_underlay, HUB};
    if !require(NEEDS) {
        return;
    }
    let _x = exclusive();
    let opts = T1Options {
        n_clients: 4,
        ..T1Options::default()
    };
    let mut lab = T1Lab::prepare("migrate-seconfig", opts).unwrap();
    let t0 = std::time::Instant::now();
    let phase = |what: &str| eprintln!("migrate: {what} at {:?}", t0.elapsed());
    let certs = lab.dir().join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_certs(&certs);
    let file = |n: &str| certs.join(n).to_string_lossy().into_owned();
    let target = SocketAddrV4::new(SERVER_ADDR, PORT);
    let vdir = lab.dir().join("vpncmd");
    std::fs::create_dir_all(&vdir).unwrap();
    std::fs::copy(certs.join("ca.pem"), vdir.join("ca.pem")).unwrap();

    // --- 1. the real SoftEther vpnserver, configured with the real vpncmd
    lab.start_server(&ServerKind::SoftEther).unwrap();
    phase("softether up");
    let v = Vpncmd::new(&lab.topo.server, &vdir, target).unwrap();
    let c1 = client_inner(1);
    let cmds: Vec<String> = [
        format!("Hub {HUB}"),
        "GroupCreate blocked /REALNAME:Blocked /NOTE:none".into(),
        "GroupPolicySet blocked /NAME:Access /VALUE:no".into(),
        "GroupJoin blocked /USERNAME:u3".into(),
        "GroupJoin blocked /USERNAME:u4".into(),
        "UserCreate certuser /GROUP:none /REALNAME:none /NOTE:none".into(),
        format!("UserCertSet certuser /LOADCERT:{}", file("rogue.pem")),
        "UserCreate causer /GROUP:none /REALNAME:none /NOTE:none".into(),
        "UserSignedSet causer /CN:u1 /SERIAL:1234".into(),
        // a relative path: vpncmd reads "/..." as a parameter name
        "CAAdd ca.pem".into(),
        "AccessAdd pass /MEMO:causer-may-ping /PRIORITY:10 /SRCUSERNAME:causer \
         /DESTUSERNAME: /SRCMAC: /DESTMAC: /SRCIP:0.0.0.0/0 /DESTIP:0.0.0.0/0 \
         /PROTOCOL:icmp /SRCPORT: /DESTPORT: /TCPSTATE:"
            .into(),
        format!(
            "AccessAdd discard /MEMO:no-ping-to-c1 /PRIORITY:100 /SRCUSERNAME: \
             /DESTUSERNAME: /SRCMAC: /DESTMAC: /SRCIP:0.0.0.0/0 /DESTIP:{c1}/32 \
             /PROTOCOL:icmp /SRCPORT: /DESTPORT: /TCPSTATE:"
        ),
        format!("AcAdd deny /PRIORITY:10 /IP:{}/32", client_underlay(3)),
        "LogEnable security".into(),
        "LogEnable packet".into(),
        "LogSwitchSet security /SWITCH:hour".into(),
        "LogSwitchSet packet /SWITCH:month".into(),
        "LogPacketSaveType /TYPE:icmp /SAVE:header".into(),
        "Flush".into(),
    ]
    .into_iter()
    .collect();
    let o = v.run(&[&batch(&vdir, "setup.txt", &cmds)]);
    assert_eq!(o.code, 0, "vpncmd batch failed:\n{}", o.text);
    assert_eq!(
        o.text.matches(DONE).count(),
        cmds.len(),
        "every command succeeded:\n{}",
        o.text
    );
    let their_path = lab.server().unwrap().config_path().to_path_buf();
    lab.stop_server().unwrap();
    phase("softether configured and stopped");
    let saved = lab.dir().join("softether-written.config");
    std::fs::copy(&their_path, &saved).unwrap();
    let text = std::fs::read_to_string(&saved).unwrap();
    for what in [
        "declare blocked",
        "declare CertList",
        "declare AccessList",
        "declare IPAccessControlList",
        "uint SecurityLogSwitchType 3",
        "uint PacketLogSwitchType 5",
    ] {
        assert!(text.contains(what), "SoftEther wrote no {what:?}:\n{text}");
    }

    // --- 2. our server on that file, unchanged
    let ours = ServerKind::Ours(env!("CARGO_BIN_EXE_vpnserver").into());
    lab.start_server_with_file(&ours, &saved).unwrap();
    phase("ours up");
    lab.start_clients().unwrap();
    phase("clients up");
    let hub = format!("/ADMINHUB:{HUB}");
    let o = v.ok(&[&hub, "/CMD", "GroupList"]);
    assert_eq!(o.row("Group Name"), Some("blocked"), "{}", o.text);
    assert_eq!(o.row("Num Users"), Some("2"), "{}", o.text);
    let o = v.ok(&[&hub, "/CMD", "CAList"]);
    assert!(o.text.contains("Lab Root CA"), "{}", o.text);
    let o = v.ok(&[&hub, "/CMD", "LogGet"]);
    assert!(o.text.contains("Switch in Every Hour"), "{}", o.text);
    assert!(o.text.contains("Switch in Every Month"), "{}", o.text);

    // Accounts: c0 u1, c1 certuser (its own certificate), c2 first u3 (in
    // the blocked group) then causer (signed by the CA), c3 u4 (denied address).
    for (i, user) in [(0, "u1"), (1, "certuser"), (2, "u3"), (3, "u4")] {
        let mut s = lab.account_spec(i);
        s.user = user.into();
        lab.clients[i].client.account_create(&s).unwrap();
    }
    let acc = lab.clients[0].account.clone();
    let set_cert = |c: &rustether_testkit::t1::LabClient, name: &str| {
        c.client
            .vpncmd(&[
                "AccountCertSet",
                &acc,
                &format!("/LOADCERT:{}", file(&format!("{name}.pem"))),
                &format!("/LOADKEY:{}", file(&format!("{name}.key"))),
            ])
            .unwrap();
    };
    set_cert(&lab.clients[1], "rogue");
    let limit = Duration::from_secs(30);
    // the group policy: u3 refused with ERR_ACCESS_DENIED
    let e = lab.clients[2]
        .client
        .connect_expect_error(&acc, limit)
        .unwrap();
    assert_eq!(e.code, 12, "{e:?}");
    // the source IP access control: u4's address refused with 109
    let e = lab.clients[3]
        .client
        .connect_expect_error(&acc, limit)
        .unwrap();
    assert_eq!(e.code, 109, "{e:?}");
    phase("refusals");
    // the CA-signed user on c2
    lab.clients[2]
        .client
        .vpncmd(&["AccountUsernameSet", &acc, "/USERNAME:causer"])
        .unwrap();
    set_cert(&lab.clients[2], "u1");
    for i in [0, 1, 2] {
        lab.clients[i].client.connect(&acc).unwrap();
    }
    for i in [0, 1, 2] {
        lab.check(|lab| {
            lab.clients[i]
                .client
                .wait_established(&acc, limit)
                .map(drop)
        });
    }
    phase("certificate users in");
    lab.check(|lab| lab.wait_inner_ping(0, 2, Duration::from_secs(20)));
    let ping = |from: usize, to: usize| {
        let t = client_inner(to).to_string();
        lab.client_ns(from)
            .command("ping", &["-n", "-c", "2", "-W", "1", &t])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(ping(2, 1), "causer's pass entry comes first");
    assert!(!ping(0, 1), "the discard entry drops u1's ping to c1");
    phase("access list");

    // The log files, named as the migrated switch types say.
    let root = lab
        .server()
        .unwrap()
        .config_path()
        .parent()
        .unwrap()
        .to_path_buf();
    let name_ok = |dir: &str, re: fn(&str) -> bool| {
        std::fs::read_dir(root.join(dir).join(HUB))
            .map(|rd| rd.flatten().any(|e| re(&e.file_name().to_string_lossy())))
            .unwrap_or(false)
    };
    fn hourly(n: &str) -> bool {
        // sec_YYYYMMDD_HH.log
        n.len() == 19
            && n.starts_with("sec_")
            && n.ends_with(".log")
            && n[4..12].bytes().all(|b| b.is_ascii_digit())
            && &n[12..13] == "_"
            && n[13..15].bytes().all(|b| b.is_ascii_digit())
    }
    fn monthly(n: &str) -> bool {
        // pkt_YYYYMM.log
        n.len() == 14
            && n.starts_with("pkt_")
            && n.ends_with(".log")
            && n[4..10].bytes().all(|b| b.is_ascii_digit())
    }
    eventually("an hourly security log", limit, || {
        name_ok("security_log", hourly)
    });
    eventually("a monthly packet log with ICMP", limit, || {
        name_ok("packet_log", monthly)
            && std::fs::read_dir(root.join("packet_log").join(HUB))
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| std::fs::read_to_string(e.path()).is_ok_and(|t| t.contains("ICMPv4")))
    });
    let o = v.ok(&["/CMD", "LogFileList"]);
    assert!(o.text.contains("security_log/DEFAULT/sec_"), "{}", o.text);
    phase("logs");

    // Saved again by us, the file still carries what SoftEther wrote.
    v.ok(&["/CMD", "Flush"]);
    let ours_text = std::fs::read_to_string(lab.server().unwrap().config_path()).unwrap();
    for what in [
        "declare blocked",
        "declare CertList",
        "string Note no-ping-to-c1",
        "declare IPAccessControlList",
        "uint AuthType 3",
        "uint AuthType 2",
        "uint SecurityLogSwitchType 3",
        "uint PacketLogSwitchType 5",
    ] {
        assert!(
            ours_text.contains(what),
            "we dropped {what:?}:\n{ours_text}"
        );
    }
}
