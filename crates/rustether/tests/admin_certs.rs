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
