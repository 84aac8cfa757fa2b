//! Attack suite, administration (issue 9 items 4–7, SECURITY.md): each
//! test plays one attack against our running `vpnserver` in a network
//! namespace, with our own client code (`curl` for JSON-RPC) or the real
//! `vpncmd`, and checks that it is refused.
//!
//! Needs root (network namespaces) and `curl` (`testkit::prereq`: skipped
//! visibly without them, failing when `CI` is set).

mod admin_support;

use std::os::unix::process::CommandExt;
use std::time::Duration;

use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::tmp::TestDir;
use serde_json::{json, Value};

/// `CreateLink` parameters: local hub `hub`, cascade `name` to
/// `host:port`, remote hub DEFAULT as bob.
fn link(hub: &str, name: &str, host: &str, port: u16) -> Value {
    json!({
        "HubName_Ex_str": hub, "AccountName_utf": name, "Hostname_str": host,
        "Port_u32": port, "HubName_str": "DEFAULT", "AuthType_u32": 2,
        "Username_str": "bob", "PlainPassword_str": "bobpw",
        "MaxConnection_u32": 1, "UseEncrypt_bool": true,
    })
}

/// `EnumLink` row of cascade `name` of `hub`.
fn link_row(api: &Api<'_>, auth: &[&str], hub: &str, name: &str) -> Value {
    let r = api.ok(auth, "EnumLink", json!({"HubName_str": hub}));
    r["LinkList"]
        .as_array()
        .and_then(|l| l.iter().find(|x| x["AccountName_utf"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no cascade {name}: {r}"))
}

/// Attack: a hub administrator points cascades at this server itself
/// (loopback, `localhost`, an address of the host, `0.0.0.0`, IPv4-mapped
/// loopback) to reach another hub. Every one is refused at connect time
/// after name resolution (error 1, nothing logs in to hub DEFAULT); the
/// same cascade set by the server administrator connects. Hub admins are
/// limited to `MaxCascadesPerHub` cascades.
#[test]
fn hub_admin_cascade_to_this_server_is_refused() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-cascade").unwrap();
    let ns = Netns::new("hadmcasc").unwrap();
    // An address of the host that is not loopback (found through getifaddrs).
    ns.run(
        "ip",
        &["addr", "add", "10.219.7.1/32", "dev", "lo"],
        Duration::from_secs(10),
    )
    .unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[UserSpec::new("bob", "bobpw")]);
    let text = config_text(&spec, true).replace(
        "bool DisableJsonRpcWebApi false",
        "bool DisableJsonRpcWebApi false\n\t\tuint MaxCascadesPerHub 8",
    );
    let mut server = OurServer::start(&ns, dir.path(), "server", port, &text).unwrap();
    let api = Api {
        ns: &ns,
        url: format!("https://127.0.0.1:{port}/api/"),
    };
    let local: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: x"];
    api.ok(
        local,
        "CreateHub",
        json!({"HubName_str": "A", "AdminPasswordPlainText_str": "hubpw", "Online_bool": true}),
    );
    api.ok(
        local,
        "SetServerPassword",
        json!({"PlainTextPassword_str": "adminpw"}),
    );
    let sa: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: adminpw"];
    let ha: &[&str] = &[
        "-H",
        "X-VPNADMIN-HUBNAME: A",
        "-H",
        "X-VPNADMIN-PASSWORD: hubpw",
    ];
    let targets = [
        ("lo", "127.0.0.1"),
        ("lo2", "127.3.4.5"),
        ("name", "localhost"),
        ("own", "10.219.7.1"),
        ("any", "0.0.0.0"),
        ("mapped", "::ffff:127.0.0.1"),
    ];
    for (name, host) in targets {
        api.ok(ha, "CreateLink", link("A", name, host, port));
        api.ok(
            ha,
            "SetLinkOnline",
            json!({"HubName_str": "A", "AccountName_utf": name}),
        );
        assert!(
            server
                .saved_config()
                .hub("A")
                .unwrap()
                .cascade(name)
                .unwrap()
                .set_by_hub_admin,
            "{name}: marked as set by a hub administrator"
        );
    }
    // The server administrator may cascade to this server (control: the
    // same target does connect).
    api.ok(sa, "CreateLink", link("A", "admin", "127.0.0.1", port));
    api.ok(
        sa,
        "SetLinkOnline",
        json!({"HubName_str": "A", "AccountName_utf": "admin"}),
    );
    eventually(
        "the server admin's cascade is online",
        Duration::from_secs(30),
        || link_row(&api, sa, "A", "admin")["Connected_bool"] == true,
    );
    for (name, host) in targets {
        eventually(
            &format!("the hub admin's cascade to {host} fails"),
            Duration::from_secs(30),
            || link_row(&api, ha, "A", name)["LastError_u32"] != 0,
        );
        let row = link_row(&api, ha, "A", name);
        assert_eq!(row["Connected_bool"], false, "{name}: {row}");
        assert_eq!(row["LastError_u32"], 1, "{name}: ERR_CONNECT_FAILED: {row}");
    }
    let log = server.log();
    assert!(
        log.matches("an address of this server").count() >= targets.len(),
        "each refusal is logged:\n{log}"
    );
    // Exactly one login of bob on DEFAULT: the server admin's cascade
    // (counted in the log, which also records logins that ended).
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("session established") && l.contains("hub=DEFAULT user=bob"))
            .count(),
        1,
        "only the server admin's cascade reached DEFAULT:\n{log}"
    );
    // A hub admin's change to the server admin's cascade confines it.
    api.ok(ha, "SetLink", link("A", "admin", "127.0.0.1", port));
    assert!(
        server
            .saved_config()
            .hub("A")
            .unwrap()
            .cascade("admin")
            .unwrap()
            .set_by_hub_admin
    );
    eventually(
        "the changed cascade is refused",
        Duration::from_secs(30),
        || link_row(&api, sa, "A", "admin")["LastError_u32"] == 1,
    );
    // MaxCascadesPerHub 8: 7 exist, one more, then 110.
    api.ok(ha, "CreateLink", link("A", "eighth", "192.0.2.1", port));
    api.err(ha, "CreateLink", link("A", "ninth", "192.0.2.1", port), 110);
    server.ensure_running().unwrap();
}

/// Attack: reach a server whose migrated configuration restricts
/// `ListenIP` through another address of the host. Only the configured
/// address accepts; a listener created at run time (`CreateListener`)
/// follows `ListenIP` too.
#[test]
fn listen_ip_is_honoured() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-listenip").unwrap();
    let ns = Netns::new("hadmlip").unwrap();
    ns.run(
        "ip",
        &["addr", "add", "10.219.8.1/32", "dev", "lo"],
        Duration::from_secs(10),
    )
    .unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[]);
    let plain = config_text(&spec, true);
    let text = plain.replace("string ListenIP 0.0.0.0", "string ListenIP 127.0.0.1");
    assert_ne!(text, plain, "the testkit configuration names ListenIP");
    let mut server = OurServer::start(&ns, dir.path(), "server", port, &text).unwrap();
    assert!(tcp_accepts(&ns, "127.0.0.1", port), "ListenIP accepts");
    assert!(
        !tcp_accepts(&ns, "10.219.8.1", port),
        "another address of the host must not accept"
    );
    let api = Api {
        ns: &ns,
        url: format!("https://127.0.0.1:{port}/api/"),
    };
    let local: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: x"];
    api.ok(
        local,
        "CreateListener",
        json!({"Port_u32": 5556, "Enable_bool": true}),
    );
    eventually(
        "listener 5556 accepts on ListenIP",
        Duration::from_secs(20),
        || tcp_accepts(&ns, "127.0.0.1", 5556),
    );
    assert!(!tcp_accepts(&ns, "10.219.8.1", 5556));
    server.ensure_running().unwrap();
}

/// Runs `vpnserver password-set --dir <state>` with `stdin`; returns
/// (success, stdout + stderr).
fn password_set(state: &std::path::Path, stdin: &str) -> (bool, String) {
    let script = format!(
        "printf '%s' \"$PW\" | {} password-set --dir {}",
        env!("CARGO_BIN_EXE_vpnserver"),
        state.display()
    );
    let out = rustether_testkit::cmd::run(
        std::process::Command::new("bash")
            .args(["-c", &script])
            .env("PW", stdin),
        Duration::from_secs(30),
    )
    .expect("password-set ran");
    (out.status.success(), out.combined())
}

/// The empty server administrator password: a loud warning at start;
/// `vpnserver password-set` sets it offline (refused while the server
/// runs); `AllowLocalEmptyPasswordAdmin false` (behind a same-host proxy)
/// refuses even local administration without a password.
#[test]
fn empty_admin_password_is_loud_settable_offline_and_local_trust_is_explicit() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-password").unwrap();
    let ns = Netns::new("hadmpw").unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[]);
    let text = config_text(&spec, true);
    let server = OurServer::start(&ns, dir.path(), "server", port, &text).unwrap();
    let api = Api {
        ns: &ns,
        url: format!("https://127.0.0.1:{port}/api/"),
    };
    let any: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: x"];
    eventually(
        "the empty-password warning",
        Duration::from_secs(10),
        || {
            server
                .log()
                .contains("server administrator password is EMPTY")
        },
    );
    api.ok(any, "Test", json!({}));
    let state = server.config_path().parent().unwrap().to_path_buf();
    let (ok, out) = password_set(&state, "n3w-Secret\n");
    assert!(!ok, "refused while the server runs: {out}");
    assert!(out.contains("is running"), "{out}");
    drop(server);

    let (ok, out) = password_set(&state, "n3w-Secret\n");
    assert!(ok, "{out}");
    assert!(out.contains("The command completed successfully."), "{out}");
    let saved = std::fs::read(state.join("vpn_server.config")).unwrap();
    let cfg =
        rustether_config::ServerConfig::from_root(&rustether_config::parse_bytes(&saved).unwrap())
            .unwrap();
    assert_eq!(
        cfg.server.hashed_password,
        rustether_testkit::sha0::sha0(b"n3w-Secret")
    );
    let server = OurServer::start(
        &ns,
        dir.path(),
        "server1",
        port,
        &String::from_utf8_lossy(&saved),
    )
    .unwrap();
    assert!(!server.log().contains("password is EMPTY"));
    assert_eq!(api.post(any, "Test", json!({})).status, 401);
    api.ok(
        &["-H", "X-VPNADMIN-PASSWORD: n3w-Secret"],
        "Test",
        json!({}),
    );
    drop(server);

    // Behind a same-host proxy: local sources are not trusted.
    let text = config_text(&spec, true).replace(
        "bool DisableJsonRpcWebApi false",
        "bool DisableJsonRpcWebApi false\n\t\tbool AllowLocalEmptyPasswordAdmin false",
    );
    let server = OurServer::start(&ns, dir.path(), "server2", port, &text).unwrap();
    assert_eq!(
        api.post(any, "Test", json!({})).status,
        401,
        "no local trust with AllowLocalEmptyPasswordAdmin false"
    );
    assert!(server.log().contains("nobody can administer"));
}

/// Attack (CSRF with cached credentials): a web page makes the browser
/// send `GET /api/CreateHub?...` or an HTML form post. Changing methods run
/// only from a POST with `Content-Type: application/json`; reading ones
/// keep SoftEther's GET form.
#[test]
fn csrf_style_get_and_form_posts_cannot_change_the_server() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-csrf").unwrap();
    let ns = Netns::new("hadmcsrf").unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[]);
    let mut server =
        OurServer::start(&ns, dir.path(), "server", port, &config_text(&spec, true)).unwrap();
    let base = format!("https://127.0.0.1:{port}/api/");
    let auth = ["-u", "administrator:x"];
    let hubs = |server: &OurServer| -> Vec<String> {
        server
            .saved_config()
            .hubs
            .iter()
            .map(|h| h.name.clone())
            .collect()
    };
    // GET form of a changing method: 405, nothing created.
    let get = format!("{base}CreateHub?HubName_str=EVIL1&Online_bool=true");
    let h = curl(&ns, &[auth[0], auth[1], &get]);
    assert_eq!(h.status, 405, "{h:?}");
    // HTML form post (urlencoded) and text/plain: 415.
    let body =
        r#"{"jsonrpc":"2.0","id":"1","method":"CreateHub","params":{"HubName_str":"EVIL2"}}"#;
    let h = curl(&ns, &[auth[0], auth[1], "-d", body, &base]);
    assert_eq!(h.status, 415, "{h:?}");
    let h = curl(
        &ns,
        &[
            auth[0],
            auth[1],
            "-H",
            "Content-Type: text/plain",
            "--data-binary",
            body,
            &base,
        ],
    );
    assert_eq!(h.status, 415, "{h:?}");
    let h = curl(
        &ns,
        &[
            auth[0],
            auth[1],
            "-H",
            "Content-Type: multipart/form-data; boundary=x",
            "--data-binary",
            body,
            &base,
        ],
    );
    assert_eq!(h.status, 415, "{h:?}");
    // Also for DeleteSession (changes no configuration, but a session).
    let get = format!("{base}DeleteSession?HubName_str=DEFAULT&Name_str=SID-X");
    assert_eq!(curl(&ns, &[auth[0], auth[1], &get]).status, 405);
    assert_eq!(hubs(&server), vec!["DEFAULT".to_owned()]);
    // Reading methods keep the GET form; JSON posts (any case, with
    // parameters) still change the server.
    let h = curl(&ns, &[auth[0], auth[1], &format!("{base}EnumHub")]);
    assert_eq!(h.status, 200, "{h:?}");
    let h = curl(
        &ns,
        &[
            auth[0],
            auth[1],
            "-H",
            "Content-Type: Application/JSON; charset=utf-8",
            "--data-binary",
            body,
            &base,
        ],
    );
    assert_eq!(h.status, 200, "{h:?}");
    assert!(h.json().get("error").is_none(), "{h:?}");
    assert!(hubs(&server).contains(&"EVIL2".to_owned()));
    server.ensure_running().unwrap();
}

/// Attack: names from the network carrying CR/LF forge log lines (here
/// a hub name in a JSON-RPC call, which the audit log records). Every
/// event is escaped in one place (the log writer), so the forged text
/// stays inside its own line.
#[test]
fn log_injection_is_escaped() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-log").unwrap();
    let ns = Netns::new("hadmlog").unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[]);
    let mut server =
        OurServer::start(&ns, dir.path(), "server", port, &config_text(&spec, true)).unwrap();
    let api = Api {
        ns: &ns,
        url: format!("https://127.0.0.1:{port}/api/"),
    };
    let forged = "1999-01-01T00:00:00.000000Z  INFO rustether_server::admin: admin: 192.0.2.7 SetServerPassword ok";
    let auth: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: x"];
    api.err(
        auth,
        "EnumUser",
        json!({ "HubName_str": format!("NOPE\r\n{forged}\n\u{2028}") }),
        8,
    );
    eventually("the call is logged", Duration::from_secs(10), || {
        server.log().contains("EnumUser hub=NOPE")
    });
    let log = server.log();
    assert!(
        !log.lines().any(|l| l.starts_with("1999-01-01")),
        "a forged line:\n{log}"
    );
    assert!(
        log.contains(&format!("hub=NOPE\\r\\n{forged}\\n\\u{{2028}} error 8")),
        "escaped in place:\n{log}"
    );
    server.ensure_running().unwrap();
}

/// An interactive vpncmd session (stdin a pipe, output in a file).
struct VpncmdSession {
    child: std::process::Child,
    out: std::path::PathBuf,
}

impl VpncmdSession {
    fn start(v: &Vpncmd, args: &[&str], out: std::path::PathBuf) -> VpncmdSession {
        use std::process::Stdio;
        let file = std::fs::File::create(&out).unwrap();
        let child = v
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::from(file.try_clone().unwrap()))
            .stderr(Stdio::from(file))
            .process_group(0)
            .spawn()
            .expect("start vpncmd");
        VpncmdSession { child, out }
    }

    fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn output(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.out).unwrap_or_default()).into_owned()
    }
}

impl Drop for VpncmdSession {
    fn drop(&mut self) {
        rustether_testkit::process::kill_group(self.child.id() as i32, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

/// Attack: a vpncmd session stays administrator after its password was
/// changed (a leaked password keeps working for whoever is logged in). The
/// real vpncmd logs in as administrator of hub A and as server
/// administrator; another session changes the hub password, deletes the
/// hub, and changes the server password: each stale session is closed at
/// once, and vpncmd's transparent reconnect with the old password fails
/// (error 9). A session that changes its own password stays open. The
/// configuration, its backups and the logs written meanwhile are private
/// (mode 0600/0700).
#[test]
fn vpncmd_session_is_closed_when_its_password_changes() {
    if !require(&[Prereq::Netns, Prereq::SoftEther, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-revoke").unwrap();
    let ns = Netns::new("hadmrev").unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[]);
    let mut server =
        OurServer::start(&ns, dir.path(), "server", port, &config_text(&spec, true)).unwrap();
    let api = Api {
        ns: &ns,
        url: format!("https://127.0.0.1:{port}/api/"),
    };
    let local: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: x"];
    api.ok(
        local,
        "CreateHub",
        json!({"HubName_str": "A", "AdminPasswordPlainText_str": "hubpw", "Online_bool": true}),
    );
    api.ok(
        local,
        "SetServerPassword",
        json!({"PlainTextPassword_str": "adminpw"}),
    );
    let sa: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: adminpw"];
    let v = Vpncmd::new(
        &ns,
        &dir.subdir("vpncmd").unwrap(),
        std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port),
    )
    .unwrap();
    let closed = |server: &OurServer| {
        server
            .log()
            .matches("administration connection closed: the password")
            .count()
    };

    // A hub administrator's session; the server admin changes the hub password.
    let mut hub = VpncmdSession::start(
        &v,
        &["/HUB:A", "/PASSWORD:hubpw"],
        dir.path().join("hub.out"),
    );
    hub.send("UserList");
    eventually(
        "the hub admin session works",
        Duration::from_secs(30),
        || hub.output().matches(DONE).count() == 1,
    );
    api.ok(
        sa,
        "SetHub",
        json!({"HubName_str": "A", "AdminPasswordPlainText_str": "newhubpw", "Online_bool": true}),
    );
    eventually(
        "the stale hub admin session is closed",
        Duration::from_secs(20),
        || closed(&server) == 1,
    );
    hub.send("UserList");
    eventually(
        "vpncmd reports the failure",
        Duration::from_secs(30),
        || hub.output().contains("Error occurred."),
    );
    assert_eq!(hub.output().matches(DONE).count(), 1, "{}", hub.output());
    drop(hub);

    // A hub administrator's session whose hub is deleted.
    let mut hub = VpncmdSession::start(
        &v,
        &["/HUB:A", "/PASSWORD:newhubpw"],
        dir.path().join("hub2.out"),
    );
    hub.send("UserList");
    eventually(
        "the new hub admin session works",
        Duration::from_secs(30),
        || hub.output().matches(DONE).count() == 1,
    );
    api.ok(sa, "DeleteHub", json!({"HubName_str": "A"}));
    eventually(
        "the session of the deleted hub is closed",
        Duration::from_secs(20),
        || closed(&server) == 2,
    );
    drop(hub);

    // A server admin session that changes its own password stays; a
    // second one, logged in with the old password, is closed.
    let mut own = VpncmdSession::start(&v, &["/PASSWORD:adminpw"], dir.path().join("own.out"));
    let mut other = VpncmdSession::start(&v, &["/PASSWORD:adminpw"], dir.path().join("other.out"));
    own.send("ServerInfoGet");
    other.send("ServerInfoGet");
    eventually("both sessions work", Duration::from_secs(30), || {
        own.output().matches(DONE).count() == 1 && other.output().matches(DONE).count() == 1
    });
    own.send("ServerPasswordSet newadminpw");
    eventually("the password is changed", Duration::from_secs(30), || {
        own.output().matches(DONE).count() == 2
    });
    eventually(
        "the other session is closed",
        Duration::from_secs(20),
        || closed(&server) == 3,
    );
    own.send("HubList");
    other.send("HubList");
    eventually(
        "own session works, the other fails",
        Duration::from_secs(30),
        || own.output().matches(DONE).count() == 3 && other.output().contains("Error occurred."),
    );
    assert_eq!(
        other.output().matches(DONE).count(),
        1,
        "{}",
        other.output()
    );
    server.ensure_running().unwrap();
    // Everything the server wrote into its state directory is private to
    // the server's user: the configuration (with the password hashes and
    // the server key), backups, logs, lock and pid files (SECURITY.md,
    // local user).
    let state = server.config_path().parent().unwrap().to_path_buf();
    let mut names = Vec::new();
    for e in std::fs::read_dir(&state).unwrap() {
        let e = e.unwrap();
        names.push(e.file_name().to_string_lossy().into_owned());
        assert_private_tree(&e.path());
    }
    assert!(
        names.iter().any(|n| n == "vpn_server.config"),
        "the saved configuration is in {state:?}: {names:?}"
    );
}

/// `path` and, for a directory, everything in it: no access for group or
/// others (directories 0700, files 0600).
fn assert_private_tree(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o077, 0, "{path:?} has mode {mode:o}");
    if path.is_dir() {
        for e in std::fs::read_dir(path).unwrap() {
            assert_private_tree(&e.unwrap().path());
        }
    }
}

/// Attack: an administration connection left open for ever (a forgotten
/// vpncmd prompt on a shared machine, or a peer that logged in once and
/// holds the connection). With `AdminIdleTimeout` 3 (seconds; default 900)
/// the idle vpncmd connection is closed by the server; the next command
/// still works because vpncmd logs in again with its password.
#[test]
fn idle_vpncmd_connection_is_closed() {
    if !require(&[Prereq::Netns, Prereq::SoftEther]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("attack-admin-idle").unwrap();
    let ns = Netns::new("hadmidl").unwrap();
    let port = 5555;
    let spec = ServerConfigSpec::with_hub(port, "DEFAULT", &[]);
    let plain = config_text(&spec, false);
    let text = plain.replace(
        "string ListenIP 0.0.0.0",
        "string ListenIP 0.0.0.0\n\t\tuint AdminIdleTimeout 3",
    );
    assert_ne!(text, plain, "the testkit configuration names ListenIP");
    let mut server = OurServer::start(&ns, dir.path(), "server", port, &text).unwrap();
    let v = Vpncmd::new(
        &ns,
        &dir.subdir("vpncmd").unwrap(),
        std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, port),
    )
    .unwrap();
    let idle_closes =
        |server: &OurServer| server.log().matches("closed (AdminIdleTimeout)").count();
    let logins = |server: &OurServer| {
        server
            .log()
            .matches("logged in as server administrator")
            .count()
    };
    let mut s = VpncmdSession::start(&v, &[], dir.path().join("idle.out"));
    s.send("ServerInfoGet");
    eventually("the session works", Duration::from_secs(30), || {
        s.output().matches(DONE).count() == 1
    });
    assert_eq!(idle_closes(&server), 0);
    eventually(
        "the idle connection is closed by the server",
        Duration::from_secs(30),
        || idle_closes(&server) == 1,
    );
    assert_eq!(logins(&server), 1, "{}", server.log());
    s.send("ServerInfoGet");
    eventually(
        "vpncmd logs in again and the command works",
        Duration::from_secs(30),
        || s.output().matches(DONE).count() == 2,
    );
    assert_eq!(logins(&server), 2, "{}", server.log());
    server.ensure_running().unwrap();
}
